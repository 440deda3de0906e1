-- attribution_window_overrides: the user's rows (UNMOGROWP_HOME/config/attribution_window_overrides.csv)
-- and the defaults they do not override.
{{ config_rows('attribution_window_overrides', [
    'app_id', 'media_source', 'campaign_id', 'adset_id', 'ad_id', 'touch_type', 'match_class'
]) }}
