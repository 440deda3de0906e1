"""Contract machinery: a contract is a list of typed fields with per-record-type rules.

From one contract come (a) the Arrow/Delta schema of the typed rows and (b) the ClickHouse SQL that
parses raw NDJSON lines, types them and gives every rejected line exactly one reason. The SQL runs
in chDB (vectorised JSON parsing, about 1M lines/s per core here) and in a ClickHouse server alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from unmogrowp.clickhouse.statement import sql_str

ALL = "*"
ISO_TS_REGEX = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
DATE_REGEX = r"^\d{4}-\d{2}-\d{2}$"
MAX_STRING_BYTES = 2048
# Every condition is cheap and vectorised; short-circuiting 130 multiIf branches costs 3x more.
SQL_SETTINGS = "short_circuit_function_evaluation = 'disable'"

# kind -> (JSONExtract type, ClickHouse typed expression over v (the extracted value), Arrow type)
_KINDS: dict[str, tuple[str, str, pa.DataType]] = {
    "uuid": ("Nullable(String)", "lower({v})", pa.string()),
    "string": ("Nullable(String)", "{v}", pa.string()),
    "enum": ("Nullable(String)", "{v}", pa.string()),
    "currency": ("Nullable(String)", "{v}", pa.string()),
    "country": ("Nullable(String)", "{v}", pa.string()),
    "ip": ("Nullable(String)", "{v}", pa.string()),
    "timestamp": (
        "Variant(Int64, String)",
        "if(variantType({v}) = 'Int64', fromUnixTimestamp64Milli(variantElement({v}, 'Int64'), 'UTC'), "
        "parseDateTime64BestEffortOrNull(variantElement({v}, 'String'), 3, 'UTC'))",
        pa.timestamp("ms", tz="UTC"),
    ),
    "date": ("Nullable(String)", "toDate32OrNull({v})", pa.date32()),
    "float": ("Nullable(Float64)", "{v}", pa.float64()),
    "int": ("Nullable(Int64)", "{v}", pa.int64()),
    "bool": ("Nullable(Bool)", "{v}", pa.bool_()),
}


def sql_array(values) -> str:
    return "[" + ", ".join(sql_str(v) for v in sorted(values)) + "]"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required_for: frozenset[str] = frozenset()  # record types that must carry it (ALL for every one)
    allowed_for: frozenset[str] = frozenset({ALL})  # record types that may carry a non-null value
    values: frozenset[str] = frozenset()  # for enums
    min_value: float | None = None
    max_value: float | None = None
    zero_is_null: bool = False  # an all-zero id (limited ad tracking) means "absent"
    description: str = ""

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"unknown field kind {self.kind!r} for {self.name}")

    @property
    def arrow_type(self) -> pa.DataType:
        return _KINDS[self.kind][2]

    def required(self, record_type: str) -> bool:
        return ALL in self.required_for or record_type in self.required_for

    def allowed(self, record_type: str) -> bool:
        return ALL in self.allowed_for or record_type in self.allowed_for


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    fields: tuple[Field, ...]
    type_field: str | None = None  # the field naming the record type (event_type), if any
    record_types: tuple[str, ...] = ()
    extra_checks: tuple[tuple[str, str], ...] = field(default=())  # (reason, SQL condition that fails)

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def arrow_schema(self) -> pa.Schema:
        """Schema of the typed rows (every field nullable: optional fields may be absent)."""
        return pa.schema([pa.field(f.name, f.arrow_type, nullable=True,
                                   metadata={"description": f.description} if f.description else None)
                          for f in self.fields],
                         metadata={"contract": self.name, "contract_version": self.version})

    # -- SQL -------------------------------------------------------------------------------
    def _required_for_types(self, f: Field) -> str | None:
        """SQL condition: the record type requires ``f``. None when never required."""
        if ALL in f.required_for:
            return "1"
        if not f.required_for:
            return None
        return f"t IN {sql_array(f.required_for)}"

    def _value_check(self, f: Field) -> list[tuple[str, str]]:
        """(reason, failing condition) pairs for a present, non-null value ``x_<name>``."""
        x, raw = f"x_{f.name}", f"v_{f.name}"
        checks: list[tuple[str, str]] = []
        if f.kind == "timestamp":
            checks.append((f"invalid_timestamp:{f.name}",
                           f"isNull({x}) OR (variantType({raw}) = 'String' AND NOT match("
                           f"variantElement({raw}, 'String'), {sql_str(ISO_TS_REGEX)})) "
                           f"OR {x} < toDateTime64('2000-01-01', 3, 'UTC') "
                           f"OR {x} > toDateTime64('2100-01-01', 3, 'UTC')"))
        elif f.kind == "date":
            checks.append((f"invalid_date:{f.name}",
                           f"isNull({x}) OR NOT match({raw}, {sql_str(DATE_REGEX)})"))
        elif f.kind == "uuid":
            checks.append((f"invalid_uuid:{f.name}",
                           f"length({raw}) != 36 OR isNull(toUUIDOrNull({raw}))"))
        elif f.kind == "enum":
            checks.append((f"invalid_value:{f.name}", f"{raw} NOT IN {sql_array(f.values)}"))
        elif f.kind == "currency":
            from unmogrowp.contracts.currencies import ISO_4217
            checks.append((f"invalid_currency:{f.name}", f"{raw} NOT IN {sql_array(ISO_4217)}"))
        elif f.kind == "country":
            checks.append((f"invalid_country:{f.name}", f"NOT match({raw}, '^[A-Z]{{2}}$')"))
        elif f.kind == "ip":
            checks.append((f"invalid_ip:{f.name}", f"NOT (isIPv4String({raw}) OR isIPv6String({raw}))"))
        if f.kind in ("float", "int"):
            checks.append((f"out_of_range:{f.name}", f"NOT isFinite(toFloat64({raw}))"))
            if f.min_value is not None:
                checks.append((f"out_of_range:{f.name}", f"{raw} < {f.min_value!r}"))
            if f.max_value is not None:
                checks.append((f"out_of_range:{f.name}", f"{raw} > {f.max_value!r}"))
        if _KINDS[f.kind][0] == "Nullable(String)":
            checks.append((f"too_long:{f.name}", f"length({raw}) > {MAX_STRING_BYTES}"))
        return checks

    def validation_sql(self, source: str, passthrough: tuple[str, ...], raw_column: str = "raw_line",
                       read_error_column: str | None = "read_error",
                       extra_reasons: tuple[tuple[str, str], ...] = (), with_settings: bool = True,
                       null_keys: bool = True) -> str:
        """SELECT over ``source`` giving ``passthrough`` columns, ``reason`` (NULL when valid) and
        one typed column per field. ``extra_reasons`` are (reason SQL, failing condition) pairs
        checked after the contract's own rules, with the typed fields in scope as ``x_<name>``.
        Embedding it as a subquery: pass ``with_settings=False`` and end the outer query with
        ``SETTINGS`` + ``SQL_SETTINGS``.

        ``null_keys=False`` skips looking for keys whose value is a JSON null (a regex over every line,
        about a sixth of the cost): such a key then counts as a wrong type. Only ``wrong_type`` rules read
        that list, and only to pass a line, so this SQL passes exactly the lines the full one passes, with
        the same typed values; a line it rejects needs the full SQL for its reason.
        """
        tuple_type = ", ".join(f"{f.name} {_KINDS[f.kind][0]}" for f in self.fields)
        known = sql_array(self.names)
        lets = [
            f"toString(assumeNotNull({raw_column})) AS s",
            "isValidUTF8(s) AS utf8_ok",
            "utf8_ok AND isValidJSON(s) AND startsWith(trimLeft(s), '{') AS json_ok",
            "if(json_ok, JSONExtractKeys(s), []) AS keys",
            # keys whose value is a JSON null: "present but null" is absent, not a wrong type
            ("if(json_ok, extractAll(s, '\"(\\\\w+)\"\\\\s*:\\\\s*null'), []) AS null_keys" if null_keys
             else "CAST([], 'Array(String)') AS null_keys"),
            f"arrayFilter(k -> NOT has({known}, k), keys) AS unknown_keys",
            f"JSONExtract(if(json_ok, s, '{{}}'), 'Tuple({tuple_type})') AS j",
        ]
        for f in self.fields:
            lets.append(f"tupleElement(j, {sql_str(f.name)}) AS v_{f.name}")
            lets.append(f"{_typed_expr(f, f'v_{f.name}')} AS x_{f.name}")
        type_expr = f"ifNull(v_{self.type_field}, '')" if self.type_field else "''"
        lets.append(f"{type_expr} AS t")

        conds: list[tuple[str, str]] = []
        if read_error_column:
            conds.append((f"assumeNotNull({read_error_column})", f"isNotNull({read_error_column})"))
        conds += [
            ("'invalid_utf8'", "NOT utf8_ok"),
            ("'malformed_json'", "NOT json_ok"),
            ("concat('unknown_field:', arrayStringConcat(arraySort(unknown_keys), ','))",
             "notEmpty(unknown_keys)"),
        ]
        if self.type_field:
            tf = self.type_field
            conds.append((sql_str(f"missing_field:{tf}"), f"isNull(v_{tf})"))
            conds.append((f"concat('unknown_{tf}:', left(t, 64))", f"t NOT IN {sql_array(self.record_types)}"))
        for f in self.fields:
            present = f"isNotNull(v_{f.name})"
            wrong_type = f"has(keys, {sql_str(f.name)}) AND NOT has(null_keys, {sql_str(f.name)})"
            req = self._required_for_types(f)
            if req is not None:
                conds.append((sql_str(f"wrong_type:{f.name}"), f"({req}) AND NOT {present} AND {wrong_type}"))
                conds.append((sql_str(f"missing_field:{f.name}"), f"({req}) AND NOT {present}"))
            else:
                conds.append((sql_str(f"wrong_type:{f.name}"), f"NOT {present} AND {wrong_type}"))
            if ALL not in f.allowed_for:
                conds.append((sql_str(f"field_not_allowed:{f.name}"),
                              f"{present} AND t NOT IN {sql_array(f.allowed_for)}"))
            for reason, failing in self._value_check(f):
                conds.append((sql_str(reason), f"{present} AND ({failing})"))
        for reason, failing in (*self.extra_checks, *extra_reasons):
            conds.append((reason if reason.startswith(("'", "concat")) else sql_str(reason), failing))

        reason_expr = "multiIf(" + ", ".join(f"{c}, {r}" for r, c in conds) + ", NULL)"
        outputs = [f"x_{f.name} AS {f.name}" for f in self.fields]
        sql = ("SELECT " + ", ".join([*passthrough, f"{reason_expr} AS reason", *outputs])
               + "\nFROM (SELECT *, " + ",\n  ".join(lets) + f"\n  FROM {source})")
        return f"{sql}\nSETTINGS {SQL_SETTINGS}" if with_settings else sql


def _typed_expr(f: Field, v: str) -> str:
    expr = _KINDS[f.kind][1].format(v=v)
    if f.zero_is_null:
        expr = f"if(match({expr}, '^[0-]+$'), NULL, {expr})"
    return expr
