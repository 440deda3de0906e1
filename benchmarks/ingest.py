"""Events/s per ingestion stage (generate, landing → bronze, bronze → silver, silver → ClickHouse) and
where each stage spends its time.

Run: `.venv/bin/python benchmarks/ingest.py --apps 3 --days 7 --installs-per-day 6000`
(about 5M events). Each stage runs over the whole range in 24-hour chunks, as the Dagster assets
do; the local ClickHouse server is started in a temporary home on a spare port.

The breakdown times the library's own calls (wrapped here, nothing changes in what they do): wall
seconds and CPU seconds of this process over each call (a timed call inside another counts in the
outer one), and for the ClickHouse load the server process's CPU too. Bronze decodes files on two
threads while it commits, so its parts overlap in wall time and the CPU of a part includes the other
thread's work meanwhile; the rest is serial. ``--engine-split`` also times, on a middle window, the
validation SQL with JSON parsing only against the whole contract, splitting "parse" from "rules".
"""

import argparse
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import chdb
import clickhouse_connect
import pyarrow as pa

from unmogrowp.clickhouse import manager
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.windows import chunks

PARTS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # part -> [wall, cpu, calls]
_stage = {"name": ""}
ARROW_LOAD = "silver -> ClickHouse through Python (Arrow, the old path)"


_depth = threading.local()


def _timed(label: str, fn):
    """``fn`` timed into ``label`` of the current stage; a timed call inside another counts in the outer."""
    def wrapper(*args, **kwargs):
        if getattr(_depth, "n", 0):
            return fn(*args, **kwargs)
        _depth.n = 1
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _depth.n = 0
            part = PARTS[f"{_stage['name']}|{label}"]
            part[0] += time.perf_counter() - w0
            part[1] += time.process_time() - c0
            part[2] += 1
    return wrapper


def _sql_label(sql: str) -> str:
    if "multiIf(" in sql:
        return "chDB: JSON parse + contract rules -> typed Arrow"
    if "argMin(" in sql:
        return "chDB: dedup (event_id join)"
    return "chDB: other"


class _Conn:
    def __init__(self, conn):
        self._conn = conn

    def query(self, sql, *args, **kwargs):
        return _timed(_sql_label(sql), self._conn.query)(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _Chdb:
    @staticmethod
    def connect(*args, **kwargs):
        return _Conn(chdb.connect(*args, **kwargs))


def instrument() -> None:
    """Wrap the calls of the ingestion modules that the breakdown names."""
    events.decode_ndjson_gz = _timed("gunzip + split lines", events.decode_ndjson_gz)
    events._checksum = _timed("sha256 of the landing file", events._checksum)
    events.loaded_versions = _timed("read loaded versions (Delta)", events.loaded_versions)
    events.doubled_lines = _timed("double-load check", events.doubled_lines)
    events._reconcile = _timed("reconciliation counts", events._reconcile)
    events.chdb = _Chdb
    LandingStore.read_bytes = _timed("read landing file", LandingStore.read_bytes)
    Lake.read = _timed("Delta read -> Arrow", Lake.read)
    Lake.append = _timed("Delta write", Lake.append)
    Lake.replace_where = _timed("Delta write", Lake.replace_where)
    if hasattr(warehouse, "match_keys"):
        warehouse.match_keys.refresh = _timed("match keys refresh (INSERT ... SELECT)", warehouse.match_keys.refresh)
    client_cls = clickhouse_connect.driver.httpclient.HttpClient
    client_cls.insert_arrow = _timed("ClickHouse insert (client side)", client_cls.insert_arrow)
    client_cls.command = _timed("ClickHouse commands (count, DELETE, DDL)", client_cls.command)


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_split(lake: Lake, start, end) -> dict[str, float]:
    """Seconds of the validation SQL over one window's bronze: parse only, then the whole contract."""
    bronze = lake.read(events.BRONZE_EVENTS, columns=["raw_line", "read_error"],  # noqa: F841 (read by chDB)
                       filters=events.hour_filter(start, end))
    conn = chdb.connect(":memory:")
    tuple_type = ", ".join(f"{f.name} {events_type(f)}" for f in EVENT_CONTRACT.fields)
    parse = (f"SELECT count(), sum(cityHash64(JSONExtract(toString(assumeNotNull(raw_line)), "
             f"'Tuple({tuple_type})'))) FROM Python(bronze)")
    full = (f"SELECT count(), sum(cityHash64(*)) FROM "
            f"({EVENT_CONTRACT.validation_sql('Python(bronze)', (), with_settings=False)}) "
            "SETTINGS short_circuit_function_evaluation = 'disable'")
    out = {"lines": bronze.num_rows}
    for label, sql in (("copy lines only", "SELECT sum(length(raw_line)) FROM Python(bronze)"),
                       ("JSON parse only", parse), ("parse + every rule + typed output", full)):
        w0, c0 = time.perf_counter(), time.process_time()
        conn.query(sql, "CSV")
        out[label] = (time.perf_counter() - w0, time.process_time() - c0)
    conn.close()
    return out


def events_type(f) -> str:
    from unmogrowp.contracts.base import _KINDS

    return _KINDS[f.kind][0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=3)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--installs-per-day", type=int, default=6000)
    ap.add_argument("--port", type=int, default=18198)
    ap.add_argument("--landing", help="reuse generated data (an --out directory) instead of generating")
    ap.add_argument("--no-breakdown", action="store_true", help="stage totals only, no wrapped calls")
    ap.add_argument("--engine-split", action="store_true", help="also split JSON parse from the rules")
    ap.add_argument("--compare-load", action="store_true",
                    help="also load silver the old way (read here, inserted as Arrow), side by side")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--work", help="scratch directory (default: a new temporary one)")
    args = ap.parse_args()
    if not args.no_breakdown:
        instrument()
    work = Path(tempfile.mkdtemp(prefix="ingestbench-", dir=args.work))
    start = date(2026, 9, 1)
    timings: dict[str, tuple[float, float]] = {}
    split = None

    def stage(name: str):
        _stage["name"] = name
        return time.perf_counter(), time.process_time()

    def done(name: str, t0: tuple[float, float], extra_cpu: float = 0.0) -> None:
        timings[name] = (time.perf_counter() - t0[0], time.process_time() - t0[1] + extra_cpu)

    try:
        out = args.landing or str(work / "gen")
        if not args.landing:
            t0 = stage("generate")
            generated = generate(out, args.apps, start, start + timedelta(days=args.days - 1), 42,
                                 SimConfig(installs_per_day=args.installs_per_day), progress=False)
            done("generate", t0)
        store = LandingStore(f"{out}/landing")
        lake = Lake((work / "lake").as_uri())
        t_start, t_end = events.landing_range(store)
        windows = list(chunks(t_start, t_end))
        t0 = stage("landing -> bronze")
        listing = events.list_events(store)
        lines = sum(events.load_bronze(lake, store, events.event_files(store, s, e, listing), s, e).lines
                    for s, e in windows)
        done("landing -> bronze", t0)
        t0 = stage("bronze -> silver")
        loaded = sum(events.build_silver(lake, s, e).loaded for s, e in windows)
        done("bronze -> silver", t0)
        state, _ = manager.start(work / "home", args.port)
        client = clickhouse_connect.get_client(port=args.port)
        t0 = stage("silver -> ClickHouse")
        cpu0 = server_cpu(state.pid)
        rows = sum(warehouse.load_events(client, lake, s, e) for s, e in windows)
        server = server_cpu(state.pid) - cpu0
        done("silver -> ClickHouse", t0, server)
        PARTS["silver -> ClickHouse|ClickHouse server process (CPU only)"] = [0.0, server, 1]
        assert rows == loaded == client.command("SELECT count() FROM raw.events")
        if args.compare_load:  # the same windows replaced through this process, for the ratio
            client.command("DROP DATABASE raw SYNC")  # into empty tables, as the engine's load was
            t0 = stage(ARROW_LOAD)
            cpu0 = server_cpu(state.pid)
            readable, warehouse.engine_readable = warehouse.engine_readable, lambda *a: None
            try:
                assert sum(warehouse.load_events(client, lake, s, e) for s, e in windows) == rows
            finally:
                warehouse.engine_readable = readable
            server = server_cpu(state.pid) - cpu0
            done(ARROW_LOAD, t0, server)
            PARTS[f"{ARROW_LOAD}|ClickHouse server process (CPU only)"] = [0.0, server, 1]
        manager.stop(work / "home")
        if args.engine_split:
            split = engine_split(lake, *windows[len(windows) // 2])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = lines
    if "generate" in timings:
        print(f"generated {generated.events:,} events")
    print(f"{n:,} landed lines, {loaded:,} silver events; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB\n")
    print(f"{'stage':58} {'wall s':>7} {'CPU s':>7} {'events/s':>10}")
    for name, (sec, cpu) in timings.items():
        print(f"{name:58} {sec:7.1f} {cpu:7.1f} {n / sec:10,.0f}")
        parts = {k.split("|", 1)[1]: v for k, v in PARTS.items() if k.startswith(name + "|")}
        for part, (w, c, calls) in sorted(parts.items(), key=lambda kv: -kv[1][0]):
            print(f"  {part:56} {w:7.1f} {c:7.1f}   ({calls} calls)")
        if parts and "bronze" not in name:
            rest_w = sec - sum(v[0] for v in parts.values())
            rest_c = cpu - sum(v[1] for v in parts.values())
            print(f"  {'rest (Arrow filter/cast/concat, Python)':56} {rest_w:7.1f} {rest_c:7.1f}")
    path = sum(v[0] for k, v in timings.items() if k not in ("generate", ARROW_LOAD))
    path_cpu = sum(v[1] for k, v in timings.items() if k not in ("generate", ARROW_LOAD))
    print(f"{'landing -> ClickHouse':58} {path:7.1f} {path_cpu:7.1f} {n / path:10,.0f}")
    if split:
        print(f"\nengine alone on one window of bronze ({split['lines']:,} lines):")
        for label, (w, c) in ((k, v) for k, v in split.items() if k != "lines"):
            print(f"  {label:56} {w:7.2f} {c:7.2f}  {split['lines'] / w:10,.0f} lines/s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "lines": n, "silver": loaded, "stages": {k: {"wall_s": w, "cpu_s": c} for k, (w, c) in timings.items()},
            "parts": {k: {"wall_s": w, "cpu_s": c, "calls": calls} for k, (w, c, calls) in PARTS.items()},
            "engine_split": split, "landing_to_clickhouse_events_per_s": n / path}, indent=1, default=str))


if __name__ == "__main__":
    pa.set_cpu_count(os.cpu_count() or 2)
    main()
