"""Server hardening (issue 15): slow clients are cut off, sessions are capped, GET is read-only.
One server of this module's own, with a 1 s read timeout and a cap of 3 sessions."""

import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from unmogrowp.net import free_port


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    home = tmp_path_factory.mktemp("hardening")
    state_file, port = home / "server.json", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unmogrowp.clickhouse.server", "--data", str(home / "data"), "--port", str(port),
         "--state-file", str(state_file), "--read-timeout", "1", "--max-sessions", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not state_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{json.loads(state_file.read_text())['port']}/"
    proc.terminate()
    proc.wait(60)


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Send ``trickle`` a byte every 0.2 s until the server closes; return after how many seconds."""
    start = time.monotonic()
    sock.settimeout(0.2)
    for i in range(int(seconds / 0.2)):
        try:
            if i < len(trickle):
                sock.send(trickle[i:i + 1])
            data = sock.recv(65536)
            if not data or b"HTTP/1.1" in data:
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return float("inf")


@pytest.mark.parametrize("head", [
    b"",  # connects and sends nothing
    b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100,  # a header, byte by byte
])
def test_slow_clients_are_cut_off(url, head):
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert _closed_within(sock, 6, head) < 3
    assert requests.post(url, data=b"SELECT 1").text == "1\n"  # the server still serves


def test_a_slow_query_body_is_cut_off(url):
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n")
        assert _closed_within(sock, 6, b"SELECT " + b" " * 52 + b"1") < 3


def test_insert_data_sent_byte_by_byte_is_cut_off(url):
    assert requests.post(url, data=b"CREATE TABLE slow (s String) ENGINE = MergeTree ORDER BY s").ok
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = b"INSERT INTO slow FORMAT TSV\n"
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (len(head) + 100) + head)
        assert _closed_within(sock, 8, b"x" * 100) < 4
    assert requests.post(url, data=b"SELECT count() FROM slow").text == "0\n"


def test_sessions_are_capped(url):
    def s(sid, sql="SELECT 1", **params):
        return requests.post(url, params={"session_id": sid, **params}, data=sql.encode())

    for sid in ("a", "b", "c"):
        assert s(sid, "SET max_threads = 1", session_timeout="1").ok
    resp = s("d")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "700" and "USER_SESSION_LIMIT_EXCEEDED" in resp.text
    assert s("a", "SELECT getSetting('max_threads')").text == "1\n"  # open sessions go on
    time.sleep(1.5)  # idle past their timeout: a new session makes room at once
    assert s("d").text == "1\n"
    resp = s("e", session_timeout="601")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "374"


def test_get_is_read_only(url, tmp_path):
    assert requests.post(url, data=b"CREATE TABLE g (x UInt8) ENGINE = MergeTree ORDER BY x").ok
    out = tmp_path / "get.out"
    for sql in ["INSERT INTO g VALUES (1)", "INSERT INTO g SELECT 1", "CREATE TABLE g2 (x UInt8) ENGINE = Memory",
                "ALTER TABLE g DELETE WHERE 1", "DROP TABLE g", "TRUNCATE TABLE g", "OPTIMIZE TABLE g",
                f"SELECT 1 INTO OUTFILE '{out}'", "\u00a0/* /* */ SELECT */ INSERT INTO g VALUES (1)",
                "SYSTEM FLUSH LOGS", "KILL QUERY WHERE 1"]:
        resp = requests.get(url, params={"query": sql})
        assert resp.headers.get("X-ClickHouse-Exception-Code") == "164", (sql, resp.text)
        assert "method GET implies readonly" in resp.text
    assert not out.exists()
    resp = requests.get(url, params={"query": "INSERT INTO g FORMAT CSV"}, data=b"1\n")
    assert resp.headers.get("X-ClickHouse-Exception-Code") == "164"
    assert requests.get(url, params={"query": "SELECT count() FROM g"}).text == "0\n"
    assert "g" in requests.get(url, params={"query": "SHOW TABLES"}).text.split()
    assert requests.get(url, params={"query": "SELECT {x:UInt8} + 1", "param_x": "1"}).text == "2\n"
    # POST writes, as before
    assert requests.post(url, data=b"INSERT INTO g VALUES (1)").ok
    assert requests.post(url, params={"query": "INSERT INTO g FORMAT CSV"}, data=b"2\n").ok
    assert requests.get(url, params={"query": "SELECT sum(x) FROM g"}).text == "3\n"
