-- Current cost per day and campaign (the latest pull per key).
select
    cost_date,
    app_id,
    media_source,
    campaign_id,
    adset_id,
    ad_id,
    country,
    spend,
    currency,
    impressions,
    clicks,
    pulled_at
from {{ source('raw', 'cost') }}
