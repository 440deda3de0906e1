"""Per-app tenancy: a tenant user sees only the rows of its apps, in every table with ``app_id``.

Production ClickHouse enforces this with row policies (``row_policy_ddl``). chDB cannot: it runs
every query as ``default``, refuses ``CREATE USER`` / ``CREATE ROW POLICY`` (no writable access
storage) and ignores a ``user`` in its connection string (measured with chDB 4.4). So the local
server enforces the same filters itself, with ClickHouse's own machinery: a tenant's query runs in a
fresh context where ``additional_table_filters`` holds ``app_id IN (...)`` for every table and view
that has an ``app_id`` column, then ``readonly = 1`` (no writes, no way to change a setting, the
filters included).

``readonly`` does not stop everything chDB can do (``INTO OUTFILE`` writes files, the scalar
``file()`` reads them, dictionaries and Join tables bypass the filter), so tenant queries are
denied by default (``authorize``): the text is normalized (Unicode spaces, BOM), ClickHouse's own
parser formats it (``formatQuerySingleLine``: comments, nested ones too, are gone) and dumps its
syntax tree (``EXPLAIN AST``), and only read-only statements made of known nodes, functions that read
nothing stored and tables whose reads the filter covers are allowed. The formatted text is what runs.
What ClickHouse evaluates before the filter, or over the rows of every tenant in a part or block, is
refused (PREWHERE, FINAL, ``SAMPLE n`` rows, virtual columns, block functions, plan EXPLAINs) or
switched off in the tenant's context (WHERE moved into PREWHERE, skip indexes).

Tenants are listed in ``<home>/clickhouse/tenants.yaml``::

    users:
      alice: {password_sha256: <hex>, app_ids: [com.example.one]}

The file is read again when it changes; ``default`` stays the unrestricted service account.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from unmogrowp.clickhouse.statement import StatementError, _tokens, sql_str

APP_COLUMN = "app_id"
READONLY = 164
ACCESS_DENIED = 497
# table functions that generate rows and read nothing stored (every other one is refused for tenants)
ALLOWED_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "null", "primes",
                                     "generate_series", "generateseries", "generaterandom", "format",
                                     "sqlstandardvalues"})
# system tables without tenant data (schemas, settings, functions); the first three carry sizes and counts,
# so a query that reads them must name its columns and may not name _SENSITIVE_COLUMNS
ALLOWED_SYSTEM_TABLES = frozenset({"tables", "columns", "databases", "one", "numbers", "numbers_mt", "zeros",
                                   "zeros_mt", "settings", "functions", "data_type_families", "formats",
                                   "time_zones", "table_functions", "build_options", "table_engines",
                                   "aggregate_function_combinators", "collations", "keywords"})
_METADATA_TABLES = frozenset({"tables", "columns", "databases"})
_SENSITIVE_COLUMNS = frozenset({
    "total_rows", "total_bytes", "total_bytes_uncompressed", "parts", "active_parts", "total_marks",
    "lifetime_rows", "lifetime_bytes", "active_on_fly_data_mutations", "active_on_fly_alter_mutations",
    "active_on_fly_metadata_mutations", "columns_descriptions_cache_size", "data_paths", "metadata_path",
    "data_path", "data_compressed_bytes", "data_uncompressed_bytes", "marks_bytes",
})
# engines whose reads go through additional_table_filters; the rest (Dictionary, Join, Set, Merge,
# Distributed, Buffer, File, URL, S3, Kafka, MySQL, ...) read rows the filter cannot reach
# database engines that hold only the tables system.tables lists; chDB's default database is an Overlay
# that also reads any file of the server's working directory named like a table
_PLAIN_DATABASES = frozenset({"Atomic", "Ordinary", "Memory", "Lazy", "Replicated"})
_FILTERED_ENGINES = frozenset({"Log", "TinyLog", "StripeLog", "Memory", "Null", "View", "MaterializedView"})
# scalar functions that read files, URLs, other tables, dictionaries or server internals; with every
# table function's name (file, url, s3, remote, merge, ...), they are refused in any position
_DENIED_FUNCTIONS = frozenset({
    "file", "url", "s3", "hdfs", "input", "merge", "executable", "mysql", "postgresql", "jdbc", "odbc", "gcs",
    "hudi", "azureblobstorage", "mongodb", "redis", "sqlite", "view", "viewifpermitted", "viewexplain", "loop",
    "dictionary", "python", "eval", "catboostevaluate", "modelevaluate", "evalmlmethod", "naivebayesclassifier",
    "addresstoline", "addresstolinewithinlines", "addresstosymbol", "demangle",
    # values of the block a row was read in, not of the row: evaluated in the same step as the tenant
    # filter, they see other tenants' rows (WHERE rowNumberInBlock() > 150 counted them)
    "blocksize", "blocknumber", "rownumberinblock", "rownumberinallblocks", "neighbor", "runningdifference",
    "runningdifferencestartingwithfirstvalue", "runningaccumulate", "runningconcurrency", "dumpcolumnstructure",
    "blockserializedsize", "lowcardinalitykeys", "lowcardinalityindices",
})
_DENIED_PREFIXES = ("dict", "joinget", "file", "remote", "cluster", "iceberg", "deltalake", "hudi", "paimon",
                    "azureblob", "hdfs", "s3", "mergetree", "url", "bigquery", "ytsaurus")
# string functions that share a prefix with a denied family: they read nothing
_URL_STRING = ("urlhash", "urlhierarchy", "urlpathhierarchy")
_IN_FUNCTIONS = frozenset({"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
                           "globalnotnullin"})
# AST nodes of a read-only query (EXPLAIN AST names); anything else is refused
_QUERY_NODES = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "TablesInSelectQuery",
    "TablesInSelectQueryElement", "TableExpression", "TableIdentifier", "TableJoin", "ArrayJoin", "Subquery",
    "Function", "Identifier", "Literal", "QueryParameter", "Asterisk", "QualifiedAsterisk",
    "ColumnsRegexpMatcher", "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher",
    "ColumnsTransformerList", "ColumnsExceptTransformer", "ColumnsReplaceTransformer",
    "ColumnsReplaceTransformer::Replacement", "ColumnsApplyTransformer", "OrderByElement", "WithElement",
    "WindowDefinition", "WindowListElement", "InterpolateElement", "SampleRatio", "Set",
})
_MATCHERS = frozenset({"Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
                       "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher"})
_WRITE_KINDS = frozenset({"InsertQuery", "AlterQuery", "CreateQuery", "DropQuery", "RenameQuery", "OptimizeQuery",
                          "DeleteQuery", "UpdateQuery", "UndropQuery", "Set", "UseQuery", "CreateFunctionQuery",
                          "DropFunctionQuery", "CheckQuery", "TruncateQuery"})
# EXPLAIN kinds that only parse; the plan, pipeline and estimate show parts and granules left after index
# analysis over every tenant's rows
_EXPLAINS = frozenset({"EXPLAIN AST", "EXPLAIN SYNTAX"})
# virtual columns (DESCRIBE ... SETTINGS describe_include_virtual_columns = 1): positions and sizes in parts
# and blocks that hold every tenant's rows (max(_part_offset) + 1 - count() counted the others)
_VIRTUAL_PREFIXES = ("_part", "_block", "_row", "_disk", "_sample", "_distance", "_shard")
# clauses evaluated before the tenant filter: PREWHERE's errors (a failing cast, throwIf) report other
# tenants' values; FINAL merges rows before it (a row of another tenant with the same key hides one's own)
_DENIED_WORDS = frozenset({b"PREWHERE", b"FINAL"})
_IDENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`\\.]+`)"
_TAIL = r"(?: (?:NOT )?I?LIKE '(?:[^'\\]|\\.)*')?(?: LIMIT \d+)?(?: FORMAT [A-Za-z0-9_]+)?"
# SHOW forms with nothing but names and a LIKE pattern (WHERE takes any expression: an oracle over rows)
_SAFE_SHOW = re.compile(rf"^SHOW (?:TABLES|DATABASES)(?: FROM {_IDENT})?{_TAIL}$"
                        rf"|^SHOW (?:FULL )?(?:EXTENDED )?COLUMNS FROM {_IDENT}(?: FROM {_IDENT})?{_TAIL}$")
_SYSTEM_DATABASES = "('system', 'information_schema', 'INFORMATION_SCHEMA')"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TABLE_NAME = re.compile(r"^(?:([A-Za-z0-9_]+)\.)?([A-Za-z0-9_]+)$")
_IDENTIFIER_PARAMETER = re.compile(r"\{\s*(\w+)\s*:\s*Identifier\s*\}", re.IGNORECASE)
_CHILDREN = re.compile(r" \(children (\d+)\)$")
# URL settings that bound a query's resources: a tenant may only lower them (0 is "no limit").
# max_rows_to_read and max_bytes_to_read are refused: their error counts the rows read before the
# filter ("max rows: 10.00, current rows: 300.00" for 100 rows of the tenant's)
LIMIT_SETTINGS = frozenset({
    "max_result_rows", "max_result_bytes", "max_execution_time", "max_threads", "max_block_size", "max_memory_usage",
    "max_query_size",
})
# URL settings a tenant may send (output shape and resource limits); any other one could change what
# the query reads or writes (output_format_schema writes a file, use_query_cache shares results)
TENANT_SETTINGS = frozenset({
    "max_result_rows", "max_result_bytes", "result_overflow_mode", "max_execution_time", "timeout_overflow_mode",
    "max_threads", "max_block_size", "max_memory_usage", "session_timezone", "date_time_output_format",
    "date_time_input_format",
    "join_use_nulls", "extremes", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close", "enable_http_compression", "http_zlib_compression_level",
    "wait_end_of_query", "limit", "offset", "max_query_size", "readonly", "add_http_cors_header",
})
# every Unicode space ClickHouse's lexer skips, and the BOM
_UNICODE_SPACES = frozenset("\u0085\u00a0\u1680\u180e\u2028\u2029\u202f\u205f\u3000\ufeff"
                            + "".join(chr(c) for c in range(0x2000, 0x200C)))


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


def read_tenants(text: str) -> dict[str, Tenant]:
    """The tenants of a tenants file's text, by user name."""
    doc = yaml.safe_load(text) or {}
    return {name: Tenant(name, str(spec["password_sha256"]), tuple(str(a) for a in spec["app_ids"]))
            for name, spec in (doc.get("users") or {}).items()}


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
            self._tenants = read_tenants(self.path.read_text())
            self._stamp = stamp
        return self._tenants.get(user)


def app_filter(app_ids: tuple[str, ...]) -> str:
    return f"{APP_COLUMN} IN ({', '.join(sql_str(a) for a in app_ids)})" if app_ids else "0"


def tenant_tables(query) -> list[str]:
    """``db.table`` of every table and view with an ``app_id`` column; ``query(sql)`` returns TSV."""
    rows = query(f"SELECT database, table FROM system.columns WHERE name = {sql_str(APP_COLUMN)} "
                 f"AND database NOT IN {_SYSTEM_DATABASES} ORDER BY database, table")
    return [".".join(line.split("\t")) for line in rows.splitlines() if line]


def context_sql(tables: list[str], tenant: Tenant) -> list[str]:
    """The statements that turn a fresh context into the tenant's: filters, then read-only (one SET:
    its changes are checked against the settings before it, then applied in order).

    WHERE conditions stay out of PREWHERE: moved there, they ran before the filter, ordered by column
    size (``WHERE throwIf(cost = 32)`` raised on another tenant's row); kept in WHERE, the filter's step
    runs first and its ``AND`` evaluates them only on the tenant's rows. Skip indexes are off: a set
    index evaluates the WHERE condition on the values of every tenant's rows in a granule."""
    condition = sql_str(app_filter(tenant.app_ids))
    filters = ", ".join(f"{sql_str(t)}: {condition}" for t in tables)
    return [f"SET additional_table_filters = {{{filters}}}, optimize_move_to_prewhere = 0, "
            "optimize_move_to_prewhere_if_final = 0, use_skip_indexes = 0, readonly = 1"]


def normalize(sql: str) -> str:
    """The query with every Unicode space and BOM outside quotes turned into a plain space; comments
    (nested ``/* /* */ */`` ones too, as ClickHouse's lexer reads them) are kept for the parser to drop."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("/*", i):
            j, depth = i + 2, 1
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(sql[i:j])
            i = j
        elif sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        else:
            out.append(" " if c in _UNICODE_SPACES else c)
            i += 1
    return "".join(out)


@dataclass
class Node:
    """One line of ``EXPLAIN AST``: its kind (first word), the rest of the line, its children."""

    kind: str
    text: str
    children: list[Node]
    declared: int = 0

    @property
    def name(self) -> str:
        """The function, identifier or table name, without ``(alias ...)``."""
        return self.text.split(" (alias ", 1)[0]

    def walk(self, parent: Node | None = None) -> Iterator[tuple[Node | None, Node]]:
        yield parent, self
        for child in self.children:
            yield from child.walk(self)


def parse_ast(dump: str) -> Node:
    """The tree of an ``EXPLAIN AST`` dump; refused unless every node has the children it declares."""
    root: Node | None = None
    stack: list[Node] = []
    for line in dump.split("\n"):
        if not line:
            continue
        body = line.lstrip(" ")
        depth = len(line) - len(body)
        m = _CHILDREN.search(body)
        declared = int(m.group(1)) if m else 0
        kind, _, text = (body[:m.start()] if m else body).partition(" ")
        node = Node(kind, text.strip(), [], declared)
        if root is None and depth == 0:
            root, stack = node, [node]
        elif root is not None and 0 < depth <= len(stack):
            del stack[depth:]
            stack[-1].children.append(node)
            stack.append(node)
        else:
            raise _denied("the query's syntax tree could not be read")
    if root is None or any(len(n.children) != n.declared for _, n in root.walk()):
        raise _denied("the query's syntax tree could not be read")
    return root


def _denied(what: str) -> TenantError:
    return TenantError(ACCESS_DENIED, f"Not enough privileges: {what} is not allowed for a tenant user. "
                                      "(ACCESS_DENIED)")


def _readonly(what: str) -> TenantError:
    return TenantError(READONLY, f"Cannot execute query in readonly mode: {what}. (READONLY)")


def function_denied(name: str) -> bool:
    low = name.lower()
    return low in _DENIED_FUNCTIONS or low.startswith(_DENIED_PREFIXES) and not low.startswith(_URL_STRING)



@dataclass(frozen=True)
class TableInfo:
    engine: str
    has_app_id: bool
    as_select: str
    is_mv_target: bool


def catalog(query) -> tuple[dict[tuple[str, str], TableInfo], dict[str, str]]:
    """Every table outside system (engine, whether it has ``app_id``, a view's query, whether a
    materialized view writes into it) and every database's engine, in one query (each costs about
    a millisecond in chDB); ``query(sql)`` returns the result as text."""
    rows = [json.loads(line) for line in query(
        "SELECT 't', database, name, engine, as_select, target_database, target_table FROM system.tables "
        f"WHERE database NOT IN {_SYSTEM_DATABASES} UNION ALL SELECT 'c', database, table, '', '', '', '' "
        f"FROM system.columns WHERE name = {sql_str(APP_COLUMN)} AND database NOT IN {_SYSTEM_DATABASES} "
        "UNION ALL SELECT 'd', name, '', engine, '', '', '' FROM system.databases FORMAT JSONCompactEachRow"
    ).splitlines() if line]
    with_app = {(r[1], r[2]) for r in rows if r[0] == "c"}
    targets = {(r[5], r[6]) for r in rows if r[0] == "t" and r[3] == "MaterializedView"}
    tables = {(db, name): TableInfo(engine, (db, name) in with_app, as_select, (db, name) in targets)
              for kind, db, name, engine, as_select, _, _ in rows if kind == "t"}
    return tables, {r[1]: r[3] for r in rows if r[0] == "d"}


@dataclass
class Authorized:
    sql: str  # the query as ClickHouse's formatter prints it: what runs
    kind: str  # SELECT (streamed) or SHOW (DESCRIBE, EXISTS, EXPLAIN, SHOW: run whole)
    tables: list[str]  # db.table of every table and view with app_id (the filter map)


def authorize(query, sql: str, params: dict[str, str], database: str) -> Authorized:
    """Decide whether a tenant may run ``sql``: denied unless ClickHouse's own parser makes it a
    read-only statement made of allowed nodes, functions and tables. ``query(sql, params)`` runs SQL
    as the service user (before the tenant's context exists) and returns raw text."""
    text = normalize(sql)
    if "\x00" in text:
        raise _denied("a NUL byte in the query")
    canonical = query(f"SELECT formatQuerySingleLine({sql_str(text)})", {}).rstrip("\n")
    _check_tokens(canonical)
    for name in _IDENTIFIER_PARAMETER.findall(canonical):  # one name, even with a dot: "a.b" is no db.table
        if not _PLAIN_NAME.match(params.get(name, "")):
            raise _denied(f"the identifier parameter {name}")
        if _virtual(params[name]):
            raise _denied(f"the virtual column {params[name]} (parts and blocks hold every tenant's rows)")
    tree = parse_ast(query("EXPLAIN AST " + canonical, params))
    walker = _Walker(query, database, _table_functions(query), _system_functions(query))
    kind = walker.statement(tree, canonical)
    if walker.other_functions:
        _check_user_defined(query, walker.other_functions)
    return Authorized(canonical, kind, sorted(f"{d}.{t}" for (d, t), i in walker.tables.items() if i.has_app_id))


def _check_tokens(canonical: str) -> None:
    """The formatter quotes names with backticks and escapes what needs it: a quoted name with an escape
    or a dot would make the syntax tree's dump ambiguous, so it is refused."""
    raw = canonical.encode()
    try:
        tokens = list(_tokens(raw, final=True))
    except StatementError:
        raise _denied("an unterminated quote") from None
    for tok, start, end, _depth in tokens:
        piece = raw[start:end]
        if tok == "quoted" and piece[:1] in (b"`", b'"') and (b"\\" in piece or b"." in piece):
            raise _denied("a quoted name with a dot or an escape")
        if tok == "word" and piece.upper() == b"OUTFILE":
            raise _denied("INTO OUTFILE")
    _check_words(raw, tokens)


def _check_words(raw: bytes, tokens) -> None:
    for tok, start, end, _depth in tokens:
        piece = raw[start:end].upper()
        if tok == "word" and piece in _DENIED_WORDS:  # an unquoted name "final" is refused too
            raise _denied(f"{piece.decode()} (evaluated before the tenant filter)")


def _virtual(name: str) -> bool:
    return name.lower().startswith(_VIRTUAL_PREFIXES)


def _sample_ratio(text: str) -> bool:
    """Whether ``SAMPLE`` keeps a share of the rows (``k`` <= 1, by the sampling key's hash, row by
    row); ``SAMPLE n`` (n > 1 rows) derives that share from the row count of every tenant."""
    m = re.fullmatch(r"(\d+)(?: / (\d+))?", text)
    return bool(m) and int(m.group(1)) <= int(m.group(2) or 1)


_TABLE_FUNCTIONS: frozenset[str] | None = None
_SYSTEM_FUNCTIONS: frozenset[str] | None = None


def _system_functions(query) -> frozenset[str]:
    """The engine's own function names, exactly as spelled (read once: reading system.functions costs
    about 20 ms). A user-defined function cannot take one of them, but may take any other spelling:
    ``CREATE FUNCTION COUNT`` or ``sumIf`` shadows the built-in for every caller."""
    global _SYSTEM_FUNCTIONS
    if _SYSTEM_FUNCTIONS is None:
        names = query("SELECT name FROM system.functions WHERE origin = 'System'", {}).split()
        _SYSTEM_FUNCTIONS = frozenset(names) | {"lambda"}  # x -> ...: syntax, never a user's function
    return _SYSTEM_FUNCTIONS


def _check_user_defined(query, names: set[str]) -> None:
    """Refuse user-defined functions (``CREATE FUNCTION readit AS (p) -> file(p)``: their bodies call
    anything); asked only for names that are not the engine's own (aggregate combinators like
    ``countIf``, other spellings of case-insensitive functions, unknown names)."""
    rows = query("SELECT name FROM system.functions WHERE origin != 'System' AND name IN ("
                 + ", ".join(sql_str(n) for n in sorted(names)) + ")", {}).split("\n")
    found = sorted(n for n in rows if n)
    if found:
        raise _denied(f"the user-defined function {found[0]}()")


def _table_functions(query) -> frozenset[str]:
    """Lower-cased names of the engine's table functions (read once): all refused as scalar functions."""
    global _TABLE_FUNCTIONS
    if _TABLE_FUNCTIONS is None:
        names = query("SELECT lower(name) FROM system.table_functions", {}).split()
        _TABLE_FUNCTIONS = frozenset(names) - ALLOWED_TABLE_FUNCTIONS
    return _TABLE_FUNCTIONS


class _Walker:
    def __init__(self, query, database: str, table_functions: frozenset[str], system_functions: frozenset[str]):
        self.query = query
        self.table_functions = table_functions
        self.system_functions = system_functions
        self.database = database
        self._catalog: tuple[dict[tuple[str, str], TableInfo], dict[str, str]] | None = None
        self.other_functions: set[str] = set()  # names that are not the engine's own: maybe user-defined
        self._views: set[tuple[str, str]] = set()

    def _load(self) -> tuple[dict[tuple[str, str], TableInfo], dict[str, str]]:
        """The catalog, read once the query passed the checks that need none."""
        if self._catalog is None:
            self._catalog = catalog(lambda sql: self.query(sql, {}))
        return self._catalog

    @property
    def tables(self) -> dict[tuple[str, str], TableInfo]:
        return self._load()[0]

    @property
    def databases(self) -> dict[str, str]:
        return self._load()[1]

    def statement(self, root: Node, canonical: str) -> str:
        kind = root.kind
        if kind == "SelectWithUnionQuery":
            self.select(root, self.database)
            return "SELECT"
        if kind == "DescribeQuery":
            self.select(root, self.database)
            return "SHOW"  # chDB cannot stream DESCRIBE TABLE
        if kind in ("ExistsTableQuery", "ExistsViewQuery", "ExistsDatabaseQuery", "ShowCreateTableQuery",
                    "ShowCreateViewQuery", "ShowCreateDatabaseQuery"):
            if any(n.kind != "Identifier" for _, n in root.walk() if n is not root):
                raise _denied(kind)
            return "SHOW"
        if kind in ("ShowTables", "ShowColumns"):
            if not _SAFE_SHOW.match(canonical):
                raise _denied("this SHOW statement (only SHOW TABLES, DATABASES and COLUMNS with FROM and LIKE)")
            return "SHOW"
        if kind == "Explain" and root.text in _EXPLAINS and len(root.children) == 1 \
                and root.children[0].kind == "SelectWithUnionQuery":
            self.select(root.children[0], self.database)
            return "SHOW"  # chDB cannot stream EXPLAIN (PLAN)
        if kind in _WRITE_KINDS:
            raise _readonly(f"{kind} for a tenant user")
        raise _denied(f"the statement {kind}")

    def select(self, root: Node, database: str, depth: int = 0) -> None:
        metadata = False
        for parent, node in root.walk():
            kind = node.kind
            if kind not in _QUERY_NODES and node is not root:
                raise _denied(f"{kind}")
            if kind == "Set" and not depth:  # a view's own SETTINGS are its author's (readonly still holds)
                raise _readonly("a tenant cannot change settings")
            if parent is not None and parent.kind in ("SelectWithUnionQuery", "Explain") and kind == "Literal":
                raise _denied("INTO OUTFILE")
            if kind == "Function":
                name = node.name
                if parent is not None and parent.kind == "TableExpression":
                    if name.lower() not in ALLOWED_TABLE_FUNCTIONS:
                        raise _denied(f"table function {name}()")
                elif function_denied(name) or name.lower() in self.table_functions:
                    raise _denied(f"function {name}()")
                elif name not in self.system_functions:
                    self.other_functions.add(name)
                args = node.children[0].children if node.children else []
                if name.lower() in _IN_FUNCTIONS and len(args) == 2 and args[1].kind == "Identifier":
                    metadata |= self.table(args[1].name, database, depth)  # x IN db.table reads the table
            elif kind == "TableIdentifier":
                metadata |= self.table(node.name, database, depth)
            elif kind == "Identifier" and _virtual(node.name.rsplit(".", 1)[-1].strip("`")):
                raise _denied(f"the virtual column {node.name} (parts and blocks hold every tenant's rows)")
            elif kind == "SampleRatio" and not _sample_ratio(node.text):
                raise _denied(f"SAMPLE {node.text} (a number of rows: a share of every tenant's rows)")
        if metadata:
            for _, node in root.walk():
                if node.kind in _MATCHERS:
                    raise _denied("* over system.tables, columns or databases (name the columns)")
                if node.kind == "Identifier" and node.name.rsplit(".", 1)[-1].strip("`").lower() in _SENSITIVE_COLUMNS:
                    raise _denied(f"the column {node.name} (sizes and row counts of every tenant)")

    def table(self, name: str, database: str, depth: int) -> bool:
        """Check one table a query reads; True for the metadata tables whose columns are restricted."""
        m = _TABLE_NAME.match(name)
        if not m:
            raise _denied(f"the table name {name!r}")
        db, table = m.group(1) or database, m.group(2)
        if db.lower() == "information_schema":
            raise _denied(f"{db}.{table}")
        if db.lower() == "system":
            if table not in ALLOWED_SYSTEM_TABLES:
                raise _denied(f"{db}.{table}")
            return table in _METADATA_TABLES
        info = self.tables.get((db, table))
        if info is None:  # a CTE's name, no such table (the query fails), or a file
            engine = self.databases.get(db)
            if engine is None or engine in _PLAIN_DATABASES or engine == "Overlay" and not os.path.lexists(table):
                return False
            raise _denied(f"{db}.{table} (not a table: the {engine} database {db} reads it from outside)")
        if not (info.engine.endswith("MergeTree") or info.engine in _FILTERED_ENGINES):
            raise _denied(f"{db}.{table} (engine {info.engine}: its rows escape the tenant filter)")
        if not info.has_app_id and (info.engine == "MaterializedView" or info.is_mv_target
                                    or table.startswith(".inner")):
            raise _denied(f"{db}.{table} (a materialized view without {APP_COLUMN}: other tenants' rows)")
        if info.engine == "View" and (db, table) not in self._views:
            if depth > 8:
                raise _denied(f"{db}.{table} (views nested too deep)")
            self._views.add((db, table))
            try:
                raw = info.as_select.encode()
                _check_words(raw, _tokens(raw, final=True))  # a view's PREWHERE or FINAL runs before the filter too
                tree = parse_ast(self.query("EXPLAIN AST " + info.as_select, {}))
            except TenantError:
                raise
            except Exception:
                raise _denied(f"{db}.{table} (its definition could not be checked)") from None
            if tree.kind != "SelectWithUnionQuery":
                raise _denied(f"{db}.{table}")
            self.select(tree, db, depth + 1)
        return False


def check_settings(settings: dict[str, str], query=None) -> None:
    """URL settings of a tenant request: only output shape, and resource limits no higher than the
    server's (``query(sql)`` runs SQL in a fresh context and returns text: its values are the defaults)."""
    for name in settings:
        if name not in TENANT_SETTINGS and not (name.startswith("output_format_") and name != "output_format_schema"):
            raise TenantError(READONLY, f"Cannot modify '{name}' setting in readonly mode. (READONLY)")
    limits = sorted(n for n in settings if n in LIMIT_SETTINGS)
    if not limits:
        return
    if query is None:
        raise TenantError(READONLY, f"Cannot modify '{limits[0]}' setting in readonly mode. (READONLY)")
    rows = query("SELECT name, value FROM system.settings WHERE name IN ("
                 + ", ".join(sql_str(n) for n in limits) + ") FORMAT TabSeparatedRaw")
    defaults = dict(line.split("\t", 1) for line in rows.splitlines() if line)
    for name in limits:
        default, value = _limit(defaults.get(name, "")), _limit(settings[name])
        if name == "max_threads" and value == 0:
            value = default  # 0 is auto: the server's own number
        if default is None or value is None or default and not 0 < value <= default:
            raise TenantError(READONLY, f"Cannot modify '{name}' setting in readonly mode: a tenant may only "
                                        f"lower it (the server's: {defaults.get(name, '?')}). (READONLY)")


def _limit(text: str) -> float | None:
    """A limit's number: ``10``, ``1.5`` (seconds), ``auto(8)`` (threads); None for anything else."""
    m = re.fullmatch(r"\s*(?:auto\()?(\d+(?:\.\d+)?)\)?\s*", text)
    return float(m.group(1)) if m else None


def row_policy_ddl(tables: list[str], tenants: list[Tenant], cluster: str = "") -> list[str]:
    """The production equivalent: one row policy per tenant and table, and one that keeps every
    other user (the service accounts) unrestricted, since a table with any policy hides all rows
    from users no policy names; ``ON CLUSTER`` a self-managed cluster's name when given."""
    names = ", ".join(f"`{t.name}`" for t in tenants)
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    out = []
    for table in tables:
        db, _, name = table.partition(".")
        target = f"`{db}`.`{name}`"
        for t in tenants:
            out.append(f"CREATE ROW POLICY OR REPLACE `tenant_{t.name}`{on} ON {target} FOR SELECT "
                       f"USING {app_filter(t.app_ids)} TO `{t.name}`")
        out.append(f"CREATE ROW POLICY OR REPLACE `unrestricted`{on} ON {target} FOR SELECT USING 1 "
                   f"TO ALL EXCEPT {names}")
    return out
