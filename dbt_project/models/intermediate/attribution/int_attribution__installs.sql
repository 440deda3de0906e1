-- Installs of the run window with what attribution needs to know about them: the device's
-- previous install (reinstall detection over the re-attribution window R) and anonymous IPs.
{%- set s = attribution_settings() %}
{%- set r_ms = s.reattribution_window_days * 86400000 %}

with device_installs as (
    select
        *,
        lagInFrame(toNullable(install_id)) over device_history as previous_install_id,
        lagInFrame(toNullable(install_ts)) over device_history as previous_install_ts
    from {{ ref('stg_sdk__installs') }}
    where install_ts >= {{ window_start() }} - interval {{ s.reattribution_window_days }} day
      and install_ts < {{ window_end() }}
    window device_history as (
        partition by app_id, device_key order by install_ts, install_id
        rows between unbounded preceding and current row
    )
),

anonymous_ranges as (
    select groupArray(cidr) as cidrs from {{ ref('anonymous_ip_ranges') }}
)

select
    install_id,
    app_id,
    platform,
    device_key,
    device_id,
    ip,
    user_agent,
    os_version,
    country,
    install_ts,
    install_begin_ts,
    referrer_click_ts,
    referrer_click_id,
    previous_install_id,
    previous_install_ts,
    previous_install_ts is not null
        and {{ ms('install_ts') }} - {{ ms('previous_install_ts') }} <= {{ r_ms }} as is_reinstall,
    arrayExists(c -> isIPAddressInRange(ifNull(ip, '0.0.0.0'), c), anonymous_ranges.cidrs)
        and ip is not null as is_anonymous_ip
from device_installs
cross join anonymous_ranges
where install_ts >= {{ window_start() }} and install_ts < {{ window_end() }}
