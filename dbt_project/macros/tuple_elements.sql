{#- A tuple's elements by name: `{% set w = tuple_elements('winner', ['touch_id', 'media_source']) %}` makes
    `w.touch_id` read `winner.1` and `w.media_source` `winner.2`. Build the tuple from the same list
    (`tuple({{ names | join(', ') }})`): ClickHouse names a tuple's elements only in a typed CAST. -#}
{% macro tuple_elements(tuple_name, names) -%}
    {%- set elements = {} -%}
    {%- for name in names -%}
        {%- do elements.update({name: tuple_name ~ '.' ~ loop.index}) -%}
    {%- endfor -%}
    {{ return(elements) }}
{%- endmacro %}
