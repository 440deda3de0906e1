{#- A custom schema is the ClickHouse database itself (staging, intermediate, marts, config), not
    <target schema>_<custom>: the same names in every environment. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
