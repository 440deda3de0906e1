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


def test_each_tenant_gets_a_user_policies_then_grants_on_app_tables(ch, tables):
    query = access.client_query(ch)
    tenants = {"alice": tenancy.Tenant("alice", HASH.upper(), ("com.a", "com.b"))}
    plan = access.plan(query, tenants, state=access.ServerState())
    assert {"access_test.events", "access_test.by_app"} <= set(plan.tables)
    assert "access_test.no_app" not in plan.tables
    assert plan.statements[:4] == ["CREATE ROLE IF NOT EXISTS `unmogrowp_tenant`",
                                   f"CREATE USER IF NOT EXISTS `alice` IDENTIFIED WITH sha256_hash BY '{HASH}'",
                                   f"ALTER USER `alice` IDENTIFIED WITH sha256_hash BY '{HASH}'",
                                   "GRANT `unmogrowp_tenant` TO `alice`"]
    grant = "GRANT SELECT ON `access_test`.`events` TO `alice`"
    policy = ("CREATE ROW POLICY OR REPLACE `tenant_alice` ON `access_test`.`events` FOR SELECT "
              "USING app_id IN ('com.a', 'com.b') TO `alice`")
    assert grant in plan.statements and policy in plan.statements
    assert ("CREATE ROW POLICY OR REPLACE `unrestricted` ON `access_test`.`events` FOR SELECT USING 1 "
            "TO ALL EXCEPT `alice`") in plan.statements
    assert "GRANT SELECT ON `access_test`.`no_app` TO `alice`" not in plan.statements
    # every policy exists before the first grant: nothing is readable unfiltered, even mid-run
    kinds = [s.split(" ")[0] + ("_POLICY" if "ROW POLICY" in s else "") for s in plan.statements]
    assert max(i for i, k in enumerate(kinds) if k == "CREATE_POLICY") < kinds.index("GRANT", 4)
    # the role, three user statements, two policies and one grant per table
    assert len(plan.statements) == 4 + 3 * len(plan.tables)
    for statement in plan.statements:
        _parses(ch, statement)
    assert access.plan(query, tenants, state=access.ServerState()).statements == plan.statements  # a re-run


def test_removed_tenants_lose_user_then_policies_and_stray_grants_go(ch, tables):
    query = access.client_query(ch)
    tenants = {"alice": tenancy.Tenant("alice", HASH, ("com.a",))}
    state = access.ServerState(
        users={"alice", "bob"},
        policies=[("tenant_alice", "access_test", "events"), ("tenant_bob", "access_test", "events"),
                  ("tenant_bob", "access_test", "by_app")],
        grants={("alice", "access_test", "events"), ("alice", "access_test", "no_app"),
                ("bob", "access_test", "events")})
    plan = access.plan(query, tenants, cluster="lakehouse", state=state)
    assert plan.removed == ["bob"]
    assert plan.statements[:3] == [
        "DROP USER IF EXISTS `bob` ON CLUSTER `lakehouse`",
        "DROP ROW POLICY IF EXISTS `tenant_bob` ON `access_test`.`events` ON CLUSTER `lakehouse`",
        "DROP ROW POLICY IF EXISTS `tenant_bob` ON `access_test`.`by_app` ON CLUSTER `lakehouse`"]
    # a grant on a table without app_id (made by hand, or the table lost the column) is taken back
    assert "REVOKE ON CLUSTER `lakehouse` SELECT ON `access_test`.`no_app` FROM `alice`" in plan.statements
    assert not any(s.startswith("REVOKE") and "`events`" in s for s in plan.statements)
    assert all("ON CLUSTER `lakehouse`" in s for s in plan.statements)
    for statement in plan.statements:
        _parses(ch, statement)
    # the last tenant gone: its user, its policies and the service accounts' policies go, nothing is granted
    empty = access.plan(query, {}, state=access.ServerState({"alice"}, [("tenant_alice", "access_test", "events")]))
    assert empty.statements[:2] == ["DROP USER IF EXISTS `alice`",
                                    "DROP ROW POLICY IF EXISTS `tenant_alice` ON `access_test`.`events`"]
    assert "DROP ROW POLICY IF EXISTS `unrestricted` ON `access_test`.`events`" in empty.statements
    assert not any(s.startswith(("CREATE", "GRANT")) for s in empty.statements)


def test_a_tenant_named_like_a_service_account_is_refused(ch, tables):
    with pytest.raises(access.AccessError, match="service accounts: default"):
        access.plan(access.client_query(ch), {"default": tenancy.Tenant("default", HASH, ("com.a",))},
                    state=access.ServerState())


def test_server_state_reads_the_role_holders_their_policies_and_grants():
    answers = {"role_grants": "alice\nbob\n", "row_policies": "tenant_bob\traw\tevents\n",
               "system.grants": "alice\traw\tevents\nbob\tmarts\tfct_installs\n"}
    asked = []

    def query(sql):
        asked.append(sql)
        return next(v for k, v in answers.items() if k in sql)

    state = access.server_state(query)
    assert state == access.ServerState({"alice", "bob"}, [("tenant_bob", "raw", "events")],
                                       {("alice", "raw", "events"), ("bob", "marts", "fct_installs")})
    assert "user_name IN ('alice', 'bob')" in asked[2]


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
    assert meta["statements"].value == 4 + 3 * len(meta["tables"].data)
    assert "sha256_hash BY '…'" in meta["ddl"].value
    assert tenancy.read_tenants(path.read_text())["alice"].password_sha256 not in meta["ddl"].value
    # without a file, nobody has access: the plan grants nothing
    none = dg.materialize([tenant_access], resources={**resources, "tenancy": TenancyResource(
        tenants_uri=str(tmp_path / "missing.yaml"))})
    assert none.asset_materializations_for_node("tenant_access")[0].metadata["tenants"].data == []
