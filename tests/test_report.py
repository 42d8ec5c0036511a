"""The monthly report (docs/report.md): report.html rendered in a real headless Chromium, its
figures checked against independent computations over the store and the contract outputs of a
generated authority, and small-number suppression (primary and secondary)."""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter, defaultdict
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pbr import calendar as cal
from pbr.cli import main
from pbr.config import load_config
from pbr.errors import ConfigError
from pbr.generate import generate
from pbr.refresh import refresh
from pbr.report.disclosure import protect, protect_part
from pbr.report.page import SECTIONS
from pbr.report.rebuild import rebuild_report
from system_tools import need

START, END = "2025-05", "2026-03"
FAMILIES, SEED = 200, 11


# --- disclosure control, on its own -------------------------------------------------------------

def test_primary_suppression_hides_counts_below_the_threshold_but_not_zero():
    cells, total = protect([0, 3, 12, 40], 5)
    assert [c.suppressed for c in cells][:2] == [False, True]
    assert cells[0].value == 0 and cells[1].reason == "primary"
    assert total.value == 55


def test_secondary_suppression_stops_total_minus_the_others():
    cells, total = protect([3, 12, 40], 5)
    assert [c.reason for c in cells] == ["primary", "secondary", ""]
    assert not total.suppressed and cells[2].value == 40


def test_two_small_cells_that_add_up_below_the_threshold_take_a_third():
    cells, _ = protect([1, 2, 9, 30], 5)
    assert [c.suppressed for c in cells] == [True, True, True, False]


def test_total_goes_when_nothing_is_left_to_hide_behind():
    cells, total = protect([2, 0, 0], 5)
    assert cells[0].suppressed and total.suppressed


def test_a_part_is_hidden_when_its_complement_is_small():
    part, whole = protect_part(18, 20, 5)   # 2 not improved would be revealed
    assert part.suppressed and part.reason == "secondary" and not whole.suppressed
    part, whole = protect_part(10, 20, 5)
    assert part.value == 10 and whole.value == 20


def test_threshold_off_shows_everything():
    cells, total = protect([1, 2, 3], 0)
    assert [c.value for c in cells] == [1, 2, 3] and total.value == 6


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=8), st.integers(min_value=2, max_value=10))
def test_no_suppressed_cell_can_be_recovered_from_a_shown_total(values, k):
    cells, total = protect(values, k)
    hidden = [v for v, c in zip(values, cells) if c.suppressed]
    for v, c in zip(values, cells):
        assert c.suppressed or c.value == v
        if 0 < v < k:
            assert c.suppressed
    if not total.suppressed:
        assert total.value == sum(values)
        # what the total minus the shown cells reveals is the sum of the hidden ones: never one
        # small cell alone, and never a small sum
        assert not hidden or (len(hidden) >= 2 and sum(hidden) >= k)


# --- report configuration ----------------------------------------------------------------------

def test_report_config_is_typed_and_checked(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"report": {"disclosure_threshold": 10, "allocation": 250000,
                                            "unit_costs": {"asb_event": 700}}}))
    rc = load_config(p).report
    assert rc.disclosure_threshold == 10 and rc.allocation == 250000.0 and rc.unit_costs["asb_event"] == 700.0
    assert rc.unit_costs_source == "local configuration"
    for bad in ({"disclosure_threshold": -1}, {"allocation": "lots"}, {"unit_costs": {"care_week": 1}},
                {"colour": "red"}):
        p.write_text(yaml.safe_dump({"report": bad}))
        with pytest.raises(ConfigError, match="report"):
            load_config(p)


# --- a generated authority, refreshed month by month ------------------------------------------

@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    generate(families=FAMILIES, seed=SEED, start=START, end=END, out=root / "gen")
    db, out = root / "pbr.duckdb", root / "out"
    for period in cal.periods_between(START, END):
        refresh(period, root / "gen" / "deliveries" / period, db, out)
    return root


class Figures(HTMLParser):
    """data-figure cells of the page: key -> list of (text, suppressed reason or None)."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        self._open: list[tuple[str, str | None] | None] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-figure" in a and tag in ("td", "b", "span"):
            self._open.append((a["data-figure"], a.get("data-suppressed")))
            self._text = []

    def handle_data(self, data):
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._open and tag in ("td", "b", "span"):
            key, reason = self._open.pop()
            self.found[key].append(("".join(self._text).strip(), reason))


def figures_of(path: Path) -> dict[str, tuple[str, str | None]]:
    parser = Figures()
    parser.feed(path.read_text(encoding="utf-8"))
    out = {}
    for key, seen in parser.found.items():
        assert len(set(seen)) == 1, (key, seen)   # a figure shown twice shows the same
        out[key] = seen[0]
    return out


def num(text: str) -> float:
    return float(text.replace("£", "").replace(",", "").replace("%", ""))


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def query(db: Path, sql: str, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def expected_figures(root: Path, period: str) -> dict[str, float]:
    """The report's figures computed independently: from the contract outputs (cohort.csv of each
    period) and plain reads of store tables, aggregated in Python."""
    db, out = root / "pbr.duckdb", root / "out"
    periods = [p for p in cal.periods_between(START, period)]
    exp: dict[str, float] = {}
    results = query(db, "SELECT period, family_id, measurable, asb_leg, asb_baseline, asb_outcome, offending_leg, "
                        "offending_baseline, offending_outcome, education_leg, route_a, progress_to_work, route_b "
                        "FROM family_result")
    first_result: dict[str, str] = {}
    for r in sorted(results):
        if r[10] or r[11] or r[12]:
            first_result.setdefault(r[1], r[0])
    claims = query(db, "SELECT b.period, b.state, i.family_id, i.claim_type, i.amount, i.decision "
                       "FROM claim_item i, claim_batch b WHERE i.batch_id = b.batch_id")
    claims = [c for c in claims if c[5] != "rejected"]
    for p in periods:
        cohort = read_csv(out / p / "cohort.csv")
        exp[f"funnel.{p}.identified"] = len(cohort)
        exp[f"funnel.{p}.attached"] = sum(1 for r in cohort if r["attached_date"])
        exp[f"funnel.{p}.results"] = sum(1 for f, fp in first_result.items() if fp <= p)
        exp[f"funnel.{p}.claimed"] = len({c[2] for c in claims if c[0] <= p and c[3] != "attachment_fee"})
        exp[f"funnel.{p}.paid"] = len({c[2] for c in claims if c[0] <= p and c[3] != "attachment_fee" and c[1] == "paid"})
    cohort = read_csv(out / period / "cohort.csv")
    for route in ("three_criteria", "two_plus_local"):
        rows = [r for r in cohort if r["route"] == route]
        exp[f"cohort.families.{route}"] = len(rows)
        exp[f"cohort.new_this_month.{route}"] = sum(1 for r in rows if r["identified_period"] == period)
        exp[f"cohort.no_longer_meeting.{route}"] = sum(1 for r in rows if r["still_meets_criteria"] == "false")
    exp["cohort.families.total"] = len(cohort)
    names = {"crime_asb": "crime_asb", "education": "education", "work": "work", "local_discretion": "local_discretion"}
    combos = Counter("_".join(n for f, n in names.items() if cohort_row[f] == "true") for cohort_row in cohort)
    for combo, n in combos.items():
        exp[f"cohort.combination.{combo}"] = n
    by = defaultdict(lambda: [0, 0.0])
    for p, _state, _fam, ctype, amount, _d in claims:
        if p <= period:
            by[(p, ctype)][0] += 1
            by[(p, ctype)][1] += float(amount)
    for (p, ctype), (n, amount) in by.items():
        exp[f"claims.{p}.{ctype}.items"] = n
        exp[f"claims.{p}.{ctype}.amount"] = round(amount)
    for p in {p for p, _ in by}:
        exp[f"claims.{p}.total.items"] = sum(n for (q, _), (n, _) in by.items() if q == p)
        exp[f"claims.{p}.cumulative"] = round(sum(a for (q, _), (_, a) in by.items() if q <= p))
    now = [r for r in results if r[0] == period and r[2]]
    flags = {r["family_id"]: r for r in cohort}
    asb = [r for r in now if r[4] > 0]
    off = [r for r in now if r[7] > 0]
    edu = [r for r in now if flags[r[1]]["education"] == "true" and r[9] in ("pass", "fail")]
    work = [r for r in now if flags[r[1]]["work"] == "true"]
    for name, rows, improved in [("asb_reduced", asb, lambda r: r[3] == "pass"),
                                 ("offending_reduced", off, lambda r: r[6] == "pass"),
                                 ("attendance_improved", edu, lambda r: r[9] == "pass"),
                                 ("into_work", work, lambda r: r[12])]:
        exp[f"outcomes.{name}.applicable"] = len(rows)
        exp[f"outcomes.{name}.improved"] = sum(1 for r in rows if improved(r))
        if rows:
            exp[f"outcomes.{name}.share"] = round(100 * exp[f"outcomes.{name}.improved"] / len(rows), 1)
    exp["cost.families"] = len(now)
    exp["cost.asb_event.baseline"] = sum(r[4] for r in now)
    exp["cost.asb_event.outcome"] = sum(r[5] for r in now)
    exp["cost.proven_offence.baseline"] = sum(r[7] for r in now)
    exp["cost.proven_offence.outcome"] = sum(r[8] for r in now)
    exp["cost.out_of_work_benefit_year.baseline"] = sum(1 for r in now if r[12])
    # timeliness: identification (R of the entry period) to A, by the period of attachment
    att = query(db, "SELECT family_id, attached_date, period_attached FROM attachment")
    entry = {r["family_id"]: r["identified_period"] for r in cohort}
    days = defaultdict(list)
    for fam, a, p in att:
        if p <= period:
            days[p].append((a - cal.reference_date(entry[fam])).days)
    if days:
        days["all"] = [d for ds in list(days.values()) for d in ds]
    for p, ds in days.items():
        exp[f"timeliness.identification_to_attachment.{p}.families"] = len(ds)
        exp[f"timeliness.identification_to_attachment.{p}.median_days"] = round(statistics.median(ds))
    a_date = {f: a for f, a, _ in att}
    res_days = defaultdict(list)
    for fam, p in first_result.items():
        if p <= period:
            res_days[p].append((cal.reference_date(p) - a_date[fam]).days)
    if res_days:
        res_days["all"] = [d for ds in list(res_days.values()) for d in ds]
    for p, ds in res_days.items():
        exp[f"timeliness.attachment_to_result.{p}.families"] = len(ds)
        exp[f"timeliness.attachment_to_result.{p}.median_days"] = round(statistics.median(ds))
    # data quality: the period's delivery files, from the summary the refresh wrote
    summary = yaml.safe_load((out / period / "summary.json").read_text())
    for f in summary["files"]:
        if not f["already_loaded"]:
            exp[f"quality.{f['source']}.rows_read"] = f["rows_read"]
            exp[f"quality.{f['source']}.rows_quarantined"] = f["rows_quarantined"]
    keys = query(db, "SELECT source, person_id, match_probability FROM person_xwalk WHERE first_period <= ?", period)
    sources_of = defaultdict(set)
    for s, pid, _ in keys:
        sources_of[pid].add(s)
    for s in {k[0] for k in keys}:
        mine = [k for k in keys if k[0] == s]
        exp[f"linkage.{s}.record_keys"] = len(mine)
        exp[f"linkage.{s}.matched"] = sum(1 for k in mine if len(sources_of[k[1]]) > 1)
    cases = Counter(r["issue"] for r in read_csv(out / period / "cases_reported.csv"))
    for issue in ("no_cohort_family", "spread_over_families", "family_attached_by_other_case"):
        exp[f"unmatched.{issue}"] = cases.get(issue, 0)
    exp["unmatched.total"] = sum(cases.values())
    return exp


def test_every_figure_on_the_page_equals_the_store(authority, tmp_path):
    """With suppression off, each figure the page shows is the independently computed one, and
    every independently computed figure is on the page."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"report": {"disclosure_threshold": 0, "allocation": 100000}}))
    path = rebuild_report(END, authority / "pbr.duckdb", tmp_path / "out", cfg)
    page = figures_of(path)
    exp = expected_figures(authority, END)
    assert exp[f"funnel.{END}.attached"] > 10 and exp[f"funnel.{END}.results"] > 0   # a data set worth checking
    assert sum(v for k, v in exp.items() if k.endswith(".items")) > 0
    missing = [k for k in exp if k not in page]
    assert not missing, missing
    wrong = {k: (page[k][0], v) for k, v in exp.items() if round(num(page[k][0]), 1) != round(v, 1)}
    assert not wrong, wrong
    assert not [k for k, (_t, reason) in page.items() if reason]   # nothing suppressed at threshold 0
    assert num(page["claims.allocation"][0]) == 100000
    assert page["claims.cumulative"][0] == page[f"claims.{END}.cumulative"][0] or f"claims.{END}.cumulative" not in page


def test_small_numbers_are_suppressed_on_the_page(authority):
    """The report the refresh wrote (default threshold 5): every count shown is 0 or at least 5,
    each primary-suppressed cell really is 1-4, and no group with a shown total has a lone hidden cell."""
    page = figures_of(authority / "out" / END / "report.html")
    exp = expected_figures(authority, END)
    counts = [k for k in exp if not k.endswith(("amount", "cumulative", "share", "median_days"))]
    checked_primary = 0
    for k in counts:
        text, reason = page[k]
        v = exp[k]
        if reason is None:
            assert v == 0 or v >= 5, (k, v)
            assert num(text) == v
        elif reason == "primary":
            assert 0 < v < 5, (k, v)
            checked_primary += 1
    assert checked_primary > 0   # the data set has small cells to hide
    secondary = [k for k, (_t, r) in page.items() if r == "secondary"]
    assert secondary   # and some are hidden to protect them
    # groups with a shown total: route columns, criteria combinations, each month of claims, cases
    groups = {f"cohort.{m}": [f"cohort.{m}.three_criteria", f"cohort.{m}.two_plus_local"]
              for m in ("families", "new_this_month", "no_longer_meeting")}
    groups["cohort.combination"] = [k for k in page if k.startswith("cohort.combination.") and not k.endswith("total")]
    groups["unmatched"] = [f"unmatched.{i}" for i in ("no_cohort_family", "spread_over_families", "family_attached_by_other_case")]
    for p in {k.split(".")[1] for k in page if k.startswith("claims.20")}:
        groups[f"claims.{p}"] = [f"claims.{p}.{t}.items" for t in ("attachment_fee", "route_a", "progress_to_work", "route_b")]
        groups[f"claims.{p}"] = groups[f"claims.{p}"]
    for total_key, members in groups.items():
        total_key = total_key + ".total" if not total_key.startswith("claims.") else total_key + ".total.items"
        if page[total_key][1] is not None:
            continue
        hidden = [exp.get(m, 0) for m in members if page[m][1] is not None]
        assert not hidden or (len(hidden) >= 2 and sum(hidden) >= 5), (total_key, hidden)
    # an amount is hidden with its count; a share with its count
    for k, (_t, reason) in page.items():
        if k.endswith(".amount") and ".total." not in k:
            assert (reason is None) == (page[k[: -len("amount")] + "items"][1] is None), k
    for ind in ("asb_reduced", "offending_reduced", "attendance_improved", "into_work"):
        assert (page[f"outcomes.{ind}.share"][1] is None) == (page[f"outcomes.{ind}.improved"][1] is None)


def test_report_renders_in_headless_chromium(authority, tmp_path):
    """The page as a board member opens it: every section visible with its heading and a chart,
    no console errors, nothing fetched from anywhere but the file itself."""
    chromium = Path("/usr/bin/chromium")
    need(chromium.exists(), "chromium (/usr/bin/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright")
    report = authority / "out" / END / "report.html"
    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
            assert page.title().startswith(f"Troubled Families monthly report {END}")
            for sid, title in SECTIONS:
                section = page.locator(f"section#{sid}")
                assert section.count() == 1, sid
                section.scroll_into_view_if_needed()
                assert section.is_visible(), sid
                heading = section.locator("h2")
                assert heading.is_visible() and heading.inner_text() == title
                box = section.bounding_box()
                assert box and box["height"] > 80, sid
            charts = page.locator("section .chart svg")
            assert charts.count() >= 7
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 200 and box["height"] > 100
            assert "ESTIMATE" in page.locator("#cost-avoided").inner_text()
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []


def test_report_command_rebuilds_without_a_refresh(authority, tmp_path):
    db = authority / "pbr.duckdb"
    before = query(db, "SELECT count(*) FROM refresh_run")[0][0]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"authority": "Test Borough", "report": {"disclosure_threshold": 20}}))
    res = CliRunner().invoke(main, ["report", "--period", "2025-10", "--db", str(db), "--out", str(tmp_path / "o"),
                                    "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "o" / "2025-10" / "report.html").read_text(encoding="utf-8")
    assert "Test Borough" in html and 'data-threshold="20"' in html
    assert query(db, "SELECT count(*) FROM refresh_run")[0][0] == before
    page = figures_of(tmp_path / "o" / "2025-10" / "report.html")
    # the funnel over time stops at the period asked for
    assert "funnel.2025-10.identified" in page and "funnel.2025-11.identified" not in page
    res = CliRunner().invoke(main, ["report", "--period", "2027-01", "--db", str(db), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no finished refresh of period 2027-01" in res.output
    res = CliRunner().invoke(main, ["report", "--period", "2027-1", "--db", str(db), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2


def test_the_example_configuration_sets_the_report():
    rc = load_config(Path(__file__).resolve().parents[1] / "docs" / "config.example.yaml").report
    assert rc.disclosure_threshold == 5 and rc.allocation == 500000.0
    assert set(rc.unit_costs) == {"asb_event", "proven_offence", "out_of_work_benefit_year"}


def test_the_page_holds_no_personal_data(authority):
    """Counts only: no name, postcode, UPN, NINO or person reference of the deliveries is on it."""
    text = (authority / "out" / END / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<svg.*?</svg>", "", text, flags=re.S)   # chart paths are numbers, not text
    deliveries = authority / "gen" / "deliveries" / END
    values = set()
    for source, cols in [("asb", ("surname", "postcode", "person_ref")), ("attendance", ("upn", "surname")),
                         ("benefits", ("nino", "postcode"))]:
        for row in read_csv(deliveries / f"{source}.csv")[:200]:
            values |= {row[c] for c in cols if row.get(c) and len(row[c]) >= 5}
    assert values
    assert [v for v in values if v in text] == []


def _draw_all_charts() -> list[str]:
    from pbr.report import charts
    return [charts.bar_chart(["a", "b", "c"], [3, None, 7], "T"),
            charts.line_chart(["2015-01", "2015-02", "2015-03"], {"x": [1, None, 3]}, "L", "n", hline=("t", 2.5)),
            charts.stacked_bars(["2015-01", "2015-02"], {"p": [1, 2], "q": [None, 1]}, "S", "£",
                                line=("c", [1, 3]), hline=("h", 2))]


def test_charts_are_drawn_without_pyplot_so_a_thread_can_draw_them():
    """A refresh draws the report on a thread of its own (outputs.write_outputs); pyplot's global
    figure manager is not thread-safe, so the charts use matplotlib's object API only."""
    import subprocess
    import sys
    import inspect
    probe = (inspect.getsource(_draw_all_charts) + "svgs = _draw_all_charts()\n"
             "assert all(s.startswith('<svg') for s in svgs)\n"
             "import sys; print('matplotlib.pyplot' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_charts_drawn_on_threads_at_once_are_those_drawn_one_by_one():
    from concurrent.futures import ThreadPoolExecutor
    alone = _draw_all_charts()
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: _draw_all_charts(), range(8)))
    assert all(svgs == alone for svgs in together)
