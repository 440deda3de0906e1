-- The moment each app's data is complete to (one row per app): its own latest event time loaded,
-- capped by unmogrowp__as_of when given (an app whose data ends earlier keeps its own end). An app
-- is never judged by another app's later data; an app with no events has no row (nothing mature).
{%- set as_of = var('unmogrowp__as_of') %}

select
    app_id,
    {% if as_of -%}
        least(max(event_ts), toDateTime64('{{ as_of }}', 3, 'UTC'))
    {%- else -%}
        max(event_ts)
    {%- endif %} as as_of_ts
from {{ source('raw', 'events') }}
group by app_id
