"""Tenant access on a production ClickHouse: the migration step that applies the tenants file.

For each tenant of the file (``tenancy.read_tenants``): a user identified by its password's SHA-256
and marked with the role ``unmogrowp_tenant`` (how this step knows the users it made), the row
policies of ``tenancy.row_policy_ddl``, then a SELECT grant on exactly the tables and views that
have ``app_id``. The order is the safe one: a tenant's policies exist before it can read anything,
and a table made later stays invisible to tenants until the next run gives it policies and grants.
Grants a tenant holds beyond those are revoked. Tenants removed from the file (role holders the
file no longer lists) lose their user first, then their policies. Statements are idempotent and a
run with nothing to change only re-asserts the same state (no access is withdrawn in between);
``ON CLUSTER`` the self-managed cluster's name when one is set.

The local server (chDB) cannot hold users, roles or row policies, nor show them; it enforces the
same file itself (``tenancy``), so locally the plan is computed from an empty :class:`ServerState`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.statement import sql_str

POLICY_PREFIX = "tenant_"
TENANT_ROLE = "unmogrowp_tenant"
Query = Callable[[str], str]  # SQL -> TabSeparated text


class AccessError(ValueError):
    """A tenants file this step must not apply."""


@dataclass
class ServerState:
    """What the server holds of this step's earlier runs."""

    users: set[str] = field(default_factory=set)  # holders of TENANT_ROLE
    policies: list[tuple[str, str, str]] = field(default_factory=list)  # (policy, database, table), tenant_*
    grants: set[tuple[str, str, str]] = field(default_factory=set)  # (user, database, table) SELECT grants


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


def _rows(query: Query, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in query(sql).splitlines() if line]


def server_state(query: Query) -> ServerState:
    """The tenant users, their policies and their table grants, read from the server."""
    users = {r[0] for r in _rows(query, "SELECT user_name FROM system.role_grants "
                                        f"WHERE granted_role_name = {sql_str(TENANT_ROLE)}")}
    policies = [tuple(r) for r in _rows(query, "SELECT short_name, database, table FROM system.row_policies "
                                               f"WHERE startsWith(short_name, {sql_str(POLICY_PREFIX)}) "
                                               "ORDER BY short_name, database, table")]
    names = ", ".join(sql_str(u) for u in sorted(users)) or "''"
    grants = {tuple(r) for r in _rows(query, "SELECT user_name, database, table FROM system.grants "
                                             f"WHERE access_type = 'SELECT' AND user_name IN ({names}) "
                                             "AND database IS NOT NULL AND table IS NOT NULL")}
    return ServerState(users, policies, grants)


def plan(query: Query, tenants: dict[str, tenancy.Tenant], cluster: str = "", state: ServerState | None = None,
         service_users: frozenset[str] = frozenset({"default"})) -> AccessPlan:
    """The statements that make the server's tenant access what ``tenants`` says; ``state``: the
    server's :func:`server_state` (read from it unless given). A tenant may not be named like a
    service account (``service_users``): its password would be replaced and its grants revoked."""
    clash = sorted(set(tenants) & set(service_users))
    if clash:
        raise AccessError(f"tenants named like service accounts: {', '.join(clash)}")
    on = f" ON CLUSTER {_ident(cluster)}" if cluster else ""
    tables = tenancy.tenant_tables(query)
    state = server_state(query) if state is None else state
    removed = sorted(state.users - set(tenants))
    out = AccessPlan(tables, sorted(tenants), removed)
    # removed tenants: the user first (its grants go with it), then its policies
    out.statements += [f"DROP USER IF EXISTS {_ident(name)}{on}" for name in removed]
    out.statements += [f"DROP ROW POLICY IF EXISTS {_ident(p)} ON {_table(f'{db}.{t}')}{on}"
                       for p, db, t in state.policies if p[len(POLICY_PREFIX):] in removed]
    if not tenants:  # no tenant left: the service accounts' policy goes too (no policy, every row visible)
        out.statements += [f"DROP ROW POLICY IF EXISTS `unrestricted` ON {_table(table)}{on}" for table in tables]
        return out
    out.statements.append(f"CREATE ROLE IF NOT EXISTS {_ident(TENANT_ROLE)}{on}")
    for t in (tenants[name] for name in out.tenants):
        identified = f"IDENTIFIED WITH sha256_hash BY {sql_str(t.password_sha256.lower())}"
        out.statements += [f"CREATE USER IF NOT EXISTS {_ident(t.name)}{on} {identified}",
                           f"ALTER USER {_ident(t.name)}{on} {identified}",
                           f"GRANT{on} {_ident(TENANT_ROLE)} TO {_ident(t.name)}"]
    # policies before grants: a tenant reads nothing unfiltered, not even for a moment
    out.statements += tenancy.row_policy_ddl(tables, [tenants[n] for n in out.tenants], cluster)
    wanted = {(name, *table.split(".", 1)) for name in out.tenants for table in tables}
    out.statements += [f"REVOKE{on} SELECT ON {_table(f'{db}.{t}')} FROM {_ident(user)}"
                       for user, db, t in sorted(state.grants - wanted) if user in tenants]
    out.statements += [f"GRANT{on} SELECT ON {_table(table)} TO {_ident(name)}"
                       for name in out.tenants for table in tables]
    return out


def client_query(client) -> Query:
    """A clickhouse-connect client as a :data:`Query`."""
    return lambda sql: client.raw_query(sql, fmt="TabSeparated").decode()


def apply(client, tenants: dict[str, tenancy.Tenant], cluster: str = "",
          service_users: frozenset[str] = frozenset({"default"})) -> AccessPlan:
    """Plan from the server's state, then run every statement in order on ``client``."""
    out = plan(client_query(client), tenants, cluster, service_users=service_users)
    for statement in out.statements:
        client.command(statement)
    return out
