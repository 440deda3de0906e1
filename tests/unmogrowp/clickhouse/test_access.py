"""The tenant-access migration step: its statements for the tables of a real (local) server, each one
parsed by ClickHouse's own parser, and the Dagster asset that runs it. chDB refuses users and row
policies (tenancy.py), so applying them is what only a real ClickHouse server can show."""

import dagster as dg
import pytest

from assets.access import tenant_access
from assets.resources import ClickHouseResource, TenancyResource
from unmogrowp.clickhouse import access, tenancy

HASH = "ab" * 32


@pytest.fixture
def tables(ch):
    ch.command("CREATE DATABASE IF NOT EXISTS access_test")
    ch.command("CREATE TABLE IF NOT EXISTS access_test.events (app_id String, n Int32) ENGINE = MergeTree "
               "ORDER BY app_id")
    ch.command("CREATE TABLE IF NOT EXISTS access_test.no_app (n Int32) ENGINE = MergeTree ORDER BY n")
    ch.command("CREATE VIEW IF NOT EXISTS access_test.by_app AS SELECT app_id, sum(n) AS n FROM access_test.events "
               "GROUP BY app_id")
    yield
    ch.command("DROP DATABASE access_test")


def _parses(ch, statement: str) -> str:
    return ch.command("SELECT formatQuerySingleLine({s:String})", parameters={"s": statement})


def test_each_tenant_gets_a_user_grants_on_app_tables_and_row_policies(ch, tables):
    query = access.client_query(ch)
    tenants = {"alice": tenancy.Tenant("alice", HASH.upper(), ("com.a", "com.b"))}
    plan = access.plan(query, tenants, existing=[])
    assert {"access_test.events", "access_test.by_app"} <= set(plan.tables)
    assert "access_test.no_app" not in plan.tables
    assert plan.statements[:3] == [f"CREATE USER IF NOT EXISTS `alice` IDENTIFIED WITH sha256_hash BY '{HASH}'",
                                   f"ALTER USER `alice` IDENTIFIED WITH sha256_hash BY '{HASH}'",
                                   "REVOKE ALL ON *.* FROM `alice`"]
    assert "GRANT SELECT ON `access_test`.`events` TO `alice`" in plan.statements
    assert "GRANT SELECT ON `access_test`.`no_app` TO `alice`" not in plan.statements
    assert ("CREATE ROW POLICY OR REPLACE `tenant_alice` ON `access_test`.`events` FOR SELECT "
            "USING app_id IN ('com.a', 'com.b') TO `alice`") in plan.statements
    assert ("CREATE ROW POLICY OR REPLACE `unrestricted` ON `access_test`.`events` FOR SELECT USING 1 "
            "TO ALL EXCEPT `alice`") in plan.statements
    # one grant and two policies per table, three user statements
    assert len(plan.statements) == 3 + 3 * len(plan.tables)
    for statement in plan.statements:
        _parses(ch, statement)
    assert access.plan(query, tenants, existing=[]).statements == plan.statements  # a re-run: the same


def test_removed_tenants_lose_policies_and_user_on_the_cluster(ch, tables):
    query = access.client_query(ch)
    tenants = {"alice": tenancy.Tenant("alice", HASH, ("com.a",))}
    existing = [("tenant_alice", "access_test", "events"), ("tenant_bob", "access_test", "events"),
                ("tenant_bob", "access_test", "by_app")]
    plan = access.plan(query, tenants, cluster="lakehouse", existing=existing)
    assert plan.removed == ["bob"]
    assert plan.statements[:3] == [
        "DROP ROW POLICY IF EXISTS `tenant_bob` ON `access_test`.`events` ON CLUSTER `lakehouse`",
        "DROP ROW POLICY IF EXISTS `tenant_bob` ON `access_test`.`by_app` ON CLUSTER `lakehouse`",
        "DROP USER IF EXISTS `bob` ON CLUSTER `lakehouse`"]
    assert all("ON CLUSTER `lakehouse`" in s for s in plan.statements)
    assert _parses(ch, plan.statements[-1]).startswith("CREATE ROW POLICY OR REPLACE unrestricted ON ")
    for statement in plan.statements:
        _parses(ch, statement)
    # the last tenant gone: its policies, its user and the service accounts' policies go
    empty = access.plan(query, {}, existing=[("tenant_alice", "access_test", "events")])
    assert empty.statements[:2] == ["DROP ROW POLICY IF EXISTS `tenant_alice` ON `access_test`.`events`",
                                    "DROP USER IF EXISTS `alice`"]
    assert "DROP ROW POLICY IF EXISTS `unrestricted` ON `access_test`.`events`" in empty.statements
    assert not any(s.startswith(("CREATE", "GRANT")) for s in empty.statements)


def test_the_asset_plans_locally_and_keeps_hashes_out_of_the_ui(ch, tables, clickhouse_server, clickhouse_home,
                                                                 tmp_path):
    path = tmp_path / "tenants.yaml"
    tenancy.write_tenants(path, {"alice": ("pw", ["com.a"])})
    resources = {"clickhouse": ClickHouseResource(port=clickhouse_server.port, local_home=str(clickhouse_home)),
                 "tenancy": TenancyResource(tenants_uri=str(path))}
    result = dg.materialize([tenant_access], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("tenant_access")[0].metadata
    assert meta["applied"].value is False
    assert meta["tenants"].data == ["alice"]
    assert {"access_test.events", "access_test.by_app"} <= set(meta["tables"].data)
    assert meta["statements"].value == 3 + 3 * len(meta["tables"].data)
    assert "sha256_hash BY '…'" in meta["ddl"].value
    assert tenancy.read_tenants(path.read_text())["alice"].password_sha256 not in meta["ddl"].value
    # without a file, nobody has access: the plan grants nothing
    none = dg.materialize([tenant_access], resources={**resources, "tenancy": TenancyResource(
        tenants_uri=str(tmp_path / "missing.yaml"))})
    assert none.asset_materializations_for_node("tenant_access")[0].metadata["tenants"].data == []
