"""Regression tests for issue 15: each way a tenant got around the filter, with the payloads that did,
plus generated variants (prefixes x forbidden constructs). One server for the module."""

import os
import threading
from pathlib import Path

import clickhouse_connect
import pytest
import requests

from tests.unmogrowp.clickhouse.tenants import two_tenant_server
from unmogrowp.clickhouse import tenancy


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # user-defined functions live outside the data directory's tables: dropped at the end
    with two_tenant_server(tmp_path_factory.mktemp("attacks"), [
        "CREATE VIEW marts.v_total AS SELECT count() AS n FROM marts.fct_installs",
        "CREATE MATERIALIZED VIEW marts.mv_sources ENGINE = SummingMergeTree ORDER BY media_source POPULATE "
        "AS SELECT media_source, count() AS n FROM marts.fct_installs GROUP BY media_source",
        "CREATE TABLE marts.source_counts (media_source String, n UInt64) ENGINE = SummingMergeTree "
        "ORDER BY media_source",
        "CREATE MATERIALIZED VIEW marts.mv_to TO marts.source_counts AS SELECT media_source, count() AS n "
        "FROM marts.fct_installs GROUP BY media_source",
        "INSERT INTO marts.fct_installs VALUES ('late', 'com.bravo', 'bravo_net')",
        "CREATE DICTIONARY marts.d_installs (install_id String, app_id String, media_source String) "
        "PRIMARY KEY install_id SOURCE(CLICKHOUSE(TABLE 'fct_installs' DB 'marts')) "
        "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        "CREATE VIEW marts.v_dict AS SELECT dictGet('marts.d_installs', 'media_source', tuple('i1')) AS s",
        "CREATE TABLE marts.j_installs (install_id String, app_id String) ENGINE = Join(ANY, LEFT, install_id)",
        "INSERT INTO marts.j_installs SELECT install_id, app_id FROM marts.fct_installs",
        "CREATE TABLE marts.m_installs AS marts.fct_installs ENGINE = Merge('marts', '^fct_installs$')",
        # a set index, a sampling key, two granules: alice's rows and bob's share each
        "CREATE TABLE marts.fct_events (app_id String, k String, v String, h UInt32, INDEX iv v TYPE set(100) "
        "GRANULARITY 1) ENGINE = MergeTree ORDER BY (k, h) SAMPLE BY h SETTINGS index_granularity = 2",
        "INSERT INTO marts.fct_events SELECT if(number % 2 = 0, 'com.alpha', 'com.bravo'), toString(number), "
        "if(number % 2 = 0, concat('alpha_', toString(number)), 'bravo_secret'), intHash32(number) FROM numbers(4)",
        "CREATE TABLE marts.r_installs (install_id String, app_id String, v UInt32) ENGINE = ReplacingMergeTree(v) "
        "ORDER BY install_id",
        "INSERT INTO marts.r_installs VALUES ('k1', 'com.alpha', 1), ('k2', 'com.alpha', 1)",
        "INSERT INTO marts.r_installs VALUES ('k1', 'com.bravo', 2)",
        "CREATE VIEW marts.v_final AS SELECT * FROM marts.r_installs FINAL",
        "CREATE VIEW marts.v_prewhere AS SELECT install_id FROM marts.fct_installs PREWHERE install_id != ''",
        "CREATE FUNCTION readit AS (p) -> file(p)",
    ], teardown_sql=["DROP FUNCTION readit"]) as server:
        yield server


@pytest.fixture(scope="module")
def alice(server):
    """Raw HTTP as alice (keep-alive): returns (status code or 0, ClickHouse error code, body)."""
    state, _admin, _home = server
    http = requests.Session()

    def run(sql, method="post", **params):
        params = {"user": "alice", "password": "alice-pw", **params}
        if method == "get":
            params["query"] = sql
        r = http.request(method, state.url + "/", params=params, data=sql.encode() if method == "post" else None)
        return int(r.headers.get("X-ClickHouse-Exception-Code", 0)), r.text

    return run


def _client(state, user, password):
    return clickhouse_connect.get_client(host=state.host, port=state.port, username=user, password=password)


def test_into_outfile_cannot_rewrite_the_tenants_file(server, alice, tmp_path):
    _state, _admin, home = server
    path = tenancy.tenants_path(home)
    before = path.read_bytes()
    other = tmp_path / "out.txt"
    payload = "users: {alice: {password_sha256: x, app_ids: [com.alpha, com.bravo]}}"
    for sql in [
        f"SELECT '{payload}' INTO OUTFILE '{path}' TRUNCATE FORMAT RawBLOB",
        f"SELECT 1 INTO OUTFILE '{other}'",
        f"SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{other}' APPEND COMPRESSION 'gzip' FORMAT CSV",
        f"SELECT 1 INTO OUTFILE '{other}' AND STDOUT",
        f"EXPLAIN SELECT 1 INTO OUTFILE '{other}'",
        f"select 1 into   outfile '{other}'",
    ]:
        code, body = alice(sql)
        assert code == 497, (sql, body)
    assert path.read_bytes() == before
    assert not other.exists()
    assert alice("SELECT count() FROM marts.fct_installs")[1] == "100\n"  # alice still has only her app


@pytest.mark.parametrize("sql", [
    "SELECT file('{path}')", "SELECT FILE('{path}')", "SELECT length(file('{path}')) > 0",
    "SELECT 1 WHERE file('{path}') != ''", "SELECT (SELECT file('{path}'))",
    "WITH f AS (SELECT file('{path}') AS c) SELECT * FROM f", "SELECT * FROM file('{path}', 'LineAsString')",
    "DESCRIBE (SELECT file('{path}'))", "SELECT fileCluster('{path}')",
])
def test_scalar_file_cannot_read_files(server, alice, sql):
    _state, _admin, home = server
    code, body = alice(sql.format(path=tenancy.tenants_path(home)))
    assert code == 497, body
    assert "password_sha256" not in body


def test_files_named_like_tables_are_refused(server, alice):
    """chDB's default database (Overlay) reads a file of the server's working directory named like a table."""
    cwd = Path(f"/proc/{server[0].pid}/cwd").resolve()  # the server runs from / (the lake reader needs it)
    probe = cwd / f"tenant_probe_{os.getpid()}"
    dotted = probe.with_suffix(".csv")
    for path in (probe, dotted):
        path.write_text("secret,value\nbravo,1\n")
    try:
        name, dotted_name = probe.name, dotted.name
        for sql in [f"SELECT * FROM {name}", f"SELECT * FROM default.{name}", f"SELECT * FROM `{probe}`",
                    f"SELECT * FROM (WITH {name} AS (SELECT 1) SELECT * FROM {name}), {name}",
                    f"SELECT * FROM `{dotted_name}`", f"SELECT * FROM default.`{dotted_name}`"]:
            code, body = alice(sql)
            assert code == 497, (sql, body)
            assert "bravo" not in body
        # an Identifier parameter is one name: `a.b` is the file a.b, not table b of database a
        code, body = alice("SELECT * FROM {t:Identifier}", param_t=dotted.name)
        assert code == 497 and "bravo" not in body, body
    finally:
        probe.unlink()
        dotted.unlink()
    assert alice("WITH x AS (SELECT 1 AS y) SELECT y FROM x") == (0, "1\n")  # CTE names still resolve


def test_show_oracle_processlist_and_kill_are_refused(server, alice):
    state, _admin, _home = server
    for sql in [
        "SHOW COLUMNS FROM marts.fct_cost WHERE (SELECT count() FROM marts.fct_installs "
        "WHERE app_id = 'com.bravo') > 0",
        "SHOW TABLES FROM marts WHERE (SELECT 1)", "SHOW TABLES WHERE total_rows > 100", "SHOW PROCESSLIST",
        "SHOW DICTIONARIES FROM marts", "KILL QUERY WHERE 1", "KILL QUERY WHERE 1 SYNC",
        "KILL MUTATION WHERE 1",
    ]:
        code, body = alice(sql)
        assert code == 497, (sql, body)
    # bob's running query survives alice's KILL QUERY
    result = {}
    bob = _client(state, "bob", "bob-pw")
    t = threading.Thread(target=lambda: result.setdefault("n", bob.command("SELECT count() FROM "
                                                                           "marts.fct_installs WHERE sleep(1) = 0")))
    t.start()
    assert alice("KILL QUERY WHERE 1 SYNC")[0] == 497
    t.join()
    assert result["n"] == 201


@pytest.mark.parametrize("sql", [
    "SELECT dictGet('marts.d_installs', 'media_source', tuple('i1'))",
    "SELECT dictGetOrDefault('marts.d_installs', 'app_id', tuple('i1'), '')",
    "SELECT dictHas('marts.d_installs', tuple('i1'))",
    "SELECT * FROM marts.d_installs", "SELECT * FROM dictionary('marts.d_installs')",
    "SELECT joinGet('marts.j_installs', 'app_id', 'i1')", "SELECT joinGetOrNull('marts.j_installs', 'app_id', 'i1')",
    "SELECT * FROM marts.j_installs", "SELECT * FROM marts.m_installs",
    "SELECT * FROM marts.mv_sources", "SELECT * FROM marts.source_counts", "SELECT * FROM marts.mv_to",
    "SELECT * FROM marts.v_dict", "SELECT 1 WHERE 'i1' IN marts.j_installs",
    "SELECT * FROM merge('marts', '^fct_installs$')",
])
def test_reads_that_escape_the_filter_are_refused(server, alice, sql):
    code, body = alice(sql)
    assert code == 497, body
    assert "com.bravo" not in body and "bravo_net" not in body


@pytest.mark.parametrize("sql", [
    "SELECT total_rows FROM system.tables WHERE database = 'marts'", "SELECT * FROM system.tables",
    "SELECT name FROM system.tables WHERE total_bytes > 0", "SELECT t.total_rows FROM system.tables AS t",
    "SELECT COLUMNS('total') FROM system.tables", "SELECT data_compressed_bytes FROM system.columns",
    "SELECT * FROM system.mutations", "SELECT * FROM system.processes", "SELECT * FROM system.query_log",
    "SELECT * FROM system.parts", "SELECT * FROM system.dictionaries", "SELECT * FROM information_schema.tables",
    "SELECT table_rows FROM INFORMATION_SCHEMA.TABLES",
])
def test_metadata_of_other_tenants_is_refused(alice, sql):
    code, body = alice(sql)
    assert code == 497, body


@pytest.mark.parametrize("sql", [
    # PREWHERE runs before the tenant filter: its errors carried bob's row, or answered yes/no
    "SELECT count() FROM marts.fct_installs PREWHERE toUInt64(if(app_id = 'com.bravo', "
    "concat(app_id, '|', install_id, '|', media_source), '0')) = 0",
    "SELECT count() FROM marts.fct_installs PREWHERE throwIf(install_id = 'i1', 'i1 exists')",
    "SELECT * FROM (SELECT count() FROM marts.fct_installs prewhere throwIf(install_id = 'i1', 'i1 exists'))",
    # FINAL merges before the filter: bob's newer k1 hid alice's
    "SELECT * FROM marts.r_installs FINAL", "SELECT * FROM marts.v_final", "SELECT * FROM marts.v_prewhere",
    # functions of the block, not the row: rowNumberInBlock() > 150 counted 51 of alice's 100 rows
    "SELECT count() FROM marts.fct_installs WHERE rowNumberInBlock() > 150",
    "SELECT max(blockSize()) FROM marts.fct_installs", "SELECT dumpColumnStructure(install_id) FROM marts.fct_installs",
    # SAMPLE n rows: the share comes from every tenant's row count
    "SELECT count() FROM marts.fct_events SAMPLE 10",
])
def test_clauses_evaluated_before_the_filter_are_refused(alice, sql):
    code, body = alice(sql)
    assert code == 497, body
    assert "com.bravo" not in body and "i1 exists" not in body


@pytest.mark.parametrize("sql, expected", [
    # WHERE moved into PREWHERE ran first, ordered by column size (cost is smaller than app_id)
    ("SELECT count() FROM marts.fct_cost WHERE throwIf(cost = 32, 'bravo cost')", "0\n"),
    ("SELECT count() FROM marts.fct_cost WHERE toUInt64(if(cost = 32, concat(app_id, '|', toString(cost)), '0')) = 0",
     "1\n"),
    ("SELECT count() FROM marts.fct_installs WHERE throwIf(media_source = 'bravo_net', 'bravo row')", "0\n"),
    ("SELECT count() FROM marts.fct_installs WHERE throwIf(app_id = 'com.bravo', 'bravo row')", "0\n"),
    ("SELECT count() FROM marts.fct_cost AS c JOIN marts.fct_installs AS i ON c.app_id = i.app_id "
     "WHERE throwIf(c.cost = 32, 'bravo cost')", "0\n"),
    ("SELECT count() FROM marts.fct_installs AS a JOIN marts.fct_cost AS c ON a.app_id = c.app_id "
     "AND throwIf(c.cost = 32, 'bravo cost') = 0", "100\n"),
    ("SELECT count() FROM marts.fct_installs ARRAY JOIN [throwIf(install_id = 'i1', 'i1 exists')] AS x", "100\n"),
    ("SELECT install_id FROM marts.fct_installs LIMIT 1 BY throwIf(install_id = 'i1', 'i1 exists')", "i0\n"),
    # a set index evaluated the condition on bob's values of the granule
    ("SELECT count() FROM marts.fct_events WHERE throwIf(v = 'bravo_secret', 'bravo v')", "0\n"),
    ("SELECT count() FROM marts.fct_events SAMPLE 1 / 2 WHERE throwIf(v = 'bravo_secret', 'bravo v')", "0\n"),
])
def test_where_conditions_see_only_the_tenants_rows(alice, sql, expected):
    assert alice(sql) == (0, expected)


def test_user_defined_functions_are_refused(server, alice):
    """``CREATE FUNCTION readit AS (p) -> file(p)`` (as default) made file() callable under another name;
    one may also take another spelling of a built-in (``sumIf``, ``COUNT``) and shadow it."""
    _state, admin, home = server
    path = tenancy.tenants_path(home)
    admin.command("CREATE FUNCTION sumIf AS (p, c) -> file(p)")
    try:
        assert "password_sha256" in admin.command(f"SELECT sumIf('{path}', 1)")
        for sql in [f"SELECT readit('{path}')", f"SELECT arrayMap(p -> readit(p), ['{path}'])",
                    f"SELECT count() FROM marts.fct_installs WHERE readit('{path}') != ''",
                    f"SELECT sumIf('{path}', 1)", f"SELECT x FROM (SELECT sumIf('{path}', 1) AS x)"]:
            code, body = alice(sql)
            assert code == 497 and "user-defined function" in body, (sql, body)
            assert "password_sha256" not in body
        # names that are no function at all fail as unknown; combinators that are no UDF work
        assert alice(f"SELECT READIT('{path}')")[0] == 46
        assert alice("SELECT countIf(app_id = 'com.alpha'), lower('A') FROM marts.fct_installs") == (0, "100\ta\n")
    finally:
        admin.command("DROP FUNCTION sumIf")


@pytest.mark.parametrize("sql", [
    "SELECT max(_part_offset) + 1 - count() FROM marts.fct_installs",  # bob's row count
    "SELECT max(i._block_offset) FROM marts.fct_installs AS i", "SELECT max(`_part_offset`) FROM marts.fct_installs",
    "SELECT _part, _part_index, _part_starting_offset, _part_uuid FROM marts.fct_installs",
    "SELECT _partition_id, _partition_value, _block_number, _row_exists, _disk_name FROM marts.fct_installs",
    "SELECT _part_granule_offset, _part_data_version FROM marts.fct_installs",
    "SELECT _sample_factor FROM marts.fct_events SAMPLE 1 / 2",
    # plans count the parts and granules left after index analysis over every tenant's rows
    "EXPLAIN SELECT count() FROM marts.fct_installs WHERE install_id = 'i1'", "EXPLAIN PLAN SELECT 1",
    "EXPLAIN PIPELINE SELECT count() FROM marts.fct_installs",
    "EXPLAIN ESTIMATE SELECT count() FROM marts.fct_installs",
    "EXPLAIN indexes = 1 SELECT count() FROM marts.fct_installs", "EXPLAIN QUERY TREE SELECT 1",
])
def test_virtual_columns_and_plans_are_refused(alice, sql):
    code, body = alice(sql)
    assert code == 497, body
    assert "200" not in body and "Granules" not in body


def test_an_identifier_parameter_cannot_name_a_virtual_column(alice):
    code, body = alice("SELECT max({c:Identifier}) FROM marts.fct_installs", param_c="_part_offset")
    assert code == 497, body
    assert alice("SELECT count({c:Identifier}) FROM marts.fct_installs", param_c="install_id") == (0, "100\n")


@pytest.mark.parametrize("setting, value", [
    ("max_threads", "100000"), ("max_block_size", "1000000000"), ("max_query_size", "1000000000"),
    ("max_threads", "auto"), ("max_memory_usage", "-1"),
    # their error counted the rows read before the filter: "max rows: 10.00, current rows: 300.00"
    ("max_rows_to_read", "10"), ("max_bytes_to_read", "10"), ("read_overflow_mode", "break"),
])
def test_tenants_cannot_raise_resource_limits(alice, setting, value):
    code, body = alice("SELECT count() FROM marts.fct_installs", **{setting: value})
    assert code == 164, body
    assert "current rows" not in body


_SPACES = ["\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007",
           "\u2008", "\u2009", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
_PREFIXES = [*(s + " " for s in _SPACES), "\ufeff", "\ufeff\u00a0\u3000", "/* c */ ", "/* /* */ SHOW */ ",
             "/* /* */ SELECT 1 */ ", "/*/**/*/", "-- c\n", "# c\n", "\n\t"]
_DENIED = ["file", "url", "s3", "hdfs", "remote", "remoteSecure", "cluster", "clusterAllReplicas", "input", "merge",
           "executable", "mysql", "postgresql", "jdbc", "odbc", "azureBlobStorage", "iceberg", "icebergS3",
           "deltaLake", "hudi", "gcs", "dictGet", "dictHas", "joinGet", "loop", "python", "mongodb"]
_SELECTS = [
    *(f"SELECT {f}('x')" for f in _DENIED),
    *(f"SELECT * FROM {f}('x')" for f in _DENIED if f[:4] not in ("dict", "join")),
    "SELECT 1 WHERE file('x') = ''", "SELECT * FROM merge('marts', '^fct_installs$')",
    "SELECT * FROM view(SELECT * FROM marts.fct_installs)",
    "SELECT 1 INTO OUTFILE 'x'", "SELECT * FROM system.mutations", "SELECT * FROM system.processes",
    "SELECT query FROM system.query_log", "SELECT total_rows FROM system.tables", "SELECT * FROM marts.mv_sources",
    "SELECT count() FROM marts.fct_installs PREWHERE throwIf(install_id = 'i1', 'i1 exists')",
    "SELECT readit(install_id) FROM marts.fct_installs",
    "SELECT arrayMap(p -> readit(p), [install_id]) FROM marts.fct_installs",
    "SELECT max(_part_offset) + 1 - count() FROM marts.fct_installs", "SELECT count() FROM marts.r_installs FINAL",
    "SELECT max(_block_number), max(_row_exists) FROM system.one", "SELECT count() FROM marts.fct_events SAMPLE 10",
    "SELECT count() FROM numbers(10) WHERE rowNumberInBlock() > 5",
]
_STATEMENTS = ["KILL QUERY WHERE 1", "SHOW PROCESSLIST", "SHOW COLUMNS FROM marts.fct_cost WHERE (SELECT 1)",
               "EXPLAIN SELECT count() FROM marts.fct_installs", "EXPLAIN PIPELINE SELECT 1",
               "EXPLAIN ESTIMATE SELECT count() FROM marts.fct_installs", "EXPLAIN indexes = 1 SELECT 1"]


def _cases():
    for construct in _SELECTS + _STATEMENTS:
        for prefix in _PREFIXES:
            yield prefix + construct
        if "marts." not in construct:  # database and table names are case-sensitive
            yield from (construct.lower(), construct.upper(), construct.swapcase())
        if construct in _SELECTS and "OUTFILE" not in construct:
            yield f"({construct})"
            yield f"\u00a0(\u3000{construct})"
            yield f"WITH x AS (SELECT 1) {construct}"
            yield f"SELECT * FROM ({construct})"


def test_generated_variants_are_all_refused(alice):
    """Every prefix (each Unicode space, BOM, comments, nested comments, newlines) and case before
    every forbidden construct, and each wrapped in parentheses, a CTE and a subquery."""
    bad = []
    n = 0
    for sql in _cases():
        n += 1
        code, body = alice(sql)
        if code != 497:
            bad.append((sql, code, body[:200]))
    assert not bad, f"{len(bad)} of {n} not refused: {bad[:5]}"
    assert n > 1000


def test_legitimate_analyst_queries_work_and_are_filtered(server, alice):
    state, _admin, _home = server
    client = _client(state, "alice", "alice-pw")
    assert client.command("SELECT count() FROM marts.fct_installs") == 100
    assert client.query("SELECT app_id, count() FROM marts.fct_installs AS i INNER JOIN marts.fct_cost AS c "
                        "USING app_id GROUP BY app_id").result_rows == [("com.alpha", 100)]
    assert client.command("WITH x AS (SELECT * FROM marts.fct_installs) SELECT count() FROM x "
                          "WHERE install_id IN (SELECT install_id FROM marts.fct_installs)") == 100
    assert client.command("SELECT count() FROM (SELECT app_id FROM marts.fct_installs UNION ALL "
                          "SELECT app_id FROM marts.fct_cost) WHERE app_id != 'com.alpha'") == 0
    assert client.command("SELECT n FROM marts.v_total") == 100  # a view without app_id: filtered inside
    assert client.query("SELECT rate FROM marts.fx_rates").result_rows == [(1.1,)]
    assert client.command("SELECT count() FROM marts.fct_installs WHERE app_id = {a:String}",
                          parameters={"a": "com.bravo"}) == 0
    assert "fct_installs" in alice("SHOW TABLES FROM marts")[1]
    assert "marts" in alice("SHOW DATABASES")[1]
    assert "media_source" in alice("SHOW COLUMNS FROM marts.fct_installs")[1]
    assert "media_source" in alice("DESCRIBE TABLE marts.fct_installs")[1]
    assert alice("EXISTS TABLE marts.fct_installs")[1] == "1\n"
    assert "MergeTree" in alice("SHOW CREATE TABLE marts.fct_installs")[1]
    assert "SELECT" in alice("EXPLAIN SYNTAX SELECT count() FROM marts.fct_installs")[1]
    assert "TableIdentifier marts.fct_installs" in alice("EXPLAIN AST SELECT count() FROM marts.fct_installs")[1]
    assert alice("SELECT count() FROM marts.fct_events SAMPLE 1 / 2 OFFSET 1 / 2")[0] == 0  # a share: row by row
    assert alice("SELECT count() FROM marts.fct_installs WHERE media_source = 'alpha_net'") == (0, "100\n")
    assert alice("SELECT count() FROM {t:Identifier}", param_t="fct_installs", database="marts") == (0, "100\n")
    assert alice("SELECT name FROM system.tables WHERE database = 'marts' AND name = 'fct_cost'")[1] == "fct_cost\n"
    assert alice("\ufeff\u00a0/* /* */ */ SELECT count() FROM marts.fct_installs FORMAT JSONEachRow")[1] == \
        '{"count()":100}\n'
    assert alice("SELECT count() FROM marts.fct_installs", method="get")[1] == "100\n"
    assert alice("SELECT 1", max_threads="1") == (0, "1\n")
    assert alice("SELECT 1", max_threads="0", max_block_size="1000", max_memory_usage="1000000000",
                 max_execution_time="5", max_result_rows="10") == (0, "1\n")
    assert alice("SELECT 1", use_query_cache="1")[0] == 164
    assert alice("SELECT 1", output_format_schema="/tmp/x")[0] == 164
    assert alice("SELECT 'a\u00a0b'")[1] == "a\u00a0b\n"  # spaces inside strings are data


def test_the_default_user_is_unaffected(server):
    _state, admin, home = server
    assert admin.command("SELECT count() FROM marts.fct_installs") == 301
    assert admin.command("SELECT sum(n) FROM marts.mv_sources") == 301
    assert admin.command(f"SELECT length(file('{tenancy.tenants_path(home)}')) > 0") == 1
    assert admin.command("SELECT dictGet('marts.d_installs', 'app_id', tuple('i1'))") == "com.bravo"
    admin.command("CREATE TABLE marts.scratch (x UInt8) ENGINE = MergeTree ORDER BY x")
    admin.insert("marts.scratch", [[1]], column_names=["x"])
    assert admin.command("SELECT count() FROM marts.scratch") == 1
    admin.command("DROP TABLE marts.scratch")
