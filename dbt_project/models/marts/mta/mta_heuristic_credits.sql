{{ config(
    order_by='(app_id, install_date, conversion_id, model)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Rule-based multi-touch credit, every model side by side (SPEC §4): first, last, linear,
-- position-based (weights unmogrowp__position_based_weights) and time decay (half-life
-- unmogrowp__time_decay_half_life_hours). One row per conversion, touch position and model.
{%- set w = var('unmogrowp__position_based_weights') %}
{%- set half_life_ms = var('unmogrowp__time_decay_half_life_hours') | float * 3600000 %}

with paths as (
    select
        *,
        length(path) as n,
        arrayMap(t -> pow(2, -({{ ms('conversion_ts') }} - {{ ms('t.2') }}) / {{ half_life_ms }}), path) as decay
    from {{ ref('mta_conversion_paths') }}
    where {{ in_date_window('install_date') }}
),

positions as (
    select
        conversion_id,
        conversion_type,
        app_id,
        install_date,
        conversion_ts,
        conversion_value,
        n,
        position,
        path[position] as touch,
        decay[position] / arraySum(decay) as time_decay_credit,
        multiIf(
            n = 1, 1.0,
            n = 2, 0.5,
            position = 1, {{ w[0] }},
            position = n, {{ w[2] }},
            {{ w[1] }} / (n - 2)
        ) as position_credit
    from paths
    array join arrayEnumerate(path) as position
)

select
    conversion_id,
    conversion_type,
    app_id,
    install_date,
    conversion_ts,
    conversion_value,
    toUInt16(position) as position,
    tupleElement(touch, 'touch_id') as touch_id,
    tupleElement(touch, 'touch_ts') as touch_ts,
    tupleElement(touch, 'media_source') as media_source,
    tupleElement(touch, 'campaign_id') as campaign_id,
    model,
    credit,
    credit * conversion_value as credited_value
from positions
array join
    ['first_touch', 'last_touch', 'linear', 'position_based', 'time_decay'] as model,
    [toFloat64(position = 1), toFloat64(position = n), 1.0 / n, position_credit, time_decay_credit] as credit
