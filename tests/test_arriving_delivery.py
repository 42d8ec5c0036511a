"""On an existing store a refresh loads each file as soon as it is validated, while the files after
it are still being validated (pbr.refresh.ArrivingDelivery, issue 9 round 17): the same store and
files as reading the whole delivery first, the refresh still all or nothing."""

from __future__ import annotations

import csv
import shutil
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import pbr.ingest.parse as parse_module
import pbr.refresh as refresh_module
from builders import asb, attendance, benefit, intervention, person, write_delivery
from pbr.config import load_config
from pbr.errors import InputErrors
from pbr.contract import sources
from pbr.refresh import apply_delivery, read_delivery, refresh
from pbr.rulebook import load_rulebook
from pbr.store import connect
from pbr.validation import memo as validation_memo

MUM = person("Imelda", "Garrow", "1980-01-01")
KID = person("Jory", "Garrow", "2012-01-01")
OTHER = person("Ansel", "Treloar", "2011-05-05")


def _delivery(folder: Path, month: int = 1, bad: tuple[str, ...] = ()) -> Path:
    """A month's delivery; attendance is by far the largest file, so it is read and validated
    first. Month 2 has one pupil, one ASB event, one benefit and one case more (every file other
    bytes). bad: sources whose file has none of its columns."""
    more = month > 1
    filler = [attendance(person(f"Pupil{i}", "Filler", "2011-02-03"), f"F{i:04d}", "2025/26", "autumn")
              for i in range(300 + more)]
    rows = {
        "attendance": [attendance(KID, "G1", "2025/26", "autumn", possible=100, unauthorised=20),
                       attendance(OTHER, "T1", "2025/26", "autumn", possible=100, unauthorised=30)] + filler,
        "asb": [asb(KID, "GR1", "GE1", "2025-12-01", "ASBO"), asb(OTHER, "TR1", "TE1", "2025-11-20", "ASBO")]
        + ([asb(OTHER, "TR1", "TE2", "2026-01-10", "ASBO")] if more else []),
        "benefits": [benefit(MUM, "AB111111C", "JSA", "2025-01-01")]
        + ([benefit(OTHER, "AB222222C", "JSA", "2025-02-01")] if more else []),
        "interventions": [intervention(KID, "C1", "GR1", "2025-12-15")]
        + ([intervention(OTHER, "C2", "TR1", "2026-01-15")] if more else []),
    }
    write_delivery(folder, **rows)
    for source in bad:  # no contract columns: the whole file fails
        (folder / f"{source}.csv").write_text("reference,when\n1,2\n", encoding="utf-8")
    return folder


def _counts(db: Path) -> dict[str, int]:
    con = connect(db, read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("extract_file", "raw_attendance", "raw_asb", "raw_benefits", "validation_memo", "refresh_run")}
    finally:
        con.close()


def _extracts(db: Path) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT extract_id, source, delivery_period, replaced_by FROM extract_file "
                           "ORDER BY extract_id").fetchall()
    finally:
        con.close()


@pytest.fixture()
def store(tmp_path) -> Path:
    """A store after one refresh (2026-01)."""
    db = tmp_path / "s.duckdb"
    refresh("2026-01", _delivery(tmp_path / "jan"), db, tmp_path / "out")
    return db


def test_a_file_loads_while_the_files_after_it_are_validated(store, tmp_path, monkeypatch):
    loaded = threading.Event()
    seen: dict = {}
    load_file, validate_typed = refresh_module.load_file, parse_module.validate_typed

    def recording_load(con, p, *args, **kwargs):
        result = load_file(con, p, *args, **kwargs)
        seen.setdefault("first", p.source)
        loaded.set()
        return result

    def waiting_validate(typed, *args, **kwargs):
        if typed.file.source == "interventions":  # the smallest file: validated last
            # Returns only once a file has loaded: a refresh that loaded nothing before every
            # file was validated would wait here in vain.
            seen["overlapped"] = loaded.wait(timeout=20)
        return validate_typed(typed, *args, **kwargs)

    monkeypatch.setattr(refresh_module, "load_file", recording_load)
    monkeypatch.setattr(parse_module, "validate_typed", waiting_validate)
    r = refresh("2026-02", _delivery(tmp_path / "feb", month=2), store, tmp_path / "out")
    assert seen == {"first": "attendance", "overlapped": True}
    assert r.summary["period"] == "2026-02"


def test_same_store_and_files_as_reading_the_delivery_first(store, tmp_path):
    """Extract ids follow the delivery's order, not the order the files were validated in."""
    other = tmp_path / "other.duckdb"
    shutil.copy(store, other)
    feb = _delivery(tmp_path / "feb", month=2)
    arrived = refresh("2026-02", feb, store, tmp_path / "a")
    config = load_config(None)
    read = apply_delivery("2026-02", read_delivery(feb, config, "2026-02", memo=validation_memo.load(other)), other,
                          tmp_path / "b", load_rulebook(None), config)
    assert _extracts(store) == _extracts(other)
    # attendance, the file validated first, has the id the delivery's order gives it
    assert [e[1] for e in _extracts(store) if e[2] == "2026-02"] == ["asb", "attendance", "benefits", "interventions"]
    assert _counts(store) == _counts(other)
    assert arrived.summary["files"] == read.summary["files"]
    names = sorted(p.name for p in arrived.out_dir.iterdir() if p.suffix == ".csv")
    assert "cohort.csv" in names and "family_members.csv" in names
    for name in names:
        assert (arrived.out_dir / name).read_bytes() == (read.out_dir / name).read_bytes(), name


def test_every_failing_file_is_reported_and_nothing_loaded_is_kept(store, tmp_path):
    before = _counts(store)
    with pytest.raises(InputErrors) as ei:
        refresh("2026-02", _delivery(tmp_path / "feb", month=2, bad=("asb", "interventions")), store, tmp_path / "out")
    # attendance and benefits were valid (attendance loaded first); both bad files are named
    assert sorted(e.file for e in ei.value.errors) == ["asb.csv", "interventions.csv"]
    assert "Garrow" not in str(ei.value)
    assert _counts(store) == before
    assert not (tmp_path / "out" / "2026-02").exists()
    assert not [t for t in threading.enumerate() if t.name == "pbr-read"]


def test_a_store_failure_while_loading_stops_the_reading(store, tmp_path, monkeypatch):
    before = _counts(store)
    load_file = refresh_module.load_file

    def failing_load(con, p, *args, **kwargs):
        load_file(con, p, *args, **kwargs)
        raise RuntimeError("disk full (test)")

    monkeypatch.setattr(refresh_module, "load_file", failing_load)
    with pytest.raises(RuntimeError, match="disk full"):
        refresh("2026-02", _delivery(tmp_path / "feb", month=2), store, tmp_path / "out")
    assert not [t for t in threading.enumerate() if t.name == "pbr-read"]  # waited for, not left reading
    assert _counts(store) == before
    assert not (tmp_path / "out" / "2026-02").exists()


def test_the_store_cap_stands_on_the_last_delivery_until_the_files_are_in(store, tmp_path, monkeypatch):
    seen: list[int] = []
    apply = refresh_module.store_settings.apply

    def recording(con, config, rows=0):
        seen.append(rows)
        return apply(con, config, rows=rows)

    monkeypatch.setattr(refresh_module.store_settings, "apply", recording)
    refresh("2026-02", _delivery(tmp_path / "feb", month=2), store, tmp_path / "out")
    # January read 302 + 2 + 1 + 1 rows; February 303 + 3 + 2 + 2
    assert seen == [306, 310]


def test_a_new_store_is_made_only_after_the_delivery_is_read(tmp_path):
    db = tmp_path / "new.duckdb"
    with pytest.raises(InputErrors):
        refresh("2026-01", _delivery(tmp_path / "jan", bad=("asb",)), db, tmp_path / "out")
    assert not db.exists()


def test_an_arriving_delivery_can_make_a_new_store(tmp_path):
    """apply_delivery takes an ArrivingDelivery for a store not made yet (the benchmark's history)."""
    from pbr.ingest import discover
    from pbr.refresh import ArrivingDelivery

    config = load_config(None)
    arriving = ArrivingDelivery(discover(_delivery(tmp_path / "jan")), config, "2026-01", None)
    r = apply_delivery("2026-01", arriving, tmp_path / "new.duckdb", tmp_path / "out", load_rulebook(None), config)
    assert [e[1] for e in _extracts(tmp_path / "new.duckdb")] == ["asb", "attendance", "benefits", "interventions"]
    assert [(f["source"], f["rows_loaded"]) for f in r.summary["files"]] == [
        ("asb", 2), ("attendance", 302), ("benefits", 1), ("interventions", 1)]
    assert (r.out_dir / "cohort.csv").exists()


def _raw(db: Path, table: str) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return con.execute(f"SELECT * EXCLUDE (extract_id) FROM {table} ORDER BY delivery_period, line_no").fetchall()
    finally:
        con.close()


def test_a_file_goes_into_the_store_while_it_is_validated(store, tmp_path, monkeypatch):
    """Round 22: a file's typed rows are inserted before its verdicts are known (load_early), so the
    insert overlaps its validation in the GX worker rather than following it."""
    inserted = threading.Event()
    seen: dict = {}
    load_early, validate_typed = refresh_module.load_early, parse_module.validate_typed

    def recording_early(con, typed, *args, **kwargs):
        rows = load_early(con, typed, *args, **kwargs)
        if typed.file.source == "attendance" and rows is not None:
            inserted.set()
        return rows

    def waiting_validate(typed, *args, **kwargs):
        if typed.file.source == "attendance":
            # Returns only once attendance's rows are in: a refresh that inserted them only after
            # its validation would wait here in vain.
            seen["early"] = inserted.wait(timeout=20)
        return validate_typed(typed, *args, **kwargs)

    monkeypatch.setattr(refresh_module, "load_early", recording_early)
    monkeypatch.setattr(parse_module, "validate_typed", waiting_validate)
    refresh("2026-02", _delivery(tmp_path / "feb", month=2), store, tmp_path / "out")
    assert seen == {"early": True}


def test_only_rows_sure_to_pass_go_in_early_and_none_is_taken_out(store, tmp_path, monkeypatch):
    """The rows inserted while a file is validated are those the validation memo knows passed
    (January's, repeated in February); February's new rows wait for their verdicts, so the two the
    suites reject (a sex outside the contract's set; no UPN) never go in, and nothing has to be
    deleted (a DELETE of rows the transaction inserted makes DuckDB's commit append the table's
    whole delivery again). The store ends as reading the whole delivery first leaves it: the same
    raw rows, quarantine and files."""
    feb = _delivery(tmp_path / "feb", month=2)
    with open(feb / "attendance.csv", "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=sources()["attendance"].column_names)
        w.writerow({**attendance(person("Wren", "Odd", "2011-03-03"), "W1", "2025/26", "autumn"), "sex": "X"})
        w.writerow(attendance(person("Noel", "Nokey", "2011-04-04"), "", "2025/26", "autumn"))
    early: list = []
    load_early = refresh_module.load_early

    def recording_early(con, typed, *args, **kwargs):
        rows = load_early(con, typed, *args, **kwargs)
        if typed.file.source == "attendance":
            early.append((typed.typed, rows))
        return rows

    monkeypatch.setattr(refresh_module, "load_early", recording_early)
    other = tmp_path / "other.duckdb"
    shutil.copy(store, other)
    arrived = refresh("2026-02", feb, store, tmp_path / "a")
    config = load_config(None)
    apply_delivery("2026-02", read_delivery(feb, config, "2026-02", memo=validation_memo.load(other)), other,
                   tmp_path / "b", load_rulebook(None), config)

    [(typed, rows)] = early
    upn = dict(zip(typed.get_column("__line").to_list(), typed.get_column("upn").to_list()))
    # January's 302 pupils went in early; the pupil new in February and the two bad rows did not
    assert sorted(upn[line] for line in rows.lines.to_list()) == sorted(["G1", "T1"] + [f"F{i:04d}" for i in range(300)])
    loaded = {f["source"]: f for f in arrived.summary["files"]}["attendance"]
    assert (loaded["rows_read"], loaded["rows_loaded"], loaded["rows_quarantined"]) == (typed.height, typed.height - 2, 2)
    in_store = [r[0] for r in _raw(store, "raw_attendance") if r[1] == "2026-02"]
    assert set(rows.lines.to_list()) <= set(in_store) and len(in_store) == typed.height - 2
    for table in ("raw_attendance", "raw_asb", "raw_benefits", "raw_interventions"):
        assert _raw(store, table) == _raw(other, table), table
    assert _extracts(store) == _extracts(other)
    con_a, con_b = connect(store, read_only=True), connect(other, read_only=True)
    try:
        q = "SELECT extract_id, file_name, line_no, column_name, reason, raw_row, expectation FROM quarantine ORDER BY ALL"
        assert con_a.execute(q).fetchall() == con_b.execute(q).fetchall()
        assert len([r for r in con_a.execute(q).fetchall() if r[1] == "attendance.csv"]) == 2
    finally:
        con_a.close()
        con_b.close()


def test_a_row_that_went_in_early_and_is_quarantined_after_all_is_taken_out(store, tmp_path, monkeypatch):
    """The fallback should sure_to_pass ever be wrong: here it is made to call every row sure, so the
    row with a sex outside the contract's set goes in early; once the suites reject it, it is
    deleted. (The row without a UPN still waits: its table would refuse it.) The store ends as
    reading the whole delivery first leaves it."""
    import pbr.validation.core as core_module

    feb = _delivery(tmp_path / "feb", month=2)
    with open(feb / "attendance.csv", "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=sources()["attendance"].column_names)
        w.writerow({**attendance(person("Wren", "Odd", "2011-03-03"), "W1", "2025/26", "autumn"), "sex": "X"})
        w.writerow(attendance(person("Noel", "Nokey", "2011-04-04"), "", "2025/26", "autumn"))
    monkeypatch.setattr(core_module, "sure_to_pass",
                        lambda source, typed, *args: pl.Series("sure", [True] * typed.height))
    early: list = []
    load_early = refresh_module.load_early

    def recording_early(con, typed, *args, **kwargs):
        rows = load_early(con, typed, *args, **kwargs)
        if typed.file.source == "attendance":
            early.append((typed.typed, rows))
        return rows

    monkeypatch.setattr(refresh_module, "load_early", recording_early)
    other = tmp_path / "other.duckdb"
    shutil.copy(store, other)
    refresh("2026-02", feb, store, tmp_path / "a")
    config = load_config(None)
    apply_delivery("2026-02", read_delivery(feb, config, "2026-02", memo=validation_memo.load(other)), other,
                   tmp_path / "b", load_rulebook(None), config)

    [(typed, rows)] = early
    upn = dict(zip(typed.get_column("__line").to_list(), typed.get_column("upn").to_list()))
    went_in = [upn[line] for line in rows.lines.to_list()]
    assert "W1" in went_in and None not in went_in and len(went_in) == typed.height - 1
    assert "W1" not in [r[9] for r in _raw(store, "raw_attendance") if r[1] == "2026-02"]  # r[9]: upn
    for table in ("raw_attendance", "raw_asb", "raw_benefits", "raw_interventions"):
        assert _raw(store, table) == _raw(other, table), table
    assert _extracts(store) == _extracts(other)


def test_sure_to_pass_needs_the_memos_pass_a_key_of_its_own_and_every_value_parsed():
    from pbr.validation.core import MemoLookup, sure_to_pass
    from pbr.validation.suites import load_suite

    typed = pl.DataFrame({"__line": [2, 3, 4, 5, 6], "upn": ["A1", "A2", "A2", "A3", "A4"],
                          "academic_year": ["2025/26"] * 5, "term": ["autumn"] * 5, "school_urn": ["1"] * 5})
    parse_failures = pl.DataFrame({"__line": [6], "column_name": ["dob"], "reason": ["r"], "expectation": ["e"]})
    suite = load_suite("attendance")
    memoised = frozenset(e.seq for e in suite.row_level if e.type not in ("expect_compound_columns_to_be_unique",))
    known = pl.Series("failed", ["", "", "", None, ""])
    lookup = MemoLookup(memoised, "v", typed.select(), known)
    # line 2 sure; 3 and 4 share a key; 5 unknown to the memo; 6 has a value that did not parse
    assert sure_to_pass("attendance", typed, parse_failures, lookup).to_list() == [True, False, False, False, False]
    critical = next(e.seq for e in suite.row_level if e.severity == "critical" and e.seq in memoised)
    warning = next(e.seq for e in suite.row_level if e.severity == "warning" and e.seq in memoised)
    # a row that failed a critical check when last validated is not sure; one that failed a
    # warning only is (the warning keeps the row)
    two = typed.head(2).with_columns(pl.Series("upn", ["B1", "B2"]))
    before = pl.Series("failed", [f"{warning},{critical}", str(warning)])
    assert sure_to_pass("attendance", two, parse_failures.clear(),
                        MemoLookup(memoised, "v", two.select(), before)).to_list() == [False, True]
    # no memo, or a critical check the memo does not hold (here: none memoised): no row is sure
    assert sure_to_pass("attendance", typed, parse_failures, None) is None
    assert sure_to_pass("attendance", typed, parse_failures, MemoLookup(frozenset(), "v", typed.select(), known)) is None


def test_early_rows_only_for_columns_the_table_takes_without_a_cast_that_can_fail(tmp_path):
    import polars as pl

    from pbr.ingest.load import _insertable
    from pbr.store import migrate

    con = connect(tmp_path / "s.duckdb")
    try:
        migrate(con)
        frame = pl.DataFrame({"__line": [2, 3, 4], "event_id": ["E1", None, "E3"], "person_ref": ["R1", "R2", "R3"],
                              "event_date": [date(2026, 1, 1)] * 3, "event_type": ["ASBO"] * 3})
        keep = _insertable(con, "asb", frame)
        # event_id is NOT NULL in raw_asb: its null row waits for its verdict
        assert frame.filter(keep).get_column("__line").to_list() == [2, 4]
        # a text date would need a cast that can fail: the file loads after its validation only
        assert _insertable(con, "asb", frame.with_columns(pl.col("event_date").cast(pl.String))) is None
        # a column the table has not: likewise
        assert _insertable(con, "asb", frame.with_columns(pl.lit(1).alias("not_a_column"))) is None
        # a NOT NULL column missing from the frame: likewise
        assert _insertable(con, "asb", frame.drop("event_type")) is None
    finally:
        con.close()
