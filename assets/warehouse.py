"""The ClickHouse databases every later layer writes into."""


import dagster as dg

from orchestration.resources import ClickHouseResource

WAREHOUSE_DATABASES = ("raw", "analytics")


@dg.asset(group_name="platform", kinds={"clickhouse"})
def warehouse_databases(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource) -> dg.MaterializeResult:
    """ClickHouse databases for raw event tables (`raw`) and dbt models (`analytics`)."""
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
        "databases": dg.MetadataValue.json([r[0] for r in existing]),
        "clickhouse_url": clickhouse.url,
        "clickhouse_version": version,
    })
