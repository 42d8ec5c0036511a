"""A faster writer for the common cells of big write-only sheets.

openpyxl binds each appended value to a cell (type inference, string checks) and writes each cell
and row by building an ElementTree element and serialising it through et_xmlfile: most of a big
workbook's writing time. `fast_cells()` swaps in a writer that emits the same bytes directly for
the plain cases (non-empty text without surrounding whitespace,
finite numbers, booleans; styled or not), and for `Like` values (cells.row's ints and dates after
a sheet's first: that first cell's style, a date as its Excel serial), and hands every other cell
(formulas, rich text, the first date, hyperlinks, text needing xml:space, NaN...) to openpyxl's
own writer. Text is escaped with the very
function ElementTree uses (`_escape_cdata`: & < > only; a CR stays a raw CR, as before), so the
sheet XML is byte-identical (tests/test_workbook_fastxml.py compares it)."""

from __future__ import annotations

import contextlib
from copy import copy
from functools import lru_cache
from math import isfinite
import threading
from xml.etree.ElementTree import _escape_cdata

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell import _writer as cell_writer
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet import _write_only as write_only
from openpyxl.worksheet import _writer as sheet_writer

from .blockxml import RawRows

_ORIGINAL = cell_writer.write_cell
_ORIGINAL_WRITE_CELL = sheet_writer.write_cell
_ORIGINAL_ROW = sheet_writer.WorksheetWriter.write_row
_ORIGINAL_VALUES = write_only.WriteOnlyWorksheet._values_to_row
_LETTERS = [get_column_letter(i) for i in range(1, 200)]
_active = 0  # fast_cells() blocks open (in any thread)
_active_lock = threading.Lock()


def active() -> bool:
    """Within a fast_cells() block (cells.row then hands over `Like` values)."""
    return _active > 0


class Like:
    """An int, date or naive datetime to be written with the style of an earlier cell of the same
    sheet holding a value of the same type (its template, made by cells.cell): what `cell` would
    give it, without building a cell and a style for each value. openpyxl writes such a cell as
    a number with its style (a date as its Excel serial), which `write_row` emits directly."""
    __slots__ = ("value", "template")

    def __init__(self, value, template: Cell):
        self.value, self.template = value, template

    def bound(self, ws) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=self.value)
        c._style = copy(self.template._style)
        return c


@lru_cache(maxsize=65536)
def _serial(value, epoch) -> str:
    return "%.16g" % to_excel(value, epoch)


def _like_xml(ws, like: Like, ref: str) -> str:
    v = like.value
    text = "%.16g" % v if type(v) is int else _serial(v, ws.parent.epoch)
    # The template was written first (an earlier cell of this sheet): its style is registered.
    return f'<c r="{ref}" s="{like.template.style_id}" t="n"><v>{text}</v></c>'


def write_cell(xf, worksheet, cell, styled=None):
    value = cell._value
    dt = cell.data_type
    t = type(value)
    if cell.hyperlink is None:
        if dt == "s" and t is str and value and not value[0].isspace() and not value[-1].isspace():
            body = f'<is><t>{_escape_cdata(value)}</t></is></c>'
            kind = "inlineStr"
        elif dt == "n" and (t is int or (t is float and isfinite(value))):
            body = f"<v>{'%.16g' % value}</v></c>"
            kind = "n"
        elif dt == "b" and t is bool:
            body = f"<v>{'%.16g' % value}</v></c>"
            kind = "b"
        else:
            return _ORIGINAL(xf, worksheet, cell, styled)
        style = f' s="{cell.style_id}"' if styled else ""
        xf._file(f'<c r="{cell.coordinate}"{style} t="{kind}">{body}')
        return None
    return _ORIGINAL(xf, worksheet, cell, styled)


class _Values(list):
    """An appended row's values, handed from `values_to_row` to `write_row` unbound."""


def values_to_row(self, values, row_idx):
    """WriteOnlyWorksheet._values_to_row, deferred: openpyxl binds every value to a reused cell
    (type inference, string checks) before writing it; `write_row` writes the plain values
    directly and binds the others exactly as openpyxl would."""
    if type(values) is RawRows:
        return values
    return _Values(values)


def _bound(ws, value, col_idx: int, row_idx: int) -> Cell:
    """The cell openpyxl's _values_to_row gives for a value (a fresh one where it reuses a cell:
    the same type, style and text)."""
    if isinstance(value, Cell):
        cell = value
    elif type(value) is Like:
        cell = value.bound(ws)
    else:
        cell = WriteOnlyCell(ws)
        cell.value = value
    cell.column = col_idx
    cell.row = row_idx
    if cell.hyperlink is not None:
        cell.hyperlink.ref = cell.coordinate
    return cell


def _plain_xml(value, ref: str) -> str | None:
    """The cell XML openpyxl writes for an unstyled plain value, or None when it is not plain:
    text it would store as text (not a formula or error code, no illegal character, no
    surrounding whitespace, which needs xml:space), finite floats and booleans."""
    t = type(value)
    if t is str:
        text = value[:32767]
        if (not text or text[0].isspace() or text[-1].isspace() or (len(text) > 1 and text[0] == "=")
                or text in ERROR_CODES or ILLEGAL_CHARACTERS_RE.search(text)):
            return None
        return f'<c r="{ref}" t="inlineStr"><is><t>{_escape_cdata(text)}</t></is></c>'
    if t is float:
        return f'<c r="{ref}" t="n"><v>{"%.16g" % value}</v></c>' if isfinite(value) else None
    if t is bool:
        return f'<c r="{ref}" t="b"><v>{"%.16g" % value}</v></c>'
    return None


def write_row(self, xf, row, row_idx):
    """openpyxl's WorksheetWriter.write_row without an ElementTree element per row: the same
    `<row r="n">` ... `</row>` (a row with no cells too), the same cells skipped (None values
    too). A row with dimensions (height, style) goes to openpyxl's own. (`row` may be a
    generator: one pass.)"""
    ws = self.ws
    if type(row) is RawRows:  # rows written as XML already (blockxml.rows_xml checked their numbers)
        xf._file(row[0])
        return None
    if row_idx in ws.row_dimensions:
        if isinstance(row, _Values):
            row = _ORIGINAL_VALUES(ws, [v.bound(ws) if type(v) is Like else v for v in row], row_idx)
        return _ORIGINAL_ROW(self, xf, row, row_idx)
    xf._file(f'<row r="{row_idx}">')
    if isinstance(row, _Values):
        n = str(row_idx)
        iso = ws.parent.iso_dates
        for col_idx, value in enumerate(row, 1):
            if value is None:
                continue
            ref = (_LETTERS[col_idx - 1] if col_idx < 200 else get_column_letter(col_idx)) + n
            if type(value) is Like:
                if iso and type(value.value) is not int:  # (never: pbr's workbooks write serials)
                    _write_cells(xf, ws, (_bound(ws, value, col_idx, row_idx),))
                else:
                    xf._file(_like_xml(ws, value, ref))
                continue
            text = _plain_xml(value, ref)
            if text is not None:
                xf._file(text)
            else:
                _write_cells(xf, ws, (_bound(ws, value, col_idx, row_idx),))
    else:
        _write_cells(xf, ws, row)
    xf._file("</row>")
    return None


def _write_cells(xf, ws, cells) -> None:
    for c in cells:
        if c._comment is not None:
            ws._comments.append(CommentRecord.from_cell(c))
        styled = c.has_style
        if c._value is None and not styled and not c._comment:
            continue
        write_cell(xf, ws, c, styled)


@contextlib.contextmanager
def fast_cells():
    """Within the block, openpyxl's write-only sheets use `values_to_row`, `write_row` and
    `write_cell` above (restored after)."""
    global _active
    # openpyxl's writers are module-level: swapped in when the first block opens and back when
    # the last one closes, so that a block closing in one thread never leaves another thread's
    # sheet (whose rows may hold `Like` values) with openpyxl's own writer mid-way.
    with _active_lock:
        if _active == 0:
            sheet_writer.write_cell = write_cell
            sheet_writer.WorksheetWriter.write_row = write_row
            write_only.WriteOnlyWorksheet._values_to_row = values_to_row
        _active += 1
    try:
        yield
    finally:
        with _active_lock:
            _active -= 1
            if _active == 0:
                sheet_writer.write_cell = _ORIGINAL_WRITE_CELL
                sheet_writer.WorksheetWriter.write_row = _ORIGINAL_ROW
                write_only.WriteOnlyWorksheet._values_to_row = _ORIGINAL_VALUES
