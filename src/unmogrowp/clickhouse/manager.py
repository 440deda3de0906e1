"""Start, stop and inspect the local ClickHouse server process.

State lives under ``<home>/clickhouse/``: ``data/`` (the chDB data directory), ``server.json``
(pid, port, data path, written by the server once it listens) and ``server.log``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.protocol import SERVER_NAME
from unmogrowp.net import port_is_free


class ServerError(RuntimeError):
    """The local server could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServerState:
    pid: int
    host: str
    port: int
    data_path: str
    version: str
    started_at: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _dir(home: Path) -> Path:
    return Path(home) / "clickhouse"


def _state_file(home: Path) -> Path:
    return _dir(home) / "server.json"


def ping(host: str, port: int, timeout: float = 1.0) -> str | None:
    """The server's display name if something answers ClickHouse's /ping there, else None."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ping", timeout=timeout) as resp:
            if resp.read() == b"Ok.\n":
                return resp.headers.get("X-ClickHouse-Server-Display-Name") or "clickhouse"
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(home: Path) -> ServerState | None:
    """The running server for ``home``, or None (a stale state file is removed)."""
    path = _state_file(home)
    try:
        state = ServerState(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    if _pid_alive(state.pid) and ping(state.host, state.port) == SERVER_NAME:
        return state
    if not _pid_alive(state.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return None


@contextlib.contextmanager
def _start_lock(home: Path):
    _dir(home).mkdir(parents=True, exist_ok=True)
    with open(_dir(home) / "start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def start(home: Path, port: int, host: str = "127.0.0.1", timeout_s: float = 60.0) -> tuple[ServerState, bool]:
    """Start the server in the background, or reuse the one already running for ``home``.

    Returns the state and whether a new process was started.
    """
    home = Path(home).resolve()
    with _start_lock(home):
        running = status(home)
        if running:
            if running.port != port:
                raise ServerError(
                    f"the local ClickHouse server for {home} already runs on port {running.port}, "
                    f"not {port}; stop it first (unmogrowp clickhouse stop)"
                )
            return running, False
        if not port_is_free(host, port):
            who = ping(host, port)
            if who == SERVER_NAME:
                raise ServerError(
                    f"port {port} is used by another unmogrowp ClickHouse server (another "
                    f"UNMOGROWP_HOME); choose another port with UNMOGROWP_CLICKHOUSE_PORT"
                )
            what = f"a ClickHouse server ({who})" if who else "another process"
            raise ServerError(f"port {host}:{port} is already taken by {what}; "
                              f"choose another port with UNMOGROWP_CLICKHOUSE_PORT")
        data = _dir(home) / "data"
        data.mkdir(parents=True, exist_ok=True)
        log_path = _dir(home) / "server.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "unmogrowp.clickhouse.server", "--data", str(data),
                 "--host", host, "--port", str(port), "--state-file", str(_state_file(home)),
                 "--tenants", str(tenancy.tenants_path(home))],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                # chDB's deltaLakeLocal reads only under the working directory (file() reads any
                # absolute path anyway, and tenants may use neither): from / it reads the lake wherever it is
                cwd="/",
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(f"the local ClickHouse server exited with code {proc.returncode}:\n"
                                  + _tail(log_path))
            state = status(home)
            if state and state.pid == proc.pid:
                return state, True
            time.sleep(0.1)
        proc.terminate()
        raise ServerError(f"the local ClickHouse server did not answer within {timeout_s:.0f} s:\n"
                          + _tail(log_path))


def stop(home: Path, timeout_s: float = 60.0) -> bool:
    """Stop the server for ``home`` gracefully (SIGTERM, then wait). False if none was running."""
    state = status(home)
    if state is None:
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _pid_alive(state.pid) or _is_zombie(state.pid):
            break
        time.sleep(0.1)
    else:
        raise ServerError(f"the local ClickHouse server (pid {state.pid}) did not stop within "
                          f"{timeout_s:.0f} s; it is still running")
    with contextlib.suppress(FileNotFoundError):
        _state_file(home).unlink()
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
