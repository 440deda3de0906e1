{{ config(
    order_by='(app_id, install_date, conversion_id)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Conversions of the window's cohorts with their paths (SPEC §4): installs (value 1) and the
-- configured in-app events (value = revenue in the reporting currency). A path is the install's
-- matched touches (clicks and impressions, fraud-rejected removed, retargeting excluded) in the
-- lookback before the conversion, in time order. Conversions without any touch are not here.
{%- set lookback_ms = var('unmogrowp__path_lookback_days') | int * 86400000 %}
{%- set events = var('unmogrowp__conversion_events') %}

with members as (
    select * from {{ ref('int_cohorts__members') }}
),

candidates as (
    select
        install_id,
        touch_id,
        touch_ts,
        media_source,
        ifNull(campaign_id, '') as campaign_id
    from {{ ref('int_attribution__touch_candidates') }}
    where not is_click_injection and not is_retargeting and age_ms >= 0 and age_ms <= {{ lookback_ms }}
),

install_paths as (
    select
        install_id,
        arraySort(x -> (x.2, x.1), groupUniqArray((touch_id, touch_ts, media_source, campaign_id))) as touches
    from candidates
    group by install_id
),

conversions as (
    select
        install_id as conversion_id,
        'install' as conversion_type,
        install_id,
        app_id,
        install_date,
        install_ts as conversion_ts,
        1.0 as conversion_value
    from members
    {% if events %}
        union all
        select
            event_id,
            event_type,
            install_id,
            app_id,
            install_date,
            event_ts,
            revenue
        from {{ ref('fct_revenue_events') }}
        where
            event_type in ({{ "'" ~ events | join("', '") ~ "'" }}) and revenue > 0
            and {{ in_date_window('install_date') }}
    {% endif %}
),

with_paths as (
    select
        c.conversion_id as conversion_id,
        c.conversion_type as conversion_type,
        c.install_id as install_id,
        c.app_id as app_id,
        c.install_date as install_date,
        c.conversion_ts as conversion_ts,
        c.conversion_value as conversion_value,
        -- t is the lambda's parameter, not a column (the dialect parses it as one) -- noqa: disable=RF02
        arrayFilter(
            t -> t.2 <= c.conversion_ts and {{ ms('c.conversion_ts') }} - {{ ms('t.2') }} <= {{ lookback_ms }},
            p.touches
        ) as path
        -- noqa: enable=RF02
    from conversions as c
    inner join install_paths as p on c.install_id = p.install_id
)

select
    conversion_id,
    conversion_type,
    install_id,
    app_id,
    install_date,
    conversion_ts,
    conversion_value,
    cast(
        path,
        'Array(Tuple(touch_id String, touch_ts DateTime64(3, \'UTC\'), media_source String, campaign_id String))'
    ) as path
from with_paths
where notEmpty(path)
