"""Shared fixtures: one local ClickHouse server per test run, on a free port, in a temp home."""

import socket
from pathlib import Path

import clickhouse_connect
import pytest

from unmogrowp.clickhouse import manager

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def clickhouse_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def clickhouse_server(clickhouse_home):
    """The local ClickHouse server, started through the manager as `unmogrowp` does."""
    state, started = manager.start(clickhouse_home, free_port())
    assert started
    yield state
    manager.stop(clickhouse_home)


@pytest.fixture
def ch(clickhouse_server):
    """A clickhouse-connect client with its own session."""
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port)
    yield client
    client.close()
