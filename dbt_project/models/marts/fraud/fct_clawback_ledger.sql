{{ config(
    materialized='view',
) }}
-- The per-network monthly clawback ledger (SPEC §3): installs flagged after attribution, valued at
-- their cohort's eCPI (reporting currency), by the month the fraud was detected.

with flagged as (
    select distinct
        install_id,
        app_id,
        install_date,
        toStartOfMonth(detected_at) as ledger_month,
        attributed_media_source as media_source,
        attributed_campaign_id as campaign_id
    from {{ ref('fct_fraud_decisions') }}
    where is_clawback
),

campaign_cpi as (
    select
        install_date,
        app_id,
        media_source,
        campaign_id,
        sum(cost) / nullIf(sum(installs), 0) as ecpi
    from {{ ref('fct_cohort_kpis') }}
    where day_n = 0
    group by install_date, app_id, media_source, campaign_id
)

select
    f.ledger_month as ledger_month,
    f.app_id as app_id,
    f.media_source as media_source,
    count() as flagged_installs,
    round(sum(ifNull(c.ecpi, 0)), 6) as clawback_amount,
    '{{ var('unmogrowp__reporting_currency') }}' as reporting_currency
from flagged as f
left join campaign_cpi as c
    on
        f.install_date = c.install_date and f.app_id = c.app_id
        and f.media_source = c.media_source and f.campaign_id = c.campaign_id
group by ledger_month, app_id, media_source
