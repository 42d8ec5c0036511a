"""Type and validate one delivered file against the contract, row by row, in polars.

A file that cannot be read, or lacks contract columns, is a file error (the refresh stops). A row
with a bad value is rejected whole into the quarantine with its line, column and a reason that
never quotes the value (it may be personal data)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from ..contract import Column, Source, sources
from ..errors import InputFileError
from .discover import LINE_COL, DeliveryFile, read_text_frame

TRUE = ["y", "yes", "true", "1"]
FALSE = ["n", "no", "false", "0"]
_ISO = r"^\d{4}-\d{2}-\d{2}$"
_UK = r"^\d{1,2}/\d{1,2}/\d{4}$"


@dataclass
class ParsedFile:
    file: DeliveryFile
    rows: pl.DataFrame  # typed contract columns + line_no
    rejects: pl.DataFrame  # line_no, column_name, reason, raw_row (JSON of the delivered text)
    rows_read: int

    @property
    def source(self) -> str:
        return self.file.source


def normalise_headers(f: DeliveryFile, df: pl.DataFrame, mapping: dict[str, str], src: Source) -> pl.DataFrame:
    renamed: dict[str, str] = {}
    seen: dict[str, str] = {}
    known = set(src.column_names)
    headers = [c for c in df.columns if c != LINE_COL]
    keys = [mapping.get(c.strip().lower(), c.strip().lower()) for c in headers]
    if not any(k in known for k in keys):
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
        problems.append(f"missing required column(s) {', '.join(missing)}")
    if unknown:
        problems.append(
            f"unexpected column(s) {', '.join(unknown)}: map them in the configuration's column_mappings "
            f"or remove them (contract columns: {', '.join(src.column_names)})")
    if problems:
        raise InputFileError(f.name, "; ".join(problems))
    df = df.rename(renamed)
    absent = [c for c in src.column_names if c not in df.columns]
    return df.with_columns([pl.lit(None, pl.String).alias(c) for c in absent])


def _clean_text(name: str) -> pl.Expr:
    s = pl.col(name).str.strip_chars()
    return pl.when(s.str.len_chars() == 0).then(None).otherwise(s).alias(name)


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


def _typed(col: Column) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason it failed or null) for one contract column over cleaned text."""
    raw = pl.col(col.name)
    present = raw.is_not_null()
    if col.type == "date":
        val = _parse_date(col.name)
        bad = present & val.is_null()
        reason = pl.when(bad).then(pl.lit("not a valid date (expected YYYY-MM-DD or DD/MM/YYYY)"))
    elif col.type == "integer":
        val = _parse_int(col.name)
        bad = present & val.is_null()
        reason = pl.when(bad).then(pl.lit("not a whole number"))
        if col.min is not None:
            reason = reason.when(val < col.min).then(pl.lit(f"must be at least {col.min}"))
    elif col.type == "boolean":
        val = _parse_bool(col.name)
        bad = present & val.is_null()
        reason = pl.when(bad).then(pl.lit("not a yes/no value (expected Y/N, true/false or 1/0)"))
    else:
        val = raw.str.to_uppercase() if col.case == "upper" else raw
        if col.values is not None:
            val = raw.str.to_uppercase() if col.case == "upper" else raw.str.to_lowercase()
            allowed = list(col.values)
            reason = pl.when(present & ~val.is_in(allowed)).then(pl.lit(f"not one of: {', '.join(allowed)}"))
        elif col.pattern is not None:
            reason = pl.when(present & ~raw.str.contains(col.pattern)).then(pl.lit("not in the expected form"))
        else:
            reason = pl.when(pl.lit(False)).then(pl.lit(""))
    if col.required:
        reason = pl.when(~present).then(pl.lit("required value is missing")).otherwise(reason)
    if col.default is not None:
        val = pl.when(present).then(val).otherwise(pl.lit(col.default))
    return val.alias(col.name), reason.alias(col.name)


def parse_file(f: DeliveryFile, mapping: dict[str, str] | None = None) -> ParsedFile:
    src = sources()[f.source]
    text = read_text_frame(f)
    text = normalise_headers(f, text, mapping or {}, src)
    if text.height == 0:
        raise InputFileError(f.name, "has a header but no rows")
    text = text.with_columns([_clean_text(c) for c in src.column_names])
    pairs = [_typed(c) for c in src.columns]
    typed = text.select([pl.col(LINE_COL)] + [v for v, _ in pairs])
    reasons = text.select([pl.col(LINE_COL)] + [r for _, r in pairs])

    # Cross-column rules on the typed values.
    cross = []
    for c in src.columns:
        if c.max_column:
            cross.append(pl.when(pl.col(c.name) > pl.col(c.max_column))
                         .then(pl.lit(f"greater than {c.max_column}")).alias(c.name))
        if c.min_column:
            cross.append(pl.when(pl.col(c.name) < pl.col(c.min_column))
                         .then(pl.lit(f"before {c.min_column}")).alias(c.name))
    if cross:
        extra = typed.select([pl.col(LINE_COL)] + cross)
        reasons = reasons.with_columns(
            [pl.coalesce(pl.col(name), extra[name]).alias(name) for name in extra.columns if name != LINE_COL])

    long = (
        reasons.unpivot(index=LINE_COL, variable_name="column_name", value_name="reason")
        .filter(pl.col("reason").is_not_null())
    )
    typed = _with_person_key(typed, src)
    bad_lines = long.get_column(LINE_COL).unique()
    good = typed.filter(~pl.col(LINE_COL).is_in(bad_lines.implode()))

    # A natural key twice in one file: the first row stands, later ones are rejected.
    key = list(src.natural_key)
    dup = good.with_columns(pl.col(LINE_COL).min().over(key).alias("__first")).filter(pl.col(LINE_COL) != pl.col("__first"))
    if dup.height:
        long = pl.concat([long, dup.select(
            pl.col(LINE_COL),
            pl.lit(",".join(c for c in key if c != "person_key") or "key").alias("column_name"),
            pl.format("duplicate natural key: first delivered at line {}", pl.col("__first")).alias("reason"),
        )])
        good = good.filter(~pl.col(LINE_COL).is_in(dup.get_column(LINE_COL).implode()))

    rejects = long.sort(LINE_COL, "column_name")
    if rejects.height:
        raw_rows = text.filter(pl.col(LINE_COL).is_in(rejects.get_column(LINE_COL).unique().implode()))
        raw_json = raw_rows.select(
            pl.col(LINE_COL), pl.struct([c for c in text.columns if c != LINE_COL]).struct.json_encode().alias("raw_row"))
        rejects = rejects.join(raw_json, on=LINE_COL, how="left")
    else:
        rejects = rejects.with_columns(pl.lit(None, pl.String).alias("raw_row"))
    return ParsedFile(
        file=f,
        rows=good.rename({LINE_COL: "line_no"}),
        rejects=rejects.rename({LINE_COL: "line_no"}),
        rows_read=text.height,
    )


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
