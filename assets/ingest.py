"""Ingestion assets: landing → bronze → silver Delta → ClickHouse raw tables, events and cost."""

import warnings
from datetime import timedelta

import dagster as dg

from assets import metadata as md
from assets.partitions import DAILY, HOURLY, date_window, hour_window
from assets.resources import CLICKHOUSE_POOL, ClickHouseResource, LakeResource, LandingResource, PrivacyResource
from assets.retries import retry_transient
from unmogrowp.ingest import cost, events, match_keys, warehouse
from unmogrowp.windows import chunks, date_strings

# single-run backfills are marked beta in Dagster 1.13; they are what makes a week of hours one run
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")

INGEST_GROUP = "ingest"
RECONCILES = "reconciles"
# bronze and cost loads of one instance run one at a time when the instance limits this pool
# (dagster.yaml `concurrency: pools: default_limit: 1`); a local lake also locks the commit itself
LANDING_POOL = "landing_load"
SINGLE_RUN = dg.BackfillPolicy.single_run()
HOUR = timedelta(hours=1)


def _sum_dicts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


@dg.asset(partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          pool=LANDING_POOL)
@retry_transient
def bronze_events(context: dg.AssetExecutionContext, lake: LakeResource, landing: LandingResource,
                  privacy: PrivacyResource) -> dg.MaterializeResult:
    """Raw SDK event lines (Delta `bronze/events`): one row per landed line with source file,
    line number and load time. Each landing file is loaded once; replays add nothing. Objects
    outside the layout and files over the size limit are one row each (quarantined by silver)."""
    start, end = hour_window(context)
    store, table = landing.get_store(), lake.get_lake()
    listing = events.list_events(store)  # once per run, not once per chunk
    results = []
    for s, e in chunks(start, end):
        results.append(events.load_bronze(table, store, events.event_files(store, s, e, listing), s, e,
                                          privacy_key=privacy.privacy_key))
    lines = sum(r.lines for r in results)
    context.log.info("bronze %s..%s: %d lines from %d new files", start, end, lines,
                     sum(r.files_loaded for r in results))
    changed = [k for r in results for k in r.changed_files]
    return dg.MaterializeResult(metadata={
        **_delta_partition_metadata(context, table, events.BRONZE_EVENTS, start, end),
        "files_loaded": sum(r.files_loaded for r in results),
        "files_already_loaded": sum(r.files_skipped for r in results),
        "lines": lines,
        "lines_erased": sum(r.lines_erased for r in results),
        "lines_too_long": sum(r.long_lines for r in results),
        "bad_landing_keys": dg.MetadataValue.json(_sum_dicts(r.bad_keys for r in results)),
        "files_changed": len(changed),
        "files_changed_keys": dg.MetadataValue.json(changed[:50]),
        "files_loaded_by_a_concurrent_run": sum(r.files_lost_race for r in results),
        "files_reloaded_after_a_load_without_checksum": sum(len(r.legacy_reloaded) for r in results),
        "files_vanished_since_listing": sum(r.files_vanished for r in results),
        "files_changed_since_listing": sum(r.files_changed_since_listing for r in results),
        "bronze_commits": sum(r.commits for r in results),
        "file_errors": dg.MetadataValue.json(_sum_dicts(r.file_errors for r in results)),
        "delta_version": lake.get_lake().version(events.BRONZE_EVENTS),
    })


def _delta_partition_metadata(context, lake, table: str, start, end) -> dict:
    """Rows of ``table`` per landing hour of the run (the table's, replays included), its schema and
    a preview of the run's first hour."""
    if not lake.exists(table):
        return md.row_counts(context, {})
    hours = lake.read(table, columns=["landing_hour"], filters=events.hour_filter(start, end))
    first = lake.read(table, filters=events.hour_filter(start, min(end, start + HOUR)))
    return {**md.row_counts(context, md.arrow_counts(hours, "landing_hour", hourly=True)),
            **md.delta_metadata(first), "delta_table": table}


@dg.asset(partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          deps=[bronze_events],
          check_specs=[dg.AssetCheckSpec(RECONCILES, asset="silver_events", blocking=True,
                                         description="landed = loaded + duplicate + quarantined, per hour")])
@retry_transient
def silver_events(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Typed, validated SDK events (Delta `silver/events`), deduplicated on event_id across
    partitions; rejected lines in `silver/events_quarantine` with a reason."""
    start, end = hour_window(context)
    table = lake.get_lake()
    results = [events.build_silver(table, s, e) for s, e in chunks(start, end)]
    landed, loaded = sum(r.landed for r in results), sum(r.loaded for r in results)
    dups, quarantined = sum(r.duplicates for r in results), sum(r.quarantined for r in results)
    by_hour = [h for r in results for h in r.by_hour]
    ok = all(r.reconciles for r in results)
    context.log.info("silver %s..%s: landed %d = loaded %d + duplicate %d + quarantined %d",
                     start, end, landed, loaded, dups, quarantined)
    return dg.MaterializeResult(
        metadata={
            "landed": landed, "loaded": loaded, "duplicates": dups, "quarantined": quarantined,
            "quarantine_reasons": dg.MetadataValue.json(_sum_dicts(r.reasons for r in results)),
            "reconciliation_by_hour": dg.MetadataValue.json(by_hour),
            "doubled_bronze_lines": sum(r.doubled for r in results),
            **_delta_partition_metadata(context, table, events.SILVER_EVENTS, start, end),
        },
        check_results=[dg.AssetCheckResult(
            check_name=RECONCILES, passed=ok,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"landed": landed, "accounted": loaded + dups + quarantined,
                      "doubled_bronze_lines": sum(r.doubled for r in results), "hours": len(by_hour)})],
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec("clickhouse_events", deps=[silver_events], kinds={"clickhouse"},
                     description="`raw.events` in ClickHouse: silver events, replaced per landing-hour window "
                                 "(idempotent)."),
        dg.AssetSpec("clickhouse_touch_keys", deps=[silver_events], kinds={"clickhouse"},
                     description="`raw.touch_keys`: each touch by the keys it can be matched by (click id, device "
                                 "id, IP), sorted by match key; rebuilt from raw.events with each landing hour."),
        dg.AssetSpec("clickhouse_install_keys", deps=[silver_events], kinds={"clickhouse"},
                     description="`raw.install_keys`: installs by device hash (the previous-install lookup); "
                                 "rebuilt from raw.events with each landing hour."),
    ],
    partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, can_subset=False, pool=CLICKHOUSE_POOL)
@retry_transient
def clickhouse_events(context: dg.AssetExecutionContext, lake: LakeResource, clickhouse: ClickHouseResource):
    """Silver events of the landing hours into `raw.events`, and attribution's key tables built from them."""
    start, end = hour_window(context)
    client = clickhouse.get_client()
    rows = sum(warehouse.load_events(client, lake.get_lake(), s, e) for s, e in chunks(start, end))
    where = "landing_hour >= {s:DateTime64(3, 'UTC')}"
    for key, table in (("clickhouse_events", warehouse.EVENTS_TABLE), ("clickhouse_touch_keys", match_keys.TOUCH_KEYS),
                       ("clickhouse_install_keys", match_keys.INSTALL_KEYS)):
        counts = md.clickhouse_counts(client, table, "landing_hour", start, end, hourly=True)
        yield dg.MaterializeResult(asset_key=key, metadata={
            "rows": sum(counts.values()), **md.row_counts(context, counts, asset_key=key),
            **({"rows_loaded": rows} if table == warehouse.EVENTS_TABLE else {}),
            **md.table_metadata(client, table, where, {"s": start})})


@dg.asset(partitions_def=DAILY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          pool=LANDING_POOL)
@retry_transient
def cost_reports(context: dg.AssetExecutionContext, lake: LakeResource,
                 landing: LandingResource) -> dg.MaterializeResult:
    """Ad-network cost: every pull kept (`bronze/cost_loads`), the latest pull per key
    (`silver/cost_current`), rejected rows in `silver/cost_quarantine`."""
    start, end = date_window(context)
    lk = lake.get_lake()
    r = cost.load_cost(lk, landing.get_store(), start, end)
    current = lk.read(cost.COST_CURRENT, filters=[("cost_date", "in", date_strings(start, end))],
                      schema=cost.CURRENT_SCHEMA)
    return dg.MaterializeResult(metadata={
        **md.row_counts(context, md.arrow_counts(current, "cost_date")), **md.delta_metadata(current),
        "delta_table": cost.COST_CURRENT,
        "files_loaded": r.files_loaded, "files_already_loaded": r.files_skipped,
        "rows_loaded": r.rows_loaded, "rows_quarantined": r.rows_quarantined,
        "quarantine_reasons": dg.MetadataValue.json(r.reasons), "current_rows": r.current_rows,
        "bad_landing_keys": dg.MetadataValue.json(r.bad_keys), "files_loaded_by_a_concurrent_run": r.files_lost_race,
        "files_changed": len(r.changed_keys), "files_changed_keys": dg.MetadataValue.json(r.changed_keys[:50]),
        "files_reloaded_after_a_load_without_checksum": len(r.legacy_reloaded),
        "files_vanished_since_listing": r.files_vanished,
        "files_changed_since_listing": r.files_changed_since_listing,
    })


@dg.asset(partitions_def=DAILY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP,
          kinds={"clickhouse"}, deps=[cost_reports], pool=CLICKHOUSE_POOL)
@retry_transient
def clickhouse_cost(context: dg.AssetExecutionContext, lake: LakeResource,
                    clickhouse: ClickHouseResource) -> dg.MaterializeResult:
    """`raw.cost` in ClickHouse: current cost per key, replaced per cost date (idempotent)."""
    start, end = date_window(context)
    client = clickhouse.get_client()
    rows = warehouse.load_cost(client, lake.get_lake(), start, end)
    return dg.MaterializeResult(metadata={"rows": rows, **md.clickhouse_partition_metadata(
        context, client, warehouse.COST_TABLE, "cost_date")})
