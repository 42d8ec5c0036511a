"""Type one delivered file against the contract in polars, then validate it with its source's
Great Expectations suite (pbr.validation).

A file that cannot be read, or lacks contract columns, is a file error (the refresh stops). A row
with a bad value is rejected whole into the quarantine with its line, column, the expectation that
failed and a reason that never quotes the value (it may be personal data)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from ..contract import Column, Source, sources
from ..errors import InputFileError, PbrError
from ..validation.suites import PARSE_EXPECTATIONS, PARSE_REASONS
from .discover import LINE_COL, DeliveryFile, read_text_frame, sheet_hint

if TYPE_CHECKING:
    from ..validation import FileValidation
    from ..validation.core import MemoLookup
    from ..validation.memo import MemoRows, ValidationMemo

TRUE = ["y", "yes", "true", "1"]
FALSE = ["n", "no", "false", "0"]
_ISO = r"^\d{4}-\d{2}-\d{2}$"
_UK = r"^\d{1,2}/\d{1,2}/\d{4}$"


@dataclass
class TypedFile:
    """Every delivered row: its text (contract names) and its typed values (null where a value did
    not parse), with the parse failures found."""

    file: DeliveryFile
    text: pl.DataFrame
    typed: pl.DataFrame
    parse_failures: pl.DataFrame  # __line, column_name, reason, expectation


@dataclass
class ParsedFile:
    file: DeliveryFile
    rows: pl.DataFrame  # typed contract columns + line_no
    rejects: pl.DataFrame  # line_no, column_name, reason, expectation, raw_row (JSON of the delivered text)
    rows_read: int
    validation: FileValidation | None = None  # per-check counts and line numbers, never values
    period: str | None = None  # the delivery period the validation was bound to (None: today)
    typed_file: TypedFile | None = field(default=None, repr=False)
    memo_rows: MemoRows | None = field(default=None, repr=False)  # for the store's validation memo

    @property
    def source(self) -> str:
        return self.file.source

    def rejections(self) -> list[dict]:
        """Rows lost, by column and reason: [{column, reason, expectation, rows}] (the duplicate-key
        reason without its 'first delivered at line N')."""
        if not self.rejects.height:
            return []
        g = (self.rejects.with_columns(pl.col("reason").str.replace(r": first delivered at line \d+$", ""))
             .group_by("column_name", "reason", "expectation")
             .agg(pl.col("line_no").n_unique().alias("rows"), pl.col("line_no").min().alias("first"))
             .sort("first", "column_name"))
        return [{"column": c, "reason": r, "expectation": e, "rows": n} for c, r, e, n, _ in g.iter_rows()]


def normalise_headers(f: DeliveryFile, df: pl.DataFrame, mapping: dict[str, str], src: Source) -> pl.DataFrame:
    renamed: dict[str, str] = {}
    seen: dict[str, str] = {}
    known = set(src.column_names)
    headers = [c for c in df.columns if c != LINE_COL]
    keys = [mapping.get(c.strip().lower(), c.strip().lower()) for c in headers]
    database = f.format == "database"
    if not any(k in known for k in keys):
        if database:
            raise InputFileError(
                f.name, "none of the result's columns is a contract column: map them under columns in the "
                f"sources file or rename them in the query (contract columns: {', '.join(src.column_names)})")
        # Most likely the header row is missing and these "headers" are a row of data (personal
        # data): say so without quoting them.
        raise InputFileError(
            f.name, "none of its column headers is a contract column: is the header row missing, or do the "
            f"headers need column_mappings in the configuration? (contract columns: {', '.join(src.column_names)})")
    for original, key in zip(headers, keys):
        if key in seen:
            raise InputFileError(f.name, f"two columns map to '{key}' (headers '{seen[key]}' and '{original}')")
        seen[key] = original
        renamed[original] = key
    unknown = [k for k in renamed.values() if k not in known]
    missing = [c for c in src.required if c not in seen]
    problems = []
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}" + _other_source_hint(f, keys, src))
    if unknown:
        how = ("map them under columns in the sources file or leave them out (select the columns in a query)"
               if database else "map them in the configuration's column_mappings or remove them")
        problems.append(
            f"unexpected column(s) {', '.join(unknown)}: {how} (contract columns: {', '.join(src.column_names)})")
    if problems:
        raise InputFileError(f.name, "; ".join(problems))
    df = df.rename(renamed)
    absent = [c for c in src.column_names if c not in df.columns]
    return df.with_columns([pl.lit(None, pl.String).alias(c) for c in absent])


def _other_source_hint(f: DeliveryFile, keys: list[str], src: Source) -> str:
    """A file whose columns are another source's: most likely misnamed."""
    for other in sources().values():
        if other.name != src.name and set(other.required) <= set(keys) and set(keys) <= set(other.column_names):
            if f.format == "database":
                return f" (its columns are those of the '{other.name}' source: does the sources file give it to the wrong source?)"
            return f" (its columns are those of the '{other.name}' source: is it misnamed, should it be {other.name}{f.path.suffix}?)"
    return ""


def _clean_text(name: str) -> pl.Expr:
    # (replace: half the time of a when/then on the stripped value's length, the same values)
    return pl.col(name).str.strip_chars().replace("", None).alias(name)


def _parse_date(name: str) -> pl.Expr:
    s = pl.col(name)
    # XLSX cells typed as dates arrive as 'YYYY-MM-DD 00:00:00'.
    s = pl.when(s.str.contains(r"^\d{4}-\d{2}-\d{2}[ T]00:00:00(\.0+)?$")).then(s.str.slice(0, 10)).otherwise(s)
    return (
        pl.when(s.str.contains(_ISO)).then(s.str.to_date("%Y-%m-%d", strict=False))
        .when(s.str.contains(_UK)).then(s.str.to_date("%d/%m/%Y", strict=False))
        .otherwise(None)
    )


def _parse_int(name: str) -> pl.Expr:
    s = pl.col(name)
    return pl.when(s.str.contains(r"^[+-]?\d{1,9}(\.0+)?$")).then(
        s.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)).otherwise(None)


def _parse_bool(name: str) -> pl.Expr:
    s = pl.col(name).str.to_lowercase()
    return pl.when(s.is_in(TRUE)).then(True).when(s.is_in(FALSE)).then(False).otherwise(None)


def _typed(col: Column) -> pl.Expr:
    """The typed value of one contract column over cleaned text: null where a date, integer or
    boolean did not parse (a parse failure: a value present whose typed value is null). The
    contract's other rules (required, value lists, forms, ranges, keys) are the suite's."""
    raw = pl.col(col.name)
    present = raw.is_not_null()
    if col.type in PARSE_EXPECTATIONS:
        val = {"date": _parse_date, "integer": _parse_int, "boolean": _parse_bool}[col.type](col.name)
    else:
        # Codes compare in lower case (`JSA` is jsa); sex and ids like UPNs in upper case.
        if col.case == "upper":
            val = raw.str.to_uppercase()
        elif col.case == "lower" or col.values is not None:
            val = raw.str.to_lowercase()
        else:
            val = raw
    if col.default is not None:
        val = pl.when(present).then(val).otherwise(pl.lit(col.default))
    return val.alias(col.name)


_PRESENT = "__present_"


def _parse_failures(typed: pl.DataFrame, parsed: list[Column]) -> pl.DataFrame:
    """__line, column_name, reason, expectation: a value delivered (its _PRESENT flag) whose typed
    value is null. Column by column, then line by line (the order the suite's checks report in)."""
    schema = {LINE_COL: pl.Int64, "column_name": pl.String, "reason": pl.String, "expectation": pl.String}
    if not parsed:
        return pl.DataFrame(schema=schema)
    failed = [pl.col(_PRESENT + c.name) & pl.col(c.name).is_null() for c in parsed]
    # Only the rows with a failure are unpivoted, usually a few. Unpivoting every row of every
    # parsed column cost 0.2 s of a month's typing at authority scale. Same rows, same order.
    reasons = typed.filter(pl.any_horizontal(failed)).select(pl.col(LINE_COL), *[
        pl.when(f).then(pl.lit(PARSE_REASONS[c.type])).otherwise(pl.lit(None, pl.String)).alias(c.name)
        for c, f in zip(parsed, failed)])
    expectation = {c.name: PARSE_EXPECTATIONS[c.type] for c in parsed}
    return (
        reasons.unpivot(index=LINE_COL, variable_name="column_name", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("column_name").replace_strict(expectation, default=None, return_dtype=pl.String)
                      .alias("expectation"))
        .cast(schema)
    )


def type_file(f: DeliveryFile, mapping: dict[str, str] | None = None) -> TypedFile:
    """Read the file and type every contract column (polars). File errors raise InputFileError."""
    return read_text_frame(f, lambda text: type_text(f, text, mapping))


def type_text(f, text: pl.DataFrame, mapping: dict[str, str] | None = None) -> TypedFile:
    """Type an all-text frame (original headers, __line) read from a file or a database result
    (`f`: a DeliveryFile or a DatabaseExtract): the one path every delivery takes."""
    src = sources()[f.source]
    text = normalise_headers(f, text, mapping or {}, src)
    text = text.with_columns([_clean_text(c) for c in src.column_names])
    # Blank lines and empty sheet rows hold nothing (every value null once cleaned): dropped here,
    # numbered already, so every other row keeps the line it came from. (A delivered file's are
    # dropped here only, in the pass that cleans every value anyway; a database result's went
    # already, in finish_text_frame, which counts its rows.)
    text = text.filter(~pl.all_horizontal([pl.col(c).is_null() for c in src.column_names]))
    if text.height == 0:
        empty = "returned no rows" if f.format == "database" else "has a header but no rows"
        raise InputFileError(f.name, empty + sheet_hint(f))
    # Each value parsed once: a parse failure is a value present whose typed value is null.
    parsed = [c for c in src.columns if c.type in PARSE_EXPECTATIONS]
    typed = text.select([pl.col(LINE_COL)] + [_typed(c) for c in src.columns]
                        + [pl.col(c.name).is_not_null().alias(_PRESENT + c.name) for c in parsed])
    failures = _parse_failures(typed, parsed)
    typed = _with_person_key(typed.drop([_PRESENT + c.name for c in parsed]), src)
    return TypedFile(f, text, typed, failures)


def parse_file(f: DeliveryFile, mapping: dict[str, str] | None = None, period: str | None = None,
               memo: ValidationMemo | None = None) -> ParsedFile:
    """Type the file, validate it against its suite for the delivery period (None: dates are
    checked against today), and split its rows into those that load and the quarantine. memo: the
    store's validation memo (rows it knows skip the expectations they passed before)."""
    return validate_typed(type_file(f, mapping), period, memo)


def validate_typed(t: TypedFile, period: str | None, memo: ValidationMemo | None = None,
                   looked_up: MemoLookup | None = None) -> ParsedFile:
    """looked_up: validation.core.memo_lookup's answer for this file and memo, if asked already."""
    from ..validation.core import validate_file_memo

    f = t.file
    failures, result, memo_rows = validate_file_memo(f.source, f.name, f.sha256, t.typed, t.parse_failures,
                                                     period, memo, looked_up)
    bad = failures.get_column(LINE_COL).unique().implode()
    good = t.typed.filter(~pl.col(LINE_COL).is_in(bad))
    rejects = failures.drop("seq")
    if rejects.height:
        raw_rows = t.text.filter(pl.col(LINE_COL).is_in(bad))
        raw_json = raw_rows.select(
            pl.col(LINE_COL),
            pl.struct([c for c in t.text.columns if c != LINE_COL]).struct.json_encode().alias("raw_row"))
        rejects = rejects.join(raw_json, on=LINE_COL, how="left")
    else:
        rejects = rejects.with_columns(pl.lit(None, pl.String).alias("raw_row"))
    return ParsedFile(
        file=f,
        rows=good.rename({LINE_COL: "line_no"}),
        rejects=rejects.rename({LINE_COL: "line_no"}),
        rows_read=t.text.height,
        validation=result,
        period=period,
        memo_rows=memo_rows,
        # Kept only for a file validated without a period (the Prefect flow's read tasks), which
        # for_period validates again: with a period, the text and typed frames go now (one file's
        # worth at a time, not the whole delivery's).
        typed_file=t if period is None else None,
    )


def for_period(p: ParsedFile, period: str) -> ParsedFile:
    """The parsed file validated for this delivery period (files parsed without one, e.g. by the
    Prefect flow's read tasks, are validated again here: the period bounds dob and event dates)."""
    if p.period == period or (p.typed_file is None and p.period is None):
        return p
    if p.typed_file is None:
        raise PbrError(f"{p.file.name} was validated for period {p.period}, not {period}: read the delivery "
                       "again for this period")
    return validate_typed(p.typed_file, period)


def _with_person_key(df: pl.DataFrame, src: Source) -> pl.DataFrame:
    """benefits/employment rows are keyed by nino, or by forename|surname|dob without one."""
    if "person_key" not in src.natural_key:
        return df
    nino = pl.col("nino").str.to_uppercase().str.replace_all(r"\s", "")
    fallback = pl.concat_str([pl.col("forename"), pl.col("surname"), pl.col("dob").dt.strftime("%Y-%m-%d")], separator="|")
    return df.with_columns(
        nino.alias("nino"),
        pl.when(nino.is_not_null()).then(nino).otherwise(fallback).alias("person_key"),
    )


def rejects_as_json(raw: dict) -> str:  # pragma: no cover - helper for callers outside polars
    return json.dumps(raw, default=str)
