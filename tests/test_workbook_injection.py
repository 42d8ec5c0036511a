"""Formula injection (issue 6): text from input data never becomes a formula in a workbook.

Hostile identity fields, a hostile case reference and a hostile school URN go through the whole
pipeline (pbr refresh --with-identities); every cell they reach must come back as the literal text,
both as openpyxl reads the file and after LibreOffice has opened and recalculated it. The only
formulas in the files are pbr's own, on the Summary sheets."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from builders import asb, attendance, benefit, intervention, person, write_delivery
from pbr.cli import main

SAMPLE_2025_10 = Path(__file__).resolve().parents[1] / "data" / "sample" / "deliveries" / "2025-10"
from pbr.workbooks.cells import DANGEROUS_START, Formula, cell
from spreadsheet import all_cells, recalculate, sheet_rows

HYPERLINK = '=HYPERLINK("http://x","y")'
HOSTILE_CASE = "=1+1"
HOSTILE_URN = "+1+1"
HOSTILE_SURNAME = "-2+3"
HOSTILE_ADDRESS = "@SUM(1+1)"
CMD = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("inject")
    mum = person(HYPERLINK, "+1+1", "1980-01-01", address=HOSTILE_ADDRESS, postcode="S65 1AB")
    kid = person(CMD, HOSTILE_SURNAME, "2000-05-01", address=HOSTILE_ADDRESS, postcode="S65 1AB")
    rows = dict(
        interventions=[intervention(mum, HOSTILE_CASE, "I-mum", "2012-05-01"),
                       intervention(kid, HOSTILE_CASE, "I-kid", "2012-05-01")],
        asb=[asb(kid, "A-kid", CMD, "2012-01-15", "abc")],
        benefits=[benefit(mum, "NI000001A", "esa", "2011-01-01", cap="Y")],
        attendance=[attendance(kid, "U0001", "2011/12", t, school_urn=HOSTILE_URN, fixed=3 if t == "spring" else 0)
                    for t in ("autumn", "spring")],
    )
    folder = write_delivery(root / "d1", **rows)
    db, out = root / "store.duckdb", root / "out"
    result = CliRunner().invoke(main, ["refresh", "--period", "2012-06", "--extracts", str(folder), "--db", str(db),
                                       "--out", str(out), "--with-identities"])
    assert result.exit_code == 0, result.output
    return out / "2012-06"


def _formula_cells(path: Path) -> dict[str, list[str]]:
    """Per sheet file, the <f> elements of the xlsx XML itself."""
    found = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode("utf-8")
                found[name] = re.findall(r"<f>(.*?)</f>", xml)
    return found


def test_hostile_text_comes_back_literal(hostile):
    claims = sheet_rows(hostile / "claims.xlsx", "Claims")
    assert claims and {c["case_ref"] for c in claims} == {HOSTILE_CASE}
    people = sheet_rows(hostile / "claims.xlsx", "People")
    assert {(p["forename"], p["surname"]) for p in people} == {(HYPERLINK, "+1+1"), (CMD, HOSTILE_SURNAME)}
    cohort = sheet_rows(hostile / "cohort.xlsx", "Cohort")
    assert {c["case_ref"] for c in cohort} == {HOSTILE_CASE}
    wb = load_workbook(hostile / "claims.xlsx")
    for sheet, c in all_cells(hostile / "claims.xlsx"):
        if isinstance(c.value, str) and c.value.startswith(DANGEROUS_START) and sheet != "Summary":
            assert c.data_type == "s", (sheet, c.coordinate)
            assert wb[sheet][c.coordinate].quotePrefix, (sheet, c.coordinate)


def test_only_our_formulas_are_formulas(hostile):
    for book in ("claims.xlsx", "cohort.xlsx"):
        wb = load_workbook(hostile / book)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        assert ws.title == "Summary", (book, ws.title, c.coordinate, c.value)
                        assert re.match(r"^=(COUNTIFS|SUMIFS|SUM|IF|COUNTA)\(", c.value), c.value
                        assert "HYPERLINK" not in c.value and "cmd" not in c.value
        xml_formulas = _formula_cells(hostile / book)
        assert xml_formulas["xl/worksheets/sheet1.xml"]  # the Summary's
        assert all(not f for name, f in xml_formulas.items() if name != "xl/worksheets/sheet1.xml"), book


def test_libreoffice_keeps_hostile_text_as_text(hostile, tmp_path):
    calc = recalculate(hostile / "claims.xlsx", tmp_path / "calc")
    claims = sheet_rows(calc, "Claims")
    assert {c["case_ref"] for c in claims} == {HOSTILE_CASE}  # not 2
    people = sheet_rows(calc, "People")
    assert {p["forename"] for p in people} == {HYPERLINK, CMD}  # not "y", not an error
    assert {p["surname"] for p in people} == {"+1+1", HOSTILE_SURNAME}  # not 2, not 1
    calc_cohort = recalculate(hostile / "cohort.xlsx", tmp_path / "calc")
    assert {c["case_ref"] for c in sheet_rows(calc_cohort, "Cohort")} == {HOSTILE_CASE}


def test_cell_writer_unit(tmp_path):
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("t")
    hostile = ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", CMD, HYPERLINK, "plain", "1-2"]
    ws.append([cell(ws, v) for v in hostile] + [cell(ws, Formula("=1+2")), cell(ws, date(2012, 6, 30)),
                                                   cell(ws, 5)])
    wb.save(tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx")["t"]
    got = [c for c in back[1]]
    for v, c in zip(hostile, got):
        # XML stores a carriage return as a line feed; the text stays text
        assert c.data_type == "s" and c.value == v.replace("\r", "\n"), v
        assert c.quotePrefix == v.startswith(DANGEROUS_START), v
    assert got[len(hostile)].data_type == "f" and got[len(hostile)].value == "=1+2"
    assert got[len(hostile) + 1].is_date and got[len(hostile) + 2].value == 5
    with pytest.raises(ValueError):
        Formula("SUM(A1)")


def test_control_characters_are_shown_not_fatal(tmp_path):
    """A control character a workbook cannot store (delivered text may hold one) is written as
    U+FFFD, in table rows and single cells alike; openpyxl used to refuse the value, quoting it,
    and the refresh failed."""
    from pbr.workbooks.cells import table_sheet

    wb = Workbook(write_only=True)
    table_sheet(wb, "T", ["case_ref", "n"], [["TF1\x07", 1.5], ["\x01=x", 2.0], ["ok\tok", 3.0]])
    ws = wb.create_sheet("c")
    ws.append([cell(ws, "a\x0bb"), cell(ws, "tab\tand\nline")])
    wb.save(tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx")
    assert [r[0].value for r in back["T"].iter_rows(min_row=2)] == ["TF1\ufffd", "\ufffd=x", "ok\tok"]
    assert [c.value for c in back["c"][1]] == ["a\ufffdb", "tab\tand\nline"]


def test_a_refresh_with_a_control_character_in_a_case_ref_writes_its_workbooks(tmp_path):
    import csv
    import shutil

    from pbr.refresh import refresh

    delivery = tmp_path / "d"
    shutil.copytree(SAMPLE_2025_10, delivery)
    path = delivery / "interventions.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    i = rows[0].index("case_ref")
    for r in rows[1:]:
        r[i] += "\x07"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    result = refresh("2025-10", delivery, tmp_path / "s.duckdb", tmp_path / "out")
    cohort = load_workbook(result.out_dir / "cohort.xlsx")["Cohort"]
    refs = [c.value for c in next(cohort.iter_cols(min_row=2, min_col=[c.value for c in cohort[1]].index("case_ref") + 1,
                                                   max_col=[c.value for c in cohort[1]].index("case_ref") + 1))]
    assert any(r and r.endswith("\ufffd") for r in refs)
    with open(result.out_dir / "cohort.csv", newline="", encoding="utf-8") as fh:
        assert any(r["case_ref"].endswith("\x07") for r in csv.DictReader(fh) if r["case_ref"])
