{{ config(
    order_by='(app_id, install_date, install_id, day_n)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Per new install and elapsed day N (24 h periods from the install): activity and revenue (USD at
-- the event day's rate) over days 0..N, known once day N is over: feature_ts = install_ts + N + 1 days.
-- A point-in-time read at install + E days returns the first E days, for any E (the LTV model's
-- "early days"). Rows appear only for days that are over at the install's app's as-of
-- (int_cohorts__as_of: its latest event, capped by unmogrowp__as_of).
{%- set max_day = var('unmogrowp__cohort_max_day') | int %}

with members as (
    select
        install_id,
        app_id,
        device_key,
        install_ts,
        toDate(install_ts) as install_date,
        platform,
        ifNull(media_source, '') as media_source,
        ifNull(country, '') as country
    from {{ ref('fct_installs') }}
    where
        install_kind = 'install' and attribution_status in ('attributed', 'organic')
        and {{ in_date_window('toDate(install_ts)') }}
),

as_of as (
    select
        app_id,
        as_of_ts
    from {{ ref('int_cohorts__as_of') }}
),

events as (
    select
        m.install_id as install_id,
        e.event_type as event_type,
        toDate(e.event_ts) as event_date,
        intDiv({{ ms('e.event_ts') }} - {{ ms('m.install_ts') }}, 86400000) as day_n,
        e.revenue as revenue,
        ifNull(e.currency, '') as currency
    from {{ ref('stg_sdk__app_events') }} as e
    inner join members as m on e.app_id = m.app_id and e.device_key = m.device_key
    where e.event_ts >= m.install_ts and e.event_ts < m.install_ts + interval {{ max_day + 1 }} day
),

usd as (
    select
        ev.install_id as install_id,
        ev.event_type as event_type,
        ev.day_n as day_n,
        if(ev.revenue is null or fx.units_per_usd = 0, 0, ev.revenue / fx.units_per_usd) as usd
    from events as ev
    {{ asof_fx_join('ev.currency', 'ev.event_date') }}
),

per_day as (
    select
        install_id,
        day_n,
        countIf(event_type = 'session_start') as sessions,
        count() as events,
        countIf(event_type = 'purchase') as purchases,
        sumIf(usd, event_type = 'purchase') as iap_usd,
        sumIf(usd, event_type = 'ad_revenue') as ad_usd,
        sum(usd) as revenue_usd
    from usd
    group by install_id, day_n
),

grid as (
    select
        m.install_id as install_id,
        m.app_id as app_id,
        m.install_ts as install_ts,
        m.install_date as install_date,
        m.platform as platform,
        m.media_source as media_source,
        m.country as country,
        arrayJoin(range(0, {{ max_day + 1 }})) as day_n
    from members as m
    inner join as_of as a on m.app_id = a.app_id
    where m.install_ts + toIntervalDay(day_n + 1) <= a.as_of_ts
),

days as (
    select
        g.install_id as install_id,
        g.app_id as app_id,
        g.install_date as install_date,
        g.day_n as day_n,
        g.install_ts as install_ts,
        g.platform as platform,
        g.media_source as media_source,
        g.country as country,
        ifNull(p.sessions, 0) as sessions,
        ifNull(p.events, 0) as events,
        ifNull(p.purchases, 0) as purchases,
        ifNull(p.iap_usd, 0) as iap_usd,
        ifNull(p.ad_usd, 0) as ad_usd,
        ifNull(p.revenue_usd, 0) as revenue_usd
    from grid as g
    left join per_day as p on g.install_id = p.install_id and g.day_n = p.day_n
    settings join_use_nulls = 1
)

select
    install_id,
    app_id,
    install_date,
    toUInt16(day_n) as day_n,
    install_ts + toIntervalDay(day_n + 1) as feature_ts,
    platform,
    media_source,
    country,
    toInt64(sum(if(day_n = 0, sessions, 0)) over w) as sessions_d0,
    toInt64(sum(sessions) over w) as sessions_cum,
    toInt64(sum(events) over w) as events_cum,
    toInt64(sum(purchases) over w) as purchases_cum,
    toFloat64(sum(iap_usd) over w) as iap_usd_cum,
    toFloat64(sum(ad_usd) over w) as ad_usd_cum,
    toFloat64(sum(revenue_usd) over w) as revenue_usd_cum,
    toInt64(sum(events > 0) over w) as active_days_cum
from days
window w as (partition by install_id order by day_n rows between unbounded preceding and current row)
