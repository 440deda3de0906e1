"""The hourly schedule's work for one landing hour of a big app: landing → bronze → silver →
ClickHouse (raw.events and the key tables) → dbt's hourly attribution models, each step timed.

Run: `.venv/bin/python -m benchmarks.hourly_run [--installs 100000]`. The generator writes one app's
day (``--installs`` installs and their touches and app use); every landing file is then moved into
the day's last landing hour, so that one hour holds the whole day's lines (events up to a day late,
well inside the 7-day lateness limit): a 100M-events/day app lands about 4.2M lines an hour. The steps
are the library calls the hourly Dagster jobs make (``events_job``: bronze, silver, clickhouse_events;
``attribution_job``: ``dbt build --select fqn:marts.attribution`` for the hour's window), with a local
ClickHouse server of its own. The installs whose install time falls in that hour are a 24th of the
day's; dbt's attribution over the whole day as one window (auxiliary, not in the total) shows the
load of a bigger app's hour. Prints a table (rows, wall and CPU seconds incl. the server and dbt) and
writes JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import clickhouse_connect

from benchmarks.harness import dbt, measure, window
from unmogrowp import attribution_config
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.net import free_port

DAY = date(2026, 9, 1)


def collapse_into_one_hour(landing: Path, day: date) -> datetime:
    """Move every event file of ``landing`` into ``day``'s hour 23; returns that hour."""
    target = landing / "events"
    hour = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23)
    moved = 0
    for app_dir in target.iterdir():
        dest = app_dir / f"dt={day:%Y-%m-%d}" / "hr=23"
        dest.mkdir(parents=True, exist_ok=True)
        for f in list(app_dir.glob("dt=*/hr=*/*.json.gz")):
            if f.parent != dest:
                f.rename(dest / f"{f.parent.parent.name}-{f.parent.name}-{f.name}")
                moved += 1
        for d in sorted(app_dir.glob("dt=*/hr=*"), reverse=True):
            if d != dest and not any(d.iterdir()):
                d.rmdir()
    return hour


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installs", type=int, default=100_000, help="installs of the app's day (default 100k)")
    parser.add_argument("--work", help="scratch directory (default: a new temporary one)")
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="hourly_run_"))
    port = free_port()
    settings = load_settings({**os.environ, "LAKEHOUSE_ENV": "local", "UNMOGROWP_HOME": str(work),
                              "UNMOGROWP_CLICKHOUSE_PORT": str(port), "UNMOGROWP_LAKE_URI": (work / "lake").as_uri()})
    records: list[dict] = []
    state, _ = manager.start(work / "clickhouse", port)
    client = clickhouse_connect.get_client(port=port, send_receive_timeout=3600)
    try:
        with measure(records, "generate (aux)", state.pid, main=False) as st:
            st.rows = generate(str(work / "gen"), 1, DAY, DAY, 42, SimConfig(installs_per_day=args.installs,
                                                                               activity_days_after=0),
                               progress=False).events
        hour = collapse_into_one_hour(work / "gen" / "landing", DAY)
        end = hour + timedelta(hours=1)
        store, lake = LandingStore(str(work / "gen" / "landing")), Lake(settings.lake_uri)
        with measure(records, "dbt setup (aux)", state.pid, main=False):
            for database in ("raw", "analytics"):
                client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            warehouse.ensure_tables(client)
            attribution_config.load_user_config(client, work)
            dbt(port, work, "build", "--select", "resource_type:seed fqn:staging", "--indirect-selection", "buildable")
            dbt(port, work, "parse", "--vars", window(hour, end), vars_key="hourly")
        with measure(records, "bronze", state.pid) as st:
            st.rows = events.load_bronze(lake, store, events.event_files(store, hour, end), hour, end,
                                         privacy_key=settings.privacy_key).lines
        with measure(records, "silver", state.pid) as st:
            st.rows = events.build_silver(lake, hour, end).loaded
        with measure(records, "clickhouse_load", state.pid) as st:
            st.rows = warehouse.load_events(client, lake, hour, end)
        with measure(records, "attribution (dbt build)", state.pid) as st:
            dbt(port, work, "build", "--select", "fqn:marts.attribution", "--vars", window(hour, end),
                stage=st, vars_key="hourly")
            st.rows = client.command("SELECT count() FROM marts.fct_installs")
        # the installs of the hour by install time are the day's 1/24th; their whole day as one window is
        # the attribution load of a bigger app's hour (a 100M-events/day app: about 40k installs an hour)
        day_window = window(hour - timedelta(hours=23), end)
        dbt(port, work, "parse", "--vars", day_window, vars_key="day")
        with measure(records, "attribution, the day as one window", state.pid, main=False) as st:
            dbt(port, work, "build", "--select", "fqn:marts.attribution", "--vars", day_window, stage=st,
                vars_key="day")
            st.rows = client.command("SELECT count() FROM marts.fct_installs")
        touches = client.command("SELECT count() FROM raw.touch_keys")
    finally:
        client.close()
        manager.stop(work / "clickhouse")
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    main_steps = [r for r in records if r["main"]]
    total_wall = sum(r["wall_s"] for r in main_steps)
    total_cpu = sum(r["cpu_s"] for r in main_steps)
    print(f"\none landing hour of {records[0]['rows']:,} events ({touches:,} touch keys)")
    print(f"{'step':28} {'rows':>11} {'wall s':>8} {'CPU s':>8} {'rows/s':>10} {'RSS MB':>7}")
    for r in records:
        print(f"{r['stage']:28} {r['rows']:>11,} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['rows_per_s'] or 0:>10,} "
              f"{r['rss_peak_mb']:>7,}")
    print(f"{'the hourly run':28} {records[0]['rows']:>11,} {total_wall:8.1f} {total_cpu:8.1f} "
          f"{round(records[0]['rows'] / total_wall):>10,}")
    if args.out:
        Path(args.out).write_text(json.dumps({"hour": hour.isoformat(), "events": records[0]["rows"],
                                              "touch_keys": touches, "steps": records, "wall_s": total_wall,
                                              "cpu_s": total_cpu}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
