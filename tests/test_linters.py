"""The linters CI runs: ruff (Python), import-linter (imports run one way), sqlfluff (the dbt SQL)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True)


def test_ruff_reports_nothing():
    proc = _run("ruff", "check", "--no-cache", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_contracts_are_kept():
    proc = _run("lint-imports", "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 broken." in proc.stdout, proc.stdout


def test_sqlfluff_reports_nothing(clickhouse_server):
    # the dbt templater compiles every model, and dbt-clickhouse connects to do so
    env = {**os.environ, "LAKEHOUSE_ENV": "local", "UNMOGROWP_CLICKHOUSE_PORT": str(clickhouse_server.port)}
    proc = _run("sqlfluff", "lint", "dbt_project", env=env)
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]
