{#- A config table: the user's rows (source config_user, loaded from UNMOGROWP_HOME/config/) and the
    default rows (the seed) whose key the user does not list. -#}
{% macro config_rows(name, key) -%}
    {%- set k = [] -%}
    {%- for c in key -%}{%- do k.append("ifNull(toString(" ~ c ~ "), '')") -%}{%- endfor %}
select * from {{ source('config_user', name) }}
union all
select * from {{ ref(name) }}
where ({{ k | join(', ') }}) not in (select {{ k | join(', ') }} from {{ source('config_user', name) }})
{%- endmacro %}
