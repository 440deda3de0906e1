"""HTTP/1.1 transport of the local server: the standard library's ``http.server``, hardened.

Why the standard library and not werkzeug, uvicorn/starlette or h11 (all in the lock): werkzeug's
development server is this same ``BaseHTTPRequestHandler`` under a WSGI layer that hides the socket;
uvicorn has no deadline for a request's head or body (only a keep-alive timeout), so a slow client
holds a connection, and its event loop would hand every chDB call to a thread; h11 parses bytes
(chunked bodies) but leaves reading, timeouts and threads to the caller, which is this module's work.
What this module adds is what ClickHouse's HTTP handler does and the standard library does not:
read deadlines against slow clients (``TimedReader``), ClickHouse's 1 MiB URI limit, chunked request
bodies, chunked responses, and draining running requests on shutdown.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from unmogrowp.clickhouse.engine import BAD_ARGUMENTS, ClickHouseError

log = logging.getLogger("unmogrowp.clickhouse")

MAX_URI_BYTES = 1 << 20  # ClickHouse's http_max_uri_size (the standard library stops at 64 KiB)
READ_CHUNK = 1 << 20
MIN_DATA_RATE = 1024  # bytes/s of INSERT data, on average once the first read timeout has passed


class TimedReader(io.RawIOBase):
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


class HttpHandler(BaseHTTPRequestHandler):
    """One connection: requests with bounded reads, bodies as chunks, whole or chunked responses."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in separate small writes; with Nagle on, each waits for the
    # client's delayed ACK (about 40 ms per query on keep-alive connections, measured)
    disable_nagle_algorithm = True
    server: HttpServer
    body_consumed = True  # False while a POST body may still be unread

    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.read_timeout_s)
        self._reader = TimedReader(self.connection, self.server.read_timeout_s)
        self.rfile = io.BufferedReader(self._reader, 1 << 16)

    def deadline(self, on: bool) -> None:
        """Bound the time to receive what follows (request head, query text); off for INSERT data,
        which only has the idle timeout."""
        self._reader.deadline = time.monotonic() + self.server.read_timeout_s if on else None
        self._reader.measure_rate(not on)

    def log_message(self, fmt, *args):  # route access logs through logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def handle_one_request(self):
        """The standard library's, with ClickHouse's URI limit: clients put query parameters in
        the URL, so a large ``{ids:Array(String)}`` makes a long request line."""
        try:
            self.deadline(True)  # request line and headers, from the end of the previous request
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
            self.deadline(True)  # the query text (INSERT data lifts it)
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
            self.wfile.flush()
        except TimeoutError as e:
            self.log_error("Request timed out: %r", e)
            self.close_connection = True

    # -- request body -----------------------------------------------------------------------
    def raw_body(self) -> Iterator[bytes]:
        """The request body as sent (chunked or Content-Length), in chunks of up to READ_CHUNK."""
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
        self.body_consumed = True

    # -- responses --------------------------------------------------------------------------
    def send_whole(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """A response with a Content-Length (no body for HEAD)."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_chunked(self, status: int, headers: dict[str, str]) -> None:
        """The head of a chunked response; the body follows through ``write_chunk`` and ``end_chunks``."""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data) -> None:
        if len(data):
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")


class HttpServer(ThreadingHTTPServer):
    """A thread per connection; counts running requests so shutdown can wait for them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[HttpHandler], read_timeout_s: float):
        self.read_timeout_s = read_timeout_s
        self._active = 0
        self._active_cv = threading.Condition()
        super().__init__(address, handler)

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
        """Wait for running requests to finish; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._active_cv:
            while self._active and time.monotonic() < deadline:
                self._active_cv.wait(deadline - time.monotonic())
            return self._active == 0
