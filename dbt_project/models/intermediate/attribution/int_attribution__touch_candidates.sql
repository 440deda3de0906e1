-- Every (install, touch) pair a match method links, with its window, eligibility and fraud
-- rejection (SPEC §2, §3.1). Set-based: one equi-join of the installs' match keys against
-- raw.touch_keys (sorted by app and key: the window reads its installs' key ranges, not the history).
{%- set s = attribution_settings() %}
{%- set rule_columns = ['app_id', 'media_source', 'campaign_id', 'adset_id', 'ad_id', 'touch_type', 'match_class',
                        'window_hours'] %}
{%- set r = tuple_elements('r', rule_columns) %}
{%- set matched = tuple_elements('w.rules[rule_index]', rule_columns) %}

with installs as (
    select * from {{ ref('int_attribution__installs') }}
),

-- one row per install and key it can match by: the store referrer's click id, its device id, its IP
install_keys as (
    select
        install_id,
        app_id,
        install_ts,
        install_begin_ts,
        referrer_click_ts,
        is_reinstall,
        user_agent,
        os_version,
        install_key.1 as match_kind,
        install_key.2 as match_value,
        cityHash64(app_id, install_key.2) as match_key
    from installs
    -- x is the lambda's parameter, not a column (the dialect parses it as one) -- noqa: disable=RF02
    array join arrayMap(x -> (x.1, assumeNotNull(x.2)), arrayFilter(x -> x.2 is not null, [
        ('click_id', referrer_click_id), ('device_id', device_id), ('ip', ip)
    ])) as install_key
    -- noqa: enable=RF02
),

touches as (
    select * from {{ source('raw', 'touch_keys') }}
    where
        -- the integer keys alone: a UInt64 set is several times cheaper than (app, kind, key) tuples
        match_key in (select ik.match_key from install_keys as ik)
        and touch_ts >= {{ window_start() }} - interval {{ max_touch_window_hours() }} hour
        and touch_ts < {{ window_end() }}
),

matched as (
    select
        i.install_id as install_id,
        i.app_id as app_id,
        i.install_ts as install_ts,
        i.install_begin_ts as install_begin_ts,
        i.referrer_click_ts as referrer_click_ts,
        i.is_reinstall as is_reinstall,
        t.touch_id as touch_id,
        t.touch_type as touch_type,
        t.touch_ts as touch_ts,
        t.media_source as media_source,
        t.campaign_id as campaign_id,
        t.adset_id as adset_id,
        t.ad_id as ad_id,
        t.site_id as site_id,
        t.is_retargeting as is_retargeting,
        multiIf(t.match_kind = 'click_id', 'referrer', t.match_kind = 'device_id', 'device_id', 'probabilistic')
            as match_method,
        if(
            t.match_kind = 'ip',
            0.5 * (t.user_agent = i.user_agent) + 0.3 * (t.os_version = i.os_version) + 0.2 * greatest(0.0, 1.0 - (
                {{ ms('i.install_ts') }} - {{ ms('t.touch_ts') }}
            ) / ({{ s.click_probabilistic_window_hours }} * 3600000.0)),
            toNullable(1.0)
        ) as match_score
    from touches as t
    inner join install_keys as i on t.match_key = i.match_key
    where
        t.app_id = i.app_id and t.match_kind = i.match_kind and t.match_value = i.match_value
        -- click ids match clicks; probabilistic (IP) matches only touches without a device id
        and (
            t.match_kind = 'device_id'
            or (t.match_kind = 'click_id' and t.touch_type = 'click')
            or (t.match_kind = 'ip' and not t.has_device_id)
        )
),

candidates as (
    select
        *,
        if(match_method = 'probabilistic', 'probabilistic', 'deterministic') as match_class,
        {{ ms('install_ts') }} - {{ ms('touch_ts') }} as age_ms
    from matched
    where match_method != 'probabilistic' or match_score >= {{ s.probabilistic_min_score }}
),

-- window rules, most specific first: ad > adset > campaign > network > app
window_rules as (
    select groupArray(tuple({{ rule_columns | join(', ') }})) as rules
    from (
        select
            ifNull(app_id, '') as app_id,
            ifNull(media_source, '') as media_source,
            ifNull(campaign_id, '') as campaign_id,
            ifNull(adset_id, '') as adset_id,
            ifNull(ad_id, '') as ad_id,
            touch_type,
            match_class,
            window_hours
        from {{ ref('stg_config__attribution_window_overrides') }}
        order by
            (ad_id != '') * 16 + (adset_id != '') * 8 + (campaign_id != '') * 4
            + (media_source != '') * 2 + (app_id != '') desc, window_hours
    )
),

-- a lambda over the few rules per candidate: cheaper here than a join on the combinations present,
-- which would evaluate the candidates twice (ClickHouse inlines every CTE reference)
windowed as (
    select
        c.*,
        -- r is the lambda's parameter, not a column (the dialect parses it as one) -- noqa: disable=RF02
        arrayFirstIndex(
            r -> ({{ r.app_id }} = '' or {{ r.app_id }} = c.app_id)
            and ({{ r.media_source }} = '' or {{ r.media_source }} = c.media_source)
            and ({{ r.campaign_id }} = '' or {{ r.campaign_id }} = ifNull(c.campaign_id, ''))
            and ({{ r.adset_id }} = '' or {{ r.adset_id }} = ifNull(c.adset_id, ''))
            and ({{ r.ad_id }} = '' or {{ r.ad_id }} = ifNull(c.ad_id, ''))
            and {{ r.touch_type }} = c.touch_type and {{ r.match_class }} = c.match_class,
            w.rules
        ) as rule_index,
        -- noqa: enable=RF02
        if(rule_index > 0, toUInt32({{ matched.window_hours }}), toUInt32(multiIf(
            c.touch_type = 'click' and c.match_class = 'deterministic', {{ s.click_window_hours }},
            c.touch_type = 'click', {{ s.click_probabilistic_window_hours }},
            c.match_class = 'deterministic', {{ s.impression_window_hours }},
            {{ s.impression_probabilistic_window_hours }}
        ))) as window_hours
    from candidates as c
    cross join window_rules as w
)

select
    install_id,
    touch_id,
    app_id,
    install_ts,
    touch_ts,
    touch_type,
    match_method,
    match_class,
    match_score,
    media_source,
    campaign_id,
    adset_id,
    ad_id,
    site_id,
    is_retargeting,
    is_reinstall,
    window_hours,
    age_ms,
    intDiv(age_ms, 1000) as ctit_s,
    -- inclusive at exactly W; touches after the install never count
    window_hours > 0 and age_ms >= 0 and age_ms <= window_hours * 3600000 as is_eligible,
    -- SPEC §3.1: a click between the store's install begin and the first open is injected
    touch_type = 'click' and install_begin_ts is not null
    and touch_ts > install_begin_ts and touch_ts <= install_ts as is_click_injection,
    -- store timestamps confirm a short CTIT when the referrer carries this click's time
    referrer_click_ts is not null and referrer_click_ts = touch_ts as store_confirmed
from windowed
