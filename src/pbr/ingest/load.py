"""Load parsed files into the store: the extract registry, raw rows with lineage, quarantine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import duckdb
import polars as pl

from ..errors import PbrError
from .discover import LINE_COL
from .parse import ParsedFile, TypedFile


@dataclass
class LoadResult:
    source: str
    file_name: str
    extract_id: int
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    already_loaded: bool
    # Why rows were lost: [{column, reason, expectation, rows}]; and checks that failed without
    # losing rows (severity warning): [{column, reason, expectation, rows}]. Counts only.
    quarantined_by: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class EarlyRows:
    """A file's typed rows put into its raw table while the file was still being validated
    (load_early): their line numbers, under the extract id the file loads as."""
    extract_id: int
    lines: pl.Series


# The raw tables' column types a typed frame's values (polars String, Date, Boolean, Int64) reach
# by a cast that cannot fail, given the row is not null where the column is NOT NULL and an INTEGER
# fits 32 bits: the rows load_early inserts.
_EARLY_CASTS = {"VARCHAR": (pl.String,), "DATE": (pl.Date,), "BOOLEAN": (pl.Boolean,),
                "BIGINT": (pl.Int64, pl.Int32), "INTEGER": (pl.Int64, pl.Int32)}
_INT32 = (-(2 ** 31), 2 ** 31 - 1)


def _insertable(con: duckdb.DuckDBPyConnection, source: str, typed: pl.DataFrame) -> pl.Expr | None:
    """The rows of a typed frame its raw table takes without an error (None: not sure of any, e.g.
    a column of another type; the file then loads after its validation only). An error inside the
    refresh's transaction would end it, so a row that might fail (a NULL its table refuses) waits
    for its verdict: the suites quarantine such rows, and one they let through fails the load as it
    always did."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [f"raw_{source}"]).fetchall()
    table = {name: (kind, nullable) for name, kind, nullable in columns}
    conditions = []
    for column, dtype in typed.schema.items():
        name = "line_no" if column == LINE_COL else column
        if name not in table or name in ("extract_id", "delivery_period"):
            return None  # a column the table has not (or one the load sets): as the plain load
        kind, nullable = table[name]
        if not any(dtype == allowed for allowed in _EARLY_CASTS.get(kind, ())):
            return None
        if not nullable:
            conditions.append(pl.col(column).is_not_null())
        if kind == "INTEGER":
            conditions.append(pl.col(column).is_null() | pl.col(column).is_between(*_INT32))
    missing = [c for c, (_, nullable) in table.items()
               if not nullable and c not in ("extract_id", "delivery_period", "line_no") and c not in typed.schema]
    if missing:
        return None
    return pl.all_horizontal(conditions) if conditions else pl.lit(True)


def load_early(con: duckdb.DuckDBPyConnection, t: TypedFile, period: str, extract_id: int | None,
               sure: pl.Series | None) -> EarlyRows | None:
    """A typed file's rows sure to pass its checks (validation.core.sure_to_pass: known to the
    validation memo, about 95 % of a month) into its raw table before its verdicts are known
    (issue 9): the insert, most of loading a large file, then overlaps the file's validation.
    load_file(early=...) inserts the rest once the file is validated. Nothing for a file already
    stored or not planned (extract_id None), or with no row sure. Inside the refresh's transaction
    like every load: a refresh that fails keeps none of them."""
    f = t.file
    if extract_id is None or sure is None or _known(con, f) is not None:
        return None
    insertable = _insertable(con, f.source, t.typed)
    if insertable is None:
        return None
    rows = t.typed.with_columns(sure.alias("__sure")).filter(insertable & pl.col("__sure")).drop("__sure")
    if rows.height == 0:
        return None
    rows = rows.rename({LINE_COL: "line_no"})
    _insert_rows(con, f.source, rows, extract_id, period)
    return EarlyRows(extract_id, rows.get_column("line_no"))


def _insert_rows(con: duckdb.DuckDBPyConnection, source: str, rows: pl.DataFrame, extract_id: int, period: str) -> None:
    con.register("_load_rows", rows)
    try:
        con.execute(f"""
            INSERT INTO raw_{source} BY NAME
            SELECT {extract_id} AS extract_id, '{period}' AS delivery_period, * FROM _load_rows""")
    finally:
        con.unregister("_load_rows")


def _settle_early(con: duckdb.DuckDBPyConnection, source: str, early: EarlyRows, rows: pl.DataFrame, period: str) -> None:
    """The raw table holds exactly `rows` of the file once the early rows are settled."""
    rejected = early.lines.filter(~early.lines.is_in(rows.get_column("line_no").implode()))
    if rejected.len():
        # Not expected (the early rows were sure to pass), but kept right if it happens: the rows
        # go again, at the price of a slower commit (see sure_to_pass).
        con.register("_early_rejected", rejected.to_frame("line_no"))
        try:
            con.execute(f"DELETE FROM raw_{source} WHERE extract_id = {early.extract_id} "
                        "AND line_no IN (SELECT line_no FROM _early_rejected)")
        finally:
            con.unregister("_early_rejected")
    held_back = rows.filter(~pl.col("line_no").is_in(early.lines.implode()))
    if held_back.height:
        _insert_rows(con, source, held_back, early.extract_id, period)


def load_parsed(con: duckdb.DuckDBPyConnection, parsed: list[ParsedFile], period: str, origin: str | None) -> list[LoadResult]:
    return [load_file(con, p, period, origin) for p in parsed]


def _known(con: duckdb.DuckDBPyConnection, f) -> tuple | None:
    """The stored file with the same source and bytes (extract_id, rows_read, rows_loaded, rows_quarantined)."""
    return con.execute(
        "SELECT extract_id, rows_read, rows_loaded, rows_quarantined FROM extract_file "
        "WHERE source = ? AND sha256 = ? AND replaced_by IS NULL ORDER BY extract_id DESC LIMIT 1",
        [f.source, f.sha256]).fetchone()


def planned_extract_ids(con: duckdb.DuckDBPyConnection, files: list) -> list[int | None]:
    """The extract id each of a delivery's files (in its order) will load under, None for one
    already stored: what load_parsed would give them loading them in that order. A refresh that
    loads each file as soon as it is validated (largest first) loads them under these, so the ids
    do not depend on which file was validated first."""
    next_id = con.execute("SELECT coalesce(max(extract_id), 0) + 1 FROM extract_file").fetchone()[0]
    ids: list[int | None] = []
    for f in files:
        if _known(con, f):
            ids.append(None)
        else:
            ids.append(next_id)
            next_id += 1
    return ids


def load_file(con: duckdb.DuckDBPyConnection, p: ParsedFile, period: str, origin: str | None,
              extract_id: int | None = None, early: EarlyRows | None = None) -> LoadResult:
    """One parsed file into the store (extract_id: planned_extract_ids'; None: the next free id).
    early: the rows load_early put in already, under this extract id."""
    f = p.file
    known = _known(con, f)
    if known:
        # The same bytes delivered again: recognised by hash, nothing loads twice.
        return LoadResult(f.source, f.name, known[0], f.sha256, known[1], known[2], known[3], True,
                          _stored_rejections(con, known[0]), _warnings(p))
    if extract_id is None:
        extract_id = con.execute("SELECT coalesce(max(extract_id), 0) + 1 FROM extract_file").fetchone()[0]
    # A different file for a source already delivered this period is a correction: it replaces
    # the earlier file of the period whole.
    con.execute("UPDATE extract_file SET replaced_by = ? WHERE source = ? AND delivery_period = ? AND replaced_by IS NULL",
                [extract_id, f.source, period])
    rows = p.rows
    rejected_lines = p.rejects.get_column("line_no").n_unique() if p.rejects.height else 0
    # A database extract carries its own origin (the URL without its password), the SHA-256
    # of its SQL and when it was read; a file's origin is the delivery folder.
    con.execute(
        "INSERT INTO extract_file (extract_id, source, file_name, file_format, sha256, size_bytes, rows_read, "
        "rows_loaded, rows_quarantined, delivery_period, loaded_at, origin, query_sha256, extracted_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [extract_id, f.source, f.name, f.format, f.sha256, f.size, p.rows_read, rows.height, rejected_lines,
         period, datetime.now(timezone.utc).replace(tzinfo=None), getattr(f, "origin", None) or origin,
         getattr(f, "query_sha256", None), getattr(f, "extracted_at", None)])
    if early is None:
        _insert_rows(con, f.source, rows, extract_id, period)
    else:
        if early.extract_id != extract_id:
            raise PbrError(f"{f.name}: its early rows were loaded as extract {early.extract_id}, not {extract_id}")
        _settle_early(con, f.source, early, rows, period)
    if p.rejects.height:
        con.register("_load_rejects", p.rejects)
        con.execute(f"""
            INSERT INTO quarantine (extract_id, file_name, line_no, column_name, reason, raw_row, expectation)
            SELECT {extract_id}, ?, line_no, column_name, reason, raw_row, expectation FROM _load_rejects""", [f.name])
        con.unregister("_load_rejects")
    return LoadResult(f.source, f.name, extract_id, f.sha256, p.rows_read, rows.height, rejected_lines, False,
                      p.rejections(), _warnings(p))


def _warnings(p: ParsedFile) -> list[dict]:
    v = p.validation
    if v is None:
        return []
    return [{"column": o.column, "reason": o.description, "expectation": o.expectation, "rows": o.unexpected_count}
            for o in v.warnings]


def _stored_rejections(con: duckdb.DuckDBPyConnection, extract_id: int) -> list[dict]:
    rows = con.execute("""
        SELECT column_name, regexp_replace(reason, ': first delivered at line [0-9]+$', '') AS r, expectation,
               count(DISTINCT line_no), min(line_no)
        FROM quarantine WHERE extract_id = ? GROUP BY 1, 2, 3 ORDER BY 5, 1""", [extract_id]).fetchall()
    return [{"column": c, "reason": r, "expectation": e, "rows": n} for c, r, e, n, _ in rows]
