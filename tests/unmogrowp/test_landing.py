import gzip
from datetime import UTC, datetime

from unmogrowp.landing import LandingFile, LandingStore, decode_ndjson_gz, event_key


def test_decode_complete_file_and_multi_member_gzip():
    data = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}\n')
    d = decode_ndjson_gz(data)
    assert d.lines == [b'{"a":1}', b'{"a":2}', b'{"a":3}'] and d.file_error is None and d.last_line_error is None


def test_decode_truncated_gzip_keeps_complete_lines_and_flags_the_partial_one():
    payload = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * 50) for i in range(2000))
    cut = gzip.compress(payload)[:-2000]
    d = decode_ndjson_gz(cut)
    assert d.file_error == "truncated_gzip" and d.last_line_error == "truncated_gzip"
    assert 0 < len(d.lines) < 2000
    assert all(line == b'{"n":%d,"pad":"%s"}' % (i, b"x" * 50) for i, line in enumerate(d.lines[:-1]))
    assert payload.startswith(b"\n".join(d.lines))


def test_decode_not_gzip_is_one_line_with_its_reason():
    d = decode_ndjson_gz(b'{"plain": "json"}\n')
    assert d.lines == [b'{"plain": "json"}\n'] and d.file_error == "not_gzip" and d.last_line_error == "not_gzip"


def test_last_line_without_newline_is_complete():
    d = decode_ndjson_gz(gzip.compress(b'{"a":1}\n{"a":2}'))
    assert d.lines == [b'{"a":1}', b'{"a":2}'] and d.last_line_error is None


def test_keys_and_local_store_round_trip(tmp_path):
    hour = datetime(2026, 9, 1, 5, tzinfo=UTC)
    key = event_key("com.x", hour, "b1")
    assert key == "events/app_id=com.x/dt=2026-09-01/hr=05/b1.json.gz"
    store = LandingStore(tmp_path.as_uri())
    store.write_bytes(key, b"data")
    [f] = store.list()
    assert (f.key, f.app_id, f.event_hour, store.read_bytes(key)) == (key, "com.x", hour, b"data")
    assert LandingFile("cost/media_source=n/dt=2026-09-02/p.json.gz", 1, 0).cost_date.isoformat() == "2026-09-02"
