"""The ClickHouse HTTP handler: routes a request, runs its statement on the engine and answers as
ClickHouse does (an INSERT's summary, a whole result, or a streamed one)."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from unmogrowp.clickhouse import context, protocol
from unmogrowp.clickhouse.engine import ClickHouseError, chdb_errors
from unmogrowp.clickhouse.protocol import SERVER_NAME, Request, content_type, summary
from unmogrowp.clickhouse.statement import STREAMABLE, Statement
from unmogrowp.clickhouse.transport import HttpHandler

if TYPE_CHECKING:
    from unmogrowp.clickhouse.server import LocalServer


class Handler(HttpHandler):
    server_version = SERVER_NAME
    server: LocalServer

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _headers(self, query_id: str | None, ctype: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"X-ClickHouse-Server-Display-Name": SERVER_NAME,
                   "X-ClickHouse-Timezone": self.server.engine.timezone}
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        return headers | {"Content-Type": ctype} | (extra or {})

    def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=UTF-8",
              extra: dict[str, str] | None = None, query_id: str | None = None) -> None:
        self.send_whole(status, body, self._headers(query_id, ctype, extra))

    def _send_error(self, err: ClickHouseError, query_id: str | None = None) -> None:
        body = f"{err.render()} (version {self.server.engine.version})\n".encode()
        self._send(500, body, extra={"X-ClickHouse-Exception-Code": str(err.code)}, query_id=query_id)

    def _body(self) -> Iterator[bytes]:
        return protocol.decoded(self.raw_body(), self.headers.get("Content-Encoding", ""))

    def _dispatch(self) -> None:
        self.body_consumed = self.command != "POST"
        path = urlsplit(self.path)
        params = dict(parse_qsl(path.query, keep_blank_values=True))
        if path.path in ("/ping", "/replicas_status") or (
            path.path == "/" and self.command in ("GET", "HEAD") and "query" not in params
        ):
            self._send(200, b"Ok.\n")
            return
        if path.path not in ("/", "/query"):
            self._send(404, b"There is no handle " + path.path.encode() + b"\n")
            return
        query_id = params.get("query_id")
        with self.server.track_request():
            try:
                if self.command == "POST" and self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                    # the body is consumed: the query is a field
                    params.update(protocol.form_fields(self._body(), self.headers.get("Content-Type")))
                req = Request(params, self.headers, self.server.max_session_timeout_s)
                query_id = req.query_id
                body = self._body() if not self.body_consumed else iter(())
                stmt, data = protocol.read_statement(body, params.get("query"), lambda: self.deadline(False))
                self._execute(req, stmt, data)
            except ClickHouseError as e:
                self.close_connection = self.close_connection or not self.body_consumed
                self._send_error(e, query_id)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        if not self.body_consumed:
            self.close_connection = True

    def _execute(self, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        engine = self.server.engine
        tenant = context.tenant_of(self.server.tenants, req)
        if tenant is not None:
            with engine.ephemeral() as conn:
                stmt = context.prepare_tenant(conn, req, stmt, tenant)
                self._run(conn, req, stmt, data)
            return
        if req.session_id:
            ctx = engine.session(req.session_id, req.session_timeout, req.session_check)
        else:
            ctx = engine.ephemeral()
        with ctx as holder:
            conn = holder.connection if req.session_id else holder
            if self.command != "POST":
                context.check_get_is_readonly(conn, req, stmt)
            restore = context.prepare(conn, req, stmt, in_session=bool(req.session_id))
            try:
                self._run(conn, req, stmt, data)
            finally:
                context.undo(conn, restore)

    def _run(self, conn, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        if stmt.has_inline_data:
            self._insert(conn, req, stmt, data)
        elif stmt.kind in STREAMABLE and not req.wait_end_of_query:
            self._stream(conn, req, stmt)
        else:
            self._run_whole(conn, req, stmt)

    def _insert(self, conn, req: Request, stmt: Statement, data: Iterator[bytes]) -> None:
        start = time.perf_counter_ns()
        with chdb_errors():
            inserter = conn.send_insert(stmt.sql, stmt.insert_format)
        try:
            with chdb_errors():
                for chunk in data:
                    if chunk:
                        inserter.append(chunk)
                result = inserter.finish()
        except ClickHouseError:
            with contextlib.suppress(Exception):
                inserter.cancel()
            raise
        stats = summary(written_rows=result.rows_written, written_bytes=result.bytes_written,
                        elapsed_ns=time.perf_counter_ns() - start)
        self._send(200, b"", extra={"X-ClickHouse-Summary": stats}, query_id=req.query_id)

    def _run_whole(self, conn, req: Request, stmt: Statement) -> None:
        fmt = stmt.output_format or req.default_format
        start = time.perf_counter_ns()
        with chdb_errors():
            result = conn.query(stmt.sql, req.default_format, params=req.query_params)
        body = result.bytes()
        stats = summary(read_rows=result.rows_read(), read_bytes=result.bytes_read(),
                        written_rows=result.rows_written(), written_bytes=result.bytes_written(),
                        result_bytes=len(body), elapsed_ns=time.perf_counter_ns() - start)
        self._send(200, body, content_type(fmt), query_id=req.query_id,
                   extra={"X-ClickHouse-Format": fmt, "X-ClickHouse-Summary": stats})

    def _stream(self, conn, req: Request, stmt: Statement) -> None:
        fmt = stmt.output_format or req.default_format
        start = time.perf_counter_ns()
        with chdb_errors():
            stream = conn.send_query(stmt.sql, req.default_format, params=req.query_params)
            chunks = iter(stream)
            first = next(chunks, None)  # errors before any output become a plain HTTP 500
        tag = secrets.token_hex(8)
        self.start_chunked(200, self._headers(req.query_id, content_type(fmt), {
            "X-ClickHouse-Format": fmt, "X-ClickHouse-Exception-Tag": tag,
            "X-ClickHouse-Summary": summary(elapsed_ns=time.perf_counter_ns() - start)}))
        try:
            if first is not None:
                self.write_chunk(first.get_memview().view())
            for chunk in chunks:
                self.write_chunk(chunk.get_memview().view())
        except (BrokenPipeError, ConnectionResetError):
            stream.cancel()
            raise
        except Exception as e:  # an error after output started: ClickHouse's tagged trailer
            self.write_chunk(protocol.exception_trailer(tag, ClickHouseError.from_chdb(e)))
            self.close_connection = True
        self.end_chunks()
