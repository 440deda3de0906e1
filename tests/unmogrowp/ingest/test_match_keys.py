"""Attribution's key tables against a real ClickHouse server: the keys each touch and install gets,
per landing-hour replacement, the one-off build for a lake loaded before them, retention's deletion."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager
from unmogrowp.ingest import match_keys, warehouse

H1 = datetime(2026, 9, 1, 10, tzinfo=UTC)
H2 = H1 + timedelta(hours=1)
COLUMNS = ["landing_hour", "source_file", "line_number", "loaded_at", "event_id", "app_id", "event_type", "event_ts",
           "received_ts", "platform", "device_id", "idfv", "android_id", "ip", "user_agent", "touch_id",
           "media_source", "click_id", "is_retargeting"]


def _event(hour, event_id, event_type, device_id=None, ip=None, click_id=None, idfv=None, touch_id=None):
    ts = hour.replace(tzinfo=None) + timedelta(minutes=5)
    return [hour.replace(tzinfo=None), "f", 1, ts, event_id, "app", event_type, ts, ts, "ios", device_id, idfv, None,
            ip, "ua", touch_id or (event_id if event_type != "install" else None), "net", click_id, None]


ROWS = [
    _event(H1, "c_all", "click", device_id="d1", ip="10.0.0.1", click_id="ck1"),  # click id + device (no IP key)
    _event(H1, "c_ip", "click", ip="10.0.0.2", click_id="ck2"),  # click id + IP
    _event(H1, "v_ck", "impression", ip="10.0.0.3", click_id="ck3"),  # an impression's click id is no key
    _event(H1, "i_1", "install", device_id="d1", idfv="v1"),
    _event(H2, "c_h2", "click", device_id="d2"),
    _event(H2, "i_2", "install", device_id="d2"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: each test starts from a new raw database."""
    home = tmp_path_factory.mktemp("match_keys")
    _state, ch = private_clickhouse(home)
    yield ch
    manager.stop(home)


@pytest.fixture
def client(server):
    server.command("DROP DATABASE IF EXISTS raw SYNC")
    warehouse.ensure_tables(server)
    server.insert(warehouse.EVENTS_TABLE, ROWS, column_names=COLUMNS)
    match_keys.refresh(server, H1, H2 + timedelta(hours=1))
    return server


def _touch_keys(ch):
    return ch.query("SELECT event_id, match_kind, match_value, match_key = cityHash64(app_id, match_value), "
                    "has_device_id FROM raw.touch_keys ORDER BY 1, 2").result_rows


def test_every_touch_gets_the_keys_it_can_match_by(client):
    assert _touch_keys(client) == [
        ("c_all", "click_id", "ck1", True, True), ("c_all", "device_id", "d1", True, True),
        ("c_h2", "device_id", "d2", True, True),
        ("c_ip", "click_id", "ck2", True, False), ("c_ip", "ip", "10.0.0.2", True, False),
        ("v_ck", "ip", "10.0.0.3", True, False),
    ]
    installs = client.query("SELECT install_id, device_hash = cityHash64(app_id, {v:String}) FROM raw.install_keys "
                            "ORDER BY 1", parameters={"v": "v1"}).result_rows
    assert installs == [("i_1", True), ("i_2", False)]  # the IDFV first, then the ad id
    assert client.command("SELECT device_hash = cityHash64(app_id, 'd2') FROM raw.install_keys "
                          "WHERE install_id = 'i_2'")


def test_a_landing_hour_is_replaced_alone(client):
    # the IPs of hour 1 truncated in raw.events (retention), then the hour's keys refreshed
    client.command("ALTER TABLE raw.events UPDATE ip = '10.0.0.0/24' WHERE landing_hour = {h:DateTime64(3)} "
                   "SETTINGS mutations_sync = 2", parameters={"h": H1.replace(tzinfo=None)})
    client.command("ALTER TABLE raw.events DELETE WHERE event_id = 'c_all' SETTINGS mutations_sync = 2")
    match_keys.refresh(client, H1, H2)
    match_keys.refresh(client, H1, H2)  # a re-run gives the same rows
    assert _touch_keys(client) == [
        ("c_h2", "device_id", "d2", True, True),
        ("c_ip", "click_id", "ck2", True, False), ("c_ip", "ip", "10.0.0.0/24", True, False),
        ("v_ck", "ip", "10.0.0.0/24", True, False),
    ]


def test_built_once_for_a_lake_loaded_before_them_and_deleted_by_retention(client):
    before = _touch_keys(client)
    client.command(f"DROP TABLE {match_keys.TOUCH_KEYS} SYNC")
    client.command(f"DROP TABLE {match_keys.INSTALL_KEYS} SYNC")
    warehouse.ensure_tables(client)
    assert _touch_keys(client) == before
    assert client.command("SELECT count() FROM raw.install_keys") == 2
    assert match_keys.delete_before(client, H2) == 5 + 1  # hour 1's touch keys and install
    assert [r[0] for r in _touch_keys(client)] == ["c_h2"]
    assert client.query("SELECT install_id FROM raw.install_keys").result_rows == [("i_2",)]
