"""A private local server with two tenants (alice: com.alpha, bob: com.bravo) over a small marts schema."""

from contextlib import contextmanager
from pathlib import Path

from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager, tenancy

APPS = {"alice": "com.alpha", "bob": "com.bravo"}
# 300 installs: every third is alice's (100), the rest bob's (200); cost 10 and 32; shared fx rates
BASE_SQL = [
    "CREATE DATABASE marts",
    "CREATE TABLE marts.fct_installs (install_id String, app_id String, media_source String) "
    "ENGINE = MergeTree ORDER BY install_id",
    "INSERT INTO marts.fct_installs SELECT concat('i', toString(number)), "
    "if(number % 3 = 0, 'com.alpha', 'com.bravo'), if(number % 3 = 0, 'alpha_net', 'bravo_net') FROM numbers(300)",
    "CREATE TABLE marts.fct_cost (app_id String, cost Float64) ENGINE = MergeTree ORDER BY app_id",
    "INSERT INTO marts.fct_cost VALUES ('com.alpha', 10), ('com.bravo', 32)",
    "CREATE TABLE marts.fx_rates (currency String, rate Float64) ENGINE = MergeTree ORDER BY currency",
    "INSERT INTO marts.fx_rates VALUES ('EUR', 1.1)",
]


@contextmanager
def two_tenant_server(home: Path, extra_sql: list[str], teardown_sql: list[str] = ()):
    """Yields (server state, admin client, home) with ``BASE_SQL`` and ``extra_sql`` run as default."""
    state, admin = private_clickhouse(home)
    try:
        for sql in [*BASE_SQL, *extra_sql]:
            admin.command(sql)
        tenancy.write_tenants(tenancy.tenants_path(home), {
            "alice": ("alice-pw", [APPS["alice"]]), "bob": ("bob-pw", [APPS["bob"]])})
        yield state, admin, home
        for sql in teardown_sql:
            admin.command(sql)
    finally:
        admin.close()
        manager.stop(home)
