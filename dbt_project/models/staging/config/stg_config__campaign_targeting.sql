-- campaign_targeting: the user's rows (UNMOGROWP_HOME/config/campaign_targeting.csv) and the
-- defaults they do not override.
{{ config_rows('campaign_targeting', ['app_id', 'campaign_id']) }}
