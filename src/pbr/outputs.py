"""The contract output files of a refresh, written to a staging folder and moved into
OUT/YYYY-MM/ only once the store has committed."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb

from .claim_outputs import write_claim_outputs
from .rulebook import Rulebook
from .sqlfiles import read_sql

if TYPE_CHECKING:
    import pyarrow as pa

COHORT_COLUMNS = ["family_id", "identified_period", "route", "crime_asb", "education", "work",
                  "local_discretion", "still_meets_criteria", "case_ref", "attached_date"]
MEMBER_COLUMNS = ["family_id", "person_id", "source", "source_key"]
QUARANTINE_COLUMNS = ["file", "line", "column", "reason"]
EVIDENCE_COLUMNS = ["family_id", "identified_period", "criterion", "person_id", "source", "extract_file",
                    "extract_sha256", "line", "window_start", "window_end", "record_date", "detail",
                    "rulebook_name", "rulebook_version"]


@dataclass
class StagedOutput:
    staging: Path
    target: Path

    def commit(self) -> Path:
        from .testhooks import pause_at
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            self.target.rename(old)
            pause_at("output-move")
            self.staging.rename(self.target)
            shutil.rmtree(old)
        else:
            self.staging.rename(self.target)
        return self.target


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_csv(path: Path, columns: list[str], rows) -> int:
    """A contract CSV: the header, then each row's values (_fmt: None empty, booleans true/false,
    the rest as str() gives them), as Python's csv module writes them (minimal quoting, CRLF).
    rows: a sequence of rows, or an Arrow table (written by polars, the same bytes)."""
    import pyarrow as pa
    if isinstance(rows, pa.Table):
        import polars as pl
        return _write_frame(path, columns, pl.from_arrow(rows))
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for row in rows:
            w.writerow([_fmt(v) for v in row])
            n += 1
    os.chmod(path, 0o600)
    return n


def _write_frame(path: Path, columns: list[str], frame) -> int:
    """write_csv of a frame: each column as text the way _fmt gives it (vectorised for text,
    integers, booleans and dates; str() of each value otherwise), then polars' writer, which
    quotes as the csv module does, except that it writes an empty text as "": empty texts are
    written as nulls (nothing), as the csv module writes them (in rows of more than one field)."""
    import polars as pl
    if frame.width < 2:  # (the csv module writes a lone empty field as "")
        return write_csv(path, columns, frame.rows())
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.String:
            text = col
        elif dtype.is_integer():
            text = col.cast(pl.String)
        elif dtype == pl.Boolean:
            text = pl.when(col).then(pl.lit("true")).otherwise(pl.lit("false"))
        elif dtype == pl.Date:
            text = col.dt.strftime("%Y-%m-%d")
        else:  # (floats, decimals, timestamps: str() of each value, as _fmt)
            values = frame.get_column(name).to_list()
            text = pl.lit(pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String))
        out.append(pl.when(col.is_null()).then(None).otherwise(text).replace("", None).alias(name))
    text = frame.select(out)
    text.columns = list(columns)
    with open(path, "wb") as fh:
        text.write_csv(fh, line_terminator="\r\n", quote_style="necessary", null_value="")
    os.chmod(path, 0o600)
    return text.height


def open_staging(out: Path, period: str) -> Path:
    """A new, owner-only staging folder `.YYYY-MM.*` in OUT for the period's outputs (what a killed
    refresh left there is removed first)."""
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(out, period)
    staging = Path(tempfile.mkdtemp(prefix=f".{period}.", dir=out))
    os.chmod(staging, 0o700)
    return staging


def write_cohort_outputs(cohort, staging: Path, authority: str = "Local authority",
                         with_identities: bool = False) -> None:
    """cohort.csv, family_members.csv and cohort.xlsx from a cohort_book.CohortData already read
    (no store access: a refresh runs this beside its later steps, see EarlyCohortOutputs)."""
    from .workbooks.cohort_book import render_cohort_book
    write_csv(staging / "cohort.csv", COHORT_COLUMNS, cohort.cohort)
    write_csv(staging / "family_members.csv", MEMBER_COLUMNS, cohort.members)
    render_cohort_book(cohort, staging / "cohort.xlsx", authority, with_identities)


class EarlyCohortOutputs:
    """The cohort's output files, written in a thread of their own from the moment the cohort and
    its attachments are final (a refresh: after sql/refresh/70_attachment.sql) while the refresh
    measures results and builds the claim batch on the store connection.

    Those later steps are DuckDB's work, which leaves the interpreter lock free for the cohort
    workbook's Python (authority scale: ≈1.5 s of the outputs' ≈4 s, issue 9 round 16). The
    thread never touches the store: the rows are read here, on the caller's connection, first.
    `wait` (by write_outputs) raises what the thread raised; `discard` (a failed refresh) waits
    for it and removes the staging folder."""

    def __init__(self, con: duckdb.DuckDBPyConnection, period: str, out: Path, authority: str = "Local authority",
                 with_identities: bool = False) -> None:
        from concurrent.futures import ThreadPoolExecutor
        from .workbooks.cohort_book import cohort_data
        self.period = period
        cohort = cohort_data(con, period)
        self.staging = open_staging(out, period)
        pool = ThreadPoolExecutor(1, thread_name_prefix="pbr-cohort-outputs")
        try:
            self._job = pool.submit(write_cohort_outputs, cohort, self.staging, authority, with_identities)
        finally:
            pool.shutdown(wait=False)  # the one job still runs; the pool takes no more

    def wait(self) -> None:
        self._job.result()

    def discard(self) -> None:
        try:
            self._job.result()
        except BaseException:  # noqa: BLE001 - the refresh is failing already; its error is the one raised
            pass
        shutil.rmtree(self.staging, ignore_errors=True)


def write_outputs(con: duckdb.DuckDBPyConnection, period: str, out: Path, rb: Rulebook, run_id: str,
                  authority: str = "Local authority", with_identities: bool = False,
                  early: EarlyCohortOutputs | None = None,
                  report: Callable[[Path], object] | None = None) -> StagedOutput:
    """Every contract file of the period into a staging folder (StagedOutput.commit moves it into
    OUT/YYYY-MM/). early: the cohort's files already being written into its staging folder.
    report: writes the monthly report into the folder it is given, from figures already read
    (report.prepare_report).

    The claim workbook and the report are built on a thread of their own from rows read first:
    their Python (authority scale: ≈0.9 s of the step's ≈1.5 s) runs while this thread reads the
    store and writes the CSV files, much of which leaves the interpreter lock free. Both threads
    have finished before this returns or raises."""
    from concurrent.futures import ThreadPoolExecutor
    from .workbooks.claims_book import claims_data
    if early is not None and early.period != period:
        raise ValueError(f"cohort outputs staged for {early.period}, not {period}")
    staging = early.staging if early is not None else open_staging(out, period)
    if early is None:
        from .workbooks.cohort_book import cohort_data
        # read once: cohort.csv, family_members.csv and the cohort workbook
        write_cohort_outputs(cohort_data(con, period), staging, authority, with_identities)
    claims = claims_data(con, period, with_identities)
    # (leaving the block waits for the thread, also when this one fails)
    with ThreadPoolExecutor(1, thread_name_prefix="pbr-render") as pool:
        rendering = pool.submit(_render_books, claims, staging, rb, authority, with_identities, report)
        del claims
        # The reason names the check that failed: "not a valid UK postcode [expect_column_values_to_match_regex]".
        write_csv(staging / "quarantine.csv", QUARANTINE_COLUMNS, con.sql("""
            SELECT q.file_name, q.line_no, q.column_name, q.reason || coalesce(' [' || q.expectation || ']', '')
            FROM quarantine q JOIN extract_file e USING (extract_id)
            WHERE e.delivery_period = ? AND e.replaced_by IS NULL
            ORDER BY q.extract_id, q.line_no, q.column_name""", params=[period]).to_arrow_table())
        write_csv(staging / "cohort_evidence.csv", EVIDENCE_COLUMNS, con.sql("""
            SELECT c.family_id, c.identified_period, v.criterion, v.person_id, v.source, e.file_name, e.sha256,
                   v.line_no, v.window_start, v.window_end, v.record_date, v.detail, c.rulebook_name, c.rulebook_version
            FROM cohort c
            JOIN criteria_evidence v ON v.family_id = c.family_id AND v.period = c.identified_period
            LEFT JOIN extract_file e ON e.extract_id = v.extract_id
            WHERE c.identified_period <= ?
            ORDER BY c.family_id, v.criterion, v.person_id, v.record_date, v.line_no""", params=[period]).to_arrow_table())
        write_claim_outputs(con, period, staging, write_csv)
        write_validation_report(con, staging / "validation", period, run_id)
        summary = con.execute("SELECT summary FROM refresh_run WHERE run_id = ?", [run_id]).fetchone()[0]
        doc = {"run_id": run_id, **json.loads(summary)}
        (staging / "summary.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        os.chmod(staging / "summary.json", 0o600)
        rendering.result()
    if early is not None:
        early.wait()
    return StagedOutput(staging, out / period)


def _render_books(claims, staging: Path, rb: Rulebook, authority: str, with_identities: bool,
                  report: Callable[[Path], object] | None) -> None:
    """claims.xlsx (docs/workbooks.md) and the report, from what was read (no store access)."""
    from .workbooks.claims_book import render_claims_book
    render_claims_book(claims, staging / "claims.xlsx", rb, authority, with_identities)
    if report is not None:
        report(staging)


def clean_stale_staging(out: Path, period: str) -> None:
    """Remove what a killed refresh of the period left in OUT: staging folders `.YYYY-MM.*` (never
    moved into place) and the previous outputs set aside as `.YYYY-MM.old`. The caller holds the
    store's write lock, so no other refresh is writing them. Staged folders never count as outputs:
    OUT/YYYY-MM/ is always a whole set, or absent until the period is re-run."""
    from .staging import stale_staging_dirs
    for d in stale_staging_dirs(out, period):
        shutil.rmtree(d, ignore_errors=True)


def write_validation_report(con: duckdb.DuckDBPyConnection, folder: Path, period: str, run_id: str) -> Path:
    """OUT/YYYY-MM/validation/index.html (self-contained) and results.json, from the stored results."""
    from datetime import datetime, timezone

    from .validation.report import write_report
    from .validation.store import stored_results
    generated = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    return write_report(folder, period, run_id, stored_results(con, run_id), generated)


def cohort_rows(con: duckdb.DuckDBPyConnection, period: str) -> pa.Table:
    return con.sql(read_sql("outputs/cohort.sql"), params=[period]).to_arrow_table()


def member_rows(con: duckdb.DuckDBPyConnection, period: str) -> pa.Table:
    """Members of each cohort family at R, or as last seen for a family no longer formed."""
    return con.sql("""
        WITH latest AS (
            SELECT s.family_id, s.person_id FROM family_snapshot s
            JOIN cohort c ON c.family_id = s.family_id AND c.identified_period <= ?
            WHERE s.period <= ?
            QUALIFY dense_rank() OVER (PARTITION BY s.family_id ORDER BY s.period DESC) = 1
        )
        SELECT l.family_id, l.person_id, x.source, x.source_key
        FROM latest l JOIN person_xwalk x ON x.person_id = l.person_id
        ORDER BY l.family_id, l.person_id, x.source, x.source_key""", params=[period, period]).to_arrow_table()
