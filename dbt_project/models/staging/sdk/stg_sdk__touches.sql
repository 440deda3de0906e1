-- Clicks and impressions, one row per touch.
with events as (
    select * from {{ source('raw', 'events') }}
    where event_type in ('click', 'impression')
)

select
    touch_id,
    event_id,
    app_id,
    event_type as touch_type,
    event_ts as touch_ts,
    platform,
    device_id,
    ip,
    user_agent,
    os_version,
    country,
    media_source,
    campaign_id,
    adset_id,
    ad_id,
    site_id,
    click_id,
    ifNull(is_retargeting, false) as is_retargeting
from events
