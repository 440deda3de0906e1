"""The local ClickHouse server: chDB behind the ClickHouse HTTP interface on 127.0.0.1.

Standard clients (clickhouse-connect, dbt-clickhouse with ``driver: http``, curl) talk to it as
to a ClickHouse server. See README "Local ClickHouse server" for what is and is not supported.
This module is the process (``python -m unmogrowp.clickhouse.server``, which ``manager`` starts);
the package docstring lists the layers under it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.engine import Engine
from unmogrowp.clickhouse.handler import Handler
from unmogrowp.clickhouse.protocol import MAX_SESSION_TIMEOUT_S
from unmogrowp.clickhouse.transport import HttpServer

log = logging.getLogger("unmogrowp.clickhouse")

DEFAULT_MAX_SESSIONS = 64
DEFAULT_READ_TIMEOUT_S = 30.0  # ClickHouse's http_receive_timeout


class LocalServer(HttpServer):
    """The HTTP server with what its handlers share: the engine, the tenants and the limits."""

    def __init__(self, host: str, port: int, engine: Engine, tenants_file: str | None = None,
                 read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
                 max_session_timeout_s: float = MAX_SESSION_TIMEOUT_S):
        self.engine = engine
        self.max_session_timeout_s = max_session_timeout_s
        self.tenants = tenancy.Registry(Path(tenants_file) if tenants_file else None)
        super().__init__((host, port), Handler, read_timeout_s)


def _lock_data_dir(data_path: Path):
    """Hold an exclusive lock on the data directory for the life of this process."""
    data_path.mkdir(parents=True, exist_ok=True)
    handle = open(data_path / ".unmogrowp-server.lock", "a+")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        raise SystemExit(f"error: the data directory {data_path} is in use by {owner}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def serve(data_path: str, host: str = "127.0.0.1", port: int = 18123,
          state_file: str | None = None, drain_timeout_s: float = 30.0,
          tenants_file: str | None = None, read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
          max_sessions: int = DEFAULT_MAX_SESSIONS, max_session_timeout_s: float = MAX_SESSION_TIMEOUT_S) -> None:
    """Run the server in the foreground until SIGTERM/SIGINT, then shut down cleanly."""
    lock = _lock_data_dir(Path(data_path))
    try:
        engine = Engine(data_path, max_sessions=max_sessions)
        try:
            httpd = LocalServer(host, port, engine, tenants_file, read_timeout_s, max_session_timeout_s)
        except OSError as e:
            engine.close()
            raise SystemExit(f"error: cannot listen on {host}:{port}: {e.strerror}") from None
        stop = threading.Event()

        def _on_signal(signum, _frame):
            log.info("signal %s: shutting down", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        server_thread = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
        server_thread.start()
        if state_file:
            Path(state_file).write_text(json.dumps({
                "pid": os.getpid(), "host": host, "port": httpd.server_address[1],
                "data_path": str(Path(data_path).resolve()), "version": engine.version,
                "started_at": time.time(),
            }))
        log.info("serving %s on http://%s:%s (chDB %s)", data_path, host,
                 httpd.server_address[1], engine.version)
        while not stop.wait(5.0):
            engine.expire_sessions()
        httpd.shutdown()  # stop accepting
        if not httpd.drain(drain_timeout_s):
            log.warning("queries still running after %.0f s; closing anyway", drain_timeout_s)
        httpd.server_close()
        engine.close()
        if state_file:
            with contextlib.suppress(FileNotFoundError):
                Path(state_file).unlink()
        log.info("stopped")
    finally:
        lock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="chDB data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18123)
    parser.add_argument("--state-file")
    parser.add_argument("--tenants", help="tenant users file (tenancy.py); read again when it changes")
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S,
                        help="seconds to receive a request's head and query text, and without a byte of INSERT data")
    parser.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS)
    parser.add_argument("--max-session-timeout", type=float, default=MAX_SESSION_TIMEOUT_S)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.data, args.host, args.port, args.state_file, tenants_file=args.tenants, read_timeout_s=args.read_timeout,
          max_sessions=args.max_sessions, max_session_timeout_s=args.max_session_timeout)


if __name__ == "__main__":
    main()
