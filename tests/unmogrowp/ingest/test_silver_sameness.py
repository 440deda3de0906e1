"""Silver's fast paths (validation without the null-key search first, dedup on 64-bit hashes) give the
rows and reasons of the plain method: the full contract SQL on every line, then the first copy of each
event_id by (landing hour, file, version, line) kept. Data: the generator's faults plus a batch whose
lines hit every rule of the contract."""

import gzip
import json
import shutil
from datetime import UTC, datetime

import chdb
import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.contracts.events import EVENT_CONTRACT, EVENT_TYPES
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore, event_key
from unmogrowp.windows import chunks

HOUR = datetime(2026, 9, 2, 5, tzinfo=UTC)
EXTRA = {"impression": {"touch_id": "t", "media_source": "n", "campaign_id": "c"},
         "click": {"touch_id": "t", "media_source": "n", "campaign_id": "c", "click_id": "k", "is_retargeting": True},
         "install": {"install_begin_ts": "2026-09-02T05:09:00.000Z", "referrer_click_ts": 1788325000000},
         "in_app_event": {"event_name": "level_up"}, "purchase": {"revenue": 1.5, "currency": "USD"},
         "ad_revenue": {"revenue": 0.01, "currency": "EUR", "ad_network": "n"}}
BAD = {"uuid": ["not-a-uuid", 5], "string": [5, "x" * 3000], "enum": ["nope", 3], "currency": ["XYZ", 1],
       "country": ["usa", 3], "ip": ["999.1.1.1", 7], "float": [-1, 1e300, "abc"], "bool": ["yes", 1],
       "timestamp": ["yesterday", "1970-01-01T00:00:00.000Z", "2026-09-02 05:10:00", True, 99999999999999999999]}


def rule_lines(app: str) -> list[str]:
    """Valid lines of every event type, and for each type and field: absent, null, wrong values, not allowed."""
    count = iter(range(1, 1_000_000))

    def good(t):
        return {"event_id": f"{next(count):08d}-1234-4678-9234-567812345678", "app_id": app, "event_type": t,
                "event_ts": "2026-09-02T05:10:00.000Z", "received_ts": "2026-09-02T05:10:01.000Z",
                "platform": "ios", "ip": "81.2.3.4", **EXTRA.get(t, {})}
    lines = []
    for t in EVENT_TYPES:
        zeroed = "00000000-0000-0000-0000-000000000000"
        lines += [good(t), {**good(t), "country": None}, {**good(t), "device_id": zeroed},
                  {**good(t), "event_ts": "2026-09-02T07:10:00.000Z"}, {**good(t), "event_ts": "2026-08-20T05:10:00Z"},
                  {**good(t), "app_id": "com.other"}, {**good(t), "newField": None}]
        for f in EVENT_CONTRACT.fields:
            g = good(t)
            lines += [{k: v for k, v in g.items() if k != f.name}, {**good(t), f.name: None}]
            lines += [{**good(t), f.name: bad} for bad in BAD.get(f.kind, [])]
            if f.name not in g:
                lines.append({**good(t), f.name: {"float": 1.0, "bool": False, "currency": "USD"}.get(f.kind, "v")})
        dup = good(t)
        lines += [dup, dup, {**dup, "event_id": dup["event_id"].upper()}]
    return [json.dumps(x) for x in lines] + ['{"event_id": "3', "[1]", "", "null",
                                             json.dumps({**good("click"), "event_type": "teleport"})]


def plain_silver(bronze: pa.Table) -> tuple[dict, dict]:
    """{(file, line): typed row} of silver and {(file, line): reason} of quarantine, the plain way."""
    bronze = bronze.append_column("row_idx", pa.array(range(bronze.num_rows), pa.int64()))  # noqa: F841
    sql = EVENT_CONTRACT.validation_sql("Python(bronze)", (*ev.LINEAGE.names, "landing_app_id", "source_version"),
                                        extra_reasons=(("'app_id_mismatch'", "x_app_id != landing_app_id"),))
    conn = chdb.connect(":memory:")
    rows = conn.query(sql, "ArrowTable").to_pylist()
    conn.close()
    rows.sort(key=lambda r: (r["landing_hour"], r["source_file"], r["source_version"], r["line_number"]))
    silver, quarantine, seen = {}, {}, set()
    for r in rows:
        key = (r["source_file"], r["line_number"])
        if r["reason"] is None and r["event_id"] in seen:
            quarantine[key] = ev.DUPLICATE_REASON
        elif r["reason"] is None:
            seen.add(r["event_id"])
            silver[key] = {n: r[n] for n in EVENT_CONTRACT.names}
        else:
            quarantine[key] = r["reason"]
    return silver, quarantine


def test_silver_equals_the_plain_method_on_every_fault_kind(generated, tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "TWO_PASS_MIN_LINES", 0)  # the two-pass validation on every window
    out, _ = generated
    shutil.copytree(out / "landing", tmp_path / "landing")
    store = LandingStore(str(tmp_path / "landing"))
    app = next(f.app_id for f in store.list("events/"))
    lines = rule_lines(app)
    store.write_bytes(event_key(app, HOUR, "rules"), gzip.compress("\n".join(lines).encode() + b"\n"))
    lake = Lake((tmp_path / "lake").as_uri())
    start, end = ev.landing_range(store)
    for s, e in chunks(start, end):
        ev.load_bronze(lake, store, ev.event_files(store, s, e), s, e)
        assert ev.build_silver(lake, s, e).reconciles
    want_silver, want_quarantine = plain_silver(lake.read(ev.BRONZE_EVENTS))
    silver = lake.read(ev.SILVER_EVENTS).to_pylist()
    got_silver = {(r["source_file"], r["line_number"]): {n: r[n] for n in EVENT_CONTRACT.names} for r in silver}
    q = lake.read(ev.QUARANTINE_EVENTS)
    got_quarantine = dict(zip(zip(q["source_file"].to_pylist(), q["line_number"].to_pylist(), strict=True),
                              q["reason"].to_pylist(), strict=True))
    assert len(got_silver) == len(silver)
    assert got_quarantine == want_quarantine
    assert got_silver == want_silver
    reasons = set(pc.unique(q["reason"]).to_pylist())
    assert len(reasons) > 60 and {"duplicate_event_id", "truncated_gzip", "unknown_field:eventTs"} <= reasons
