"""A faster writer for the common cells of big write-only sheets.

openpyxl writes each cell (and each row) by building an ElementTree element and serialising it
through et_xmlfile, which is most of a big workbook's writing time. `fast_cells()` swaps in a writer that
emits the same bytes directly for the plain cases (non-empty text without surrounding whitespace,
finite numbers, booleans; styled or not) and hands every other cell (formulas, rich text, dates,
hyperlinks, text needing xml:space, NaN...) to openpyxl's own writer. Text is escaped with the very
function ElementTree uses (`_escape_cdata`: & < > only; a CR stays a raw CR, as before), so the
sheet XML is byte-identical (tests/test_workbook_fastxml.py compares it)."""

from __future__ import annotations

import contextlib
from math import isfinite
from xml.etree.ElementTree import _escape_cdata

from openpyxl.cell import _writer as cell_writer
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.worksheet import _writer as sheet_writer

_ORIGINAL = cell_writer.write_cell
_ORIGINAL_ROW = sheet_writer.WorksheetWriter.write_row


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


def write_row(self, xf, row, row_idx):
    """openpyxl's WorksheetWriter.write_row without an ElementTree element per row: the same
    `<row r="n">` ... `</row>` (a row with no cells too), the same cells skipped. A row with
    dimensions (height, style) goes to openpyxl's own. (`row` may be a generator: one pass.)"""
    if row_idx in self.ws.row_dimensions:
        return _ORIGINAL_ROW(self, xf, row, row_idx)
    xf._file(f'<row r="{row_idx}">')
    ws = self.ws
    for c in row:
        if c._comment is not None:
            ws._comments.append(CommentRecord.from_cell(c))
        styled = c.has_style
        if c._value is None and not styled and not c._comment:
            continue
        write_cell(xf, ws, c, styled)
    xf._file("</row>")
    return None


@contextlib.contextmanager
def fast_cells():
    """Within the block, openpyxl's sheet writer uses `write_cell` and `write_row` above
    (restored after)."""
    previous, previous_row = sheet_writer.write_cell, sheet_writer.WorksheetWriter.write_row
    sheet_writer.write_cell = write_cell
    sheet_writer.WorksheetWriter.write_row = write_row
    try:
        yield
    finally:
        sheet_writer.write_cell = previous
        sheet_writer.WorksheetWriter.write_row = previous_row
