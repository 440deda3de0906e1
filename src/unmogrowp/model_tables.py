"""ClickHouse tables that Python assets write and dbt reads: they exist (empty) before the first
dbt run, so models and unit tests can always resolve them."""

from __future__ import annotations

from unmogrowp.warehouse import FRAUD, ML

CH_DECISIONS = f"{FRAUD}.decisions"
CH_SCORES = f"{FRAUD}.install_scores"
CH_LTV = f"{ML}.ltv_predictions"

DDL = (
    f"CREATE DATABASE IF NOT EXISTS {FRAUD}",
    f"CREATE DATABASE IF NOT EXISTS {ML}",
    f"""CREATE TABLE IF NOT EXISTS {CH_DECISIONS} (
    install_id String, app_id String, install_date Date, touch_id Nullable(String),
    media_source Nullable(String), campaign_id Nullable(String), site_id Nullable(String),
    reason LowCardinality(String), stage LowCardinality(String), action LowCardinality(String),
    value Nullable(Float64), threshold Float64, detected_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (app_id, install_date, install_id, reason)""",
    f"""CREATE TABLE IF NOT EXISTS {CH_SCORES} (
    install_id String, app_id String, install_date Date, fraud_score Float64, top_contributions String,
    model_version String
) ENGINE = MergeTree ORDER BY (app_id, install_date, install_id)""",
    f"""CREATE TABLE IF NOT EXISTS {CH_LTV} (
    install_id String, app_id String, install_date Date, horizon_days UInt16, predicted_revenue Float64,
    model_version String
) ENGINE = MergeTree ORDER BY (app_id, install_date, install_id)""",
)


def ensure_tables(client) -> None:
    for statement in DDL:
        client.command(statement)
