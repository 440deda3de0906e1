"""`make demo`: start the local services and materialize every asset end to end, then summarize."""

import sys
import time

import dagster as dg

from orchestration.definitions import build_definitions
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings


def main() -> int:
    settings = load_settings()
    print(f"environment: {settings.env}   home: {settings.home}")
    if settings.clickhouse.managed:
        state, started = manager.start(settings.home, settings.clickhouse.port)
        print(f"local ClickHouse server: {state.url} (chDB {state.version}, "
              f"{'started' if started else 'already running'}, pid {state.pid})")
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    t0 = time.perf_counter()
    result = job.execute_in_process(instance=dg.DagsterInstance.get(), resources=defs.resources)
    elapsed = time.perf_counter() - t0
    print(f"\nDagster run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'} "
          f"in {elapsed:.1f} s")
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        print(f"  materialized {mat.asset_key.to_user_string()}")
        for name, value in mat.metadata.items():
            print(f"      {name}: {getattr(value, 'value', value)}")
    client = defs.resources["clickhouse"].get_client()
    print("\nClickHouse databases:", ", ".join(
        r[0] for r in client.query("SELECT name FROM system.databases ORDER BY name").result_rows))
    print("\nNext: `make dev` opens the Dagster UI on http://127.0.0.1:3000")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
