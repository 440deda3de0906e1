import pytest

from unmogrowp.clickhouse.statement import NeedMoreData, StatementError, split_statement


def test_insert_format_data_starts_after_first_newline():
    body = b"INSERT INTO t (a, b) FORMAT CSV\n1,2\n3,4\n"
    stmt = split_statement(body, final=False)
    assert stmt.sql == "INSERT INTO t (a, b)"
    assert stmt.insert_format == "CSV"
    assert body[stmt.data_offset:] == b"1,2\n3,4\n"


def test_insert_format_data_on_same_line_after_whitespace():
    body = b"INSERT INTO t FORMAT JSONEachRow {\"a\": 1}"
    stmt = split_statement(body, final=True)
    assert stmt.insert_format == "JSONEachRow"
    assert body[stmt.data_offset:] == b'{"a": 1}'


def test_binary_data_is_never_decoded():
    data = bytes(range(256)) * 4  # not valid UTF-8
    stmt = split_statement(b"INSERT INTO t FORMAT Native\n" + data, final=False)
    assert stmt.insert_format == "Native" and stmt.data_offset == len(b"INSERT INTO t FORMAT Native\n")


def test_values_insert():
    body = b"INSERT INTO db.t (a) VALUES (1), ('x)'), (3)"
    stmt = split_statement(body, final=True)
    assert (stmt.sql, stmt.insert_format) == ("INSERT INTO db.t (a)", "Values")
    assert body[stmt.data_offset:] == b" (1), ('x)'), (3)"


def test_format_inside_strings_comments_and_brackets_is_ignored():
    body = (b"INSERT INTO t /* FORMAT CSV */ SETTINGS async_insert = 0 -- VALUES\n"
            b"FORMAT TSV\nx\ty\n")
    stmt = split_statement(body, final=True)
    assert stmt.insert_format == "TSV"
    assert stmt.sql.endswith("SETTINGS async_insert = 0 -- VALUES")
    assert body[stmt.data_offset:] == b"x\ty\n"


def test_insert_select_has_no_inline_data():
    stmt = split_statement(b"INSERT INTO t SELECT * FROM s FORMAT Native", final=True)
    assert not stmt.has_inline_data and stmt.kind == "INSERT"


def test_select_output_format_and_trailing_semicolon():
    stmt = split_statement(b"SELECT 'FORMAT CSV' AS x FORMAT JSONEachRow;", final=True)
    assert stmt.kind == "SELECT" and stmt.output_format == "JSONEachRow"
    assert stmt.sql == "SELECT 'FORMAT CSV' AS x FORMAT JSONEachRow"


def test_head_split_across_chunks_asks_for_more():
    with pytest.raises(NeedMoreData):
        split_statement(b"INSERT INTO t FORM", final=False)
    with pytest.raises(NeedMoreData):
        split_statement(b"INSERT INTO t FORMAT Nat", final=False)
    with pytest.raises(NeedMoreData):  # a non-INSERT is read whole
        split_statement(b"SELECT 1", final=False)


def test_unterminated_quote_is_an_error():
    with pytest.raises(StatementError):
        split_statement(b"SELECT 'abc", final=True)


def test_invalid_utf8_in_query_text_is_an_error():
    with pytest.raises(StatementError):
        split_statement(b"SELECT '\xff'", final=True)
