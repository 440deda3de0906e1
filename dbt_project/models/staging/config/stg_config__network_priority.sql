-- network_priority: the user's rows (UNMOGROWP_HOME/config/network_priority.csv) and the defaults they do not override.
{{ config_rows('network_priority', ['media_source']) }}
