"""The dbt setup assets against a private local ClickHouse server: dbt reaches the server the
ClickHouse resource manages (its port passed as a dbt var, nothing read back from the environment)."""

import csv

import dagster as dg

from assets.dbt import dbt_config_and_staging
from assets.dbt_project import DBT_PROJECT_DIR, dbt_resource
from assets.resources import ClickHouseResource
from assets.warehouse import UserConfigResource, user_config, warehouse_databases
from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager
from unmogrowp.ingest.warehouse import ensure_tables


def test_the_setup_assets_build_the_seeds_and_staging_views(tmp_path):
    home = tmp_path / "clickhouse"
    state, client = private_clickhouse(home)
    try:
        ensure_tables(client)  # the raw tables the staging views read (ingestion creates them)
        result = dg.materialize([warehouse_databases, user_config, dbt_config_and_staging], resources={
            "clickhouse": ClickHouseResource(port=state.port, local_home=str(home)), "dbt": dbt_resource("local"),
            "user_config_dir": UserConfigResource(home=str(tmp_path))})
        assert result.success
        with open(DBT_PROJECT_DIR / "seeds" / "network_priority.csv") as f:
            seeded = sum(1 for _ in csv.DictReader(f))
        assert client.command("SELECT count() FROM staging.stg_config__network_priority") == seeded
        assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} >= {
            "config/network_priority", "staging/sdk/stg_sdk__installs", "config_user/network_priority"}
    finally:
        client.close()
        manager.stop(home)
