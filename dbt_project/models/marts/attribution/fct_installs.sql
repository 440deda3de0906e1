{{ config(
    order_by='(app_id, install_ts, install_id)',
    partition_by='toYYYYMM(install_ts)',
    pre_hook="{{ replace_window('install_ts') }}",
) }}
-- One row per install of the run window: last-touch attribution by SPEC §2's waterfall.
{%- set s = attribution_settings() %}
{%- set winner_columns = ['touch_id', 'best_method', 'best_score', 'media_source', 'campaign_id', 'adset_id', 'ad_id',
                          'site_id', 'touch_ctit_s', 'confirmed_by_store'] %}
{%- set w = tuple_elements('winner', winner_columns) %}

with installs as (
    select * from {{ ref('int_attribution__installs') }}
),

-- pre-attribution fraud rejections from the fraud rules (SPEC §3): a rejected touch is removed
-- before ranking (the next touch or organic wins); a rejected install becomes rejected_fraud
rejections as (
    select
        install_id,
        touch_id,
        reason
    from {{ source('fraud', 'decisions') }}
    where action = 'reject' and {{ in_date_window('install_date') }}
),

install_rejections as (
    select
        install_id,
        groupUniqArray(reason) as reasons,
        countIf(touch_id is null) > 0 as install_rejected
    from rejections
    group by install_id
),

targeting as (
    select
        app_id,
        campaign_id,
        groupArray(country) as countries
    from {{ ref('stg_config__campaign_targeting') }}
    group by app_id, campaign_id
),

{{ ranked_touches() }},

removed as (
    select
        *,
        -- removed before ranking: the click-injection rule, or a rejection by the fraud rules
        click_injected or (install_id, touch_id) in (
            select
                rj.install_id,
                assumeNotNull(rj.touch_id) as rejected_touch_id
            from rejections as rj
            where rj.touch_id is not null
        ) as injected
    from ranked
),

attributed as (
    select
        install_id,
        argMinIf(tuple({{ winner_columns | join(', ') }}), rank_key, not injected) as winner,
        countIf(not injected) > 0 as has_winner,
        -- rank_key ends with touch_id: the runners-up in rank order
        arrayMap(x -> x.2, arraySlice(arraySort(groupArrayIf(rank_key, not injected)), 2, 3)) as assist_touch_ids,
        {{ w.campaign_id }} as winner_campaign_id,
        countIf(click_injected) > 0 as had_injected_touch
    from removed
    group by install_id
),

config_hash as (
    select lower(hex(MD5(concat(
        '{{ tojson(s) }}',
        '|', (
            select
                toString(arraySort(groupArray(tuple(
                    ifNull(app_id, ''), ifNull(media_source, ''),
                    ifNull(campaign_id, ''), ifNull(adset_id, ''), ifNull(ad_id, ''),
                    touch_type, match_class, window_hours
                ))))
            from {{ ref('stg_config__attribution_window_overrides') }}
        ),
        '|', (
            select toString(arraySort(groupArray(tuple(media_source, priority))))
            from {{ ref('stg_config__network_priority') }}
        ),
        '|', (select toString(arraySort(groupArray(cidr))) from {{ ref('stg_config__anonymous_ip_ranges') }}),
        '|', (
            select toString(arraySort(groupArray(tuple(app_id, campaign_id, country))))
            from {{ ref('stg_config__campaign_targeting') }}
        )
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
    left join attributed as a on i.install_id = a.install_id
    left join targeting as t on i.app_id = t.app_id and a.winner_campaign_id = t.campaign_id
    left join install_rejections as r on i.install_id = r.install_id
)

select
    install_id,
    app_id,
    platform,
    device_key,
    install_ts,
    multiIf(
        is_anonymous_ip or is_rejected_install, 'rejected_fraud',
        not has_touch, 'organic',
        is_off_target, 'rejected_targeting',
        'attributed'
    ) as attribution_status,
    multiIf(is_reinstall and has_touch, 'reattribution', is_reinstall, 'reinstall', 'install') as install_kind,
    is_reinstall and has_touch as is_reattribution,
    if(has_touch, {{ w.best_method }}, 'organic') as match_method,
    if(has_touch, round({{ w.best_score }}, 4), null) as match_score,
    if(has_touch, {{ w.media_source }}, 'organic') as media_source,
    if(has_touch, {{ w.campaign_id }}, null) as campaign_id,
    if(has_touch, {{ w.adset_id }}, null) as adset_id,
    if(has_touch, {{ w.ad_id }}, null) as ad_id,
    if(has_touch, {{ w.site_id }}, null) as site_id,
    if(has_touch, {{ w.touch_id }}, null) as winning_touch_id,
    if(has_touch, {{ w.touch_ctit_s }}, null) as ctit_s,
    ifNull(assist_touch_ids, []) as assist_touch_ids,
    arraySort(arrayDistinct(arrayConcat(arrayFilter(x -> x != '', [
        if(had_injected_touch, 'click_injection', ''),
        if(
            has_touch and {{ w.touch_ctit_s }} < {{ s.short_ctit_seconds }} and not {{ w.confirmed_by_store }},
            'short_ctit',
            ''
        ),
        if(is_anonymous_ip, 'anonymous_traffic', '')
    ]), rejection_reasons))) as fraud_reasons,
    previous_install_id,
    country,
    (select ch.value from config_hash as ch) as attribution_config_hash
from decided
