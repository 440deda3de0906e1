"""Process management of the local server: start, reuse, restart, port conflicts, shutdown."""

import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import REPO
from unmogrowp.clickhouse import manager
from unmogrowp.net import free_port

CLIENT_SCRIPT = r"""
import sys, clickhouse_connect
port, worker = int(sys.argv[1]), int(sys.argv[2])
c = clickhouse_connect.get_client(host="127.0.0.1", port=port)
for batch in range(20):
    c.insert("concurrent", [[worker, batch, i] for i in range(1000)], column_names=["w", "b", "i"])
    # read while the other process writes: our own rows so far are all there
    assert c.command(f"SELECT count() FROM concurrent WHERE w = {worker}") == (batch + 1) * 1000
print("ok")
"""


def test_two_processes_write_and_read_at_once(ch, clickhouse_server):
    ch.command("CREATE TABLE concurrent (w UInt8, b UInt16, i UInt32) ENGINE = MergeTree ORDER BY (w, b, i)")
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT_SCRIPT, str(clickhouse_server.port), str(w)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in (1, 2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert ch.query("SELECT w, count(), uniqExact(b, i) FROM concurrent GROUP BY w ORDER BY w").result_rows \
        == [(1, 20000, 20000), (2, 20000, 20000)]


def test_restart_keeps_data_and_second_start_reuses(tmp_path):
    port = free_port()
    state, started = manager.start(tmp_path, port)
    assert started
    again, started_again = manager.start(tmp_path, port)  # a second start reuses the running one
    assert not started_again and again.pid == state.pid
    sql = state.url + "/"
    requests.post(sql, data=b"CREATE TABLE kept (a UInt32) ENGINE = MergeTree ORDER BY a").raise_for_status()
    requests.post(sql, data=b"INSERT INTO kept SELECT number FROM numbers(12345)").raise_for_status()
    assert manager.stop(tmp_path)
    assert manager.status(tmp_path) is None
    assert not manager.stop(tmp_path)  # already stopped
    state2, started = manager.start(tmp_path, port)
    try:
        assert started and state2.pid != state.pid
        assert requests.post(state2.url + "/", data=b"SELECT count(), sum(a) FROM kept").text == "12345\t76193340\n"
    finally:
        manager.stop(tmp_path)


def test_graceful_shutdown_finishes_the_running_insert(tmp_path):
    state, _ = manager.start(tmp_path, free_port())
    url = state.url + "/"
    requests.post(url, data=b"CREATE TABLE slow (a UInt32) ENGINE = MergeTree ORDER BY a").raise_for_status()
    sent = threading.Event()

    def slow_body():
        yield b"INSERT INTO slow FORMAT TSV\n"
        for i in range(20):
            yield b"".join(b"%d\n" % (i * 1000 + j) for j in range(1000))
            sent.set()
            time.sleep(0.05)

    result = {}
    t = threading.Thread(target=lambda: result.update(resp=requests.post(url, data=slow_body())))
    t.start()
    sent.wait(10)
    assert manager.stop(tmp_path)  # SIGTERM while the insert is streaming
    t.join(30)
    assert result["resp"].status_code == 200
    state, _ = manager.start(tmp_path, state.port)
    try:
        assert requests.post(state.url + "/", data=b"SELECT count(), uniqExact(a) FROM slow").text == "20000\t20000\n"
    finally:
        manager.stop(tmp_path)


def test_port_taken_by_another_process_is_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(manager.ServerError, match=f"port 127.0.0.1:{port} is already taken by another process"):
            manager.start(tmp_path, port)
    assert manager.status(tmp_path) is None


def test_cli_start_status_stop(tmp_path):
    env = {"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_CLICKHOUSE_PORT": str(free_port()),
           "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "orchestration.cli", "clickhouse"]

    def run(action):
        return subprocess.run([*cli, action], env=env, capture_output=True, text=True, cwd=REPO, timeout=120)

    started = run("start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url == f"http://127.0.0.1:{env['UNMOGROWP_CLICKHOUSE_PORT']}"
    assert requests.get(url + "/ping").text == "Ok.\n"
    assert "already running" in run("start").stderr
    status = run("status")
    assert status.returncode == 0 and status.stdout.startswith("running") and url in status.stdout
    assert run("stop").stdout.strip() == "stopped"
    assert run("status").returncode == 3
