"""The landing zone loses nothing and is not a way in (issue 15): keys outside the layout, size
limits and gzip bombs, changed objects, symlinks, erased identifiers and two runs at once."""

import gzip
import json
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from unmogrowp.ingest import cost as co
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import (
    LINE_PREFIX_BYTES,
    MAX_COMPRESSION_RATIO,
    MAX_FILE_BYTES,
    RATIO_FLOOR_BYTES,
    LandingStore,
    cost_key,
    decode_ndjson_gz,
    event_key,
    key_problem,
)
from unmogrowp.privacy.keys import DEFAULT_KEY

DAY = datetime(2026, 9, 1, tzinfo=UTC)
HOUR = DAY + timedelta(hours=5)
GOOD = {"app_id": "com.x", "event_type": "session_start", "event_ts": "2026-09-01T05:10:00.000Z",
        "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios"}
MTIME = (DAY + timedelta(hours=3)).timestamp()  # the hour an object naming no valid date belongs to


def uid(i: int) -> str:
    return f"{i:08d}-1234-4678-9234-567812345678"


def batch(first: int, n: int, **extra) -> bytes:
    return gzip.compress("".join(json.dumps({**GOOD, "event_id": uid(first + i), **extra}) + "\n"
                                 for i in range(n)).encode())



def ingest(lake, store, start=DAY, end=DAY + timedelta(days=1), **limits):
    bronze = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end, **limits)
    return bronze, ev.build_silver(lake, start, end)


# -- keys outside the layout -----------------------------------------------------------------------
# (key relative to events/ or cost/ with {d} for the date part, expected sub-reason)
BAD_EVENT_KEYS = [
    ("app_id=com.x/dt=2026-09-01/hr=24/b.json.gz", "hour"),
    ("app_id=com.x/dt=2026-09-01/hr=5/b.json.gz", "hour"),
    ("app_id=com.x/dt=2026-09-01/hr=٠٥/b.json.gz", "hour"),  # Unicode digits
    ("app_id=com.x/dt=2026-09-01/b.json.gz", "depth"),  # one level too high
    ("app_id=com.x/dt=2026-09-01/hr=05/extra/b.json.gz", "depth"),
    ("app_id=com.x/b.json.gz", "depth"),
    ("b.json.gz", "depth"),
    ("app_id=com.x/dt=2026-09-01/hr=05/.hidden.json.gz", "hidden"),
    ("app_id=com.x/dt=2026-09-01/.tmp/hr=05/b.json.gz", "hidden"),
    ("app_id=com.x/dt=2026-09-01/hr=05/notes.txt", "name"),
    ("app_id=com.x/dt=2026-09-01/hr=05/b.json.gz\n", "name"),
    ("app_id=../dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=./dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=com x/dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=com\nx/dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=/dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=" + "a" * 201 + "/dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("appid=com.x/dt=2026-09-01/hr=05/b.json.gz", "app_id"),
    ("app_id=com.x/dt=2026-02-30/hr=05/b.json.gz", "date"),
    ("app_id=com.x/dt=2026-9-01/hr=05/b.json.gz", "date"),
    ("app_id=com.x/dt=someday/hr=05/b.json.gz", "date"),
]
BAD_COST_KEYS = [
    ("media_source=net/dt=2026-09-01/extra/p.json.gz", "depth"),
    ("media_source=net/p.json.gz", "depth"),
    ("p.json.gz", "depth"),
    ("media_source=net/dt=2026-09-01/.p.json.gz", "hidden"),
    ("media_source=net/dt=2026-09-01/p.csv", "name"),
    ("media_source=../dt=2026-09-01/p.json.gz", "media_source"),
    ("media_source=net x/dt=2026-09-01/p.json.gz", "media_source"),
    ("media_source=net/dt=2026-13-01/p.json.gz", "date"),
]


@pytest.mark.parametrize("kind,key,why", [("events", k, w) for k, w in BAD_EVENT_KEYS]
                         + [("cost", k, w) for k, w in BAD_COST_KEYS])
def test_key_problem_names_each_bad_key(kind, key, why):
    assert key_problem(f"{kind}/{key}") == why


@pytest.mark.parametrize("app", ["com.x", "A", "app_1-2.3", "9" * 200])
def test_app_ids_of_the_pattern_are_accepted(app):
    assert key_problem(event_key(app, HOUR, "b1")) is None


def _write_raw(root: Path, key: str, data: bytes, mtime: float = MTIME) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_every_bad_event_key_is_quarantined_and_reconciled(tmp_path):
    root = tmp_path / "landing"
    store = LandingStore(str(root))
    store.write_bytes(event_key("com.x", HOUR, "good"), batch(0, 3))
    for key, _ in BAD_EVENT_KEYS:
        _write_raw(root, f"events/{key}", batch(100, 2))
    (root / "events/app_id=com.x/dt=2026-09-01/hr=06/b.json.gz").mkdir(parents=True)  # a directory, not a file
    outside = tmp_path / "secret.json.gz"
    outside.write_bytes(batch(900, 1, user_id="SECRET"))
    (root / "events/app_id=com.x/dt=2026-09-01/hr=05/link.json.gz").symlink_to(outside)
    lake = Lake((tmp_path / "lake").as_uri())
    bronze, silver = ingest(lake, store)  # hr=24 used to fail the whole day
    expected = {f"bad_landing_key:{w}" for _, w in BAD_EVENT_KEYS} | {
        "bad_landing_key:directory", "bad_landing_key:symlink_outside_root"}
    assert set(bronze.bad_keys) == expected
    # the hr=06/b.json.gz directory, and extra/ and .tmp/hr=05/ (directories where a batch file belongs)
    assert bronze.bad_keys["bad_landing_key:directory"] == 3
    assert sum(bronze.bad_keys.values()) == len(BAD_EVENT_KEYS) + 4
    assert silver.reconciles and silver.loaded == 3
    assert silver.landed == 3 + len(BAD_EVENT_KEYS) + 4
    q = lake.read(ev.QUARANTINE_EVENTS)
    bad = {k: r for k, r in zip(q["source_file"].to_pylist(), q["reason"].to_pylist(), strict=True)
           if r.startswith("bad_landing_key")}
    for key, why in BAD_EVENT_KEYS:
        assert bad[f"events/{key}"] == f"bad_landing_key:{why}"
    assert all(line is None for line, r in zip(q["raw_line"].to_pylist(), q["reason"].to_pylist(), strict=True)
               if r.startswith("bad_landing_key"))
    assert b"SECRET" not in b"".join(x or b"" for x in lake.read(ev.BRONZE_EVENTS)["raw_line"].to_pylist())
    # the hour a key names, hour 00 of its date, or the hour it was modified
    hours = dict(zip(q["source_file"].to_pylist(), q["landing_hour"].to_pylist(), strict=True))
    assert hours["events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz"] == DAY
    assert hours["events/app_id=../dt=2026-09-01/hr=05/b.json.gz"] == HOUR
    assert hours["events/app_id=com.x/dt=2026-02-30/hr=05/b.json.gz"] == DAY + timedelta(hours=3)
    again, _ = ingest(lake, store)  # recorded once
    assert (again.files_loaded, again.bad_keys) == (0, {})


def test_every_bad_cost_key_is_quarantined(tmp_path):
    root = tmp_path / "landing"
    store = LandingStore(str(root))
    row = {"date": "2026-09-01", "media_source": "net", "app_id": "com.x", "campaign_id": "c1",
           "pulled_at": "2026-09-02T00:00:00Z", "currency": "USD", "spend": 1.5}
    good = cost_key("net", date(2026, 9, 1), datetime(2026, 9, 2, tzinfo=UTC))
    store.write_bytes(good, gzip.compress(json.dumps(row).encode() + b"\n"))
    for key, _ in BAD_COST_KEYS:
        _write_raw(root, f"cost/{key}", gzip.compress(json.dumps(row).encode() + b"\n"))
    lake = Lake((tmp_path / "lake").as_uri())
    r = co.load_cost(lake, store, date(2026, 9, 1), date(2026, 9, 1))
    extra_dir = "cost/media_source=net/dt=2026-09-01/extra/"  # a directory where a report file belongs
    assert set(r.bad_keys) == {f"bad_landing_key:{w}" for _, w in BAD_COST_KEYS} | {"bad_landing_key:directory"}
    assert sum(r.bad_keys.values()) == len(BAD_COST_KEYS) + 1 and r.files_loaded == len(BAD_COST_KEYS) + 2
    assert r.rows_loaded == 1
    q = lake.read(co.COST_QUARANTINE)
    assert dict(zip(q["source_file"].to_pylist(), q["reason"].to_pylist(), strict=True)) == {
        **{f"cost/{k}": f"bad_landing_key:{w}" for k, w in BAD_COST_KEYS}, extra_dir: "bad_landing_key:directory"}
    assert co.load_cost(lake, store, date(2026, 9, 1), date(2026, 9, 1)).files_loaded == 0


def test_the_sensor_and_bronze_no_longer_crash_on_hr_24(tmp_path):
    store = LandingStore(str(tmp_path))
    store.write_bytes("events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz", batch(0, 1))
    [f] = store.list()
    assert f.bad_key == "bad_landing_key:hour" and f.landing_hour == DAY
    assert ev.landing_range(store) == (DAY, DAY + timedelta(hours=1))


# -- size limits -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size,too_long", [(999, False), (1000, False), (1001, True), (50_000, True)])
def test_lines_just_below_and_above_the_limit(size, too_long):
    line = b"x" * size
    for data in (gzip.compress(b"a\n" + line + b"\nb\n"), gzip.compress(b"a\n" + line)):
        d = decode_ndjson_gz(data, max_line=1000, max_file=10**6)
        assert d.lines[0] == b"a"
        assert d.lines[1] == (line[:min(LINE_PREFIX_BYTES, 1000)] if too_long else line)
        assert d.long_lines == (((1, size),) if too_long else ())


@pytest.mark.parametrize("size,too_large", [(10**5, False), (10**5 + 1, True)])
def test_files_just_below_and_above_the_limit(size, too_large):
    data = gzip.compress(b"x" * (size - 1) + b"\n")
    d = decode_ndjson_gz(data, max_line=10**6, max_file=10**5)
    assert (d.file_error == "file_too_large") == too_large and (d.text == b"") == too_large


def test_a_long_line_is_quarantined_with_its_prefix_and_size(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    long_line = json.dumps({**GOOD, "event_id": uid(1), "user_agent": "a" * 5000}).encode()
    store.write_bytes(event_key("com.x", HOUR, "b"), gzip.compress(long_line + b"\n" + gzip.decompress(batch(2, 2))))
    lake = Lake((tmp_path / "lake").as_uri())
    bronze, silver = ingest(lake, store, max_line=4096)
    assert bronze.long_lines == 1 and silver.reasons == {"line_too_long": 1} and silver.loaded == 2
    b = lake.read(ev.BRONZE_EVENTS).sort_by("line_number")
    assert b["line_bytes"].to_pylist() == [len(long_line), None, None]
    assert b["raw_line"][0].as_py() == long_line[:LINE_PREFIX_BYTES]
    assert silver.reconciles


# this process's own peak RSS: ru_maxrss would keep the peak of the (large) pytest process that forked it
PEAK_RSS = """
def peak_rss_kb():
    with open("/proc/self/status") as fh:
        return int(next(x for x in fh if x.startswith("VmHWM")).split()[1])
"""


_BOMB = r"""
import gzip, json, sys, zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
import pyarrow.parquet as pq
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, event_key

tmp, mib = Path(sys.argv[1]), int(sys.argv[2])
day = datetime(2026, 9, 1, tzinfo=UTC)
good = {"app_id": "com.x", "event_type": "session_start", "event_ts": "2026-09-01T05:10:00.000Z",
        "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios"}
def line(i, hour):
    return json.dumps({**good, "event_id": f"{i:08d}-1234-4678-9234-567812345678",
                       "event_ts": f"2026-09-01T{hour:02d}:10:00.000Z",
                       "received_ts": f"2026-09-01T{hour:02d}:10:01.000Z"}).encode() + b"\n"
c = zlib.compressobj(9 if mib <= 256 else 1, zlib.DEFLATED, 31)  # level 1: the 1 GiB bomb builds in 1.5 s
parts = [c.compress(line(1, 5) + b'{"user_agent": "')]
block = b"a" * (1 << 20)
for _ in range(mib):  # one line of mib MiB, built in steps: never in memory whole
    parts.append(c.compress(block))
parts += [c.compress(b'"}\n' + line(2, 5)), c.flush()]
store = LandingStore(str(tmp / "landing"))
bomb = b"".join(parts)
store.write_bytes(event_key("com.x", day + timedelta(hours=5), "bomb"), bomb)
for h in (5, 6, 7):
    store.write_bytes(event_key("com.x", day + timedelta(hours=h), f"good{h}"), gzip.compress(line(10 + h, h)))
lake = Lake((tmp / "lake").as_uri())
start, end = day, day + timedelta(days=1)
bronze = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
hours = [ev.build_silver(lake, day + timedelta(hours=h), day + timedelta(hours=h + 1)) for h in (5, 6, 7)]
biggest = max(p.stat().st_size for p in (tmp / "lake").rglob("*.parquet"))
for p in (tmp / "lake").rglob("*.parquet"):
    pq.read_table(p)
print(json.dumps({"gzip": len(bomb), "bronze_lines": bronze.lines, "file_errors": bronze.file_errors,
                  "long_lines": bronze.long_lines, "reasons": [h.reasons for h in hours],
                  "loaded": [h.loaded for h in hours], "reconciles": all(h.reconciles for h in hours),
                  "biggest_parquet": biggest, "rss_kb": peak_rss_kb()}))
"""


@pytest.mark.parametrize("mib", [256, 1024])
def test_gzip_bombs_reach_no_parquet_file_and_stay_small_in_memory(tmp_path, mib):
    """The issue's payloads: a ~261 KB gzip of one 256 MiB line (bronze wrote an 805 MB Parquet file
    that could not be read back; silver of every later hour failed) and a 1 GiB one-line bomb (6 GB RSS).
    The first inflates ~1000x (``compression_ratio``), the second passes 64 MiB (``file_too_large``)."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS + _BOMB, str(tmp_path), str(mib)], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["gzip"] < (1.2 if mib <= 256 else 5) * 1024 * mib  # 261 KB for 256 MiB, as in the issue
    assert r["biggest_parquet"] < 1 << 20 and r["reconciles"]
    assert r["rss_kb"] < 1.5 * 1024 * 1024, r
    why = "compression_ratio" if mib == 256 else "file_too_large"
    # the file is one quarantined row, the later hours build
    assert r["file_errors"] == {why: 1} and r["reasons"][0] == {why: 1} and r["loaded"] == [1, 1, 1]


# -- changed objects -------------------------------------------------------------------------------
def test_a_rewritten_file_is_loaded_again_as_its_next_version(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    key = event_key("com.x", HOUR, "b")
    store.write_bytes(key, batch(0, 3))
    lake = Lake((tmp_path / "lake").as_uri())
    first, _ = ingest(lake, store)
    assert first.changed_files == []
    path = tmp_path / "landing" / key
    os.utime(path, (path.stat().st_mtime + 10,) * 2)  # touched, same bytes: nothing new
    touched, _ = ingest(lake, store)
    assert (touched.files_loaded, touched.files_skipped) == (0, 1)
    store.write_bytes(key, batch(0, 5))  # same key, two new lines
    second, silver = ingest(lake, store)
    assert second.changed_files == [key] and second.lines == 5
    assert silver.reconciles and silver.loaded == 5 and silver.duplicates == 3
    b = lake.read(ev.BRONZE_EVENTS)
    assert sorted(set(b["source_version"].to_pylist())) == [1, 2] and len(set(b["source_checksum"].to_pylist())) == 2
    assert ingest(lake, store)[0].files_loaded == 0


# -- erased identifiers ----------------------------------------------------------------------------
def test_erased_identifiers_are_dropped_at_ingestion_and_counted(tmp_path):
    from unmogrowp.privacy import erasure_list

    store = LandingStore(str(tmp_path / "landing"))
    raw = gzip.decompress(batch(0, 3, user_id="keep-me")) + gzip.decompress(batch(10, 2, user_id="erase-me"))
    store.write_bytes(event_key("com.x", HOUR, "b"), gzip.compress(raw))
    lake = Lake((tmp_path / "lake").as_uri())
    assert erasure_list.record(lake, ["erase-me"], "test-key") == 1
    with pytest.raises(ValueError, match="needs the privacy key"):  # never a silent development key
        ingest(lake, store)
    bronze, silver = ingest(lake, store, privacy_key="test-key")
    assert (bronze.lines, bronze.lines_erased) == (3, 2)  # a file's lines = bronze lines + erased
    assert silver.loaded == 3 and silver.reconciles
    assert b"erase-me" not in b"".join(lake.read(ev.BRONZE_EVENTS)["raw_line"].to_pylist())
    assert lake.read(ev.BRONZE_EVENTS)["line_number"].to_pylist() == [1, 2, 3]


# -- two runs at once ------------------------------------------------------------------------------
def _load_at_barrier(landing: str, lake_uri: str, barrier, out) -> None:
    store, lake = LandingStore(landing), Lake(lake_uri)
    files = ev.event_files(store, DAY, DAY + timedelta(days=1))
    barrier.wait()
    r = ev.load_bronze(lake, store, files, DAY, DAY + timedelta(days=1))
    out.put((r.files_loaded, r.files_skipped))  # skipped: lost the race to the lock, or found them loaded


def test_two_runs_at_the_same_instant_load_each_file_once(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    for h in range(24):
        for b in range(2):
            store.write_bytes(event_key("com.x", DAY + timedelta(hours=h), f"b{b}"), batch(h * 100 + b * 10, 10))
    lake_uri = (tmp_path / "lake").as_uri()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_load_at_barrier, args=(str(tmp_path / "landing"), lake_uri, barrier, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    results = sorted(out.get(timeout=5) for _ in procs)
    # one run loaded all, the other none (it lost the race or, started late under load, found them loaded)
    assert sum(r[0] for r in results) == 48 and results[0] == (0, 48)
    lake = Lake(lake_uri)
    b = lake.read(ev.BRONZE_EVENTS, columns=["source_file"])
    assert b.num_rows == 480 and len(set(b["source_file"].to_pylist())) == 48
    assert ev.build_silver(lake, DAY, DAY + timedelta(days=1)).reconciles


def test_a_doubled_bronze_load_fails_the_reconciliation(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    store.write_bytes(event_key("com.x", HOUR, "b"), batch(0, 5))
    lake = Lake((tmp_path / "lake").as_uri())
    _, silver = ingest(lake, store)
    assert silver.reconciles and silver.doubled == 0
    lake.append(ev.BRONZE_EVENTS, lake.read(ev.BRONZE_EVENTS), ["landing_date"])  # what two runs used to do
    again = ev.build_silver(lake, DAY, DAY + timedelta(days=1))
    assert again.landed == again.loaded + again.duplicates + again.quarantined  # the old check said OK
    assert again.doubled == 5 and not again.reconciles


def test_bronze_events_asset_reports_bad_keys_instead_of_failing(tmp_path):
    """The issue's payload: a directory hr=24 failed `bronze_events` for the whole day."""
    import dagster as dg

    from assets.ingest import bronze_events, silver_events
    from assets.resources import LakeResource, LandingResource, PrivacyResource

    store = LandingStore(str(tmp_path / "landing"))
    store.write_bytes(event_key("com.x", DAY, "good"), batch(0, 2))
    store.write_bytes("events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz", batch(10, 2))
    result = dg.materialize([bronze_events, silver_events], partition_key="2026-09-01-00:00", resources={
        "lake": LakeResource(root_uri=(tmp_path / "lake").as_uri()),
        "landing": LandingResource(root_uri=str(tmp_path / "landing")),
        "privacy": PrivacyResource(privacy_key=DEFAULT_KEY, audit_salt=DEFAULT_KEY)})
    assert result.success
    meta = {m.asset_key.to_user_string(): m.metadata
            for m in (e.materialization for e in result.get_asset_materialization_events())}
    assert meta["bronze_events"]["bad_landing_keys"].data == {"bad_landing_key:hour": 1}
    assert meta["silver_events"]["quarantine_reasons"].data == {"bad_landing_key:hour": 1}
    assert meta["silver_events"]["loaded"].value == 2
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_the_ingest_assets_hold_the_landing_pool():
    from assets.ingest import LANDING_POOL, bronze_events, cost_reports

    for asset in (bronze_events, cost_reports):
        assert asset.op.pool == LANDING_POOL


# -- review of issue 15: size limits near real batches, bounded commits --------------------------------
def test_generated_batches_are_far_below_the_file_and_ratio_limits(tmp_path):
    """The limits are set from what `unmogrowp generate` writes (measured 1.4-5.2x, under 3 MB a batch
    at 9k installs a day): a real batch must stay an order of magnitude below both."""
    from unmogrowp.generator.simulate import SimConfig
    from unmogrowp.generator.writer import generate

    generate(str(tmp_path), 1, date(2026, 9, 1), date(2026, 9, 1), seed=3, config=SimConfig(installs_per_day=300),
             progress=False, truncated_file_share=0.0)
    sizes = [(p.stat().st_size, len(gzip.decompress(p.read_bytes())))
             for p in (tmp_path / "landing").rglob("*.json.gz")]
    assert sizes
    assert max(d / s for s, d in sizes) < MAX_COMPRESSION_RATIO / 10
    assert max(d for _, d in sizes) < MAX_FILE_BYTES / 16


@pytest.mark.parametrize("mib,why", [(7, None), (9, "compression_ratio")])
def test_a_file_inflating_past_the_ratio_is_refused_once_over_the_floor(mib, why):
    """A file of a long `aaa…` line inflates ~1000x: under the 8 MiB floor the line is cut to a prefix
    (the rest of the file loads), over it the whole file is one `compression_ratio` row."""
    assert RATIO_FLOOR_BYTES == 8 << 20
    data = gzip.compress(b'{"a":1}\n' + b"a" * (mib << 20) + b"\n" + b'{"b":2}\n')
    d = decode_ndjson_gz(data)
    assert d.file_error == why
    if why is None:
        assert d.lines[0] == b'{"a":1}' and d.lines[2] == b'{"b":2}' and d.long_lines == ((1, mib << 20),)
    else:
        assert d.text == b"" and d.size <= (mib << 20) + (8 << 20)
    # a file under the floor that is not compressible at all is not refused, whatever its ratio
    assert decode_ndjson_gz(gzip.compress(b"x\n" * 1000), max_ratio=1.5).file_error is None


_THREE_SMALL_GZIPS = r"""
import json, sys, zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore

tmp = Path(sys.argv[1])
c = zlib.compressobj(9, zlib.DEFLATED, 31)
block = (b'{"event_id":"' + b"x" * 1000 + b'"}\n') * 1000
blob = b"".join(c.compress(block) for _ in range(500)) + c.flush()  # 1.09 MB -> 508 MB of 1 KB lines
store = LandingStore(str(tmp / "landing"))
for i in range(3):
    store.write_bytes(f"events/app_id=com.x/dt=2026-09-01/hr=05/b{i}.json.gz", blob)
del block
lake = Lake((tmp / "lake").as_uri())
start = datetime(2026, 9, 1, tzinfo=UTC)
base = peak_rss_kb()
r = ev.load_bronze(lake, store, ev.event_files(store, start, start + timedelta(days=1)), start,
                   start + timedelta(days=1))
print(json.dumps({"gzip": len(blob), "file_errors": r.file_errors, "lines": r.lines, "base_kb": base,
                  "rss_kb": peak_rss_kb(),
                  "parquet": sum(p.stat().st_size for p in (tmp / "lake").rglob("*.parquet"))}))
"""


def test_three_small_gzips_of_500_mb_each_stay_out_of_bronze_and_memory(tmp_path):
    """The review's payload: three 1.09 MB gzips each inflating to 508 MB of 1 KB lines (under the old
    512 MiB limit) took `load_bronze` to 6 GB RSS and wrote 1.5 GB of Parquet."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS + _THREE_SMALL_GZIPS, str(tmp_path)], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["gzip"] < 1.2e6 and r["file_errors"] == {"file_too_large": 3} and r["lines"] == 3
    assert r["parquet"] < 1 << 20
    assert r["rss_kb"] - r["base_kb"] < 400 * 1024, r  # two 64 MiB decodes at a time at most


_MANY_FILES = r"""
import json, os, sys, zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, event_key

tmp, n_files, mib, max_commit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
day = datetime(2026, 9, 1, tzinfo=UTC)
text = os.urandom(mib << 19).hex().encode()  # hex lines inflate ~2x, like real batches
c = zlib.compressobj(6, zlib.DEFLATED, 31)
blob = b"".join(c.compress(b'{"event_id":"' + text[i:i + 600] + b'"}\n') for i in range(0, len(text), 600)) + c.flush()
del text
store = LandingStore(str(tmp / "landing"))
for i in range(n_files):
    store.write_bytes(event_key("com.x", day + timedelta(hours=i % 24), f"b{i}"), blob)
del blob
lake = Lake((tmp / "lake").as_uri())
base = peak_rss_kb()
start, end = day, day + timedelta(days=1)
r = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end, max_commit=max_commit)
rows = lake.read(ev.BRONZE_EVENTS, columns=["source_file", "loaded_at", "line_number"])
per_file = rows.group_by("source_file").aggregate([("line_number", "count"), ("line_number", "count_distinct")])
again = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end, max_commit=max_commit)
print(json.dumps({"commits": r.commits, "files_loaded": r.files_loaded, "version": lake.version(ev.BRONZE_EVENTS),
                  "files": per_file.num_rows, "lines_per_file": sorted(set(per_file["line_number_count"].to_pylist())),
                  "distinct_per_file": sorted(set(per_file["line_number_count_distinct"].to_pylist())),
                  "again": [again.files_loaded, again.files_skipped], "base_kb": base,
                  "rss_kb": peak_rss_kb()}))
"""


def test_a_long_window_commits_in_bounded_appends_each_file_once(tmp_path):
    """16 files of 16 MiB decoded (each under the limits, 256 MiB in all) with a 32 MiB commit bound:
    several appends, every file in exactly one, and the memory a load needs stays bounded; the same
    files in one commit (the old behaviour) need well over twice as much."""
    runs = {}
    script = PEAK_RSS + _MANY_FILES
    procs = {mc: subprocess.Popen([sys.executable, "-c", script, str(tmp_path / str(mc)), "16", "16", str(mc)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for mc in (32 << 20, 1 << 40)}
    for mc, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        runs[mc] = json.loads(stdout.strip().splitlines()[-1])
    bounded, whole = runs[32 << 20], runs[1 << 40]
    assert bounded["commits"] >= 6 and bounded["version"] == bounded["commits"] - 1
    assert whole["commits"] == 1
    for r in (bounded, whole):
        assert r["files_loaded"] == r["files"] == 16 and r["again"] == [0, 16]
        assert len(r["lines_per_file"]) == 1 and r["lines_per_file"] == r["distinct_per_file"]  # once each
    grew = {k: r["rss_kb"] - r["base_kb"] for k, r in (("bounded", bounded), ("whole", whole))}
    assert grew["bounded"] < 700 * 1024 and grew["bounded"] * 2 < grew["whole"], grew


def test_the_commit_bound_keeps_the_lock_and_race_rules(tmp_path, monkeypatch):
    """A run whose second append finds another run's commit drops the files that run loaded meanwhile."""
    store = LandingStore(str(tmp_path / "landing"))
    for h in range(4):
        store.write_bytes(event_key("com.x", DAY + timedelta(hours=h), "b"), batch(h * 10, 5))
    lake = Lake((tmp_path / "lake").as_uri())
    window = DAY, DAY + timedelta(days=1)
    files = ev.event_files(store, *window)
    real = ev._commit_bronze
    calls = []

    def commit_then_race(lake_, start, end, pieces, state, result):
        real(lake_, start, end, pieces, state, result)
        if not calls:  # another run loads the remaining files right after the first append
            calls.append(None)
            calls[0] = ev.load_bronze(lake_, store, files[len(pieces):], start, end)

    monkeypatch.setattr(ev, "_commit_bronze", commit_then_race)
    r = ev.load_bronze(lake, store, files, *window, max_commit=1)  # one file per append
    assert (r.commits, r.files_loaded, r.files_lost_race) == (1, 1, 3) and calls[0].files_loaded == 3
    b = lake.read(ev.BRONZE_EVENTS, columns=["source_file"])
    assert b.num_rows == 20 and len(set(b["source_file"].to_pylist())) == 4
    assert ev.build_silver(lake, *window).reconciles


# -- review of issue 15: objects that were skipped forever ------------------------------------------
def _bump(path: Path, seconds: float = 10) -> None:
    os.utime(path, (path.stat().st_mtime + seconds,) * 2)


def test_a_too_large_file_replaced_by_a_valid_one_is_loaded(tmp_path):
    """/tmp/rev/land2.py 1-2: a `file_too_large` row kept no checksum and so counted as unchanged."""
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = event_key("com.x", HOUR, "b")
    store.write_bytes(key, b"\x1f\x8b" + os.urandom(5000))  # too large as stored
    first, _ = ingest(lake, store, max_file=1000)
    assert first.file_errors == {"file_too_large": 1}
    assert ingest(lake, store, max_file=1000)[0].files_loaded == 0  # unchanged: not looked at again
    store.write_bytes(key, batch(0, 2))
    _bump(tmp_path / "landing" / key)
    second, silver = ingest(lake, store, max_file=1000)
    assert (second.files_loaded, second.lines, second.changed_files) == (1, 2, [key])
    assert silver.loaded == 2 and silver.reasons == {"file_too_large": 1} and silver.reconciles
    assert ingest(lake, store, max_file=1000)[0].files_loaded == 0


def test_a_too_large_file_rewritten_still_too_large_records_nothing_more(tmp_path):
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = event_key("com.x", HOUR, "b")
    store.write_bytes(key, b"\x1f\x8b" + os.urandom(5000))
    ingest(lake, store, max_file=1000)
    store.write_bytes(key, b"\x1f\x8b" + os.urandom(6000))
    again, silver = ingest(lake, store, max_file=1000)
    assert (again.files_loaded, again.files_skipped) == (0, 1) and silver.landed == 1


def test_a_vanished_object_is_not_recorded_and_loads_when_it_reappears(tmp_path):
    """/tmp/rev/land2.py 3-4: an object gone between listing and read was recorded as
    `bad_landing_key:vanished` and never loaded when it came back."""
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = event_key("com.x", HOUR, "b")
    store.write_bytes(key, batch(0, 2))
    files = ev.event_files(store, DAY, DAY + timedelta(days=1))
    (tmp_path / "landing" / key).unlink()
    gone = ev.load_bronze(lake, store, files, DAY, DAY + timedelta(days=1))
    assert (gone.files_loaded, gone.files_vanished, gone.bad_keys, gone.lines) == (0, 1, {}, 0)
    store.write_bytes(key, batch(0, 2))
    back, silver = ingest(lake, store)
    assert (back.files_loaded, back.lines, back.changed_files) == (1, 2, [])
    assert silver.loaded == 2 and silver.quarantined == 0 and silver.reconciles


def test_a_bad_key_rewritten_is_still_recorded_once(tmp_path):
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = "events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz"
    store.write_bytes(key, batch(0, 1))
    assert ingest(lake, store)[0].bad_keys == {"bad_landing_key:hour": 1}
    store.write_bytes(key, batch(0, 3))
    _bump(tmp_path / "landing" / key)
    again, silver = ingest(lake, store)
    assert (again.files_loaded, again.bad_keys) == (0, {}) and silver.landed == 1


def _legacy_bronze(lake: Lake, key: str, n: int, loaded_at: datetime) -> None:
    """Bronze rows as a load before sizes, versions and checksums were kept wrote them."""
    import pyarrow as pa

    old = pa.schema([f for f in ev.BRONZE_SCHEMA if f.name not in (
        "line_bytes", "source_version", "source_size", "source_modified", "source_checksum")])
    lines = [json.dumps({**GOOD, "event_id": uid(i)}).encode() for i in range(n)]
    ms = int(loaded_at.timestamp() * 1000)
    lake.append(ev.BRONZE_EVENTS, pa.table({
        "landing_date": ["2026-09-01"] * n, "landing_hour": pa.array([int(HOUR.timestamp() * 1000)] * n, ev.TS),
        "source_file": [key] * n, "line_number": pa.array(range(1, n + 1), pa.int64()),
        "loaded_at": pa.array([ms] * n, ev.TS), "landing_app_id": ["com.x"] * n,
        "raw_line": pa.array(lines, pa.large_binary()), "read_error": pa.nulls(n, pa.string())}, schema=old),
        ["landing_date"])


def test_a_file_rewritten_after_a_load_without_checksums_is_loaded_again(tmp_path):
    """/tmp/rev/legacy.py: rows of a load from before checksums counted as unchanged forever. Now the
    object's modification time is held against the load time: modified after its load → next version."""
    store, lake = LandingStore(str(tmp_path / "landing")), Lake((tmp_path / "lake").as_uri())
    key = event_key("com.x", HOUR, "a")
    store.write_bytes(key, batch(0, 3))
    path = tmp_path / "landing" / key
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    _legacy_bronze(lake, key, 3, written + timedelta(minutes=5))  # loaded after it was written
    untouched, _ = ingest(lake, store)
    assert (untouched.files_loaded, untouched.files_skipped) == (0, 1)
    store.write_bytes(key, batch(0, 4))  # rewritten with one more line
    os.utime(path, ((written + timedelta(minutes=10)).timestamp(),) * 2)
    rewritten, silver = ingest(lake, store)
    assert (rewritten.files_loaded, rewritten.lines) == (1, 4)
    assert rewritten.changed_files == rewritten.legacy_reloaded == [key]
    assert (silver.loaded, silver.duplicates, silver.doubled) == (4, 3, 0) and silver.reconciles
    assert ingest(lake, store)[0].files_loaded == 0  # now checksummed: unchanged


# -- review of issue 15: one listing per run; the doubled-line check per window -----------------------
def test_a_multi_day_bronze_run_lists_the_landing_zone_once(tmp_path, monkeypatch):
    import dagster as dg

    from assets.ingest import bronze_events
    from assets.resources import LakeResource, LandingResource, PrivacyResource

    store = LandingStore(str(tmp_path / "landing"))
    for d in range(3):
        store.write_bytes(event_key("com.x", DAY + timedelta(days=d, hours=5), "b"), batch(d * 10, 2))
    store.write_bytes("events/app_id=com.x/dt=2026-09-02/hr=24/b.json.gz", batch(90, 1))
    calls = []
    real = LandingStore.list
    monkeypatch.setattr(LandingStore, "list", lambda self, prefix="": calls.append(prefix) or real(self, prefix))
    result = dg.materialize([bronze_events], tags={"dagster/asset_partition_range_start": "2026-09-01-00:00",
                                            "dagster/asset_partition_range_end": "2026-09-03-23:00"},
                            resources={"lake": LakeResource(root_uri=(tmp_path / "lake").as_uri()),
                                       "landing": LandingResource(root_uri=str(tmp_path / "landing")),
                                       "privacy": PrivacyResource(privacy_key=DEFAULT_KEY, audit_salt=DEFAULT_KEY)})
    assert result.success
    [meta] = [e.materialization.metadata for e in result.get_asset_materialization_events()][:1]
    assert meta["files_loaded"].value == 4 and meta["bad_landing_keys"].data == {"bad_landing_key:hour": 1}
    assert calls == ["events/"]  # three 24 h chunks, one listing


def test_event_files_from_one_listing_match_a_fresh_listing(tmp_path):
    root = tmp_path / "landing"
    store = LandingStore(str(root))
    for h in (0, 5, 23, 24, 30, 47):
        store.write_bytes(event_key("com.x", DAY + timedelta(hours=h), "b"), batch(h, 1))
    _write_raw(root, "events/app_id=com.x/dt=someday/hr=05/b.json.gz", batch(99, 1))  # at its mtime hour
    _write_raw(root, "events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz", batch(98, 1))  # hour 00
    listing = ev.list_events(store)
    for start in (DAY + timedelta(hours=h) for h in range(0, 48, 3)):
        for hours in (1, 5, 24):
            end = start + timedelta(hours=hours)
            assert [f.key for f in ev.event_files(store, start, end, listing)] == [
                f.key for f in store.list("events/") if start <= f.landing_hour < end]


def test_a_double_load_fails_only_its_own_hour(tmp_path):
    """One doubled hour failed the check of every hour of its date, and an hourly backfill counted the
    doubled lines once per hour of the date."""
    store = LandingStore(str(tmp_path / "landing"))
    for h in (5, 6):
        store.write_bytes(event_key("com.x", DAY + timedelta(hours=h), "b"), batch(h * 10, 5))
    lake = Lake((tmp_path / "lake").as_uri())
    ingest(lake, store)
    five = lake.read(ev.BRONZE_EVENTS, filters=[("source_file", "=", event_key("com.x", HOUR, "b"))])
    lake.append(ev.BRONZE_EVENTS, five, ["landing_date"])  # hour 05 loaded twice
    by_hour = {h: ev.build_silver(lake, DAY + timedelta(hours=h), DAY + timedelta(hours=h + 1)) for h in (4, 5, 6)}
    assert {h: r.doubled for h, r in by_hour.items()} == {4: 0, 5: 5, 6: 0}
    assert by_hour[6].reconciles and by_hour[4].reconciles and not by_hour[5].reconciles
    assert ev.build_silver(lake, DAY, DAY + timedelta(days=1)).doubled == 5
