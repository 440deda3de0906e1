{#- The run window as ClickHouse DateTime64 literals. -#}
{% macro window_start() -%}
    toDateTime64('{{ var("unmogrowp__window_start") }}', 3, 'UTC')
{%- endmacro %}

{% macro window_end() -%}
    toDateTime64('{{ var("unmogrowp__window_end") }}', 3, 'UTC')
{%- endmacro %}

{#- On an incremental run, delete the window's rows first: re-running a window replaces it. -#}
{% macro replace_window(column, to_date=false) -%}
    {%- if is_incremental() -%}
        {%- if to_date -%}
    delete from {{ this }} where {{ in_date_window(column) }}
        {%- else -%}
    delete from {{ this }} where {{ column }} >= {{ window_start() }} and {{ column }} < {{ window_end() }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Milliseconds since epoch of a DateTime64 expression. -#}
{% macro ms(expr) -%}
    toUnixTimestamp64Milli({{ expr }})
{%- endmacro %}

{#- A Date column inside the run window's dates (a window ending at midnight excludes that day). -#}
{% macro in_date_window(column) -%}
    {{ column }} >= toDate({{ window_start() }}) and {{ column }} < toDate({{ window_end() }} - interval 1 millisecond) + 1
{%- endmacro %}

{#- The cohort key of SPEC §5 (after the install date and app). -#}
{% macro cohort_dims() -%}
    platform, media_source, campaign_id, adset_id, ad_id, country
{%- endmacro %}
