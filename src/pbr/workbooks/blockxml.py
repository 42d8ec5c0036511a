"""A big table sheet's rows as blocks of sheet XML (CHUNK rows each), built column by column by
polars.

`fastxml.write_row` writes a row's cells one value at a time in Python: ≈5 µs a row, the most of
the cohort workbook's time (its Members sheet alone is ≈90,000 rows at authority scale, ≈1M at
region scale). For rows whose every value is of a kind it writes directly (text that needs no
cell of its own, booleans, integers and dates after the sheet's first of their type) this builds
the very same XML, a block of rows at a time, and `fastxml.write_row` writes each block as it is.
Any other value (a float, money, a formula, text starting like a formula or with surrounding
whitespace, an error code...) and the rows go the usual way, one at a time: the bytes are the
same either way (tests/test_workbook_fastxml.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import polars as pl
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH

_EPOCH = WINDOWS_EPOCH.date() if isinstance(WINDOWS_EPOCH, datetime) else WINDOWS_EPOCH


class RawRows(tuple):
    """("<row ...>...</row>..." ,): rows already written as sheet XML, appended to a write-only
    sheet as if one row (their numbers are in the XML: after such blocks, the sheet takes no
    row of the ordinary kind)."""
    __slots__ = ()


# The characters str.isspace() is true of (Python 3.11), as a regular-expression class for polars;
# tests/test_workbook_fastxml.py checks it against isspace() over every code point.
SPACE_CLASS = (r"[\t\n\x0B\x0C\r\x1C-\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}"
               r"\x{202F}\x{205F}\x{3000}]")
# openpyxl's ILLEGAL_CHARACTERS_RE ([\000-\010]|[\013-\014]|[\016-\037]) as one class.
ILLEGAL_CLASS = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"


def _plain_text(rows: list, j: int) -> bool:
    """Every text of column j is one cells.row and fastxml write as an inline string without a
    cell of its own: non-empty, not starting like a formula, no surrounding whitespace, no error
    code, no character a workbook cannot hold, not over Excel's limit. (Judged by polars over the
    whole column: one Python test per value was ≈0.1 s of the cohort workbook's sheets.)"""
    from .cells import DANGEROUS_START, MAX_TEXT  # (here: cells imports this module)
    v = pl.col("v")
    refused = ((v.str.len_bytes() == 0) | (v.str.len_chars() > MAX_TEXT)
               | v.str.contains(f"^{SPACE_CLASS}|{SPACE_CLASS}$|{ILLEGAL_CLASS}")
               | v.is_in(list(ERROR_CODES)) | pl.any_horizontal(v.str.starts_with(s) for s in DANGEROUS_START))
    frame = pl.DataFrame({"v": pl.Series([r[j] for r in rows], dtype=pl.String)})
    return not frame.select(refused.any()).item()  # (a null value is refused by none of them)


def _escaped(col: pl.Expr) -> pl.Expr:
    # xml.etree's _escape_cdata, as fastxml uses: & first, then < and >
    return (col.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True))


CHUNK = 2_000  # rows a block: one block's XML and column texts held at a time (authority: +26 MB at 2,000, +70 at 20,000)


def rows_xml(ws, rows: list, first_row: int) -> Iterator[str] | None:
    """The sheet XML fastxml.write_row writes for `rows` (lists of values, as given to cells.row)
    numbered from first_row, in blocks of CHUNK rows; or None when a value is not of a kind
    written here, an integer's or a date's style is not yet registered by an earlier row of the
    sheet (fastxml.Like's template), or a row has dimensions of its own. Every row is checked
    before the first block is made: a sheet is written either way, never partly each."""
    plan = _plan(ws, rows, first_row)
    if plan is None:
        return None
    return (_block(plan, rows[i:i + CHUNK], first_row + i) for i in range(0, len(rows), CHUNK))


def _plan(ws, rows: list, first_row: int) -> list[tuple[int, type, str]] | None:
    """(column index, kind, style id or "") for each column holding values, or None."""
    if not rows:
        return None
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        return None
    if ws.parent.iso_dates or any(i in ws.row_dimensions for i in range(first_row, first_row + len(rows))):
        return None
    templates = ws.__dict__.get("_pbr_like", {})
    plan = []
    for j in range(width):
        kinds = {type(r[j]) for r in rows} - {type(None)}
        if not kinds:
            continue  # no cell is written for None
        if len(kinds) > 1:
            return None
        kind = kinds.pop()
        style = ""
        if kind is str:
            if not _plain_text(rows, j):
                return None
        elif kind is int or kind is date:
            template = templates.get(kind)
            if template is None:
                return None
            style = str(template.style_id)
            present = (r[j] for r in rows if r[j] is not None)
            if kind is int and max(abs(v) for v in present) >= 10**15:  # "%.16g" writes these as digits
                return None
            # to_excel: days since 1899-12-30, one fewer up to 1900-02-28 (Excel's 1900 leap day):
            # only dates from 1900-03-01 on are written here.
            if kind is date and (ws.parent.epoch != WINDOWS_EPOCH or (min(present) - _EPOCH).days <= 60):
                return None
        elif kind is not bool:
            return None
        plan.append((j, kind, style))
    return plan


_DTYPES = {str: pl.String, bool: pl.Boolean, int: pl.Int64, date: pl.Date}


def _block(plan: list[tuple[int, type, str]], rows: list, first_row: int) -> str:
    n = pl.int_range(first_row, first_row + pl.len()).cast(pl.String)
    parts: list[pl.Expr] = [pl.lit('<row r="'), n, pl.lit('">')]
    series = []
    for j, kind, style in plan:
        name = f"c{j}"
        series.append(pl.Series(name, [r[j] for r in rows], dtype=_DTYPES[kind]))
        col = pl.col(name)
        ref = [pl.lit(f'<c r="{get_column_letter(j + 1)}'), n]
        if kind is str:
            cell = pl.concat_str([*ref, pl.lit('" t="inlineStr"><is><t>'), _escaped(col), pl.lit("</t></is></c>")])
        elif kind is bool:
            cell = pl.concat_str([*ref, pl.lit('" t="b"><v>'), col.cast(pl.Int8).cast(pl.String), pl.lit("</v></c>")])
        else:
            value = col if kind is int else (col - pl.lit(_EPOCH, pl.Date)).dt.total_days()
            cell = pl.concat_str([*ref, pl.lit(f'" s="{style}" t="n"><v>'), value.cast(pl.String), pl.lit("</v></c>")])
        parts.append(pl.when(col.is_not_null()).then(cell).otherwise(pl.lit("")))
    parts.append(pl.lit("</row>"))
    frame = pl.DataFrame(series) if series else pl.DataFrame({"_": [0] * len(rows)})
    return frame.select(pl.concat_str(parts).str.join("")).item()
