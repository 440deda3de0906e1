"""The chDB engine owned by the local server: one data directory, one connection per session.

chDB 4 gives every ``chdb.connect(path)`` its own query context over the same data (settings,
current database and temporary tables are per connection), which is exactly ClickHouse's HTTP
session model. Queries on different connections run concurrently; one session runs one query
at a time, as in ClickHouse.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import chdb

_CODE = re.compile(r"Code: (\d+)\. ")

# Error codes used by the server itself (same numbers as ClickHouse's ErrorCodes.cpp).
BAD_ARGUMENTS = 36
NOT_IMPLEMENTED = 48
SYNTAX_ERROR = 62
SESSION_NOT_FOUND = 372
SESSION_IS_LOCKED = 373
USER_SESSION_LIMIT_EXCEEDED = 700
UNKNOWN_EXCEPTION = 1002


class ClickHouseError(Exception):
    """An error with a ClickHouse code, rendered as ``Code: N. DB::Exception: ...``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_chdb(cls, exc: BaseException) -> ClickHouseError:
        text = str(exc)
        for prefix in ("Streaming query failed: ", "Streaming insert append failed: ",
                       "Streaming insert finish failed: "):
            text = text.replace(prefix, "")
        m = _CODE.search(text)
        if m:
            return cls(int(m.group(1)), text[m.start():].strip())
        return cls(UNKNOWN_EXCEPTION, f"Code: {UNKNOWN_EXCEPTION}. DB::Exception: {text.strip()}")

    def render(self) -> str:
        if self.message.startswith("Code: "):
            return self.message
        return f"Code: {self.code}. DB::Exception: {self.message}"


@contextlib.contextmanager
def chdb_errors() -> Iterator[None]:
    """Raise an error of chDB's as the ClickHouseError its message carries."""
    try:
        yield
    except ClickHouseError:
        raise
    except Exception as e:  # chDB raises ChdbError, RuntimeError, ValueError...
        raise ClickHouseError.from_chdb(e) from None


@dataclass
class Session:
    session_id: str
    connection: chdb.state.sqlitelike.Connection
    timeout_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


class Engine:
    """Owns the chDB data directory for the lifetime of the server process."""

    def __init__(self, data_path: str, session_lock_wait_s: float = 30.0, max_sessions: int = 64):
        self.data_path = data_path
        self.max_sessions = max_sessions
        self._root = chdb.connect(data_path)  # keeps the engine open between requests
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self._session_lock_wait_s = session_lock_wait_s
        row = self._root.query("SELECT version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = row.decode().strip().split("\t")
        self._closed = False

    def connect(self) -> chdb.state.sqlitelike.Connection:
        return chdb.connect(self.data_path)

    @contextlib.contextmanager
    def ephemeral(self) -> Iterator[chdb.state.sqlitelike.Connection]:
        """A fresh context for a request without a session: it shares nothing with others."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def session(self, session_id: str, timeout_s: float, check: bool) -> Iterator[Session]:
        if session_id not in self._sessions and len(self._sessions) >= self.max_sessions:
            self.expire_sessions()  # the sweep runs every few seconds: make room now if it can
        with self._sessions_lock:
            sess = self._sessions.get(session_id)
            if sess is None:
                if check:
                    raise ClickHouseError(
                        SESSION_NOT_FOUND, f"Session {session_id} not found (SESSION_NOT_FOUND)"
                    )
                if len(self._sessions) >= self.max_sessions:
                    raise ClickHouseError(
                        USER_SESSION_LIMIT_EXCEEDED,
                        f"Too many sessions: {len(self._sessions)} are open, the limit is {self.max_sessions}; "
                        "wait for one to expire. (USER_SESSION_LIMIT_EXCEEDED)",
                    )
                sess = Session(session_id, self.connect(), timeout_s)
                self._sessions[session_id] = sess
            sess.timeout_s = timeout_s
        if not sess.lock.acquire(timeout=self._session_lock_wait_s):
            raise ClickHouseError(
                SESSION_IS_LOCKED,
                f"Session {session_id} is locked by a concurrent client. (SESSION_IS_LOCKED)",
            )
        try:
            yield sess
        finally:
            sess.last_used = time.monotonic()
            sess.lock.release()

    def expire_sessions(self) -> int:
        """Close sessions idle for longer than their timeout; return how many were closed."""
        now = time.monotonic()
        expired = []
        with self._sessions_lock:
            for sid, sess in list(self._sessions.items()):
                if now - sess.last_used > sess.timeout_s and sess.lock.acquire(blocking=False):
                    del self._sessions[sid]
                    expired.append(sess)
        for sess in expired:
            sess.connection.close()
            sess.lock.release()
        return len(expired)

    def close(self) -> None:
        """Close every session and the engine; chDB flushes its data directory on close."""
        if self._closed:
            return
        self._closed = True
        with self._sessions_lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for sess in sessions:
            with contextlib.suppress(Exception):
                sess.connection.close()
        self._root.close()
