{{ config(
    order_by='(app_id, install_date, install_id, reason)',
    partition_by='toYYYYMM(install_date)',
    pre_hook="{{ replace_window('install_date', to_date=true) }}",
) }}
-- Fraud decisions of the window's installs (SPEC §3) with the attribution they relate to:
-- pre-attribution rejections (the install shows what won instead), post-attribution flags (the
-- install stays attributed and is clawed back) and dry-run tags.

with decisions as (
    select * from {{ source('fraud', 'decisions') }}
    where {{ in_date_window('install_date') }}
),

installs as (
    select
        install_id,
        attribution_status,
        media_source,
        campaign_id,
        winning_touch_id
    from {{ ref('fct_installs') }}
    where {{ in_date_window('toDate(install_ts)') }}
)

select
    d.install_id as install_id,
    d.app_id as app_id,
    d.install_date as install_date,
    d.reason as reason,
    d.stage as stage,
    d.action as action,
    d.touch_id as judged_touch_id,
    d.media_source as judged_media_source,
    d.site_id as judged_site_id,
    d.value as value,
    d.threshold as threshold,
    d.detected_at as detected_at,
    i.attribution_status as attribution_status,
    i.media_source as attributed_media_source,
    i.campaign_id as attributed_campaign_id,
    i.winning_touch_id as winning_touch_id,
    -- a flag claws back the install only when it is paid (attributed to a network)
    d.action = 'flag' and i.attribution_status = 'attributed' as is_clawback
from decisions as d
left join installs as i on d.install_id = i.install_id
settings join_use_nulls = 1
