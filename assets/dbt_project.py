"""The dbt project: where it lives, the dbt CLI resource and its manifest."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
_DBT_SOURCES = {".sql", ".yml", ".yaml", ".csv", ".md"}


DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def dbt_resource(target: str) -> DbtCliResource:
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          target=target, dbt_executable=str(DBT_EXECUTABLE))


def run_dbt_local(port: int, *args: str) -> subprocess.CompletedProcess:
    """The dbt CLI against the local ClickHouse server on ``port`` (tests, benchmarks)."""
    env = {**os.environ, "UNMOGROWP_CLICKHOUSE_PORT": str(port), "LAKEHOUSE_ENV": "local"}
    return subprocess.run([str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR)], env=env, capture_output=True, text=True)


def dbt_manifest() -> Path:
    """The dbt manifest, parsed again when any project file is newer (one process at a time)."""
    target = DBT_PROJECT_DIR / "target"
    manifest = target / "manifest.json"
    target.mkdir(exist_ok=True)
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        newest = max(p.stat().st_mtime for p in DBT_PROJECT_DIR.rglob("*")
                     if p.suffix in _DBT_SOURCES and "target" not in p.parts and "logs" not in p.parts)
        if not manifest.exists() or manifest.stat().st_mtime < newest:
            # parsing needs no connection: the local target always renders, whatever env is set
            dbt_resource("local").cli(["parse", "--quiet"], target_path=target).wait()
    return manifest
