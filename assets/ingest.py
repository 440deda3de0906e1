"""Ingestion assets: landing → bronze → silver Delta → ClickHouse raw tables, events and cost."""

import warnings

import dagster as dg

from assets.partitions import DAILY, HOURLY, date_window, hour_window
from assets.resources import ClickHouseResource, LakeResource, LandingResource, PrivacyResource
from unmogrowp.ingest import cost, events, match_keys, warehouse
from unmogrowp.windows import chunks

# single-run backfills are marked beta in Dagster 1.13; they are what makes a week of hours one run
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")

INGEST_GROUP = "ingest"
RECONCILES = "reconciles"
# bronze and cost loads of one instance run one at a time when the instance limits this pool
# (dagster.yaml `concurrency: pools: default_limit: 1`); a local lake also locks the commit itself
LANDING_POOL = "landing_load"
SINGLE_RUN = dg.BackfillPolicy.single_run()


def _sum_dicts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


@dg.asset(partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          pool=LANDING_POOL)
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
        "dagster/row_count": lines,
    })


@dg.asset(partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          deps=[bronze_events],
          check_specs=[dg.AssetCheckSpec(RECONCILES, asset="silver_events", blocking=True,
                                         description="landed = loaded + duplicate + quarantined, per hour")])
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
            "dagster/row_count": loaded,
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
    partitions_def=HOURLY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, can_subset=False)
def clickhouse_events(context: dg.AssetExecutionContext, lake: LakeResource, clickhouse: ClickHouseResource):
    """Silver events of the landing hours into `raw.events`, and attribution's key tables built from them."""
    start, end = hour_window(context)
    client = clickhouse.get_client()
    rows = sum(warehouse.load_events(client, lake.get_lake(), s, e) for s, e in chunks(start, end))
    yield dg.MaterializeResult(asset_key="clickhouse_events", metadata={
        "rows": rows, "table": warehouse.EVENTS_TABLE, "dagster/row_count": rows})
    for key, (table, n) in zip(("clickhouse_touch_keys", "clickhouse_install_keys"),
                               match_keys.window_rows(client, start, end).items(), strict=True):
        yield dg.MaterializeResult(asset_key=key, metadata={"rows": n, "table": table, "dagster/row_count": n})


@dg.asset(partitions_def=DAILY, backfill_policy=SINGLE_RUN, group_name=INGEST_GROUP, kinds={"delta"},
          pool=LANDING_POOL)
def cost_reports(context: dg.AssetExecutionContext, lake: LakeResource,
                 landing: LandingResource) -> dg.MaterializeResult:
    """Ad-network cost: every pull kept (`bronze/cost_loads`), the latest pull per key
    (`silver/cost_current`), rejected rows in `silver/cost_quarantine`."""
    start, end = date_window(context)
    r = cost.load_cost(lake.get_lake(), landing.get_store(), start, end)
    return dg.MaterializeResult(metadata={
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
          kinds={"clickhouse"}, deps=[cost_reports])
def clickhouse_cost(context: dg.AssetExecutionContext, lake: LakeResource,
                    clickhouse: ClickHouseResource) -> dg.MaterializeResult:
    """`raw.cost` in ClickHouse: current cost per key, replaced per cost date (idempotent)."""
    start, end = date_window(context)
    rows = warehouse.load_cost(clickhouse.get_client(), lake.get_lake(), start, end)
    return dg.MaterializeResult(metadata={"rows": rows, "table": warehouse.COST_TABLE})
