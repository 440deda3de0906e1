{% test credits_sum_to_value(model, group_by, credit_column='credited_value', value_column='conversion_value', tolerance=1e-6) %}
{#- SPEC §7: the credits of one conversion (per model) sum to its value. -#}
select {{ group_by | join(', ') }}, sum({{ credit_column }}) as credited, any({{ value_column }}) as value
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(credited - value) > {{ tolerance }} * greatest(1, abs(value))
{% endtest %}
