"""Hostile and corrupt input end to end (landing → bronze → silver → ClickHouse): every line is
loaded verbatim or quarantined with a reason, nothing is lost, and no value reaches ClickHouse as SQL."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager
from unmogrowp.ingest import events as ev
from unmogrowp.ingest import warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, event_key

HOUR = datetime(2026, 9, 1, 5, tzinfo=UTC)
SQL = "x'); DROP TABLE raw.events; --\\'\"`{p:String}"
PURCHASE = {"app_id": "com.x", "event_type": "purchase", "event_ts": "2026-09-01T05:10:00.000Z",
            "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios", "currency": "USD"}
BASE = {"app_id": "com.x", "event_type": "click", "event_ts": "2026-09-01T05:10:00.000Z",
        "received_ts": "2026-09-01T05:10:01.000Z", "platform": "android", "touch_id": "t",
        "media_source": "net", "campaign_id": "c"}


def uid(i: int) -> str:
    return f"{i:08d}-1234-4678-9234-567812345678"


@pytest.fixture
def own_clickhouse(tmp_path):
    """A ClickHouse server of this test's own (the load replaces an hour of raw.events)."""
    home = tmp_path / "ch"
    _state, client = private_clickhouse(home)
    yield client
    client.close()
    manager.stop(home)


def test_hostile_lines_are_loaded_verbatim_or_quarantined(tmp_path, own_clickhouse):
    text_fields = ("user_agent", "idfv", "android_id", "user_id", "os_version", "app_version", "sdk_version",
                   "touch_id", "media_source", "campaign_id", "adset_id", "ad_id", "site_id", "click_id")
    sql_everywhere = {**BASE, "event_id": uid(1), **dict.fromkeys(text_fields, SQL)}
    lines = [
        json.dumps(sql_everywhere),                                              # valid: stored verbatim
        json.dumps({**BASE, "event_id": uid(2), "user_agent": "Mozilla/5.0 😀 \u202e"}),  # valid unicode
        json.dumps({**PURCHASE, "event_id": uid(3), "revenue": float("nan")}),    # a NaN token
        json.dumps({**PURCHASE, "event_id": uid(4), "revenue": float("inf")}),    # an Infinity token
        json.dumps({**PURCHASE, "event_id": uid(5), "revenue": 1e308}),
        json.dumps({**BASE, "event_id": uid(6), "event_ts": "2100-01-01T00:00:00.000Z"}),
        json.dumps({**BASE, "event_id": uid(7), "event_ts": "1970-01-01T00:00:00.000Z"}),
        json.dumps({**BASE, "event_id": uid(8)})[:-1] + ', "nested": ' + "[" * 5000 + "]" * 5000 + "}",
        # 2 MiB: over the line limit, under the 8 MiB ratio floor
        json.dumps({**BASE, "event_id": uid(9), "user_agent": "a" * (2 * 1024 * 1024)}),
        json.dumps({**BASE, "event_id": uid(10), "user_agent": "UA-INVALID-UTF8"}),
        json.dumps({**BASE, "event_id": uid(11), "event_ts": 99999999999999999999}),   # huge number
    ]
    body = "\n".join(lines).encode().replace(b"UA-INVALID-UTF8", b"UA-\xff\xfe")
    store = LandingStore(str(tmp_path / "landing"))
    store.write_bytes(event_key("com.x", HOUR, "hostile"), gzip.compress(body + b"\n"))
    lake = Lake((tmp_path / "lake").as_uri())
    bronze = ev.load_bronze(lake, store, ev.event_files(store, HOUR, HOUR + timedelta(hours=1)), HOUR,
                            HOUR + timedelta(hours=1))
    silver = ev.build_silver(lake, HOUR, HOUR + timedelta(hours=1))
    assert bronze.lines == len(lines) and silver.reconciles and silver.landed == len(lines)
    assert silver.loaded == 2, silver.reasons
    q = lake.read(ev.QUARANTINE_EVENTS)
    by_line = dict(zip(q["line_number"].to_pylist(), q["reason"].to_pylist(), strict=True))
    assert by_line == {3: "malformed_json", 4: "malformed_json", 5: "out_of_range:revenue",
                       6: "event_ts_in_future", 7: "invalid_timestamp:event_ts", 8: "malformed_json",
                       9: "line_too_long", 10: "invalid_utf8", 11: "invalid_timestamp:event_ts"}
    assert sum(silver.reasons.values()) == len(lines) - 2

    client = own_clickhouse
    loaded = warehouse.load_events(client, lake, HOUR, HOUR + timedelta(hours=1))
    assert loaded == 2
    row = client.query("SELECT user_agent, media_source, site_id FROM raw.events WHERE event_id = {e:String}",
                       parameters={"e": uid(1)}).result_rows
    assert row == [(SQL, SQL, SQL)]
    assert client.command("EXISTS TABLE raw.events") == 1
