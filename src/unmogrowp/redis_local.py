"""A throwaway Debian redis-server on loopback (Feast's production online store, for tests and the demo)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from unmogrowp.net import free_port


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def start(directory: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start redis-server without persistence; returns the process and Feast's ``host:port``."""
    server = shutil.which("redis-server")
    if not server:
        raise RuntimeError("redis-server is not installed: `make` installs the Debian package redis-server")
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(directory)], stdout=subprocess.DEVNULL)
    wait_port(port)
    return proc, f"127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)
