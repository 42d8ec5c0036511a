"""Delivery validation with Great Expectations (expectations/<source>.json): every expectation fires
on a crafted bad file and the user sees file, line, column, check and a plain reason; broken files
stop the refresh with a clear message and an unchanged store; results are kept per refresh and
rendered as a self-contained report; `pbr validate` checks a delivery without loading anything; no
personal data or delivered value reaches a message, the quarantine or the report."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from builders import asb, attendance, benefit, employment, intervention, person, write_delivery
from pbr.cli import main
from pbr.config import ValidationConfig, load_config
from pbr.contract import sources
from pbr.errors import ConfigError, InputErrors, InputFileError
from pbr.ingest import discover, parse_file
from pbr.ingest.discover import MAX_CELL_CHARS
from pbr.validation import load_suite, suite_root
from pbr.validation.suites import PARSE_EXPECTATIONS, PARSE_REASONS

P = "2026-01"  # R = 2026-01-31
# Values no real data would hold: none may reach a message, quarantine.csv or the report.
SURNAME = "Quillfeatherby"
STREET = "17 Marrowglen Way"
POSTCODE = "S65 1AB"
MUM = person("Ann", SURNAME, "1985-03-02", address=STREET)
KID = person("Bob", SURNAME, "2012-05-05", address=STREET)
PERSONAL = [SURNAME, STREET, "1985-03-02", "2012-05-05", "02/03/1985"]


def good_row(source: str, i: int) -> dict:
    """Row i of a source: valid, with a natural key of its own."""
    return {
        "attendance": lambda: attendance(KID, f"A{i:012d}", "2025/26", "autumn", possible=100, unauthorised=5,
                                         sessions_authorised=3),
        "asb": lambda: asb(KID, "Y1", f"E{i}", "2025-11-10", "asb_incident"),
        "benefits": lambda: benefit(MUM, f"AB{i:06d}C", "jsa", "2025-06-01", "2025-12-01", end_reason="other"),
        "employment": lambda: employment(MUM, f"AB{i:06d}C", "employment", "2025-06-01", "2025-09-30"),
        "interventions": lambda: intervention(KID, "C1", f"IR{i}", "2025-10-01", "2026-01-10", role="child"),
        "areas": lambda: {"area": f"S{i}", "name": "Ward"},
    }[source]()


# --------------------------------------------------------------------------- the crafted bad rows

# Distinctive bad values: the report and messages must never quote them.
BAD_VALUE = {
    ("expect_column_values_to_be_in_set", "sex"): "Xq",
    ("expect_column_values_to_match_regex", "postcode"): "QQ9 ZZZZ",
    ("expect_column_values_to_match_regex", "upn"): "UPNQX1",
    ("expect_column_values_to_match_regex", "nino"): "QQNINO99",
    ("expect_column_values_to_match_regex", "academic_year"): "2025-26",
    ("expect_column_values_to_match_regex", "area"): "NOTANAREA",
    ("expect_column_values_to_be_in_set", "term"): "wintrq",
    ("expect_column_values_to_be_in_set", "provision"): "home_schoolq",
    ("expect_column_values_to_be_in_set", "event_type"): "asb_incidnetq",
    ("expect_column_values_to_be_in_set", "agency"): "fireq",
    ("expect_column_values_to_be_in_set", "end_reason"): "sackedq",
    ("expect_column_values_to_be_in_set", "record_type"): "apprenticeshipq",
    ("expect_column_values_to_be_in_set", "role"): "parentq",
    ("expect_column_values_to_be_in_set", "benefit"): "hbq",
}
PAIR_CHANGE = {
    "sessions_unauthorised": {"sessions_possible": "10", "sessions_unauthorised": "11"},
    "sessions_authorised": {"sessions_possible": "10", "sessions_authorised": "11"},
    "end_date": {"start_date": "2025-06-01", "end_date": "2025-05-31"},
    "closed_date": {"attached_date": "2025-10-01", "closed_date": "2025-09-30"},
}
PARSE_BAD = {"date": "2025-02-30", "integer": "1.5", "boolean": "maybe"}


def change_for(e) -> dict | None:
    """The cell values that make exactly this expectation fail (None: a duplicate of row 0)."""
    col = e.kwargs.get("column")
    if e.type == "expect_column_values_to_not_be_null":
        return {col: ""}
    if e.type == "expect_column_values_to_be_between" and col == "dob":
        return {"dob": "1899-12-31"} if "min_value" in e.kwargs else {"dob": "2026-02-01"}
    if e.type == "expect_column_values_to_be_between" and col == "event_date":
        return {"event_date": "2026-02-01"}
    if e.type == "expect_column_values_to_be_between":
        return {col: "-1"}
    if e.type == "expect_column_pair_values_a_to_be_greater_than_b":
        return PAIR_CHANGE[e.column]
    if e.keep_first:
        return None
    return {col: BAD_VALUE[(e.type, col)]}


def build_cases():
    """[(source, check id, expectation, column, severity, change)] covering every row-level check of
    every suite, and pbr's parse check of every typed column."""
    cases = []
    for source, src in sources().items():
        suite = load_suite(source)
        for c in src.columns:
            if c.type in PARSE_EXPECTATIONS:
                cases.append((source, f"{source}:{PARSE_EXPECTATIONS[c.type]}:{c.name}", PARSE_EXPECTATIONS[c.type], c.name,
                              "critical", PARSE_REASONS[c.type], {c.name: PARSE_BAD[c.type]}))
        for e in suite.row_level:
            cases.append((source, f"{source}:{e.type}:{e.column}:{e.seq}", e.type, e.column, e.severity, e.description,
                          change_for(e)))
    return cases


CASES = build_cases()


def write_cases(folder: Path):
    """One file per source: a good row, then each case's bad row followed by a good row. Returns
    {case id: (file, line)}."""
    tables: dict[str, list[dict]] = {}
    where = {}
    n = 1
    for source, cid, *_rest, change in CASES:
        rows = tables.setdefault(source, [good_row(source, 0)])
        bad = dict(rows[0]) if change is None else {**good_row(source, n), **change}
        rows.append(bad)
        where[cid] = (f"{source}.csv", len(rows) + 1)  # the header is line 1
        rows.append(good_row(source, n + 1))
        n += 2
    write_delivery(folder, **tables)
    return where


def test_every_row_level_expectation_has_a_case():
    covered = {(s, cid.split(":")[1], cid.split(":")[2]) for s, cid, *_ in CASES}
    for source in sources():
        for e in load_suite(source).row_level:
            assert (source, e.type, e.column) in covered, (source, e.type, e.column)
    assert len(CASES) > 100


@pytest.fixture(scope="module")
def cases_run(tmp_path_factory, pipeline_at):
    pipe = pipeline_at(tmp_path_factory.mktemp("cases"))
    folder = pipe.folder("2026-01")
    where = write_cases(folder)
    run = pipe.refresh(P, folder)
    cli = CliRunner().invoke(main, ["validate", str(folder), "--all"])
    return run, where, cli, folder


def quarantined(run, file: str, line: int) -> list[dict]:
    return [q for q in run.quarantine if (q["file"], q["line"]) == (file, str(line))]


# A bad value that necessarily breaks other rules too: sessions_possible below 0 is also below the
# row's sessions_unauthorised and sessions_authorised (each bad cell is reported).
ALSO = {"attendance:expect_column_values_to_be_between:sessions_possible": [
    (c, "greater than sessions_possible [expect_column_pair_values_a_to_be_greater_than_b]")
    for c in ("sessions_unauthorised", "sessions_authorised")]}


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_expectation_fires_and_the_user_sees_it(cases_run, case):
    run, where, cli, _ = cases_run
    source, cid, expectation, column, severity, description, change = case
    file, line = where[cid]
    q = quarantined(run, file, line)
    results = {(r[0], r[1], r[2]): (r[3], json.loads(r[4])) for r in run.query("""
        SELECT r.expectation, r.column_name, r.description, r.success, r.unexpected_lines FROM validation_result r
        JOIN validation_file f USING (run_id, extract_id) WHERE f.file_name = ?""", file)}
    success, lines = results[(expectation, column, description)]
    # info checks are counted only (no line list to build); the others name the failing lines.
    assert not success and (lines == [] if severity == "info" else line in lines)
    if severity == "critical":
        reason = description + (": first delivered at line 2" if change is None else "")
        # quarantine.csv: file, line, column and the reason naming the check.
        also = ALSO.get(cid.rsplit(":", 1)[0], [])
        assert sorted((r["column"], r["reason"]) for r in q) == sorted([(column, f"{reason} [{expectation}]")] + also)
        assert run.query(f"SELECT count(*) FROM raw_{source} WHERE line_no = ?", line) == [(0,)]
        assert (expectation, reason) in run.query(
            "SELECT expectation, reason FROM quarantine WHERE file_name = ? AND line_no = ?", file, line)
        # pbr validate prints the same line.
        assert f"line {line}, column '{column}': {reason} [{expectation}]" in cli.output
    else:
        # A warning (or info) is reported and the row loads.
        assert q == []
        assert run.query(f"SELECT count(*) FROM raw_{source} WHERE line_no = ?", line) == [(1,)]
        if severity == "warning":
            assert f"warning, rows kept: column '{column}': {description} [{expectation}]" in cli.output


def test_good_rows_load_around_the_bad_ones(cases_run):
    run, where, cli, _ = cases_run
    assert cli.exit_code == 0, cli.output
    critical = {cid: where[cid] for _, cid, _, _, sev, _, _ in CASES if sev == "critical"}
    for f in run.summary["files"]:
        bad = {line for file, line in critical.values() if file == f["file_name"]}
        assert f["rows_quarantined"] == len(bad)
        assert f["rows_loaded"] == f["rows_read"] - len(bad)
    assert {(q["file"], int(q["line"])) for q in run.quarantine} == set(critical.values())


def test_summary_says_how_many_rows_each_file_lost_and_why(cases_run):
    run, _, _, _ = cases_run
    for f in run.summary_file["files"]:
        # A row failing in two columns counts under both.
        assert sum(w["rows"] for w in f["quarantined_by"]) >= f["rows_quarantined"]
        for w in f["quarantined_by"]:
            assert set(w) == {"column", "reason", "expectation", "rows"} and w["rows"] >= 1
            assert "first delivered at line" not in w["reason"]
    (att,) = [f for f in run.summary["files"] if f["source"] == "attendance"]
    assert {"column": "term", "reason": "not one of: autumn, spring, summer",
            "expectation": "expect_column_values_to_be_in_set", "rows": 1} in att["quarantined_by"]
    assert [w["column"] for w in att["warnings"]] == ["upn"]


def test_cli_refresh_prints_why_rows_were_lost(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", 1), {**good_row("asb", 2), "event_type": "x"}])
    r = CliRunner().invoke(main, ["refresh", "--period", P, "--extracts", str(folder), "--db", str(tmp_path / "s.duckdb"),
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "event_type: not one of" in r.output and "[expect_column_values_to_be_in_set]" in r.output


def test_results_are_kept_per_refresh(cases_run):
    run, _, _, _ = cases_run
    run_id = run.summary_file["run_id"]
    files = run.query("SELECT file_name, suite, rows_read, rows_quarantined, period_end::VARCHAR, gx_version "
                      "FROM validation_file WHERE run_id = ? ORDER BY 1", run_id)
    assert [f[0] for f in files] == sorted(f"{s}.csv" for s in sources())
    for name, suite, rows, rows_q, end, gxv in files:
        assert suite == f"pbr.{name[:-4]}" and end == "2026-01-31" and gxv.startswith("1.")
        (f,) = [x for x in run.summary["files"] if x["file_name"] == name]
        assert (rows, rows_q) == (f["rows_read"], f["rows_quarantined"])
    # One result per check of each file: the suite's and pbr's parse checks.
    n = run.query("SELECT f.source, count(*) FROM validation_result r JOIN validation_file f USING (run_id, extract_id) "
                  "WHERE r.run_id = ? GROUP BY 1", run_id)
    for source, count in n:
        parse = sum(1 for c in sources()[source].columns if c.type in PARSE_EXPECTATIONS)
        assert count == len(load_suite(source).expectations) + parse
    # A passing check has no lines; every failing one has its lines (info: counted only).
    for success, count, lines, severity in run.query(
            "SELECT success, unexpected_count, unexpected_lines, severity FROM validation_result WHERE run_id = ?", run_id):
        assert success == (count == 0) and len(json.loads(lines)) == (0 if severity == "info" else count)


def test_no_values_in_stored_results(cases_run):
    run, _, _, _ = cases_run
    text = json.dumps(run.query("SELECT * FROM validation_result"), default=str)
    text += json.dumps(run.query("SELECT * FROM validation_file"), default=str)
    for value in PERSONAL + list(BAD_VALUE.values()) + ["AB000001C"]:
        assert value.lower() not in text.lower(), value


# --------------------------------------------------------------------------- the report


def test_report_is_self_contained_and_holds_no_values(cases_run):
    run, where, _, _ = cases_run
    html = (run.out_dir / "validation" / "index.html").read_text(encoding="utf-8").replace("<wbr>", "")
    data = (run.out_dir / "validation" / "results.json").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<style>" in html
    for external in ("http://", "https://", "//cdn", "<script", "<link", "src=", "@import", "url("):
        assert external not in html.lower(), external
    for value in PERSONAL + list(BAD_VALUE.values()) + ["AB000001C", "A000000000001"]:
        assert value.lower() not in html.lower(), value
        assert value.lower() not in data.lower(), value
    # Per file: its checks, outcome, counts and the failing lines.
    for source in sources():
        assert f"<h2>{source}.csv</h2>" in html
    assert "expect_column_values_to_match_regex" in html and "failed: rows quarantined" in html
    assert "failed: rows kept (warning)" in html and "passed" in html
    file, line = next(v for k, v in where.items() if k.startswith("attendance:expect_column_values_to_be_in_set:term"))
    doc = json.loads(data)
    (att,) = [f for f in doc["files"] if f["file_name"] == "attendance.csv"]
    (term,) = [c for c in att["checks"] if c["expectation"] == "expect_column_values_to_be_in_set" and c["column"] == "term"]
    assert term["lines"] == [line] and term["rows_quarantined"] == 1 and term["success"] is False


def test_quarantine_csv_keeps_its_columns_and_no_personal_data(cases_run):
    run, _, _, _ = cases_run
    text = (run.out_dir / "quarantine.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "file,line,column,reason"
    for value in PERSONAL + list(BAD_VALUE.values()):
        assert value.lower() not in text.lower(), value
    assert all(r["reason"].endswith("]") for r in run.quarantine)


def test_report_of_a_refresh_without_files(pipeline):
    pipeline.refresh(P, asb=_rows("asb"))
    run = pipeline.refresh("2026-02")
    html = (run.out_dir / "validation" / "index.html").read_text(encoding="utf-8")
    assert "No delivery files were read by this refresh" in html


# --------------------------------------------------------------------------- validate DIR


def test_validate_loads_nothing_and_prints_row_failures_per_file(cases_run):
    _, where, cli, folder = cases_run
    assert cli.exit_code == 0
    assert "(period 2026-01: dates checked against 2026-01-31)" in cli.output  # the folder's name
    assert "attendance.csv (attendance):" in cli.output and "quarantined" in cli.output
    for value in PERSONAL + list(BAD_VALUE.values()):
        assert value.lower() not in cli.output.lower(), value
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.csv" for s in sources())


def test_validate_lists_the_first_50_rows_per_file_without_all(tmp_path):
    rows = [good_row("asb", 0)] + [{**good_row("asb", i), "agency": "nobody"} for i in range(1, 61)]
    folder = write_delivery(tmp_path / "d", asb=rows)
    r = CliRunner().invoke(main, ["validate", str(folder), "--period", P])
    assert r.exit_code == 0
    assert r.output.count("column 'agency'") == 50 and "… 10 more (--all lists every one)" in r.output


def test_validate_period_moves_the_event_bound(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", 0), {**good_row("asb", 1), "event_date": "2026-02-10"}])
    jan = CliRunner().invoke(main, ["validate", str(folder), "--period", "2026-01"])
    feb = CliRunner().invoke(main, ["validate", str(folder), "--period", "2026-02"])
    # A warning: the rules ignore records after R, and a later refresh uses the row.
    assert "asb.csv (asb): 2 rows, all would load" in jan.output
    assert "warning, rows kept: column 'event_date': event after the end of the delivery period" in jan.output
    assert "(lines 3)" in jan.output
    assert "all would load" in feb.output and "warning" not in feb.output and jan.exit_code == feb.exit_code == 0


def test_validate_bad_period_exits_2(tmp_path):
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", 0)])
    r = CliRunner().invoke(main, ["validate", str(folder), "--period", "2026-13"])
    assert r.exit_code == 2


def test_flow_path_validates_for_the_refresh_period(tmp_path):
    """Files parsed without a period (the Prefect flow's read tasks) are validated again for the
    refresh's period before they load."""
    from pbr.config import Config
    from pbr.refresh import apply_delivery
    from pbr.rulebook import load_rulebook
    period = "2099-12"  # later than any test run: without a period, today is the bound
    rows = [good_row("asb", 0), {**good_row("asb", 1), "dob": "2099-06-01"}, {**good_row("asb", 2), "dob": "2100-01-01"}]
    (f,) = discover(write_delivery(tmp_path / "d", asb=rows))
    parsed = parse_file(f)  # dob bound: today, so both future dobs fail
    assert sorted(parsed.rejects.get_column("line_no").to_list()) == [3, 4]
    result = apply_delivery(period, [parsed], tmp_path / "s.duckdb", tmp_path / "out", load_rulebook(None), Config())
    assert result.summary["quarantined_rows"] == 1
    with open(result.out_dir / "quarantine.csv", newline="") as fh:
        assert [(r["line"], r["column"]) for r in csv.DictReader(fh)] == [("4", "dob")]


# --------------------------------------------------------------------------- file failures

def _rows(source: str, n: int = 3) -> list[dict]:
    return [good_row(source, i) for i in range(n)]


def _truncated(folder):
    write_delivery(folder, attendance=_rows("attendance", 5))
    p = folder / "attendance.csv"
    p.write_bytes(p.read_bytes()[:-40])  # the export stopped mid-row


def _binary(folder):
    (folder / "asb.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)


def _latin1(folder):
    write_delivery(folder, benefits=_rows("benefits"))
    p = folder / "benefits.csv"
    p.write_bytes(p.read_bytes().replace(SURNAME.encode(), "Quillfeatherbé".encode("latin-1")))


def _missing_column(folder):
    write_delivery(folder, asb=_rows("asb"))
    p = folder / "asb.csv"
    rows = list(csv.reader(p.open(newline="")))
    i = rows[0].index("event_type")
    p.write_text("\n".join(",".join(r[:i] + r[i + 1:]) for r in rows) + "\n")


def _extra_column(folder):
    write_delivery(folder, asb=_rows("asb"))
    p = folder / "asb.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0] + ",risk_score"] + [ln + ",7" for ln in lines[1:]]) + "\n")


def _xlsx_second_sheet(folder):
    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    ws = wb.create_sheet("data")
    cols = sources()["interventions"].column_names
    ws.append(cols)
    for r in _rows("interventions"):
        ws.append([r.get(c) or None for c in cols])
    wb.save(folder / "interventions.xlsx")


def _huge_cell(folder):
    rows = _rows("asb")
    rows[1] = {**rows[1], "address": "x" * (1 << 20)}
    write_delivery(folder, asb=rows)


def _header_only(folder):
    write_delivery(folder, employment=[])


def _wrong_source(folder):
    write_delivery(folder, attendance=_rows("attendance"))
    (folder / "attendance.csv").rename(folder / "asb.csv")


def _empty(folder):
    (folder / "areas.csv").write_bytes(b"")


BROKEN = {
    # case: (make, file named, words the message must hold)
    "truncated_csv": (_truncated, "attendance.csv", ["line 6", "fields where the header has"]),
    "binary_bytes": (_binary, "asb.csv", ["binary data", "not a CSV text file"]),
    "latin1_text": (_latin1, "benefits.csv", ["line 2", "not UTF-8"]),
    "missing_column": (_missing_column, "asb.csv", ["missing required column(s) event_type"]),
    "extra_column": (_extra_column, "asb.csv", ["unexpected column(s) risk_score"]),
    "xlsx_data_on_second_sheet": (_xlsx_second_sheet, "interventions.xlsx",
                                  ["first sheet is empty", "sheet 'data' has rows", "reads only the first sheet"]),
    "one_mb_cell": (_huge_cell, "asb.csv", ["line 3", "column 'address'", "1,048,576 characters"]),
    "header_only": (_header_only, "employment.csv", ["has a header but no rows"]),
    "wrong_source": (_wrong_source, "asb.csv", ["missing required column(s) person_ref",
                                                "columns are those of the 'attendance' source"]),
    "empty_file": (_empty, "areas.csv", ["is empty"]),
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, pipeline_at):
    pipe = pipeline_at(tmp_path_factory.mktemp("vbase"))
    pipe.refresh(P, **{s: _rows(s) for s in sources()})
    return pipe


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_stops_with_a_clear_message_and_an_unchanged_store(baseline, tmp_path, case):
    pipeline = baseline.clone(tmp_path)
    before = pipeline.table_counts()
    make, name, words = BROKEN[case]
    folder = pipeline.delivery(asb=[good_row("asb", 90)])  # a good file beside the broken one
    make(folder)
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-02", folder)
    (e,) = ei.value.errors
    message = str(e)
    assert e.file == name and message.startswith(name), message
    for w in words:
        assert w in message, (w, message)
    for value in PERSONAL + ["x" * 50, "AB000001C"]:
        assert value.lower() not in message.lower(), value
    assert pipeline.table_counts() == before
    assert not (pipeline.out / "2026-02").exists()
    # pbr validate: the same message, exit 2, nothing written.
    r = CliRunner().invoke(main, ["validate", str(folder), "--period", "2026-02"])
    assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
    assert pipeline.table_counts() == before


def test_every_required_column_is_a_file_check(tmp_path):
    """The suites' file-level expectations (expect_column_to_exist) are the contract's required
    columns; a file without one stops the run naming it."""
    for source, src in sources().items():
        suite = load_suite(source)
        exist = [e.kwargs["column"] for e in suite.expectations if e.type == "expect_column_to_exist"]
        assert exist == src.required, source
        for col in src.required:
            folder = tmp_path / f"{source}-{col}"
            write_delivery(folder, **{source: _rows(source)})
            p = folder / f"{source}.csv"
            rows = list(csv.reader(p.open(newline="")))
            i = rows[0].index(col)
            p.write_text("\n".join(",".join(r[:i] + r[i + 1:]) for r in rows) + "\n")
            (f,) = discover(folder)
            with pytest.raises(InputFileError) as ei:
                parse_file(f, period=P)
            assert f"missing required column(s) {col}" in str(ei.value)


@pytest.mark.parametrize("source", list(sources()))
def test_header_only_file_is_the_row_count_file_check(tmp_path, source):
    assert any(e.type == "expect_table_row_count_to_be_between" and e.kwargs == {"min_value": 1}
               for e in load_suite(source).expectations)
    (f,) = discover(write_delivery(tmp_path, **{source: []}))
    with pytest.raises(InputFileError, match="has a header but no rows"):
        parse_file(f, period=P)


def test_xlsx_header_only_first_sheet_names_the_sheet_with_data(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(sources()["areas"].column_names)
    wb.create_sheet("Sheet2").append(["S65", "Ward"])
    wb.save(tmp_path / "areas.xlsx")
    (f,) = discover(tmp_path)
    with pytest.raises(InputFileError, match="has a header but no rows .*sheet 'Sheet2' has rows"):
        parse_file(f, period=P)


def test_long_cell_limit_leaves_ordinary_cells_alone(tmp_path):
    (f,) = discover(write_delivery(tmp_path, asb=[{**good_row("asb", 1), "address": "y" * MAX_CELL_CHARS}]))
    assert parse_file(f, period=P).rows.height == 1


# --------------------------------------------------------------------------- row count drop


@pytest.fixture(scope="module")
def big_asb(tmp_path_factory, pipeline_at):
    pipe = pipeline_at(tmp_path_factory.mktemp("bigasb"))
    pipe.refresh(P, asb=_rows("asb", 200))
    return pipe


def _drop_to(pipeline, n: int, config=None):
    folder = pipeline.delivery(asb=_rows("asb", n))
    return pipeline.refresh("2026-02", folder, config=config), folder


def test_row_count_fall_beyond_the_share_is_a_file_failure(big_asb, tmp_path):
    pipeline = big_asb.clone(tmp_path)
    before = pipeline.table_counts()
    with pytest.raises(InputErrors) as ei:
        _drop_to(pipeline, 80)
    msg = str(ei.value)
    assert msg.startswith("asb.csv: 80 rows where the previous asb delivery (asb.csv, period 2026-01) had 200: "
                          "60% fewer, more than the 50% allowed"), msg
    assert "[pbr_row_count_drop]" in msg
    assert pipeline.table_counts() == before and not (pipeline.out / "2026-02").exists()
    # pbr validate --db compares with the store read-only: the same message, exit 2.
    folder = pipeline.delivery(asb=_rows("asb", 80))
    r = CliRunner().invoke(main, ["validate", str(folder), "--period", "2026-02", "--db", str(pipeline.db)])
    assert r.exit_code == 2 and msg in " ".join(r.output.split())
    assert pipeline.table_counts() == before


def test_row_count_within_the_share_loads(big_asb, tmp_path):
    run, _ = _drop_to(big_asb.clone(tmp_path), 100)
    assert [f["rows_loaded"] for f in run.summary["files"]] == [100]


def test_row_count_share_is_configurable(big_asb, tmp_path):
    pipeline = big_asb.clone(tmp_path)
    run, _ = _drop_to(pipeline, 80, config={"validation": {"max_row_drop_share": 0.7}})
    assert [f["rows_loaded"] for f in run.summary["files"]] == [80]


def test_row_count_check_skips_small_previous_deliveries(pipeline):
    pipeline.refresh(P, asb=_rows("asb", 20))
    run = pipeline.refresh("2026-02", asb=_rows("asb", 2))  # 90% fewer, but of 20 rows: noise
    assert [f["rows_loaded"] for f in run.summary["files"]] == [2]


def test_row_count_of_a_correction_is_compared_with_the_file_it_replaces(big_asb, tmp_path):
    pipeline = big_asb.clone(tmp_path)
    with pytest.raises(InputErrors, match="previous asb delivery \\(asb.csv, period 2026-01\\) had 200"):
        pipeline.refresh(P, asb=_rows("asb", 50))


def test_validation_config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("validation:\n  max_row_drop_share: 0.25\n  row_drop_min_rows: 10\n")
    assert load_config(p).validation == ValidationConfig(0.25, 10)
    assert load_config(None).validation == ValidationConfig(0.5, 100)
    for bad in ("validation: 3", "validation:\n  max_row_drop_share: 2", "validation:\n  max_row_drop_share: yes",
                "validation:\n  row_drop_min_rows: -1", "validation:\n  drop: 0.5"):
        p.write_text(bad + "\n")
        with pytest.raises(ConfigError):
            load_config(p)


def test_example_config_documents_the_validation_defaults():
    example = Path(__file__).resolve().parents[1] / "docs" / "config.example.yaml"
    assert load_config(example).validation == ValidationConfig()


# --------------------------------------------------------------------------- suites and GX


def test_suites_are_plain_json_that_gx_loads():
    import great_expectations as gx  # noqa: F401 - the ExpectationSuite(**json) path pbr uses
    from great_expectations.core import ExpectationSuite
    assert sorted(p.stem for p in suite_root().glob("*.json")) == sorted(sources())
    for source in sources():
        raw = json.loads((suite_root() / f"{source}.json").read_text(encoding="utf-8"))
        suite = ExpectationSuite(**raw)
        assert suite.name == f"pbr.{source}" and len(suite.expectations) == len(raw["expectations"])
        for e in raw["expectations"]:
            assert e["description"] and e["severity"] in ("critical", "warning", "info")


def test_suites_cover_the_contract():
    for source, src in sources().items():
        suite = load_suite(source)
        by = {}
        for e in suite.row_level:
            by.setdefault(e.type, []).append(e)
        not_null = [e.kwargs["column"] for e in by["expect_column_values_to_not_be_null"]]
        assert not_null == src.required
        in_set = {e.kwargs["column"]: e.kwargs["value_set"] for e in by.get("expect_column_values_to_be_in_set", [])
                  if e.severity == "critical"}
        assert in_set == {c.name: list(c.values) for c in src.columns if c.values}
        mins = {e.kwargs["column"]: e.kwargs["min_value"] for e in by.get("expect_column_values_to_be_between", [])
                if e.kwargs["column"] != "dob" and "min_value" in e.kwargs}
        assert mins == {c.name: c.min for c in src.columns if c.min is not None}
        pairs = {e.column for e in by.get("expect_column_pair_values_a_to_be_greater_than_b", [])}
        assert pairs == {c.name for c in src.columns if c.max_column or c.min_column}
        (unique,) = [e for e in suite.row_level if e.keep_first]
        assert unique.key_columns == list(src.natural_key)
        if src.identity:
            regex = {e.kwargs["column"] for e in by["expect_column_values_to_match_regex"]}
            assert "postcode" in regex


def test_period_end_is_a_suite_parameter():
    for source in ("attendance", "asb", "benefits", "employment", "interventions"):
        raw = (suite_root() / f"{source}.json").read_text(encoding="utf-8")
        assert '"$PARAMETER": "period_end"' in raw


@pytest.mark.parametrize("value, ok", [
    ("S65 1AB", True), ("s651ab", True), (" S65  1AB ", True), ("S65-1AB", True), ("EC1A 1BB", True),
    ("W1A 0AX", True), ("M1 1AE", True), ("GIR 0AA", True), ("S65", False), ("S65 1A", False), ("12345", False),
    ("S651ABX", False), ("SW1A1AAA", False)])
def test_postcode_shape(value, ok):
    import re
    (e,) = [e for e in load_suite("asb").row_level if e.column == "postcode" and "regex" in e.kwargs]
    assert bool(re.search(e.kwargs["regex"], value.strip())) is ok


@pytest.mark.parametrize("value, ok", [("AB123456C", True), ("JT000001A", True), ("AB123456", False),
                                       ("BG123456C", False), ("DA123456C", False), ("AO123456C", False),
                                       ("AB123456E", False)])
def test_nino_shape(value, ok):
    import re
    (e,) = [e for e in load_suite("benefits").row_level if e.column == "nino"]
    assert bool(re.search(e.kwargs["regex"], value)) is ok


def test_gx_is_imported_lazily():
    """`pbr --help` and importing the pipeline stay fast: GX is imported only when validating."""
    code = ("import sys, pbr.cli, pbr.refresh, pbr.ingest, pbr.validation; "
            "from click.testing import CliRunner; CliRunner().invoke(pbr.cli.main, ['--help']); "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_old_store_gains_the_expectation_column(tmp_path):
    """A store made before schema version 3 migrates: quarantined rows keep a NULL expectation and
    quarantine.csv their old reason."""
    import duckdb
    from pbr.sqlfiles import migrations, statements
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, name, sql in migrations():
        if version < 3:
            for stmt in statements(sql):
                con.execute(stmt)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute("INSERT INTO extract_file VALUES (1, 'employment', 'employment.csv', 'csv', 'x', 1, 2, 1, 1, "
                "'2025-12', now(), NULL, NULL)")
    con.execute("INSERT INTO quarantine VALUES (1, 'employment.csv', 3, 'record_type', 'not one of: employment', NULL)")
    con.close()
    from pbr.refresh import refresh
    folder = write_delivery(tmp_path / "d", asb=[good_row("asb", 1), {**good_row("asb", 2), "agency": "x"}])
    result = refresh("2025-12", folder, db, tmp_path / "out")
    with open(result.out_dir / "quarantine.csv", newline="") as fh:
        assert list(csv.DictReader(fh)) == [
            {"file": "employment.csv", "line": "3", "column": "record_type", "reason": "not one of: employment"},
            {"file": "asb.csv", "line": "3", "column": "agency",
             "reason": "not one of: police, council, housing, yot [expect_column_values_to_be_in_set]"}]
