"""Conformance of the local ClickHouse server with the ClickHouse HTTP interface."""

import datetime as dt
import gzip
import io
import ipaddress
import json
import time
import uuid
import zlib
from decimal import Decimal

import clickhouse_connect
import lz4.frame
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from backports import zstd
from clickhouse_connect.driver.exceptions import DatabaseError


@pytest.fixture
def url(clickhouse_server):
    return clickhouse_server.url + "/"


def q(url, sql, **params):
    """A raw HTTP POST of ``sql``; returns the response."""
    return requests.post(url, params=params, data=sql.encode())


def test_ping_and_health(url, clickhouse_server):
    assert requests.get(clickhouse_server.url + "/ping").text == "Ok.\n"
    assert requests.get(url).text == "Ok.\n"
    assert requests.get(clickhouse_server.url + "/nope").status_code == 404


def test_get_and_post_queries(url):
    assert requests.get(url, params={"query": "SELECT 1 + 1"}).text == "2\n"
    assert q(url, "SELECT 'a' AS x, 2 AS y").text == "a\t2\n"
    # query in the URL, the rest of it in the body (ClickHouse joins them with a newline)
    assert requests.post(url, params={"query": "SELECT 40"}, data=b"+ 2").text == "42\n"


def test_common_types_round_trip(ch):
    ch.command("DROP TABLE IF EXISTS types_rt")
    ch.command("""
        CREATE TABLE types_rt (
            i8 Int8, i64 Int64, u8 UInt8, u64 UInt64, f32 Float32, f64 Float64,
            dec Decimal(18, 4), s String, lc LowCardinality(String),
            n_i Nullable(Int32), n_s Nullable(String), d Date,
            ts DateTime64(3, 'Asia/Tokyo'), id UUID, ip4 IPv4, ip6 IPv6,
            arr Array(String), m Map(String, UInt32), tup Tuple(String, Float64)
        ) ENGINE = MergeTree ORDER BY i64""")
    tokyo = dt.timezone(dt.timedelta(hours=9))
    rows = [
        [-128, -(2**63), 0, 2**64 - 1, 1.5, -2.25, Decimal("12345.6789"), "plain", "ios",
         None, None, dt.date(2026, 9, 1), dt.datetime(2026, 9, 1, 2, 0, 0, 123000, tzinfo=tokyo),
         uuid.UUID("12345678-1234-5678-1234-567812345678"), ipaddress.IPv4Address("10.1.2.3"),
         ipaddress.IPv6Address("2001:db8::1"), ["a", "b"], {"k": 1}, ("t", 0.5)],
        [127, 2**63 - 1, 255, 0, -0.0, 1e300, Decimal("-0.0001"), "üñíçødé\t\n'\\", "android",
         -7, "x", dt.date(1970, 1, 1), dt.datetime(2100, 1, 1, 0, 0, 0, 999000, tzinfo=tokyo),
         uuid.UUID(int=0), ipaddress.IPv4Address("255.255.255.255"),
         ipaddress.IPv6Address("::ffff:1.2.3.4"), [], {}, ("", -1.0)],
    ]
    names = ["i8", "i64", "u8", "u64", "f32", "f64", "dec", "s", "lc", "n_i", "n_s", "d", "ts",
             "id", "ip4", "ip6", "arr", "m", "tup"]
    ch.insert("types_rt", rows, column_names=names)
    back = ch.query("SELECT * FROM types_rt ORDER BY i64").result_rows
    assert len(back) == 2
    for got, want in zip(back, rows, strict=True):
        for name, g, w in zip(names, got, want, strict=True):
            if name == "ts":
                assert g == w, name  # same instant
                assert g.utcoffset() == dt.timedelta(hours=9)
            elif name == "ip6" and w.ipv4_mapped:
                assert str(g) in (str(w), str(w.ipv4_mapped)), name
            elif name == "tup":
                assert tuple(g) == w, name
            else:
                assert g == w, name


def test_one_million_row_native_insert_reads_back_exactly(ch):
    n = 1_000_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame({
        "id": np.arange(n, dtype=np.uint64),
        "device": [f"dev-{i % 9973}" for i in range(n)],
        "value": rng.normal(size=n),
    })
    ch.command("DROP TABLE IF EXISTS million")
    ch.command("CREATE TABLE million (id UInt64, device String, value Float64) "
               "ENGINE = MergeTree ORDER BY id")
    summary = ch.insert_df("million", df)
    assert summary.written_rows == n
    back = ch.query_df("SELECT id, device, value FROM million ORDER BY id")
    assert len(back) == n
    assert np.array_equal(back["id"].to_numpy(dtype=np.uint64), df["id"].to_numpy())
    assert (back["device"].to_numpy() == df["device"].to_numpy()).all()
    assert np.array_equal(back["value"].to_numpy(), df["value"].to_numpy())  # bit-exact


def test_bad_query_raises_database_error_with_code(ch, url):
    with pytest.raises(DatabaseError) as err:
        ch.query("SELECT * FROM no_such_table")
    assert err.value.code == 60  # UNKNOWN_TABLE
    assert "UNKNOWN_TABLE" in str(err.value)
    resp = q(url, "SELEC 1")
    assert resp.status_code == 500
    assert resp.headers["X-ClickHouse-Exception-Code"] == "62"
    assert resp.text.startswith("Code: 62. DB::Exception:")


def test_error_after_streaming_started_is_tagged(ch):
    with pytest.raises(DatabaseError) as err:
        ch.query("SELECT throwIf(number = 900000, 'boom') FROM numbers(1000000)",
                 settings={"max_block_size": 1000})
    assert "boom" in str(err.value)


@pytest.mark.parametrize("fmt", [
    "Native", "RowBinaryWithNamesAndTypes", "TabSeparated", "TabSeparatedWithNames",
    "TabSeparatedWithNamesAndTypes", "JSON", "JSONEachRow", "JSONCompact", "CSV",
    "CSVWithNames", "Parquet", "Arrow", "ArrowStream",
])
def test_output_formats_match_the_engine(url, clickhouse_server, fmt):
    sql = "SELECT number AS n, toString(number) AS s FROM numbers(5)"
    via_param = requests.post(url, params={"default_format": fmt}, data=sql.encode())
    via_clause = q(url, f"{sql} FORMAT {fmt}")
    assert via_param.status_code == via_clause.status_code == 200
    assert via_param.headers["X-ClickHouse-Format"] == fmt
    if fmt == "Parquet":
        table = pq.read_table(io.BytesIO(via_param.content))
    elif fmt.startswith("Arrow"):
        reader = (pa.ipc.open_file if fmt == "Arrow" else pa.ipc.open_stream)(
            pa.BufferReader(via_param.content))
        table = reader.read_all()
    else:
        if fmt in ("JSON", "JSONCompact"):  # equal but for the elapsed-time statistics
            assert json.loads(via_param.content)["data"] == json.loads(via_clause.content)["data"]
        else:
            assert via_param.content == via_clause.content
        if fmt == "JSON":
            assert [r["s"] for r in json.loads(via_param.content)["data"]] == list("01234")
        if fmt == "CSVWithNames":
            assert via_param.text.splitlines()[:2] == ['"n","s"', '0,"0"']
        return
    assert table.column("s").to_pylist() == list("01234")


def _native_payload(url, n):
    sql = f"SELECT number AS a, toString(number) AS s FROM numbers({n}) FORMAT "
    return {fmt: q(url, sql + fmt).content
            for fmt in ("Native", "RowBinary", "Parquet", "CSV", "JSONEachRow")}


@pytest.mark.parametrize("fmt", ["Native", "RowBinary", "Parquet", "CSV", "JSONEachRow"])
def test_insert_formats_with_query_in_url(url, fmt):
    payload = _native_payload(url, 10_000)[fmt]
    table = f"ins_{fmt.lower()}"
    assert q(url, f"DROP TABLE IF EXISTS {table}").ok
    assert q(url, f"CREATE TABLE {table} (a UInt64, s String) ENGINE = MergeTree ORDER BY a").ok
    resp = requests.post(url, params={"query": f"INSERT INTO {table} FORMAT {fmt}"}, data=payload)
    assert resp.status_code == 200, resp.text
    assert json.loads(resp.headers["X-ClickHouse-Summary"])["written_rows"] == "10000"
    assert q(url, f"SELECT count(), sum(a), sum(toUInt64(s)) FROM {table}").text == \
        "10000\t49995000\t49995000\n"


def test_insert_binary_data_after_format_in_body_streamed_in_chunks(url):
    payload = _native_payload(url, 50_000)["Native"]
    assert q(url, "DROP TABLE IF EXISTS ins_body").ok
    assert q(url, "CREATE TABLE ins_body (a UInt64, s String) ENGINE = MergeTree ORDER BY a").ok

    def chunks():  # chunked transfer encoding, split at arbitrary byte offsets
        body = b"INSERT INTO ins_body FORMAT Native\n" + payload
        for i in range(0, len(body), 7777):
            yield body[i:i + 7777]

    resp = requests.post(url, data=chunks())
    assert resp.status_code == 200, resp.text
    assert q(url, "SELECT count(), sum(a) FROM ins_body").text == "50000\t1249975000\n"
    # VALUES in the body
    assert q(url, "INSERT INTO ins_body VALUES (1000000, 'v1'), (1000001, 'v2')").ok
    assert q(url, "SELECT count() FROM ins_body WHERE a >= 1000000").text == "2\n"


@pytest.mark.parametrize("encoding,compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("zstd", lambda b: zstd.compress(b[:100]) + zstd.compress(b[100:])),  # two frames
    ("lz4", lambda b: lz4.frame.compress(b[:100]) + lz4.frame.compress(b[100:])),
])
def test_compressed_request_bodies(url, encoding, compress):
    table = f"comp_{encoding}"
    assert q(url, f"DROP TABLE IF EXISTS {table}").ok
    assert q(url, f"CREATE TABLE {table} (a UInt32, s String) ENGINE = MergeTree ORDER BY a").ok
    body = f"INSERT INTO {table} FORMAT CSV\n".encode() + b"".join(
        f'{i},"row {i}"\n'.encode() for i in range(1000))
    resp = requests.post(url, data=compress(body), headers={"Content-Encoding": encoding})
    assert resp.status_code == 200, resp.text
    assert q(url, f"SELECT count(), sum(a) FROM {table}").text == "1000\t499500\n"


def test_clickhouse_connect_compressed_inserts(clickhouse_server):
    for compress in ("lz4", "zstd", "gzip"):
        client = clickhouse_connect.get_client(host=clickhouse_server.host,
                                               port=clickhouse_server.port, compress=compress)
        client.command("CREATE TABLE IF NOT EXISTS cc_comp (a UInt32, c String) "
                       "ENGINE = MergeTree ORDER BY a")
        client.insert("cc_comp", [[i, compress] for i in range(5000)], column_names=["a", "c"])
        assert client.command(f"SELECT count() FROM cc_comp WHERE c = '{compress}'") == 5000


def test_unknown_content_encoding_is_a_clear_error(url):
    resp = requests.post(url, data=b"xxx", headers={"Content-Encoding": "snappy"})
    assert resp.status_code == 500
    assert "Unknown HTTP Content-Encoding 'snappy'" in resp.text
    assert requests.post(url, params={"query": "SELECT 1", "decompress": "1"}).status_code == 500


def test_query_parameters_and_settings(url):
    resp = requests.post(url, params={"param_x": "41", "param_s": "a\\tb"},
                         data=b"SELECT {x:UInt32} + 1, {s:String}")
    assert resp.text == "42\ta\\tb\n"
    resp = requests.post(url, params={"max_threads": "1"}, data=b"SELECT getSetting('max_threads')")
    assert resp.text == "1\n"
    resp = requests.post(url, params={"no_such_setting": "1"}, data=b"SELECT 1")
    assert resp.status_code == 500 and resp.headers["X-ClickHouse-Exception-Code"] == "115"


def test_large_parameters_arrive_as_form_fields(ch, url):
    """clickhouse-connect sends a query with large parameters as multipart/form-data (query and
    param_* fields), as ClickHouse accepts; values stay data, never SQL."""
    ids = [f"t{i}'; DROP TABLE x; --" for i in range(5000)]
    assert ch.query("SELECT length({ids:Array(String)}), {ids:Array(String)}[2]",
                    parameters={"ids": ids}).result_rows == [(5000, ids[1])]
    files = {"data": ("data.tsv", b"1\n", "text/plain")}
    r = requests.post(url, data={"query": "SELECT 1"}, files=files)
    assert r.status_code == 500 and "External data" in r.text


def test_long_urls_up_to_clickhouses_limit(ch, url):
    """command() puts parameters in the URL; ClickHouse accepts 1 MiB of it (http_max_uri_size)."""
    ids = [f"device-{i:08d}" for i in range(20_000)]  # about 380 KB of URL
    assert ch.command("SELECT length({ids:Array(String)})", parameters={"ids": ids}) == 20_000
    assert requests.get(url, params={"query": "SELECT 1", "param_x": "a" * (1 << 20)}).status_code == 414


def test_database_parameter_and_query_id(url):
    assert q(url, "CREATE DATABASE IF NOT EXISTS other").ok
    resp = requests.post(url, params={"database": "other", "query_id": "my-query-1"},
                         data=b"SELECT currentDatabase()")
    assert resp.text == "other\n"
    assert resp.headers["X-ClickHouse-Query-Id"] == "my-query-1"


def test_sessions_isolate_set_use_and_temporary_tables(url):
    def s(sid, sql, **params):
        return requests.post(url, params={"session_id": sid, **params}, data=sql.encode())

    assert s("A", "SET max_threads = 1").ok
    assert s("A", "CREATE DATABASE IF NOT EXISTS sess_db").ok
    assert s("A", "USE sess_db").ok
    assert s("A", "CREATE TEMPORARY TABLE tmp (x UInt8)").ok
    assert s("A", "INSERT INTO tmp VALUES (7)").ok
    assert s("A", "SELECT getSetting('max_threads'), currentDatabase(), (SELECT x FROM tmp)").text \
        == "1\tsess_db\t7\n"
    # another session sees none of it
    assert s("B", "SELECT getSetting('max_threads') = 1, currentDatabase()").text == "0\tdefault\n"
    assert s("B", "SELECT x FROM tmp").headers["X-ClickHouse-Exception-Code"] == "60"
    # requests without a session share nothing, not even with each other
    assert q(url, "SET max_threads = 1").ok
    assert q(url, "SELECT getSetting('max_threads') = 1").text == "0\n"
    # URL settings and database apply to one query only, also inside a session
    assert s("A", "SELECT getSetting('max_threads'), currentDatabase()",
             max_threads="2", database="default").text == "2\tdefault\n"
    assert s("A", "SELECT getSetting('max_threads'), currentDatabase()").text == "1\tsess_db\n"
    # session_check on an unknown session
    resp = s("never-used", "SELECT 1", session_check="1")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "372"


def test_idle_sessions_expire_after_their_timeout(url):
    params = {"session_id": "short-lived", "session_timeout": "1"}
    assert requests.post(url, params=params, data=b"SET max_threads = 1").ok
    assert requests.post(url, params={**params, "session_check": "1"},
                         data=b"SELECT getSetting('max_threads')").text == "1\n"
    time.sleep(7)  # the server sweeps idle sessions every 5 s
    resp = requests.post(url, params={**params, "session_check": "1"}, data=b"SELECT 1")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "372"
