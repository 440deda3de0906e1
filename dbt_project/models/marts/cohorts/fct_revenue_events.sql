{{ config(
    order_by='(app_id, install_date, install_id, event_ts)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Revenue events of the window's cohorts in the reporting currency (the rate of the event day),
-- the original amount and currency kept beside it.
{%- set reporting = var('unmogrowp__reporting_currency') %}

with members as (
    select
        install_id,
        app_id,
        device_key,
        install_ts,
        install_date
    from {{ ref('int_cohorts__members') }}
),

revenue as (
    select
        event_id,
        app_id,
        device_key,
        event_type,
        event_ts,
        revenue,
        currency
    from {{ ref('stg_sdk__app_events') }}
    where
        event_type in ('purchase', 'ad_revenue') and revenue is not null
        and event_ts >= toDateTime64(toDate({{ window_start() }}), 3, 'UTC')
),

rates as (
    select
        currency,
        rate_date,
        units_per_usd
    from {{ ref('stg_config__fx_rates') }}
),

reporting_rates as (
    select
        currency,
        rate_date,
        units_per_usd
    from {{ ref('stg_config__fx_rates') }}
    where currency = '{{ reporting }}'
),

joined as (
    select
        r.event_id as event_id,
        m.install_id as install_id,
        m.app_id as app_id,
        m.install_date as install_date,
        m.install_ts as install_ts,
        r.event_type as event_type,
        r.event_ts as event_ts,
        toDate(r.event_ts) as event_date,
        r.revenue as revenue_original,
        r.currency as currency_original
    from revenue as r
    inner join members as m on r.app_id = m.app_id and r.device_key = m.device_key
    where r.event_ts >= m.install_ts
),

to_usd as (
    select
        j.event_id as event_id,
        j.install_id as install_id,
        j.app_id as app_id,
        j.install_date as install_date,
        j.install_ts as install_ts,
        j.event_type as event_type,
        j.event_ts as event_ts,
        j.event_date as event_date,
        j.revenue_original as revenue_original,
        j.currency_original as currency_original,
        '{{ reporting }}' as reporting_currency,
        fx.units_per_usd as original_per_usd
    from joined as j
    {{ asof_fx_join('j.currency_original', 'j.event_date', rates='rates') }}
),

to_reporting as (
    select
        u.event_id as event_id,
        u.install_id as install_id,
        u.app_id as app_id,
        u.install_date as install_date,
        u.install_ts as install_ts,
        u.event_type as event_type,
        u.event_ts as event_ts,
        u.revenue_original as revenue_original,
        u.currency_original as currency_original,
        u.reporting_currency as reporting_currency,
        u.original_per_usd as original_per_usd,
        rr.units_per_usd as reporting_per_usd
    from to_usd as u
    {{ asof_fx_join('u.reporting_currency', 'u.event_date', 'rr', 'reporting_rates') }}
)

select
    event_id,
    install_id,
    app_id,
    install_date,
    event_type,
    event_ts,
    intDiv({{ ms('event_ts') }} - {{ ms('install_ts') }}, 86400000) as day_n,
    revenue_original,
    currency_original,
    reporting_currency,
    if(
        original_per_usd > 0 and reporting_per_usd > 0,
        revenue_original / original_per_usd * reporting_per_usd, null
    ) as revenue,
    if(original_per_usd > 0 and reporting_per_usd > 0, reporting_per_usd / original_per_usd, null) as fx_rate
from to_reporting
