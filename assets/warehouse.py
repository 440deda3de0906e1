"""The ClickHouse databases every later layer writes into, and the deployment's own attribution config."""

from pathlib import Path

import dagster as dg

from assets.resources import ClickHouseResource
from assets.retries import retry_transient
from unmogrowp import attribution_config
from unmogrowp.warehouse import DBT, RAW

WAREHOUSE_DATABASES = (RAW, DBT)


class UserConfigResource(dg.ConfigurableResource):
    """Where the deployment's attribution config lives: ``home``/config/<table>.csv (UNMOGROWP_HOME)."""

    home: str


@dg.asset(group_name="platform", kinds={"clickhouse"})
@retry_transient
def warehouse_databases(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource) -> dg.MaterializeResult:
    """ClickHouse databases for raw event tables (`raw`) and dbt's connection (`analytics`: dbt-clickhouse
    connects there; every model names its own database)."""
    client = clickhouse.get_client()
    for name in WAREHOUSE_DATABASES:
        client.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    existing = client.query(
        "SELECT name FROM system.databases WHERE name IN {names:Array(String)} ORDER BY name",
        parameters={"names": list(WAREHOUSE_DATABASES)},
    ).result_rows
    version = client.server_version
    context.log.info("ClickHouse %s at %s", version, clickhouse.url)
    return dg.MaterializeResult(metadata={
        "databases": dg.MetadataValue.json([r[0] for r in existing]), "dagster/row_count": len(existing),
        "clickhouse_url": clickhouse.url,
        "clickhouse_version": version,
    })


@dg.multi_asset(name="attribution_user_config", specs=[
    dg.AssetSpec(["config_user", name], group_name="platform", kinds={"clickhouse", "csv"}, deps=[warehouse_databases],
                 description=f"`UNMOGROWP_HOME/config/{name}.csv` (columns of the `{name}` seed), "
                             f"before the defaults in `stg_config__{name}`; empty without a file.")
    for name in attribution_config.TABLES])
@retry_transient
def user_config(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource,
                user_config_dir: UserConfigResource):
    """The deployment's own attribution config: CSV files under `UNMOGROWP_HOME/config/` named
    and shaped like the seeds loaded into `config_user.*`; the `stg_config__*` views put them
    before the defaults. New networks, apps and currencies need no edit of tracked files."""
    home = Path(user_config_dir.home)
    counts = attribution_config.load_user_config(clickhouse.get_client(), home)
    directory = attribution_config.user_dir(home)
    for name, rows in counts.items():
        yield dg.MaterializeResult(asset_key=["config_user", name], metadata={
            "rows": rows, "dagster/row_count": rows, "file": str(directory / f"{name}.csv")})
