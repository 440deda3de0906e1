"""Tenancy: two tenant users against the local server each see only their apps' rows, and cannot
lift the filter, write, or reach other rows through table functions or system tables."""

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.unmogrowp.clickhouse.tenants import two_tenant_server
from unmogrowp.clickhouse import tenancy


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with two_tenant_server(tmp_path_factory.mktemp("tenancy"), [
        "CREATE VIEW marts.v_installs_per_source AS SELECT app_id, media_source, count() AS installs "
        "FROM marts.fct_installs GROUP BY app_id, media_source",
    ]) as server:
        yield server


def _client(state, user, password):
    return clickhouse_connect.get_client(host=state.host, port=state.port, username=user, password=password)


def test_each_tenant_sees_only_its_apps(server):
    state, admin, _home = server
    alice, bob = _client(state, "alice", "alice-pw"), _client(state, "bob", "bob-pw")
    assert admin.command("SELECT count() FROM marts.fct_installs") == 300
    assert alice.query("SELECT app_id, count() FROM marts.fct_installs GROUP BY app_id").result_rows == [
        ("com.alpha", 100)]
    assert bob.query("SELECT app_id, count() FROM marts.fct_installs GROUP BY app_id").result_rows == [
        ("com.bravo", 200)]
    # views, joins, subqueries and CTEs are filtered at every table read
    assert alice.query("SELECT app_id, installs FROM marts.v_installs_per_source").result_rows == [
        ("com.alpha", 100)]
    assert bob.command("SELECT sum(cost) FROM marts.fct_installs AS i INNER JOIN marts.fct_cost AS c "
                       "ON c.app_id = i.app_id") == 200 * 32
    assert alice.command("WITH x AS (SELECT * FROM marts.fct_installs) SELECT count() FROM x "
                         "WHERE install_id IN (SELECT install_id FROM marts.fct_installs)") == 100
    assert alice.command("SELECT count() FROM marts.fct_installs WHERE app_id = 'com.bravo'") == 0
    # tables without app_id (reference data) are shared
    assert bob.query("SELECT rate FROM marts.fx_rates").result_rows == [(1.1,)]
    # pandas / Arrow reads go through the same path
    assert set(alice.query_df("SELECT app_id FROM marts.fct_installs")["app_id"]) == {"com.alpha"}


@pytest.mark.parametrize(("sql", "code"), [
    ("INSERT INTO marts.fct_installs VALUES ('x', 'com.alpha', 'n')", 164),
    ("ALTER TABLE marts.fct_installs DELETE WHERE 1", 164),
    ("SET additional_table_filters = {}", 164),
    ("SET readonly = 0", 164),
    ("SELECT count() FROM marts.fct_installs SETTINGS additional_table_filters = {}", 164),
    ("SELECT count() FROM merge('marts', '^fct_installs$')", 497),
    ("SELECT count() FROM loop(marts.fct_installs) LIMIT 1", 497),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", 497),
    ("SELECT query FROM system.processes", 497),
    ("SELECT count() FROM marts.fct_cost AS c, (SELECT * FROM view(SELECT * FROM marts.fct_installs)) AS v", 497),
])
def test_a_tenant_cannot_lift_or_bypass_the_filter(server, sql, code):
    state, admin, _home = server
    alice = _client(state, "alice", "alice-pw")
    with pytest.raises(DatabaseError, match=f"Code: {code}\\."):
        alice.command(sql)
    assert admin.command("SELECT count() FROM marts.fct_installs") == 300  # nothing was written


def test_authentication(server):
    state, _admin, _home = server
    for user, password in (("alice", "wrong"), ("mallory", "x")):
        with pytest.raises(DatabaseError, match="Code: 516"):
            _client(state, user, password)
    with pytest.raises(DatabaseError, match="Code: 497"):
        clickhouse_connect.get_client(host=state.host, port=state.port, username="alice",
                                      password="alice-pw", database="system").command(
            "SELECT count() FROM processes")


def test_tenants_file_is_read_again_when_it_changes(server):
    state, _admin, home = server
    path = tenancy.tenants_path(home)
    tenancy.write_tenants(path, {"alice": ("alice-pw", ["com.alpha", "com.bravo"]), "bob": ("bob-pw", ["com.bravo"])})
    try:
        assert _client(state, "alice", "alice-pw").command("SELECT count() FROM marts.fct_installs") == 300
    finally:
        tenancy.write_tenants(path, {"alice": ("alice-pw", ["com.alpha"]), "bob": ("bob-pw", ["com.bravo"])})
    assert _client(state, "alice", "alice-pw").command("SELECT count() FROM marts.fct_installs") == 100


def test_every_lakehouse_table_with_app_id_is_filtered(pipeline_run, clickhouse_server, clickhouse_home, ch):
    """On the pipeline's real tables: a tenant of the generated app sees exactly its rows in every
    table and view with app_id; a tenant of another app sees none."""
    tables = tenancy.tenant_tables(lambda sql: "\n".join("\t".join(r) for r in ch.query(sql).result_rows))
    assert {"marts.fct_installs", "marts.fct_cohort_kpis", "raw.events"} <= set(tables)
    app = ch.command("SELECT any(app_id) FROM marts.fct_installs")
    path = tenancy.tenants_path(clickhouse_home)
    tenancy.write_tenants(path, {"owner": ("pw1", [app]), "other": ("pw2", ["com.someone.else"])})
    try:
        owner = _client(clickhouse_server, "owner", "pw1")
        other = _client(clickhouse_server, "other", "pw2")
        for table in tables:
            total = ch.command(f"SELECT count() FROM {table} WHERE app_id = {{a:String}}", parameters={"a": app})
            assert owner.command(f"SELECT count() FROM {table}") == total, table
            assert other.command(f"SELECT count() FROM {table}") == 0, table
    finally:
        path.unlink()
    ddl = tenancy.row_policy_ddl(tables, [tenancy.Tenant("owner", "", (app,))])
    assert len(ddl) == 2 * len(tables)
    assert ddl[0].startswith(f"CREATE ROW POLICY OR REPLACE `tenant_owner` ON `{tables[0].split('.')[0]}`")
    assert ddl[1].endswith("USING 1 TO ALL EXCEPT `owner`")
