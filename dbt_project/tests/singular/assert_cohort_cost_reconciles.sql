{{ config(meta={"dagster": {"ref": {"name": "fct_cohort_kpis"}}}) }}
-- Every unit of current cost in the window's dates reaches fct_cohort_kpis (allocated to cohorts,
-- or kept in an installs = 0 row): totals agree per app and day in the reporting currency.
{%- set reporting = var('unmogrowp__reporting_currency') %}
with kpi as (
    select
        app_id,
        install_date,
        sum(ifNull(cost, 0)) as cost
    from {{ ref('fct_cohort_kpis') }}
    where day_n = 0
    group by app_id, install_date
),

spend as (
    select
        s.app_id as app_id,
        s.cost_date as install_date,
        sum(s.spend / fx.units_per_usd * (
            select rep.units_per_usd from {{ ref('stg_config__fx_rates') }} as rep
            where rep.currency = '{{ reporting }}'
            order by rep.rate_date desc limit 1
        )) as cost
    from {{ ref('stg_cost__spend') }} as s
    {{ asof_fx_join('s.currency', 's.cost_date') }}
    group by app_id, install_date
)

select
    s.app_id,
    s.install_date,
    s.cost as spend,
    k.cost as kpi_cost
from spend as s
left join kpi as k on s.app_id = k.app_id and s.install_date = k.install_date
where
    s.install_date in (select distinct kp.install_date from {{ ref('fct_cohort_kpis') }} as kp)
    and abs(ifNull(k.cost, 0) - s.cost) > 0.01
