"""Ad-network cost report contract, version 1 (SPEC §1.2)."""

from unmogrowp.contracts.base import ALL, Contract, Field

COST_CONTRACT_VERSION = "1.0.0"
# A pull restates cost for this key; the latest pulled_at wins.
COST_KEY = ("date", "app_id", "media_source", "campaign_id", "adset_id", "ad_id", "country")

COST_CONTRACT = Contract(
    name="cost_report",
    version=COST_CONTRACT_VERSION,
    fields=(
        Field("date", "date", frozenset({ALL})),
        Field("app_id", "string", frozenset({ALL})),
        Field("media_source", "string", frozenset({ALL})),
        Field("campaign_id", "string", frozenset({ALL})),
        Field("adset_id", "string"),
        Field("ad_id", "string"),
        Field("country", "country"),
        Field("spend", "float", frozenset({ALL}), min_value=0.0, max_value=1e9),
        Field("currency", "currency", frozenset({ALL})),
        Field("impressions", "int", min_value=0),
        Field("clicks", "int", min_value=0),
        Field("pulled_at", "timestamp", frozenset({ALL})),
    ),
)
