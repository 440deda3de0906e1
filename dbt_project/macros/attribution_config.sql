{#- The attribution settings in force, checked against SPEC §2's allowed ranges. -#}
{% macro attribution_settings() -%}
    {%- set s = {
        "click_window_hours": var("unmogrowp__click_window_hours") | int,
        "click_probabilistic_window_hours": var("unmogrowp__click_probabilistic_window_hours") | int,
        "impression_window_hours": var("unmogrowp__impression_window_hours") | int,
        "impression_probabilistic_window_hours": var("unmogrowp__impression_probabilistic_window_hours") | int,
        "merge_deterministic_click_tiers": var("unmogrowp__merge_deterministic_click_tiers") | string | lower in ("true", "1", "yes"),
        "probabilistic_min_score": var("unmogrowp__probabilistic_min_score") | float,
        "short_ctit_seconds": var("unmogrowp__short_ctit_seconds") | int,
        "reattribution_window_days": var("unmogrowp__reattribution_window_days") | int,
    } -%}
    {%- set ranges = {
        "click_window_hours": (1, 720), "click_probabilistic_window_hours": (1, 24),
        "impression_window_hours": (1, 24), "impression_probabilistic_window_hours": (0, 24),
    } -%}
    {%- for name, bounds in ranges.items() -%}
        {%- if s[name] < bounds[0] or s[name] > bounds[1] -%}
            {{ exceptions.raise_compiler_error("unmogrowp__" ~ name ~ " = " ~ s[name] ~ " is outside " ~ bounds[0] ~ ".." ~ bounds[1] ~ " hours (SPEC §2)") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(s) }}
{%- endmacro %}

{#- The largest window any touch can have: bounds the touch scan. -#}
{% macro max_touch_window_hours() -%}
    {%- set s = attribution_settings() -%}
    {{ return([s.click_window_hours, s.click_probabilistic_window_hours, s.impression_window_hours, s.impression_probabilistic_window_hours, 720] | max) }}
{%- endmacro %}
