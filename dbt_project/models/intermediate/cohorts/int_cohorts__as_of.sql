-- The moment the data is complete to: unmogrowp__as_of, else the latest event time loaded.
{%- set as_of = var('unmogrowp__as_of') %}
{% if as_of %}
select toDateTime64('{{ as_of }}', 3, 'UTC') as as_of_ts
{% else %}
select max(event_ts) as as_of_ts from {{ source('raw', 'events') }}
{% endif %}
