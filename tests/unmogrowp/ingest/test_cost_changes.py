"""A cost report rewritten under the same key replaces what its key loaded, and says so."""

import gzip
import hashlib
import json
import os
from datetime import UTC, date, datetime

from unmogrowp.ingest import cost as co
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, cost_key

DAY = date(2026, 9, 1)


def _report(store, key, spends: dict[str, float], mtime: float) -> None:
    rows = [{"date": DAY.isoformat(), "media_source": "net", "app_id": "com.x", "campaign_id": c,
             "pulled_at": "2026-09-02T00:00:00Z", "currency": "USD", "spend": s} for c, s in spends.items()]
    store.write_bytes(key, gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows)))
    os.utime(store.path / key, (mtime, mtime))


def _current(lake) -> dict[str, float]:
    t = lake.read(co.COST_CURRENT)
    return dict(zip(t["campaign_id"].to_pylist(), t["spend"].to_pylist(), strict=True))


def test_a_rewritten_cost_report_replaces_its_rows_and_an_untouched_one_loads_nothing(tmp_path):
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = cost_key("net", DAY, datetime(2026, 9, 2, tzinfo=UTC))
    _report(store, key, {"c1": 10.0, "c2": 5.0}, 1000)
    first = co.load_cost(lake, store, DAY, DAY)
    assert (first.files_loaded, first.rows_loaded, first.changed_keys) == (1, 2, [])

    os.utime(store.path / key, (2000, 2000))  # touched, same bytes: nothing to load
    touched = co.load_cost(lake, store, DAY, DAY)
    assert (touched.files_loaded, touched.files_skipped, touched.changed_keys) == (0, 1, [])

    _report(store, key, {"c1": 12.0, "c3": 1.0}, 3000)  # same key, new content (c2 withdrawn)
    changed = co.load_cost(lake, store, DAY, DAY)
    assert (changed.files_loaded, changed.rows_loaded, changed.changed_keys) == (1, 2, [key])
    assert _current(lake) == {"c1": 12.0, "c3": 1.0}
    loads = lake.read(co.COST_LOADS)
    assert loads.num_rows == 2 and set(loads["source_checksum"].to_pylist()) == {
        hashlib.sha256((store.path / key).read_bytes()).hexdigest()}

    again = co.load_cost(lake, store, DAY, DAY)
    assert (again.files_loaded, again.changed_keys) == (0, []) and _current(lake) == {"c1": 12.0, "c3": 1.0}


# -- review of issue 15: reports that were skipped forever -------------------------------------------
def test_a_too_large_report_replaced_by_a_valid_one_is_loaded(tmp_path):
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = cost_key("net", DAY, datetime(2026, 9, 2, tzinfo=UTC))
    store.write_bytes(key, b"\x1f\x8b" + os.urandom(5000))
    os.utime(store.path / key, (1000, 1000))
    first = co.load_cost(lake, store, DAY, DAY, max_file=1000)
    assert (first.files_loaded, first.rows_quarantined, first.reasons) == (1, 1, {"file_too_large": 1})
    assert co.load_cost(lake, store, DAY, DAY, max_file=1000).files_loaded == 0
    _report(store, key, {"c1": 3.0}, 2000)
    fixed = co.load_cost(lake, store, DAY, DAY, max_file=1000)
    assert (fixed.files_loaded, fixed.rows_loaded, fixed.changed_keys) == (1, 1, [key])
    assert _current(lake) == {"c1": 3.0} and lake.read(co.COST_QUARANTINE).num_rows == 0  # the old row replaced


def test_a_vanished_report_is_not_recorded_and_loads_when_it_reappears(tmp_path, monkeypatch):
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = cost_key("net", DAY, datetime(2026, 9, 2, tzinfo=UTC))
    _report(store, key, {"c1": 1.0}, 1000)
    listed = co.cost_files(store, DAY, DAY)
    monkeypatch.setattr(co, "cost_files", lambda *a: listed)
    (store.path / key).unlink()  # gone between listing and read
    gone = co.load_cost(lake, store, DAY, DAY)
    assert (gone.files_loaded, gone.files_vanished, gone.bad_keys) == (0, 1, {})
    monkeypatch.undo()
    _report(store, key, {"c1": 1.0}, 1000)
    back = co.load_cost(lake, store, DAY, DAY)
    assert (back.files_loaded, back.rows_loaded, back.changed_keys) == (1, 1, []) and _current(lake) == {"c1": 1.0}


def test_a_report_rewritten_after_a_load_without_checksums_replaces_it(tmp_path):
    """Rows of a load from before checksums (no size either) counted as unchanged forever; now a report
    modified after that load is loaded again and replaces them (`legacy_reloaded`)."""
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = cost_key("net", DAY, datetime(2026, 9, 2, tzinfo=UTC))
    _report(store, key, {"c1": 10.0, "c2": 5.0}, 1000)
    scratch = Lake((tmp_path / "scratch").as_uri())
    co.load_cost(scratch, store, DAY, DAY, now=datetime.fromtimestamp(1500, UTC))
    legacy = scratch.read(co.COST_LOADS).drop_columns(["source_checksum", "source_size", "source_modified"])
    lake.append(co.COST_LOADS, legacy, ["cost_date"])
    untouched = co.load_cost(lake, store, DAY, DAY)
    assert (untouched.files_loaded, untouched.files_skipped) == (0, 1)  # written before that load
    _report(store, key, {"c1": 12.0}, 3000)
    rewritten = co.load_cost(lake, store, DAY, DAY)
    assert (rewritten.files_loaded, rewritten.changed_keys, rewritten.legacy_reloaded) == (1, [key], [key])
    assert _current(lake) == {"c1": 12.0} and lake.read(co.COST_LOADS).num_rows == 1
    assert co.load_cost(lake, store, DAY, DAY).files_loaded == 0
