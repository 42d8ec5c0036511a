"""Find the contract files of a delivery folder and read each into an all-text frame."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from ..contract import sources
from ..errors import InputErrors, InputFileError
from .csv_shape import rows_regular

T = TypeVar("T")

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
LINE_COL = "__line"
# No contract value comes near this: a longer cell is a swallowed file (an unclosed quote), binary
# data or the wrong file, and stops the run rather than quarantining a row.
MAX_CELL_CHARS = 10_000


@dataclass
class DeliveryFile:
    source: str
    path: Path
    format: str
    data: bytes
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    def __post_init__(self) -> None:
        self._size = len(self.data)

    @property
    def size(self) -> int:
        return self._size

    def release_data(self) -> None:
        """Drop the file's bytes once its rows are read (its size and hash stay): a delivery's
        files are then held one at a time, not all at once, for the rest of the refresh."""
        self.data = b""


def discover(folder: Path) -> list[DeliveryFile]:
    """Every contract file present in the folder. Files that look like data but are not a contract
    source stop the run: a misspelt `attendence.csv` silently ignored would lose a month's data."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputErrors([InputFileError(str(folder), "extracts folder not found")])
    known = sources()
    errors: list[InputFileError] = []
    found: dict[str, DeliveryFile] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        ext = path.suffix.lower()
        stem = path.stem.strip().lower()
        if ext not in FORMATS:
            if stem in known:
                errors.append(InputFileError(path.name, f"unsupported format '{ext or 'none'}': use .csv, .xlsx or .parquet"))
            continue
        if stem not in known:
            errors.append(InputFileError(
                path.name, f"not a contract source: the base name must be one of {', '.join(known)}"))
            continue
        if path.is_symlink():
            errors.append(InputFileError(path.name, "is a symbolic link: deliver the file itself"))
            continue
        if stem in found:
            errors.append(InputFileError(
                path.name, f"a second file for source '{stem}' (also {found[stem].name}): deliver one"))
            continue
        data = path.read_bytes()
        found[stem] = DeliveryFile(stem, path, FORMATS[ext], data, hashlib.sha256(data).hexdigest())
    if errors:
        raise InputErrors(errors)
    return list(found.values())


def read_text_frame(f: DeliveryFile, then: Callable[[pl.DataFrame], T] | None = None) -> T:
    """The file's rows as text columns with the original headers, plus the line number each row
    came from (CSV/XLSX: the header is line 1; Parquet: row number from 1); or, given `then`
    (typing), what it makes of them. Blank rows are left in: parse.type_text, which every file
    goes through, drops them as it cleans each value.

    A CSV's rows are counted field by field (polars pads a short row with nulls, and a short row is
    as malformed as a long one) in a second thread while `then` runs: by numpy where it can prove
    every row regular (csv_shape), else by the csv module, pure Python (≈0.8 s for an authority's
    attendance file). A file with a row of the wrong shape raises that, whatever `then` did."""
    if not f.data:
        raise InputFileError(f.name, "is empty")
    then = then or (lambda df: df)
    if f.format == "csv":
        data = _csv_bytes(f)
        df = _read_csv(f, data)
        with ThreadPoolExecutor(1, thread_name_prefix="pbr-csv-shape") as pool:
            shape = pool.submit(_csv_shape, data)
            del data
            try:
                text = finish_text_frame(f, df, 2, drop_blank=False)
                del df  # (the unnumbered frame: not held while typing)
                result = then(text)
            except BaseException:
                if shape.result():
                    raise InputFileError(f.name, shape.result()) from None
                raise
            if shape.result():
                raise InputFileError(f.name, shape.result())
            return result
    if f.format == "xlsx":
        df = _read_xlsx(f)
        first_line = 2
    else:
        df = _read_parquet(f)
        first_line = 1
    return then(finish_text_frame(f, df, first_line, drop_blank=False))


def finish_text_frame(f, df: pl.DataFrame, first_line: int, drop_blank: bool = True) -> pl.DataFrame:
    """Number the rows from first_line, refuse an oversized cell, drop blank rows (a file's or a
    database result's: `f` is a DeliveryFile or a DatabaseExtract). drop_blank=False: left to the
    caller (parse.type_text drops them as it cleans each value: one pass over the cells, not two)."""
    df = df.with_row_index(LINE_COL, offset=first_line).with_columns(pl.col(LINE_COL).cast(pl.Int64))
    _check_cell_sizes(f, df)
    if not drop_blank:
        return df
    # Blank lines and empty sheet rows hold nothing: drop them once numbered, so every other row
    # keeps the line it came from.
    cells = [pl.nth(i).cast(pl.String).str.strip_chars() for i, c in enumerate(df.columns) if c != LINE_COL]
    if cells:
        df = df.filter(~pl.all_horizontal([c.is_null() | (c == "") for c in cells]))
    return df


def _check_cell_sizes(f: DeliveryFile, df: pl.DataFrame) -> None:
    # Delivered headers are referred to by position: pl.col would read a header such as "*" or
    # "^a.*$" as a wildcard or a regular expression.
    named = {f"c{i}": c for i, c in enumerate(df.columns) if c != LINE_COL}
    if not named:
        return
    positions = [i for i, c in enumerate(df.columns) if c != LINE_COL]
    # A cell has no more characters than bytes, and a text's byte length needs no scan of it.
    longest_bytes = df.select(pl.max_horizontal(
        [pl.nth(i).cast(pl.String).str.len_bytes() for i in positions])).to_series().max()
    if longest_bytes is None or longest_bytes <= MAX_CELL_CHARS:
        return
    lengths = df.select(pl.col(LINE_COL), *[pl.nth(i).cast(pl.String).str.len_chars().alias(f"c{i}") for i in positions])
    cols = list(named)
    longest = lengths.select(pl.max_horizontal(cols)).to_series().max()
    if longest is None or longest <= MAX_CELL_CHARS:
        return
    for row in lengths.filter(pl.max_horizontal(cols) > MAX_CELL_CHARS).head(1).iter_rows(named=True):
        key = next(c for c in cols if (row[c] or 0) > MAX_CELL_CHARS)
        raise InputFileError(
            f.name, f"a cell of {row[key]:,} characters, more than the {MAX_CELL_CHARS:,} any contract value needs "
            "(an unclosed quote swallowing later lines, or not an extract?)", line=row[LINE_COL], column=named[key].strip())


def sheet_hint(f: DeliveryFile) -> str:
    """For a workbook whose first sheet holds no rows: which other sheet does (pbr reads the first
    sheet only). Sheet names only, never cell values."""
    if f.format != "xlsx":
        return ""
    try:
        sheets = pl.read_excel(io.BytesIO(f.data), sheet_id=0, has_header=False, infer_schema_length=0,
                               raise_if_empty=False)
    except Exception:
        return ""
    names = list(sheets)
    with_rows = [n for n in names[1:] if sheets[n].height > 0]
    if not with_rows:
        return ""
    return (f" (sheet '{with_rows[0]}' has rows: pbr reads only the first sheet, '{names[0]}'; "
            "move the data to the first sheet)")


def _csv_bytes(f: DeliveryFile) -> bytes:
    return f.data[3:] if f.data.startswith(b"\xef\xbb\xbf") else f.data


def _read_csv(f: DeliveryFile, data: bytes) -> pl.DataFrame:
    """The rows as polars reads them; the row shapes are checked by read_text_frame."""
    if b"\x00" in data:
        raise InputFileError(f.name, "contains binary data (NUL bytes): not a CSV text file (a spreadsheet or "
                             "archive saved with a .csv name?)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputFileError(f.name, "is not UTF-8 text (save it as CSV UTF-8)", line=line) from None
    empty = not text or text.isspace()  # (not text.strip(): no copy of a file-sized string)
    del text  # a region's attendance file is ~700 MB: not held while polars reads it
    if empty:
        raise InputFileError(f.name, "is empty")
    try:
        df = pl.read_csv(io.BytesIO(data), infer_schema=False, quote_char='"', raise_if_empty=True)
    except Exception:
        # polars' message may quote the offending row (personal data): find the line ourselves.
        raise InputFileError(f.name, _csv_problem(data) or "cannot be read as CSV") from None
    return df


def _csv_shape(data: bytes) -> str | None:
    """_csv_problem(data, strict=False), answered by numpy where csv_shape.rows_regular can prove
    every row regular (most files: ≈0.3 s where the csv module takes ≈1.35 s of an authority's
    delivery, holding the interpreter lock while polars types the files beside it)."""
    return None if rows_regular(data) else _csv_problem(data, False)


def _csv_problem(data: bytes, strict: bool = True) -> str | None:
    """The first row whose field count differs from the header's (blank lines aside), or None.
    The UTF-8 bytes are decoded as they are read: io.StringIO over the decoded text would hold it
    four bytes a character (2.8 GB for a region's 700 MB attendance file)."""
    # The csv module's default field limit (128 KiB) would call a long cell malformed CSV: the
    # cell-size check names it properly once read.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""), strict=strict)
    try:
        header = next(reader)
        for row in reader:
            if row and len(row) != len(header):
                return (f"line {reader.line_num}: {len(row)} fields where the header has {len(header)} "
                        "(a separator or quote inside a field?)")
    except csv.Error:
        return f"line {reader.line_num}: malformed CSV (unbalanced quotes?)"
    return None


def _read_xlsx(f: DeliveryFile) -> pl.DataFrame:
    try:
        # Empty rows are kept (and dropped after numbering) so line numbers are the sheet's rows.
        return pl.read_excel(io.BytesIO(f.data), sheet_id=1, infer_schema_length=0, raise_if_empty=True,
                             drop_empty_rows=False)
    except Exception:
        hint = sheet_hint(f)
        if hint:
            raise InputFileError(f.name, "its first sheet is empty" + hint) from None
        raise InputFileError(f.name, "cannot be read as an Excel workbook (.xlsx), or its first sheet has no data") from None


def _read_parquet(f: DeliveryFile) -> pl.DataFrame:
    # pyarrow reads it, not polars: on a corrupted file polars' reader can panic, and a panic in
    # one of its threads can abort the whole process (found by tests/test_hostile_inputs.py);
    # pyarrow raised an ordinary error for every one-byte corruption and truncation of a test
    # file. validate(full=True) refuses invalid UTF-8 in the data; polars' conversion can still
    # panic (in this thread, so catchable) on, e.g., a corrupted column name.
    import pyarrow as pa
    import pyarrow.parquet as pq
    from polars.exceptions import PanicException
    try:
        table = pq.read_table(pa.BufferReader(f.data))
        table.validate(full=True)
        df = pl.from_arrow(table)
    except (Exception, PanicException):
        raise InputFileError(f.name, "cannot be read as a Parquet file") from None
    out = []
    for i, dtype in enumerate(df.schema.values()):
        col = pl.nth(i)  # by position: a header may read as a wildcard or regex to pl.col
        if dtype == pl.Date:
            out.append(col.dt.strftime("%Y-%m-%d"))
        elif dtype in (pl.Datetime,) or isinstance(dtype, pl.Datetime):
            out.append(col.dt.strftime("%Y-%m-%d %H:%M:%S"))
        else:
            out.append(col.cast(pl.String))
    return df.select(out)
