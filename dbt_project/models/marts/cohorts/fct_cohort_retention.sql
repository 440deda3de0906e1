{{ config(
    order_by='(app_id, install_date, day_mode, day_n)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Classic, rolling and cumulative retention per cohort, day mode and day (SPEC §5). A cell whose
-- day has not fully elapsed for every member of the cohort, by its app's as-of
-- (int_cohorts__as_of), is NULL, never 0. Sessions after the app's as-of are not counted.
{%- set tz = var('unmogrowp__reporting_timezone') %}
{%- set max_day = var('unmogrowp__cohort_max_day') | int %}

with members as (
    select * from {{ ref('int_cohorts__members') }}
),

as_of as (
    select
        app_id,
        as_of_ts
    from {{ ref('int_cohorts__as_of') }}
),

sessions as (
    select
        s.app_id as app_id,
        s.device_key as device_key,
        s.event_ts as event_ts
    from {{ ref('stg_sdk__app_events') }} as s
    inner join as_of as a on s.app_id = a.app_id
    where
        s.is_session
        and s.event_ts >= toDateTime64(toDate({{ window_start() }}), 3, 'UTC') - interval 1 day
        and s.event_ts <= a.as_of_ts
),

-- the days each member was active, in both day modes
member_days as (
    select
        m.install_id as install_id,
        any(m.app_id) as app_id,
        any(m.install_ts) as install_ts,
        any(m.install_date) as install_date,
        any(m.platform) as platform,
        any(m.media_source) as media_source,
        any(m.campaign_id) as campaign_id,
        any(m.adset_id) as adset_id,
        any(m.ad_id) as ad_id,
        any(m.country) as country,
        groupUniqArrayIf(
            intDiv({{ ms('s.event_ts') }} - {{ ms('m.install_ts') }}, 86400000),
            s.event_ts >= m.install_ts
        ) as elapsed_days,
        groupUniqArrayIf(
            dateDiff('day', toDate(m.install_ts, '{{ tz }}'), toDate(s.event_ts, '{{ tz }}')),
            s.event_ts >= m.install_ts
        ) as calendar_days
    from members as m
    left join sessions as s on m.app_id = s.app_id and m.device_key = s.device_key
    group by m.install_id
),

modes as (
    select
        *,
        'elapsed_24h' as day_mode,
        elapsed_days as active_days
    from member_days
    union all
    select
        *,
        'calendar' as day_mode,
        calendar_days as active_days
    from member_days
),

cells as (
    select
        install_date,
        app_id,
        platform,
        media_source,
        campaign_id,
        adset_id,
        ad_id,
        country,
        day_mode,
        day_n,
        count() as cohort_size,
        max(install_ts) as last_install_ts,
        countIf(has(active_days, day_n)) as active_classic,
        countIf(arrayExists(d -> d >= day_n, active_days)) as active_rolling,
        countIf(arrayExists(d -> d >= 1 and d <= day_n, active_days)) as active_cumulative
    from modes
    array join range(0, {{ max_day + 1 }}) as day_n
    group by install_date, app_id, {{ cohort_dims() }}, day_mode, day_n
)

select
    c.install_date as install_date,
    app_id,
    {{ cohort_dims() }},
    c.day_mode as day_mode,
    toUInt16(c.day_n) as day_n,
    c.cohort_size as cohort_size,
    -- day N is complete for the whole cohort once its last member's day N has ended by the app's
    -- as-of (an app without an as-of row joins the default 1970: nothing mature)
    if(
        c.day_mode = 'elapsed_24h',
        c.last_install_ts + toIntervalDay(day_n + 1) <= a.as_of_ts,
        toDateTime64(toDate(c.last_install_ts, '{{ tz }}') + day_n + 1, 3, '{{ tz }}') <= a.as_of_ts
    ) as is_mature,
    if(is_mature, c.active_classic / c.cohort_size, null) as retained_classic,
    if(is_mature, c.active_rolling / c.cohort_size, null) as retained_rolling,
    if(is_mature and day_n >= 1, c.active_cumulative / c.cohort_size, null) as retained_cumulative,
    if(is_mature, c.active_classic, null) as active_users
from cells as c
left join as_of as a using (app_id)
