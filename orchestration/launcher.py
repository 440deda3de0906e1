"""Launch jobs the way the Dagster UI, schedules and sensors do: a run created in the instance from
the code server's job snapshot, handed to the instance's run launcher, executed by a run worker the
code server spawns. So command-line runs show in the UI (runs, job pages, timeline, partitions) and
can be re-executed there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._grpc.client import DagsterGrpcClient

from unmogrowp.net import free_port

REPO = Path(__file__).resolve().parent.parent
# the code location named as workspace.yaml names it (a python_module entry is named after its
# module), so a run launched here is re-executed from the UI against the same location
DEFINITIONS_MODULE = "orchestration.definitions"
LOCATION_NAME = DEFINITIONS_MODULE
STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
               dg.DagsterEventType.STEP_SKIPPED}


# A new instance: no usage data, no sign-up dialog; two runs at a time, and one step at a time in each
# pool (`clickhouse`, `spark`, `landing_load`), so a backfill and the hourly run take turns on the
# warehouse and the Spark driver instead of starving a small machine; slots a killed run held are freed
# a minute after it ends (the daemon's run monitoring, `make dev`); the daemon evaluates freshness policies.
INSTANCE_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 2
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 60
freshness:
  enabled: true
"""


def write_instance_config(dagster_home: str | Path) -> Path:
    """``dagster_home``/dagster.yaml (INSTANCE_YAML) unless one exists; returns its path."""
    dagster_home = Path(dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    return config


def ensure_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The persistent instance in ``dagster_home`` (its dagster.yaml written when missing)."""
    write_instance_config(dagster_home)
    return dg.DagsterInstance.from_config(str(dagster_home))


class CodeServer:
    """``dagster api grpc`` serving the definitions with ``environ``; its output, and that of the
    run workers it spawns, goes to ``log_path`` (the runs' own logs are in the Dagster event log)."""

    def __init__(self, environ: Mapping[str, str], log_path: Path, startup_timeout: float = 300):
        self.environ, self.log_path, self.startup_timeout = dict(environ), log_path, startup_timeout
        self.port = free_port()
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> CodeServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "api", "grpc", "--module-name", DEFINITIONS_MODULE,
             "--attribute", "defs", "--working-directory", str(REPO), "--location-name", LOCATION_NAME,
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             # stops by itself (once its runs end) if this process dies without stopping it
             "--heartbeat", "--heartbeat-timeout", "120"],
            cwd=REPO, env=self.environ, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        try:
            return self._wait_until_serving()
        except BaseException:  # Ctrl-C or a failed start: leave no server behind
            self.__exit__(None, None, None)
            raise

    def _wait_until_serving(self) -> CodeServer:
        client, deadline = DagsterGrpcClient(port=self.port, host="127.0.0.1"), time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the Dagster code server exited with status {self._proc.returncode} while "
                                   f"loading {DEFINITIONS_MODULE}; its output: {self.log_path}\n{self._tail()}")
            try:
                client.ping("")
                return self
            except DagsterUserCodeUnreachableError:  # not serving yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Dagster code server did not start in {self.startup_timeout:.0f} s; "
                                       f"its output: {self.log_path}\n{self._tail()}") from None
                time.sleep(0.5)

    def heartbeat(self) -> None:
        DagsterGrpcClient(port=self.port, host="127.0.0.1").heartbeat("unmogrowp")

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()


@dataclass
class RunResult:
    run_id: str
    job_name: str
    status: dg.DagsterRunStatus
    seconds: float
    materializations: dict[str, dict] = field(default_factory=dict)  # asset key -> metadata (last one)
    outputs: dict[str, dict] = field(default_factory=dict)  # step key -> output metadata
    checks: dict[str, bool] = field(default_factory=dict)  # "asset:check" -> passed
    warnings: set[str] = field(default_factory=set)  # failed checks of WARN severity (nothing blocked)
    failures: dict[str, str] = field(default_factory=dict)  # step key (or "run") -> error message

    @property
    def success(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS


def _root_message(error) -> str:
    """The message of the exception that caused ``error`` (Dagster wraps a step's own error)."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _plain(metadata: Mapping) -> dict:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


class Launcher:
    """Creates runs in ``instance`` from the code server's job snapshots and launches them through
    the instance's run launcher (not the queue: no daemon needed, and this process's settings apply)."""

    def __init__(self, instance: dg.DagsterInstance, server: CodeServer):
        self.instance, self.server = instance, server
        self._context = WorkspaceProcessContext(
            instance, GrpcServerTarget(host="127.0.0.1", port=server.port, socket=None, location_name=LOCATION_NAME))
        self._location = self._context.create_request_context().get_code_location(LOCATION_NAME)
        (self._repo,) = self._location.get_repositories().values()

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def node_names(self, job_name: str) -> set[str]:
        return set(self._repo.get_full_job(job_name).node_names)

    def launch(self, job_name: str, run_config: Mapping | None = None, tags: Mapping[str, str] | None = None) -> str:
        """Create the run (as the UI's Launch does) and hand it to the run launcher; returns its id."""
        run_config = dict(run_config or {})
        selector = JobSubsetSelector(location_name=LOCATION_NAME, repository_name=self._repo.name,
                                     job_name=job_name, op_selection=None)
        remote_job = self._location.get_job(selector)
        plan = self._location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None,
                                                 known_state=None, instance=self.instance).execution_plan_snapshot
        run = self.instance.create_run(
            job_name=job_name, run_id=None, run_config=run_config, resolved_op_selection=None,
            step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None, root_run_id=None,
            parent_run_id=None, tags={**remote_job.tags, **(tags or {})}, job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan, parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
            asset_selection=None, asset_check_selection=None, asset_graph=self._repo.asset_graph)
        self.instance.launch_run(run.run_id, self._context.create_request_context())
        return run.run_id

    def wait(self, run_id: str, on_step: Callable[[str, str], None] | None = None,
             poll_seconds: float = 1.0) -> RunResult:
        """Follow the run to its end, calling ``on_step(step_key, event)`` as steps start and end;
        Ctrl-C terminates the run."""
        cursor, t0, beat = None, time.monotonic(), 0.0
        try:
            while True:
                run = self.instance.get_run_by_id(run_id)
                page = self.instance.get_records_for_run(run_id, cursor=cursor, of_type=STEP_EVENTS)
                cursor = page.cursor
                for record in page.records:
                    entry = record.event_log_entry
                    if on_step and entry.step_key:
                        on_step(entry.step_key, entry.dagster_event_type.value)
                if run.is_finished and not page.has_more:
                    break
                if time.monotonic() - beat > 30:
                    self.server.heartbeat()
                    beat = time.monotonic()
                time.sleep(poll_seconds)
        except KeyboardInterrupt:
            self.instance.run_launcher.terminate(run_id)
            deadline = time.monotonic() + 60  # let the run worker record the cancel before the server stops
            while time.monotonic() < deadline and not self.instance.get_run_by_id(run_id).is_finished:
                time.sleep(1)
            raise
        storage = self.instance.event_log_storage
        if run.status != dg.DagsterRunStatus.SUCCESS and storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run_id)  # a step killed with its run keeps its pool slot
        return self.result(run_id, time.monotonic() - t0)

    def result(self, run_id: str, seconds: float = 0.0) -> RunResult:
        """What the run materialized, checked and failed, read back from the event log."""
        run = self.instance.get_run_by_id(run_id)
        result = RunResult(run_id, run.job_name, run.status, seconds)
        kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                 dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.STEP_OUTPUT,
                 dg.DagsterEventType.ENGINE_EVENT}
        for entry in self.instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            data = event.event_specific_data
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                result.materializations[data.materialization.asset_key.to_user_string()] = _plain(
                    data.materialization.metadata)
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                name = f"{data.asset_key.to_user_string()}:{data.check_name}"
                result.checks[name] = data.passed
                if not data.passed and data.severity == dg.AssetCheckSeverity.WARN:
                    result.warnings.add(name)
            elif event.event_type == dg.DagsterEventType.STEP_OUTPUT:
                if data.metadata:
                    result.outputs[event.step_key] = _plain(data.metadata)
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                result.failures[event.step_key] = _root_message(data.error) if data.error else "failed"
            elif event.event_type == dg.DagsterEventType.ENGINE_EVENT:
                if getattr(data, "error", None):  # e.g. a run worker that exited before finishing
                    result.failures.setdefault("run", f"{(entry.message or '').strip()} {_root_message(data.error)}")
            elif not result.failures:  # a run that failed outside any step
                result.failures["run"] = (entry.message or "run failed").strip()
        if not result.success and not result.failures:
            result.failures["run"] = f"run ended {run.status.value}"
        return result


class Progress:
    """One status line (runs done / total, the current step) on a terminal; a line per finished
    step otherwise. Full logs stay in Dagster."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.done, self.stream = total, 0, stream or sys.stdout
        self.tty = self.stream.isatty()
        self.job, self.started, self.steps = "", 0.0, {}

    def _write(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, job: str, run_id: str) -> None:
        self.job, self.started, self.steps = job, time.monotonic(), {}
        self._write(f"[{self.done}/{self.total}] {job} run {run_id[:8]} launched")

    def step(self, step_key: str, event: str) -> None:
        now = time.monotonic()
        if event == "STEP_START":
            self.steps[step_key] = now
            self._write(f"[{self.done}/{self.total}] {self.job}: {step_key} …")
        else:
            took = now - self.steps.pop(step_key, now)
            word = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}[event]
            self._write(f"[{self.done}/{self.total}] {self.job}: {step_key} {word} in {took:.0f} s",
                        final=not self.tty or event == "STEP_FAILURE")

    def finish(self, result: RunResult) -> None:
        self.done += 1
        self._write(f"[{self.done}/{self.total}] {result.job_name} {result.status.value} in {result.seconds:.0f} s "
                    f"(run {result.run_id})", final=True)


if __name__ == "__main__":  # `make demo` / `make dev`: the instance's dagster.yaml
    print(write_instance_config(sys.argv[1]))
