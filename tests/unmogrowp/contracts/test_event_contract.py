"""The event contract's validation SQL: one reason per rejected line, typed values for good ones."""

import datetime as dt
import json

import chdb
import pyarrow as pa
import pytest

from unmogrowp.contracts import COST_CONTRACT, EVENT_CONTRACT
from unmogrowp.contracts.events import EVENT_TYPES

GOOD_CLICK = {
    "event_id": "12345678-1234-4678-9234-567812345678", "app_id": "com.x", "event_type": "click",
    "event_ts": "2026-09-01T02:00:00.123Z", "received_ts": "2026-09-01T02:00:05.000Z",
    "platform": "android", "device_id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "ip": "81.2.3.4",
    "touch_id": "t1", "media_source": "net", "campaign_id": "c1", "is_retargeting": False,
}
GOOD_PURCHASE = {**{k: v for k, v in GOOD_CLICK.items() if k not in (
    "touch_id", "media_source", "campaign_id", "is_retargeting")},
    "event_type": "purchase", "revenue": 4.99, "currency": "EUR"}


def validate(lines, read_errors=None):
    raw = [line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()
           for line in lines]
    bronze = pa.table({"raw_line": pa.array(raw, pa.large_binary()),  # noqa: F841  (read by chDB)
                       "read_error": pa.array(read_errors or [None] * len(raw), pa.string()),
                       "n": pa.array(range(len(raw)))})
    conn = chdb.connect(":memory:")
    try:
        return conn.query(EVENT_CONTRACT.validation_sql("Python(bronze)", ("n",)), "ArrowTable").sort_by("n")
    finally:
        conn.close()


def reason(line, **kw):
    return validate([line], **kw)["reason"][0].as_py()


def test_good_events_pass_and_are_typed():
    out = validate([GOOD_CLICK, GOOD_PURCHASE, {**GOOD_CLICK, "event_ts": 1788228000123}])
    assert out["reason"].to_pylist() == [None, None, None]
    assert out["event_ts"][0].as_py() == dt.datetime(2026, 9, 1, 2, 0, 0, 123000, tzinfo=dt.UTC)
    assert out["event_ts"][2].as_py() == dt.datetime.fromtimestamp(1788228000.123, dt.UTC)  # epoch ms
    assert out["revenue"][1].as_py() == 4.99 and out["currency"][1].as_py() == "EUR"
    assert out["is_retargeting"][0].as_py() is False


def test_zeroed_device_id_means_absent():
    out = validate([{**GOOD_CLICK, "device_id": "00000000-0000-0000-0000-000000000000"}])
    assert out["reason"][0].as_py() is None and out["device_id"][0].as_py() is None


def test_optional_fields_may_be_absent_or_null():
    line = {**GOOD_CLICK, "ip": None, "country": None}
    del line["device_id"]
    assert reason(line) is None


@pytest.mark.parametrize("line,expected", [
    ('{"event_id": "x"', "malformed_json"),
    ("[1, 2, 3]", "malformed_json"),
    ("", "malformed_json"),
    (b'{"app_id": "\xff\xfe"}', "invalid_utf8"),
    ({**GOOD_CLICK, "eventTs": GOOD_CLICK["event_ts"]}, "unknown_field:eventTs"),  # a new/renamed field
    ({k: v for k, v in GOOD_CLICK.items() if k != "event_type"}, "missing_field:event_type"),
    ({**GOOD_CLICK, "event_type": "DROP TABLE raw.events"}, "unknown_event_type:DROP TABLE raw.events"),
    ({k: v for k, v in GOOD_CLICK.items() if k != "campaign_id"}, "missing_field:campaign_id"),
    ({k: v for k, v in GOOD_CLICK.items() if k != "received_ts"}, "missing_field:received_ts"),
    ({**GOOD_CLICK, "event_id": "not-a-uuid"}, "invalid_uuid:event_id"),
    ({**GOOD_CLICK, "platform": "windows"}, "invalid_value:platform"),
    ({**GOOD_CLICK, "event_ts": "yesterday"}, "invalid_timestamp:event_ts"),
    ({**GOOD_CLICK, "event_ts": "1970-01-01T00:00:00.000Z"}, "invalid_timestamp:event_ts"),
    ({**GOOD_CLICK, "event_ts": "2026-09-01T04:00:00.000Z"}, "event_ts_in_future"),
    ({**GOOD_CLICK, "event_ts": "2026-08-20T02:00:00.000Z"}, "too_late"),
    ({**GOOD_CLICK, "ip": "999.1.1.1"}, "invalid_ip:ip"),
    ({**GOOD_CLICK, "country": "usa"}, "invalid_country:country"),
    ({**GOOD_CLICK, "revenue": 1.0}, "field_not_allowed:revenue"),
    ({**GOOD_PURCHASE, "currency": "XYZ"}, "invalid_currency:currency"),
    ({**GOOD_PURCHASE, "revenue": -1}, "out_of_range:revenue"),
    ({**GOOD_PURCHASE, "revenue": 1e300}, "out_of_range:revenue"),
    ({**GOOD_PURCHASE, "revenue": "abc"}, "wrong_type:revenue"),
    ({k: v for k, v in GOOD_PURCHASE.items() if k != "currency"}, "missing_field:currency"),
    ({**GOOD_CLICK, "user_agent": "x" * 5000}, "too_long:user_agent"),
])
def test_each_rule_gives_its_reason(line, expected):
    assert reason(line) == expected


def test_read_errors_from_bronze_win():
    assert reason(GOOD_CLICK, read_errors=["truncated_gzip"]) == "truncated_gzip"


def test_every_event_type_has_a_valid_minimal_form():
    base = {k: GOOD_CLICK[k] for k in ("event_id", "app_id", "event_ts", "received_ts", "platform")}
    extra = {"impression": GOOD_CLICK, "click": GOOD_CLICK, "in_app_event": {"event_name": "level_up"},
             "purchase": {"revenue": 1.0, "currency": "USD"}, "ad_revenue": {"revenue": 0.01, "currency": "USD"}}
    lines = [{**base, **extra.get(t, {}), "event_type": t} for t in EVENT_TYPES]
    assert validate(lines)["reason"].to_pylist() == [None] * len(EVENT_TYPES)


def test_arrow_schemas_derive_from_the_contracts():
    schema = EVENT_CONTRACT.arrow_schema()
    assert schema.field("event_ts").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("revenue").type == pa.float64()
    assert schema.metadata[b"contract_version"] == b"1.0.0"
    assert COST_CONTRACT.arrow_schema().field("date").type == pa.date32()
