"""A real Dagster deployment for the launcher and UI tests, shared by the whole session.

`dagster dev` (webserver, daemon and code server) on loopback, with its own DAGSTER_HOME (a run
queue of 2), lakehouse home, lake, ClickHouse port and landing zone. Runs launched on it go the way
the UI's Launch button, schedules and sensors go: run queue → daemon → run launcher → run worker.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port

BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 300  # the code server imports the whole code base (about 20 s on an idle 2-core machine)
RUN_TIMEOUT_S = 360
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

# landing hours (hourly partition keys) the tests use; the first four are landed before the stack starts
LAUNCH_HOUR = "2026-09-01-10:00"  # test_launcher: ingest_events_job through GraphQL
UI_HOUR = "2026-09-01-11:00"  # test_ui: one partition from the launch dialog
BACKFILL_HOURS = ("2026-09-01-12:00", "2026-09-01-13:00")  # test_ui: a range, one single-run backfill
SENSOR_HOURS = ("2026-09-01-15:00", "2026-09-01-16:00")  # landed while the landing sensor runs
COST_DATE = "2026-09-01"  # test_launcher: ingest_cost_job through `dagster job launch`
STACK_HOURS = (LAUNCH_HOUR, UI_HOUR, *BACKFILL_HOURS)

DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 2
  pools:
    default_limit: 1
"""


def hour_dir(hour: str) -> str:
    """The landing path pattern of one hourly partition key (`2026-09-01-10:00`)."""
    return f"events/app_id=*/dt={hour[:10]}/hr={hour[11:13]}"


def event_files(root: Path, hour: str) -> list[Path]:
    return sorted(p for p in root.glob(f"{hour_dir(hour)}/*") if p.is_file())


def landing_lines(root: Path, hours) -> int:
    """Lines in the event batches of ``hours`` under a landing root, counted from the gzip files."""
    return sum(len(gzip.decompress(p.read_bytes()).splitlines()) for h in hours for p in event_files(root, h))


def copy_hours(source: Path, target: Path, hours, keep_mtime: bool) -> list[str]:
    """Copy the event batches of ``hours`` (paths kept); returns their landing keys."""
    keys = []
    for hour in hours:
        files = event_files(source, hour)
        assert files, f"no landing files for {hour} under {source}"
        for p in files:
            gzip.decompress(p.read_bytes())  # the tests count lines: only whole files
            key = p.relative_to(source).as_posix()
            (target / key).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copy2 if keep_mtime else shutil.copyfile)(p, target / key)
            keys.append(key)
    return keys


def _tail(path: Path, chars: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


@dataclass
class Stack:
    """The running deployment, and helpers to launch on it and read what it recorded."""

    port: int
    env: dict = field(repr=False)  # the deployment's environment (inherits this process's)
    home: Path
    dagster_home: Path
    landing: Path  # the landing root the deployment reads
    source_landing: Path  # the generated landing zone (all hours)
    clickhouse_port: int
    log: Path
    location: str = ""
    repository: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)

    host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def logs(self) -> str:
        return f"--- dagster dev ({self.log}) ---\n{_tail(self.log)}"

    # -- GraphQL ---------------------------------------------------------------------------------
    def graphql(self, query: str, variables: dict | None = None) -> dict:
        r = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        r.raise_for_status()
        body = r.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def selector(self, kind: str, name: str) -> dict:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository, f"{kind}Name": name}

    @cached_property
    def client(self):
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient(self.host, port_number=self.port)

    # -- the instance ----------------------------------------------------------------------------
    @cached_property
    def instance(self):
        import dagster as dg

        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def run_events(self, run_id: str, last: int = 40) -> str:
        lines = []
        for e in self.instance.all_logs(run_id)[-last:]:
            kind = e.dagster_event.event_type_value if e.dagster_event else "LOG"
            lines.append(f"{kind}: {(e.message or '')[:300]}")
            if e.dagster_event and e.dagster_event.event_specific_data is not None:
                error = getattr(e.dagster_event.event_specific_data, "error", None)
                if error is not None:
                    lines.append(error.to_string()[-3000:])
        return "\n".join(lines)

    def wait_run(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S):
        """The run once it has finished (a run worker that exits without finishing its run is reported
        by the code server: FAILURE); fails with its event log and the deployment's log on a timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.status.value in FINISHED:
                return run
            if time.monotonic() > deadline:
                status = run.status.value if run else "not in the instance"
                pytest.fail(f"run {run_id} not finished after {timeout_s:.0f} s ({status}):\n"
                            f"{self.run_events(run_id) if run else ''}\n{self.logs()}")
            time.sleep(1)

    def assert_success(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S):
        run = self.wait_run(run_id, timeout_s)
        assert run.status.value == "SUCCESS", f"run {run_id} of {run.job_name}: {run.status.value}\n" \
                                               f"{self.run_events(run_id)}"
        return run

    def materializations(self, run_id: str) -> dict[str, dict]:
        """Metadata of the run's materializations by asset key (`a/b`), plain values."""
        import dagster as dg

        out = {}
        for e in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            m = e.asset_materialization
            out[m.asset_key.to_user_string()] = {k: v.value for k, v in m.metadata.items()}
        return out

    def check_results(self, run_id: str) -> dict[str, bool]:
        """Asset check results of the run: `asset:check` → passed."""
        import dagster as dg

        out = {}
        for e in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            ev = e.dagster_event.event_specific_data
            out[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = ev.passed
        return out

    def runs(self, **tags):
        import dagster as dg

        return self.instance.get_runs(dg.RunsFilter(tags=tags))

    # -- the command line and the warehouse ------------------------------------------------------
    def launch_cli(self, job: str, tags: dict) -> str:
        """`dagster job launch` (through the instance's run queue); returns the run id."""
        marker = str(uuid.uuid4())
        tags = {**tags, "unmogrowp/test_launch": marker}
        cmd = [str(BIN / "dagster"), "job", "launch", "-w", str(REPO / "workspace.yaml"), "-j", job,
               "--tags", json.dumps(tags)]
        done = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(cmd)}: exit {done.returncode}\n{done.stdout[-3000:]}\n" \
                                     f"{done.stderr[-6000:]}"
        [run] = self.runs(**{"unmogrowp/test_launch": marker})
        return run.run_id

    def clickhouse(self):
        """A client of the deployment's local ClickHouse server (started by the runs on demand)."""
        import clickhouse_connect

        from unmogrowp.clickhouse import manager

        state, _ = manager.start(self.home, self.clickhouse_port)
        return clickhouse_connect.get_client(host=state.host, port=state.port)


def _environment(tmp: Path, home: Path, dagster_home: Path, landing: Path, ch_port: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UNMOGROWP_", "DAGSTER_", "MLFLOW_", "FEAST_", "CLICKHOUSE_", "SPARK_"))
           and k != "LAKEHOUSE_ENV"}
    env.update({
        "LAKEHOUSE_ENV": "local",
        "DAGSTER_HOME": str(dagster_home),
        "UNMOGROWP_HOME": str(home),
        "UNMOGROWP_CLICKHOUSE_PORT": str(ch_port),
        "UNMOGROWP_LAKE_URI": (tmp / "lake").as_uri(),
        "UNMOGROWP_LANDING_URI": landing.as_uri(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # without bytecode every run worker compiles the code base and its libraries again (about 8 s
        # each); the deployment's processes share a cache of their own instead
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def _wait_until_loaded(stack: Stack) -> None:
    query = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack }
          ... on RepositoryLocation { repositories { name } } } } } } }"""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if stack.proc.poll() is not None:
            pytest.fail(f"dagster dev exited with code {stack.proc.returncode}\n{stack.logs()}")
        try:
            requests.get(f"{stack.url}/server_info", timeout=5).raise_for_status()
            entries = stack.graphql(query)["workspaceOrError"]["locationEntries"]
        except (requests.RequestException, AssertionError, KeyError, TypeError) as e:
            last = repr(e)
            time.sleep(1)
            continue
        last = json.dumps(entries)[:4000]
        loaded = [e for e in entries if e["loadStatus"] == "LOADED" and e["locationOrLoadError"]]
        if loaded:
            location = loaded[0]["locationOrLoadError"]
            if location["__typename"] == "PythonError":
                pytest.fail(f"code location {loaded[0]['name']} failed to load: {location['message']}\n"
                            f"{''.join(location['stack'])}\n{stack.logs()}")
            stack.location, stack.repository = loaded[0]["name"], location["repositories"][0]["name"]
            return
        time.sleep(1)
    pytest.fail(f"the deployment was not ready after {STARTUP_TIMEOUT_S} s (last: {last})\n{stack.logs()}")


def _stop(stack: Stack) -> None:
    """Interrupt the deployment's process group (webserver, daemon, code server, run workers), kill what
    is left, then stop the ClickHouse server the runs started. Idempotent."""
    from unmogrowp.clickhouse import manager

    proc, stack.proc = stack.proc, None
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
    manager.stop(stack.home)


_RUNNING: list[Stack] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the deployment once no later test of the session uses it (it idles at about 2 GB otherwise)."""
    yield
    if _RUNNING and "stack" in getattr(item, "fixturenames", ()):
        later = item.session.items[item.session.items.index(item) + 1:]
        if not any("stack" in getattr(i, "fixturenames", ()) for i in later):
            _stop(_RUNNING.pop())


@pytest.fixture(scope="session")
def stack(generated, tmp_path_factory):
    """`dagster dev` over a landing zone holding STACK_HOURS and the cost reports of COST_DATE."""
    out, _manifest = generated
    tmp = tmp_path_factory.mktemp("dagster_stack")
    home, dagster_home, landing = tmp / "home", tmp / "dagster_home", tmp / "landing"
    for d in (home, dagster_home, landing):
        d.mkdir()
    source = out / "landing"
    copy_hours(source, landing, STACK_HOURS, keep_mtime=True)
    for p in sorted(source.glob(f"cost/media_source=*/dt={COST_DATE}/*")):
        (landing / p.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, landing / p.relative_to(source))
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    ch_port, port = free_port(), free_port()
    env = _environment(tmp, home, dagster_home, landing, ch_port)
    log = tmp / "dagster_dev.log"
    s = Stack(port=port, env=env, home=home, dagster_home=dagster_home, landing=landing, source_landing=source,
              clickhouse_port=ch_port, log=log)
    with open(log, "wb") as f:
        s.proc = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-h", s.host, "-p", str(port)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    _RUNNING.append(s)
    try:
        _wait_until_loaded(s)
        yield s
    finally:
        _stop(s)
        if s in _RUNNING:
            _RUNNING.remove(s)
