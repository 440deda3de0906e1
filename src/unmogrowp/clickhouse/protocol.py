"""The ClickHouse HTTP interface: what a request says (URL parameters, headers, body encoding, the
statement) and the response headers clients read (format, summary, the exception trailer)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import zlib
from collections.abc import Callable, Iterable, Iterator
from email import policy as email_policy
from email.parser import BytesParser

import lz4.frame
from backports import zstd

from unmogrowp.clickhouse.engine import BAD_ARGUMENTS, NOT_IMPLEMENTED, SYNTAX_ERROR, ClickHouseError
from unmogrowp.clickhouse.statement import NeedMoreData, Statement, StatementError, split_statement

SERVER_NAME = "unmogrowp-chdb"
MAX_QUERY_BYTES = 256 * 1024 * 1024
DEFAULT_SESSION_TIMEOUT_S = 60.0
MAX_SESSION_TIMEOUT_S = 600.0  # ClickHouse allows 3600; a local session holds a chDB connection
INVALID_SESSION_TIMEOUT = 374
AUTHENTICATION_FAILED = 516
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# URL parameters that are part of the HTTP protocol, not query settings.
_HTTP_PARAMS = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check",
    "query_id", "user", "password", "quota_key", "compress", "decompress", "buffer_size",
    "wait_end_of_query", "stacktrace", "role", "client_protocol_version", "close_session",
    "http_wait_end_of_query", "http_response_buffer_size",
})
_CONTENT_TYPES = (
    ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
    ("TSV", "text/tab-separated-values; charset=UTF-8"),
    ("CSV", "text/csv; charset=UTF-8"),
    ("JSON", "application/json; charset=UTF-8"),
    ("Pretty", "text/plain; charset=UTF-8"),
    ("Markdown", "text/markdown; charset=UTF-8"),
    ("XML", "application/xml; charset=UTF-8"),
)


def content_type(fmt: str) -> str:
    for prefix, ctype in _CONTENT_TYPES:
        if fmt.startswith(prefix):
            return ctype
    return "application/octet-stream"


class Request:
    """The protocol-level parameters of one HTTP request."""

    def __init__(self, params: dict[str, str], headers, max_session_timeout_s: float = MAX_SESSION_TIMEOUT_S):
        self.params = params
        self.database = params.get("database") or headers.get("X-ClickHouse-Database")
        self.default_format = (
            params.get("default_format") or headers.get("X-ClickHouse-Format") or "TabSeparated"
        )
        self.session_id = params.get("session_id") or None
        self.session_check = params.get("session_check") == "1"
        try:
            timeout = float(params.get("session_timeout") or DEFAULT_SESSION_TIMEOUT_S)
        except ValueError:
            raise ClickHouseError(BAD_ARGUMENTS, "Invalid session timeout") from None
        if not 0 <= timeout <= max_session_timeout_s:
            raise ClickHouseError(
                INVALID_SESSION_TIMEOUT,
                f"Session timeout {timeout} is larger than max_session_timeout "
                f"({max_session_timeout_s:.0f}). (INVALID_SESSION_TIMEOUT)",
            )
        self.session_timeout = timeout
        self.query_id = params.get("query_id") or secrets.token_hex(16)
        self.user, self.password = _credentials(params, headers)
        self.wait_end_of_query = params.get("wait_end_of_query") == "1"
        self.query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        self.settings = {
            k: v for k, v in params.items() if k not in _HTTP_PARAMS and not k.startswith("param_")
        }
        for name in self.settings:
            if not _SETTING_NAME.match(name):
                raise ClickHouseError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
        if params.get("compress") == "1" or params.get("decompress") == "1":
            raise ClickHouseError(
                NOT_IMPLEMENTED,
                "ClickHouse-native block compression (compress=1/decompress=1) is not supported "
                "by the local server; use HTTP compression (Content-Encoding / Accept-Encoding) "
                "instead. (NOT_IMPLEMENTED)",
            )


def _credentials(params: dict[str, str], headers) -> tuple[str, str]:
    """The user and password of a request: URL parameters, X-ClickHouse-User/Key, or Basic auth."""
    user = params.get("user") or headers.get("X-ClickHouse-User")
    password = params.get("password") or headers.get("X-ClickHouse-Key")
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic ") and not user:
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ClickHouseError(AUTHENTICATION_FAILED, "Authentication failed: malformed Authorization header. "
                                                         "(AUTHENTICATION_FAILED)") from None
    return user or "", password or ""


# -- request body ---------------------------------------------------------------------------
def _multi_frame(raw: Iterable[bytes], make: Callable[[], object], name: str) -> Iterator[bytes]:
    """Decompress a body made of one or more concatenated frames (clients compress per block)."""
    d = make()
    pending = False
    for chunk in raw:
        while chunk:
            out = d.decompress(chunk)
            pending = True
            if out:
                yield out
            if d.eof:
                chunk, d, pending = (d.unused_data or b""), make(), False
            else:
                chunk = b""
    if pending and not d.eof:
        raise ClickHouseError(BAD_ARGUMENTS, f"Truncated {name}-compressed request body")


_DECOMPRESSORS: dict[str, Callable[[], object]] = {
    "gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "deflate": lambda: zlib.decompressobj(),
    "zstd": lambda: zstd.ZstdDecompressor(),
    "lz4": lambda: lz4.frame.LZ4FrameDecompressor(),
}
with contextlib.suppress(ImportError):
    import brotli

    class _Brotli:
        def __init__(self):
            self._d, self.unused_data = brotli.Decompressor(), b""

        def decompress(self, data: bytes) -> bytes:
            return self._d.process(data)

        @property
        def eof(self) -> bool:
            return self._d.is_finished()

    _DECOMPRESSORS["br"] = _Brotli


def decoded(raw: Iterator[bytes], content_encoding: str) -> Iterator[bytes]:
    """The body with its Content-Encoding undone."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    make = _DECOMPRESSORS.get(encoding)
    if make is None:
        raise ClickHouseError(
            BAD_ARGUMENTS,
            f"Unknown HTTP Content-Encoding '{encoding}'; the local server accepts "
            f"{', '.join(sorted(_DECOMPRESSORS))}. (BAD_ARGUMENTS)",
        )
    return _multi_frame(raw, make, encoding)


def form_fields(body: Iterable[bytes], ctype: str | None) -> dict[str, str]:
    """The fields of a multipart/form-data POST (how clients send a query with large
    parameters: ``query`` and ``param_*``). External data files are not supported."""
    data = bytearray()
    for chunk in body:
        data += chunk
        if len(data) > MAX_QUERY_BYTES:
            raise ClickHouseError(SYNTAX_ERROR, "Max query size exceeded (SYNTAX_ERROR)")
    head = f"Content-Type: {ctype}\r\n\r\n".encode()
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + bytes(data))
    fields = {}
    for part in message.iter_parts():
        if part.get_filename():
            raise ClickHouseError(NOT_IMPLEMENTED, "External data (form files) is not supported by the "
                                                   "local server. (NOT_IMPLEMENTED)")
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True).decode("utf-8")
    return fields


def read_statement(body: Iterator[bytes], query_param: str | None,
                   on_data: Callable[[], None]) -> tuple[Statement, Iterator[bytes]]:
    """The statement (``query`` parameter, then the body) and an iterator over any inline INSERT data;
    ``on_data`` is called when the data starts."""
    chunks = _chain([query_param.encode() + b"\n"], body) if query_param else body
    buf = bytearray()
    try:
        for chunk in chunks:
            buf += chunk
            if len(buf) > MAX_QUERY_BYTES:
                raise ClickHouseError(SYNTAX_ERROR, "Max query size exceeded (SYNTAX_ERROR)")
            try:
                stmt = split_statement(bytes(buf), final=False)
            except NeedMoreData:
                continue
            on_data()
            return stmt, _chain([bytes(buf[stmt.data_offset:])], chunks)
        stmt = split_statement(bytes(buf), final=True)
    except StatementError as e:
        raise ClickHouseError(SYNTAX_ERROR, f"Syntax error: {e}. (SYNTAX_ERROR)") from None
    if not stmt.sql:
        raise ClickHouseError(SYNTAX_ERROR, "Empty query. (SYNTAX_ERROR)")
    tail = bytes(buf[stmt.data_offset:]) if stmt.has_inline_data else b""
    return stmt, iter([tail] if tail else [])


def _chain(first: Iterable[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


# -- response -------------------------------------------------------------------------------
def summary(**values: int) -> str:
    """The X-ClickHouse-Summary header."""
    keys = ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
            "result_rows", "result_bytes", "elapsed_ns")
    return json.dumps({k: str(int(values.get(k, 0))) for k in keys}, separators=(",", ":"))


def exception_trailer(tag: str, err: ClickHouseError) -> bytes:
    """ClickHouse's tagged exception block for an error after a streamed response started."""
    text = err.render().encode()
    return (b"__exception__\r\n" + tag.encode() + b"\r\n" + text + b"\n"
            + str(len(text)).encode() + b" " + tag.encode() + b"\r\n__exception__\r\n")
