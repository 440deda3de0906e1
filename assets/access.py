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
        if tenancy.apply:  # a missing file or a typo in the URI must not revoke every tenant
            raise dg.Failure(f"no tenants file at {tenancy.tenants_uri} (UNMOGROWP_TENANTS): nothing changed; "
                             "write the file (an empty `users: {}` removes every tenant)")
        context.log.info("no tenants file at %s: no tenant has access", tenancy.tenants_uri)
    client = clickhouse.get_client()
    service = frozenset({"default", clickhouse.user})
    if tenancy.apply:
        plan = access.apply(client, tenants or {}, tenancy.cluster, service_users=service)
    else:
        # the local server holds no users, roles or policies (chDB refuses them, and showing them)
        plan = access.plan(access.client_query(client), tenants or {}, tenancy.cluster,
                           state=access.ServerState(), service_users=service)
    # the password hashes stay out of the UI
    shown = [re.sub(r"sha256_hash BY '[0-9a-f]*'", "sha256_hash BY '…'", s) for s in plan.statements[:200]]
    return dg.MaterializeResult(metadata={
        "applied": tenancy.apply, "tenants_file": tenancy.tenants_uri,
        "tenants": dg.MetadataValue.json(plan.tenants), "removed_tenants": dg.MetadataValue.json(plan.removed),
        "tables": dg.MetadataValue.json(plan.tables), "statements": len(plan.statements),
        "dagster/row_count": len(plan.tenants),
        "ddl": dg.MetadataValue.md("```sql\n" + ";\n".join(shown) + "\n```"),
    })
