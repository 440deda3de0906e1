"""SPEC §8: raw device ids and IPs only in bronze, silver and ClickHouse ``raw``; every analytics
table (ClickHouse marts and the rest, Delta feature tables) holds keyed hashes and truncated IPs."""

import ipaddress

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from unmogrowp.fraud.features import INSTALL_TABLE
from unmogrowp.ingest.events import SILVER_EVENTS
from unmogrowp.lake import Lake
from unmogrowp.privacy import keys

RAW_ZONES = ("bronze/", "silver/", "landing/")  # where raw identifiers may live (with a retention limit)
ID_COLUMNS = ("device_id", "idfv", "android_id", "ip")


def test_keys_and_truncation():
    a = keys.ip_key("203.0.113.9", "k1")
    assert keys.ip_key("203.0.113.9", "k2") != a  # keyed: another key, another pseudonym
    assert keys.ip_key(None, "k1") is None
    assert keys.device_key("app", "dev", "e1", "k1") != keys.device_key("app", "dev", "e1", "k2")
    assert keys.truncate_ip("203.0.113.9") == "203.0.113.0/24"
    assert keys.truncate_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::/48"
    assert keys.truncate_ip("::ffff:198.51.100.7") == "198.51.100.0/24"
    assert keys.truncate_ip("not an ip") is None


@pytest.fixture(scope="module")
def raw_identifiers(pipeline_run) -> dict[str, set[str]]:
    lake = Lake(pipeline_run.settings.lake_uri)
    silver = lake.read(SILVER_EVENTS, columns=list(ID_COLUMNS))
    out = {c: {v for v in silver[c].to_pylist() if v} for c in ID_COLUMNS}
    assert all(len(v) > 100 for v in out.values()), {c: len(v) for c, v in out.items()}
    return out


def test_no_clickhouse_table_outside_raw_holds_a_raw_identifier(pipeline_run, raw_identifiers, ch):
    needles = sorted(set().union(*raw_identifiers.values()))
    # staging models are views over raw (matching reads raw ids there); nothing of them is stored
    assert set(ch.query("SELECT DISTINCT engine FROM system.tables WHERE database = 'staging'").result_rows) == {
        ("View",)}
    columns = ch.query(
        "SELECT database, table, name FROM system.columns WHERE database NOT IN "
        "('raw', 'staging', 'system', 'INFORMATION_SCHEMA', 'information_schema', 'default') "
        "AND type IN ('String', 'Nullable(String)', 'LowCardinality(String)', 'LowCardinality(Nullable(String))')"
    ).result_rows
    by_table: dict[str, list[str]] = {}
    for db, table, col in columns:
        by_table.setdefault(f"`{db}`.`{table}`", []).append(col)
    assert {"`marts`.`fct_installs`", "`marts`.`fct_reengagements`",
            "`marts`.`mta_nonconverting_paths`"} <= set(by_table)
    ch.command("CREATE TEMPORARY TABLE needles (v String)")  # the client's session keeps it
    ch.insert("needles", [[v] for v in needles], column_names=["v"])
    leaks = {}
    for table, cols in by_table.items():
        counts = ch.query(f"SELECT {', '.join(f'countIf(`{c}` IN needles)' for c in cols)} FROM {table}").result_rows[0]
        leaks.update({f"{table}.{c}": n for c, n in zip(cols, counts, strict=True) if n})
    assert leaks == {}
    assert not {c for _, _, c in columns} & set(ID_COLUMNS)


def _string_columns(table: pa.Table):
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            yield name, column


def test_no_delta_table_outside_bronze_and_silver_holds_a_raw_identifier(pipeline_run, raw_identifiers):
    lake = Lake(pipeline_run.settings.lake_uri)
    analytics = [t for t in lake.tables() if not t.startswith(RAW_ZONES)]
    assert INSTALL_TABLE in analytics and len(analytics) >= 4, analytics
    needles = pa.array(sorted(set().union(*raw_identifiers.values())))
    leaks = {}
    for name in analytics:
        data = lake.read(name)
        for col, values in _string_columns(data):
            n = pc.sum(pc.fill_null(pc.is_in(values, needles), False)).as_py() or 0
            if n:
                leaks[f"{name}.{col}"] = n
    assert leaks == {}


def test_install_features_carry_keyed_ip_and_network(pipeline_run):
    lake = Lake(pipeline_run.settings.lake_uri)
    feats = lake.read(INSTALL_TABLE, columns=["install_id", "ip_key", "ip_network"]).to_pylist()
    silver = {r["event_id"]: r["ip"] for r in
              lake.read(SILVER_EVENTS, columns=["event_id", "event_type", "ip"]).to_pylist()
              if r["event_type"] == "install"}
    assert len(feats) > 1000
    with_ip = [f for f in feats if silver.get(f["install_id"])]
    assert len(with_ip) > 0.9 * len(feats)
    for f in with_ip:
        raw = silver[f["install_id"]]
        assert f["ip_key"] == keys.ip_key(raw, pipeline_run.settings.privacy_key)
        assert ipaddress.ip_address(raw) in ipaddress.ip_network(f["ip_network"])
        assert f["ip_network"].endswith(("/24", "/48"))
