"""Tenant access on a production ClickHouse: the migration step that applies the tenants file.

For each tenant of the file (``tenancy.read_tenants``): a user identified by its password's SHA-256,
a SELECT grant on exactly the tables and views that have ``app_id`` (a table made later stays
invisible to tenants until the next run grants it, so a new mart never leaks), and the row policies
of ``tenancy.row_policy_ddl``. Tenants removed from the file lose their policies and their user (the
policies named ``tenant_<user>`` say which users this step made). Every statement is idempotent, so
re-running changes nothing; ``ON CLUSTER`` the self-managed cluster's name when one is set.

The local server (chDB) cannot hold users or row policies; it enforces the same file itself
(``tenancy``), so locally the plan is only computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.statement import sql_str

POLICY_PREFIX = "tenant_"
Query = Callable[[str], str]  # SQL -> TabSeparated text


@dataclass
class AccessPlan:
    tables: list[str]  # db.table with app_id
    tenants: list[str]
    removed: list[str]  # tenants whose user and policies go
    statements: list[str] = field(default_factory=list)


def _ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _table(qualified: str) -> str:
    db, _, name = qualified.partition(".")
    return f"{_ident(db)}.{_ident(name)}"


def managed_policies(query: Query) -> list[tuple[str, str, str]]:
    """(policy, database, table) of the row policies this step made (``tenant_<user>``)."""
    rows = query(f"SELECT short_name, database, table FROM system.row_policies "
                 f"WHERE startsWith(short_name, {sql_str(POLICY_PREFIX)}) ORDER BY short_name, database, table")
    return [tuple(line.split("\t")) for line in rows.splitlines() if line]


def plan(query: Query, tenants: dict[str, tenancy.Tenant], cluster: str = "",
         existing: list[tuple[str, str, str]] | None = None) -> AccessPlan:
    """The statements that make the server's tenant access what ``tenants`` says; ``existing``: the
    server's :func:`managed_policies` (read from it unless given)."""
    on = f" ON CLUSTER {_ident(cluster)}" if cluster else ""
    tables = tenancy.tenant_tables(query)
    existing = managed_policies(query) if existing is None else existing
    removed = sorted({name[len(POLICY_PREFIX):] for name, _, _ in existing} - set(tenants))
    out = AccessPlan(tables, sorted(tenants), removed)
    for name, db, table in existing:
        if name[len(POLICY_PREFIX):] in removed:
            out.statements.append(f"DROP ROW POLICY IF EXISTS {_ident(name)} ON {_table(f'{db}.{table}')}{on}")
    out.statements += [f"DROP USER IF EXISTS {_ident(name)}{on}" for name in removed]
    for t in (tenants[name] for name in out.tenants):
        identified = f"IDENTIFIED WITH sha256_hash BY {sql_str(t.password_sha256.lower())}"
        out.statements += [f"CREATE USER IF NOT EXISTS {_ident(t.name)}{on} {identified}",
                           f"ALTER USER {_ident(t.name)}{on} {identified}",
                           f"REVOKE{on} ALL ON *.* FROM {_ident(t.name)}"]
        out.statements += [f"GRANT{on} SELECT ON {_table(table)} TO {_ident(t.name)}" for table in tables]
    if tenants:
        out.statements += tenancy.row_policy_ddl(tables, [tenants[n] for n in out.tenants], cluster)
    else:  # no tenant left: the service accounts' policy goes too (no policy, every row visible)
        out.statements += [f"DROP ROW POLICY IF EXISTS `unrestricted` ON {_table(table)}{on}" for table in tables]
    return out


def client_query(client) -> Query:
    """A clickhouse-connect client as a :data:`Query`."""
    return lambda sql: client.raw_query(sql, fmt="TabSeparated").decode()


def apply(client, tenants: dict[str, tenancy.Tenant], cluster: str = "") -> AccessPlan:
    """Plan, then run every statement in order on ``client``."""
    out = plan(client_query(client), tenants, cluster)
    for statement in out.statements:
        client.command(statement)
    return out
