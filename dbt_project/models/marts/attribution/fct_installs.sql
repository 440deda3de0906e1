{{ config(
    order_by='(app_id, install_ts, install_id)',
    partition_by='toYYYYMM(install_ts)',
    pre_hook="{{ replace_window('install_ts') }}",
) }}
-- One row per install of the run window: last-touch attribution by SPEC §2's waterfall.
{%- set s = attribution_settings() %}

with installs as (
    select * from {{ ref('int_attribution__installs') }}
),

candidates as (
    select * from {{ ref('int_attribution__touch_candidates') }}
),

-- pre-attribution fraud rejections from the fraud rules (SPEC §3): a rejected touch is removed
-- before ranking (the next touch or organic wins); a rejected install becomes rejected_fraud
rejections as (
    select install_id, touch_id, reason
    from {{ source('fraud', 'decisions') }}
    where action = 'reject' and {{ in_date_window('install_date') }}
),

install_rejections as (
    select install_id, groupUniqArray(reason) as reasons, countIf(touch_id is null) > 0 as install_rejected
    from rejections
    group by install_id
),

priorities as (
    select media_source, priority from {{ ref('network_priority') }}
),

targeting as (
    select app_id, campaign_id, groupArray(country) as countries
    from {{ ref('campaign_targeting') }}
    group by app_id, campaign_id
),

-- SPEC §2 precedence tiers: (i) referrer / click-id click, (ii) device-id click, (iii) probabilistic
-- click, (iv) device-id impression, (v) probabilistic impression; (i)+(ii) merged by default
tiered as (
    select
        *,
        multiIf(match_method = 'referrer', 1,
                match_method = 'device_id' and touch_type = 'click', {{ 1 if s.merge_deterministic_click_tiers else 2 }},
                touch_type = 'click', 3,
                match_method = 'device_id', 4,
                5) as tier,
        -- at the same timestamp a referrer match beats a device-id match
        multiIf(match_method = 'referrer', 0, match_method = 'device_id', 1, 2) as method_rank
    from candidates
    where is_eligible
),

-- one row per (install, touch): the best way the touch matched
pairs as (
    select
        install_id,
        touch_id,
        argMin(match_method, (tier, method_rank)) as best_method,
        argMin(match_score, (tier, method_rank)) as best_score,
        min(tier) as best_tier,
        argMin(method_rank, (tier, method_rank)) as best_method_rank,
        any(touch_ts) as touch_ts,
        any(touch_type) as touch_type,
        any(media_source) as media_source,
        any(campaign_id) as campaign_id,
        any(adset_id) as adset_id,
        any(ad_id) as ad_id,
        any(site_id) as site_id,
        any(is_retargeting) as is_retargeting,
        any(is_reinstall) as is_reinstall,
        any(ctit_s) as touch_ctit_s,
        max(is_click_injection) as click_injected,
        -- removed before ranking: the click-injection rule here, or a rejection by the fraud rules
        max(is_click_injection or (install_id, touch_id) in (
            select install_id, assumeNotNull(touch_id) from rejections where touch_id is not null)) as injected,
        max(store_confirmed) as confirmed_by_store
    from tiered
    group by install_id, touch_id
),

-- new installs rank user-acquisition touches; reinstalls within R rank retargeting touches only
ranked as (
    select
        p.*,
        (p.best_tier, -p.best_score, -{{ ms('p.touch_ts') }}, p.best_method_rank,
         ifNull(pr.priority, 4294967295), p.touch_id) as rank_key
    from pairs as p
    left join priorities as pr on pr.media_source = p.media_source
    where p.is_retargeting = p.is_reinstall
),

attributed as (
    select
        install_id,
        argMinIf(tuple(touch_id, best_method, best_score, media_source, campaign_id, adset_id, ad_id, site_id,
                       touch_ctit_s, confirmed_by_store), rank_key, not injected) as winner,
        countIf(not injected) > 0 as has_winner,
        arrayMap(x -> x.2, arraySlice(arraySort(x -> x.1,
            groupArrayIf((rank_key, touch_id), not injected)), 2, 3)) as assist_touch_ids,
        winner.5 as winner_campaign_id,
        countIf(click_injected) > 0 as had_injected_touch
    from ranked
    group by install_id
),

config_hash as (
    select lower(hex(MD5(concat(
        '{{ tojson(s) }}',
        '|', (select toString(arraySort(groupArray(tuple(ifNull(app_id, ''), ifNull(media_source, ''),
                                   ifNull(campaign_id, ''), ifNull(adset_id, ''), ifNull(ad_id, ''),
                                   touch_type, match_class, window_hours))))
              from {{ ref('attribution_window_overrides') }}),
        '|', (select toString(arraySort(groupArray(tuple(media_source, priority)))) from {{ ref('network_priority') }}),
        '|', (select toString(arraySort(groupArray(cidr))) from {{ ref('anonymous_ip_ranges') }}),
        '|', (select toString(arraySort(groupArray(tuple(app_id, campaign_id, country)))) from {{ ref('campaign_targeting') }})
    )))) as value
),

decided as (
    select
        i.install_id as install_id,
        i.app_id as app_id,
        i.platform as platform,
        i.device_key as device_key,
        i.country as country,
        i.install_ts as install_ts,
        i.previous_install_id as previous_install_id,
        i.is_reinstall as is_reinstall,
        i.is_anonymous_ip as is_anonymous_ip,
        coalesce(a.has_winner, false) as has_touch,
        a.winner as winner,
        a.assist_touch_ids as assist_touch_ids,
        coalesce(a.had_injected_touch, false) as had_injected_touch,
        ifNull(r.install_rejected, false) as is_rejected_install,
        ifNull(r.reasons, []) as rejection_reasons,
        notEmpty(t.countries) and not has(t.countries, ifNull(i.country, '')) as is_off_target
    from installs as i
    left join attributed as a on a.install_id = i.install_id
    left join targeting as t on t.app_id = i.app_id and t.campaign_id = a.winner_campaign_id
    left join install_rejections as r on r.install_id = i.install_id
)

select
    install_id,
    app_id,
    platform,
    device_key,
    install_ts,
    multiIf(is_anonymous_ip or is_rejected_install, 'rejected_fraud',
            not has_touch, 'organic',
            is_off_target, 'rejected_targeting',
            'attributed') as attribution_status,
    multiIf(is_reinstall and has_touch, 'reattribution', is_reinstall, 'reinstall', 'install') as install_kind,
    is_reinstall and has_touch as is_reattribution,
    if(has_touch, winner.2, 'organic') as match_method,
    if(has_touch, round(winner.3, 4), null) as match_score,
    if(has_touch, winner.4, 'organic') as media_source,
    if(has_touch, winner.5, null) as campaign_id,
    if(has_touch, winner.6, null) as adset_id,
    if(has_touch, winner.7, null) as ad_id,
    if(has_touch, winner.8, null) as site_id,
    if(has_touch, winner.1, null) as winning_touch_id,
    if(has_touch, winner.9, null) as ctit_s,
    ifNull(assist_touch_ids, []) as assist_touch_ids,
    arraySort(arrayDistinct(arrayConcat(arrayFilter(x -> x != '', [
        if(had_injected_touch, 'click_injection', ''),
        if(has_touch and winner.9 < {{ s.short_ctit_seconds }} and not winner.10, 'short_ctit', ''),
        if(is_anonymous_ip, 'anonymous_traffic', '')]), rejection_reasons))) as fraud_reasons,
    previous_install_id,
    country,
    (select value from config_hash) as attribution_config_hash
from decided
