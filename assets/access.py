"""Tenant access on ClickHouse: the migration step that applies the tenants file (users, grants,
row policies; ``unmogrowp.clickhouse.access``)."""

import re

import dagster as dg

from assets import dbt
from assets.resources import CLICKHOUSE_POOL, ClickHouseResource, TenancyResource
from assets.retries import retry_transient
from unmogrowp.clickhouse import access


@dg.asset(group_name="platform", kinds={"clickhouse"}, deps=sorted(dbt.dbt_reporting.keys), pool=CLICKHOUSE_POOL)
@retry_transient
def tenant_access(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource,
                  tenancy: TenancyResource) -> dg.MaterializeResult:
    """Each tenant of `UNMOGROWP_TENANTS` gets a ClickHouse user, SELECT on every table with `app_id`
    and a row policy to its apps; removed tenants lose both. Applied in production (ON CLUSTER with
    `CLICKHOUSE_CLUSTER`); the local server enforces the file itself, so locally it is only planned."""
    tenants = tenancy.tenants()
    if tenants is None:
        context.log.warning("no tenants file at %s: no tenant has access", tenancy.tenants_uri)
    client = clickhouse.get_client()
    if tenancy.apply:
        plan = access.apply(client, tenants or {}, tenancy.cluster)
    else:
        # the local server holds no users or policies (chDB refuses them, and reading them)
        plan = access.plan(access.client_query(client), tenants or {}, tenancy.cluster, existing=[])
    # the password hashes stay out of the UI
    shown = [re.sub(r"sha256_hash BY '[0-9a-f]*'", "sha256_hash BY '…'", s) for s in plan.statements[:200]]
    return dg.MaterializeResult(metadata={
        "applied": tenancy.apply, "tenants_file": tenancy.tenants_uri,
        "tenants": dg.MetadataValue.json(plan.tenants), "removed_tenants": dg.MetadataValue.json(plan.removed),
        "tables": dg.MetadataValue.json(plan.tables), "statements": len(plan.statements),
        "dagster/row_count": len(plan.tenants),
        "ddl": dg.MetadataValue.md("```sql\n" + ";\n".join(shown) + "\n```"),
    })
