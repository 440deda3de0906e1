"""Spark fraud features (unmogrowp.fraud.features.install_features) for one hour and one day of installs:
rows/s, wall and CPU seconds, per step.

Self-contained: `.venv/bin/python benchmarks/fraud_features.py [--installs-per-hour 2000]` writes a
synthetic app's silver-shaped events (clicks, impressions, installs, sessions, purchases; repeated IPs,
user agents, OS versions and sites, so the window counts have work to do) and the matching
``fct_install_matches`` rows to Parquet in a temporary directory, then times the features over
[day, day + 1 h) and [day, day + 1 d) with `--history-days` of events before the day and one after.
Steps: the silver scan (read + cache), each building block forced on its own (device clicks, click
gaps, each windowed count, distinct devices per IP, post-install activity), then the whole frame into
Arrow (what the pipeline writes to Delta). CPU seconds are the driver's and Spark's (one JVM here).
`--clickhouse` also times the pipeline's read (``fraud.pipeline.build_features``: a day of silver,
the older touches looked up in a local ClickHouse server whose CPU counts too) and compares every
cell with the whole window. `--json PATH` writes the figures.
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from unmogrowp.fraud import features as ff
from unmogrowp.privacy.keys import DEFAULT_KEY

DAY = datetime(2026, 9, 10, tzinfo=UTC)
MS_H = 3_600_000


def events_table(installs_per_hour: int, start: datetime, hours: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    """(events, matches) of one app over ``hours`` from ``start``."""
    rng = np.random.default_rng(seed)
    t0 = int(start.timestamp() * 1000)
    n_inst = installs_per_hour * hours
    n_click = n_inst * 12
    n_imp = n_click // 2
    n_act = n_inst * 4
    ips = np.array([f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 256, (max(50, n_inst // 3), 3))])
    uas = np.array([f"Mozilla/5.0 (Linux; Android {v}; SM-{m})" for v, m in rng.integers(8, 15, (400, 2)) * 7])
    oss = np.array([f"{v}.{m}" for v, m in rng.integers(10, 18, (40, 2))])
    sites = np.array([f"site{i}" for i in range(300)])
    nets = np.array(["net_a", "net_b", "net_c", "net_d"])
    countries = np.array(list(ff.COUNTRY_CENTROIDS) + ["ZZ"])
    devices = np.array([f"dev-{i:09d}" for i in range(n_inst)])

    def part(n, kind, ts, dev_idx):
        ip = rng.choice(ips, n)
        return {"event_id": [f"{kind[:2]}-{i:010d}" for i in range(n)], "event_type": np.full(n, kind),
                "event_ts": ts, "device": dev_idx, "ip": ip, "ua": rng.choice(uas, n), "os": rng.choice(oss, n),
                "country": rng.choice(countries, n)}

    inst_ts = np.sort(t0 + rng.integers(0, hours * MS_H, n_inst))
    inst_dev = np.arange(n_inst)
    click_dev = rng.integers(0, n_inst, n_click)
    click_ts = np.clip(inst_ts[click_dev] - rng.exponential(3 * MS_H, n_click).astype(np.int64), t0 - 8 * 24 * MS_H,
                       None)
    imp_dev = rng.integers(0, n_inst, n_imp)
    imp_ts = inst_ts[imp_dev] - rng.exponential(6 * MS_H, n_imp).astype(np.int64)
    act_dev = rng.integers(0, n_inst, n_act)
    act_ts = inst_ts[act_dev] + rng.exponential(10 * MS_H, n_act).astype(np.int64)
    parts = [part(n_inst, "install", inst_ts, inst_dev), part(n_click, "click", click_ts, click_dev),
             part(n_imp, "impression", imp_ts, imp_dev),
             part(n_act, "session_start", act_ts, act_dev)]
    purchase = rng.random(n_act) < 0.1
    parts[3]["event_type"] = np.where(purchase, "purchase", "session_start")
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cols["event_ts"])
    kind = cols["event_type"]
    touch = np.isin(kind, ["click", "impression"])
    has_dev = rng.random(n) < 0.7  # limited ad tracking: no device id on ~30 %
    dev_ids = devices[cols["device"]]
    touch_ids = np.array([f"t-{i:010d}" for i in range(n)])
    begin = np.where(kind == "install", cols["event_ts"] - rng.integers(5_000, 120_000, n), 0)
    events = pa.table({
        "event_id": pa.array(cols["event_id"]), "app_id": pa.array(np.full(n, "id100")),
        "event_type": pa.array(kind), "event_ts": pa.array(cols["event_ts"] * 1000, pa.timestamp("us", "UTC")),
        "device_id": pa.array(dev_ids, mask=~has_dev), "idfv": pa.array(dev_ids, mask=kind == "click"),
        "android_id": pa.array(np.full(n, None, object), pa.string()),
        "ip": pa.array(cols["ip"]), "user_agent": pa.array(cols["ua"]), "os_version": pa.array(cols["os"]),
        "country": pa.array(cols["country"]), "touch_id": pa.array(touch_ids, mask=~touch),
        "media_source": pa.array(rng.choice(nets, n), mask=~touch),
        "campaign_id": pa.array(rng.choice(["c1", "c2", "c3"], n), mask=~touch),
        "site_id": pa.array(rng.choice(sites, n), mask=~touch | (rng.random(n) < 0.05)),
        "click_id": pa.array(touch_ids, mask=kind != "click"),
        "install_begin_ts": pa.array(begin * 1000, pa.timestamp("us", "UTC"), mask=kind != "install"),
        "referrer_click_id": pa.array(np.full(n, None, object), pa.string())})
    # attribution's match: the last click on the install's device before it, else organic
    clicks = {}
    order = np.argsort(click_ts)
    for i in order:
        clicks.setdefault(int(click_dev[i]), []).append(i)
    rows = {k: [] for k in ("install_id", "device_key", "is_anonymous_ip", "winning_touch_id", "touch_type",
                            "match_method", "match_score", "media_source", "campaign_id", "site_id", "ctit_s",
                            "click_injected")}
    ev_site, ev_net, ev_camp = (events.column(c).to_numpy(zero_copy_only=False) for c in
                                ("site_id", "media_source", "campaign_id"))
    for d in range(n_inst):
        before = [i for i in clicks.get(d, []) if click_ts[i] <= inst_ts[d]]
        j = n_inst + before[-1] if before and has_dev[n_inst + before[-1]] else None
        rows["install_id"].append(cols["event_id"][d])
        rows["device_key"].append(f"key-{d}")
        rows["is_anonymous_ip"].append(bool(d % 97 == 0))
        rows["winning_touch_id"].append(touch_ids[j] if j is not None else None)
        rows["touch_type"].append("click" if j is not None else None)
        rows["match_method"].append("device_id" if j is not None else "organic")
        rows["match_score"].append(None)
        for k, src in (("media_source", ev_net), ("campaign_id", ev_camp), ("site_id", ev_site)):
            rows[k].append(src[j] if j is not None else None)
        rows["ctit_s"].append(int((inst_ts[d] - click_ts[j - n_inst]) // 1000) if j is not None else None)
        rows["click_injected"].append(False)
    schema = pa.schema([("install_id", pa.string()), ("device_key", pa.string()), ("is_anonymous_ip", pa.bool_()),
                        ("winning_touch_id", pa.string()), ("touch_type", pa.string()), ("match_method", pa.string()),
                        ("match_score", pa.float64()), ("media_source", pa.string()), ("campaign_id", pa.string()),
                        ("site_id", pa.string()), ("ctit_s", pa.int64()), ("click_injected", pa.bool_())])
    return events, pa.Table.from_pydict(rows, schema)


def _cpu() -> float:
    """CPU seconds of this (driver) process."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _jvm_cpu(spark) -> float:
    """CPU seconds of Spark's JVM (still running, so not in RUSAGE_CHILDREN), from /proc."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # noqa: SLF001
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVERS: list[int] = []  # pids of the ClickHouse servers started here, whose CPU counts too


def _server_cpu() -> float:
    total = 0.0
    for pid in SERVERS:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def timed(spark, fn) -> dict:
    t0, c0, j0, s0 = time.perf_counter(), _cpu(), _jvm_cpu(spark), _server_cpu()
    out = fn()
    cpu = _cpu() - c0 + _jvm_cpu(spark) - j0 + _server_cpu() - s0
    return {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(cpu, 2), "rows": out}


def run(spark, module, events_path: str, matches_path: str, start: datetime, end: datetime):
    """Time ``module.install_features`` over [start, end): (figures, the features as pandas)."""
    from pyspark.sql import functions as F

    res: dict = {}
    lo, hi = start - timedelta(days=ff.LATE_DAYS), end + timedelta(days=1)
    ev = spark.read.parquet(events_path).select(*ff.SILVER_COLUMNS)
    ev = ev.where((F.col("event_ts") >= F.lit(lo)) & (F.col("event_ts") < F.lit(hi)))
    far = {}
    if hasattr(module, "split_window"):  # only the last day cached, the touches before read narrow
        ev, far["far"] = module.split_window(ev, start)
    ev = ev.cache()
    res["silver_scan_cache"] = timed(spark, ev.count)
    matches = spark.read.parquet(matches_path)
    inst = module.install_features(spark, ev, matches, start, end, privacy_key=DEFAULT_KEY, **far)
    table = []
    res["features_to_arrow"] = timed(spark, lambda: table.append(inst.toArrow()) or table[0].num_rows)
    res["rows_per_s"] = round(res["features_to_arrow"]["rows"] / max(res["features_to_arrow"]["wall_s"], 1e-9))
    ev.unpersist()
    return res, table[0].to_pandas()


@contextlib.contextmanager
def clickhouse(home: Path):
    """A client of a local ClickHouse server of its own in ``home`` (stopped after)."""
    import clickhouse_connect

    from unmogrowp.clickhouse import manager
    from unmogrowp.net import free_port

    state, _ = manager.start(home / "clickhouse", free_port())
    SERVERS.append(state.pid)
    try:
        yield clickhouse_connect.get_client(host=state.host, port=state.port)
    finally:
        manager.stop(home / "clickhouse")


def load_clickhouse(client, events: pa.Table, matches: pa.Table) -> None:
    """``events`` into raw.events and the matches' (install_date, winning_touch_id) into
    marts.fct_install_matches: what the pipeline's far read and daily clicks query."""
    from unmogrowp.ingest import warehouse

    warehouse.ensure_tables(client)
    client.insert_arrow("raw.events", events)
    installs = events.filter(pc.equal(events["event_type"], "install"))
    dates = dict(zip(installs["event_id"].to_pylist(), installs["event_ts"].to_pylist(), strict=True))
    client.command("CREATE DATABASE IF NOT EXISTS marts")
    client.command("CREATE TABLE IF NOT EXISTS marts.fct_install_matches (install_date Date, "
                   "winning_touch_id Nullable(String)) ENGINE = MergeTree ORDER BY install_date")
    client.insert_arrow("marts.fct_install_matches", pa.table({
        "install_date": pa.array([dates[i].date() for i in matches["install_id"].to_pylist()], pa.date32()),
        "winning_touch_id": matches["winning_touch_id"]}))


def run_pipeline_read(spark, client, events_path: str, matches_path: str, start: datetime, end: datetime):
    """As ``run``, the pipeline's way (``fraud.pipeline.build_features``): a day of silver before the
    window cached, the older touches looked up in ClickHouse; the far read is timed with the scan."""
    from pyspark.sql import functions as F

    from unmogrowp.fraud import pipeline

    res: dict = {}
    lo, hi = start - timedelta(days=ff.NEAR_DAYS), end + timedelta(days=1)
    ev = spark.read.parquet(events_path).select(*ff.SILVER_COLUMNS)
    ev = ev.where((F.col("event_ts") >= F.lit(lo)) & (F.col("event_ts") < F.lit(hi))).cache()
    day, last = start.date(), (end - timedelta(microseconds=1)).date()
    far = []

    def scan() -> int:
        far.append(pipeline.read_far_touches(spark, client, day, last).cache())
        return ev.count() + far[0].count()

    res["silver_scan_cache"] = timed(spark, scan)
    matches = spark.read.parquet(matches_path)
    inst = ff.install_features(spark, ev, matches, start, end, privacy_key=DEFAULT_KEY, far=far[0])
    table = []
    res["features_to_arrow"] = timed(spark, lambda: table.append(inst.toArrow()) or table[0].num_rows)
    res["far_rows"] = far[0].count()
    ev.unpersist()
    far[0].unpersist()
    return res, table[0].to_pandas()


def mismatches(a, b) -> dict:
    """Cells that differ between two feature frames (rows matched by install_id), per column."""
    a, b = (x.sort_values("install_id").reset_index(drop=True) for x in (a, b))
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return {"shape": 1}
    return {c: int((~((a[c] == b[c]) | (a[c].isna() & b[c].isna()))).sum()) for c in a.columns}


def load_module(path: str):
    """A features module from a file (the code before a change, for side-by-side figures)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("baseline_features", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installs-per-hour", type=int, default=2000)
    parser.add_argument("--history-days", type=int, default=2, help="days of events before the measured day")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="another features.py (e.g. `git show HEAD:src/unmogrowp/fraud/"
                                               "features.py > /tmp/old.py`): timed alternately, every cell compared")
    parser.add_argument("--spans", default="hour,day")
    parser.add_argument("--clickhouse", action="store_true",
                        help="also time the pipeline's read (a day of silver, older touches from a local "
                             "ClickHouse server started here), every cell compared with the whole window")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    from unmogrowp.config import load_settings
    from unmogrowp.spark import get_spark

    spark = get_spark(load_settings().spark)
    results: dict = {"installs_per_hour": args.installs_per_hour, "history_days": args.history_days}
    with tempfile.TemporaryDirectory(prefix="fraud_bench_") as tmp, contextlib.ExitStack() as stack:
        t0 = time.perf_counter()
        first = DAY - timedelta(days=args.history_days)
        events, matches = events_table(args.installs_per_hour, first, 24 * (args.history_days + 2))
        pq.write_table(events, f"{tmp}/events.parquet", row_group_size=1 << 20)
        pq.write_table(matches, f"{tmp}/matches.parquet")
        results["events"] = events.num_rows
        results["generate_s"] = round(time.perf_counter() - t0, 1)
        print(f"generated {events.num_rows:,} events, {matches.num_rows:,} installs in {results['generate_s']} s")
        modules = {"current": ff, **({"baseline": load_module(args.baseline)} if args.baseline else {})}
        if args.clickhouse:
            server = stack.enter_context(clickhouse(Path(tmp)))
            t0 = time.perf_counter()
            load_clickhouse(server, events, matches)
            results["clickhouse_load_s"] = round(time.perf_counter() - t0, 1)
            modules["pipeline"] = server
        spans = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
        for name in args.spans.split(","):
            runs: dict = {m: [] for m in modules}
            frames = {}
            for _ in range(args.repeats):
                for label, module in modules.items():  # alternately: the same load for both
                    how = run_pipeline_read if label == "pipeline" else run
                    res, frames[label] = how(spark, module, f"{tmp}/events.parquet", f"{tmp}/matches.parquet", DAY,
                                             DAY + spans[name])
                    runs[label].append(res)
            out = {}
            for label, rs in runs.items():
                walls = [r["features_to_arrow"]["wall_s"] for r in rs]
                cpus = [r["features_to_arrow"]["cpu_s"] for r in rs]
                med = statistics.median(walls)
                scan = [r["silver_scan_cache"]["wall_s"] + r["features_to_arrow"]["wall_s"] for r in rs]
                scan_cpu = [r["silver_scan_cache"]["cpu_s"] + r["features_to_arrow"]["cpu_s"] for r in rs]
                out[label] = {"installs": rs[0]["features_to_arrow"]["rows"], "wall_s": walls, "wall_s_median": med,
                              "cpu_s_median": statistics.median(cpus),
                              "with_scan_wall_s_median": statistics.median(scan),
                              "with_scan_cpu_s_median": statistics.median(scan_cpu),
                              "rows_per_s": round(rs[0]["features_to_arrow"]["rows"] / max(med, 1e-9)),
                              "silver_scan_cache_wall_s_median": statistics.median(
                                  r["silver_scan_cache"]["wall_s"] for r in rs)}
            if args.clickhouse:
                out["pipeline"]["far_rows"] = runs["pipeline"][0]["far_rows"]
                out["pipeline_mismatched_cells"] = sum(mismatches(frames["pipeline"], frames["current"]).values())
                out["pipeline_speedup_with_scan_wall"] = round(out["current"]["with_scan_wall_s_median"]
                                                               / out["pipeline"]["with_scan_wall_s_median"], 2)
                out["pipeline_speedup_with_scan_cpu"] = round(out["current"]["with_scan_cpu_s_median"]
                                                              / max(out["pipeline"]["with_scan_cpu_s_median"], 1e-9), 2)
            if args.baseline:
                cells = mismatches(frames["baseline"], frames["current"])
                out["mismatched_cells"] = sum(cells.values())
                out["compared_cells"] = int(frames["current"].size)
                out["speedup_wall"] = round(out["baseline"]["wall_s_median"] / out["current"]["wall_s_median"], 2)
                out["speedup_with_scan_wall"] = round(out["baseline"]["with_scan_wall_s_median"]
                                                      / out["current"]["with_scan_wall_s_median"], 2)
                out["speedup_with_scan_cpu"] = round(out["baseline"]["with_scan_cpu_s_median"]
                                                     / max(out["current"]["with_scan_cpu_s_median"], 1e-9), 2)
                out["speedup_cpu"] = round(out["baseline"]["cpu_s_median"] / max(out["current"]["cpu_s_median"],
                                                                                  1e-9), 2)
            results[name] = out
            print(name, json.dumps(out), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
