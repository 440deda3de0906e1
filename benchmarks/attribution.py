"""fct_installs on about 1M installs against 10M touches, against a pandas version of the same rules.

Run: `.venv/bin/python benchmarks/attribution.py` (add `--days 2` for a quick run). Traffic comes
from the project's generator (ad traffic and installs only, no in-app activity), goes through the
normal ingestion (landing → bronze → silver → raw.events) into a local ClickHouse server in a
temporary home, and the dbt model runs through `dbt run`. Reported: median seconds of the model's
query (the compiled SQL, as an INSERT ... SELECT) and of the whole `dbt run`, installs/s, and the
pandas ratio. Both implementations must pick the same winning touch for every install.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import clickhouse_connect
import numpy as np
import pandas as pd

from assets.dbt_project import DBT_PROJECT_DIR, run_dbt_local
from unmogrowp.clickhouse import manager
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events, warehouse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--installs-per-day", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=18199)
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
        manager.start(home, args.port)
        client = clickhouse_connect.get_client(port=args.port, send_receive_timeout=3600)
        for ddl in ("CREATE DATABASE IF NOT EXISTS raw",):
            client.command(ddl)
        warehouse.ensure_tables(client)
        t_start, t_end = events.landing_range(store)
        for s, e in chunks(t_start, t_end):
            events.load_bronze(lake, store, events.event_files(store, s, e), s, e)
            events.build_silver(lake, s, e)
            warehouse.load_events(client, lake, s, e)
        n_installs = client.command("SELECT count() FROM raw.events WHERE event_type = 'install'")
        n_touches = client.command("SELECT count() FROM raw.events WHERE event_type IN ('click', 'impression')")
        print(f"data: {n_installs:,} installs, {n_touches:,} touches (prepared in {time.perf_counter() - t0:.0f} s)")

        dbt(args.port, "build", "--select", "resource_type:seed staging", "--indirect-selection", "buildable",
            "--quiet")
        dbt(args.port, "run", "--select", "fct_installs", "--quiet")  # creates the table
        compiled = next((DBT_PROJECT_DIR / "target" / "compiled").rglob("fct_installs.sql")).read_text()
        sql_times, dbt_times = [], []
        for _ in range(args.repeat):
            client.command("TRUNCATE TABLE marts.fct_installs")
            t = time.perf_counter()
            client.command(f"INSERT INTO marts.fct_installs {compiled}")
            sql_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            dbt(args.port, "run", "--select", "fct_installs", "--quiet")
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

        installs = client.query_df("SELECT * FROM staging.stg_sdk__installs")
        touches = client.query_df("SELECT touch_id, app_id, touch_type, touch_ts, device_id, ip, user_agent, "
                                  "os_version, media_source, click_id, is_retargeting FROM staging.stg_sdk__touches")
        for frame in (installs, touches):
            for col in frame.columns:
                if col.endswith("_ts"):
                    frame[col] = pd.to_datetime(frame[col])
        windows = {"click": 168, "click_probabilistic": 24, "impression": 24, "impression_probabilistic": 0}
        pandas_times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            winners = pandas_attribution(installs, touches, windows)
            pandas_times.append(time.perf_counter() - t)
        ours = client.query_df("SELECT install_id, winning_touch_id FROM marts.fct_installs").set_index("install_id")
        both = ours.join(winners.rename("pandas"), how="left")
        agree = (both["winning_touch_id"].fillna("") == both["pandas"].fillna("")).mean()
        sql_s, dbt_s, pd_s = (statistics.median(x) for x in (sql_times, dbt_times, pandas_times))
        print(json.dumps({
            "installs": n_installs, "touches": n_touches,
            "fct_installs_query_s": round(sql_s, 2), "installs_per_s_query": round(n_installs / sql_s),
            "floor_three_joins_s": round(statistics.median(floor_times), 2),
            "installs_per_s_floor": round(n_installs / statistics.median(floor_times)),
            "dbt_run_s": round(dbt_s, 2), "installs_per_s_dbt_run": round(n_installs / dbt_s),
            "pandas_s": round(pd_s, 2), "pandas_over_query": round(pd_s / sql_s, 1),
            "same_winner_as_pandas": round(float(agree), 6), "runs": args.repeat,
        }, indent=2))
    finally:
        manager.stop(home)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
