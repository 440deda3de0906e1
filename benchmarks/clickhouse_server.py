"""Local ClickHouse server vs in-process chDB: rows/s for a 10M-row insert and select, and the
round trip of a tiny query.

Run: `make bench` (or `.venv/bin/python benchmarks/clickhouse_server.py --rows 10000000 --repeat 3`).
Both sides move the same Native-format bytes, so the ratio is the cost of the HTTP hop; the
`dataframe` rows add clickhouse-connect's own encoding and decoding, as an application sees it.
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import chdb
import clickhouse_connect

from unmogrowp.clickhouse import manager

DDL = ("CREATE TABLE {t} (id UInt64, device String, ts DateTime64(3), value Float64) "
       "ENGINE = MergeTree ORDER BY id")
GEN = ("SELECT number AS id, concat('dev-', toString(number % 100003)) AS device, "
       "toDateTime64('2026-09-01 00:00:00', 3) + number AS ts, number / 7 AS value "
       "FROM numbers({n})")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=18199)
    args = ap.parse_args()
    n = args.rows
    work = Path(tempfile.mkdtemp(prefix="chbench-"))
    results: dict[str, list[float]] = {}

    # in-process chDB (its own data directory, no server running on it)
    conn = chdb.connect(str(work / "inproc"))
    native = conn.query(GEN.format(n=n) + " FORMAT Native", "TabSeparated").bytes()
    print(f"{n:,} rows, {len(native) / 1e6:.0f} MB in Native format")
    for i in range(args.repeat):
        conn.query(f"DROP TABLE IF EXISTS t{i}")
        conn.query(DDL.format(t=f"t{i}"))

        def insert(i=i):
            ins = conn.send_insert(f"INSERT INTO t{i}", "Native")
            ins.append(native)
            ins.finish()
        results.setdefault("insert in-process", []).append(timed(insert))
        results.setdefault("select in-process", []).append(
            timed(lambda i=i: conn.query(f"SELECT * FROM t{i}", "Native").bytes()))
        results.setdefault("select df in-process", []).append(
            timed(lambda i=i: conn.query(f"SELECT * FROM t{i}", "DataFrame")))
    conn.close()

    # the same through the local server
    home = work / "server"
    manager.start(home, args.port)
    try:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=args.port, compress=False)
        df = None
        for i in range(args.repeat):
            client.command(f"DROP TABLE IF EXISTS t{i}")
            client.command(DDL.format(t=f"t{i}"))
            results.setdefault("insert server", []).append(
                timed(lambda i=i: client.raw_insert(f"t{i}", insert_block=native, fmt="Native")))
            results.setdefault("select server", []).append(
                timed(lambda i=i: client.raw_query(f"SELECT * FROM t{i}", fmt="Native")))
            results.setdefault("select df server", []).append(
                timed(lambda i=i: client.query_df(f"SELECT * FROM t{i}")))
            if df is None:
                df = client.query_df("SELECT * FROM t0")
            client.command(f"DROP TABLE IF EXISTS d{i}")
            client.command(DDL.format(t=f"d{i}"))
            results.setdefault("insert df server", []).append(
                timed(lambda i=i, df=df: client.insert_df(f"d{i}", df)))
        assert client.command("SELECT count() FROM t0") == n
        # round trip of a tiny query on a keep-alive connection (what dbt and Feast mostly send)
        trips = []
        for _ in range(200):
            t0 = time.perf_counter()
            client.query("SELECT 1")
            trips.append(time.perf_counter() - t0)
        trips.sort()
        print(f"SELECT 1 round trip: median {trips[100] * 1000:.1f} ms, p99 {trips[197] * 1000:.1f} ms")
    finally:
        manager.stop(home)
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{'path':24} {'median s':>9} {'rows/s':>14}   (runs: {args.repeat})")
    for k, v in med.items():
        print(f"{k:24} {v:9.2f} {n / v:14,.0f}")
    print("\nserver / in-process (time ratio, median):")
    for op in ("insert", "select"):
        print(f"  {op} (Native bytes): {med[op + ' server'] / med[op + ' in-process']:.2f}x")
    print(f"  select to DataFrame:  {med['select df server'] / med['select df in-process']:.2f}x")


if __name__ == "__main__":
    main()
