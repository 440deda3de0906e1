{{ config(
    order_by='(app_id, touch_ts)',
    partition_by='toYYYYMM(touch_ts)',
    pre_hook="{{ replace_window('touch_ts') }}",
) }}
-- Retargeting touches of the window and whether they re-engaged the user (SPEC §2): the user's
-- last session before the touch is at least the inactivity gate I earlier (or unknown), and the
-- user opens the app within the re-engagement window after it. Only the last qualifying touch
-- before a re-open wins it. Later events are credited per unmogrowp__reengagement_crediting:
-- `both` (AppsFlyer: the original source and the retargeting source) or `move` (Adjust,
-- Singular: the retargeting source only).
{%- set inactivity_days = var('unmogrowp__reengagement_inactivity_days') | int %}
{%- set gate_ms = inactivity_days * 86400000 %}
{%- set window_days = var('unmogrowp__reengagement_window_days') | int %}
{%- set crediting = var('unmogrowp__reengagement_crediting') %}
{%- if crediting not in ('both', 'move') %}
    {{ exceptions.raise_compiler_error("unmogrowp__reengagement_crediting must be both or move, not " ~ crediting) }}
{%- endif %}

with retargeting as (
    select
        touch_id,
        app_id,
        device_id,
        touch_ts,
        media_source,
        campaign_id
    from {{ ref('stg_sdk__touches') }}
    where
        is_retargeting and device_id is not null
        and touch_ts >= {{ window_start() }} and touch_ts < {{ window_end() }}
),

sessions as (
    select
        app_id,
        device_id,
        event_ts
    from {{ ref('stg_sdk__app_events') }}
    where
        is_session and device_id is not null
        and event_ts >= {{ window_start() }} - interval {{ inactivity_days + 30 }} day
        and event_ts < {{ window_end() }} + interval {{ window_days }} day
),

original as (  -- the device's latest attributed install, for crediting mode `both`
    select
        i.app_id as app_id,
        i.device_id as device_id,
        argMax(f.media_source, f.install_ts) as original_media_source,
        argMax(f.device_key, f.install_ts) as install_device_key
    from {{ ref('fct_installs') }} as f
    inner join {{ ref('stg_sdk__installs') }} as i on f.install_id = i.install_id
    where
        i.device_id is not null and f.install_kind = 'install'
        -- the window's retargeted devices only, not every install of the history
        and (i.app_id, i.device_id) in (
            select
                rt.app_id,
                rt.device_id
            from retargeting as rt
        )
    group by i.app_id, i.device_id
),

touch_activity as (
    select
        r.touch_id as touch_id,
        any(r.app_id) as app_id,
        any(r.device_id) as device_id,
        any(r.touch_ts) as touch_ts,
        any(r.media_source) as media_source,
        any(r.campaign_id) as campaign_id,
        maxIf(s.event_ts, s.event_ts < r.touch_ts and s.device_id != '') as last_session_before,
        countIf(s.event_ts < r.touch_ts and s.device_id != '') > 0 as has_session_before,
        minIf(
            s.event_ts,
            s.event_ts >= r.touch_ts and s.event_ts <= r.touch_ts + interval {{ window_days }} day
            and s.device_id != ''
        ) as reopened_at,
        countIf(
            s.event_ts >= r.touch_ts and s.event_ts <= r.touch_ts + interval {{ window_days }} day
            and s.device_id != ''
        ) > 0 as reopened
    from retargeting as r
    left join sessions as s on r.app_id = s.app_id and r.device_id = s.device_id
    group by r.touch_id
),

qualified as (
    select
        *,
        not has_session_before or {{ ms('touch_ts') }} - {{ ms('last_session_before') }} >= {{ gate_ms }}
            as passes_inactivity_gate
    from touch_activity
),

-- the last qualifying touch before each re-open wins it
winners as (
    select
        app_id,
        device_id,
        reopened_at,
        argMax(touch_id, (touch_ts, touch_id)) as winning_touch_id
    from qualified
    where passes_inactivity_gate and reopened
    group by app_id, device_id, reopened_at
)

select
    q.touch_id as touch_id,
    q.app_id as app_id,
    -- the install's device key when the device installed, else the keyed hash of the ad id
    if(
        o.install_device_key != '',
        o.install_device_key,
        {{ device_key('q.app_id', 'null', 'null', 'q.device_id', "''") }}
    ) as device_key,
    q.touch_ts as touch_ts,
    q.media_source as media_source,
    q.campaign_id as campaign_id,
    if(q.has_session_before, q.last_session_before, null) as last_session_before,
    q.passes_inactivity_gate as passes_inactivity_gate,
    if(q.reopened, q.reopened_at, null) as reopened_at,
    ifNull(w.winning_touch_id = q.touch_id, false) as is_reengagement,
    if(o.original_media_source = '', null, o.original_media_source) as original_media_source,
    -- x is the lambda's parameter, not a column (the dialect parses it as one) -- noqa: disable=RF02
    if(
        is_reengagement,
        {% if crediting == 'both' -%}
            arrayDistinct(arrayFilter(x -> x != '', [q.media_source, o.original_media_source]))
        {%- else -%}
            [q.media_source]
        {%- endif %},
        []
    ) as credited_media_sources,
    -- noqa: enable=RF02
    '{{ crediting }}' as crediting_mode
from qualified as q
left join winners as w on q.app_id = w.app_id and q.device_id = w.device_id and q.reopened_at = w.reopened_at
left join original as o on q.app_id = o.app_id and q.device_id = o.device_id
settings join_use_nulls = 0
