{{ config(
    materialized='view',
) }}
-- Campaign-day KPIs for the feature store (Feast's ClickHouse source): known when the day is over,
-- so feature_ts = the next midnight (UTC) and a point-in-time join never sees a day early.

with kpis as (
    select
        install_date,
        app_id,
        media_source,
        campaign_id,
        sum(installs) as installs,
        sum(cost) as cost
    from {{ ref('fct_cohort_kpis') }}
    where day_n = 0 and media_source is not null and campaign_id is not null
    group by install_date, app_id, media_source, campaign_id
),

installs as (
    select
        toDate(install_ts) as install_date,
        app_id,
        media_source,
        campaign_id,
        countIf(length(fraud_reasons) > 0) as tagged_installs,
        avg(ctit_s) as mean_ctit_s
    from {{ ref('fct_installs') }}
    where attribution_status = 'attributed' and campaign_id is not null
    group by install_date, app_id, media_source, campaign_id
),

flags as (
    select
        install_date,
        app_id,
        attributed_media_source as media_source,
        attributed_campaign_id as campaign_id,
        uniqExact(install_id) as flagged_installs
    from {{ ref('fct_fraud_decisions') }}
    where is_clawback
    group by install_date, app_id, media_source, campaign_id
)

select
    k.app_id as app_id,
    k.media_source as media_source,
    k.campaign_id as campaign_id,
    k.install_date as install_date,
    toDateTime64(k.install_date + 1, 3, 'UTC') as feature_ts,  -- DateTime64: Arrow timestamp (DateTime is UInt32)
    toInt64(k.installs) as installs,
    toFloat64(ifNull(k.cost, 0)) as cost,
    if(k.installs > 0 and k.cost is not null, toFloat64(k.cost / k.installs), null) as ecpi,
    if(k.installs > 0, toFloat64(ifNull(i.tagged_installs, 0) / k.installs), null) as fraud_tag_rate,
    if(k.installs > 0, toFloat64(ifNull(f.flagged_installs, 0) / k.installs), null) as fraud_flag_rate,
    i.mean_ctit_s as mean_ctit_s
from kpis as k
left join installs as i
    on
        k.install_date = i.install_date and k.app_id = i.app_id
        and k.media_source = i.media_source and k.campaign_id = i.campaign_id
left join flags as f
    on
        k.install_date = f.install_date and k.app_id = f.app_id
        and k.media_source = f.media_source and k.campaign_id = f.campaign_id
