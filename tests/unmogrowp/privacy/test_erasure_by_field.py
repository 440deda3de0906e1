"""Erasure erases only the person: identifiers are matched by field (never as text), values that
cannot be identifiers are refused before anything is written, no raw identifier is left in the
ClickHouse mutation log or the Delta logs, and the erasure list blocks a replay.

One small landing zone of crafted lines (the victim, and decoys holding the victim's ids as
substrings, in other fields, as JSON keys, in another case or with whitespace) goes through bronze,
silver and ClickHouse; the regression payload of issue 15 (``--id ios``, with ``"ios"`` on every
line) is refused."""

import gzip
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.ingest import events as ev
from unmogrowp.ingest import warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore
from unmogrowp.privacy import erasure, erasure_list

APP = "com.example.erasure"
HOUR = datetime(2026, 9, 1, 10, tzinfo=UTC)
WINDOW = (HOUR, HOUR.replace(hour=12))
VICTIM = "3f2a9c1e-7b44-4d2e-9a51-0c6de2b8f7a1"  # IDFA, as silver keeps it (lowercase)
VICTIM_IDFV = "8C1D2E3F-4A5B-4C6D-8E7F-901A2B3C4D5E"
VICTIM_USER = "cust-4242424"
OTHER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
KEY = load_settings().privacy_key  # the key of bronze's erasure-list check

# refused: the payload of issue 15, enum values of the data, placeholders, too short, whitespace
REFUSED = {
    "ios": "shorter than 8", "android": "shorter than 8", "install": "shorter than 8", "US": "shorter than 8",
    "USD": "shorter than 8", "": "shorter than 8", "cust-12": "shorter than 8",
    "session_start": "a value of the event data", "IMPRESSION": "a value of the event data",
    "in_app_event": "a value of the event data", "adnet_alpha": "a value of the event data",
    "hypergrowth": "a value of the event data", "ironsource": "a value of the event data",
    "tutorial_complete": "a value of the event data", "user_agent": "a value of the event data",
    "source_file": "a value of the event data", "undefined": "a value of", "anonymous": "a value of",
    "00000000-0000-0000-0000-000000000000": "one repeated character", "0000000000000000": "one repeated",
    "ffffffffffffffff": "one repeated", "--------": "one repeated",
    f" {VICTIM}": "whitespace", f"{VICTIM} ": "whitespace", f"{VICTIM}\n": "whitespace", "cust 4242424": "whitespace",
    f"\ufeff{VICTIM}": "control or format", f"{VICTIM}\u200b": "control or format", f"\u00a0{VICTIM}": "whitespace",
    f"{VICTIM}\x00": "control", "x" * 300: "longer than 256",
}
ACCEPTED = [VICTIM, VICTIM.upper(), VICTIM_IDFV, "a1b2c3d4e5f60718", VICTIM_USER, "cust-123", "user@example.com"]


@pytest.mark.parametrize("value", list(REFUSED), ids=[repr(v)[:40] for v in REFUSED])
def test_a_value_that_cannot_identify_one_person_is_refused(value):
    assert REFUSED[value] in erasure.identifier_problem(value)
    with pytest.raises(erasure.NotAnIdentifier, match="is not an identifier"):
        erasure.check_identifiers([VICTIM, value])


@pytest.mark.parametrize("value", ACCEPTED)
def test_identifiers_are_accepted(value):
    assert erasure.identifier_problem(value) is None
    assert erasure.check_identifiers([value, value]) == [value]


def test_the_users_networks_are_known_values(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "network_priority.csv").write_text("media_source,priority\nmegaboost_ads,5\n")
    assert erasure.identifier_problem("megaboost_ads") is None
    with pytest.raises(erasure.NotAnIdentifier, match="megaboost_ads"):
        erasure.check_identifiers(["megaboost_ads"], tmp_path)


# -- the landing lines ------------------------------------------------------------------------------
def _event(event_type="session_start", minute=5, **fields) -> dict:
    line = {"event_id": str(uuid.uuid4()), "app_id": APP, "event_type": event_type,
            "event_ts": f"2026-09-01T10:{minute:02d}:00Z", "received_ts": f"2026-09-01T10:{minute:02d}:30Z",
            "platform": "ios", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1)",
            "os_version": "17.1", "app_version": "2.3.0", "sdk_version": "6.1.0", "country": "US"}
    line.update(fields)
    return {k: v for k, v in line.items() if v is not None}


def _cut(fields: dict, at: str) -> str:
    """A cut-off last line (not JSON): ``fields`` first, ending inside the value of ``at``."""
    text = json.dumps({**fields, **_event()})
    return text[:text.index(f'"{at}"') + len(at) + 12]


def _victim_lines() -> list[str]:
    v = {"device_id": VICTIM, "idfv": VICTIM_IDFV}
    return [json.dumps(e) for e in (
        _event("install", 1, **v),
        _event("session_start", 2, **v),
        _event("purchase", 3, user_id=VICTIM_USER, revenue=4.99, currency="USD", **v),
        _event("session_start", 4, device_id=VICTIM.upper()),  # silver lowercases an IDFA
        _event("session_start", 5, idfv=VICTIM_IDFV, ip="not an ip"),  # quarantined: still the victim's
        _event("purchase", 6, user_id=VICTIM_USER, revenue=-1.0, currency="USD"),  # quarantined
    )] + [_cut({"device_id": VICTIM}, "ip")]  # not JSON, still the victim's


def _decoy_lines() -> list[str]:
    """Other people's lines holding the victim's ids where they are not an identifier field's value."""
    other = {"device_id": OTHER}
    return [json.dumps(e) for e in (
        _event(device_id=VICTIM + "0"),  # a longer id (quarantined: not a UUID)
        _event(device_id="0" + VICTIM[1:], idfv=VICTIM_IDFV[:-1] + "F"),  # one character off
        _event(idfv=VICTIM_IDFV.lower(), **other),  # another case in a field kept as sent
        _event(idfv=f" {VICTIM_IDFV}", **other),  # surrounding whitespace
        _event(device_id=f"{VICTIM} "),  # surrounding whitespace (quarantined)
        _event(user_agent=f"Mozilla/5.0 ({VICTIM}; {VICTIM_IDFV})", **other),
        _event(os_version=VICTIM, app_version=VICTIM_IDFV, sdk_version=VICTIM_USER, **other),
        _event("in_app_event", event_name=VICTIM, **other),
        _event("purchase", user_id=VICTIM_USER + "1", revenue=1.0, currency="EUR", **other),  # a longer user id
        _event("purchase", user_id="x" + VICTIM_USER, revenue=1.0, currency="EUR", **other),
        _event(**{VICTIM: 1, VICTIM_USER: VICTIM_IDFV}, **other),  # the ids as JSON keys
        _event(extra={"device_id": VICTIM, "idfv": VICTIM_IDFV}, **other),  # nested: not the event's field
        _event("click", touch_id=VICTIM, media_source="adnet_alpha", campaign_id=VICTIM_USER, click_id=VICTIM,
               **other),  # in other fields
        _event(android_id=VICTIM_IDFV.replace("-", "")[:16], platform="android", **other),
    )] + [_cut({"user_agent": f"UA {VICTIM}", "os_version": VICTIM_IDFV}, "ip")]  # cut off, not in an id field


def _bystanders(n: int) -> list[str]:
    """People whose every line says "ios" (the value issue 15's --id ios deleted 8,686 lines by)."""
    lines = []
    for i in range(n):
        d = str(uuid.UUID(int=(i + 1) * 7919 + (1 << 100)))
        lines += [json.dumps(_event("install", 10, device_id=d, idfv=d.upper())),
                  json.dumps(_event("session_start", 11, device_id=d, idfv=d.upper(), user_agent="ios ios"))]
    return lines


def _land(root: Path, key: str, lines: list[str]) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


VICTIM_FILE = f"events/app_id={APP}/dt=2026-09-01/hr=10/victim.json.gz"
OTHERS_FILE = f"events/app_id={APP}/dt=2026-09-01/hr=10/others.json.gz"
RAW_IDS = (VICTIM, VICTIM.upper(), VICTIM_IDFV, VICTIM_USER)


def _ingest(lake: Lake, store: LandingStore, client) -> ev.BronzeResult:
    bronze = ev.load_bronze(lake, store, ev.event_files(store, *WINDOW), *WINDOW, privacy_key=KEY)
    ev.build_silver(lake, *WINDOW)
    warehouse.load_events(client, lake, *WINDOW)
    return bronze


def _counts(lake: Lake, client) -> dict[str, int]:
    out = {name: lake.read(name).num_rows for name in (ev.BRONZE_EVENTS, ev.SILVER_EVENTS, ev.QUARANTINE_EVENTS)}
    out["raw.events"] = int(client.command("SELECT count() FROM raw.events"))
    return out


def _versions(lake: Lake) -> dict[str, int]:
    return {t: lake.version(t) for t in lake.tables()}


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """The landing zone ingested into a lake and a ClickHouse server of their own."""
    home = tmp_path_factory.mktemp("erasure_by_field")
    _land(home / "landing", VICTIM_FILE, _victim_lines())
    _land(home / "landing", OTHERS_FILE, _decoy_lines() + _bystanders(100))
    _state, client = private_clickhouse(home)
    lake, store = Lake((home / "lake").as_uri()), LandingStore(str(home / "landing"))
    try:
        _ingest(lake, store, client)
        yield home, lake, store, client
    finally:
        client.close()
        manager.stop(home)


def test_landing_lines_match_only_in_identifier_fields():
    lines = _victim_lines() + _decoy_lines() + _bystanders(3)
    subject = erasure.Subject(identifiers={VICTIM, VICTIM_IDFV, VICTIM_USER})
    hits = erasure.landing_line_hits(pa.array(lines, pa.large_binary()), subject).to_pylist()
    assert hits == [True] * len(_victim_lines()) + [False] * (len(lines) - len(_victim_lines()))
    # each of the victim's ids alone finds its lines, and a decoy value finds nothing
    for ident, expected in ((VICTIM_USER, [False, False, True, False, False, True, False]),
                            (VICTIM, [True, True, True, True, False, False, True])):
        got = erasure.landing_line_hits(pa.array(_victim_lines()), erasure.Subject(identifiers={ident}))
        assert got.to_pylist() == expected, ident
    for decoy in (VICTIM[:20], VICTIM_USER[:-1], "Mozilla/5.0", "17.1", "adnet_alpha", "com.example.erasure"):
        assert not any(erasure.landing_line_hits(pa.array(lines), erasure.Subject(identifiers={decoy})).to_pylist())


def test_generated_variants_match_exactly_by_field():
    """Erase ids × the values and fields they are found in: only a whole identifier field matches."""
    ids = [VICTIM, VICTIM_IDFV, VICTIM_USER, "a1b2c3d4e5f60718"]
    fields = ("device_id", "idfv", "android_id", "user_id", "user_agent", "os_version", "event_name", "touch_id",
              "click_id", "campaign_id", "app_version")
    for ident in ids:
        cases = []  # (field, value, should match)
        for f in fields:
            exact = f in erasure.IDENTIFIER_COLUMNS
            cases += [(f, ident, exact), (f, ident + "x", False), (f, "x" + ident, False), (f, ident[1:], False),
                      (f, f" {ident}", False), (f, f"{ident}\t", False), (f, f"ua/{ident}/1", False),
                      (f, ident.swapcase(), exact and f in erasure.CASE_INSENSITIVE)]
        lines = [json.dumps(_event(**{f: v})) for f, v, _ in cases]
        lines += [json.dumps(_event(**{ident: "v"})), json.dumps(_event(nested={"device_id": ident, "user_id": ident})),
                  json.dumps({"device_id": [ident]}), json.dumps({"device_id": {"id": ident}}), json.dumps([ident])]
        expected = [m for _, _, m in cases] + [False] * 5
        got = erasure.landing_line_hits(pa.array(lines), erasure.Subject(identifiers={ident})).to_pylist()
        labels = cases + [("json", "other", False)] * 5
        wrong = [(c, g) for c, g, e in zip(labels, got, expected, strict=True) if g != e]
        assert not wrong, (ident, wrong)


def test_ios_is_refused_and_nothing_is_written(landed):
    _home, lake, _store, client = landed
    versions, counts = _versions(lake), _counts(lake, client)
    ios_lines = pc.sum(pc.match_substring(pc.cast(lake.read(ev.BRONZE_EVENTS)["raw_line"], pa.large_string()),
                                          '"ios"')).as_py()
    assert ios_lines > 200  # the payload: a value on nearly every line
    for payload in (["ios"], [VICTIM, "ios"], ["00000000-0000-0000-0000-000000000000"], ["session_start"]):
        with pytest.raises(erasure.NotAnIdentifier):
            erasure.erase(lake, client, None, payload, "dpo@example.com", privacy_key=KEY, audit_salt=KEY)
    assert _versions(lake) == versions and _counts(lake, client) == counts
    assert not lake.exists(erasure.AUDIT_TABLE) and not lake.exists(erasure_list.ERASED_TABLE)


@pytest.fixture(scope="module")
def erased(landed):
    """The victim erased by their IDFA alone (their IDFV and user id are resolved from silver)."""
    home, lake, store, client = landed
    bronze = lake.read(ev.BRONZE_EVENTS)
    before = _counts(lake, client)
    victim_lines = {(f, n) for f, n in zip(bronze["source_file"].to_pylist(), bronze["line_number"].to_pylist(),
                                           strict=True) if f == VICTIM_FILE}
    others = {name: {tuple(r.values()) for r in lake.read(name).drop_columns(["loaded_at"]).to_pylist()
                     if r["source_file"] != VICTIM_FILE}
              for name in (ev.BRONZE_EVENTS, ev.SILVER_EVENTS, ev.QUARANTINE_EVENTS)}
    others_ch = client.query("SELECT event_id FROM raw.events WHERE source_file != {f:String} ORDER BY event_id",
                             parameters={"f": VICTIM_FILE}).result_rows
    report = erasure.erase(lake, client, None, [VICTIM], "dpo@example.com", privacy_key=KEY, audit_salt=KEY)
    return home, lake, store, client, report, before, victim_lines, others, others_ch


def test_only_the_victims_rows_are_erased(erased):
    _home, lake, _store, client, report, before, victim_lines, others, others_ch = erased
    assert report.verified and not report.remaining
    after = _counts(lake, client)
    silver_victim = 4  # install, two sessions, the purchase (one with the IDFA in upper case)
    assert len(victim_lines) == 7
    assert report.deleted == {f"delta:{ev.BRONZE_EVENTS}": 7, f"delta:{ev.SILVER_EVENTS}": silver_victim,
                              f"delta:{ev.QUARANTINE_EVENTS}": 7 - silver_victim,
                              "clickhouse:raw.events": silver_victim,
                              "clickhouse:raw.install_keys": 1}  # attribution's key row of the install
    assert after == {ev.BRONZE_EVENTS: before[ev.BRONZE_EVENTS] - 7,
                     ev.SILVER_EVENTS: before[ev.SILVER_EVENTS] - silver_victim,
                     ev.QUARANTINE_EVENTS: before[ev.QUARANTINE_EVENTS] - (7 - silver_victim),
                     "raw.events": before["raw.events"] - silver_victim}
    # everyone else's rows are all still there, unchanged
    for name, rows in others.items():
        assert {tuple(r.values()) for r in lake.read(name).drop_columns(["loaded_at"]).to_pylist()} == rows, name
    assert client.query("SELECT event_id FROM raw.events ORDER BY event_id").result_rows == others_ch
    for name in (ev.BRONZE_EVENTS, ev.QUARANTINE_EVENTS):
        assert VICTIM_FILE not in lake.read(name, columns=["source_file"])["source_file"].to_pylist()
    audit = lake.read(erasure.AUDIT_TABLE).to_pylist()
    assert len(audit) == 1 and audit[0]["identifiers_found"] == 3 and not any(i in str(audit) for i in RAW_IDS)


def test_no_raw_identifier_in_logs_or_files(erased):
    home, lake, _store, client, *_ = erased
    mutations = [c for (c,) in client.query("SELECT command FROM system.mutations").result_rows]
    assert any("_erasure_keys_" in c for c in mutations)
    assert not [c for c in mutations if any(i.lower() in c.lower() for i in RAW_IDS)]
    assert not client.query("SELECT name FROM system.tables WHERE name LIKE '_erasure_keys_%'").result_rows
    # Delta: no commit predicate names an id, and no file statistics hold one in an identifier field
    # (the decoys legitimately hold the strings elsewhere; test_erasure.py checks whole logs)
    logs = list((home / "lake").rglob("_delta_log/*"))
    actions = []
    for path in logs:
        if path.suffix == ".json":
            actions += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        elif path.suffix == ".parquet":
            actions += pq.read_table(path).to_pylist()
    commits = [a["commitInfo"] for a in actions if a.get("commitInfo")]
    assert commits and not [c for c in commits if c.get("operation") == "DELETE"]  # expired with the history
    for action in actions:
        stats = json.loads((action.get("add") or {}).get("stats") or "{}")
        for bound in ("minValues", "maxValues"):
            values = {str(stats.get(bound, {}).get(c, "")) for c in erasure.IDENTIFIER_COLUMNS}
            values.add(str(stats.get(bound, {}).get("device_id", "")).upper())
            assert not values & set(RAW_IDS), stats
    # history before the erasure is expired behind a checkpoint; the tables read
    for table in lake.tables():
        versions = sorted(int(p.name.split(".")[0]) for p in (home / "lake" / table / "_delta_log").glob("*.json"))
        assert lake.read(table) is not None and versions, table
        if table in (ev.BRONZE_EVENTS, ev.SILVER_EVENTS):
            assert versions[0] > 0 and (home / "lake" / table / "_delta_log" / "_last_checkpoint").exists()


def test_delete_predicates_name_rows_by_lineage_or_event_ids(tmp_path, monkeypatch):
    """With the history kept, the DELETE commits show which rows went, never by an identifier."""
    monkeypatch.setattr(erasure, "expire_history", lambda lake, name: 0)
    lake = Lake(tmp_path.as_uri())
    ids = {"device_id": [VICTIM, OTHER, None], "idfv": [None, VICTIM_IDFV.lower(), None],
           "user_id": [None, None, VICTIM_USER]}
    lake.append("silver/events", pa.table({"event_id": ["e1", "e2", "e3"], "source_file": ["f", "f", "g"],
                                           "line_number": [1, 2, 3], **ids}))
    lake.append("features/by_key", pa.table({"install_id": ["e1", "e9", "e3"], "device_key": ["k1", "k2", "k3"]}))
    lake.append("features/only_ids", pa.table({"user_id": [VICTIM_USER, "cust-9999999"], "n": [1, 2]}))
    subject = erasure.Subject(identifiers={VICTIM, VICTIM_IDFV, VICTIM_USER}, event_ids={"e1", "e3"})
    assert erasure.erase_delta(lake, subject) == {"delta:silver/events": 2, "delta:features/by_key": 2,
                                                  "delta:features/only_ids": 1}
    assert lake.read("silver/events")["event_id"].to_pylist() == ["e2"]  # another case of an IDFV is another id
    assert lake.read("features/only_ids")["user_id"].to_pylist() == ["cust-9999999"]
    commits = [json.loads(line)["commitInfo"] for p in sorted(tmp_path.rglob("_delta_log/*.json"))
               for line in p.read_text().splitlines() if "commitInfo" in line]
    predicates = [c["operationParameters"].get("predicate", "") for c in commits
                  if c["operation"] in ("DELETE", "WRITE")]
    assert any("source_file" in p and "line_number" in p for p in predicates)
    assert any("install_id" in p for p in predicates)
    assert not [p for p in predicates if any(i.lower() in p.lower() for i in RAW_IDS)]


def test_the_erasure_list_flags_the_victims_landing_lines_only(erased):
    home, lake, *_ = erased
    hashes = erasure_list.load(lake)
    assert len(hashes) >= 3 and not any(i in str(sorted(hashes)) for i in RAW_IDS)
    for key, victim in ((VICTIM_FILE, True), (OTHERS_FILE, False)):
        lines = gzip.decompress((home / "landing" / key).read_bytes()).decode().splitlines()
        flagged = erasure_list.erased_lines(pa.array(lines, pa.large_binary()), hashes, KEY).to_pylist()
        # all the victim's lines (the cut-off last one too, read as its "field": "value" pairs)
        assert flagged == [victim] * len(lines), key


def test_a_replayed_landing_file_does_not_bring_the_victim_back(erased):
    """The victim's file landed again under a new key: bronze drops their lines (counted), so
    silver and ClickHouse stay without them; everyone else's lines of the file load."""
    home, lake, store, client, *_ = erased
    replay = VICTIM_FILE.replace("victim.json.gz", "victim-replayed.json.gz")
    newcomer = str(uuid.UUID(int=12345 + (1 << 101)))
    _land(home / "landing", replay, _victim_lines()[:-1] + [json.dumps(_event("install", 20, device_id=newcomer))])
    before = _counts(lake, client)
    bronze = _ingest(lake, store, client)
    # the replayed lines are dropped; the erased original (no longer in bronze) is read again, every
    # line dropped too, and recorded as one row without a line so it is not read again
    assert (bronze.files_loaded, bronze.lines_erased) == (2, 2 * len(_victim_lines()) - 1), vars(bronze)
    after = _counts(lake, client)
    assert after == {ev.BRONZE_EVENTS: before[ev.BRONZE_EVENTS] + 2, ev.SILVER_EVENTS: before[ev.SILVER_EVENTS] + 1,
                     ev.QUARANTINE_EVENTS: before[ev.QUARANTINE_EVENTS] + 1, "raw.events": before["raw.events"] + 1}
    q = lake.read(ev.QUARANTINE_EVENTS).filter(pc.field("source_file") == VICTIM_FILE)
    assert (q["reason"].to_pylist(), q["raw_line"].to_pylist()) == ([ev.ALL_ERASED], [None])
    assert newcomer in lake.read(ev.SILVER_EVENTS, columns=["device_id"])["device_id"].to_pylist()
    assert not any(erasure.remaining(lake, client, None, erasure.Subject(identifiers=set(RAW_IDS))).values())
    again = _ingest(lake, store, client)  # every object is recorded: nothing is read (or counted) twice
    assert (again.files_loaded, again.lines_erased) == (0, 0), vars(again)
