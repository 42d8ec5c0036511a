"""Load parsed files into the store: the extract registry, raw rows with lineage, quarantine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import duckdb

from .parse import ParsedFile


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
              extract_id: int | None = None) -> LoadResult:
    """One parsed file into the store (extract_id: planned_extract_ids'; None: the next free id)."""
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
    con.register("_load_rows", rows)
    con.execute(f"""
        INSERT INTO raw_{f.source} BY NAME
        SELECT {extract_id} AS extract_id, '{period}' AS delivery_period, * FROM _load_rows""")
    con.unregister("_load_rows")
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
