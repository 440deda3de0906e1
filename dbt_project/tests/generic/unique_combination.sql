{% test unique_combination(model, columns) %}
{#- Primary-key test over several columns (NULLs compare equal, as keys). -#}
select {{ columns | join(', ') }}, count() as n
from {{ model }}
group by {{ columns | join(', ') }}
having n > 1
{% endtest %}
