{#- SPEC §2's waterfall as CTEs over int_attribution__touch_candidates and the network priorities:
    `ranked` holds every eligible (install, touch) pair with its rank_key (lower wins) and whether
    the touch was injected, before any fraud-rule rejection. The
    one definition of the touch an install came from: fct_installs removes the rejected touches and
    takes the first, fct_install_matches (the fraud features' input) takes the first of all. -#}
{% macro ranked_touches() -%}
{%- set s = attribution_settings() %}
candidates as (
    select * from {{ ref('int_attribution__touch_candidates') }}
),

priorities as (
    -- Nullable so a network without a priority is NULL (ranked last) whatever join_use_nulls is
    select
        media_source,
        toNullable(priority) as priority
    from {{ ref('stg_config__network_priority') }}
),

-- SPEC §2 precedence tiers: (i) referrer / click-id click, (ii) device-id click, (iii) probabilistic
-- click, (iv) device-id impression, (v) probabilistic impression; (i)+(ii) merged by default. The
-- tier and the method rank (at the same timestamp a referrer match beats a device-id match) as one
-- number: tier * 4 + method rank.
tiered as (
    select
        *,
        multiIf(match_method = 'referrer', 1,
                match_method = 'device_id' and touch_type = 'click', {{ 1 if s.merge_deterministic_click_tiers else 2 }},
                touch_type = 'click', 3,
                match_method = 'device_id', 4,
                5) * 4 + multiIf(match_method = 'referrer', 0, match_method = 'device_id', 1, 2) as tier_rank
    from candidates
    where is_eligible
),

-- one row per (install, touch): the best way the touch matched
pairs as (
    select
        install_id,
        touch_id,
        argMin(match_method, tier_rank) as best_method,
        argMin(match_score, tier_rank) as best_score,
        intDiv(min(tier_rank), 4) as best_tier,
        min(tier_rank) % 4 as best_method_rank,
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
        max(store_confirmed) as confirmed_by_store
    from tiered
    group by install_id, touch_id
),

-- new installs rank user-acquisition touches; reinstalls within R rank retargeting touches only.
-- rank_key (lower wins): SPEC §2's order (tier, higher score, newer touch, method rank, network
-- priority, unknown networks last) packed into one UInt256 (score as its IEEE bits, non-negative),
-- then touch_id for determinism
ranked as (
    select
        p.*,
        (
            bitShiftLeft(toUInt256(p.best_tier), 142)
            + bitShiftLeft(toUInt256(bitNot(reinterpretAsUInt64(toFloat64(assumeNotNull(p.best_score))))), 78)
            + bitShiftLeft(toUInt256(bitNot(toUInt64({{ ms('p.touch_ts') }})) % 8796093022208), 35)
            + bitShiftLeft(toUInt256(p.best_method_rank), 33)
            + toUInt256(toInt64(ifNull(pr.priority, 4294967295)) + 4294967296)
        ) as rank_num,
        (rank_num, p.touch_id) as rank_key
    from pairs as p
    left join priorities as pr on pr.media_source = p.media_source
    where p.is_retargeting = p.is_reinstall
)
{%- endmacro %}
