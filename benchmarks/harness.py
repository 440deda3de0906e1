"""`make bench`: every pipeline stage at 1×, 3× and 10× data, peers on the same data, machine limits.

Run: `.venv/bin/python -m benchmarks.harness [--scales 1,3,10] [--base 1000] [--quick] [--out FILE]`.
Per scale the generator writes ``apps`` apps × ``days`` days at ``base × scale`` installs a day into a
scratch directory; a local ClickHouse server of its own (chDB) serves that scale. Each stage runs
through the functions the Dagster assets call (ingest, dbt, Spark, MLflow, Feast), in pipeline order.
Per stage: rows, rows/s, wall and CPU seconds (this process, its children, the ClickHouse server),
peak RSS sampled from the OS (the processes that did the work, the ClickHouse server among them). Growth:
per-row cost at n× over 1× (1.0 = linear). Peers run on the data of each scale, timed side by side.
Prints a table and writes everything as JSON (default `.lakehouse/bench/bench-<UTC time>.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import clickhouse_connect
import numpy as np
import psutil

from assets.dbt_project import run_dbt_local
from benchmarks import peers
from unmogrowp import attribution_config, redis_local
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import cost, events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.net import free_port
from unmogrowp.windows import chunks

REPO = Path(__file__).resolve().parents[1]
START = date(2026, 9, 1)
SEED = 42
WINDOW_FORMAT = "%Y-%m-%d %H:%M:%S"
FRAUD_VIEWS = ["device_fraud_features", "site_fraud_features"]
CAMPAIGN_VIEWS = ["campaign_daily_kpis"]
# the stages compared across scales (auxiliary steps are timed and listed too)
MAIN_STAGES = ("generate", "bronze", "silver", "clickhouse_load", "fct_installs_bulk", "fct_installs_hourly",
               "multi_touch", "cohorts_kpis", "fraud_features", "training", "scoring", "feast_sqlite",
               "feast_redis")


# -- measurement --------------------------------------------------------------------------------
def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class Sampler(threading.Thread):
    """Peak RSS per process every 50 ms: this one, each of its children, the ClickHouse server."""

    def __init__(self, server_pid: int | None):
        super().__init__(daemon=True)
        self.server_pid, self.me = server_pid, psutil.Process()
        self.peaks: dict[int, int] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        procs = [self.me, *self.me.children(recursive=True)]
        if self.server_pid and self.server_pid not in {p.pid for p in procs}:
            with suppress(psutil.Error):
                procs.append(psutil.Process(self.server_pid))
        for proc in procs:
            with suppress(psutil.Error):
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), proc.memory_info().rss)

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.sample()


def _live_children_cpu(server_pid: int | None) -> dict[int, float]:
    out = {}
    for child in psutil.Process().children(recursive=True):
        if child.pid != server_pid:
            with suppress(psutil.Error):
                out[child.pid] = _cpu(child)
    return out


@dataclass
class Stage:
    name: str
    rows: int = 0
    extra: dict = field(default_factory=dict)


@contextmanager
def measure(records: list, name: str, server_pid: int | None, main: bool = True):
    """Time the block as stage ``name``; the block sets ``stage.rows`` (and ``stage.extra``)."""
    stage = Stage(name)
    sampler = Sampler(server_pid)
    sampler.sample()
    sampler.start()
    me = psutil.Process()
    server = psutil.Process(server_pid) if server_pid else None
    cpu0, reaped0, live0 = _cpu(me), os.times(), _live_children_cpu(server_pid)
    server0 = _cpu(server) if server else 0.0
    t0 = time.perf_counter()
    try:
        yield stage
    finally:
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
        sampler.sample()
        reaped1 = os.times()
        live1 = _live_children_cpu(server_pid)
        children = (reaped1.children_user + reaped1.children_system - reaped0.children_user - reaped0.children_system
                    + sum(v - live0.get(pid, 0.0) for pid, v in live1.items()))
        process = _cpu(me) - cpu0
        server_cpu = (_cpu(server) - server0) if server else 0.0
        total = process + children + server_cpu
        # the processes that did the work: this one, the children started meanwhile (dbt), and a
        # running one (the Spark JVM, redis) or the server only if it did >= 5 % of the CPU and more
        # than idling (an idle JVM's heartbeats take about 1 % of a core)
        floor = 0.05 * total + 0.05 * wall
        busy = {pid for pid, v in live1.items() if v - live0.get(pid, 0.0) >= floor}
        if server_cpu >= floor:
            busy.add(server_pid)
        workers = {me.pid} | busy | (set(sampler.peaks) - set(live0) - {server_pid})
        records.append({
            "stage": name, "main": main, "rows": stage.rows, "wall_s": round(wall, 3),
            "rows_per_s": round(stage.rows / wall) if wall > 0 else None,
            "cpu_s": round(total, 3), "cpu_process_s": round(process, 3),
            "cpu_children_s": round(children, 3), "cpu_clickhouse_s": round(server_cpu, 3),
            "rss_peak_mb": round(sum(v for pid, v in sampler.peaks.items() if pid in workers) / 2**20),
            "rss_process_peak_mb": round(sampler.peaks.get(me.pid, 0) / 2**20),
            "clickhouse_rss_peak_mb": round(sampler.peaks.get(server_pid, 0) / 2**20),
            "rss_all_children_peak_mb": round(sum(v for pid, v in sampler.peaks.items()
                                                  if pid not in (me.pid, server_pid)) / 2**20),
            **stage.extra})
        print(f"  {name:28} {stage.rows:>11,} rows {wall:8.2f} s", flush=True)


# -- one scale ------------------------------------------------------------------------------------
def dbt(port: int, home: Path, *args: str, stage: Stage | None = None, vars_key: str = "default") -> None:
    """The dbt CLI against this scale's server, with target and log paths of its own (the repository's
    `dbt_project/target` is left to the other users of the checkout), one per set of vars so that
    dbt's partial parsing survives. ``stage`` gets the models' own seconds from run_results.json."""
    target = home / "dbt" / vars_key
    result = run_dbt_local(port, *args, "--target-path", str(target / "target"), "--log-path", str(target / "logs"))
    if result.returncode:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    if stage is not None:
        run = json.loads((target / "target" / "run_results.json").read_text())
        seconds = sum(r["execution_time"] for r in run["results"])
        stage.extra["dbt_models_s"] = round(stage.extra.get("dbt_models_s", 0.0) + seconds, 3)


def window(start: datetime, end: datetime) -> str:
    return json.dumps({"unmogrowp__window_start": start.strftime(WINDOW_FORMAT),
                       "unmogrowp__window_end": end.strftime(WINDOW_FORMAT)})


def run_scale(factor: int, args, work: Path, port: int, spark, redis_url: str) -> dict:
    """Every stage on ``base × factor`` installs a day; returns the records, the peers and the limits."""
    from ml import feature_store as fstore
    from ml import fraud_model as fm
    from ml import tracking
    from unmogrowp.fraud import pipeline
    from unmogrowp.fraud.rules import RuleSet
    from unmogrowp.mta import build_algorithmic_credits

    home = work / f"x{factor}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    lake_uri = (home / "lake").as_uri()
    settings = load_settings({**os.environ, "LAKEHOUSE_ENV": "local", "UNMOGROWP_HOME": str(home),
                              "UNMOGROWP_CLICKHOUSE_PORT": str(port), "UNMOGROWP_LAKE_URI": lake_uri,
                              "UNMOGROWP_FRAUD_LABELS": str(home / "gen" / "answers" / "fraud_labels.parquet")})
    state, _ = manager.start(home / "clickhouse", port)
    pid = state.pid
    client = clickhouse_connect.get_client(port=port, send_receive_timeout=3600)
    records: list[dict] = []
    first, last = START, START + timedelta(days=args.days - 1)
    sim = SimConfig(installs_per_day=args.base * factor, activity_days_after=args.activity_days)
    print(f"\n== {factor}×: {args.apps} app(s) × {args.days} days × {args.base * factor:,} installs/day "
          f"(ClickHouse pid {pid}, port {port})", flush=True)
    try:
        with measure(records, "generate", pid) as st:
            st.rows = generate(str(home / "gen"), args.apps, first, last, SEED, sim, progress=False).events
        store, lake = LandingStore(str(home / "gen" / "landing")), Lake(lake_uri)
        t_start, t_end = events.landing_range(store)
        hours = list(chunks(t_start, t_end))
        with measure(records, "bronze", pid) as st:
            listing = events.list_events(store)
            st.rows = sum(events.load_bronze(lake, store, events.event_files(store, s, e, listing), s, e,
                                             privacy_key=settings.privacy_key).lines for s, e in hours)
        with measure(records, "silver", pid) as st:
            results = [events.build_silver(lake, s, e) for s, e in hours]
            st.rows, st.extra["landed"] = sum(r.loaded for r in results), sum(r.landed for r in results)
        with measure(records, "clickhouse_load", pid) as st:
            st.rows = sum(warehouse.load_events(client, lake, s, e) for s, e in hours)
        d_start, d_end = t_start.date(), (t_end - timedelta(microseconds=1)).date()
        with measure(records, "cost (aux)", pid, main=False) as st:
            cost.load_cost(lake, store, d_start, d_end)
            st.rows = warehouse.load_cost(client, lake, d_start, d_end)
        with measure(records, "dbt setup (aux)", pid, main=False) as st:
            for database in ("raw", "analytics"):
                client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            attribution_config.load_user_config(client, home)
            dbt(port, home, "build", "--select", "resource_type:seed fqn:staging", "--indirect-selection", "buildable")
        installs = client.command("SELECT count() FROM staging.stg_sdk__installs")
        touches = client.command("SELECT count() FROM raw.events WHERE event_type IN ('click', 'impression')")
        with measure(records, "matches (aux)", pid, main=False) as st:
            dbt(port, home, "run", "--select", "fqn:marts.matching", stage=st)
            st.rows = installs
        with measure(records, "fraud_features", pid) as st:
            st.rows = pipeline.build_features(spark, lake, client, d_start, d_end,
                                              privacy_key=settings.privacy_key)["installs"]
        with measure(records, "decisions (aux)", pid, main=False) as st:
            st.extra["decisions"] = pipeline.build_decisions(spark, lake, client, d_start, d_end, RuleSet()).num_rows
            st.rows = installs
        bulk = []
        for i in range(args.repeats):
            with measure(bulk, "fct_installs_bulk", pid) as st:
                dbt(port, home, "run", "--select", "fqn:marts.attribution", stage=st)
                st.rows = client.command("SELECT count() FROM marts.fct_installs")
                st.extra.update(touches=touches, repeat=i)
        records.append(_median(bulk))
        hour = client.query("SELECT toStartOfHour(install_ts) AS h, count() FROM marts.fct_installs "
                            "GROUP BY h ORDER BY count() DESC, h LIMIT 1").result_rows[0][0].replace(tzinfo=UTC)
        hourly, hour_vars = [], window(hour, hour + timedelta(hours=1))
        dbt(port, home, "parse", "--vars", hour_vars, vars_key="hourly")  # dbt parses again when vars change
        for i in range(args.repeats):
            with measure(hourly, "fct_installs_hourly", pid) as st:
                dbt(port, home, "run", "--select", "fqn:marts.attribution", "--vars", hour_vars,
                    stage=st, vars_key="hourly")
                st.rows = client.command("SELECT count() FROM marts.fct_installs WHERE install_ts >= {h:DateTime64(3)} "
                                         "AND install_ts < {h:DateTime64(3)} + INTERVAL 1 HOUR", parameters={"h": hour})
                st.extra.update(hour=hour.isoformat(), touches_of_history=touches, repeat=i)
        records.append(_median(hourly))
        with measure(records, "cohorts_kpis", pid) as st:
            dbt(port, home, "run", "--select", "fqn:marts.cohorts", stage=st)
            st.rows = installs
            st.extra["kpi_rows"] = client.command("SELECT count() FROM marts.fct_cohort_kpis")
        with measure(records, "multi_touch", pid) as st:
            dbt(port, home, "run", "--select", "fqn:marts.mta", stage=st)
            result = build_algorithmic_credits(client, d_start, d_end)
            st.rows = client.command("SELECT (SELECT count() FROM marts.mta_conversion_paths) + "
                                     "(SELECT count() FROM marts.mta_nonconverting_paths)")
            st.extra.update(credit_rows=result["rows"], unit="paths")
        with measure(records, "other marts (aux)", pid, main=False) as st:
            dbt(port, home, "run", "--select", "fqn:marts.fraud fqn:marts.retargeting fs_campaign_daily", stage=st)
            st.rows = client.command("SELECT count() FROM marts.fs_campaign_daily")
        tracking.configure(home)
        target = fstore.StoreTarget.of(settings)
        with measure(records, "feast apply (aux)", pid, main=False) as st:
            store_ = fstore.get_store(target)
            st.extra.update(fstore.apply(store_, target))
        with measure(records, "training", pid) as st:
            labels = fm.read_labels(settings.fraud_labels_path)
            features = fstore.training_frame(store_, fstore.fraud_spine(lake), fm.FEATURE_SERVICE)
            st.rows = len(features)
            reason = fm.cannot_train(fm.label_installs(features, labels))
            if reason:
                st.extra["skipped"] = reason
            else:
                trained = fm.train(features, labels, {"bench": factor}, fm.TrainParams())
                st.extra.update(roc_auc=trained["metrics"]["roc_auc"])
        with measure(records, "scoring", pid) as st:
            scored = fm.score_dates(lake, client, d_start, d_end)
            st.rows = scored.installs
            st.extra.update(model_version=scored.model_version, model_installs_per_s=scored.installs_per_s)
        f_start, f_end = datetime.combine(d_start, datetime.min.time(), UTC), datetime.combine(
            d_end + timedelta(days=2), datetime.min.time(), UTC)
        for online, url in (("sqlite", ""), ("redis", redis_url)):
            target = fstore.StoreTarget.of(settings, online=online, redis_url=url)
            store_ = fstore.get_store(target)
            if online == "redis":
                fstore.apply(store_, target)
            with measure(records, f"feast_{online}", pid) as st:
                result = fstore.materialize(store_, FRAUD_VIEWS + CAMPAIGN_VIEWS, f_start, f_end)
                st.rows = sum(result["rows"].values())
                st.extra.update(views=result["rows"], feast_reported_rows_per_s=result["rows_per_s"])
        return {"factor": factor, "installs_per_day": args.base * factor, "installs": installs, "touches": touches,
                "events": records[0]["rows"], "stages": records,
                "peers": run_peers(client, spark, home, records, args),
                "limits": machine_scan(client)}
    finally:
        client.close()
        manager.stop(home / "clickhouse")
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def _median(runs: list[dict]) -> dict:
    """The record of the median wall time, with every repeat's wall time."""
    best = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {**best, "wall_s_repeats": [r["wall_s"] for r in runs]}


def run_peers(client, spark, home: Path, records: list[dict], args) -> dict:
    """Last touch in ClickHouse, DuckDB, PySpark and pandas on the same installs and clicks, and
    Markov/Shapley against ChannelAttribution and DP6, as seconds and ratios."""
    paths = peers.export(client, home / "peers")
    bulk = next(r for r in records if r["stage"] == "fct_installs_bulk")
    out: dict = {"installs": client.command("SELECT count() FROM staging.stg_sdk__installs"),
                 "clicks": client.command("SELECT count() FROM staging.stg_sdk__touches WHERE touch_type = 'click'"),
                 "fct_installs_bulk_s": bulk["wall_s"], "last_touch": {}}
    winners = {}
    for name, fn in peers.LAST_TOUCH.items():
        seconds, winners[name] = peers.timed(fn, spark if name == "pyspark" else client, paths, repeats=args.repeats)
        out["last_touch"][name] = {"s": round(seconds, 3), "installs_per_s": round(out["installs"] / seconds)}
    base = out["last_touch"]["clickhouse"]["s"]
    for name, figures in out["last_touch"].items():
        figures["over_clickhouse_same_rule"] = round(figures["s"] / base, 2)
        figures["over_fct_installs_full_rules"] = round(figures["s"] / bulk["wall_s"], 3)
        figures["same_winner_as_clickhouse"] = round(peers.agreement(winners[name], winners["clickhouse"]), 6)
    out["last_touch_winners"] = len(winners["clickhouse"])
    out["multi_touch"] = peers.mta_peers(peers.mta_paths(client, args.mta_paths), repeats=1)
    return out


# -- machine limits -----------------------------------------------------------------------------
def machine_scan(client, repeats: int = 3) -> dict:
    """Rows/s of a hash over every touch key (median of ``repeats``): raw.touch_keys when it exists,
    else the touch ids of raw.events' clicks and impressions."""
    if client.command("SELECT count() FROM system.tables WHERE database = 'raw' AND name = 'touch_keys'"):
        table = "raw.touch_keys"  # the integer match keys attribution reads
        sql = "SELECT count(), sum(cityHash64(app_id, match_key, touch_ts)) FROM raw.touch_keys"
    else:
        table = "raw.events"
        sql = ("SELECT count(), sum(cityHash64(touch_id)) FROM raw.events WHERE event_type IN ('click', 'impression')")
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = client.query(sql).result_rows[0][0]
        seconds.append(time.perf_counter() - t0)
    med = sorted(seconds)[len(seconds) // 2]
    # the engine's own rate on 50M generated rows (a small table's scan is mostly the round trip)
    n, hashed = 50_000_000, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        client.query(f"SELECT sum(cityHash64(number)) FROM numbers({n})")
        hashed.append(time.perf_counter() - t0)
    engine = sorted(hashed)[len(hashed) // 2]
    return {"scan_table": table, "scan_rows": rows, "scan_s": round(med, 4), "scan_rows_per_s": round(rows / med),
            "engine_hash_rows": n, "engine_hash_s": round(engine, 3), "engine_hash_rows_per_s": round(n / engine)}


def memory_bandwidth(mb: int = 512, repeats: int = 5) -> dict:
    """GB/s of a numpy copy of a large array (bytes read + written), the best and the median of ``repeats``."""
    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        rates.append(2 * src.nbytes / (time.perf_counter() - t0) / 1e9)
    return {"copy_mb": mb, "copy_gb_per_s_best": round(max(rates), 2),
            "copy_gb_per_s_median": round(sorted(rates)[len(rates) // 2], 2)}


def machine() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("chdb", "clickhouse-connect", "dbt-core", "dbt-clickhouse", "deltalake", "pyspark", "delta-spark",
                    "duckdb", "pandas", "pyarrow", "feast", "mlflow", "lightgbm", "dagster", "ChannelAttribution",
                    "marketing-attribution-models", "redis"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {"cores_logical": psutil.cpu_count(), "cores_physical": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": platform.processor() or platform.machine(),
            "os": platform.platform(), "python": sys.version.split()[0], "versions": versions,
            "git_commit": git, "git_dirty": bool(dirty), "load_average_start": os.getloadavg()}


# -- report -------------------------------------------------------------------------------------
def growth(scales: list[dict]) -> dict:
    """Per main stage and scale n: data ratio (rows n× / 1×), wall ratio, and per-row cost ratio
    (wall ratio / data ratio; 1.0 = linear, < 1 = fixed costs amortized); the same per ×3 step."""
    base = {r["stage"]: r for r in scales[0]["stages"]}
    out: dict = {}
    for scale in scales[1:]:
        for r in scale["stages"]:
            b = base.get(r["stage"])
            if not r["main"] or not b or not b["rows"] or not r["rows"] or not b["wall_s"]:
                continue
            data, wall, cpu = r["rows"] / b["rows"], r["wall_s"] / b["wall_s"], r["cpu_s"] / max(b["cpu_s"], 1e-9)
            step = np.log(3) / np.log(data) if data > 1 else float("nan")  # the per-×3 exponent
            out.setdefault(r["stage"], {})[f"{scale['factor']}x"] = {
                "data_ratio": round(data, 2), "wall_ratio": round(wall, 2), "cpu_ratio": round(cpu, 2),
                "per_row_cost_ratio": round(wall / data, 3), "per_row_cpu_ratio": round(cpu / data, 3),
                "per_row_cost_ratio_per_x3": round((wall / data) ** step, 3) if data > 1 else None}
    return out


def print_report(report: dict) -> None:
    scales = report["scales"]
    print("\n" + "=" * 118)
    print(f"{'stage':30}" + "".join(f"{str(s['factor']) + '×':>28}" for s in scales))
    print(f"{'':30}" + "".join(f"{'rows/s   wall   CPU   RSS':>28}" for _ in scales))
    names = [r["stage"] for r in scales[0]["stages"]]
    for name in names:
        cells = []
        for s in scales:
            r = next((x for x in s["stages"] if x["stage"] == name), None)
            if r is None:
                cells.append(f"{'-':>28}")
                continue
            rss = r["rss_peak_mb"]
            cells.append(f"{_short(r['rows_per_s']):>7} {r['wall_s']:6.1f} {r['cpu_s']:5.0f} {rss / 1024:4.1f}G")
        print(f"{name:30}" + "".join(f"{c:>28}" for c in cells))
    print("(rows/s; wall s; CPU s = this process + its children + the ClickHouse server; RSS = sum of the peak "
          "RSS of the processes that did the work: this one, children started in the stage, and the Spark JVM, "
          "redis or the ClickHouse server where they did >= 5 % of the CPU beyond idling)")
    dbt_rows = [(s["factor"], r) for s in scales for r in s["stages"] if "dbt_models_s" in r]
    if dbt_rows:
        print("\ndbt stages, the models' own seconds (run_results.json) within the dbt CLI's wall time:")
        for factor, r in dbt_rows:
            rate = _short(r["rows"] / r["dbt_models_s"]) if r["dbt_models_s"] else "-"
            print(f"  {factor:>3}× {r['stage']:22} models {r['dbt_models_s']:7.2f} s of {r['wall_s']:7.2f} s "
                  f"({rate} rows/s in the models)")
    if report["growth"]:
        print("\nGrowth, per-row cost n× / 1× (1.00 = linear; target ≤ 1.2 per ×3):")
        for stage, by in report["growth"].items():
            print(f"  {stage:28} " + "   ".join(
                f"{k}: data ×{v['data_ratio']:.2f} wall ×{v['wall_ratio']:.2f} per-row {v['per_row_cost_ratio']:.2f}"
                f" (per ×3 {v['per_row_cost_ratio_per_x3']})" for k, v in by.items()))
    print("\nPeers (same data, same run):")
    for s in scales:
        p = s["peers"]
        lt = "  ".join(f"{k} {v['s']:.2f} s (×{v['over_clickhouse_same_rule']:.1f}, same winner "
                       f"{v['same_winner_as_clickhouse']:.2%})" for k, v in p["last_touch"].items())
        print(f"  {s['factor']}× last touch on {p['installs']:,} installs / {p['clicks']:,} clicks "
              f"(fct_installs, full rules: {p['fct_installs_bulk_s']:.2f} s): {lt}")
        m = p["multi_touch"]
        if m.get("conversions"):
            ca, dp = "channelattribution_markov", "dp6"
            print(f"  {s['factor']}× multi-touch on {m['paths']:,} paths: ours Markov {m['ours_markov_s']:.2f} s, "
                  f"Shapley {m['ours_shapley_s']:.2f} s; ChannelAttribution Markov ×{m[f'{ca}_over_ours']}"
                  f" (max Δ {m[f'{ca}_max_abs_diff_pct']} %), DP6 Markov ×{m[f'{dp}_markov_over_ours']}"
                  f" (Δ {m[f'{dp}_markov_max_abs_diff_pct']} %), DP6 Shapley ×{m[f'{dp}_shapley_over_ours']}"
                  f" (Δ {m[f'{dp}_shapley_max_abs_diff_pct']} %)")
    bw = report["memory_bandwidth"]
    print(f"\nMachine: {report['machine']['cores_logical']} cores, {report['machine']['ram_gb']} GB; memory copy "
          f"{bw['copy_gb_per_s_best']} GB/s (median {bw['copy_gb_per_s_median']}); touch-key scan: "
          + ", ".join(f"{s['factor']}× {s['limits']['scan_rows']:,} rows of {s['limits']['scan_table']} in "
                      f"{s['limits']['scan_s']:.3f} s = {_short(s['limits']['scan_rows_per_s'])}/s" for s in scales)
          + f"; engine hash of generated rows {_short(scales[-1]['limits']['engine_hash_rows_per_s'])}/s")


def _short(n) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else f"{n:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness", description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,3,10", help="data multiples of --base (default 1,3,10)")
    parser.add_argument("--base", type=int, default=1000, help="installs a day per app at 1× (default 1000)")
    parser.add_argument("--apps", type=int, default=1)
    parser.add_argument("--days", type=int, default=3, help="install days (default 3)")
    parser.add_argument("--activity-days", type=int, default=2, help="days of app use after the last install day")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of fct_installs and the peers (median)")
    parser.add_argument("--mta-paths", type=int, default=20_000, help="paths given to the multi-touch peers")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1× only, 300 installs a day, 2 days")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the per-scale ClickHouse servers, one after the other (default: a free one)")
    parser.add_argument("--work", help="scratch directory (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep each scale's data")
    parser.add_argument("--out", help="JSON report (default .lakehouse/bench/bench-<UTC time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scales, args.base, args.days, args.activity_days, args.repeats = "1", 300, 2, 1, 1
    factors = sorted({int(x) for x in args.scales.split(",")})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else REPO / ".lakehouse" / "bench" / f"bench-{stamp}.json"
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="unmogrowp-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    from unmogrowp.spark import get_spark

    t0 = time.perf_counter()
    spark = get_spark(load_settings().spark)
    spark_start = time.perf_counter() - t0
    report = {"started": stamp, "args": vars(args), "machine": machine(), "spark_start_s": round(spark_start, 1),
              "memory_bandwidth": memory_bandwidth(), "scales": []}
    redis, redis_url = redis_local.start(work / "redis")
    # one port for every scale's server: Feast's ClickHouse offline store keeps its first client
    port = args.port or free_port()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for factor in factors:
            report["scales"].append(run_scale(factor, args, work, port, spark, redis_url))
            out.write_text(json.dumps(report, indent=2, default=str))  # what is done so far
    finally:
        redis_local.stop(redis)
        if not args.work and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["growth"] = growth(report["scales"])
    report["machine"]["load_average_end"] = os.getloadavg()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print_report(report)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\n{report['seconds']:.0f} s in all; JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
