"""Partitions: landing hours for events, cost dates for ad spend (both UTC).

Assets and checks are defined at module level on ``HOURLY`` and ``DAILY``, which start on the default
first partition, so each can be imported and called on its own. A deployment's first partition comes
from its settings (locally the landing zone's first ``dt=``): ``build_definitions`` passes every asset
and check through :func:`with_start`, which swaps these two definitions for ones starting that day —
assets with ``AssetsDefinition.map_asset_specs`` (multi-assets and ``@dbt_assets`` too), partitioned
asset checks rebuilt with ``AssetChecksDefinition.create`` (Dagster has no spec mapping for checks).
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime

import dagster as dg

from unmogrowp.config import DEFAULT_PARTITIONS_START
from unmogrowp.windows import inclusive_dates

# tags that make one run cover a range of partitions (with a single-run backfill policy)
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
HOUR_KEY, DAY_KEY = "%Y-%m-%d-%H:00", "%Y-%m-%d"


def hourly_partitions(start: str) -> dg.HourlyPartitionsDefinition:
    return dg.HourlyPartitionsDefinition(start_date=f"{start}-00:00", timezone="UTC")


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC")


HOURLY = hourly_partitions(DEFAULT_PARTITIONS_START)
DAILY = daily_partitions(DEFAULT_PARTITIONS_START)


def with_start(definitions: Iterable[dg.AssetsDefinition], start: str) -> list[dg.AssetsDefinition]:
    """``definitions`` with ``HOURLY`` and ``DAILY`` replaced by partitions whose first day is ``start``."""
    swap = {HOURLY: hourly_partitions(start), DAILY: daily_partitions(start)}

    def asset_spec(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(partitions_def=swap.get(spec.partitions_def, spec.partitions_def))

    def check_spec(spec: dg.AssetCheckSpec) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(spec.name, asset=spec.asset_key, description=spec.description,
                                 additional_deps=spec.additional_deps, blocking=spec.blocking, metadata=spec.metadata,
                                 automation_condition=spec.automation_condition,
                                 partitions_def=swap.get(spec.partitions_def, spec.partitions_def))

    out = []
    for d in definitions:
        if d.partitions_def in swap and isinstance(d, dg.AssetChecksDefinition):
            d = dg.AssetChecksDefinition.create(
                keys_by_input_name=d.keys_by_input_name, node_def=d.op, can_subset=d.can_subset,
                check_specs_by_output_name={name: check_spec(s) for name, s in d.check_specs_by_output_name.items()},
                resource_defs=d.resource_defs)
        elif d.partitions_def in swap:
            d = d.map_asset_specs(asset_spec)
        out.append(d)
    return out


def hour_window(context) -> tuple[datetime, datetime]:
    """The [start, end) landing hours of this run (one partition or a single-run backfill range)."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def date_window(context) -> tuple[date, date]:
    """The inclusive cost dates of this run."""
    return inclusive_dates(*hour_window(context))
