"""The composition root: every asset, check, job, schedule, sensor and resource, in one place."""

import dagster as dg

from assets import warehouse
from assets.ingest import build_ingest_assets
from orchestration.partitions import daily_partitions, hourly_partitions
from orchestration.resources import build_resources
from orchestration.sensors import build_landing_sensor
from unmogrowp.config import Settings, load_settings

EVENTS_JOB = "ingest_events_job"
COST_JOB = "ingest_cost_job"


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    hourly, daily = hourly_partitions(settings), daily_partitions(settings)
    ingest = build_ingest_assets(hourly, daily)
    events_job = dg.define_asset_job(
        EVENTS_JOB, selection=dg.AssetSelection.assets("bronze_events", "silver_events", "clickhouse_events"),
        description="Landing → bronze → silver → ClickHouse for landing hours.")
    cost_job = dg.define_asset_job(
        COST_JOB, selection=dg.AssetSelection.assets("cost_reports", "clickhouse_cost"),
        description="Cost reports → current cost → ClickHouse for cost dates.")
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules([warehouse]), *ingest],
        jobs=[events_job, cost_job],
        schedules=[
            dg.build_schedule_from_partitioned_job(events_job, minute_of_hour=5, name="hourly_events"),
            dg.build_schedule_from_partitioned_job(cost_job, hour_of_day=2, name="nightly_cost"),
        ],
        sensors=[build_landing_sensor(events_job, cost_job, running=not settings.is_local)],
        resources=build_resources(settings),
    )


defs = build_definitions()
