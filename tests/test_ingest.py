"""Reading deliveries (data-contract.md): formats, header matching, column mappings, row
validation into the quarantine, file errors that stop the run before anything is written, and
superseding rows across deliveries."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from builders import asb, attendance, benefit, employment, intervention, person, write_delivery
from pbr.contract import sources
from pbr.errors import InputErrors, PbrError

# A surname no real data would hold: it must never reach an error message or quarantine.csv.
SURNAME = "Zebedeeworth"
MUM = person("Ann", SURNAME, "1985-03-02")
KID = person("Bob", SURNAME, "2012-05-05")
NINO = "AB123456C"
UPN = "K000000000001"

# A family meeting all three criteria at R = 2026-01-31.
WORK = benefit(MUM, NINO, "jsa", "2025-06-01")
EDU = attendance(KID, UPN, "2025/26", "autumn", possible=100, unauthorised=20)
CRIME = asb(KID, "Y1", "E1", "2025-11-10", "asbo")


def cols(source: str) -> list[str]:
    return sources()[source].column_names


def write_rows(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8", bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        if bom:
            fh.write("\ufeff")
        w = csv.writer(fh)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return path


def as_list(source: str, row: dict) -> list:
    return [row.get(c, "") for c in cols(source)]


def qrows(run, file: str) -> list[tuple[str, str]]:
    return sorted((q["line"], q["column"]) for q in run.quarantine if q["file"] == file)


def file_summary(run, source: str) -> dict:
    (f,) = [f for f in run.summary["files"] if f["source"] == source]
    return f


# --------------------------------------------------------------------------- formats


def test_csv_without_bom_loads(pipeline):
    run = pipeline.refresh("2026-01", benefits=[WORK], attendance=[EDU], asb=[CRIME])
    assert run.only_family()["route"] == "three_criteria"
    assert {f["source"]: f["rows_loaded"] for f in run.summary["files"]} == {"benefits": 1, "attendance": 1, "asb": 1}
    assert run.summary["quarantined_rows"] == 0


def test_csv_with_bom_loads(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    write_rows(folder / "attendance.csv", cols("attendance"), [as_list("attendance", EDU)], bom=True)
    assert (folder / "attendance.csv").read_bytes().startswith(b"\xef\xbb\xbfforename,")
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"
    assert file_summary(run, "attendance")["rows_loaded"] == 1
    assert run.quarantine == []


def _xlsx(path: Path, source: str, rows: list[dict], *, second_sheet: list[list] | None = None,
          typed: bool = True) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "extract"
    ws.append(cols(source))
    for r in rows:
        values = []
        for c in cols(source):
            v = r.get(c, "")
            if v == "":
                v = None
            elif typed and isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
                v = date.fromisoformat(v)  # a real Excel date cell
            elif not typed:
                v = str(v)
            values.append(v)
        ws.append(values)
    if second_sheet is not None:
        ws2 = wb.create_sheet("notes")
        for r in second_sheet:
            ws2.append(r)
        wb.active = 1  # the workbook opens on the second sheet: pbr must still read the first
    wb.save(path)
    return path


def test_xlsx_first_sheet_is_read_even_with_a_second_sheet(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    # The second sheet holds another, different pupil: it must be ignored.
    other = attendance(person("Zed", "Other", "2013-01-01"), "K999", "2025/26", "autumn", possible=100)
    _xlsx(folder / "attendance.xlsx", "attendance", [EDU],
          second_sheet=[cols("attendance"), as_list("attendance", other)])
    run = pipeline.refresh("2026-01", folder)
    fam = run.only_family()
    assert fam["route"] == "three_criteria" and fam["education"] == "true"
    assert file_summary(run, "attendance")["rows_read"] == 1
    assert run.query("SELECT upn, dob, sessions_possible, sessions_unauthorised FROM raw_attendance") == [
        (UPN, date(2012, 5, 5), 100, 20)]


def test_xlsx_quarantine_lines_count_empty_rows(pipeline):
    """Line numbers are the sheet's row numbers (header row 1), empty rows included."""
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    _xlsx(folder / "attendance.xlsx", "attendance",
          [EDU, {}, {}, {**EDU, "term": "summer", "academic_year": "2024/25", "provision": "home_school"}])
    run = pipeline.refresh("2026-01", folder)
    assert qrows(run, "attendance.xlsx") == [("5", "provision")]
    f = file_summary(run, "attendance")
    assert (f["rows_loaded"], f["rows_quarantined"]) == (1, 1)
    assert run.query("SELECT line_no FROM raw_attendance") == [(2,)]


def test_csv_blank_lines_are_not_rows(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    write_rows(folder / "attendance.csv", cols("attendance"),
               [as_list("attendance", EDU), [], as_list("attendance", {**EDU, "term": "winter"}), []])
    run = pipeline.refresh("2026-01", folder)
    assert qrows(run, "attendance.csv") == [("4", "term")]
    f = file_summary(run, "attendance")
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (2, 1, 1)


def test_xlsx_with_text_cells_loads(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    _xlsx(folder / "attendance.xlsx", "attendance", [EDU], typed=False)
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"


def test_parquet_with_typed_columns_loads(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    names = cols("attendance")
    text = pl.DataFrame({c: [str(EDU[c]) if EDU.get(c, "") != "" else None] for c in names},
                        schema={c: pl.String for c in names})
    df = text.with_columns(
        pl.col("dob").str.to_date(),
        pl.col("sessions_possible", "sessions_unauthorised", "sessions_authorised", "fixed_exclusions").cast(pl.Int64),
        pl.col("permanent_exclusion") == "Y",
    )
    assert df.schema["dob"] == pl.Date and df.schema["permanent_exclusion"] == pl.Boolean
    df.write_parquet(folder / "attendance.parquet")
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"
    assert run.query("SELECT upn, dob, sessions_unauthorised, fixed_exclusions, permanent_exclusion "
                     "FROM raw_attendance") == [(UPN, date(2012, 5, 5), 20, 0, False)]


def test_parquet_with_text_columns_loads(pipeline):
    folder = pipeline.delivery(benefits=[WORK], attendance=[EDU])
    pl.DataFrame({c: [str(CRIME.get(c, ""))] for c in cols("asb")}).write_parquet(folder / "asb.parquet")
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["crime_asb"] == "true"


# --------------------------------------------------------------------------- headers


def test_headers_matched_case_and_space_insensitively(pipeline):
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    header = [f"  {c.upper()} " if i % 2 else c.title() for i, c in enumerate(cols("attendance"))]
    write_rows(folder / "attendance.csv", header, [as_list("attendance", EDU)])
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"
    assert run.quarantine == []


def test_column_mapping_from_config(pipeline):
    mapping = {"upn": "Pupil UPN", "forename": "First Name", "sessions_unauthorised": "Unauth Sessions"}
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    header = [mapping.get(c, c) for c in cols("attendance")]
    header[header.index("Pupil UPN")] = " PUPIL upn "  # mapping keys are matched like headers
    write_rows(folder / "attendance.csv", header, [as_list("attendance", EDU)])
    config = {"column_mappings": {"attendance": {v: k for k, v in mapping.items()}}}

    # Without the mapping the file's headers are not contract columns: a file error naming it.
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-01", folder)
    assert "attendance.csv" in str(ei.value)

    run = pipeline.refresh("2026-01", folder, config=config)
    assert run.only_family()["route"] == "three_criteria"
    assert run.query("SELECT upn, forename, sessions_unauthorised FROM raw_attendance") == [(UPN, "Bob", 20)]


def test_optional_columns_may_be_absent(pipeline):
    """Only required columns are needed; absent optional ones take their defaults."""
    folder = pipeline.delivery(benefits=[WORK], asb=[CRIME])
    required = sources()["attendance"].required
    write_rows(folder / "attendance.csv", required, [[EDU[c] for c in required]])
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"
    assert run.query("SELECT fixed_exclusions, permanent_exclusion, provision FROM raw_attendance") == [
        (0, False, "mainstream")]


def test_boolean_spellings(pipeline):
    spellings = {"Y": True, "y": True, "true": True, "TRUE": True, "1": True,
                 "N": False, "n": False, "false": False, "False": False, "0": False, "": False}
    rows = [attendance(KID, f"K{i}", "2025/26", "autumn", permanent=v) for i, v in enumerate(spellings)]
    run = pipeline.refresh("2026-01", attendance=rows)
    assert run.quarantine == []
    got = dict(run.query("SELECT upn, permanent_exclusion FROM raw_attendance"))
    assert got == {f"K{i}": want for i, want in enumerate(spellings.values())}


# --------------------------------------------------------------------------- dates


def test_uk_dates_accepted(pipeline):
    crime = asb({**KID, "dob": "05/05/2012"}, "Y1", "E1", "10/11/2025", "asbo")
    work = benefit({**MUM, "dob": "02/03/1985"}, NINO, "jsa", "01/06/2025")
    run = pipeline.refresh("2026-01", benefits=[work], attendance=[EDU], asb=[crime])
    assert run.quarantine == []
    assert run.query("SELECT dob, event_date FROM raw_asb") == [(date(2012, 5, 5), date(2025, 11, 10))]
    assert run.query("SELECT dob, start_date FROM raw_benefits") == [(date(1985, 3, 2), date(2025, 6, 1))]
    # The UK-dated rows link with the ISO-dated attendance row and qualify the family.
    assert run.only_family()["route"] == "three_criteria"


BAD_DATES = ["31/02/2026", "2026-02-30", "2025-13-01", "12/31/2025", "10-11-2025", "2025/11/10", "yesterday"]


@pytest.fixture(scope="module")
def bad_dates_run(tmp_path_factory, pipeline_at):
    pipe = pipeline_at(tmp_path_factory.mktemp("dates"))
    rows = [asb(KID, "Y1", "E0", "2025-11-10", "asbo")]
    rows += [asb(KID, "Y1", f"E{i + 1}", bad, "asbo") for i, bad in enumerate(BAD_DATES)]
    return pipe.refresh("2026-01", asb=rows)


@pytest.mark.parametrize("i, bad", list(enumerate(BAD_DATES)))
def test_impossible_or_unknown_dates_quarantined(bad_dates_run, i, bad):
    line = str(i + 3)  # header line 1, a good row on line 2
    q = [r for r in bad_dates_run.quarantine if r["line"] == line]
    assert [(r["file"], r["column"]) for r in q] == [("asb.csv", "event_date")]
    assert q[0]["reason"]


def test_impossible_dates_only_their_rows_rejected(bad_dates_run):
    f = file_summary(bad_dates_run, "asb")
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (1 + len(BAD_DATES), 1, len(BAD_DATES))
    assert bad_dates_run.query("SELECT event_id, event_date FROM raw_asb") == [("E0", date(2025, 11, 10))]


# --------------------------------------------------------------------------- rejected rows

GOOD_ROWS = {
    "attendance": lambda i: attendance(KID, f"K{i:012d}", "2025/26", "autumn", possible=100, unauthorised=5),
    "asb": lambda i: asb(KID, "Y1", f"E{i}", "2025-11-10", "asb_incident"),
    "benefits": lambda i: benefit(MUM, f"AB12345{i}C", "jsa", "2025-06-01"),
    "employment": lambda i: employment(MUM, f"AB12345{i}C", "employment", "2025-06-01", "2025-09-30"),
    "interventions": lambda i: intervention(KID, "C1", f"IR{i}", "2025-10-01", "2026-01-10"),
}


BAD_ROW_CASES = [
    ("attendance", {"upn": ""}, "upn", "missing"),
    ("attendance", {"surname": " "}, "surname", "missing"),
    ("asb", {"event_id": ""}, "event_id", "missing"),
    ("benefits", {"postcode": ""}, "postcode", "missing"),
    ("asb", {"event_date": "2025-13-01"}, "event_date", "date"),
    ("asb", {"dob": "31/02/2012"}, "dob", "date"),
    ("benefits", {"start_date": "2025-02-29"}, "start_date", "date"),
    ("attendance", {"sessions_possible": "ten"}, "sessions_possible", "number"),
    ("attendance", {"fixed_exclusions": "1.5"}, "fixed_exclusions", "number"),
    ("attendance", {"fixed_exclusions": "-1"}, "fixed_exclusions", "0"),
    ("attendance", {"sessions_unauthorised": "-2"}, "sessions_unauthorised", "0"),
    ("attendance", {"sessions_possible": "100", "sessions_unauthorised": "120"}, "sessions_unauthorised",
     "sessions_possible"),
    ("attendance", {"sessions_authorised": "101"}, "sessions_authorised", "sessions_possible"),
    ("attendance", {"permanent_exclusion": "maybe"}, "permanent_exclusion", "y"),
    ("benefits", {"benefit_cap": "2"}, "benefit_cap", "y"),
    ("asb", {"event_type": "asb_incidnet"}, "event_type", "asb_incident"),
    ("asb", {"agency": "fire"}, "agency", "police"),
    ("attendance", {"term": "winter"}, "term", "autumn"),
    ("attendance", {"provision": "home_school"}, "provision", "pru"),
    ("attendance", {"academic_year": "2025-26"}, "academic_year", ""),
    ("employment", {"record_type": "apprenticeship"}, "record_type", "employment"),
    ("interventions", {"role": "parent"}, "role", "adult"),
    ("benefits", {"end_date": "2025-05-31"}, "end_date", "start_date"),
    ("employment", {"end_date": "2025-05-01"}, "end_date", "start_date"),
    ("interventions", {"closed_date": "2025-09-30"}, "closed_date", "attached_date"),
]


@pytest.fixture(scope="module")
def bad_rows_run(tmp_path_factory, pipeline_at):
    """One delivery with a file per source: a good row, then each case's bad row followed by a
    good row. Returns the run and, per case, the file and line of its bad row."""
    pipe = pipeline_at(tmp_path_factory.mktemp("badrows"))
    tables: dict[str, list[dict]] = {}
    where = {}
    for n, (source, change, column, keyword) in enumerate(BAD_ROW_CASES):
        rows = tables.setdefault(source, [GOOD_ROWS[source](1000)])
        rows.append({**GOOD_ROWS[source](2 * n), **change})
        where[n] = (f"{source}.csv", str(len(rows) + 1))  # header is line 1
        rows.append(GOOD_ROWS[source](2 * n + 1))
    return pipe.refresh("2026-01", **tables), where, tables


@pytest.mark.parametrize("n", range(len(BAD_ROW_CASES)),
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(BAD_ROW_CASES)])
def test_bad_row_quarantined_with_file_line_column_and_reason(bad_rows_run, n):
    run, where, _ = bad_rows_run
    source, change, column, keyword = BAD_ROW_CASES[n]
    file, line = where[n]
    q = [r for r in run.quarantine if (r["file"], r["line"]) == (file, line)]
    assert [r["column"] for r in q] == [column]
    assert q[0]["reason"] and keyword.lower() in q[0]["reason"].lower()
    assert run.query(f"SELECT count(*) FROM raw_{source} WHERE line_no = ?", int(line)) == [(0,)]


def test_good_rows_of_files_with_bad_rows_load(bad_rows_run):
    run, where, tables = bad_rows_run
    assert len(run.quarantine) == len(BAD_ROW_CASES)
    assert run.summary["quarantined_rows"] == len(BAD_ROW_CASES)
    for source, rows in tables.items():
        bad_lines = {int(line) for file, line in where.values() if file == f"{source}.csv"}
        f = file_summary(run, source)
        assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (
            len(rows), len(rows) - len(bad_lines), len(bad_lines))
        loaded = {r[0] for r in run.query(f"SELECT line_no FROM raw_{source}")}
        assert loaded == set(range(2, len(rows) + 2)) - bad_lines


def test_quarantine_csv_holds_no_personal_data(bad_rows_run):
    run, _, _ = bad_rows_run
    text = (run.out_dir / "quarantine.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "file,line,column,reason"
    for value in (SURNAME, "1 High Street", "S65 1AB", "2012-05-05", "1985-03-02", "AB12345"):
        assert value.lower() not in text.lower(), value


def test_several_bad_values_in_one_row_reported_per_column(pipeline):
    rows = [GOOD_ROWS["attendance"](1),
            {**GOOD_ROWS["attendance"](2), "term": "winter", "fixed_exclusions": "x", "dob": "2012-02-31"}]
    run = pipeline.refresh("2026-01", attendance=rows)
    assert qrows(run, "attendance.csv") == [("3", "dob"), ("3", "fixed_exclusions"), ("3", "term")]
    f = file_summary(run, "attendance")
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (2, 1, 1)


DUPLICATE_CASES = {c[0]: c for c in [
    ("asb", [asb(KID, "Y1", "E1", "2025-11-10", "asbo"), asb(KID, "Y2", "E1", "2025-11-10", "asbo"),
             asb(KID, "Y1", "E1", "2025-11-12", "asb_incident")], "event_id"),
    ("attendance", [attendance(KID, UPN, "2025/26", "autumn"), attendance(KID, UPN, "2025/26", "autumn", school_urn="2"),
                    attendance(KID, UPN, "2025/26", "autumn", unauthorised=9)], "upn"),
    ("benefits", [benefit(MUM, "", "jsa", "2025-06-01"), benefit(MUM, "", "esa", "2025-06-01"),
                  benefit(MUM, "", "jsa", "2025-06-01", "2025-12-01")], "benefit"),
    ("interventions", [intervention(KID, "C1", "IR1", "2025-10-01"), intervention(MUM, "C1", "IR2", "2025-10-01"),
                       intervention(KID, "C1", "IR1", "2025-10-02")], "case_ref"),
]}


@pytest.fixture(scope="module")
def duplicates_run(tmp_path_factory, pipeline_at):
    pipe = pipeline_at(tmp_path_factory.mktemp("dups"))
    return pipe.refresh("2026-01", **{source: rows for source, rows, _ in DUPLICATE_CASES.values()})


@pytest.mark.parametrize("source", list(DUPLICATE_CASES))
def test_duplicate_natural_key_in_a_file_quarantined(duplicates_run, source):
    """Lines 2 and 4 share a natural key (line 3 differs in one key field): the repeat is rejected."""
    _, rows, column_part = DUPLICATE_CASES[source]
    q = [r for r in duplicates_run.quarantine if r["file"] == f"{source}.csv"]
    assert [r["line"] for r in q] == ["4"]
    assert column_part in q[0]["column"] and q[0]["reason"]
    f = file_summary(duplicates_run, source)
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (3, 2, 1)
    assert duplicates_run.query(f"SELECT line_no FROM raw_{source} ORDER BY 1") == [(2,), (3,)]
    assert SURNAME.lower() not in (duplicates_run.out_dir / "quarantine.csv").read_text().lower()


# --------------------------------------------------------------------------- file errors


def _good_attendance(folder: Path) -> None:
    write_delivery(folder, attendance=[EDU])


def _missing_required_column(folder):
    header = [c for c in cols("attendance") if c != "upn"]
    write_rows(folder / "attendance.csv", header, [[EDU.get(c, "") for c in header]])


def _unexpected_column(folder):
    write_rows(folder / "attendance.csv", cols("attendance") + ["attendance_pct"],
               [as_list("attendance", EDU) + ["20"]])


def _empty_file(folder):
    (folder / "asb.csv").write_bytes(b"")


def _blank_file(folder):
    (folder / "asb.csv").write_text("\n\n  \n")


def _header_only(folder):
    write_rows(folder / "asb.csv", cols("asb"), [])


def _not_utf8(folder):
    write_delivery(folder, benefits=[WORK, benefit(MUM, "CD123456E", "esa", "2025-01-01")])
    p = folder / "benefits.csv"
    p.write_bytes(p.read_bytes().replace(SURNAME.encode(), (SURNAME + "\u00e9").encode("latin-1")))


def _ragged_long(folder):
    write_delivery(folder, attendance=[EDU, {**EDU, "term": "summer", "academic_year": "2024/25"}])
    p = folder / "attendance.csv"
    lines = p.read_text().splitlines()
    lines[2] += ",extra"
    p.write_text("\n".join(lines) + "\n")


def _ragged_short(folder):
    write_delivery(folder, attendance=[EDU, {**EDU, "term": "summer", "academic_year": "2024/25"}])
    p = folder / "attendance.csv"
    lines = p.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]  # the last field (provision) is missing
    p.write_text("\n".join(lines) + "\n")


def _headerless(folder):
    write_rows(folder / "attendance.csv", None, [as_list("attendance", EDU)])


def _misspelt_name(folder):
    write_delivery(folder, asb=[CRIME])
    (folder / "asb.csv").rename(folder / "attendence.csv")


def _two_files_one_source(folder):
    write_delivery(folder, attendance=[EDU])
    _xlsx(folder / "attendance.xlsx", "attendance", [EDU])


def _unsupported_format(folder):
    write_delivery(folder, attendance=[EDU])
    (folder / "attendance.csv").rename(folder / "attendance.xls")


def _not_xlsx(folder):
    write_delivery(folder, asb=[CRIME])
    (folder / "asb.csv").rename(folder / "asb.xlsx")


def _not_parquet(folder):
    write_delivery(folder, asb=[CRIME])
    (folder / "asb.csv").rename(folder / "asb.parquet")


FILE_ERRORS = {
    "missing_required_column": (_missing_required_column, "attendance.csv"),
    "unexpected_column": (_unexpected_column, "attendance.csv"),
    "empty_file": (_empty_file, "asb.csv"),
    "blank_file": (_blank_file, "asb.csv"),
    "header_only": (_header_only, "asb.csv"),
    "not_utf8": (_not_utf8, "benefits.csv"),
    "ragged_row_too_long": (_ragged_long, "attendance.csv"),
    "ragged_row_too_short": (_ragged_short, "attendance.csv"),
    "headerless": (_headerless, "attendance.csv"),
    "misspelt_name": (_misspelt_name, "attendence.csv"),
    "two_files_one_source": (_two_files_one_source, "attendance.xlsx"),
    "unsupported_format": (_unsupported_format, "attendance.xls"),
    "not_xlsx": (_not_xlsx, "asb.xlsx"),
    "not_parquet": (_not_parquet, "asb.parquet"),
}


@pytest.mark.parametrize("case", list(FILE_ERRORS))
def test_file_error_stops_before_a_store_exists(pipeline, case):
    make, name = FILE_ERRORS[case]
    folder = pipeline.folder()
    make(folder)
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-01", folder)
    message = str(ei.value)
    assert isinstance(ei.value, PbrError) and ei.value.exit_code == 2
    assert name in message
    assert SURNAME.lower() not in message.lower()
    assert all(e.file for e in ei.value.errors)
    assert not pipeline.db.exists()
    assert not (pipeline.out / "2026-01").exists()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, pipeline_at):
    """A store after one good refresh (2026-01), copied into each test that needs it."""
    pipe = pipeline_at(tmp_path_factory.mktemp("baseline"))
    first = pipe.refresh("2026-01", benefits=[WORK], attendance=[EDU], asb=[CRIME])
    assert first.only_family()["route"] == "three_criteria"
    return pipe


@pytest.mark.parametrize("case", list(FILE_ERRORS))
def test_file_error_leaves_the_store_unchanged(baseline, tmp_path, case):
    pipeline = baseline.clone(tmp_path)
    before = pipeline.table_counts()
    assert before["raw_benefits"] == 1
    make, name = FILE_ERRORS[case]
    folder = pipeline.delivery(benefits=[benefit(MUM, NINO, "jsa", "2025-06-01", "2026-02-10")])
    make(folder)
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-02", folder)
    assert name in str(ei.value)
    assert pipeline.table_counts() == before
    assert not (pipeline.out / "2026-02").exists()


def test_file_errors_are_reported_together(pipeline):
    folder = pipeline.folder()
    _empty_file(folder)
    write_rows(folder / "benefits.csv", cols("benefits"), [])
    _missing_required_column(folder)
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-01", folder)
    assert sorted(e.file for e in ei.value.errors) == ["asb.csv", "attendance.csv", "benefits.csv"]


def test_not_utf8_error_names_the_line(pipeline):
    folder = pipeline.folder()
    _not_utf8(folder)
    with pytest.raises(InputErrors) as ei:
        pipeline.refresh("2026-01", folder)
    (e,) = ei.value.errors
    assert e.file == "benefits.csv" and e.line == 2


def test_ragged_row_error_names_the_line(pipeline):
    for make in (_ragged_long, _ragged_short):
        folder = pipeline.folder()
        make(folder)
        with pytest.raises(InputErrors) as ei:
            pipeline.refresh("2026-01", folder)
        assert "line 3" in str(ei.value), str(ei.value)


def test_other_files_in_the_folder_are_ignored(pipeline):
    folder = pipeline.delivery(benefits=[WORK], attendance=[EDU], asb=[CRIME])
    (folder / "README.txt").write_text("notes for the analyst")
    (folder / "archive").mkdir()
    shutil.copy(folder / "asb.csv", folder / "archive" / "asb.csv")
    run = pipeline.refresh("2026-01", folder)
    assert run.only_family()["route"] == "three_criteria"
    assert sorted(f["file_name"] for f in run.summary["files"]) == ["asb.csv", "attendance.csv", "benefits.csv"]


# --------------------------------------------------------------------------- supersede


def test_later_delivery_of_a_natural_key_supersedes(pipeline):
    """Month 1: an open jsa spell (work). Month 2 repeats the spell with its end date before R."""
    m1 = pipeline.refresh("2026-01", benefits=[WORK], attendance=[EDU], asb=[CRIME])
    fam = m1.only_family()
    assert (fam["work"], fam["still_meets_criteria"]) == ("true", "true")
    m2 = pipeline.refresh("2026-02", benefits=[benefit(MUM, NINO, "jsa", "2025-06-01", "2026-02-10")])
    row = m2.only_family()
    assert row["family_id"] == fam["family_id"]
    assert row["work"] == "true"  # the baseline stays frozen
    assert row["still_meets_criteria"] == "false"
    assert m2.summary["no_longer_meeting"] == [fam["family_id"]]
    (status,) = m2.status()
    assert (status["crime_asb"], status["education"], status["work"]) == (True, True, False)
    # Both rows are kept (nothing is dropped); the later one is in force.
    assert m2.query("SELECT count(*) FROM raw_benefits") == [(2,)]


def test_later_delivery_supersedes_within_the_same_key_only(pipeline):
    """A different start date is a different spell: the open one still covers R."""
    pipeline.refresh("2026-01", benefits=[WORK], attendance=[EDU], asb=[CRIME])
    m2 = pipeline.refresh("2026-02", benefits=[benefit(MUM, NINO, "jsa", "2025-06-02", "2026-02-10")])
    assert m2.only_family()["still_meets_criteria"] == "true"


def test_same_file_twice_is_recognised_by_hash(pipeline):
    folder = pipeline.delivery(benefits=[WORK], attendance=[EDU], asb=[CRIME])
    m1 = pipeline.refresh("2026-01", folder)
    assert not any(f["already_loaded"] for f in m1.summary["files"])
    counts = pipeline.table_counts()
    m2 = pipeline.refresh("2026-02", folder)
    assert all(f["already_loaded"] for f in m2.summary["files"])
    for f1, f2 in zip(sorted(m1.summary["files"], key=lambda f: f["source"]),
                      sorted(m2.summary["files"], key=lambda f: f["source"])):
        assert (f2["sha256"], f2["extract_id"]) == (f1["sha256"], f1["extract_id"])
    after = pipeline.table_counts()
    for table in ("extract_file", "raw_attendance", "raw_asb", "raw_benefits", "quarantine"):
        assert after[table] == counts[table], table
    row = m2.only_family()
    assert (row["identified_period"], row["still_meets_criteria"]) == ("2026-01", "true")


def test_same_file_twice_under_another_folder_name(pipeline):
    folder = pipeline.delivery(asb=[CRIME], benefits=[WORK], attendance=[EDU])
    pipeline.refresh("2026-01", folder)
    copy = pipeline.folder("copy")
    shutil.copy(folder / "asb.csv", copy / "asb.csv")
    m2 = pipeline.refresh("2026-02", copy)
    assert [f["already_loaded"] for f in m2.summary["files"]] == [True]
    assert m2.query("SELECT count(*) FROM raw_asb") == [(1,)]


def test_corrected_file_for_the_same_period_replaces_the_earlier(pipeline):
    bad = {**asb(MUM, "Y9", "E9", "2025-12-01", "asb_incident"), "event_date": "2025-12-99"}
    first = pipeline.refresh("2026-01", benefits=[WORK], attendance=[EDU],
                             asb=[CRIME, bad])
    assert first.only_family()["crime_asb"] == "true"
    assert qrows(first, "asb.csv") == [("3", "event_date")]
    # The authority corrects the asb extract: the event was a plain incident, and the bad row is gone
    # but another row is malformed.
    corrected = [asb(KID, "Y1", "E1", "2025-11-10", "asb_incident"), asb(MUM, "Y9", "E9", "2025-12-01", "asb_incident"),
                 {**asb(MUM, "Y9", "E10", "2025-12-02", "asb_incident"), "agency": "nobody"}]
    again = pipeline.refresh("2026-01", asb=corrected)
    assert again.cohort == []  # crime/ASB no longer met: two criteria without local discretion
    assert qrows(again, "asb.csv") == [("4", "agency")]  # only the corrected file's rejects
    files = again.query("SELECT extract_id, replaced_by FROM extract_file WHERE source = 'asb' ORDER BY 1")
    assert files[0][1] == files[1][0] and files[1][1] is None
    (status,) = again.status()
    assert (status["crime_asb"], status["education"], status["work"]) == (False, True, True)
