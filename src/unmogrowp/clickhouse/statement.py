"""Split a ClickHouse HTTP request into its SQL statement and any inline INSERT data.

The server must never decode INSERT data as text (it may be Native, RowBinary or Parquet), so
only the statement head is lexed: quotes, comments and brackets are skipped until an INSERT's
top-level ``FORMAT <name>`` or ``VALUES`` is found, and everything after it is data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_WS = b" \t\r\n\f\v"
# the Unicode spaces and the BOM, which ClickHouse's lexer skips like ASCII whitespace (UTF-8)
_UNICODE_WS = tuple(chr(c).encode() for c in (0x85, 0xA0, 0x1680, 0x180E, *range(0x2000, 0x200C), 0x2028, 0x2029,
                                               0x202F, 0x205F, 0x3000, 0xFEFF))
# Statements that produce a result set and can be streamed chunk by chunk.
STREAMABLE = frozenset({"SELECT", "WITH", "(", "EXPLAIN", "DESCRIBE", "DESC"})


class NeedMoreData(Exception):
    """The buffer ends inside the statement head; read more of the body."""


class StatementError(ValueError):
    """The statement head cannot be split (e.g. an unterminated quote at end of input)."""


@dataclass(frozen=True)
class Statement:
    sql: str
    kind: str  # first keyword, upper-cased ("SELECT", "INSERT", ...), or "(" / ""
    insert_format: str | None = None  # INSERT with inline data: its input format
    data_offset: int | None = None  # where inline data starts in the buffer that was split
    output_format: str | None = None  # trailing FORMAT clause of a non-INSERT query

    @property
    def has_inline_data(self) -> bool:
        return self.insert_format is not None


def sql_str(value: str) -> str:
    """``value`` as a ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _tokens(buf: bytes, final: bool):
    """Yield (kind, start, end, depth) for words and brackets at any depth; skip the rest."""
    i, n, depth = 0, len(buf), 0
    while i < n:
        c = buf[i]
        if c in _WS:
            i += 1
        elif buf.startswith(b"--", i) or c == 0x23:  # "--" or "#" line comment
            j = buf.find(b"\n", i)
            if j < 0:
                if not final:
                    raise NeedMoreData
                return
            i = j + 1
        elif buf.startswith(b"/*", i):  # nested comments nest, as in ClickHouse
            j, nesting = i + 2, 1
            while nesting:
                close, opening = buf.find(b"*/", j), buf.find(b"/*", j)
                if close < 0:
                    if not final:
                        raise NeedMoreData
                    raise StatementError("unterminated comment")
                if 0 <= opening < close:
                    nesting, j = nesting + 1, opening + 2
                else:
                    nesting, j = nesting - 1, close + 2
            i = j
        elif c >= 0x80 and buf.startswith(_UNICODE_WS, i):
            i += next(len(w) for w in _UNICODE_WS if buf.startswith(w, i))
        elif c in (0x27, 0x22, 0x60):  # ' " `
            j = i + 1
            while True:
                if j >= n:
                    if not final:
                        raise NeedMoreData
                    raise StatementError("unterminated quoted string or identifier")
                if buf[j] == 0x5C:  # backslash escape
                    j += 2
                elif buf[j] == c:
                    if j + 1 < n and buf[j + 1] == c:  # doubled quote
                        j += 2
                    elif j + 1 >= n and not final:
                        raise NeedMoreData
                    else:
                        break
                else:
                    j += 1
            yield ("quoted", i, j + 1, depth)
            i = j + 1
        elif c in b"([":
            yield ("open", i, i + 1, depth)
            depth += 1
            i += 1
        elif c in b")]":
            depth -= 1
            yield ("close", i, i + 1, depth)
            i += 1
        else:
            m = _WORD.match(buf, i)
            if m:
                if m.end() == n and not final:
                    raise NeedMoreData  # the word may continue in the next chunk
                yield ("word", i, m.end(), depth)
                i = m.end()
            else:
                yield ("other", i, i + 1, depth)
                i += 1


def _data_start_after_format(buf: bytes, pos: int, final: bool) -> int:
    """ClickHouse rule: data starts after the first newline, or after all the whitespace."""
    n = len(buf)
    while pos < n:
        if buf[pos] == 0x0A:
            return pos + 1
        if buf[pos] not in _WS:
            return pos
        pos += 1
    if not final:
        raise NeedMoreData
    return pos


def _decode(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StatementError(f"the query text is not valid UTF-8 at byte {e.start}") from None


def split_statement(buf: bytes, final: bool) -> Statement:
    """Split ``buf`` (the start of a request body, or a whole query) into statement and data.

    Raises NeedMoreData when ``final`` is false and the decision needs more bytes.
    """
    kind = ""
    prev_word = None
    prev_start = 0
    output_format = None
    for tok, start, end, depth in _tokens(buf, final):
        word = buf[start:end].upper() if tok == "word" else None
        if not kind:
            kind = word.decode() if word else ("(" if tok == "open" else buf[start:end].decode("latin-1"))
            if kind != "INSERT":
                if final:
                    continue
                raise NeedMoreData  # a non-INSERT statement is all SQL: the caller reads it whole
            continue
        if kind == "INSERT" and depth == 0 and word is not None:
            if word in (b"SELECT", b"WITH"):
                break  # INSERT ... SELECT: no inline data
            if word == b"VALUES":
                return Statement(
                    _decode(buf[:start]).rstrip(), kind, insert_format="Values", data_offset=end
                )
            if prev_word == b"FORMAT":
                fmt = _decode(buf[start:end])
                data_at = _data_start_after_format(buf, end, final)
                head = _decode(buf[:prev_start]).rstrip()
                return Statement(head, kind, insert_format=fmt, data_offset=data_at)
        if kind != "INSERT" and depth == 0 and word is not None and prev_word == b"FORMAT":
            output_format = _decode(buf[start:end])
        prev_word = word if tok == "word" and depth == 0 else None
        prev_start = start
    if not final:
        raise NeedMoreData
    sql = _decode(buf).strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return Statement(sql, kind, output_format=output_format)

