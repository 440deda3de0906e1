"""The dbt project: where it lives, its manifest (dagster-dbt's `DbtProject`) and the dbt CLI resource."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
# parsing needs no connection: the local target always renders, whatever LAKEHOUSE_ENV is set
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target="local")
_DBT_SOURCES = {".sql", ".yml", ".yaml", ".csv", ".md"}


def dbt_resource(target: str) -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, target=target, dbt_executable=str(DBT_EXECUTABLE))


def run_dbt_local(port: int, *args: str) -> subprocess.CompletedProcess:
    """The dbt CLI against the local ClickHouse server on ``port`` (tests, benchmarks)."""
    env = {**os.environ, "UNMOGROWP_CLICKHOUSE_PORT": str(port), "LAKEHOUSE_ENV": "local"}
    return subprocess.run([str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR)], env=env, capture_output=True, text=True)


def prepare_manifest() -> Path:
    """The manifest, parsed again when it is missing (a fresh clone) or older than a project file, one
    process at a time. Not ``DbtProject.prepare_if_dev``: it parses only under `dagster dev`, there in
    every run worker, and its preparer runs the `dbt` found on PATH, which `make` does not put there."""
    manifest = DBT_PROJECT.manifest_path
    manifest.parent.mkdir(exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        newest = max(p.stat().st_mtime for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in _DBT_SOURCES
                     and not {"target", "logs"} & set(p.relative_to(DBT_PROJECT_DIR).parts))
        if not manifest.exists() or manifest.stat().st_mtime < newest:
            dbt_resource("local").cli(["parse", "--quiet"], target_path=DBT_PROJECT.target_path).wait()
    return manifest
