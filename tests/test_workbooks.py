"""claims.xlsx and cohort.xlsx (issue 6, docs/workbooks.md): read back with openpyxl and checked
against the store, claims.csv and the rules; the Summary's formulas recalculated by LibreOffice.

Four hand-made families (the builders of test_claims.py), all attached at A = 2012-06-30:
  Ash    ASB 5 -> 2 (pass), a pupil with clean terms (education neutral): route A at 2012-12
  Pine   ESA at A, a job from 2012-10-01: 91 days by 2012-12-31: route B at 2012-12
  Willow the mother starts the work programme 2012-08-15: progress to work at 2012-12
  Kale   every leg neutral: only its attachment fee (2012-06)"""

from __future__ import annotations

import csv
import hashlib
import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from openpyxl import load_workbook

from conftest import Pipeline
from pbr.refresh import refresh
from pbr.rulebook import load_rulebook
from pbr.workbooks.rebuild import rebuild_workbooks
from spreadsheet import all_cells, recalculate, sheet_rows
from test_claims import Deliveries, Fam, asb_5_to_2, old_asbo, on_esa

CLAIM_SHEETS = ["Summary", "Claims", "Evidence", "Attendance", "Spells", "Records", "Audit sample", "Sources",
                "Rules", "Glossary"]


def deliveries() -> tuple[Deliveries, dict[str, Fam]]:
    fams = {n: Fam(n) for n in ("Ash", "Pine", "Willow", "Kale")}
    d = Deliveries()
    for f in fams.values():
        d.add("2012-06", "interventions", f.case_rows("2012-05-01"))
    a = fams["Ash"]
    asb_5_to_2(d, a)
    on_esa(d, a)
    d.add("2012-06", "attendance", a.entry_terms(fixed_in_spring=0))
    d.add("2012-12", "attendance", a.term("2012/13", "autumn", unauthorised=7))
    p = fams["Pine"]
    old_asbo(d, p)
    on_esa(d, p)
    d.add("2012-12", "benefits", p.benefit("esa", "2011-01-01", "2012-09-30", cap="Y"))
    d.add("2012-12", "employment", p.job(p.mum, "employment", "2012-10-01"))
    w = fams["Willow"]
    old_asbo(d, w)
    on_esa(d, w)
    d.add("2012-12", "employment", w.job(w.mum, "work_programme", "2012-08-15"))
    k = fams["Kale"]
    old_asbo(d, k)
    on_esa(d, k)
    return d, fams


class Books:
    pass


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Books:
    root = tmp_path_factory.mktemp("workbooks")
    pipe = Pipeline(root)
    d, fams = deliveries()
    b = Books()
    b.folders = {}
    for period in ("2012-06", "2012-12"):
        b.folders[period] = pipe.delivery(**d.tables(period))
        result = refresh(period, b.folders[period], pipe.db, pipe.out)
    b.db, b.out, b.period = pipe.db, pipe.out / "2012-12", "2012-12"
    b.claims_xlsx, b.cohort_xlsx = b.out / "claims.xlsx", b.out / "cohort.xlsx"
    b.summary = result.summary
    with open(b.out / "family_members.csv", encoding="utf-8") as fh:
        members = list(csv.DictReader(fh))
    keys = {(m["source"], m["source_key"]): m["family_id"] for m in members}
    b.ids = {n: keys[f.key] for n, f in fams.items()}
    b.fams = fams
    b.rows = {s: sheet_rows(b.claims_xlsx, s) for s in CLAIM_SHEETS if s not in ("Summary",)}
    return b


def store(b: Books, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(b.db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def item(b: Books, name: str, claim_type: str) -> dict:
    rows = [r for r in b.rows["Claims"] if r["family_id"] == b.ids[name] and r["claim_type"] == claim_type]
    assert len(rows) == 1, (name, claim_type, rows)
    return rows[0]


def evidence(b: Books, claim_id: str) -> dict[str, dict]:
    return {r["leg"]: r for r in b.rows["Evidence"] if r["claim_id"] == claim_id}


# ---------------------------------------------------------------------------------------------

def test_sheets_layout_and_protection(books):
    wb = load_workbook(books.claims_xlsx)
    assert wb.sheetnames == CLAIM_SHEETS
    for name in CLAIM_SHEETS:
        ws = wb[name]
        assert ws.protection.sheet, name
        assert ws.freeze_panes, name
        assert ws.print_area, name
        if name != "Summary":
            assert ws.auto_filter.ref, name
    claims = wb["Claims"]
    assert claims.freeze_panes == "A2"
    assert claims["F2"].number_format == '"£"#,##0.00'
    header = [c.value for c in claims[1]]
    assert header[:6] == ["batch_id", "claim_id", "case_ref", "family_id", "claim_type", "amount"]
    g_col = header.index("attached_date") + 1
    assert claims.cell(2, g_col).is_date and claims.cell(2, g_col).number_format == "yyyy-mm-dd"
    assert wb["Claims"].column_dimensions["A"].width >= 10


def test_claims_sheet_is_claims_csv(books):
    with open(books.out / "claims.csv", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    sheet = books.rows["Claims"]
    assert len(sheet) == len(csv_rows) == 3  # Ash route A, Pine route B, Willow progress to work
    for s, c in zip(sheet, csv_rows):
        assert list(s) == list(c)
        for k, v in c.items():
            got = s[k]
            if got is None:
                assert v == "", k
            elif isinstance(got, date):
                assert got.date().isoformat() == v, k
            elif isinstance(got, bool):
                assert ("true" if got else "false") == v, k
            elif isinstance(got, (int, float)):
                assert Decimal(str(got)) == Decimal(v), k
            else:
                assert got == v, k


def test_claim_items_are_the_stores(books):
    stored = store(books, """SELECT i.claim_id, i.family_id, i.claim_type, i.amount FROM claim_item i
                             JOIN claim_batch b USING (batch_id) WHERE b.period = ? ORDER BY 1""", books.period)
    sheet = [(r["claim_id"], r["family_id"], r["claim_type"], Decimal(str(r["amount"])).quantize(Decimal("0.01")))
             for r in books.rows["Claims"]]
    assert sheet == [(c, f, t, a) for c, f, t, a in stored]
    assert {(r[1], r[2]) for r in stored} >= {(books.ids["Ash"], "route_a"), (books.ids["Pine"], "route_b"),
                                              (books.ids["Willow"], "progress_to_work")}


def _count_verdict(baseline, outcome, threshold) -> str:
    """The rules' reduction test, worked from the sheet's figures alone."""
    if baseline:
        return "pass" if outcome / baseline <= threshold + 1e-9 else "fail"
    return "fail" if outcome else "neutral"


def test_route_a_evidence_rederives_the_claim(books):
    rb = load_rulebook("phase1-2012")
    c = item(books, "Ash", "route_a")
    ev = evidence(books, c["claim_id"])
    assert set(ev) == {"asb", "offending", "education", "route_a"}
    r = dict(zip(["asb_leg", "asb_baseline", "asb_outcome", "offending_leg", "offending_baseline", "offending_outcome",
                  "education_leg", "education_failing"], store(books, """
        SELECT asb_leg, asb_baseline, asb_outcome, offending_leg, offending_baseline, offending_outcome,
               education_leg, education_failing FROM family_result WHERE period = ? AND family_id = ?""",
        books.period, books.ids["Ash"])[0]))
    asb = ev["asb"]
    # A = 2012-06-30, C = 2012-12-31: (A - 6m, A] and (C - 6m, C]
    assert (asb["baseline_from"].date(), asb["baseline_to"].date()) == (date(2011, 12, 30), date(2012, 6, 30))
    assert (asb["outcome_from"].date(), asb["outcome_to"].date()) == (date(2012, 6, 30), date(2012, 12, 31))
    assert (asb["baseline_count"], asb["outcome_count"]) == (r["asb_baseline"], r["asb_outcome"]) == (5, 2)
    assert asb["threshold_pct"] == pytest.approx(rb.get("results.asb.max_pct_of_baseline") / 100)
    assert asb["outcome_pct_of_baseline"] == pytest.approx(0.4)
    for leg in ("asb", "offending"):
        e = ev[leg]
        assert e["verdict"] == r[f"{leg}_leg"] == _count_verdict(e["baseline_count"], e["outcome_count"],
                                                                 e["threshold_pct"]), leg
    assert ev["education"]["verdict"] == r["education_leg"] == "neutral"
    assert ev["education"]["outcome_count"] == r["education_failing"] == 0
    verdicts = [ev[l]["verdict"] for l in ("asb", "offending", "education")]
    assert all(v in ("pass", "neutral") for v in verdicts) and "pass" in verdicts
    # the counted events are in Records, each inside its window
    recs = [x for x in books.rows["Records"] if x["claim_id"] == c["claim_id"] and x["leg"] == "asb"]
    assert sum(1 for x in recs if x["window"] == "baseline") >= 5
    for x in recs:
        assert x["window_start"] < x["record_date"] <= x["window_end"]


def test_attendance_sheet_per_pupil_and_term(books):
    c = item(books, "Ash", "route_a")
    rows = [r for r in books.rows["Attendance"] if r["claim_id"] == c["claim_id"]]
    # the last 3 terms at 2012-12-31: spring 2011/12, summer 2011/12 (not delivered), autumn 2012/13
    got = sorted((r["academic_year"], r["term"], r["sessions_possible"], r["sessions_unauthorised"],
                  r["fixed_exclusions"]) for r in rows)
    assert got == [("2011/12", "spring", 100, 0, 0), ("2012/13", "autumn", 100, 7, 0)]
    autumn = next(r for r in rows if r["term"] == "autumn")
    assert autumn["unauthorised_pct"] == pytest.approx(0.07)
    assert autumn["term_end"].date() == date(2012, 12, 31)
    assert autumn["file"] == "attendance.csv"
    assert autumn["sha256"] == hashlib.sha256((books.folders["2012-12"] / "attendance.csv").read_bytes()).hexdigest()
    # the line named holds that term's row
    with open(books.folders["2012-12"] / "attendance.csv", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    src = lines[autumn["line"] - 2]  # header is line 1
    assert (src["term"], src["academic_year"], src["sessions_unauthorised"]) == ("autumn", "2012/13", "7")


def test_route_b_evidence_rederives_the_claim(books):
    c = item(books, "Pine", "route_b")
    ev = evidence(books, c["claim_id"])["route_b"]
    days = (ev["end_date"] - ev["start_date"]).days
    assert (ev["start_date"].date(), ev["end_date"].date()) == (date(2012, 10, 1), date(2012, 12, 31))
    assert days == ev["days"] == 91 and ev["required_days"] == 91 and days >= ev["required_days"]
    assert (c["route_b_days"], c["route_b_required_days"]) == (91, 91)
    stored = store(books, "SELECT rb_employment_start, rb_employment_end, rb_days FROM family_result "
                          "WHERE period = ? AND family_id = ?", books.period, books.ids["Pine"])[0]
    assert (ev["start_date"].date(), ev["end_date"].date(), ev["days"]) == stored
    spells = [s for s in books.rows["Spells"] if s["claim_id"] == c["claim_id"]]
    kinds = {s["kind"]: s for s in spells}
    assert kinds["benefit spell covering A"]["start_date"].date() == date(2011, 1, 1)
    assert kinds["benefit spell covering A"]["end_date"].date() == date(2012, 9, 30)
    assert kinds["employment spell counted"]["start_date"].date() == date(2012, 10, 1)
    assert all(s["file"] and len(s["sha256"]) == 64 and s["line"] >= 2 for s in spells)


def test_progress_to_work_evidence(books):
    c = item(books, "Willow", "progress_to_work")
    ev = evidence(books, c["claim_id"])["progress_to_work"]
    a = date(2012, 6, 30)
    assert ev["start_date"].date() == date(2012, 8, 15)
    assert ev["outcome_from"].date() < ev["start_date"].date() <= ev["outcome_to"].date()
    assert ev["start_date"].date() >= a
    assert ev["person_id"] == c["ptw_person_id"]
    spells = [s for s in books.rows["Spells"] if s["claim_id"] == c["claim_id"]]
    assert [s["kind"] for s in spells] == ["provision start"]


def test_sources_and_manifest(books):
    rows = books.rows["Sources"]
    by_name = {(r["file"], r["delivery_period"]): r for r in rows}
    for period, folder in books.folders.items():
        for f in folder.glob("*.csv"):
            if (f.name, period) in by_name:
                assert by_name[(f.name, period)]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert ("interventions.csv", "2012-06") in by_name
    wb = load_workbook(books.claims_xlsx, read_only=True)
    manifest = next(r for r in wb["Sources"].iter_rows(values_only=True) if r[0] == "Manifest SHA-256")[1]
    wb.close()
    lines = sorted(f"{r['delivery_period']} {r['file']} {r['sha256']}" for r in rows)
    assert manifest == hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_rules_sheet_holds_every_threshold(books):
    rules = {r["setting"]: r["value"] for r in books.rows["Rules"]}
    assert rules["results.asb.max_pct_of_baseline"] == 40
    assert rules["results.route_b.long_min_days"] == 182
    assert rules["payments.max_per_family"] == 4000
    assert rules["identification.work.out_of_work_benefits"].startswith("jsa, esa")


def test_summary_formulas_recalculated_by_libreoffice(books, tmp_path):
    calc = recalculate(books.claims_xlsx, tmp_path / "calc")
    wb = load_workbook(calc, data_only=True)
    ws = wb["Summary"]
    table = {}
    for r in ws.iter_rows(values_only=True):
        if r[0] in ("attachment_fee", "route_a", "progress_to_work", "route_b", "total"):
            table[r[0]] = r
    with open(books.out / "claims.csv", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    for t in ("attachment_fee", "route_a", "progress_to_work", "route_b"):
        mine = [c for c in csv_rows if c["claim_type"] == t]
        assert table[t][1] == len(mine), t
        assert Decimal(str(table[t][2])).quantize(Decimal("0.01")) == sum((Decimal(c["amount"]) for c in mine),
                                                                          Decimal("0.00")), t
        assert table[t][5] == "yes", t
    total = table["total"]
    assert total[1] == len(csv_rows) and total[5] == "yes"
    assert Decimal(str(total[2])).quantize(Decimal("0.01")) == sum(Decimal(c["amount"]) for c in csv_rows)
    assert Decimal(str(total[2])) == Decimal(str(books.summary["claims_total"]))


def test_cohort_book(books, tmp_path):
    with open(books.out / "cohort.csv", encoding="utf-8") as fh:
        cohort = list(csv.DictReader(fh))
    wb = load_workbook(books.cohort_xlsx)
    assert wb.sheetnames == ["Summary", "Cohort", "New this month", "No longer meeting", "Not yet attached",
                             "Attached", "Members", "Glossary"]
    rows = sheet_rows(books.cohort_xlsx, "Cohort")
    assert [r["family_id"] for r in rows] == [c["family_id"] for c in cohort]
    assert all(r["case_ref"] == c["case_ref"] for r, c in zip(rows, cohort))
    assert sheet_rows(books.cohort_xlsx, "New this month") == []  # everyone entered at 2012-06
    assert len(sheet_rows(books.cohort_xlsx, "Attached")) == len(cohort)
    members = sheet_rows(books.cohort_xlsx, "Members")
    assert set(members[0]) == {"family_id", "person_id", "source"}  # no source keys (UPN, NINO)
    # Both are family_members.csv's rows: people counted per family, and each (family, person,
    # source) once, in order.
    with open(books.out / "family_members.csv", encoding="utf-8") as fh:
        listed = list(csv.DictReader(fh))
    people: dict[str, set] = {}
    for m in listed:
        people.setdefault(m["family_id"], set()).add(m["person_id"])
    assert {r["family_id"]: r["members"] for r in rows} == {c["family_id"]: len(people.get(c["family_id"], ()))
                                                            for c in cohort}
    assert max(r["members"] for r in rows) > 1
    assert [(m["family_id"], m["person_id"], m["source"]) for m in members] == sorted(
        {(m["family_id"], m["person_id"], m["source"]) for m in listed})
    calc = recalculate(books.cohort_xlsx, tmp_path / "calc")
    s = {r[0]: r[1] for r in load_workbook(calc, data_only=True)["Summary"].iter_rows(values_only=True) if r}
    assert s["Families in the cohort"] == len(cohort)
    assert s["New this month"] == 0
    assert s["Attached"] == len(cohort) and s["Not yet attached"] == 0
    assert s["No longer meeting the criteria"] == sum(c["still_meets_criteria"] == "false" for c in cohort)


def _identities(b: Books) -> set[str]:
    vals = set()
    for folder in b.folders.values():
        for f in folder.glob("*.csv"):
            with open(f, encoding="utf-8") as fh:
                for r in csv.DictReader(fh):
                    for k in ("forename", "surname", "dob", "address", "postcode", "upn", "nino"):
                        if r.get(k):
                            vals.add(r[k])
    return vals


def test_no_personal_data_without_the_flag(books):
    pii = _identities(books)
    assert {"Mary", "Kit", "1980-01-01", "S65 1AB", "UASHKIT", "NIASHMARY"} <= pii
    for book in (books.claims_xlsx, books.cohort_xlsx):
        for sheet, c in all_cells(book):
            v = c.value.date().isoformat() if hasattr(c.value, "date") and c.is_date else str(c.value)
            assert v not in pii, (book.name, sheet, c.coordinate)
            assert "S65 1AB" not in v and "NIASH" not in v and "UASH" not in v, (book.name, sheet, c.coordinate)


def test_rebuild_from_the_store_with_identities(books, tmp_path):
    paths = rebuild_workbooks(books.period, books.db, tmp_path / "out", with_identities=True)
    claims_copy = tmp_path / "out" / books.period / "claims.xlsx"
    assert claims_copy in paths and (tmp_path / "out" / books.period / "cohort.xlsx") in paths
    wb = load_workbook(claims_copy, read_only=True)
    assert wb.sheetnames == CLAIM_SHEETS[:-1] + ["People", "Glossary"]
    wb.close()
    for sheet in ("Claims", "Evidence", "Attendance", "Spells", "Records", "Sources"):
        assert sheet_rows(claims_copy, sheet) == books.rows[sheet], sheet
    people = sheet_rows(claims_copy, "People")
    ash = [p for p in people if p["family_id"] == books.ids["Ash"]]
    assert {(p["forename"], p["surname"], p["dob"].date()) for p in ash} == {
        ("Mary", "Ash", date(1980, 1, 1)), ("Kit", "Ash", date(2000, 5, 1))}
    members = sheet_rows(tmp_path / "out" / books.period / "cohort.xlsx", "Members")
    assert "source_key" in members[0]


def test_pbr_workbooks_command(books, tmp_path):
    from click.testing import CliRunner

    from pbr.cli import main
    r = CliRunner().invoke(main, ["workbooks", "--period", books.period, "--db", str(books.db),
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert sheet_rows(tmp_path / "o" / books.period / "claims.xlsx", "Claims") == books.rows["Claims"]
    r = CliRunner().invoke(main, ["workbooks", "--period", "2013-01", "--db", str(books.db),
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no finished refresh of period 2013-01" in r.output
    assert not (tmp_path / "o" / "2013-01").exists()


def test_two_batches_in_a_period(books, tmp_path):
    """An audited batch is kept when its period is re-run; what became claimable since goes into a
    second batch. The Summary then adds a row per batch and type, and its formulas still agree."""
    from click.testing import CliRunner

    from pbr.cli import main
    pipe = Pipeline(tmp_path)
    shutil.copy(books.db, pipe.db)
    first = [r["claim_id"] for r in books.rows["Claims"]]
    r = CliRunner().invoke(main, ["claims", "audit", "B2012-12-1", "--approve", ",".join(first),
                                  "--note", "=checked", "--by", "tester", "--db", str(pipe.db)])
    assert r.exit_code == 0, r.output
    d, fams = deliveries()
    k = fams["Kale"]
    tables = d.tables("2012-12")
    tables["employment"] = tables["employment"] + [k.job(k.mum, "work_programme", "2012-09-01")]
    result = refresh("2012-12", pipe.delivery(**tables), pipe.db, pipe.out)
    book = result.out_dir / "claims.xlsx"
    claims = sheet_rows(book, "Claims")
    assert {(c["batch_id"], c["decision"], c["decision_note"]) for c in claims if c["claim_id"] in first} == {
        ("B2012-12-1", "approved", "=checked")}
    assert [(c["batch_id"], c["family_id"], c["claim_type"]) for c in claims if c["claim_id"] not in first] == [
        ("B2012-12-2", books.ids["Kale"], "progress_to_work")]
    calc = recalculate(book, tmp_path / "calc")
    rows = {r[0]: r for r in load_workbook(calc, data_only=True)["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert rows["B2012-12-2 progress_to_work"][1] == 1 and rows["B2012-12-1 progress_to_work"][1] == 1
    assert rows["progress_to_work"][1] == 2 and rows["total"][1] == 4
    assert all(r[5] == "yes" for name, r in rows.items()
               if name == "total" or name.split(" ")[-1] in ("attachment_fee", "route_a", "progress_to_work", "route_b"))
