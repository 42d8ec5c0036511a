"""Validation in the store: the row-count check against the previous delivery of each source (a
file failure, checked inside the refresh transaction before anything loads) and the per-refresh
validation results (counts and line numbers, never values)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb

from ..errors import InputErrors, InputFileError
from .suites import ROW_DROP_EXPECTATION


def row_drop_problems(con: duckdb.DuckDBPyConnection, parsed: list, period: str, max_share: float,
                      min_rows: int = 0) -> list[InputFileError]:
    """A file whose row count fell by more than max_share against the previous delivery of its
    source (the latest file of that source in the store up to this period, a file it would replace
    included), when that delivery had at least min_rows rows. The same bytes delivered again are
    not compared (they load nothing)."""
    problems = []
    if max_share >= 1:
        return problems
    for p in parsed:
        f = p.file
        known = con.execute("SELECT count(*) FROM extract_file WHERE source = ? AND sha256 = ? AND replaced_by IS NULL",
                            [f.source, f.sha256]).fetchone()[0]
        if known:
            continue
        prev = con.execute("""
            SELECT file_name, delivery_period, rows_read FROM extract_file
            WHERE source = ? AND replaced_by IS NULL AND delivery_period <= ?
            ORDER BY delivery_period DESC, extract_id DESC LIMIT 1""", [f.source, period]).fetchone()
        if not prev or not prev[2] or prev[2] < min_rows:
            continue
        name, prev_period, prev_rows = prev
        drop = 1 - p.rows_read / prev_rows
        if drop > max_share:
            problems.append(InputFileError(
                f.name, f"{p.rows_read:,} rows where the previous {f.source} delivery ({name}, period {prev_period}) "
                f"had {prev_rows:,}: {drop:.0%} fewer, more than the {max_share:.0%} allowed "
                f"(validation.max_row_drop_share; a truncated or filtered export?) [{ROW_DROP_EXPECTATION}]"))
    return problems


def check_row_counts(con: duckdb.DuckDBPyConnection, parsed: list, period: str, settings) -> None:
    """settings: the configuration's validation settings (max_row_drop_share, row_drop_min_rows)."""
    problems = row_drop_problems(con, parsed, period, settings.max_row_drop_share, settings.row_drop_min_rows)
    if problems:
        raise InputErrors(problems)


def record_results(con: duckdb.DuckDBPyConnection, run_id: str, period: str, loads: list, parsed: list) -> None:
    """Keep each file's validation results for this refresh (loads and parsed are in the same order)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for load, p in zip(loads, parsed):
        v = p.validation
        if v is None:
            continue
        con.execute("INSERT INTO validation_file VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, period, load.extract_id, v.file_name, v.source, v.sha256, v.suite, v.suite_sha256,
                     v.gx_version, v.period_end, v.rows_read, v.rows_quarantined, v.seconds, now])
        con.executemany("INSERT INTO validation_result VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            [run_id, load.extract_id, o.seq, o.expectation, o.column, o.severity, o.level, o.description,
             o.evaluated_by, o.success, o.element_count, o.unexpected_count, o.rows_quarantined, json.dumps(o.lines)]
            for o in v.outcomes])


def stored_results(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """The results of one refresh, per file, as plain data (what the report renders)."""
    files = []
    for row in con.execute("""
            SELECT f.extract_id, f.file_name, f.source, f.sha256, f.suite, f.suite_sha256, f.gx_version,
                   f.period_end, f.rows_read, f.rows_quarantined, f.seconds, e.delivery_period
            FROM validation_file f LEFT JOIN extract_file e USING (extract_id)
            WHERE f.run_id = ? ORDER BY f.file_name""", [run_id]).fetchall():
        (extract_id, file_name, source, sha, suite, suite_sha, gxv, period_end, rows_read, rows_q, secs,
         delivered) = row
        checks = [dict(zip(("seq", "expectation", "column", "severity", "level", "description", "evaluated_by",
                            "success", "element_count", "unexpected_count", "rows_quarantined"), r[:11]),
                       lines=json.loads(r[11]))
                  for r in con.execute("""
                      SELECT seq, expectation, column_name, severity, level, description, evaluated_by, success,
                             element_count, unexpected_count, rows_quarantined, unexpected_lines
                      FROM validation_result WHERE run_id = ? AND extract_id = ? ORDER BY seq""",
                      [run_id, extract_id]).fetchall()]
        files.append({"file_name": file_name, "source": source, "extract_id": extract_id, "sha256": sha,
                      "delivery_period": delivered, "suite": suite, "suite_sha256": suite_sha, "gx_version": gxv,
                      "period_end": str(period_end), "rows_read": rows_read, "rows_quarantined": rows_q,
                      "seconds": round(secs, 3), "checks": checks})
    return files
