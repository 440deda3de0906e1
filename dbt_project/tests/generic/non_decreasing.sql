{% test non_decreasing(model, column_name, partition_by, order_by) %}
{#- Rows where a running total drops from one row to the next within its partition. -#}
select * from (
    select {{ column_name }} - lagInFrame({{ column_name }}) over w as step,
           row_number() over w as rn
    from {{ model }}
    window w as (partition by {{ partition_by }} order by {{ order_by }}
                 rows between unbounded preceding and current row)
)
where rn > 1 and step < -1e-9
{% endtest %}
