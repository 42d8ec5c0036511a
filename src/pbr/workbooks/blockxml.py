"""A big table sheet's rows as one block of sheet XML, built column by column by polars.

`fastxml.write_row` writes a row's cells one value at a time in Python: ≈5 µs a row, the most of
the cohort workbook's time (its Members sheet alone is ≈90,000 rows at authority scale, ≈1M at
region scale). For rows whose every value is of a kind it writes directly (text that needs no
cell of its own, booleans, integers and dates after the sheet's first of their type) this builds
the very same XML for all of them at once, and `fastxml.write_row` writes the block as it is.
Any other value (a float, money, a formula, text starting like a formula or with surrounding
whitespace, an error code...) and the rows go the usual way, one at a time: the bytes are the
same either way (tests/test_workbook_fastxml.py)."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH

# cells.DANGEROUS_START (not imported: cells imports this module)
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_MAX_TEXT = 32767
_EPOCH = WINDOWS_EPOCH.date() if isinstance(WINDOWS_EPOCH, datetime) else WINDOWS_EPOCH


class RawRows(tuple):
    """("<row ...>...</row>..." ,): rows already written as sheet XML, appended to a write-only
    sheet as one row (after them the sheet takes no more rows: their numbers are in the XML)."""
    __slots__ = ()


def _plain_text(values: tuple) -> bool:
    """Every text is one cells.row and fastxml write as an inline string without a cell of its
    own: non-empty, not starting like a formula, no surrounding whitespace, no error code, no
    character a workbook cannot hold, not over Excel's limit."""
    for v in values:
        if v is None:
            continue
        if (not v or v.startswith(_DANGEROUS_START) or v[0].isspace() or v[-1].isspace() or len(v) > _MAX_TEXT
                or v in ERROR_CODES):
            return False
    return not ILLEGAL_CHARACTERS_RE.search("".join(v for v in values if v is not None))


def _escaped(col: pl.Expr) -> pl.Expr:
    # xml.etree's _escape_cdata, as fastxml uses: & first, then < and >
    return (col.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True))


def rows_xml(ws, rows: list, first_row: int) -> str | None:
    """The sheet XML fastxml.write_row writes for `rows` (lists of values, as given to cells.row)
    numbered from first_row, or None when a value is not of a kind written here, an integer's or
    a date's style is not yet registered by an earlier row of the sheet (fastxml.Like's
    template), or a row has dimensions of its own."""
    if not rows:
        return None
    width = len(rows[0])
    if any(len(r) != width for r in rows) or width == 0:
        return None
    if any(i in ws.row_dimensions for i in range(first_row, first_row + len(rows))):
        return None
    templates = ws.__dict__.get("_pbr_like", {})
    if ws.parent.iso_dates:
        return None
    n = pl.int_range(first_row, first_row + pl.len()).cast(pl.String)
    parts: list[pl.Expr] = [pl.lit('<row r="'), n, pl.lit('">')]
    series = []
    for j, values in enumerate(zip(*rows)):
        kinds = {type(v) for v in values} - {type(None)}
        name, letter = f"c{j}", get_column_letter(j + 1)
        ref = [pl.lit(f'<c r="{letter}'), n]
        if not kinds:
            continue  # no cell is written for None
        if len(kinds) > 1:
            return None
        kind = kinds.pop()
        col = pl.col(name)
        if kind is str:
            if not _plain_text(values):
                return None
            series.append(pl.Series(name, values, dtype=pl.String))
            cell = pl.concat_str([*ref, pl.lit('" t="inlineStr"><is><t>'), _escaped(col), pl.lit("</t></is></c>")])
        elif kind is bool:
            series.append(pl.Series(name, values, dtype=pl.Boolean))
            cell = pl.concat_str([*ref, pl.lit('" t="b"><v>'), col.cast(pl.Int8).cast(pl.String), pl.lit("</v></c>")])
        elif kind is int or kind is date:
            template = templates.get(kind)
            if template is None:
                return None
            style = pl.lit(f'" s="{template.style_id}" t="n"><v>')
            if kind is int:
                s = pl.Series(name, values, dtype=pl.Int64)
                if s.abs().max() >= 10**15:  # "%.16g" writes these as an integer's digits
                    return None
                series.append(s)
                cell = pl.concat_str([*ref, style, col.cast(pl.String), pl.lit("</v></c>")])
            else:
                if ws.parent.epoch != WINDOWS_EPOCH:
                    return None
                s = pl.Series(name, values, dtype=pl.Date)
                # to_excel: days since 1899-12-30, one fewer up to 1900-02-28 (Excel's 1900 leap
                # day): only dates from 1900-03-01 on are written here.
                if (s.drop_nulls() - _EPOCH).dt.total_days().min() <= 60:
                    return None
                series.append(s)
                serial = (col - pl.lit(_EPOCH, pl.Date)).dt.total_days()
                cell = pl.concat_str([*ref, style, serial.cast(pl.String), pl.lit("</v></c>")])
        else:
            return None
        parts.append(pl.when(col.is_not_null()).then(cell).otherwise(pl.lit("")))
    parts.append(pl.lit("</row>"))
    frame = pl.DataFrame(series) if series else pl.DataFrame({"_": [0] * len(rows)})
    return frame.select(pl.concat_str(parts).str.join("")).item()
