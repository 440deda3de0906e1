"""The context a query runs in on its chDB connection: the request's database and settings (for one
query, undone in a session), GET's read-only rule, and a tenant's filters (``tenancy``)."""

from __future__ import annotations

import contextlib

from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.engine import ClickHouseError, chdb_errors
from unmogrowp.clickhouse.protocol import AUTHENTICATION_FAILED, Request
from unmogrowp.clickhouse.statement import Statement, split_statement, sql_str

# statements a GET request may run (ClickHouse: GET implies readonly = 2)
_READ_KINDS = frozenset({"SelectWithUnionQuery", "DescribeQuery", "Explain", "Set", "UseQuery"})


def text(conn, sql: str) -> str:
    return conn.query(sql, "TabSeparated").bytes().decode()


def raw(conn, sql: str, params: dict[str, str]) -> str:
    return conn.query(sql, "TabSeparatedRaw", params=params).bytes().decode()


def prepare(conn, req: Request, stmt: Statement, in_session: bool) -> list[str]:
    """Apply the request's database and settings; return the statements that undo them.

    URL settings and ``database`` apply to one query, as in ClickHouse: a session keeps only
    what its own statements (SET, USE) change. A request without a session has a fresh context.
    """
    restore: list[str] = []
    try:
        with chdb_errors():
            if in_session and req.settings:
                names = ",".join(sql_str(n) for n in req.settings)
                rows = text(conn, f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})")
                for line in rows.splitlines():
                    name, value, changed = line.split("\t")
                    restore.append(f"SET {name} = {sql_str(_unescape(value))}" if changed == "1"
                                   else f"SET {name} = DEFAULT")
            if in_session and req.database and stmt.kind != "USE":
                restore.append(f"USE {_identifier(text(conn, 'SELECT currentDatabase()').strip())}")
            if req.database:
                text(conn, f"USE {_identifier(req.database)}")
            if req.settings:
                text(conn, "SET " + ", ".join(f"{k} = {sql_str(v)}" for k, v in req.settings.items()))
    except ClickHouseError:
        undo(conn, restore)
        raise
    return restore


def undo(conn, restore: list[str]) -> None:
    """Run the statements ``prepare`` returned, as far as they go."""
    for sql in restore:
        with contextlib.suppress(Exception):
            conn.query(sql, "TabSeparated")


def check_get_is_readonly(conn, req: Request, stmt: Statement) -> None:
    """ClickHouse runs a GET request with readonly = 2: reads, SET and USE, never a write (INTO OUTFILE
    included: a top-level literal of the query's syntax tree)."""
    kind = "InsertQuery"
    if not stmt.has_inline_data:
        with chdb_errors():
            lines = raw(conn, "EXPLAIN AST " + stmt.sql, req.query_params).split("\n")
        kind = lines[0].split(" ", 1)[0]
        if kind in ("SelectWithUnionQuery", "Explain") and any(line.startswith(" Literal ") for line in lines):
            kind = "INTO OUTFILE"
    if not (kind in _READ_KINDS or kind.startswith(("Show", "Exists"))):
        raise ClickHouseError(tenancy.READONLY, "Cannot execute query in readonly mode. For queries over HTTP, "
                                                "method GET implies readonly. You should use method POST for "
                                                "modifying queries. (READONLY)")


def tenant_of(tenants: tenancy.Registry, req: Request) -> tenancy.Tenant | None:
    """The tenant the request authenticates as; None for the service account ``default``."""
    if req.user in ("", "default"):
        return None
    tenant = tenants.get(req.user)
    if tenant is None or not tenant.authenticate(req.password):
        raise ClickHouseError(AUTHENTICATION_FAILED, f"{req.user}: Authentication failed: password is incorrect, "
                                                     "or there is no user with such name. (AUTHENTICATION_FAILED)")
    return tenant


def prepare_tenant(conn, req: Request, stmt: Statement, tenant: tenancy.Tenant) -> Statement:
    """A fresh context: the request's database and settings, the tenant's row filters, then
    read-only, so nothing the query says can lift them. Returns the statement to run: the query as
    ClickHouse's parser read it, once ``tenancy.authorize`` allowed it."""
    if (req.database or "").lower() in ("system", "information_schema"):
        raise ClickHouseError(tenancy.ACCESS_DENIED, f"{tenant.name}: Not enough privileges to use database "
                                                     f"{req.database}. (ACCESS_DENIED)")
    if stmt.has_inline_data:
        raise ClickHouseError(tenancy.READONLY, f"{tenant.name}: Cannot execute query in readonly mode. (READONLY)")
    with chdb_errors():
        try:
            tenancy.check_settings(req.settings, lambda sql: raw(conn, sql, {}))  # before they apply
            auth = tenancy.authorize(lambda sql, params: raw(conn, sql, params), stmt.sql, req.query_params,
                                     req.database or "default")
        except tenancy.TenantError as e:
            raise ClickHouseError(e.code, f"{tenant.name}: {e}") from None
    stmt = Statement(auth.sql, auth.kind, output_format=split_statement(auth.sql.encode(), True).output_format)
    prepare(conn, req, stmt, in_session=False)
    with chdb_errors():
        for sql in tenancy.context_sql(auth.tables, tenant):
            text(conn, sql)
    return stmt


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _unescape(tsv_value: str) -> str:
    return tsv_value.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
