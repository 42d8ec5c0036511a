"""An injection-safe cell writer for the workbooks (write-only openpyxl sheets).

Every value that comes from data is written as a value of its own type: numbers as numbers, dates as
dates, and text always as a literal string. openpyxl turns any string starting with "=" into a
formula, and spreadsheet programs treat text starting with + - @ (and tab or CR) as the start of a
formula when a cell is edited or the data is re-imported. So such text is stored with the string
type forced and Excel's "quote prefix" style (the cell shows and keeps the text as typed). Only our
own formulas, passed as `Formula`, are ever written as formulas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from . import fastxml
from .blockxml import RawRows, rows_xml
from .fastxml import fast_cells

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# A table sheet of this many rows or more writes them as blocks of XML where it can (blockxml).
BLOCK_ROWS = 200
MAX_TEXT = 32767  # Excel's limit for a cell

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MONEY_FORMAT = '"£"#,##0.00'
INT_FORMAT = "#,##0"
PCT_FORMAT = "0.0%"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
TITLE_FONT = Font(bold=True, size=14)


@dataclass(frozen=True)
class Formula:
    """One of pbr's own formulas (the only text ever written as a formula)."""
    text: str

    def __post_init__(self):
        if not self.text.startswith("="):
            raise ValueError("a formula starts with '='")


@dataclass(frozen=True)
class Money:
    value: Decimal | float | int | None


@dataclass(frozen=True)
class Pct:
    """A fraction shown as a percentage (0.4 -> 40.0%)."""
    value: float | None


def is_dangerous(text: str) -> bool:
    return text.startswith(DANGEROUS_START)


def workbook_text(value: str) -> str:
    """Text as a cell can hold it: at most MAX_TEXT characters, and each control character a
    workbook cannot store (delivered text may hold one: openpyxl refuses it, quoting the value,
    and the whole refresh failed) shown as U+FFFD. The CSV outputs keep the text as delivered."""
    text = value[:MAX_TEXT]
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text) if ILLEGAL_CHARACTERS_RE.search(text) else text


def cell(ws: Worksheet, value, number_format: str | None = None, bold: bool = False) -> WriteOnlyCell:
    """A write-only cell holding `value` safely."""
    if isinstance(value, Money):
        c = WriteOnlyCell(ws, value=None if value.value is None else float(value.value))
        c.number_format = MONEY_FORMAT
    elif isinstance(value, Pct):
        c = WriteOnlyCell(ws, value=value.value)
        c.number_format = PCT_FORMAT
    elif isinstance(value, Formula):
        c = WriteOnlyCell(ws, value=value.text)
    elif isinstance(value, str):
        text = workbook_text(value)
        c = WriteOnlyCell(ws, value=None)
        c.value = text
        c.data_type = "s"  # never "f", whatever the text starts with
        if is_dangerous(text):
            c.quotePrefix = True
    elif isinstance(value, bool) or value is None or isinstance(value, (int, float, Decimal)):
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, int) and not isinstance(value, bool):
            c.number_format = INT_FORMAT
    elif isinstance(value, datetime):
        c = WriteOnlyCell(ws, value=value)
        c.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        c = WriteOnlyCell(ws, value=value)
        c.number_format = DATE_FORMAT
    else:
        return cell(ws, str(value), number_format, bold)
    if number_format:
        c.number_format = number_format
    if bold:
        c.font = Font(bold=True)
    return c


def header_row(ws: Worksheet, names: list[str]) -> list[WriteOnlyCell]:
    out = []
    for n in names:
        c = cell(ws, n)
        c.font = HEADER_FONT
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")
        out.append(c)
    return out


def row(ws: Worksheet, values) -> list:
    """A row of cells for `ws.append`. Text that cannot start a formula, floats and booleans go
    as plain values (openpyxl writes them with the same type and no style, as `cell` would, from
    one reused cell: much cheaper on big sheets); everything else through `cell`. Within
    fast_cells() (table_sheet), also: None as itself (no cell: none is written either way), and
    each int, date and naive datetime after the sheet's first of its type as a fastxml.Like of
    that first one's cell (the same style; written directly, the same bytes)."""
    if not fastxml.active():
        return [_plain(v) if _is_plain(v) else cell(ws, v) for v in values]
    templates = ws.__dict__.setdefault("_pbr_like", {})
    out = []
    for v in values:
        t = type(v)
        if t is str:
            out.append(workbook_text(v) if v and not v.startswith(DANGEROUS_START) else cell(ws, v))
        elif t is float or t is bool or v is None:
            out.append(v)
        elif t is int or t is date or (t is datetime and v.tzinfo is None):
            template = templates.get(t)
            if template is None:
                out.append(templates.setdefault(t, cell(ws, v)))
            else:
                out.append(fastxml.Like(v, template))
        else:
            out.append(cell(ws, v))
    return out


def _is_plain(v) -> bool:
    t = type(v)
    if t is str:
        return bool(v) and not v.startswith(DANGEROUS_START)
    return t is float or t is bool


def _plain(v):
    return workbook_text(v) if type(v) is str else v


def as_date(v):
    """ISO date text (as the evidence JSON holds it) to a date; other values unchanged."""
    if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
        try:
            return date.fromisoformat(v)
        except ValueError:
            return v
    return v


def table_sheet(wb, title: str, columns: list[str], rows, widths: dict[str, int] | None = None,
                default_width: int = 14, protect: bool = True, preamble: list[list] | None = None) -> int:
    """A sheet holding one table: optional preamble lines, a header row, frozen below the header,
    an autofilter over the table, column widths, a print area and print titles, protection
    against accidental edits (sorting and filtering stay allowed). Returns the data row count."""
    ws = wb.create_sheet(title)
    widths = widths or {}
    for i, name in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(name, default_width)
    header = 1 + (len(preamble) + 1 if preamble else 0)
    ws.freeze_panes = f"A{header + 1}"  # write-only: sheet views before the first row
    for line in preamble or []:
        ws.append([cell(ws, v, bold=(j == 0)) for j, v in enumerate(line)])
    if preamble:
        ws.append([])
    ws.append(header_row(ws, columns))
    n = 0
    with fast_cells():  # same bytes, written directly for the plain cells (fastxml.py)
        rows = rows if isinstance(rows, list) else list(rows)
        if len(rows) >= BLOCK_ROWS and fastxml.active():
            # The first row one value at a time (it registers the sheet's integer and date
            # styles), the rest as blocks of XML where every value allows it (blockxml.py).
            ws.append(row(ws, rows[0]))
            blocks = rows_xml(ws, rows[1:], header + 2)
            if blocks is not None:
                for xml in blocks:
                    ws.append(RawRows((xml,)))
            else:
                for values in rows[1:]:
                    ws.append(row(ws, values))
            n = len(rows)
        else:
            for values in rows:
                ws.append(row(ws, values))
                n += 1
    last_col = get_column_letter(max(1, len(columns)))
    last_row = header + max(n, 1)
    ws.auto_filter.ref = f"A{header}:{last_col}{last_row}"
    ws.print_area = f"A1:{last_col}{last_row}"
    ws.print_title_rows = f"{header}:{header}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if protect:
        protect_sheet(ws)
    return n


def save_book(wb, path) -> None:
    """wb.save(path) (openpyxl's save_workbook), with the zip deflated at level 1, not zlib's
    default 6: at authority scale the cohort workbook's 30 MB of sheet XML took 0.54 s to
    compress, 0.19 s at level 1, for a file of 3.4 MB instead of 2.7 MB."""
    import datetime as dt
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    if wb.write_only and not wb.worksheets:
        wb.create_sheet()
    wb.properties.modified = dt.datetime.now(tz=dt.timezone.utc).replace(tzinfo=None)
    archive = ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=1)
    try:
        ExcelWriter(wb, archive).save()  # (closes the archive)
    except BaseException:
        archive.close()
        raise


def protect_sheet(ws: Worksheet) -> None:
    """Protected against accidental edits (no password: this is a guard, not a lock); sorting,
    filtering and resizing stay allowed."""
    p = ws.protection
    p.sheet = True
    p.autoFilter = False
    p.sort = False
    p.formatColumns = False
    p.formatRows = False
    p.selectLockedCells = False
    p.selectUnlockedCells = False
