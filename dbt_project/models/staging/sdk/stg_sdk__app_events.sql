-- What users do after installing: sessions, in-app events, revenue, uninstalls.
with events as (
    select * from {{ source('raw', 'events') }}
    where event_type in ('session_start', 'app_open', 'in_app_event', 'purchase', 'ad_revenue', 'uninstall')
)

select
    event_id,
    app_id,
    event_type,
    event_name,
    event_ts,
    {{ device_key('app_id', 'idfv', 'android_id', 'device_id', 'event_id') }} as device_key,
    device_id,
    cast(event_type in ('session_start', 'app_open'), 'Bool') as is_session,
    revenue,
    currency,
    received_ts
from events
