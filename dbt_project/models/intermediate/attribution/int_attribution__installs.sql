-- Installs of the run window with what attribution needs to know about them: the device's
-- previous install (reinstall detection over the re-attribution window R) and anonymous IPs.
{%- set s = attribution_settings() %}
{%- set r_ms = s.reattribution_window_days * 86400000 %}
{%- set install_columns = ['install_ts', 'install_id'] %}  {#- history sorts by the first: time #}
{%- set install = tuple_elements('install', install_columns) %}
{%- set previous_install = tuple_elements('history[index - 1]', install_columns) %}

with window_installs as (
    select * from {{ ref('stg_sdk__installs') }}
    where install_ts >= {{ window_start() }} and install_ts < {{ window_end() }}
),

-- the window's devices with more than one install over [window start − R, window end), read by
-- device hash from raw.install_keys (sorted by device): the key ranges of the window's devices only
previous as (
    select
        {{ install.install_id }} as install_id,
        {{ previous_install.install_id }} as previous_install_id,
        {{ previous_install.install_ts }} as previous_install_ts
    from (
        select arraySort(groupArray(({{ install_columns | join(', ') }}))) as history
        from {{ source('raw', 'install_keys') }}
        where
            device_hash in (select wi.device_hash from window_installs as wi)
            and install_ts >= {{ window_start() }} - interval {{ s.reattribution_window_days }} day
            and install_ts < {{ window_end() }}
        group by app_id, device_hash
        having length(history) > 1
    )
    array join history as install, arrayEnumerate(history) as index
    where index > 1
),

anonymous_ranges as (
    select
        groupArrayIf(
            IPv4CIDRToRange(toIPv4(splitByChar('/', cidr)[1]), toUInt8(splitByChar('/', cidr)[2])),
            not position(cidr, ':')
        ) as v4_ranges,
        groupArrayIf(cidr, position(cidr, ':') > 0) as v6_cidrs
    from {{ ref('stg_config__anonymous_ip_ranges') }}
)

select
    i.install_id as install_id,
    i.app_id as app_id,
    i.platform as platform,
    i.device_key as device_key,
    i.device_id as device_id,
    i.ip as ip,
    i.user_agent as user_agent,
    i.os_version as os_version,
    i.country as country,
    i.install_ts as install_ts,
    i.install_begin_ts as install_begin_ts,
    i.referrer_click_ts as referrer_click_ts,
    i.referrer_click_id as referrer_click_id,
    if(p.install_id = '', null, p.previous_install_id) as previous_install_id,
    if(p.install_id = '', null, p.previous_install_ts) as previous_install_ts,
    p.install_id != '' and {{ ms('i.install_ts') }} - {{ ms('p.previous_install_ts') }} <= {{ r_ms }} as is_reinstall,
    -- r and c are the lambdas' parameters, not columns (the dialect parses them as ones) -- noqa: disable=RF02
    i.ip is not null and (
        arrayExists(r -> toIPv4OrZero(i.ip) between r.1 and r.2, anonymous_ranges.v4_ranges)
        or arrayExists(c -> position(i.ip, ':') > 0 and isIPAddressInRange(i.ip, c), anonymous_ranges.v6_cidrs)
    ) as is_anonymous_ip
    -- noqa: enable=RF02
from window_installs as i
left join previous as p on i.install_id = p.install_id
cross join anonymous_ranges
settings join_use_nulls = 0
