"""The cohort's output files are written in a thread of their own while the refresh measures results
and builds the claim batch (pbr.outputs.EarlyCohortOutputs, issue 9 round 16): the same files, the
refresh still all or nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openpyxl
import pytest

import pbr.outputs as outputs
import pbr.refresh as refresh_module
from builders import asb, attendance, benefit, intervention, person, write_delivery
from pbr.outputs import write_outputs
from pbr.refresh import refresh
from pbr.rulebook import load_rulebook
from pbr.store import connect


def _delivery(folder: Path, later: bool = False) -> Path:
    """later: the next month's delivery, one ASB event more (other bytes: a refresh that committed
    it would add extract files and rows)."""
    mum = person("Imelda", "Garrow", "1980-01-01")
    kid = person("Jory", "Garrow", "2012-01-01")
    other = person("Ansel", "Treloar", "2011-05-05")
    return write_delivery(
        folder,
        attendance=[attendance(kid, "G1", "2025/26", "autumn", possible=100, unauthorised=20),
                    attendance(other, "T1", "2025/26", "autumn", possible=100, unauthorised=30)],
        asb=[asb(kid, "GR1", "GE1", "2025-12-01", "ASBO"), asb(other, "TR1", "TE1", "2025-11-20", "ASBO")]
        + ([asb(other, "TR1", "TE2", "2026-01-10", "ASBO")] if later else []),
        benefits=[benefit(mum, "AB111111C", "JSA", "2025-01-01")],
        interventions=[intervention(kid, "C1", "GR1", "2025-12-15")])


def _staging_dirs(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.startswith(".")] if out.exists() else []


def _count(db: Path, table: str) -> int:
    con = connect(db, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def _runs(db: Path, period: str) -> int:
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM refresh_run WHERE period = ?", [period]).fetchone()[0]
    finally:
        con.close()


def test_cohort_files_are_written_in_another_thread_while_results_are_measured(tmp_path, monkeypatch):
    results_started = threading.Event()
    seen: dict = {}
    run_sql, write_cohort = refresh_module.run_sql, outputs.write_cohort_outputs

    def recording_run_sql(con, relative):
        if relative == "refresh/80_results.sql":
            results_started.set()
        return run_sql(con, relative)

    def waiting_write(*args, **kwargs):
        # Runs only once the results' SQL has begun: a refresh that wrote these files before
        # measuring results, on its own thread, would wait here in vain.
        seen["overlapped"] = results_started.wait(timeout=20)
        seen["thread"] = threading.current_thread()
        return write_cohort(*args, **kwargs)

    monkeypatch.setattr(refresh_module, "run_sql", recording_run_sql)
    monkeypatch.setattr(outputs, "write_cohort_outputs", waiting_write)
    r = refresh("2026-01", _delivery(tmp_path / "in"), tmp_path / "s.duckdb", tmp_path / "out")
    assert seen["overlapped"] is True
    assert seen["thread"] is not threading.main_thread()
    assert (r.out_dir / "cohort.csv").read_text().count("\n") == r.summary["cohort"] + 1
    assert {"cohort.csv", "family_members.csv", "cohort.xlsx", "claims.xlsx"} <= {p.name for p in r.out_dir.iterdir()}
    assert _staging_dirs(tmp_path / "out") == []


def test_the_cohort_files_equal_those_written_after_the_commit(tmp_path):
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    r = refresh("2026-01", _delivery(tmp_path / "in"), db, out)
    con = connect(db, read_only=True)
    try:
        again = write_outputs(con, "2026-01", tmp_path / "again", load_rulebook(None), r.run_id).commit()
    finally:
        con.close()
    for name in ("cohort.csv", "family_members.csv", "cohort_evidence.csv", "claims.csv"):
        assert (r.out_dir / name).read_bytes() == (again / name).read_bytes(), name
    assert r.summary["cohort"] >= 1

    def sheets(path: Path) -> dict:
        wb = openpyxl.load_workbook(path)
        return {ws.title: [[c for c in row] for row in ws.iter_rows(values_only=True)
                           if not (row and row[0] == "Generated (UTC)")] for ws in wb.worksheets}

    assert sheets(r.out_dir / "cohort.xlsx") == sheets(again / "cohort.xlsx")


def test_a_refresh_failing_after_the_cohort_files_began_leaves_store_and_outputs_as_they_were(tmp_path, monkeypatch):
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    refresh("2026-01", _delivery(tmp_path / "in"), db, out)
    before = (_count(db, "extract_file"), _count(db, "raw_asb"))
    write_cohort = outputs.write_cohort_outputs

    def slow_write(*args, **kwargs):
        time.sleep(0.5)  # still writing when the claims step fails
        return write_cohort(*args, **kwargs)

    def failing_batch(*_args, **_kwargs):
        raise RuntimeError("claims step failed")

    monkeypatch.setattr(outputs, "write_cohort_outputs", slow_write)
    monkeypatch.setattr(refresh_module, "build_batch", failing_batch)
    with pytest.raises(RuntimeError, match="claims step failed"):
        refresh("2026-02", _delivery(tmp_path / "in2", later=True), db, out)
    # The thread was waited for and its staging folder removed: nothing appears later either.
    assert _staging_dirs(out) == []
    time.sleep(0.8)
    assert _staging_dirs(out) == [] and not (out / "2026-02").exists()
    assert sorted(p.name for p in out.iterdir()) == ["2026-01"]
    assert _runs(db, "2026-02") == 0 and _runs(db, "2026-01") == 1
    assert (_count(db, "extract_file"), _count(db, "raw_asb")) == before


def test_a_cohort_workbook_that_cannot_be_written_fails_the_refresh(tmp_path, monkeypatch):
    import pbr.workbooks.cohort_book as cohort_book

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    refresh("2026-01", _delivery(tmp_path / "in"), db, out)
    before = (_count(db, "extract_file"), _count(db, "raw_asb"))
    monkeypatch.setattr(cohort_book, "render_cohort_book", full_disk)
    with pytest.raises(OSError, match="No space left"):
        refresh("2026-02", _delivery(tmp_path / "in2", later=True), db, out)
    assert _staging_dirs(out) == [] and sorted(p.name for p in out.iterdir()) == ["2026-01"]
    assert _runs(db, "2026-02") == 0
    assert (_count(db, "extract_file"), _count(db, "raw_asb")) == before


def test_outputs_staged_for_another_period_are_refused(tmp_path):
    class Staged:
        period, staging = "2026-01", tmp_path

    con = connect(tmp_path / "s.duckdb")
    try:
        with pytest.raises(ValueError, match="2026-01"):
            write_outputs(con, "2026-02", tmp_path / "out", load_rulebook(None), "run", early=Staged())
    finally:
        con.close()


def test_claim_workbook_and_report_are_built_beside_the_csv_files(tmp_path, monkeypatch):
    """write_outputs builds claims.xlsx and report.html on a thread of their own while it writes the
    CSV files from the store (issue 9 round 18)."""
    csv_started = threading.Event()
    seen: dict = {}
    write_csv, render = outputs.write_csv, outputs._render_books

    def recording_csv(path, *args, **kwargs):
        csv_started.set()
        return write_csv(path, *args, **kwargs)

    def waiting_render(*args, **kwargs):
        # A write_outputs that built the books before (or after) its CSV files would wait here in vain.
        seen["overlapped"] = csv_started.wait(timeout=20)
        seen["thread"] = threading.current_thread().name
        return render(*args, **kwargs)

    monkeypatch.setattr(outputs, "write_csv", recording_csv)
    monkeypatch.setattr(outputs, "_render_books", waiting_render)
    r = refresh("2026-01", _delivery(tmp_path / "in"), tmp_path / "s.duckdb", tmp_path / "out")
    assert seen["overlapped"] is True
    assert seen["thread"].startswith("pbr-render")
    names = {p.name for p in r.out_dir.iterdir()}
    assert {"claims.xlsx", "report.html", "claims.csv", "quarantine.csv", "summary.json"} <= names


def test_a_report_that_fails_fails_the_refresh_after_the_thread_stopped(tmp_path, monkeypatch):
    from pbr import report as report_module
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    prepare = report_module.prepare_report
    finished = {}

    def failing_prepare(*args, **kwargs):
        write = prepare(*args, **kwargs)

        def broken(folder):
            time.sleep(0.3)  # still running when the CSV files are done
            finished["at"] = time.monotonic()
            raise RuntimeError("report could not be drawn")
        return broken

    refresh("2026-01", _delivery(tmp_path / "in"), db, out)
    rows = _count(db, "raw_asb")
    monkeypatch.setattr(report_module, "prepare_report", failing_prepare)
    with pytest.raises(RuntimeError, match="report could not be drawn"):
        refresh("2026-02", _delivery(tmp_path / "in2", later=True), db, out)
    assert "at" in finished
    assert _runs(db, "2026-02") == 0 and _count(db, "raw_asb") == rows  # rolled back
    assert not (out / "2026-02").exists() and _staging_dirs(out) == []
