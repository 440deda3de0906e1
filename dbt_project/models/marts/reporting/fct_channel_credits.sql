{{ config(materialized='view') }}
-- Credited conversions and value per model, channel (network) and day; filter install_date (or
-- conversion day) for the period you want. Every model side by side, Markov and Shapley included:
-- over the asset's fit window those two sum to the standard channel totals (mta.channel_totals).
select
    app_id,
    toDate(conversion_ts) as conversion_date,
    install_date,
    model,
    media_source,
    conversion_type,
    sum(credit) as conversions,
    sum(credited_value) as credited_value,
    uniqExact(conversion_id) as conversions_touched
from {{ ref('fct_touch_credits') }}
group by app_id, conversion_date, install_date, model, media_source, conversion_type
