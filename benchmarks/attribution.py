"""fct_installs (and fct_install_matches, the fraud features' input) in bulk and for one hourly window
against growing touch history, against a pandas version of the same rules.

Run: `.venv/bin/python benchmarks/attribution.py` (add `--days 2` for a quick run; `--days 31` gives
the hourly window 1, 7 and 30 days of history). Traffic comes from the project's generator (ad
traffic and installs only, no in-app activity), goes through the normal ingestion (landing ->
bronze -> silver -> raw.events and the key tables) into a local ClickHouse server in a temporary home.
Reported per shape (bulk = every install; hour_<d>d = the hour at noon after d days of history):
median wall and server CPU seconds (psutil, the server process) of the compiled model SQL, installs/s;
the bulk `dbt run`, the three-joins floor and the pandas ratio. `--baseline DIR` also compiles the dbt
project in DIR (e.g. an older checkout's dbt_project) for the same windows, times it side by side and
checks that both give the same rows in every column (the config hash aside).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import clickhouse_connect
import numpy as np
import pandas as pd
import psutil

from assets.dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR, run_dbt_local
from unmogrowp import attribution_config
from unmogrowp.clickhouse import manager
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events, match_keys, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.windows import chunks

MS_H = 3_600_000


def dbt(port: int, *args: str) -> subprocess.CompletedProcess:
    result = run_dbt_local(port, *args)
    if result.returncode:
        raise RuntimeError(result.stdout[-3000:])
    return result


def pandas_attribution(installs: pd.DataFrame, touches: pd.DataFrame, windows_h: dict) -> pd.Series:
    """The SPEC §2 rules fct_installs applies (default vars and seeds), in pandas. Returns the
    winning touch_id per install_id (NaN = no touch)."""
    inst = installs.sort_values(["device_key", "install_ts", "install_id"])
    prev = inst.groupby("device_key")["install_ts"].shift()
    inst["is_reinstall"] = (inst["install_ts"] - prev) <= pd.Timedelta(days=90)
    cols = ["install_id", "app_id", "install_ts", "install_begin_ts", "referrer_click_ts", "is_reinstall",
            "user_agent", "os_version"]
    by_click = inst.dropna(subset=["referrer_click_id"]).merge(
        touches[touches.touch_type == "click"], left_on=["app_id", "referrer_click_id"],
        right_on=["app_id", "click_id"], suffixes=("", "_t"))[cols + ["touch_id", "touch_type", "touch_ts",
                                                                      "media_source", "is_retargeting"]]
    by_click["method"], by_click["score"] = "referrer", 1.0
    by_device = inst.dropna(subset=["device_id"]).merge(touches.dropna(subset=["device_id"]),
                                                        on=["app_id", "device_id"],
                                                        suffixes=("", "_t"))
    by_device = by_device[cols + ["touch_id", "touch_type", "touch_ts", "media_source", "is_retargeting"]].copy()
    by_device["method"], by_device["score"] = "device_id", 1.0
    by_ip = inst.dropna(subset=["ip"]).merge(touches[touches.device_id.isna()].dropna(subset=["ip"]),
                                             on=["app_id", "ip"], suffixes=("", "_t"))
    age_h = (by_ip["install_ts"] - by_ip["touch_ts"]).dt.total_seconds() / 3600
    by_ip["score"] = (0.5 * (by_ip["user_agent"] == by_ip["user_agent_t"])
                      + 0.3 * (by_ip["os_version"] == by_ip["os_version_t"])
                      + 0.2 * np.maximum(0.0, 1.0 - age_h / windows_h["click_probabilistic"]))
    by_ip = by_ip[by_ip["score"] >= 0.6][cols + ["touch_id", "touch_type", "touch_ts", "media_source",
                                                 "is_retargeting", "score"]].copy()
    by_ip["method"] = "probabilistic"
    c = pd.concat([by_click, by_device, by_ip], ignore_index=True)
    age_ms = (c["install_ts"] - c["touch_ts"]) // pd.Timedelta(milliseconds=1)
    click, det = c["touch_type"] == "click", c["method"] != "probabilistic"
    window_h = np.select([click & det, click, det], [windows_h["click"], windows_h["click_probabilistic"],
                                                     windows_h["impression"]], windows_h["impression_probabilistic"])
    window_h = np.where(det & ~click & (c["media_source"] == "socialx"), 12, window_h)  # the seeded override
    c = c[(window_h > 0) & (age_ms >= 0) & (age_ms <= window_h * MS_H)]
    c = c[c["is_retargeting"].astype(bool) == c["is_reinstall"].astype(bool)]
    injected = (c["touch_type"] == "click") & c["install_begin_ts"].notna() & (c["touch_ts"] > c["install_begin_ts"])
    c = c[~injected].copy()
    c["tier"] = np.select([c["method"] == "referrer", (c["method"] == "device_id") & (c["touch_type"] == "click"),
                           c["touch_type"] == "click", c["method"] == "device_id"], [1, 1, 3, 4], 5)
    c["method_rank"] = c["method"].map({"referrer": 0, "device_id": 1, "probabilistic": 2})
    priority = {"adnet_alpha": 10, "socialx": 20, "buzzads": 30, "clickmob": 40, "hypergrowth": 50}
    c["priority"] = c["media_source"].map(priority).fillna(2**32 - 1)
    c = c.sort_values(["install_id", "tier", "score", "touch_ts", "method_rank", "priority", "touch_id"],
                      ascending=[True, True, False, False, True, True, True])
    return c.drop_duplicates("install_id").set_index("install_id")["touch_id"]


# The irreducible part of the SPEC §2 rule set: the three match joins (click id, device id, IP) with
# one window each and a winner per install, written to a table. No overrides, scores, tiers beyond
# the method order, reinstall logic, assists or fraud. Its time bounds what the full model can reach.
FLOOR_SQL = """
INSERT INTO bench_floor
WITH i AS (SELECT install_id, app_id, install_ts, referrer_click_id, device_id, ip FROM staging.stg_sdk__installs),
t AS (SELECT touch_id, app_id, touch_ts, click_id, device_id, ip FROM staging.stg_sdk__touches),
c AS (
    SELECT i.install_id AS install_id, t.touch_id AS touch_id, t.touch_ts AS touch_ts, 1 AS tier
    FROM i INNER JOIN t ON i.app_id = t.app_id AND i.referrer_click_id = t.click_id
    WHERE t.touch_ts <= i.install_ts AND t.touch_ts >= i.install_ts - INTERVAL 7 DAY
    UNION ALL
    SELECT i.install_id, t.touch_id, t.touch_ts, 2
    FROM i INNER JOIN t ON i.app_id = t.app_id AND i.device_id = t.device_id
    WHERE t.touch_ts <= i.install_ts AND t.touch_ts >= i.install_ts - INTERVAL 7 DAY
    UNION ALL
    SELECT i.install_id, t.touch_id, t.touch_ts, 3
    FROM i INNER JOIN (SELECT * FROM t WHERE device_id IS NULL) AS t ON i.app_id = t.app_id AND i.ip = t.ip
    WHERE t.touch_ts <= i.install_ts AND t.touch_ts >= i.install_ts - INTERVAL 24 HOUR
)
SELECT i.install_id, w.touch_id
FROM i LEFT JOIN (
    SELECT install_id, argMin(touch_id, (tier, -toUnixTimestamp64Milli(touch_ts))) AS touch_id
    FROM c GROUP BY install_id
) AS w ON i.install_id = w.install_id
"""


def compiled(project: Path, model: str, port: int, out: Path, window: tuple[str, str] | None) -> str:
    """``model``'s SQL as the dbt project in ``project`` compiles it (for the window, else all history)."""
    vars_ = json.dumps({"unmogrowp__window_start": window[0], "unmogrowp__window_end": window[1]} if window else {})
    out.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(dir=out))  # a target of its own: dbt's shared one is left alone
    env = {**os.environ, "UNMOGROWP_CLICKHOUSE_PORT": str(port), "LAKEHOUSE_ENV": "local"}
    result = subprocess.run([str(DBT_EXECUTABLE), "compile", "--select", model, "--quiet", "--vars", vars_,
                             "--project-dir", str(project), "--profiles-dir", str(project), "--target-path",
                             str(target), "--log-path", str(target / "logs")], env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stdout[-3000:])
    return next((target / "compiled").rglob(f"{model}.sql")).read_text()


def timed(client, server: psutil.Process, sql: str, repeat: int) -> tuple[float, float]:
    """Median wall and server CPU seconds of CREATE TABLE default.bench_result AS ``sql`` (the last kept)."""
    walls, cpus = [], []
    for _ in range(repeat):
        client.command("DROP TABLE IF EXISTS default.bench_result SYNC")
        cpu, t = sum(server.cpu_times()[:2]), time.perf_counter()
        client.command(f"CREATE TABLE default.bench_result ENGINE = MergeTree ORDER BY tuple() AS {sql}")
        walls.append(time.perf_counter() - t)
        cpus.append(sum(server.cpu_times()[:2]) - cpu)
    return statistics.median(walls), statistics.median(cpus)


def differing(client, a: str, b: str) -> dict[str, int]:
    """Columns whose values differ between tables ``a`` and ``b`` (joined on install_id), with counts."""
    cols = [c for (c,) in client.query("SELECT name FROM system.columns WHERE database = 'default' "
                                       "AND table = {t:String}", parameters={"t": a.split(".")[1]}).result_rows
            if c != "attribution_config_hash"]
    out = {}
    for c in cols:
        n = client.command(f"SELECT count() FROM {a} AS x FULL OUTER JOIN {b} AS y ON x.install_id = y.install_id "
                           f"WHERE NOT isNotDistinctFrom(x.`{c}`, y.`{c}`) SETTINGS join_use_nulls = 1")
        if n:
            out[c] = int(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--installs-per-day", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=18199)
    ap.add_argument("--baseline", type=Path, help="another dbt project to time and compare side by side")
    ap.add_argument("--no-pandas", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="attrbench-"))
    home = work / "home"
    try:
        t0 = time.perf_counter()
        start = date(2026, 9, 1)
        generate(str(work / "gen"), 1, start, start + timedelta(days=args.days - 1), 7,
                 SimConfig(installs_per_day=args.installs_per_day, with_activity=False, clicks_per_paid_install=6,
                           impressions_per_click=0.6), progress=False, malformed_share=0, renamed_share=0,
                 truncated_file_share=0)
        store, lake = LandingStore(f"{work}/gen/landing"), Lake((work / "lake").as_uri())
        state, _ = manager.start(home, args.port)
        server = psutil.Process(state.pid)
        client = clickhouse_connect.get_client(port=args.port, send_receive_timeout=3600)
        warehouse.ensure_tables(client)
        attribution_config.load_user_config(client, home)
        t_start, t_end = events.landing_range(store)
        load_s = 0.0
        for s, e in chunks(t_start, t_end):
            events.load_bronze(lake, store, events.event_files(store, s, e), s, e)
            events.build_silver(lake, s, e)
            t = time.perf_counter()
            warehouse.load_events(client, lake, s, e)  # raw.events and the key tables
            load_s += time.perf_counter() - t
        n_installs = client.command("SELECT count() FROM raw.events WHERE event_type = 'install'")
        n_touches = client.command("SELECT count() FROM raw.events WHERE event_type IN ('click', 'impression')")
        n_keys = client.command(f"SELECT count() FROM {match_keys.TOUCH_KEYS}")
        print(f"data: {n_installs:,} installs, {n_touches:,} touches, {n_keys:,} touch keys "
              f"(prepared in {time.perf_counter() - t0:.0f} s, ClickHouse loads {load_s:.0f} s)", flush=True)

        dbt(args.port, "build", "--select", "resource_type:seed staging", "--indirect-selection", "buildable",
            "--quiet")
        dbt(args.port, "run", "--select", "fct_installs", "--quiet")  # creates the table
        shapes: dict[str, tuple[str, str] | None] = {"bulk": None}
        for d in (1, 7, 30):
            if d < args.days:
                hour = datetime.combine(start + timedelta(days=d), datetime.min.time()) + timedelta(hours=12)
                shapes[f"hour_{d}d"] = (f"{hour:%Y-%m-%d %H:%M:%S}", f"{hour + timedelta(hours=1):%Y-%m-%d %H:%M:%S}")
        results = {}
        for model in ("fct_installs", "fct_install_matches"):
            for shape, window in shapes.items():
                sql = compiled(DBT_PROJECT_DIR, model, args.port, work / "compiled", window)
                wall, cpu = timed(client, server, sql, args.repeat)
                rows = client.command("SELECT count() FROM default.bench_result")
                r = {"installs": rows, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                     "installs_per_s": round(rows / wall) if wall else None}
                if args.baseline:
                    client.command("RENAME TABLE default.bench_result TO default.bench_current")
                    base = compiled(args.baseline.resolve(), model, args.port, work / "compiled", window)
                    b_wall, b_cpu = timed(client, server, base, args.repeat)
                    r.update({"baseline_wall_s": round(b_wall, 3), "baseline_cpu_s": round(b_cpu, 3),
                              "speedup_wall": round(b_wall / wall, 2), "speedup_cpu": round(b_cpu / cpu, 2),
                              "baseline_installs": client.command("SELECT count() FROM default.bench_result"),
                              "differing_columns": differing(client, "default.bench_current", "default.bench_result")})
                    client.command("DROP TABLE default.bench_current SYNC")
                results[f"{model}:{shape}"] = r
                print(f"{model}:{shape}", json.dumps(r), flush=True)

        dbt_times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            dbt(args.port, "run", "--select", "fct_installs", "--full-refresh", "--quiet")
            dbt_times.append(time.perf_counter() - t)
        assert client.command("SELECT count() FROM marts.fct_installs") == n_installs
        client.command("CREATE TABLE bench_floor (install_id String, touch_id Nullable(String)) "
                       "ENGINE = MergeTree ORDER BY install_id")
        floor_times = []
        for _ in range(args.repeat):
            client.command("TRUNCATE TABLE bench_floor")
            t = time.perf_counter()
            client.command(FLOOR_SQL)
            floor_times.append(time.perf_counter() - t)
        summary = {"installs": n_installs, "touches": n_touches, "touch_keys": n_keys, "runs": args.repeat,
                   "clickhouse_load_s": round(load_s, 1), "shapes": results,
                   "dbt_run_bulk_s": round(statistics.median(dbt_times), 2),
                   "floor_three_joins_s": round(statistics.median(floor_times), 2)}
        if not args.no_pandas:
            pd_s, agree = pandas_check(client, args.repeat)
            bulk = results["fct_installs:bulk"]["wall_s"]
            summary.update({"pandas_s": round(pd_s, 2), "pandas_over_query": round(pd_s / bulk, 1),
                            "same_winner_as_pandas": round(agree, 6)})
        print(json.dumps(summary, indent=2))
    finally:
        manager.stop(home)
        shutil.rmtree(work, ignore_errors=True)


def pandas_check(client, repeat: int) -> tuple[float, float]:
    """Median seconds of the pandas rules over every install, and its agreement with marts.fct_installs."""
    installs = client.query_df("SELECT * FROM staging.stg_sdk__installs")
    touches = client.query_df("SELECT touch_id, app_id, touch_type, touch_ts, device_id, ip, user_agent, "
                              "os_version, media_source, click_id, is_retargeting FROM staging.stg_sdk__touches")
    for frame in (installs, touches):
        for col in frame.columns:
            if col.endswith("_ts"):
                frame[col] = pd.to_datetime(frame[col])
    windows = {"click": 168, "click_probabilistic": 24, "impression": 24, "impression_probabilistic": 0}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        winners = pandas_attribution(installs, touches, windows)
        times.append(time.perf_counter() - t)
    ours = client.query_df("SELECT install_id, winning_touch_id FROM marts.fct_installs").set_index("install_id")
    both = ours.join(winners.rename("pandas"), how="left")
    return statistics.median(times), float((both["winning_touch_id"].fillna("") == both["pandas"].fillna("")).mean())


if __name__ == "__main__":
    main()
