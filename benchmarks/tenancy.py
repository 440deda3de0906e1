"""What a tenant user's row filter costs on the local ClickHouse server.

Run: `.venv/bin/python benchmarks/tenancy.py --rows 5000000 --repeat 50`. The same queries run as
``default`` (no filter; the WHERE clause selects the app) and as a tenant of that app (fresh
read-only context, ``tenancy.authorize``: formatted by ClickHouse's parser, ``EXPLAIN AST`` walked
against the catalog, then ``additional_table_filters``); medians and the tenant/default ratio.
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import clickhouse_connect

from unmogrowp.clickhouse import manager, tenancy
from unmogrowp.net import free_port

QUERIES = {
    "count": ("SELECT count() FROM marts.fct_installs WHERE app_id = 'app_3'",
              "SELECT count() FROM marts.fct_installs"),
    "group by source": ("SELECT media_source, count() FROM marts.fct_installs WHERE app_id = 'app_3' GROUP BY 1",
                        "SELECT media_source, count() FROM marts.fct_installs GROUP BY 1"),
    "point lookup": ("SELECT * FROM marts.fct_installs WHERE app_id = 'app_3' AND install_id = 'i123'",
                     "SELECT * FROM marts.fct_installs WHERE install_id = 'i123'"),
}


def median_ms(client, sql: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.query(sql)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tenancy-bench-"))
    try:
        state, _ = manager.start(home, free_port())
        admin = clickhouse_connect.get_client(host=state.host, port=state.port)
        admin.command("CREATE DATABASE marts")
        admin.command("CREATE TABLE marts.fct_installs (app_id String, install_id String, media_source String) "
                      "ENGINE = MergeTree ORDER BY (app_id, install_id)")
        admin.command(f"INSERT INTO marts.fct_installs SELECT concat('app_', toString(number % 10)), "
                      f"concat('i', toString(number)), concat('net_', toString(number % 7)) FROM numbers({args.rows})")
        for i in range(20):  # a realistic catalogue: the filter map names every app_id table
            admin.command(f"CREATE TABLE marts.t{i} (app_id String, v UInt8) ENGINE = MergeTree ORDER BY app_id")
        tenancy.write_tenants(tenancy.tenants_path(home), {"t3": ("pw", ["app_3"])})
        tenant = clickhouse_connect.get_client(host=state.host, port=state.port, username="t3", password="pw")
        print(f"{args.rows:,} rows, 10 apps, {args.repeat} runs each, median ms")
        print("| query | default | tenant | ratio |\n|---|---|---|---|")
        for name, (as_default, as_tenant) in QUERIES.items():
            assert admin.query(as_default).result_rows == tenant.query(as_tenant).result_rows
            d, t = median_ms(admin, as_default, args.repeat), median_ms(tenant, as_tenant, args.repeat)
            print(f"| {name} | {d:.1f} | {t:.1f} | {t / d:.2f} |")
    finally:
        manager.stop(home)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
