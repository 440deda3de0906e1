-- anonymous_ip_ranges: the user's rows (UNMOGROWP_HOME/config/anonymous_ip_ranges.csv) and the
-- defaults they do not override.
{{ config_rows('anonymous_ip_ranges', ['cidr']) }}
