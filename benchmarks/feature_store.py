"""Feast materialization throughput and online lookup latency, sqlite vs Redis.

Run after `make demo` (it reads the demo's lake and marts): `.venv/bin/python benchmarks/feature_store.py`.
Each store gets its own registry and online store in a temporary home. Materialization loads the
device, site and campaign views over the whole range (`--repeats` times, median reported);
latency is `get_online_features` for batches of 100 device keys (all online device features),
p50/p99 over `--lookups` calls after 10 warm-up calls.
"""

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ml import feature_store as fstore
from unmogrowp import redis_local
from unmogrowp.config import load_settings
from unmogrowp.fraud import features as ff

VIEWS = ["device_fraud_features", "site_fraud_features", "campaign_daily_kpis"]
FROM, TO = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def run(target: fstore.StoreTarget, repeats: int, lookups: int, batch: int) -> dict:
    store = fstore.get_store(target)
    fstore.apply(store, target)
    rows = sum(len(fstore.latest_rows(store, v, FROM, TO)) for v in VIEWS)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        store.materialize(start_date=FROM, end_date=TO, feature_views=VIEWS)
        seconds.append(time.perf_counter() - t0)
    keys = fstore.latest_rows(store, "device_fraud_features", FROM, TO)["device_key"].to_numpy()
    rng = np.random.default_rng(1)
    features = [f"device_fraud_features:{n}" for n in ff.ONLINE_FEATURES]
    timings = []
    for i in range(lookups + 10):
        rows_ = [{"device_key": k} for k in rng.choice(keys, size=batch, replace=False)]
        t0 = time.perf_counter()
        store.get_online_features(features=features, entity_rows=rows_).to_dict()
        if i >= 10:
            timings.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(seconds)
    return {"rows": rows, "materialize_s_median": round(med, 2), "rows_per_s": round(rows / med),
            "lookup_p50_ms": round(float(np.percentile(timings, 50)), 2),
            "lookup_p99_ms": round(float(np.percentile(timings, 99)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = redis_local.start(Path(tmp) / "redis")
        try:
            for online in ("sqlite", "redis"):
                target = replace(fstore.StoreTarget.of(settings, online, url if online == "redis" else ""),
                                 home=str(Path(tmp) / online))
                print(online, run(target, args.repeats, args.lookups, args.batch), flush=True)
        finally:
            redis_local.stop(proc)


if __name__ == "__main__":
    main()
