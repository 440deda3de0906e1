"""Per-app tenancy: a tenant user sees only the rows of its apps, in every table with ``app_id``.

Production ClickHouse enforces this with row policies (``row_policy_ddl``). chDB cannot: it runs
every query as ``default``, refuses ``CREATE USER`` / ``CREATE ROW POLICY`` (no writable access
storage) and ignores a ``user`` in its connection string (measured with chDB 4.4). So the local
server enforces the same filters itself, with ClickHouse's own machinery: a tenant's query runs in a
fresh context where ``additional_table_filters`` holds ``app_id IN (...)`` for every table and view
that has an ``app_id`` column, then ``readonly = 1`` (no writes, no file/url/s3/remote table
functions, and no way to change a setting, the filters included). The query's AST is checked first:
table functions that read other tables (``merge``, ``loop``, ...) and system tables that could
show other tenants' data are refused.

Tenants are listed in ``<home>/clickhouse/tenants.yaml``::

    users:
      alice: {password_sha256: <hex>, app_ids: [com.example.one]}

The file is read again when it changes; ``default`` stays the unrestricted service account.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

APP_COLUMN = "app_id"
# table functions that cannot read a stored table (the rest are refused for tenants)
ALLOWED_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "null",
                                     "generate_series", "generateSeries"})
# system tables without tenant data (schemas, settings, functions)
ALLOWED_SYSTEM_TABLES = frozenset({"one", "numbers", "numbers_mt", "zeros", "settings", "functions",
                                   "databases", "tables", "columns", "data_type_families", "formats",
                                   "time_zones", "table_functions", "build_options"})
_TABLE_FUNCTION = re.compile(r"^\s*TableExpression \(children \d+\)\n\s*Function (\w+)", re.M)
_TABLE_IDENTIFIER = re.compile(r"^\s*TableIdentifier (\S+)", re.M)
_DENIED_DATABASES = ("system", "information_schema")


class TenantError(Exception):
    """A tenant request that is not allowed; ``code`` is ClickHouse's error code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Tenant:
    name: str
    password_sha256: str
    app_ids: tuple[str, ...]

    def authenticate(self, password: str) -> bool:
        given = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(given, self.password_sha256.lower())


def tenants_path(home: Path) -> Path:
    return Path(home) / "clickhouse" / "tenants.yaml"


def write_tenants(path: Path, users: dict[str, tuple[str, list[str]]]) -> None:
    """Write the tenants file from ``{user: (password, app_ids)}`` (only password hashes are kept)."""
    doc = {"users": {name: {"password_sha256": hashlib.sha256(pw.encode()).hexdigest(), "app_ids": list(apps)}
                     for name, (pw, apps) in users.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=True))


class Registry:
    """The tenants file, re-read when its modification time changes."""

    def __init__(self, path: Path | None):
        self.path = path
        self._stamp: float | None = None
        self._tenants: dict[str, Tenant] = {}

    def get(self, user: str) -> Tenant | None:
        if self.path is None:
            return None
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._stamp, self._tenants = None, {}
            return None
        if stamp != self._stamp:
            doc = yaml.safe_load(self.path.read_text()) or {}
            self._tenants = {
                name: Tenant(name, str(spec["password_sha256"]), tuple(str(a) for a in spec["app_ids"]))
                for name, spec in (doc.get("users") or {}).items()
            }
            self._stamp = stamp
        return self._tenants.get(user)


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def app_filter(app_ids: tuple[str, ...]) -> str:
    return f"{APP_COLUMN} IN ({', '.join(sql_string(a) for a in app_ids)})" if app_ids else "0"


def tenant_tables(query) -> list[str]:
    """``db.table`` of every table and view with an ``app_id`` column; ``query(sql)`` returns TSV."""
    rows = query(f"SELECT database, table FROM system.columns WHERE name = {sql_string(APP_COLUMN)} "
                 "AND lower(database) NOT IN ('system', 'information_schema') ORDER BY database, table")
    return [".".join(line.split("\t")) for line in rows.splitlines() if line]


def context_sql(tables: list[str], tenant: Tenant) -> list[str]:
    """The statements that turn a fresh context into the tenant's: filters, then read-only."""
    condition = sql_string(app_filter(tenant.app_ids))
    filters = ", ".join(f"{sql_string(t)}: {condition}" for t in tables)
    return [f"SET additional_table_filters = {{{filters}}}", "SET readonly = 1"]


def check_ast(ast: str) -> None:
    """Refuse table functions and system tables that could reach other tenants' rows."""
    for name in _TABLE_FUNCTION.findall(ast):
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise TenantError(497, f"Not enough privileges: table function {name}() is not allowed "
                                   "for a tenant user. (ACCESS_DENIED)")
    for ident in _TABLE_IDENTIFIER.findall(ast):
        db, _, table = ident.rpartition(".")
        if db.strip("`").lower() in _DENIED_DATABASES and table.strip("`") not in ALLOWED_SYSTEM_TABLES:
            raise TenantError(497, f"Not enough privileges: {ident} is not readable by a tenant user. "
                                   "(ACCESS_DENIED)")


def row_policy_ddl(tables: list[str], tenants: list[Tenant]) -> list[str]:
    """The production equivalent: one row policy per tenant and table, and one that keeps every
    other user (the service accounts) unrestricted, since a table with any policy hides all rows
    from users no policy names."""
    names = ", ".join(f"`{t.name}`" for t in tenants)
    out = []
    for table in tables:
        db, _, name = table.partition(".")
        target = f"`{db}`.`{name}`"
        for t in tenants:
            out.append(f"CREATE ROW POLICY OR REPLACE `tenant_{t.name}` ON {target} FOR SELECT "
                       f"USING {app_filter(t.app_ids)} TO `{t.name}`")
        out.append(f"CREATE ROW POLICY OR REPLACE `unrestricted` ON {target} FOR SELECT USING 1 "
                   f"TO ALL EXCEPT {names}")
    return out
