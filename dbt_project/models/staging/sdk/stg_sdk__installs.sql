-- First app opens, one row per install event.
with events as (
    select * from {{ source('raw', 'events') }}
    where event_type = 'install'
)

select
    event_id as install_id,
    app_id,
    platform,
    {{ device_key('app_id', 'idfv', 'android_id', 'device_id', 'event_id') }} as device_key,
    -- the unkeyed integer device identity of raw.install_keys (the previous-install lookup)
    cityHash64(app_id, coalesce(idfv, android_id, device_id, concat('event:', event_id))) as device_hash,
    device_id,
    ip,
    user_agent,
    os_version,
    country,
    event_ts as install_ts,
    install_begin_ts,
    referrer_click_ts,
    referrer_click_id,
    received_ts
from events
