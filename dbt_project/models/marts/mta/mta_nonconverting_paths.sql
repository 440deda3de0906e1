{{ config(
    order_by='(app_id, last_touch_date)',
    partition_by='toYYYYMM(last_touch_date)',
    pre_hook="{{ replace_window('last_touch_date', to_date=true) }}",
) }}
-- Paths that did not convert (Markov needs them): the touches of an ad id that never installed,
-- over the lookback before its last touch; one row per device and window date of the last touch.
{%- set lookback_days = var('unmogrowp__path_lookback_days') | int %}

with touches as (
    select
        app_id,
        device_id,
        touch_ts,
        media_source,
        ifNull(campaign_id, '') as campaign_id
    from {{ ref('stg_sdk__touches') }}
    where
        device_id is not null and not is_retargeting
        and touch_ts >= toDateTime64(toDate({{ window_start() }}), 3, 'UTC') - interval {{ lookback_days }} day
        and touch_ts < {{ window_end() }}
),

installed as (
    select distinct
        app_id,
        device_id
    from {{ ref('stg_sdk__installs') }}
    where device_id is not null
)

select
    app_id,
    lower(hex(SHA256(concat('{{ var("unmogrowp__device_key_salt") }}', ':', app_id, ':', device_id)))) as device_key,
    toDate(max(touch_ts)) as last_touch_date,
    arrayMap(x -> x.2, arraySort(groupArray((touch_ts, media_source)))) as channels,
    arrayMap(x -> x.2, arraySort(groupArray((touch_ts, campaign_id)))) as campaigns
from touches
where (app_id, device_id) not in (
    select
        i.app_id,
        i.device_id
    from installed as i
)
group by app_id, device_id
having {{ in_date_window('last_touch_date') }}
