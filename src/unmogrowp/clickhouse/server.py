"""The local ClickHouse server: chDB behind the ClickHouse HTTP interface on 127.0.0.1.

Standard clients (clickhouse-connect, dbt-clickhouse with ``driver: http``, curl) talk to it as
to a ClickHouse server. See README "Local ClickHouse server" for what is and is not supported.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import io
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import zlib
from email import policy as email_policy
from email.parser import BytesParser
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
from backports import zstd

from unmogrowp.clickhouse.engine import (
    BAD_ARGUMENTS,
    NOT_IMPLEMENTED,
    SYNTAX_ERROR,
    ClickHouseError,
    Engine,
)
from unmogrowp.clickhouse import tenancy
from unmogrowp.clickhouse.statement import (
    STREAMABLE,
    NeedMoreData,
    Statement,
    StatementError,
    split_statement,
)

log = logging.getLogger("unmogrowp.clickhouse")

SERVER_NAME = "unmogrowp-chdb"
MAX_QUERY_BYTES = 256 * 1024 * 1024
MAX_URI_BYTES = 1 << 20  # ClickHouse's http_max_uri_size (the standard library stops at 64 KiB)
READ_CHUNK = 1 << 20
DEFAULT_SESSION_TIMEOUT_S = 60.0
MAX_SESSION_TIMEOUT_S = 600.0  # ClickHouse allows 3600; a local session holds a chDB connection
DEFAULT_MAX_SESSIONS = 64
DEFAULT_READ_TIMEOUT_S = 30.0  # ClickHouse's http_receive_timeout
MIN_DATA_RATE = 1024  # bytes/s of INSERT data, on average once the first read timeout has passed
INVALID_SESSION_TIMEOUT = 374
READONLY = 164
# statements a GET request may run (ClickHouse: GET implies readonly = 2)
_READ_KINDS = frozenset({"SelectWithUnionQuery", "DescribeQuery", "Explain", "Set", "UseQuery"})
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


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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


class _TimedReader(io.RawIOBase):
    """The connection's reads: cut off after ``idle_s`` without a byte, at ``deadline``, or, for INSERT
    data, when it arrives slower than MIN_DATA_RATE on average after ``idle_s`` (a client that sends its
    request a byte at a time, slow-loris, cannot hold a thread)."""

    def __init__(self, sock: socket.socket, idle_s: float):
        self.sock, self.idle_s = sock, idle_s
        self.deadline: float | None = None
        self._data_since: float | None = None
        self._data_bytes = 0

    def readable(self) -> bool:
        return True

    def measure_rate(self, on: bool) -> None:
        self._data_since, self._data_bytes = (time.monotonic() if on else None), 0

    def readinto(self, buf) -> int:
        timeout = self.idle_s
        now = time.monotonic()
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - now)
            if timeout <= 0:
                raise TimeoutError("the request was not received in time")
        if self._data_since is not None and now - self._data_since > self.idle_s \
                and self._data_bytes < MIN_DATA_RATE * (now - self._data_since):
            raise TimeoutError("the request body arrives too slowly")
        self.sock.settimeout(timeout)
        try:
            n = self.sock.recv_into(buf)
            self._data_bytes += n
            return n
        finally:
            self.sock.settimeout(self.idle_s)  # writes: a client that stops reading is cut off too


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate small writes; with Nagle on, each waits for the
    # client's delayed ACK (about 40 ms per query on keep-alive connections, measured)
    disable_nagle_algorithm = True
    server_version = SERVER_NAME
    server: LocalServer

    # -- plumbing -------------------------------------------------------------------------
    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.read_timeout_s)
        self._reader = _TimedReader(self.connection, self.server.read_timeout_s)
        self.rfile = io.BufferedReader(self._reader, 1 << 16)

    def _deadline(self, on: bool) -> None:
        """Bound the time to receive what follows (request head, query text); off for INSERT data,
        which only has the idle timeout."""
        self._reader.deadline = time.monotonic() + self.server.read_timeout_s if on else None
        self._reader.measure_rate(not on)

    def log_message(self, fmt, *args):  # route access logs through logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _common_headers(self, query_id: str | None = None) -> None:
        engine = self.server.engine
        self.send_header("X-ClickHouse-Server-Display-Name", SERVER_NAME)
        self.send_header("X-ClickHouse-Timezone", engine.timezone)
        if query_id:
            self.send_header("X-ClickHouse-Query-Id", query_id)

    def _send_simple(self, status: int, body: bytes, ctype: str = "text/plain; charset=UTF-8",
                     extra: dict[str, str] | None = None, query_id: str | None = None) -> None:
        self.send_response(status)
        self._common_headers(query_id)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, err: ClickHouseError, query_id: str | None = None) -> None:
        body = f"{err.render()} (version {self.server.engine.version})\n".encode()
        self._send_simple(500, body, extra={"X-ClickHouse-Exception-Code": str(err.code)},
                          query_id=query_id)

    def _raw_body(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClickHouseError(BAD_ARGUMENTS, "Unexpected end of chunked request body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, READ_CHUNK))
                    if not data:
                        raise ClickHouseError(BAD_ARGUMENTS, "Truncated chunked request body")
                    remaining -= len(data)
                    yield data
                self.rfile.readline(3)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, READ_CHUNK))
                if not data:
                    raise ClickHouseError(BAD_ARGUMENTS, "Truncated request body")
                remaining -= len(data)
                yield data
        self._body_consumed = True

    def _body(self) -> Iterator[bytes]:
        raw = self._raw_body()
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
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

    def _form_fields(self) -> dict[str, str]:
        """The fields of a multipart/form-data POST (how clients send a query with large
        parameters: ``query`` and ``param_*``). External data files are not supported."""
        body = bytearray()
        for chunk in self._body():
            body += chunk
            if len(body) > MAX_QUERY_BYTES:
                raise ClickHouseError(SYNTAX_ERROR, "Max query size exceeded (SYNTAX_ERROR)")
        head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
        message = BytesParser(policy=email_policy.HTTP).parsebytes(head + bytes(body))
        fields = {}
        for part in message.iter_parts():
            if part.get_filename():
                raise ClickHouseError(NOT_IMPLEMENTED, "External data (form files) is not supported by the "
                                                       "local server. (NOT_IMPLEMENTED)")
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = part.get_payload(decode=True).decode("utf-8")
        return fields

    # -- HTTP verbs -----------------------------------------------------------------------
    def handle_one_request(self):
        """The standard library's, with ClickHouse's URI limit: clients put query parameters in
        the URL, so a large ``{ids:Array(String)}`` makes a long request line."""
        try:
            self._deadline(True)  # request line and headers, from the end of the previous request
            self.raw_requestline = self.rfile.readline(MAX_URI_BYTES + 1)
            if len(self.raw_requestline) > MAX_URI_BYTES:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._deadline(True)  # the query text (INSERT data lifts it)
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
            self.wfile.flush()
        except TimeoutError as e:
            self.log_error("Request timed out: %r", e)
            self.close_connection = True

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self) -> None:
        self._body_consumed = self.command != "POST"
        path = urlsplit(self.path)
        params = dict(parse_qsl(path.query, keep_blank_values=True))
        if path.path in ("/ping", "/replicas_status") or (
            path.path == "/" and self.command in ("GET", "HEAD") and "query" not in params
        ):
            self._send_simple(200, b"Ok.\n")
            return
        if path.path not in ("/", "/query"):
            self._send_simple(404, b"There is no handle " + path.path.encode() + b"\n")
            return
        query_id = params.get("query_id")
        with self.server.track_request():
            try:
                if self.command == "POST" and self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                    params.update(self._form_fields())  # the body is consumed: the query is a field
                req = Request(params, self.headers, self.server.max_session_timeout_s)
                query_id = req.query_id
                stmt, data = self._read_statement(params.get("query"))
                self._execute(req, stmt, data)
            except ClickHouseError as e:
                self.close_connection = self.close_connection or not self._body_consumed
                self._send_error(e, query_id)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        if not self._body_consumed:
            self.close_connection = True

    # -- the query ------------------------------------------------------------------------
    def _read_statement(self, query_param: str | None) -> tuple[Statement, Iterator[bytes]]:
        """Read the statement head; return it and the iterator over any inline INSERT data."""
        chunks: Iterator[bytes] = self._body() if not self._body_consumed else iter(())
        if query_param:
            chunks = _chain([query_param.encode() + b"\n"], chunks)
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
                self._deadline(False)
                return stmt, _chain([bytes(buf[stmt.data_offset:])], chunks)
            stmt = split_statement(bytes(buf), final=True)
        except StatementError as e:
            raise ClickHouseError(SYNTAX_ERROR, f"Syntax error: {e}. (SYNTAX_ERROR)") from None
        if not stmt.sql:
            raise ClickHouseError(SYNTAX_ERROR, "Empty query. (SYNTAX_ERROR)")
        tail = bytes(buf[stmt.data_offset:]) if stmt.has_inline_data else b""
        return stmt, iter([tail] if tail else [])

    def _execute(self, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        engine = self.server.engine
        tenant = self._tenant(req)
        if tenant is not None:
            with engine.ephemeral() as conn:
                stmt = self._prepare_tenant(conn, req, stmt, tenant)
                self._run(conn, req, stmt, data)
            return
        if req.session_id:
            ctx = engine.session(req.session_id, req.session_timeout, req.session_check)
        else:
            ctx = engine.ephemeral()
        with ctx as holder:
            conn = holder.connection if req.session_id else holder
            if self.command != "POST":
                _check_get_is_readonly(conn, req, stmt)
            restore = _prepare_context(conn, req, stmt, in_session=bool(req.session_id))
            try:
                self._run(conn, req, stmt, data)
            finally:
                for sql in restore:
                    with contextlib.suppress(Exception):
                        conn.query(sql, "TabSeparated")

    def _run(self, conn, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        if stmt.has_inline_data:
            self._insert(conn, req, stmt, data)
        elif stmt.kind in STREAMABLE and not req.wait_end_of_query:
            self._stream(conn, req, stmt)
        else:
            self._run_whole(conn, req, stmt)

    # -- tenancy (see tenancy.py) ------------------------------------------------------------
    def _tenant(self, req: Request) -> tenancy.Tenant | None:
        if req.user in ("", "default"):
            return None
        tenant = self.server.tenants.get(req.user)
        if tenant is None or not tenant.authenticate(req.password):
            raise ClickHouseError(516, f"{req.user}: Authentication failed: password is incorrect, "
                                       "or there is no user with such name. (AUTHENTICATION_FAILED)")
        return tenant

    def _prepare_tenant(self, conn, req: Request, stmt: Statement, tenant: tenancy.Tenant) -> Statement:
        """A fresh context: the request's database and settings, the tenant's row filters, then
        read-only, so nothing the query says can lift them. Returns the statement to run: the query as
        ClickHouse's parser read it, once ``tenancy.authorize`` allowed it."""
        if (req.database or "").lower() in ("system", "information_schema"):
            raise ClickHouseError(497, f"{tenant.name}: Not enough privileges to use database "
                                       f"{req.database}. (ACCESS_DENIED)")
        if stmt.has_inline_data:
            raise ClickHouseError(READONLY, f"{tenant.name}: Cannot execute query in readonly mode. (READONLY)")
        try:
            tenancy.check_settings(req.settings, lambda sql: _raw(conn, sql, {}))  # before they apply
            auth = tenancy.authorize(lambda sql, params: _raw(conn, sql, params), stmt.sql, req.query_params,
                                     req.database or "default")
        except tenancy.TenantError as e:
            raise ClickHouseError(e.code, f"{tenant.name}: {e}") from None
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        stmt = Statement(auth.sql, auth.kind, output_format=split_statement(auth.sql.encode(), True).output_format)
        _prepare_context(conn, req, stmt, in_session=False)
        try:
            for sql in tenancy.context_sql(auth.tables, tenant):
                _text(conn, sql)
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        return stmt

    def _insert(self, conn, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        start = time.perf_counter_ns()
        try:
            inserter = conn.send_insert(stmt.sql, stmt.insert_format)
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        try:
            for chunk in data:
                if chunk:
                    inserter.append(chunk)
            result = inserter.finish()
        except ClickHouseError:
            inserter.cancel()
            raise
        except Exception as e:
            with contextlib.suppress(Exception):
                inserter.cancel()
            raise ClickHouseError.from_chdb(e) from None
        summary = _summary(written_rows=result.rows_written, written_bytes=result.bytes_written,
                           elapsed_ns=time.perf_counter_ns() - start)
        self._send_simple(200, b"", extra={"X-ClickHouse-Summary": summary}, query_id=req.query_id)

    def _run_whole(self, conn, req: Request, stmt: Statement) -> None:
        fmt = stmt.output_format or req.default_format
        start = time.perf_counter_ns()
        try:
            result = conn.query(stmt.sql, req.default_format, params=req.query_params)
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        body = result.bytes()
        summary = _summary(read_rows=result.rows_read(), read_bytes=result.bytes_read(),
                           written_rows=result.rows_written(),
                           written_bytes=result.bytes_written(),
                           result_bytes=len(body), elapsed_ns=time.perf_counter_ns() - start)
        self._send_simple(200, body, content_type(fmt), query_id=req.query_id,
                          extra={"X-ClickHouse-Format": fmt, "X-ClickHouse-Summary": summary})

    def _stream(self, conn, req: Request, stmt: Statement) -> None:
        fmt = stmt.output_format or req.default_format
        start = time.perf_counter_ns()
        try:
            stream = conn.send_query(stmt.sql, req.default_format, params=req.query_params)
            chunks = iter(stream)
            first = next(chunks, None)  # errors before any output become a plain HTTP 500
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        tag = secrets.token_hex(8)
        self.send_response(200)
        self._common_headers(req.query_id)
        self.send_header("Content-Type", content_type(fmt))
        self.send_header("X-ClickHouse-Format", fmt)
        self.send_header("X-ClickHouse-Exception-Tag", tag)
        self.send_header("X-ClickHouse-Summary", _summary(elapsed_ns=time.perf_counter_ns() - start))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if first is not None:
                self._write_chunk(first.get_memview().view())
            for chunk in chunks:
                self._write_chunk(chunk.get_memview().view())
        except (BrokenPipeError, ConnectionResetError):
            stream.cancel()
            raise
        except Exception as e:  # an error after output started: ClickHouse's tagged trailer
            err = ClickHouseError.from_chdb(e).render().encode()
            self._write_chunk(b"__exception__\r\n" + tag.encode() + b"\r\n" + err + b"\n"
                              + str(len(err)).encode() + b" " + tag.encode()
                              + b"\r\n__exception__\r\n")
            self.close_connection = True
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data) -> None:
        if len(data):
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")


def _chain(first: Iterable[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def _summary(**values: int) -> str:
    keys = ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
            "result_rows", "result_bytes", "elapsed_ns")
    return json.dumps({k: str(int(values.get(k, 0))) for k in keys}, separators=(",", ":"))


def _prepare_context(conn, req: Request, stmt: Statement, in_session: bool) -> list[str]:
    """Apply the request's database and settings; return the statements that undo them.

    URL settings and ``database`` apply to one query, as in ClickHouse: a session keeps only
    what its own statements (SET, USE) change. A request without a session has a fresh context.
    """
    restore: list[str] = []
    try:
        if in_session and req.settings:
            names = ",".join(_sql_string(n) for n in req.settings)
            rows = _text(conn, f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})")
            for line in rows.splitlines():
                name, value, changed = line.split("\t")
                restore.append(f"SET {name} = {_sql_string(_unescape(value))}" if changed == "1"
                               else f"SET {name} = DEFAULT")
        if in_session and req.database and stmt.kind != "USE":
            restore.append(f"USE {_identifier(_text(conn, 'SELECT currentDatabase()').strip())}")
        if req.database:
            _text(conn, f"USE {_identifier(req.database)}")
        if req.settings:
            _text(conn, "SET " + ", ".join(f"{k} = {_sql_string(v)}" for k, v in req.settings.items()))
    except Exception as e:
        for sql in restore:
            with contextlib.suppress(Exception):
                _text(conn, sql)
        raise ClickHouseError.from_chdb(e) from None
    return restore


def _credentials(params: dict[str, str], headers) -> tuple[str, str]:
    """The user and password of a request: URL parameters, X-ClickHouse-User/Key, or Basic auth."""
    user = params.get("user") or headers.get("X-ClickHouse-User")
    password = params.get("password") or headers.get("X-ClickHouse-Key")
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic ") and not user:
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ClickHouseError(516, "Authentication failed: malformed Authorization header. "
                                       "(AUTHENTICATION_FAILED)") from None
    return user or "", password or ""


def _text(conn, sql: str) -> str:
    return conn.query(sql, "TabSeparated").bytes().decode()


def _raw(conn, sql: str, params: dict[str, str]) -> str:
    return conn.query(sql, "TabSeparatedRaw", params=params).bytes().decode()


def _check_get_is_readonly(conn, req: Request, stmt: Statement) -> None:
    """ClickHouse runs a GET request with readonly = 2: reads, SET and USE, never a write (INTO OUTFILE
    included: a top-level literal of the query's syntax tree)."""
    kind = "InsertQuery"
    if not stmt.has_inline_data:
        try:
            lines = _raw(conn, "EXPLAIN AST " + stmt.sql, req.query_params).split("\n")
        except Exception as e:
            raise ClickHouseError.from_chdb(e) from None
        kind = lines[0].split(" ", 1)[0]
        if kind in ("SelectWithUnionQuery", "Explain") and any(line.startswith(" Literal ") for line in lines):
            kind = "INTO OUTFILE"
    if not (kind in _READ_KINDS or kind.startswith(("Show", "Exists"))):
        raise ClickHouseError(READONLY, "Cannot execute query in readonly mode. For queries over HTTP, method GET "
                                        "implies readonly. You should use method POST for modifying queries. "
                                        "(READONLY)")


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _unescape(tsv_value: str) -> str:
    return tsv_value.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, engine: Engine, tenants_file: str | None = None,
                 read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
                 max_session_timeout_s: float = MAX_SESSION_TIMEOUT_S):
        self.engine = engine
        self.read_timeout_s = read_timeout_s
        self.max_session_timeout_s = max_session_timeout_s
        self.tenants = tenancy.Registry(Path(tenants_file) if tenants_file else None)
        self._active = 0
        self._active_cv = threading.Condition()
        super().__init__((host, port), Handler)

    @contextlib.contextmanager
    def track_request(self):
        with self._active_cv:
            self._active += 1
        try:
            yield
        finally:
            with self._active_cv:
                self._active -= 1
                self._active_cv.notify_all()

    def drain(self, timeout_s: float) -> bool:
        """Wait for running queries to finish; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._active_cv:
            while self._active and time.monotonic() < deadline:
                self._active_cv.wait(deadline - time.monotonic())
            return self._active == 0


def _lock_data_dir(data_path: Path):
    """Hold an exclusive lock on the data directory for the life of this process."""
    data_path.mkdir(parents=True, exist_ok=True)
    handle = open(data_path / ".unmogrowp-server.lock", "a+")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        raise SystemExit(f"error: the data directory {data_path} is in use by {owner}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def serve(data_path: str, host: str = "127.0.0.1", port: int = 18123,
          state_file: str | None = None, drain_timeout_s: float = 30.0,
          tenants_file: str | None = None, read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
          max_sessions: int = DEFAULT_MAX_SESSIONS, max_session_timeout_s: float = MAX_SESSION_TIMEOUT_S) -> None:
    """Run the server in the foreground until SIGTERM/SIGINT, then shut down cleanly."""
    lock = _lock_data_dir(Path(data_path))
    try:
        engine = Engine(data_path, max_sessions=max_sessions)
        try:
            httpd = LocalServer(host, port, engine, tenants_file, read_timeout_s, max_session_timeout_s)
        except OSError as e:
            engine.close()
            raise SystemExit(f"error: cannot listen on {host}:{port}: {e.strerror}") from None
        stop = threading.Event()

        def _on_signal(signum, _frame):
            log.info("signal %s: shutting down", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        server_thread = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
        server_thread.start()
        if state_file:
            Path(state_file).write_text(json.dumps({
                "pid": os.getpid(), "host": host, "port": httpd.server_address[1],
                "data_path": str(Path(data_path).resolve()), "version": engine.version,
                "started_at": time.time(),
            }))
        log.info("serving %s on http://%s:%s (chDB %s)", data_path, host,
                 httpd.server_address[1], engine.version)
        while not stop.wait(5.0):
            engine.expire_sessions()
        httpd.shutdown()  # stop accepting
        if not httpd.drain(drain_timeout_s):
            log.warning("queries still running after %.0f s; closing anyway", drain_timeout_s)
        httpd.server_close()
        engine.close()
        if state_file:
            with contextlib.suppress(FileNotFoundError):
                Path(state_file).unlink()
        log.info("stopped")
    finally:
        lock.close()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="chDB data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18123)
    parser.add_argument("--state-file")
    parser.add_argument("--tenants", help="tenant users file (tenancy.py); read again when it changes")
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S,
                        help="seconds to receive a request's head and query text, and without a byte of INSERT data")
    parser.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS)
    parser.add_argument("--max-session-timeout", type=float, default=MAX_SESSION_TIMEOUT_S)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.data, args.host, args.port, args.state_file, tenants_file=args.tenants, read_timeout_s=args.read_timeout,
          max_sessions=args.max_sessions, max_session_timeout_s=args.max_session_timeout)


if __name__ == "__main__":
    main()
