{% test value_in_range(model, column_name, min_value, max_value) %}
{#- Values outside [min_value, max_value] (with a float tolerance). -#}
select {{ column_name }} from {{ model }}
where {{ column_name }} < {{ min_value }} - 1e-9 or {{ column_name }} > {{ max_value }} + 1e-9
{% endtest %}
