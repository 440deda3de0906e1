"""Peers of the harness on the same data: last-touch attribution in ClickHouse, DuckDB, PySpark and
pandas ``merge_asof``; Markov/Shapley in unmogrowp.mta, ChannelAttribution and DP6 MAM.

The last-touch rule every peer implements (a fair, simplified SPEC §2 core, not fct_installs' full
rules): per install, the clicks of the same app matched by its referrer click id (tier 1) or its
device id (tier 2), 0-7 days before the install; the winner is the lowest tier, then the latest
click, then the smallest touch id. Every peer returns ``install_id -> touch_id`` for all installs
with a winner, so the answers can be compared exactly.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

LOOKBACK_DAYS = 7
INSTALL_COLUMNS = "install_id, app_id, install_ts, referrer_click_id, device_id"
CLICK_COLUMNS = "touch_id, app_id, touch_ts, click_id, device_id"

_CANDIDATES = """
    SELECT i.install_id AS install_id, t.touch_id AS touch_id, t.touch_ts AS touch_ts, 1 AS tier
    FROM {i} AS i INNER JOIN {t} AS t ON i.app_id = t.app_id AND i.referrer_click_id = t.click_id
    WHERE t.touch_ts <= i.install_ts AND t.touch_ts >= i.install_ts - INTERVAL {days} DAY
    UNION ALL
    SELECT i.install_id, t.touch_id, t.touch_ts, 2
    FROM {i} AS i INNER JOIN {t} AS t ON i.app_id = t.app_id AND i.device_id = t.device_id
    WHERE t.touch_ts <= i.install_ts AND t.touch_ts >= i.install_ts - INTERVAL {days} DAY
"""
# the same winner as an ordered window (DuckDB, Spark) and as an argMin over a tuple (ClickHouse)
_WINDOWED = """
SELECT install_id, touch_id FROM (
    SELECT install_id, touch_id,
           row_number() OVER (PARTITION BY install_id ORDER BY tier, touch_ts DESC, touch_id) AS rn
    FROM ({candidates}) AS c
) AS r WHERE rn = 1
"""
CLICKHOUSE_SQL = """
SELECT install_id, argMin(touch_id, (tier, -toUnixTimestamp64Milli(touch_ts), touch_id)) AS touch_id
FROM ({candidates}) AS c GROUP BY install_id
""".format(candidates=_CANDIDATES.format(
    i=f"(SELECT {INSTALL_COLUMNS} FROM staging.stg_sdk__installs)",
    t=f"(SELECT {CLICK_COLUMNS} FROM staging.stg_sdk__touches WHERE touch_type = 'click')", days=LOOKBACK_DAYS))


def export(client, directory: Path) -> dict[str, Path]:
    """The installs and clicks of the staging views as Parquet files (what DuckDB, Spark and pandas read)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"installs": directory / "installs.parquet", "clicks": directory / "clicks.parquet"}
    pq.write_table(client.query_arrow(f"SELECT {INSTALL_COLUMNS} FROM staging.stg_sdk__installs"), paths["installs"])
    pq.write_table(client.query_arrow(
        f"SELECT {CLICK_COLUMNS} FROM staging.stg_sdk__touches WHERE touch_type = 'click'"), paths["clicks"])
    return paths


def clickhouse_last_touch(client, _paths) -> pd.Series:
    frame = client.query_arrow(CLICKHOUSE_SQL).to_pandas()
    return frame.set_index("install_id")["touch_id"]


def duckdb_last_touch(_client, paths) -> pd.Series:
    import duckdb

    con = duckdb.connect()
    try:
        sql = _WINDOWED.format(candidates=_CANDIDATES.format(
            i=f"read_parquet('{paths['installs']}')", t=f"read_parquet('{paths['clicks']}')", days=LOOKBACK_DAYS))
        return con.execute(sql).df().set_index("install_id")["touch_id"]
    finally:
        con.close()


def spark_last_touch(spark, paths) -> pd.Series:
    spark.read.parquet(str(paths["installs"])).createOrReplaceTempView("bench_installs")
    spark.read.parquet(str(paths["clicks"])).createOrReplaceTempView("bench_clicks")
    sql = _WINDOWED.format(candidates=_CANDIDATES.format(i="bench_installs", t="bench_clicks", days=LOOKBACK_DAYS))
    return spark.sql(sql).toPandas().set_index("install_id")["touch_id"]


def pandas_last_touch(_client, paths) -> pd.Series:
    """The same rule with a join on the click id and ``merge_asof`` (backward, 7 days) on the device."""
    inst = pd.read_parquet(paths["installs"])
    clicks = pd.read_parquet(paths["clicks"])
    lookback = pd.Timedelta(days=LOOKBACK_DAYS)
    by_click = inst.dropna(subset=["referrer_click_id"]).merge(
        clicks[["app_id", "click_id", "touch_id", "touch_ts"]].dropna(subset=["click_id"]),
        left_on=["app_id", "referrer_click_id"], right_on=["app_id", "click_id"])
    age = by_click.install_ts - by_click.touch_ts
    by_click = by_click[(age >= pd.Timedelta(0)) & (age <= lookback)]
    by_click = by_click.sort_values(["install_id", "touch_ts", "touch_id"], ascending=[True, False, True])
    tier1 = by_click.drop_duplicates("install_id").set_index("install_id")["touch_id"]
    # merge_asof takes the last right row at or before the install: order ties so that it is the smallest id
    right = clicks.dropna(subset=["device_id"]).sort_values(["touch_ts", "touch_id"], ascending=[True, False])
    left = inst.dropna(subset=["device_id"]).sort_values("install_ts")
    by_device = pd.merge_asof(left[["install_id", "app_id", "device_id", "install_ts"]],
                              right[["app_id", "device_id", "touch_ts", "touch_id"]],
                              left_on="install_ts", right_on="touch_ts", by=["app_id", "device_id"],
                              direction="backward", tolerance=lookback, allow_exact_matches=True)
    tier2 = by_device.dropna(subset=["touch_id"]).set_index("install_id")["touch_id"]
    return pd.concat([tier1, tier2[~tier2.index.isin(tier1.index)]])


LAST_TOUCH = {"clickhouse": clickhouse_last_touch, "duckdb": duckdb_last_touch, "pyspark": spark_last_touch,
              "pandas_merge_asof": pandas_last_touch}


def agreement(a: pd.Series, b: pd.Series) -> float:
    """Share of installs (with a winner in either) that both give the same winner."""
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1)
    return float((both["a"].fillna("") == both["b"].fillna("")).mean()) if len(both) else 1.0


def timed(fn, *args, repeats: int = 3):
    """(median seconds, last result) of ``repeats`` calls."""
    seconds, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(*args)
        seconds.append(time.perf_counter() - t0)
    return sorted(seconds)[len(seconds) // 2], result


# -- multi-touch --------------------------------------------------------------------------------
PATHS_SQL = """
SELECT channels, converted FROM (
    SELECT app_id, arrayMap(t -> t.media_source, path) AS channels, 1 AS converted
    FROM marts.mta_conversion_paths WHERE conversion_type = 'install'
    UNION ALL
    SELECT app_id, channels, 0 AS converted FROM marts.mta_nonconverting_paths
) WHERE notEmpty(channels) AND app_id = {app:String}
ORDER BY cityHash64(arrayStringConcat(channels, '>'), converted) LIMIT {limit:UInt64}
"""


def mta_paths(client, limit: int) -> list[tuple[list[str], bool, float]]:
    """The paths of the app with the most conversions (converting and not), a fixed sample of at most ``limit``."""
    app = client.command("SELECT app_id FROM marts.mta_conversion_paths GROUP BY app_id ORDER BY count() DESC LIMIT 1")
    if not app:
        return []
    rows = client.query(PATHS_SQL, parameters={"app": app, "limit": limit}).result_rows
    return [(list(c), bool(x), 1.0 if x else 0.0) for c, x in rows]


def mta_peers(paths, repeats: int = 1) -> dict:
    """Seconds of unmogrowp.mta (Markov order 1, Shapley), ChannelAttribution (its defaults) and DP6
    MAM on ``paths``, the ratios peer / ours and the largest |Δ| % of the channel totals."""
    from benchmarks import mta_reference as ref

    out: dict = {"paths": len(paths), "conversions": sum(x for _, x, _ in paths)}
    if not paths or not out["conversions"]:
        return out
    runs = {"ours_markov": lambda: ref.ours_markov(paths, 1), "ours_shapley": lambda: ref.ours_shapley(paths),
            "channelattribution_markov": lambda: ref.ca_markov(paths, 1, defaults=True),
            "dp6_markov": lambda: ref.dp6_markov(paths), "dp6_shapley": lambda: ref.dp6_shapley(paths)}
    results = {}
    for name, fn in runs.items():
        seconds, results[name] = timed(fn, repeats=repeats)
        out[f"{name}_s"] = round(seconds, 3)
    for peer, ours in (("channelattribution_markov", "ours_markov"), ("dp6_markov", "ours_markov"),
                       ("dp6_shapley", "ours_shapley")):
        out[f"{peer}_over_ours"] = round(out[f"{peer}_s"] / max(out[f"{ours}_s"], 1e-9), 2)

    def total(name, c):
        v = results[name].get(c, 0.0)
        return v[0] if isinstance(v, tuple) else v

    for peer, ours in (("channelattribution_markov", "ours_markov"), ("dp6_markov", "ours_markov"),
                       ("dp6_shapley", "ours_shapley")):
        out[f"{peer}_max_abs_diff_pct"] = round(max(
            abs(ref.pct(total(ours, c), total(peer, c))) for c in results[ours]), 3)
    return out
