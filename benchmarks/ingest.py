"""Events/s per ingestion stage: generate, landing → bronze, bronze → silver, silver → ClickHouse.

Run: `.venv/bin/python benchmarks/ingest.py --apps 3 --days 7 --installs-per-day 6000`
(about 5M events). Each stage runs over the whole range in 24-hour chunks, as the Dagster assets
do; the local ClickHouse server is started in a temporary home on a spare port.
"""

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import clickhouse_connect

from unmogrowp.clickhouse import manager
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.windows import chunks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=3)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--installs-per-day", type=int, default=6000)
    ap.add_argument("--port", type=int, default=18198)
    ap.add_argument("--landing", help="reuse generated data (an --out directory) instead of generating")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingestbench-"))
    start = date(2026, 9, 1)
    timings: dict[str, float] = {}
    try:
        out = args.landing or str(work / "gen")
        if not args.landing:
            t0 = time.perf_counter()
            generated = generate(out, args.apps, start, start + timedelta(days=args.days - 1), 42,
                                 SimConfig(installs_per_day=args.installs_per_day), progress=False)
            timings["generate"] = time.perf_counter() - t0
        store = LandingStore(f"{out}/landing")
        lake = Lake((work / "lake").as_uri())
        t_start, t_end = events.landing_range(store)
        windows = list(chunks(t_start, t_end))
        t0 = time.perf_counter()
        lines = sum(events.load_bronze(lake, store, events.event_files(store, s, e), s, e).lines for s, e in windows)
        timings["landing -> bronze"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded = sum(events.build_silver(lake, s, e).loaded for s, e in windows)
        timings["bronze -> silver"] = time.perf_counter() - t0
        manager.start(work / "home", args.port)
        client = clickhouse_connect.get_client(port=args.port)
        t0 = time.perf_counter()
        rows = sum(warehouse.load_events(client, lake, s, e) for s, e in windows)
        timings["silver -> ClickHouse"] = time.perf_counter() - t0
        assert rows == loaded == client.command("SELECT count() FROM raw.events")
        manager.stop(work / "home")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = lines
    if "generate" in timings:
        print(f"generated {generated.events:,} events")
    print(f"{n:,} landed lines, {loaded:,} silver events\n")
    print(f"{'stage':24} {'seconds':>8} {'events/s':>12}")
    for stage, sec in timings.items():
        print(f"{stage:24} {sec:8.1f} {n / sec:12,.0f}")
    path = sum(v for k, v in timings.items() if k != "generate")
    print(f"{'landing -> ClickHouse':24} {path:8.1f} {n / path:12,.0f}")


if __name__ == "__main__":
    main()
