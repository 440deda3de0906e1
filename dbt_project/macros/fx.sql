{#- The exchange rate of the day: an ASOF join of `rates` (currency, rate_date, units_per_usd; default the
    config's fx rates) as `alias` on `currency` and the latest rate_date on or before `day`. -#}
{% macro asof_fx_join(currency, day, alias='fx', rates=none) -%}
    asof left join {{ rates or ref('stg_config__fx_rates') }} as {{ alias }}
        on {{ alias }}.currency = {{ currency }} and {{ alias }}.rate_date <= {{ day }}
{%- endmacro %}
