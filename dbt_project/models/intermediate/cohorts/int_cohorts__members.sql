-- Cohort members of the run window: new installs (not reinstalls) that were not rejected, with
-- the cohort date in the reporting time zone and the cohort dimensions (SPEC §5).
{%- set tz = var('unmogrowp__reporting_timezone') %}

select
    install_id,
    app_id,
    device_key,
    install_ts,
    toDate(install_ts, '{{ tz }}') as install_date,
    platform,
    media_source,
    campaign_id,
    adset_id,
    ad_id,
    country
from {{ ref('fct_installs') }}
where
    install_kind = 'install'
    and attribution_status in ('attributed', 'organic')
    and {{ in_date_window("toDate(install_ts, '" ~ tz ~ "')") }}
