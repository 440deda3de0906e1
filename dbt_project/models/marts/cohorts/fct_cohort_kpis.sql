{{ config(
    order_by='(app_id, install_date, day_n)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Revenue, cost and return per cohort and elapsed day (SPEC §5), in the reporting currency.
-- Cost is taken on the cohort's install date from the latest pull; where it is coarser than the
-- cohort (campaign, not adset/ad/platform/country), it is allocated to the campaign's cohorts in
-- proportion to their attributed installs. Cost with no attributed install that day stays in a
-- row with the finer dimensions NULL and installs = 0, so total cost always reconciles. Revenue
-- figures are NULL until the day has elapsed for the whole cell by its app's as-of (int_cohorts__as_of).
{%- set max_day = var('unmogrowp__cohort_max_day') | int %}
{%- set reporting = var('unmogrowp__reporting_currency') %}

with members as (
    select * from {{ ref('int_cohorts__members') }}
),

as_of as (
    select
        app_id,
        as_of_ts
    from {{ ref('int_cohorts__as_of') }}
),

revenue as (
    select
        install_id,
        day_n,
        revenue,
        event_type
    from {{ ref('fct_revenue_events') }}
    where {{ in_date_window('install_date') }}
),

-- the champion LTV model's predicted revenue per install (USD), when it has scored the install
predictions as (
    select
        install_id,
        any(predicted_revenue) as predicted_revenue,
        any(horizon_days) as horizon_days
    from {{ source('ml', 'ltv_predictions') }}
    where {{ in_date_window('install_date') }}
    group by install_id
),

member_revenue as (
    select
        m.install_id as install_id,
        any(m.install_date) as install_date,
        any(m.install_ts) as install_ts,
        any(m.app_id) as app_id,
        any(m.platform) as platform,
        any(m.media_source) as media_source,
        any(m.campaign_id) as campaign_id,
        any(m.adset_id) as adset_id,
        any(m.ad_id) as ad_id,
        any(m.country) as country,
        groupArrayIf((r.day_n, r.revenue, r.event_type = 'purchase'), r.install_id != '') as revenue_events,
        any(p.predicted_revenue) as predicted_revenue,
        any(p.horizon_days) as horizon_days
    from members as m
    left join revenue as r on m.install_id = r.install_id
    left join predictions as p on m.install_id = p.install_id
    group by m.install_id
    settings join_use_nulls = 1
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
        day_n,
        count() as installs,
        max(install_ts) as last_install_ts,
        sum(arraySum(arrayMap(e -> if(e.1 <= day_n, ifNull(e.2, 0), 0), revenue_events))) as cumrev,
        countIf(arrayExists(e -> e.1 <= day_n and e.3 and ifNull(e.2, 0) > 0, revenue_events)) as payers,
        if(count(predicted_revenue) = count(), sum(predicted_revenue), null) as predicted_revenue_usd,
        max(horizon_days) as prediction_horizon_days
    from member_revenue
    array join range(0, {{ max_day + 1 }}) as day_n
    group by install_date, app_id, {{ cohort_dims() }}, day_n
),

rates as (
    select
        currency,
        rate_date,
        units_per_usd
    from {{ ref('stg_config__fx_rates') }}
),

cost_original as (
    select
        cost_date,
        app_id,
        media_source,
        campaign_id,
        currency,
        sum(spend) as spend
    from {{ ref('stg_cost__spend') }}
    where {{ in_date_window('cost_date') }}
    group by cost_date, app_id, media_source, campaign_id, currency
),

cost as (
    select
        c.cost_date as cost_date,
        c.app_id as app_id,
        c.media_source as media_source,
        c.campaign_id as campaign_id,
        sum(
            c.spend / fx.units_per_usd
            * (
                select rep.units_per_usd from {{ ref('stg_config__fx_rates') }} as rep
                where rep.currency = '{{ reporting }}'
                order by rep.rate_date desc limit 1
            )
        ) as cost
    from cost_original as c
    {{ asof_fx_join('c.currency', 'c.cost_date', rates='rates') }}
    group by cost_date, app_id, media_source, campaign_id
),

campaign_installs as (
    select
        install_date,
        app_id,
        media_source,
        campaign_id,
        sum(installs) as campaign_installs
    from cells
    where day_n = 0 and media_source != 'organic'
    group by install_date, app_id, media_source, campaign_id
),

with_cost as (
    select
        c.install_date as install_date,
        c.app_id as app_id,
        c.platform as platform,
        c.media_source as media_source,
        c.campaign_id as campaign_id,
        c.adset_id as adset_id,
        c.ad_id as ad_id,
        c.country as country,
        c.day_n as day_n,
        c.installs as installs,
        c.last_install_ts as last_install_ts,
        c.cumrev as cumrev,
        c.payers as payers,
        c.predicted_revenue_usd as predicted_revenue_usd,
        c.prediction_horizon_days as prediction_horizon_days,
        if(
            c.media_source = 'organic' or ci.campaign_installs = 0, null,
            ifNull(k.cost, 0) * c.installs / ci.campaign_installs
        ) as cost
    from cells as c
    left join campaign_installs as ci
        on
            c.install_date = ci.install_date and c.app_id = ci.app_id
            and c.media_source = ci.media_source and c.campaign_id = ci.campaign_id
    left join cost as k
        on
            c.install_date = k.cost_date and c.app_id = k.app_id
            and c.media_source = k.media_source and c.campaign_id = k.campaign_id
    settings join_use_nulls = 1
),

unallocated_cost as (
    select
        k.cost_date as install_date,
        k.app_id as app_id,
        cast(null, 'Nullable(String)') as platform,
        k.media_source as media_source,
        k.campaign_id as campaign_id,
        cast(null, 'Nullable(String)') as adset_id,
        cast(null, 'Nullable(String)') as ad_id,
        cast(null, 'Nullable(String)') as country,
        -- day_n is the ARRAY JOIN's alias below, not a table's column (the dialect reads it as one)
        day_n,  -- noqa: RF02
        toUInt64(0) as installs,
        toDateTime64(k.cost_date, 3, 'UTC') as last_install_ts,
        0.0 as cumrev,
        toUInt64(0) as payers,
        cast(null, 'Nullable(Float64)') as predicted_revenue_usd,
        cast(null, 'Nullable(UInt16)') as prediction_horizon_days,
        k.cost as cost
    from cost as k
    left anti join campaign_installs as ci
        on
            k.cost_date = ci.install_date and k.app_id = ci.app_id
            and k.media_source = ci.media_source and k.campaign_id = ci.campaign_id
    array join range(0, {{ max_day + 1 }}) as day_n
),

all_cells as (
    select
        install_date,
        app_id,
        platform,
        media_source,
        campaign_id,
        adset_id,
        ad_id,
        country,
        day_n,
        installs,
        last_install_ts,
        cumrev,
        payers,
        predicted_revenue_usd,
        prediction_horizon_days,
        cost
    from with_cost
    union all
    select * from unallocated_cost
),

kpis as (
    select
        c.*,
        -- an app without an as-of row joins the default 1970: nothing mature
        c.last_install_ts + toIntervalDay(c.day_n + 1) <= a.as_of_ts as is_mature,
        if(is_mature, c.cumrev, null) as cumrev_mature,
        if(is_mature, c.payers, null) as payers_mature,
        if(is_mature and c.cost > 0, c.cumrev / c.cost, null) as roas
    from all_cells as c
    left join as_of as a using (app_id)
)

select
    install_date,
    app_id,
    {{ cohort_dims() }},
    toUInt16(day_n) as day_n,
    installs,
    is_mature,
    '{{ reporting }}' as reporting_currency,
    round(cost, 6) as cost,
    if(installs > 0 and cost is not null, round(cost / installs, 6), null) as ecpi,
    round(cumrev_mature, 6) as cumrev,
    payers_mature as payers,
    if(installs > 0, round(cumrev_mature / installs, 6), null) as arpu,
    if(payers_mature > 0, round(cumrev_mature / payers_mature, 6), null) as arppu,
    round(roas, 6) as roas,
    if(cost > 0 and is_mature, round((cumrev_mature - cost) / cost, 6), null) as roi,
    -- the first day whose cumulative revenue covers the cost (NULL until it does)
    if(countIf(roas >= 1) over cohort > 0, toNullable(toUInt16(minIf(day_n, roas >= 1) over cohort)), null)
        as payback_day,
    prediction_horizon_days,
    -- predicted cumulative revenue per install at the model's horizon, and over cost
    if(installs > 0, round(predicted_revenue_usd * (
        select rep.units_per_usd from {{ ref('stg_config__fx_rates') }} as rep
        where rep.currency = '{{ reporting }}'
        order by rep.rate_date desc limit 1
    ) / installs, 6), null) as predicted_ltv,
    if(cost > 0, round(predicted_revenue_usd * (
        select rep.units_per_usd from {{ ref('stg_config__fx_rates') }} as rep
        where rep.currency = '{{ reporting }}'
        order by rep.rate_date desc limit 1
    ) / cost, 6), null) as predicted_roas
from kpis
window cohort as (partition by install_date, app_id, {{ cohort_dims() }})
