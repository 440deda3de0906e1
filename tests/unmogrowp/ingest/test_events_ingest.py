"""Landing → bronze → silver: exactly-once loading, reconciliation, dedup and quarantine."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc
import pytest

from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, event_key

START = datetime(2026, 9, 1, tzinfo=UTC)
END = START + timedelta(days=8)  # 4 days of use, uploads up to 3 days late


def ingest(lake, store, start=START, end=END):
    bronze = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
    return bronze, ev.build_silver(lake, start, end)


@pytest.fixture(scope="module")
def loaded(generated, tmp_path_factory):
    out, manifest = generated
    lake = Lake(tmp_path_factory.mktemp("lake").as_uri())
    store = LandingStore(str(out / "landing"))
    bronze, silver = ingest(lake, store)
    return lake, store, manifest, bronze, silver


def test_bronze_holds_every_landed_line_once(loaded):
    lake, store, manifest, bronze, _ = loaded
    assert bronze.files_loaded == manifest["event_files"]
    assert bronze.lines == manifest["lines_written"]
    assert bronze.file_errors == {"truncated_gzip": len(manifest["faults"]["truncated_files"])}
    replay = ev.load_bronze(lake, store, ev.event_files(store, START, END), START, END)
    assert (replay.files_loaded, replay.files_skipped, replay.lines) == (0, manifest["event_files"], 0)
    assert lake.read(ev.BRONZE_EVENTS, columns=["line_number"]).num_rows == manifest["lines_written"]


def test_silver_reconciles_and_matches_the_ground_truth(loaded):
    lake, _, manifest, _, silver = loaded
    faults = manifest["faults"]
    assert silver.reconciles
    assert silver.landed == manifest["lines_written"]
    cut = faults["lines_lost_in_truncation"] + len(faults["truncated_files"])  # lines a cut may hide
    assert faults["malformed_lines"] - cut <= silver.reasons["malformed_json"] <= faults["malformed_lines"]
    assert faults["renamed_field_lines"] - cut <= silver.reasons.get("unknown_field:eventTs", 0) \
        <= faults["renamed_field_lines"]
    assert silver.reasons.get("truncated_gzip", 0) <= len(faults["truncated_files"])
    # a retry whose original line was corrupted is the one copy that loads
    assert faults["duplicate_events"] - faults["malformed_lines"] - cut <= silver.duplicates \
        <= faults["duplicate_events"]
    table = lake.read(ev.SILVER_EVENTS, columns=["event_id"])
    assert table.num_rows == silver.loaded == pc.count_distinct(table["event_id"]).as_py()
    quarantine = lake.read(ev.QUARANTINE_EVENTS, columns=["reason"])
    assert quarantine.num_rows == silver.quarantined + silver.duplicates


def test_rerunning_silver_gives_identical_rows(loaded):
    lake, *_ = loaded
    before = lake.read(ev.SILVER_EVENTS).drop_columns(["loaded_at"]).sort_by("event_id")
    again = ev.build_silver(lake, START, END)
    after = lake.read(ev.SILVER_EVENTS).drop_columns(["loaded_at"]).sort_by("event_id")
    assert again.reconciles and after.equals(before)


def test_dedup_across_partitions_matches_one_window(generated, tmp_path):
    """Hour by hour (duplicates found in earlier partitions) equals one window over all hours."""
    out, _ = generated
    store = LandingStore(str(out / "landing"))
    end = START + timedelta(hours=10)
    whole = Lake((tmp_path / "whole").as_uri())
    _, one = ingest(whole, store, START, end)
    hourly = Lake((tmp_path / "hourly").as_uri())
    results = []
    for h in range(10):
        _, r = ingest(hourly, store, START + timedelta(hours=h), START + timedelta(hours=h + 1))
        results.append(r)
    assert sum(r.duplicates for r in results) == one.duplicates > 0
    ids = lambda lake: sorted(lake.read(ev.SILVER_EVENTS, columns=["event_id"])["event_id"].to_pylist())  # noqa: E731
    assert ids(hourly) == ids(whole)


GOOD = {"event_id": "12345678-1234-4678-9234-567812345678", "app_id": "com.x", "event_type": "session_start",
        "event_ts": "2026-09-01T05:10:00.000Z", "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios"}


def test_each_fault_kind_is_quarantined_with_its_reason(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    hour = START + timedelta(hours=5)
    good2 = {**GOOD, "event_id": "22345678-1234-4678-9234-567812345678"}
    lines = [
        json.dumps(GOOD),
        json.dumps(GOOD),  # a duplicate
        '{"event_id": "3',  # malformed
        json.dumps({**GOOD, "event_id": "42345678-1234-4678-9234-567812345678", "event_type": "teleport"}),
        json.dumps({k: v for k, v in good2.items() if k != "platform"}),  # missing required field
        json.dumps({**{k: v for k, v in good2.items() if k != "event_ts"}, "eventTime": GOOD["event_ts"]}),  # renamed
        json.dumps({**good2, "experiment": "b"}),  # a new field
        json.dumps({**good2, "app_id": "com.other"}),  # not the app of the landing path
    ]
    store.write_bytes(event_key("com.x", hour, "mixed"), gzip.compress("\n".join(lines).encode() + b"\n"))
    payload = "".join(json.dumps({**GOOD, "event_id": f"5{i:07d}-1234-4678-9234-567812345678"}) + "\n"
                      for i in range(3000)).encode()
    store.write_bytes(event_key("com.x", hour, "truncated"), gzip.compress(payload)[:-4000])
    store.write_bytes(event_key("com.x", hour, "plain"), b'{"not": "gzipped"}\n')
    lake = Lake((tmp_path / "lake").as_uri())
    bronze, silver = ingest(lake, store, hour, hour + timedelta(hours=1))
    assert bronze.file_errors == {"truncated_gzip": 1, "not_gzip": 1}
    assert silver.reconciles and silver.landed == bronze.lines
    assert silver.duplicates == 1
    assert dict(silver.reasons) == {
        "malformed_json": 1, "unknown_event_type:teleport": 1, "missing_field:platform": 1,
        "unknown_field:eventTime": 1, "unknown_field:experiment": 1, "app_id_mismatch": 1,
        "truncated_gzip": 1, "not_gzip": 1}
    q = lake.read(ev.QUARANTINE_EVENTS).sort_by([("source_file", "ascending"), ("line_number", "ascending")])
    raw = dict(zip(q["reason"].to_pylist(), q["raw_line"].to_pylist(), strict=True))
    assert raw["malformed_json"] == b'{"event_id": "3' and raw["not_gzip"] == b'{"not": "gzipped"}\n'
    assert silver.loaded == 1 + (bronze.lines - 8 - 1 - 1)  # GOOD, and the complete lines of the cut file


def test_the_engine_loads_silver_into_clickhouse_as_the_arrow_path_does(loaded, tmp_path, monkeypatch):
    """The server reads the local lake itself (no Python round trip): every column of every row the
    same as silver read here and inserted as Arrow, over data with every fault kind; a re-load of
    one hour replaces that hour."""
    from tests.conftest import private_clickhouse
    from unmogrowp.clickhouse import manager
    from unmogrowp.ingest import warehouse

    lake, _, _, _, silver = loaded
    _state, ch = private_clickhouse(tmp_path)
    try:
        warehouse.ensure_tables(ch)
        assert warehouse.engine_readable(ch, lake, ev.SILVER_EVENTS) == lake.uri(ev.SILVER_EVENTS)
        dump = "SELECT * FROM raw.events ORDER BY event_id"
        assert warehouse.load_events(ch, lake, START, END) == silver.loaded
        by_engine = ch.query_arrow(dump)
        hour = START + timedelta(days=1, hours=5)
        assert warehouse.load_events(ch, lake, hour, hour + timedelta(hours=1)) > 0
        assert ch.query_arrow(dump).equals(by_engine)
        with monkeypatch.context() as mp:
            mp.setattr(warehouse, "engine_readable", lambda *a: None)
            assert warehouse.load_events(ch, lake, START, END) == silver.loaded
        by_arrow = ch.query_arrow(dump)
        assert by_arrow.num_rows == silver.loaded
        assert by_arrow.equals(by_engine)
    finally:
        manager.stop(tmp_path)
