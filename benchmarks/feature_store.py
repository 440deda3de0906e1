"""Feast materialization throughput and online lookup latency, sqlite vs Redis, Feast's own write path
vs the lakehouse's (ml.feature_store: Arrow batches written column-wise), on the same data in one run.

Self-contained: `.venv/bin/python benchmarks/feature_store.py [--rows 300000]` writes synthetic fraud
feature tables (the Spark job's schema, nulls, NaNs and repeated devices included) into a temporary
lake and starts its own redis-server. For each online store and path: apply, materialize the device and
site views over the whole range `--repeats` times (median reported; rows/s counts the rows
materialization loads, the latest per entity), then the stores of the two paths are compared: every
sqlite row and every Redis hash byte for byte, and `get_online_features` for every entity.
Latency: `get_online_features` for batches of 100 device keys, p50/p99 over `--lookups` calls.
`--json PATH` writes the figures.
"""

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake
from feast import FeatureStore
from feast.repo_config import RepoConfig

from ml import feature_store as fstore
from ml.feature_repo.definitions import _INTEGER
from unmogrowp import redis_local
from unmogrowp.config import load_settings
from unmogrowp.fraud import features as ff
from unmogrowp.lake import Lake

VIEWS = ["device_fraud_features", "site_fraud_features"]
FROM, TO = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
SOURCE_FEATURES = ("clicks_per_install", "app_clicks_per_install", "cpi_vs_app", "share_ctit_lt_10s",
                   "share_ctit_gt_24h", "ks_ctit_vs_app", "installs_per_ip", "devices_per_ip", "activity_rate_24h")


def install_table(n: int, days: int = 7, seed: int = 1) -> pa.Table:
    """``n`` installs over ``days`` in the schema of features/fraud_install_features; ~30 % of the
    devices install more than once (the online view keeps the latest)."""
    rng = np.random.default_rng(seed)
    t0 = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1e6)
    ts = np.sort(t0 + rng.integers(0, days * 86_400_000_000, n))
    devices = rng.integers(0, max(1, int(n * 0.8)), n)
    cols = {"install_id": pa.array([f"ev-{i:012d}" for i in range(n)]),
            "app_id": pa.array(rng.choice(["id100", "com.a.b", "id200"], n)),
            "install_date": pa.array((ts // 86_400_000_000).astype("datetime64[D]").astype(str)),
            "install_ts": pa.array(ts, pa.timestamp("us", "UTC")),
            "device_key": pa.array([f"{d:064x}" for d in devices])}
    for name in ff.MODEL_FEATURES:
        if name in _INTEGER:
            cols[name] = pa.array(rng.integers(0, 50, n), pa.int64(), mask=rng.random(n) < 0.2)
        else:
            v = np.where(rng.random(n) < 0.05, 0.0, rng.exponential(3600, n))
            cols[name] = pa.array(v, pa.float64(), mask=rng.random(n) < 0.3)
    cols["activity_observed"] = pa.array(rng.random(n) < 0.9)
    return pa.table(cols)


def source_table(sites: int, days: int = 7, seed: int = 2) -> pa.Table:
    """``sites`` app × network × site rows per day in the schema of features/fraud_source_features."""
    rng = np.random.default_rng(seed)
    rows, day = sites * days, np.repeat(np.arange(days), sites)
    ts = (np.datetime64("2026-09-02T00:00:00", "us") + day.astype("timedelta64[D]")).astype("int64")
    cols = {"install_date": pa.array((np.datetime64("2026-09-01") + day).astype(str)),
            "app_id": pa.array(np.tile([f"app{i % 3}" for i in range(sites)], days)),
            "media_source": pa.array(np.tile([f"net{i % 7}" for i in range(sites)], days)),
            "site_id": pa.array(np.tile([f"site{i}" for i in range(sites)], days)),
            "feature_ts": pa.array(ts, pa.timestamp("us", "UTC")),
            "clicks": pa.array(rng.integers(0, 1000, rows)), "installs": pa.array(rng.integers(0, 100, rows))}
    for name in SOURCE_FEATURES:
        cols[name] = pa.array(rng.random(rows), mask=rng.random(rows) < 0.1)
    return pa.table(cols)


def write_lake(lake_uri: str, installs: int, sites: int) -> None:
    lake = Lake(lake_uri)
    write_deltalake(lake.uri(ff.INSTALL_TABLE), install_table(installs), partition_by=["install_date"])
    write_deltalake(lake.uri(ff.SOURCE_TABLE), source_table(sites), partition_by=["install_date"])


def feast_config(target: fstore.StoreTarget) -> RepoConfig:
    """The same repository on Feast's own sqlite/Redis stores and local engine (the reference path)."""
    lakehouse = fstore.repo_config(target)
    home = target.feast_home
    online = {"type": "redis", "connection_string": target.redis_url} if target.online == "redis" else {
        "type": "sqlite", "path": str(home / "online.db")}
    return RepoConfig(project=fstore.PROJECT, provider="local",
                      registry={"path": str(home / "registry.db")}, online_store=online,
                      offline_store=lakehouse.offline_store, batch_engine="local",
                      entity_key_serialization_version=3, repo_path=fstore.REPO)


def open_store(target: fstore.StoreTarget, path: str) -> FeatureStore:
    if path == "lakehouse":
        return fstore.get_store(target)
    return FeatureStore(repo_path=str(fstore.REPO), config=feast_config(target))


def dump(store: FeatureStore, target: fstore.StoreTarget):
    """Every byte the online store holds: sqlite rows of each view's table, or every Redis hash."""
    if target.online == "redis":
        import redis

        host, _, rest = target.redis_url.partition(":")
        port, _, db = rest.partition(",db=")
        client = redis.Redis(host=host, port=int(port), db=int(db or 0))
        return sorted((k, sorted(client.hgetall(k).items())) for k in client.scan_iter(count=10_000))
    import sqlite3

    conn = sqlite3.connect(store.config.online_store.path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY entity_key, feature_name').fetchall() for t in tables}


def online_values(store: FeatureStore) -> dict:
    """get_online_features (values and event times) for every entity of each view."""
    out = {}
    for view in VIEWS:
        fv = store.get_feature_view(view)
        keys = fstore.latest_rows(store, view, FROM, TO)[fv.join_keys].sort_values(fv.join_keys)
        refs = [f"{view}:{f.name}" for f in fv.features]
        rows = keys.to_dict("records")
        got = [store.get_online_features(features=refs, entity_rows=rows[i:i + 5000]).to_dict(
            include_event_timestamps=True) for i in range(0, len(rows), 5000)]
        out[view] = {k: [v for part in got for v in part[k]] for k in got[0]}
    return out


def lookups(store: FeatureStore, count: int, batch: int) -> dict:
    keys = fstore.latest_rows(store, "device_fraud_features", FROM, TO)["device_key"].to_numpy()
    rng = np.random.default_rng(1)
    features = [f"device_fraud_features:{n}" for n in ff.ONLINE_FEATURES]
    timings = []
    for i in range(count + 10):
        rows = [{"device_key": k} for k in rng.choice(keys, size=batch, replace=False)]
        t0 = time.perf_counter()
        store.get_online_features(features=features, entity_rows=rows).to_dict()
        if i >= 10:
            timings.append((time.perf_counter() - t0) * 1000)
    return {"lookup_p50_ms": round(float(np.percentile(timings, 50)), 2),
            "lookup_p99_ms": round(float(np.percentile(timings, 99)), 2)}


def run(target: fstore.StoreTarget, path: str, repeats: int, count: int, batch: int) -> tuple[dict, FeatureStore]:
    store = open_store(target, path)
    fstore.apply(store, target)
    rows = sum(len(fstore.latest_rows(store, v, FROM, TO)) for v in VIEWS)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        store.materialize(start_date=FROM, end_date=TO, feature_views=VIEWS)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(wall)
    return {"rows": rows, "materialize_s": [round(s, 2) for s in wall], "materialize_s_median": round(med, 2),
            "cpu_s_median": round(statistics.median(cpu), 2), "rows_per_s": round(rows / med),
            **lookups(store, count, batch)}, store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="installs in the synthetic feature table")
    parser.add_argument("--sites", type=int, default=3_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--paths", default="feast,lakehouse", help="feast (Feast's own stores), lakehouse")
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results: dict = {"rows_installs": args.rows, "sites": args.sites}
    with tempfile.TemporaryDirectory(prefix="feast_bench_") as tmp:
        settings = load_settings({"UNMOGROWP_HOME": tmp})
        write_lake(settings.lake_uri, args.rows, args.sites)
        proc, url = redis_local.start(Path(tmp) / "redis")
        try:
            for online in args.stores.split(","):
                stores = {}
                for db, path in enumerate(args.paths.split(",")):
                    target = fstore.StoreTarget.of(settings, online, f"{url},db={db}" if online == "redis" else "")
                    target = replace(target, home=str(Path(tmp) / f"{online}_{path}"))
                    results[f"{online}/{path}"], store = run(target, path, args.repeats, args.lookups, args.batch)
                    stores[path] = (store, target)
                    print(online, path, results[f"{online}/{path}"], flush=True)
                if len(stores) == 2:
                    (a, ta), (b, tb) = stores.values()
                    same_bytes = dump(a, ta) == dump(b, tb)
                    same_values = online_values(a) == online_values(b)
                    speedup = results[f"{online}/lakehouse"]["rows_per_s"] / results[f"{online}/feast"]["rows_per_s"]
                    results[f"{online}/identical"] = {"store_bytes": same_bytes, "online_features": same_values,
                                                      "speedup": round(speedup, 1)}
                    print(online, "identical", results[f"{online}/identical"], flush=True)
        finally:
            redis_local.stop(proc)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
