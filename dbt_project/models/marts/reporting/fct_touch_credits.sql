{{ config(materialized='view') }}
-- Multi-touch credit per conversion, touch and model: the rule-based models from dbt and the
-- data-driven ones (Markov order 1-3 removal effect, Shapley) from the mta_algorithmic_credits asset:
-- per-touch disaggregations (IPF) of the standard channel totals.
select
    conversion_id,
    conversion_type,
    app_id,
    install_date,
    conversion_ts,
    conversion_value,
    position,
    touch_id,
    touch_ts,
    media_source,
    campaign_id,
    model,
    credit,
    credited_value
from {{ ref('mta_heuristic_credits') }}
union all
select
    conversion_id,
    conversion_type,
    app_id,
    install_date,
    conversion_ts,
    conversion_value,
    position,
    touch_id,
    touch_ts,
    media_source,
    campaign_id,
    model,
    credit,
    credited_value
from {{ source('mta', 'algorithmic_credits') }}
