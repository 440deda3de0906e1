"""dbt-clickhouse (driver: http) against the local server: the smoke project builds twice."""

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DBT = Path(sys.executable).with_name("dbt")


def dbt(project: Path, port: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_ENV": "local", "UNMOGROWP_CLICKHOUSE_PORT": str(port),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run([str(DBT), *args, "--profiles-dir", str(REPO / "dbt_project"),
                           "--project-dir", str(project)],
                          env=env, capture_output=True, text=True, timeout=600)


def test_dbt_smoke_project_builds_and_increments(tmp_path, ch, clickhouse_server):
    project = tmp_path / "dbt_smoke"
    shutil.copytree(REPO / "tests" / "fixtures" / "dbt_smoke", project)
    first = dbt(project, clickhouse_server.port, "build")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "PASS=11 WARN=0 ERROR=0" in first.stdout
    db = "analytics_smoke"
    assert ch.query(f"SELECT media_source, installs FROM {db}.installs_by_source ORDER BY media_source").result_rows \
        == [("net_x", 3), ("net_y", 1), ("organic", 1)]
    engine = ch.command(f"SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'installs_by_source'")
    assert engine == "View"

    # second run: the incremental paths (delete+insert replaces a day; append adds the new row)
    ch.command(f"INSERT INTO {db}.installs_table VALUES (6, 'app_b', 'net_y', '2026-09-03', 2.0)")
    second = dbt(project, clickhouse_server.port, "run", "--select", "daily_installs_upsert install_log_append",
                 "--vars", "{since: '2026-09-03', batch: b1}")
    assert second.returncode == 0, second.stdout[-3000:]
    daily = f"SELECT install_date, installs, round(revenue, 2) FROM {db}.daily_installs_upsert ORDER BY install_date"
    assert ch.query(daily).result_rows \
        == [(dt.date(2026, 9, d), n, r) for d, n, r in ((1, 2, 4.99), (2, 2, 1.5), (3, 2, 11.99))]
    assert ch.query(f"SELECT install_id, batch FROM {db}.install_log_append ORDER BY install_id").result_rows \
        == [(1, "b0"), (2, "b0"), (3, "b0"), (4, "b0"), (5, "b0"), (6, "b1")]
    tests = dbt(project, clickhouse_server.port, "test")
    assert tests.returncode == 0 and "PASS=6" in tests.stdout, tests.stdout[-3000:]
