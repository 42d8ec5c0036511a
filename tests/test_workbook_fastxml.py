"""The fast cell writer (pbr.workbooks.fastxml) must write exactly the bytes openpyxl's own writer
does, for every kind of value the workbooks hold."""

import contextlib
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from pbr.workbooks import cells, fastxml
from pbr.workbooks.cells import Formula, Money, Pct, table_sheet

VALUES = [
    "plain", "a & b < c > d", 'quote " and \' apostrophe', "line\nfeed", "carriage\rreturn", "crlf\r\nend",
    "=1+1", "+44 20", "-5", "@SUM(A1)", "\tTAB", "\rCR first", " leading space", "trailing space ",
    "trailing tab\t", "", "ünïcödé – £ €", "x" * 40000, "]]>", "a\u00a0b",
    0, 1, -7, 10**17, 2**63 - 1, 0.1, -2.5, 1e-20, 1e300, float("nan"), float("inf"), float("-inf"),
    True, False, None, "#N/A", "#DIV/0!", "=", "x=1", Decimal("3.14"), date(2015, 3, 1), datetime(2015, 3, 1, 12, 30, 5),
    Money(Decimal("1234.5")), Money(None), Pct(0.4), Pct(None), Formula("=SUM(1,2)"), object.__name__,
]


def _book(fast: bool) -> bytes:
    wb = Workbook(write_only=True)
    rows = ([VALUES[i:i + 7] for i in range(0, len(VALUES), 7)] + [list(reversed(VALUES[:7]))]
            + [[None] * 7, [], [None, "only", None], [None, None, date(2015, 3, 1)], [Formula("=1"), None, 2]]
            # repeated ints, dates and datetimes in other columns (written as fastxml.Like), around
            # the Excel epoch's leap-year quirk
            + [[datetime(2016, 2, 29, 23, 59, 59), date(1900, 1, 1), date(1900, 3, 1), 5, -3, None, 10**17],
               [date(1900, 2, 28), datetime(2015, 3, 1, 12, 30, 5), 0, Money(Decimal("2")), date(2015, 3, 1),
                datetime(1999, 12, 31), 7]])
    ctx = contextlib.nullcontext if not fast else fastxml.fast_cells
    original = cells.fast_cells
    cells.fast_cells = ctx
    try:
        table_sheet(wb, "T", [f"c{i}" for i in range(7)], rows, preamble=[["title", "=not a formula"]])
    finally:
        cells.fast_cells = original
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_fast_writer_bytes_identical_to_openpyxl():
    slow, fast = _members(_book(False)), _members(_book(True))
    assert slow.keys() == fast.keys()
    for name in slow:
        assert slow[name] == fast[name], name


def test_save_book_writes_what_openpyxl_saves(tmp_path):
    """cells.save_book (deflate level 1) holds the same parts, byte for byte, as Workbook.save."""
    saved = tmp_path / "saved.xlsx"
    wb = Workbook(write_only=True)
    table_sheet(wb, "T", ["a", "b", "c"], [["x" * (i % 7 + 1), i, date(2015, 1, 1 + i % 28)] for i in range(3000)])
    cells.save_book(wb, saved)
    ref = io.BytesIO()
    wb2 = Workbook(write_only=True)
    table_sheet(wb2, "T", ["a", "b", "c"], [["x" * (i % 7 + 1), i, date(2015, 1, 1 + i % 28)] for i in range(3000)])
    wb2.save(ref)
    assert _members(saved.read_bytes()) == _members(ref.getvalue())
    assert load_workbook(saved)["T"]["C3"].value == datetime(2015, 1, 2)


def test_fast_writer_is_used_and_restored(monkeypatch):
    from openpyxl.worksheet import _writer as sheet_writer
    before = sheet_writer.write_cell
    calls = []
    real = fastxml._ORIGINAL
    monkeypatch.setattr(fastxml, "_ORIGINAL", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    wb = Workbook(write_only=True)
    n = table_sheet(wb, "T", ["a", "b"], [["text", 1.5], ["more", True]] * 50)
    assert n == 100
    assert sheet_writer.write_cell is before  # restored after the table
    assert calls == []  # plain text, floats and booleans never reach openpyxl's writer
    buf = io.BytesIO()
    wb.save(buf)
    ws = load_workbook(io.BytesIO(buf.getvalue()))["T"]
    assert [c.value for c in ws[2]] == ["text", 1.5]
    assert [c.value for c in ws[3]] == ["more", True]


def test_writers_stay_swapped_until_the_last_block_closes():
    """Blocks open in two threads (or nested): the first to close must not hand the other's
    sheet back to openpyxl's own writer, which cannot write fastxml.Like values."""
    from openpyxl.worksheet import _writer as sheet_writer

    before = sheet_writer.WorksheetWriter.write_row
    first, second = fastxml.fast_cells(), fastxml.fast_cells()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first thread's sheet is done; the second's is not
    assert sheet_writer.WorksheetWriter.write_row is fastxml.write_row and fastxml.active()
    second.__exit__(None, None, None)
    assert sheet_writer.WorksheetWriter.write_row is before and not fastxml.active()


@pytest.mark.parametrize("case", ["row_dimensions", "iso_dates"])
def test_like_values_openpyxl_writes_itself_are_bound_first(case):
    """A row with dimensions goes to openpyxl's own row writer, and with iso_dates a date is not a
    serial: there the Like values become the cells `cell` would make, and the bytes are still
    openpyxl's."""
    def book(fast: bool) -> bytes:
        wb = Workbook(write_only=True)
        wb.iso_dates = case == "iso_dates"
        ws = wb.create_sheet("T")
        if case == "row_dimensions":
            ws.row_dimensions[3].height = 30
        ctx = fastxml.fast_cells if fast else contextlib.nullcontext
        with ctx():
            for i in range(4):
                ws.append(cells.row(ws, ["t", 7 + i, date(2015, 3, 1 + i), datetime(2015, 3, 1, i)]))
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    slow, fast = _members(book(False)), _members(book(True))
    assert slow == fast


def test_ints_and_dates_after_the_first_skip_openpyxl(monkeypatch):
    """The first int and the first date of a sheet are cells made by cells.cell (the date one
    written by openpyxl's own writer); every later one is written directly with their style."""
    calls = []
    real = fastxml._ORIGINAL
    monkeypatch.setattr(fastxml, "_ORIGINAL", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    made = []
    real_cell = cells.cell
    monkeypatch.setattr(cells, "cell", lambda *a, **k: (made.append(1), real_cell(*a, **k))[1])
    wb = Workbook(write_only=True)
    rows = [["text", 1000 + i, date(2015, 3, 1 + i % 28), None] for i in range(100)]
    assert table_sheet(wb, "T", ["a", "n", "d", "x"], rows) == 100
    assert len(calls) == 1  # the first date
    assert len(made) == 4 + 2  # the header's four, the first int's and the first date's
    buf = io.BytesIO()
    wb.save(buf)
    ws = load_workbook(io.BytesIO(buf.getvalue()))["T"]
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [r[1] for r in got] == [1000 + i for i in range(100)]
    assert [r[2].date() for r in got] == [date(2015, 3, 1 + i % 28) for i in range(100)]
    assert {ws.cell(row=50, column=2).number_format, ws.cell(row=50, column=3).number_format} == {
        cells.INT_FORMAT, cells.DATE_FORMAT}


def test_text_openpyxl_refuses_is_refused_by_the_fast_writer_too():
    """(pbr's cells never hand such text over: cells.workbook_text replaces it.)"""
    from openpyxl.utils.exceptions import IllegalCharacterError

    for ctx in (contextlib.nullcontext, fastxml.fast_cells):
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("T")
        with __import__("pytest").raises(IllegalCharacterError):
            with ctx():
                ws.append(["ok"])
                ws.append(["bell\x07inside"])
                buf = io.BytesIO()
                wb.save(buf)


def _block_book(rows, block: bool, columns: int) -> dict[str, bytes]:
    """A workbook of one table sheet (and a second sheet after it), written with or without
    blockxml's rows: its parts."""
    from pbr.workbooks import blockxml
    wb = Workbook(write_only=True)
    original, chunk = cells.BLOCK_ROWS, blockxml.CHUNK
    cells.BLOCK_ROWS = 2 if block else 10**9
    blockxml.CHUNK = 7  # several blocks a sheet
    try:
        n = table_sheet(wb, "T", [f"c{i}" for i in range(columns)], rows, preamble=[["title", "x"]])
        table_sheet(wb, "After", ["a", "b"], [[1, date(2015, 3, 1)], [2, "two"]])
    finally:
        cells.BLOCK_ROWS, blockxml.CHUNK = original, chunk
    assert n == len(rows)
    buf = io.BytesIO()
    wb.save(buf)
    return _members(buf.getvalue())


BLOCK_TABLES = {
    "ids": [[f"F{i:06d}", f"P{i * 7:07d}", "attendance" if i % 3 else "benefits"] for i in range(300)],
    "mixed": [[f"F{i:06d}", "a & b < c > d" if i % 5 == 0 else "ünïcödé – £", i % 2 == 0, i * 1000, date(2012, 1 + i % 12, 1 + i % 28),
               None if i % 4 else "case", None] for i in range(300)],
    # ints and dates first in a later row (no template yet), then rows of other kinds: row by row
    "late ints": [[None, "x"]] + [[i, "y"] for i in range(5)],
    "float": [["a", 1.5], ["b", 2.0], ["c", 3.25]],
    "formula-like text": [["a"], ["=1+1"], ["b"]],
    "space": [["a"], ["b "], ["c"]],
    "empty text": [["a"], [""], ["c"]],
    "error code": [["a"], ["#N/A"], ["c"]],
    "control character": [["a"], ["b\x01c"], ["c"]],
    "mixed kinds": [["a"], [1], ["c"]],
    "early date": [[date(2015, 1, 1)], [date(1900, 2, 28)], [date(1900, 3, 1)]],
    "datetime": [[datetime(2015, 1, 1)], [datetime(2015, 1, 2, 3, 4)], [datetime(2015, 1, 3)]],
    "big int": [[1], [10**15], [2]],
    "all none": [[None, None]] * 5,
    "ragged": [["a", "b"], ["c"], ["d", "e"]],
    "bool then int": [[True], [False], [3]],
}


@pytest.mark.parametrize("name", sorted(BLOCK_TABLES))
def test_rows_as_one_block_are_the_same_bytes(name):
    """blockxml writes exactly what the row-by-row writer does, or leaves the rows to it."""
    rows = BLOCK_TABLES[name]
    columns = max(len(r) for r in rows)
    assert _block_book(rows, True, columns) == _block_book(rows, False, columns)


def test_rows_as_one_block_are_used_for_plain_rows():
    from pbr.workbooks import blockxml
    calls = []
    real = blockxml.rows_xml

    def spy(ws, rows, first_row):
        out = real(ws, rows, first_row)
        if ws.title == "T":
            calls.append(out is not None)
        return out
    original = cells.rows_xml
    cells.rows_xml = spy
    try:
        _block_book(BLOCK_TABLES["mixed"], True, 7)
        _block_book(BLOCK_TABLES["float"], True, 2)
    finally:
        cells.rows_xml = original
    assert calls == [True, False]


def test_contract_csv_from_a_frame_is_the_csv_modules(tmp_path):
    """outputs.write_csv of an Arrow table writes the bytes its row-by-row path writes."""
    import duckdb
    from pbr.outputs import write_csv
    con = duckdb.connect()
    sql = """
        SELECT * FROM (VALUES
            ('plain', 1, true, DATE '2015-03-01', 1.5, DECIMAL(10,2) '12.50', TIMESTAMP '2015-03-01 12:30:05', 'x'),
            ('', -7, false, NULL, 0.1, NULL, NULL, NULL),
            (NULL, NULL, NULL, DATE '1900-01-01', 1e-20, DECIMAL(10,2) '-0.05', TIMESTAMP '2015-03-01 12:30:05.5', ''),
            ('a,b "q" ünï', 10000000000, true, DATE '2099-12-31', NULL, DECIMAL(10,2) '0', NULL, 'line
feed'),
            (' lead', 0, false, NULL, -2.5, NULL, NULL, 'cr' || chr(13) || 'x'),
            ('#N/A', 3, NULL, NULL, 1e300, NULL, NULL, '=1+1')
        ) t(s, i, b, d, f, m, ts, s2)"""
    columns = ["s", "i", "b", "d", "f", "m", "ts", "s2"]
    assert write_csv(tmp_path / "rows.csv", columns, con.execute(sql).fetchall()) == 6
    assert write_csv(tmp_path / "frame.csv", columns, con.sql(sql).to_arrow_table()) == 6
    assert (tmp_path / "frame.csv").read_bytes() == (tmp_path / "rows.csv").read_bytes()
    # no rows (a delivery with nothing quarantined): the header alone, either way
    empty = f"SELECT * FROM ({sql}) WHERE false"
    assert write_csv(tmp_path / "rows0.csv", columns, con.execute(empty).fetchall()) == 0
    assert write_csv(tmp_path / "frame0.csv", columns, con.sql(empty).to_arrow_table()) == 0
    assert (tmp_path / "frame0.csv").read_bytes() == (tmp_path / "rows0.csv").read_bytes() == b"s,i,b,d,f,m,ts,s2\r\n"


def _plain_text_one_by_one(values: list) -> bool:
    """blockxml._plain_text's rule, one value at a time in Python (its form before round 28)."""
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from pbr.workbooks.cells import DANGEROUS_START, MAX_TEXT
    present = [v for v in values if v is not None]
    return not any(not v or v.startswith(DANGEROUS_START) or v[0].isspace() or v[-1].isspace()
                   or len(v) > MAX_TEXT or v in ERROR_CODES for v in present) \
        and not ILLEGAL_CHARACTERS_RE.search("".join(present))


def test_blockxml_character_classes_are_pythons_and_openpyxls():
    import polars as pl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from pbr.workbooks.blockxml import ILLEGAL_CLASS, SPACE_CLASS

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # (surrogates: not UTF-8)
    s = pl.Series(chars, dtype=pl.String)
    assert s.str.contains(f"^{SPACE_CLASS}$").to_list() == [c.isspace() for c in chars]
    assert s.str.contains(ILLEGAL_CLASS).to_list() == [bool(ILLEGAL_CHARACTERS_RE.search(c)) for c in chars]
    assert sum(c.isspace() for c in chars) > 20


TRICKY_TEXT = ["", " ", "a", "a ", " a", "a\u3000", "\u2028a", "a\x85", "\xa0a", "a\u200b", "\u180ea",
               "=1", "+1", "-1", "@a", "\ta", "\ra", "\na", "a\n", "a\x1f", "a\x1cb", "b\x07", "a\x00b",
               "a\x0eb", "a\x7fb", "#N/A", "#DIV/0!", "#n/a", "x#N/A", "x" * 32767, "x" * 32768, "é" * 32767,
               "é" * 32768, "ünïcödé – £", "a & b", "]]>", "1\u20282"]


@pytest.mark.parametrize("value", TRICKY_TEXT, ids=lambda v: repr(v[:12]) + (f"x{len(v)}" if len(v) > 12 else ""))
def test_blockxml_takes_a_text_column_exactly_when_the_rule_value_by_value_does(value):
    from pbr.workbooks.blockxml import _plain_text

    for column in (["plain", value, None, "x"], [value], [None, value]):
        rows = [[v] for v in column]
        assert _plain_text(rows, 0) == _plain_text_one_by_one(column), column
    assert _plain_text([["plain"], [None], ["x"]], 0) is True
