"""Attachment, results and claims (rules.md: Attachment, Results, Payments, Claims; README
"Attachment, results and claims" where rules.md is silent).

Small hand-made families at their own addresses. Every expected value below is worked out by hand
from the rules; the arithmetic is written next to it. The scenarios run a handful of monthly
refreshes each (in period order), once per module, and the tests read what they wrote."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path

import duckdb
import pytest
import yaml

from builders import asb, attendance, benefit, employment, intervention, person
from conftest import Pipeline, Run

CONTRACT = ["batch_id", "claim_id", "case_ref", "family_id", "claim_type", "amount"]


# ---------------------------------------------------------------------------------------------
# Builders: one household per surname at "1 <Surname> Road"

class Fam:
    """A household: Mary (the mother, born 1980) and Kit (a child born 2000) plus anyone added.
    Source keys derive from the surname, so each family's records are its own."""

    def __init__(self, surname: str, kid_dob: str = "2000-05-01"):
        self.s = surname
        self.mum = self.member("Mary", "1980-01-01")
        self.kid = self.member("Kit", kid_dob)
        self.case = f"K-{surname}"
        self._n = 0

    def member(self, forename: str, dob: str) -> dict:
        return person(forename, self.s, dob, address=f"1 {self.s} Road", postcode="S65 1AB")

    def nino(self, p: dict) -> str:
        return f"NI{self.s}{p['forename']}".upper()

    def ref(self, p: dict, kind: str = "A") -> str:
        return f"{kind}-{self.s}-{p['forename']}"

    @property
    def key(self) -> tuple[str, str]:
        """A source key that belongs to this family: the mother's benefits key (her NINO)."""
        return ("benefits", self.nino(self.mum))

    def event(self, p: dict, event_no: int | str, when: str, kind: str) -> dict:
        return asb(p, self.ref(p), f"{self.s}-E{event_no}", when, kind)

    def events(self, p: dict, dates: list[str], kind: str) -> list[dict]:
        rows = []
        for d in dates:
            self._n += 1
            rows.append(self.event(p, f"x{self._n}", d, kind))
        return rows

    def benefit(self, kind: str, start: str, end: str = "", cap: str = "N", p: dict | None = None) -> dict:
        p = p or self.mum
        return benefit(p, self.nino(p), kind, start, end, cap=cap)

    def job(self, p: dict, kind: str, start: str, end: str = "") -> dict:
        return employment(p, self.nino(p), kind, start, end)

    def case_rows(self, when: str, *people: dict, case: str | None = None, closed: str = "") -> list[dict]:
        people = people or (self.mum, self.kid)
        return [intervention(p, case or self.case, self.ref(p, "I"), when, closed_date=closed) for p in people]

    def term(self, year: str, term: str, fixed: int = 0, unauthorised: int = 0, p: dict | None = None) -> dict:
        """A term's attendance row: 100 possible sessions."""
        p = p or self.kid
        return attendance(p, f"U{self.s}{p['forename']}".upper(), year, term, fixed=fixed, unauthorised=unauthorised)

    def entry_terms(self, fixed_in_spring: int) -> list[dict]:
        """The last 3 terms at 2012-06-30: summer 2010/11, autumn 2011/12, spring 2011/12."""
        return [self.term("2010/11", "summer"), self.term("2011/12", "autumn"),
                self.term("2011/12", "spring", fixed=fixed_in_spring)]


class Deliveries:
    """Rows per delivery period and source."""

    def __init__(self):
        self.by_period: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))

    def add(self, period: str, source: str, rows) -> None:
        self.by_period[period][source].extend(rows if isinstance(rows, list) else [rows])

    def tables(self, period: str) -> dict[str, list[dict]]:
        return dict(self.by_period.get(period, {}))


def asb_5_to_2(d: Deliveries, f: Fam, outcome_period: str = "2012-12") -> None:
    """5 distinct ASB events in the baseline window (2011-12-30, 2012-06-30], the first an
    acceptable behaviour contract (which also meets the crime/ASB criterion), then 2 in the
    outcome window (2012-06-30, 2012-12-31]. Events E1 and E6 name both mother and child: one
    event each (distinct event_id)."""
    d.add("2012-06", "asb", [
        f.event(f.kid, 1, "2012-01-15", "abc"), f.event(f.mum, 1, "2012-01-15", "abc"),
        f.event(f.kid, 2, "2012-02-01", "asb_incident"), f.event(f.kid, 3, "2012-03-01", "asb_incident"),
        f.event(f.kid, 4, "2012-04-01", "asb_incident"), f.event(f.kid, 5, "2012-05-01", "asb_incident")])
    d.add(outcome_period, "asb", [
        f.event(f.kid, 6, "2012-08-01", "asb_incident"), f.event(f.mum, 6, "2012-08-01", "asb_incident"),
        f.event(f.kid, 7, "2012-09-01", "asb_incident")])


def old_asbo(d: Deliveries, f: Fam, when: str = "2011-09-01", period: str = "2012-06") -> None:
    """An ASBO inside the 12 months before entry (crime/ASB criterion met) but before the
    results baseline window: the ASB leg does not apply."""
    d.add(period, "asb", f.event(f.kid, "asbo", when, "asbo"))


def on_esa(d: Deliveries, f: Fam, cap: str = "Y", kind: str = "esa", period: str = "2012-06") -> None:
    """Mother on an open out-of-work benefit (work criterion); capped = local discretion."""
    d.add(period, "benefits", f.benefit(kind, "2011-01-01", cap=cap))


# ---------------------------------------------------------------------------------------------
# Reading results back

def family_ids(run: Run) -> dict[tuple[str, str], str]:
    return {(m["source"], m["source_key"]): m["family_id"] for m in run.members}


def fid(run: Run, f: Fam) -> str:
    return family_ids(run)[f.key]


def result(run: Run, family_id: str) -> dict:
    con = duckdb.connect(str(run.db), read_only=True)
    try:
        cur = con.execute("SELECT * FROM family_result WHERE period = ? AND family_id = ?", [run.period, family_id])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    assert len(rows) == 1, (run.period, family_id, rows)
    return dict(zip(names, rows[0]))


def claims(run: Run) -> list[dict]:
    return run.read_csv("claims.csv")


def claim_set(run: Run) -> set[tuple[str, str, str]]:
    return {(c["family_id"], c["claim_type"], c["amount"]) for c in claims(run)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Timeline 1: 30 families, all in the cohort from refresh 2012-06 (R = 2012-06-30).
#
# Every case is dated 2012-05-01 (before the family entered), so A = 2012-06-30 (the entry
# refresh's R), financial year 2012/13: attachment fee £3,200, route A £700, progress to work
# £100, route B £800. Bay alone gets its case later (2012-08-31), so its A = 2012-08-31.
#
#   baseline window    (A - 6m, A]       = (2011-12-30, 2012-06-30]
#   measurable once    C >= A + 6m       = 2012-12-30: not at 2012-11 (C 2012-11-30), yes at 2012-12
#   outcome at 2012-12 (C - 6m, C]       = (2012-06-30, 2012-12-31]
#   outcome at 2013-02                   = (2012-08-28, 2013-02-28]
#   outcome at 2013-03                   = (2012-09-30, 2013-03-31]
#   terms ended in (A, C]: 2012-12 -> 2012-07-31, 2012-12-31 (2: pending);
#                          2013-03 -> + 2013-03-31 (3: measured)

T1 = {name: Fam(name) for name in [
    "Ash", "Birch", "Cedar", "Dale", "Elm", "Fir", "Gorse", "Hazel", "Ivy", "Juniper", "Kale", "Larch",
    "Maple", "Nutmeg", "Oak", "Pine", "Quince", "Rowan", "Sage", "Teak", "Umber", "Vetch", "Willow",
    "Yew", "Zinnia", "Aspen", "Bay", "Elder", "Olive", "Poplar"]}


def timeline1() -> Deliveries:
    d = Deliveries()
    f = T1
    for name, fam in f.items():
        if name != "Bay":
            d.add("2012-06", "interventions", fam.case_rows("2012-05-01"))

    # ASB leg: 5 -> 2 passes (2 x 100 <= 40 x 5); 5 -> 3 fails (300 > 200).
    asb_5_to_2(d, f["Ash"]); on_esa(d, f["Ash"])
    b = f["Birch"]; on_esa(d, b)
    d.add("2012-06", "asb", [b.event(b.kid, 1, "2012-01-15", "abc")]
          + b.events(b.kid, ["2012-02-01", "2012-03-01", "2012-04-01", "2012-05-01"], "asb_incident"))
    # outcome events all in Oct-Dec, so they count at 2012-12, 2013-02 and 2013-03 alike
    d.add("2012-12", "asb", b.events(b.kid, ["2012-10-05", "2012-11-05", "2012-12-05"], "asb_incident"))

    # Offending leg: 3 -> 2 passes (200 <= 201); 100 -> 67 passes (6700 <= 6700); 100 -> 68 fails.
    c = f["Cedar"]; on_esa(d, c)
    d.add("2012-06", "asb", c.events(c.kid, ["2012-02-01", "2012-03-01", "2012-04-01"], "proven_offence"))
    d.add("2012-12", "asb", c.events(c.kid, ["2012-10-01", "2012-11-01"], "proven_offence"))
    for name, outcome in (("Elm", 67), ("Dale", 68)):
        x = f[name]; on_esa(d, x)
        d.add("2012-06", "asb", x.events(x.kid, [f"2012-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(100)],
                                         "proven_offence"))  # 100 offences, 2012-01-01 .. 2012-04-16
        d.add("2012-12", "asb", x.events(x.kid, [f"2012-{10 + i // 28:02d}-{1 + i % 28:02d}" for i in range(outcome)],
                                         "proven_offence"))  # 2012-10-01 .. 2012-12-12 at most
    # Only offences committed under 18 count: Finn turns 18 on 2012-09-01.
    fi = f["Fir"]; on_esa(d, fi)
    finn = fi.member("Finn", "1994-09-01")
    d.add("2012-06", "interventions", fi.case_rows("2012-05-01", finn))
    d.add("2012-06", "asb", fi.events(finn, ["2012-02-01", "2012-03-01"], "proven_offence"))
    d.add("2012-12", "asb", fi.events(finn, ["2012-08-31", "2012-09-01", "2012-10-01"], "proven_offence"))
    # Two legs passing: ASB 5 -> 2 and offending 3 -> 2.
    g = f["Gorse"]; asb_5_to_2(d, g); on_esa(d, g)
    d.add("2012-06", "asb", g.events(g.kid, ["2012-02-10", "2012-03-10", "2012-04-10"], "proven_offence"))
    d.add("2012-12", "asb", g.events(g.kid, ["2012-10-10", "2012-11-10"], "proven_offence"))
    # Whole-family rule. Hazel: offending passes, but an ASB incident now (none at baseline).
    h = f["Hazel"]; on_esa(d, h)
    d.add("2012-06", "asb", h.events(h.kid, ["2012-02-01", "2012-03-01", "2012-04-01"], "proven_offence"))
    d.add("2012-12", "asb", h.events(h.kid, ["2012-10-01", "2012-11-01"], "proven_offence")
          + h.events(h.kid, ["2012-11-01"], "asb_incident"))
    # Ivy: ASB passes, but a proven offence by the child now (none at baseline).
    i = f["Ivy"]; asb_5_to_2(d, i); on_esa(d, i)
    d.add("2012-12", "asb", i.events(i.kid, ["2012-11-15"], "proven_offence"))
    # Juniper: ASB passes, education did not apply at entry, but the pupil now has 3 fixed-term
    # exclusions over the last 3 terms at C.
    j = f["Juniper"]; asb_5_to_2(d, j); on_esa(d, j)
    d.add("2012-06", "attendance", j.entry_terms(fixed_in_spring=0))
    d.add("2012-12", "attendance", j.term("2012/13", "autumn", fixed=3))
    # Kale: every leg neutral.
    k = f["Kale"]; old_asbo(d, k); on_esa(d, k)

    # Education leg (education met at entry: 3 fixed-term exclusions in spring 2011/12).
    for name in ("Larch", "Maple", "Nutmeg", "Oak"):
        x = f[name]; on_esa(d, x, cap="N")
        d.add("2012-06", "attendance", x.entry_terms(fixed_in_spring=3))
        if name != "Nutmeg":  # Nutmeg's pupil has no attendance after spring 2011/12
            d.add("2012-08", "attendance", x.term("2011/12", "summer"))
            d.add("2012-12", "attendance", x.term("2012/13", "autumn", fixed=3 if name == "Maple" else 0))
            d.add("2013-03", "attendance", x.term("2012/13", "spring"))
        if name == "Oak":
            asb_5_to_2(d, x)
        else:
            old_asbo(d, x)
    # Unauthorised absence over the last 3 terms at 2013-03-31: Olive 14 + 15 + 15 = 44 of 300
    # sessions (14.7%, under 15%: passes); Poplar 15 + 15 + 15 = 45 of 300 (15%: fails).
    for name, summer in (("Olive", 14), ("Poplar", 15)):
        x = f[name]; on_esa(d, x, cap="N"); old_asbo(d, x)
        d.add("2012-06", "attendance", x.entry_terms(fixed_in_spring=3))
        d.add("2012-08", "attendance", x.term("2011/12", "summer", unauthorised=summer))
        d.add("2012-12", "attendance", x.term("2012/13", "autumn", unauthorised=15))
        d.add("2013-03", "attendance", x.term("2012/13", "spring", unauthorised=15))

    # Route B. Pine: ESA at A, job from 2012-10-01: 2012-12-31 - 2012-10-01 = 91 days >= 91.
    p = f["Pine"]; old_asbo(d, p); on_esa(d, p)
    d.add("2012-12", "benefits", p.benefit("esa", "2011-01-01", "2012-09-30", cap="Y"))
    d.add("2012-12", "employment", p.job(p.mum, "employment", "2012-10-01"))
    # Quince: job 2012-10-02 to 2012-12-31 = 90 days: one day short, for good.
    q = f["Quince"]; old_asbo(d, q); on_esa(d, q)
    d.add("2012-12", "benefits", q.benefit("esa", "2011-01-01", "2012-09-30", cap="Y"))
    d.add("2012-12", "employment", q.job(q.mum, "employment", "2012-10-02", "2012-12-31"))
    # Rowan: JSA at A, job from 2012-07-02: 2012-12-31 - 2012-07-02 = 182 days >= 182.
    r = f["Rowan"]; old_asbo(d, r); on_esa(d, r, kind="jsa")
    d.add("2012-12", "benefits", r.benefit("jsa", "2011-01-01", "2012-07-01", cap="Y"))
    d.add("2012-12", "employment", r.job(r.mum, "employment", "2012-07-02"))
    # Sage: UC searching at A, job 2012-07-03 to 2012-12-31 = 181 days < 182 (would pass at 91).
    s = f["Sage"]; old_asbo(d, s); on_esa(d, s, kind="uc_searching")
    d.add("2012-12", "benefits", s.benefit("uc_searching", "2011-01-01", "2012-07-02", cap="Y"))
    d.add("2012-12", "employment", s.job(s.mum, "employment", "2012-07-03", "2012-12-31"))
    # Teak: job from 2012-08-01 (152 days by C) broken by a JSA spell 2012-11-01 .. 2012-11-20.
    t = f["Teak"]; old_asbo(d, t); on_esa(d, t)
    d.add("2012-12", "benefits", [t.benefit("esa", "2011-01-01", "2012-07-31", cap="Y"),
                                  t.benefit("jsa", "2012-11-01", "2012-11-20")])
    d.add("2012-12", "employment", t.job(t.mum, "employment", "2012-08-01"))
    # Elder: ESA until 2012-10-01 and a job from that same day: the benefit covers the job's
    # first day, so it is not a spell off benefit (although 91 days long by C).
    e = f["Elder"]; old_asbo(d, e); on_esa(d, e)
    d.add("2012-12", "benefits", e.benefit("esa", "2011-01-01", "2012-10-01", cap="Y"))
    d.add("2012-12", "employment", e.job(e.mum, "employment", "2012-10-01"))
    # Umber: route A at 2012-12; job from 2012-11-01 (60 days at 2012-12, 150 at 2013-03).
    u = f["Umber"]; asb_5_to_2(d, u); on_esa(d, u)
    d.add("2012-12", "benefits", u.benefit("esa", "2011-01-01", "2012-10-31", cap="Y"))
    d.add("2012-12", "employment", u.job(u.mum, "employment", "2012-11-01"))
    # Vetch: route A, route B (91 days) and progress to work all claimable at 2012-12.
    v = f["Vetch"]; asb_5_to_2(d, v); on_esa(d, v)
    d.add("2012-12", "benefits", v.benefit("esa", "2011-01-01", "2012-09-30", cap="Y"))
    d.add("2012-12", "employment", [v.job(v.mum, "employment", "2012-10-01"),
                                    v.job(v.mum, "work_programme", "2012-08-01")])

    # Progress to work. Willow: the mother starts the work programme 2012-08-15; she leaves ESA
    # on 2012-11-30 for a job from 2012-12-01: 30 days at 2012-12, 89 at 2013-02, 120 at 2013-03,
    # when route B is met but can no longer be claimed beside progress to work.
    w = f["Willow"]; old_asbo(d, w); on_esa(d, w)
    d.add("2012-12", "employment", [w.job(w.mum, "work_programme", "2012-08-15"),
                                    w.job(w.mum, "employment", "2012-12-01")])
    d.add("2012-12", "benefits", w.benefit("esa", "2011-01-01", "2012-11-30", cap="Y"))
    # Larch: progress to work (start 2012-09-01) at 2012-12, before its route A at 2013-03.
    d.add("2012-12", "employment", f["Larch"].job(f["Larch"].mum, "work_programme", "2012-09-01"))
    # Yew: only a 16-year-old's work-programme start (a child's record does not count).
    y = f["Yew"]
    yan = y.member("Yan", "1996-01-01")
    old_asbo(d, y); on_esa(d, y)
    d.add("2012-06", "interventions", y.case_rows("2012-05-01", yan))
    d.add("2012-12", "employment", y.job(yan, "work_programme", "2012-09-01"))
    # Zinnia: starts delivered late, at 2013-03 (window (2012-09-30, 2013-03-31]): the mother's
    # 2012-07-15 start is before C - 6m; the father's 2012-10-15 start counts.
    z = f["Zinnia"]; old_asbo(d, z); on_esa(d, z)
    zak = z.member("Zak", "1979-03-03")
    d.add("2012-06", "interventions", z.case_rows("2012-05-01", zak))
    d.add("2013-03", "employment", [z.job(z.mum, "work_programme", "2012-07-15"),
                                    z.job(zak, "esf_families", "2012-10-15")])
    # Aspen: route A at 2012-12, then progress to work (start 2013-01-15) at 2013-03.
    a = f["Aspen"]; asb_5_to_2(d, a); on_esa(d, a)
    d.add("2013-03", "employment", a.job(a.mum, "work_programme", "2013-01-15"))
    # Bay: in the cohort from 2012-06; its case is attached 2012-08-31, after it entered, so
    # A = 2012-08-31 (2012/13). Measurable once C >= 2013-02-28: at 2013-02, window
    # (2012-08-28, 2013-02-28]. The mother's start 2012-08-29 is in the window but before A;
    # the father's start on A itself counts.
    bay = f["Bay"]; old_asbo(d, bay); on_esa(d, bay)
    ben = bay.member("Ben", "1978-02-02")
    d.add("2012-08", "interventions", bay.case_rows("2012-08-31", bay.mum, bay.kid, ben))
    d.add("2012-12", "employment", [bay.job(bay.mum, "work_programme", "2012-08-29"),
                                    bay.job(ben, "work_programme", "2012-08-31")])
    return d


class Timeline:
    def __init__(self, pipe: Pipeline, d: Deliveries):
        self.pipe, self.d = pipe, d
        self.runs: dict[str, Run] = {}
        self.folders: dict[str, Path] = {}

    def run(self, period: str, **kw) -> Run:
        tables = self.d.tables(period)
        folder = self.pipe.delivery(**tables) if tables else None
        if folder:
            self.folders[period] = folder
        run = self.pipe.refresh(period, folder, **kw)
        self.runs[period] = run
        return run


@pytest.fixture(scope="module")
def t1(tmp_path_factory):
    tl = Timeline(Pipeline(tmp_path_factory.mktemp("t1")), timeline1())
    for period in ("2012-06", "2012-08", "2012-11", "2012-12"):
        tl.run(period)
    # Re-run 2012-12 with the same delivery: nothing new may be created.
    tl.first_2012_12_claims = claims(tl.runs["2012-12"])
    tl.first_2012_12_summary = tl.runs["2012-12"].summary
    tl.rerun_2012_12 = tl.pipe.refresh("2012-12", tl.folders["2012-12"])
    for period in ("2013-02", "2013-03"):
        tl.run(period)
    tl.ids = {name: fid(tl.runs["2013-03"], f) for name, f in T1.items()}
    return tl


# ---------------------------------------------------------------------------------------------
# Entry and attachment in timeline 1

def test_t1_everyone_enters_2012_06_and_bay_attaches_later(t1):
    cohort = {r["family_id"]: r for r in t1.runs["2012-06"].cohort}
    assert len(cohort) == 30
    ids = t1.ids
    assert {cohort[ids[n]]["route"] for n in ("Larch", "Maple", "Nutmeg", "Oak", "Olive", "Poplar")} == \
        {"three_criteria"}
    assert cohort[ids["Ash"]]["route"] == "two_plus_local"
    for name in T1:
        row = cohort[ids[name]]
        if name == "Bay":
            assert (row["case_ref"], row["attached_date"]) == ("", "")
        else:
            # case dated 2012-05-01, before the family entered: A = R of the entry refresh
            assert (row["case_ref"], row["attached_date"]) == (f"K-{name}", "2012-06-30")
    later = {r["family_id"]: r for r in t1.runs["2012-08"].cohort}
    assert (later[ids["Bay"]]["case_ref"], later[ids["Bay"]]["attached_date"]) == ("K-Bay", "2012-08-31")
    # the attachment is kept in every later refresh
    for period in ("2012-11", "2012-12", "2013-02", "2013-03"):
        rows = {r["family_id"]: r for r in t1.runs[period].cohort}
        assert rows[ids["Ash"]]["attached_date"] == "2012-06-30"
        assert rows[ids["Bay"]]["attached_date"] == "2012-08-31"


def test_t1_attachment_fees(t1):
    ids = t1.ids
    first = claims(t1.runs["2012-06"])
    assert {(c["family_id"], c["claim_type"], c["amount"]) for c in first} == {
        (ids[n], "attachment_fee", "3200.00") for n in T1 if n != "Bay"}
    assert {c["batch_id"] for c in first} == {"B2012-06-1"}
    assert {c["financial_year"] for c in first} == {"2012/13"}
    assert claim_set(t1.runs["2012-08"]) == {(ids["Bay"], "attachment_fee", "3200.00")}


# ---------------------------------------------------------------------------------------------
# Results are not measured before C >= A + 6 months

def test_no_results_before_six_months(t1):
    nov = t1.runs["2012-11"]
    for name in T1:
        r = result(nov, t1.ids[name])
        assert r["measurable"] is False
        assert (r["route_a"], r["progress_to_work"], r["route_b"]) == (False, False, False)
    # nothing newly claimable: no batch, an empty claims.csv
    assert nov.summary["batch_id"] is None
    assert claims(nov) == []
    # Bay (A = 2012-08-31) is measurable only from C = 2013-02-28
    assert result(t1.runs["2012-12"], t1.ids["Bay"])["measurable"] is False
    assert result(t1.runs["2013-02"], t1.ids["Bay"])["measurable"] is True
    assert result(t1.runs["2012-12"], t1.ids["Ash"])["measurable"] is True


# ---------------------------------------------------------------------------------------------
# Route A legs at C = 2012-12-31

LEG_COLS = ["asb_leg", "asb_baseline", "asb_outcome", "offending_leg", "offending_baseline",
            "offending_outcome", "education_leg", "route_a"]

EXPECTED_LEGS_2012_12 = {
    # ASB: 5 -> 2: 2 x 100 = 200 <= 40 x 5 = 200 pass; E1/E6 name two people, counted once
    "Ash": ("pass", 5, 2, "neutral", 0, 0, "neutral", True),
    # ASB: 5 -> 3: 300 > 200 fail
    "Birch": ("fail", 5, 3, "neutral", 0, 0, "neutral", False),
    # offending 3 -> 2: 200 <= 67 x 3 = 201 pass
    "Cedar": ("neutral", 0, 0, "pass", 3, 2, "neutral", True),
    # offending 100 -> 68: 6800 > 6700 fail
    "Dale": ("neutral", 0, 0, "fail", 100, 68, "neutral", False),
    # offending 100 -> 67: 6700 <= 6700 pass
    "Elm": ("neutral", 0, 0, "pass", 100, 67, "neutral", True),
    # Finn's offences: 2 at 17; then 2012-08-31 (17) counts, 2012-09-01 (his 18th birthday) and
    # 2012-10-01 do not: 2 -> 1, 100 <= 134 pass
    "Fir": ("neutral", 0, 0, "pass", 2, 1, "neutral", True),
    "Gorse": ("pass", 5, 2, "pass", 3, 2, "neutral", True),
    # whole-family rule: ASB does not apply (0 at baseline) but an incident now -> fail
    "Hazel": ("fail", 0, 1, "pass", 3, 2, "neutral", False),
    # offending does not apply but a child's offence now -> fail
    "Ivy": ("pass", 5, 2, "fail", 0, 1, "neutral", False),
    # education did not apply but the pupil now fails (3 fixed-term exclusions) -> fail
    "Juniper": ("pass", 5, 2, "neutral", 0, 0, "fail", False),
    # every leg neutral: route A needs at least one leg that is not neutral
    "Kale": ("neutral", 0, 0, "neutral", 0, 0, "neutral", False),
    # education applies: only 2 terms ended in (A, C] -> pending, route A waits
    "Larch": ("neutral", 0, 0, "neutral", 0, 0, "pending", False),
    "Maple": ("neutral", 0, 0, "neutral", 0, 0, "pending", False),
    "Nutmeg": ("neutral", 0, 0, "neutral", 0, 0, "pending", False),
    # ASB passes, but education is pending: route A waits
    "Oak": ("pass", 5, 2, "neutral", 0, 0, "pending", False),
}


@pytest.mark.parametrize("name", list(EXPECTED_LEGS_2012_12))
def test_route_a_legs_at_2012_12(t1, name):
    r = result(t1.runs["2012-12"], t1.ids[name])
    assert tuple(r[c] for c in LEG_COLS) == EXPECTED_LEGS_2012_12[name]


EXPECTED_LEGS_2013_03 = {
    # 3 terms ended in (A, C]: summer 2011/12, autumn 2012/13, spring 2012/13 all clean -> pass
    "Larch": ("neutral", 0, 0, "neutral", 0, 0, "pass", True),
    # 3 fixed-term exclusions in autumn 2012/13 -> fail
    "Maple": ("neutral", 0, 0, "neutral", 0, 0, "fail", False),
    # no pupil with attendance in the last 3 terms at C: an applicable leg with no pupil passes
    "Nutmeg": ("neutral", 0, 0, "neutral", 0, 0, "pass", True),
    # outcome window (2012-09-30, 2013-03-31] holds none of E6 (08-01), E7 (09-01): 0 <= 200
    "Oak": ("pass", 5, 0, "neutral", 0, 0, "pass", True),
    # Birch's events are 10-05, 11-05, 12-05: still 3 -> fail
    "Birch": ("fail", 5, 3, "neutral", 0, 0, "neutral", False),
    # Juniper's autumn 2012/13 exclusions are still among the last 3 terms at 2013-03-31
    "Juniper": ("pass", 5, 0, "neutral", 0, 0, "fail", False),
    # unauthorised absence 44/300 = 14.7% passes; 45/300 = 15% fails
    "Olive": ("neutral", 0, 0, "neutral", 0, 0, "pass", True),
    "Poplar": ("neutral", 0, 0, "neutral", 0, 0, "fail", False),
}


@pytest.mark.parametrize("name", list(EXPECTED_LEGS_2013_03))
def test_route_a_legs_at_2013_03(t1, name):
    r = result(t1.runs["2013-03"], t1.ids[name])
    assert tuple(r[c] for c in LEG_COLS) == EXPECTED_LEGS_2013_03[name]


def test_education_pupil_counts(t1):
    r = result(t1.runs["2013-03"], t1.ids["Maple"])
    assert (r["education_terms_since_a"], r["education_pupils"], r["education_failing"]) == (3, 1, 1)
    r = result(t1.runs["2013-03"], t1.ids["Nutmeg"])
    assert (r["education_terms_since_a"], r["education_pupils"], r["education_failing"]) == (3, 0, 0)
    r = result(t1.runs["2012-12"], t1.ids["Larch"])
    assert r["education_terms_since_a"] == 2


# ---------------------------------------------------------------------------------------------
# Progress to work and route B

def test_progress_to_work(t1):
    dec, feb, mar = (t1.runs[p] for p in ("2012-12", "2013-02", "2013-03"))
    ids = t1.ids
    w = result(dec, ids["Willow"])
    assert (w["progress_to_work"], w["ptw_record_type"], str(w["ptw_start"])) == (True, "work_programme", "2012-08-15")
    # a child's start does not count
    assert result(dec, ids["Yew"])["progress_to_work"] is False
    # Zinnia at 2013-03: the mother's 2012-07-15 start is before C - 6m = 2012-09-30; the
    # father's 2012-10-15 start is the (only) one that counts
    z = result(mar, ids["Zinnia"])
    assert (z["progress_to_work"], z["ptw_record_type"], str(z["ptw_start"])) == (True, "esf_families", "2012-10-15")
    assert z["ptw_person_id"] == mar.person_of("interventions", "I-Zinnia-Zak")
    # Bay at 2013-02: the 2012-08-29 start is in (C - 6m, C] but before A = 2012-08-31
    b = result(feb, ids["Bay"])
    assert (b["progress_to_work"], str(b["ptw_start"])) == (True, "2012-08-31")
    assert b["ptw_person_id"] == feb.person_of("interventions", "I-Bay-Ben")


EXPECTED_ROUTE_B_2012_12 = {
    # name: (route_b, benefits at A, employment start, counted to, days, required days)
    "Pine": (True, "esa", "2012-10-01", "2012-12-31", 91, 91),
    "Rowan": (True, "jsa", "2012-07-02", "2012-12-31", 182, 182),
    "Vetch": (True, "esa", "2012-10-01", "2012-12-31", 91, 91),
    "Quince": (False, None, None, None, None, None),   # 90 days, one short of 91
    "Sage": (False, None, None, None, None, None),     # 181 days, one short of 182
    "Teak": (False, None, None, None, None, None),     # broken by a JSA spell
    "Elder": (False, None, None, None, None, None),    # ESA still covers the job's first day
    "Umber": (False, None, None, None, None, None),    # 60 days so far
}


@pytest.mark.parametrize("name", list(EXPECTED_ROUTE_B_2012_12))
def test_route_b_at_2012_12(t1, name):
    r = result(t1.runs["2012-12"], t1.ids[name])
    got = (r["route_b"], r["rb_benefits_at_a"],
           *(None if r[c] is None else str(r[c]) for c in ("rb_employment_start", "rb_employment_end")),
           r["rb_days"], r["rb_required_days"])
    assert got == EXPECTED_ROUTE_B_2012_12[name]


def test_route_b_later(t1):
    mar = t1.runs["2013-03"]
    # Umber: 2013-03-31 - 2012-11-01 = 150 days >= 91 -> route B met, after route A was claimed
    u = result(mar, t1.ids["Umber"])
    assert (u["route_b"], u["rb_days"], u["route_a"]) == (True, 150, True)
    # the ended spells stay short; the broken one stays broken
    for name in ("Quince", "Sage", "Teak", "Elder"):
        assert result(mar, t1.ids[name])["route_b"] is False
    # Willow: 2013-03-31 - 2012-12-01 = 120 days >= 91, after progress to work was claimed
    w = result(mar, t1.ids["Willow"])
    assert (w["route_b"], w["rb_days"]) == (True, 120)
    assert result(t1.runs["2013-02"], t1.ids["Willow"])["route_b"] is False  # 89 days


# ---------------------------------------------------------------------------------------------
# Claims of timeline 1

def test_claims_at_2012_12(t1):
    ids = t1.ids
    expected = {(ids[n], "route_a", "700.00") for n in ("Ash", "Cedar", "Elm", "Fir", "Gorse", "Umber", "Aspen")}
    # route B wins over route A (and progress to work) claimable in the same refresh (Vetch)
    expected |= {(ids[n], "route_b", "800.00") for n in ("Pine", "Rowan", "Vetch")}
    # progress to work on its own (Willow) and before route A (Larch, whose education is pending)
    expected |= {(ids["Willow"], "progress_to_work", "100.00"), (ids["Larch"], "progress_to_work", "100.00")}
    rows = claims(t1.runs["2012-12"])
    assert {(c["family_id"], c["claim_type"], c["amount"]) for c in rows} == expected
    assert {c["batch_id"] for c in rows} == {"B2012-12-1"}
    s = t1.runs["2012-12"].summary
    assert s["claims"] == {"progress_to_work": {"items": 2, "amount": 200.0},
                           "route_a": {"items": 7, "amount": 4900.0},
                           "route_b": {"items": 3, "amount": 2400.0}}
    assert s["claims_total"] == 7500.0


def test_claims_at_2013_02_and_2013_03(t1):
    ids = t1.ids
    assert claim_set(t1.runs["2013-02"]) == {(ids["Bay"], "progress_to_work", "100.00")}
    assert claim_set(t1.runs["2013-03"]) == {
        (ids["Larch"], "route_a", "700.00"), (ids["Nutmeg"], "route_a", "700.00"), (ids["Oak"], "route_a", "700.00"),
        (ids["Olive"], "route_a", "700.00"),
        # progress to work after route A (Aspen) and on its own (Zinnia)
        (ids["Aspen"], "progress_to_work", "100.00"), (ids["Zinnia"], "progress_to_work", "100.00")}
    # Umber's route B (met at 2013-03) is never claimed beside its route A, nor Willow's beside
    # its progress to work; Vetch's route A (still met) is never claimed beside its route B.
    assert result(t1.runs["2013-03"], ids["Vetch"])["route_a"] is True


def test_each_claim_type_at_most_once_per_family_and_within_the_cap(t1):
    every = [c for p in ("2012-06", "2012-08", "2012-11", "2012-12", "2013-02", "2013-03")
             for c in claims(t1.runs[p])]
    pairs = [(c["family_id"], c["claim_type"]) for c in every]
    assert len(pairs) == len(set(pairs))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for c in every:
        totals[c["family_id"]] += Decimal(c["amount"])
    assert max(totals.values()) <= Decimal("4000")
    # route B never beside route A or progress to work
    for fam_id in totals:
        types = {t for f, t in pairs if f == fam_id}
        assert not ("route_b" in types and types & {"route_a", "progress_to_work"})
    con = duckdb.connect(str(t1.pipe.db), read_only=True)
    try:
        slots = con.execute("SELECT family_id, slot FROM claim_slot WHERE family_id = ? ORDER BY slot",
                            [t1.ids["Vetch"]]).fetchall()
    finally:
        con.close()
    assert slots == [(t1.ids["Vetch"], "attachment"), (t1.ids["Vetch"], "progress"), (t1.ids["Vetch"], "results")]


def test_rerunning_a_period_creates_nothing_new(t1):
    again = claims(t1.runs["2012-12"])  # the re-run's claims.csv (the re-run replaced the folder)
    assert again == t1.first_2012_12_claims
    assert t1.rerun_2012_12.summary["batch_id"] == "B2012-12-1"
    assert t1.rerun_2012_12.summary["claims"] == t1.first_2012_12_summary["claims"]
    con = duckdb.connect(str(t1.pipe.db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM claim_batch WHERE period = '2012-12'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM claim_item i JOIN claim_batch b USING (batch_id) "
                           "WHERE b.period = '2012-12'").fetchone()[0] == 12
    finally:
        con.close()


def test_route_a_single_leg_flag(t1):
    rows = {(c["family_id"], c["claim_type"]): c for c in claims(t1.runs["2012-12"])}
    ids = t1.ids
    flags = lambda n, t="route_a": rows[(ids[n], t)]["anomaly_flags"].split(";")  # noqa: E731
    for n in ("Ash", "Cedar", "Elm", "Fir", "Umber", "Aspen"):  # only one leg not neutral
        assert "route_a_single_leg" in flags(n)
    assert "route_a_single_leg" not in flags("Gorse")            # two legs pass
    assert "route_a_single_leg" not in flags("Pine", "route_b")  # not a route A claim
    # 12 families with results out of 30 (40%): no cohort-share flag, no low-confidence links
    assert all("batch_over_cohort_share" not in c["anomaly_flags"] for c in rows.values())
    assert all("low_confidence_link" not in c["anomaly_flags"] for c in rows.values())
    mar = {(c["family_id"], c["claim_type"]): c for c in claims(t1.runs["2013-03"])}
    assert "route_a_single_leg" in mar[(ids["Larch"], "route_a")]["anomaly_flags"]
    assert "route_a_single_leg" not in mar[(ids["Oak"], "route_a")]["anomaly_flags"]  # ASB + education


def test_claims_csv_columns_and_evidence(t1):
    dec = t1.runs["2012-12"]
    with open(dec.out_dir / "claims.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header[:6] == CONTRACT
    assert {"rulebook_name", "rulebook_version", "source_files", "sample_seed", "audit_sample"} <= set(header)
    rows = {(c["family_id"], c["claim_type"]): c for c in claims(dec)}
    ash = rows[(t1.ids["Ash"], "route_a")]
    assert (ash["case_ref"], ash["attached_date"], ash["case_attached_date"], ash["financial_year"]) == \
        ("K-Ash", "2012-06-30", "2012-05-01", "2012/13")
    assert (ash["asb_leg"], ash["asb_baseline_window"], ash["asb_baseline_count"], ash["asb_outcome_window"],
            ash["asb_outcome_count"], float(ash["asb_outcome_pct"]), float(ash["asb_threshold_pct"])) == \
        ("pass", "(2011-12-30, 2012-06-30]", "5", "(2012-06-30, 2012-12-31]", "2", 40.0, 40.0)
    assert (ash["offending_leg"], ash["education_leg"]) == ("neutral", "neutral")
    assert (ash["rulebook_name"], ash["rulebook_version"]) == ("phase1-2012", "1.0.0")
    # the extract files behind the claim, each with its SHA-256 and delivery period
    june, december = t1.folders["2012-06"], t1.folders["2012-12"]
    for f, period in ((june / "asb.csv", "2012-06"), (december / "asb.csv", "2012-12"),
                      (june / "interventions.csv", "2012-06")):
        assert f"{f.name} ({period}, sha256 {sha256(f)})" in ash["source_files"]
    pine = rows[(t1.ids["Pine"], "route_b")]
    assert (pine["route_b_benefits_at_attachment"], pine["route_b_employment_start"], pine["route_b_counted_to"],
            pine["route_b_days"], pine["route_b_required_days"]) == ("esa", "2012-10-01", "2012-12-31", "91", "91")
    # the benefit spell in force is the 2012-12 delivery's (it superseded June's open spell)
    for f, period in ((december / "benefits.csv", "2012-12"), (december / "employment.csv", "2012-12")):
        assert f"{f.name} ({period}, sha256 {sha256(f)})" in pine["source_files"]
    willow = rows[(t1.ids["Willow"], "progress_to_work")]
    assert (willow["ptw_record_type"], willow["ptw_start_date"]) == ("work_programme", "2012-08-15")


# ---------------------------------------------------------------------------------------------
# Attachment (timeline 5): refreshes 2012-06 and 2012-07

ATT = {n: Fam(n) for n in ["Most", "Other", "Left", "Right", "Duo", "Shut", "Tardy", "Wait"]}
LONE = person("Nora", "Nobody", "1970-07-07", address="9 Lonely Lane", postcode="S65 1AB")


@pytest.fixture(scope="module")
def att(tmp_path_factory):
    d = Deliveries()
    for name, f in ATT.items():
        d.add("2012-06", "asb", f.event(f.kid, 1, "2012-03-01", "abc"))
        if name != "Wait":
            on_esa(d, f)
    m, o = ATT["Most"], ATT["Other"]
    # case KM: two members of Most, one of Other -> attaches Most
    d.add("2012-06", "interventions", m.case_rows("2012-04-01", m.mum, m.kid, case="KM")
          + [intervention(o.kid, "KM", o.ref(o.kid, "I"), "2012-04-01")])
    # case KN: its only member is a lone adult, in no family
    d.add("2012-06", "interventions", intervention(LONE, "KN", "I-Nobody-Nora", "2012-04-01"))
    # case KS: one member in Left, one in Right -> spread equally
    lf, rt = ATT["Left"], ATT["Right"]
    d.add("2012-06", "interventions", [intervention(lf.kid, "KS", lf.ref(lf.kid, "I"), "2012-04-01"),
                                       intervention(rt.kid, "KS", rt.ref(rt.kid, "I"), "2012-04-01")])
    # Duo: case KD1 dates 2012-03-01 and 2012-01-20 (its date is the earliest: 2012-01-20);
    # case KD2 dates 2012-02-01 twice. KD1 is the earlier case and counts.
    du = ATT["Duo"]
    d.add("2012-06", "interventions", [intervention(du.mum, "KD1", "I-Duo-1m", "2012-03-01"),
                                       intervention(du.kid, "KD1", "I-Duo-1k", "2012-01-20"),
                                       intervention(du.mum, "KD2", "I-Duo-2m", "2012-02-01"),
                                       intervention(du.kid, "KD2", "I-Duo-2k", "2012-02-01")])
    # Shut: a closed case still counts
    sh = ATT["Shut"]
    d.add("2012-06", "interventions", sh.case_rows("2012-02-01", case="KC", closed="2012-04-30"))
    # Wait: case from 2012-03-01, but the family only enters at 2012-07 (ESA from 2012-07-05)
    wa = ATT["Wait"]
    d.add("2012-06", "interventions", wa.case_rows("2012-03-01", case="KW"))
    d.add("2012-07", "benefits", wa.benefit("esa", "2012-07-05", cap="Y"))
    # Tardy: case attached 2012-07-10, after entry
    ta = ATT["Tardy"]
    d.add("2012-07", "interventions", ta.case_rows("2012-07-10", case="KT"))
    # Duo: a case dated even earlier arrives later; the attachment made is kept
    d.add("2012-07", "interventions", intervention(du.mum, "KD3", "I-Duo-3m", "2011-12-01"))
    tl = Timeline(Pipeline(tmp_path_factory.mktemp("att")), d)
    tl.run("2012-06")
    tl.run("2012-07")
    tl.ids = {n: fid(tl.runs["2012-07"], f) for n, f in ATT.items()}
    return tl


def test_attachment_at_entry(att):
    ids = att.ids
    june = att.runs["2012-06"]
    cohort = {r["family_id"]: (r["case_ref"], r["attached_date"]) for r in june.cohort}
    assert cohort == {
        ids["Most"]: ("KM", "2012-06-30"),   # holds 2 of KM's 3 members
        ids["Other"]: ("", ""),
        ids["Left"]: ("", ""), ids["Right"]: ("", ""),
        ids["Duo"]: ("KD1", "2012-06-30"),
        ids["Shut"]: ("KC", "2012-06-30"),
        ids["Tardy"]: ("", ""),
    }
    reported = {(r["case_ref"], r["issue"], r["family_id"]) for r in june.read_csv("cases_reported.csv")}
    assert reported == {("KD2", "family_attached_by_other_case", ids["Duo"]),
                        ("KN", "no_cohort_family", ""),
                        ("KS", "spread_over_families", ""),
                        ("KW", "no_cohort_family", "")}
    spread = next(r for r in june.read_csv("cases_reported.csv") if r["case_ref"] == "KS")
    assert ids["Left"] in spread["detail"] and ids["Right"] in spread["detail"]
    assert claim_set(june) == {(ids[n], "attachment_fee", "3200.00") for n in ("Most", "Duo", "Shut")}
    duo = next(c for c in claims(june) if c["family_id"] == ids["Duo"])
    assert (duo["case_ref"], duo["case_attached_date"], duo["attached_date"]) == ("KD1", "2012-01-20", "2012-06-30")


def test_attachment_later_and_kept(att):
    ids = att.ids
    july = att.runs["2012-07"]
    cohort = {r["family_id"]: (r["identified_period"], r["case_ref"], r["attached_date"]) for r in july.cohort}
    # Wait enters at 2012-07 with a case from 2012-03-01: A = 2012-07-31 (R of its entry refresh)
    assert cohort[ids["Wait"]] == ("2012-07", "KW", "2012-07-31")
    # Tardy's case is dated after it entered: A is the case's date
    assert cohort[ids["Tardy"]] == ("2012-06", "KT", "2012-07-10")
    # attachments made are kept, even against a case dated earlier that arrives later
    assert cohort[ids["Duo"]] == ("2012-06", "KD1", "2012-06-30")
    assert cohort[ids["Most"]] == ("2012-06", "KM", "2012-06-30")
    assert cohort[ids["Shut"]] == ("2012-06", "KC", "2012-06-30")
    reported = {(r["case_ref"], r["issue"], r["family_id"]) for r in july.read_csv("cases_reported.csv")}
    assert reported == {("KD2", "family_attached_by_other_case", ids["Duo"]),
                        ("KD3", "family_attached_by_other_case", ids["Duo"]),
                        ("KN", "no_cohort_family", ""),
                        ("KS", "spread_over_families", "")}
    assert claim_set(july) == {(ids["Wait"], "attachment_fee", "3200.00"), (ids["Tardy"], "attachment_fee", "3200.00")}


def test_store_refuses_a_second_claim_slot(att, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(att.pipe.db, db)
    con = duckdb.connect(str(db))
    try:
        fam = att.ids["Most"]
        assert con.execute("SELECT count(*) FROM claim_slot WHERE family_id = ? AND slot = 'attachment'",
                           [fam]).fetchone()[0] == 1
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO claim_slot VALUES (?, 'attachment', 'C9999999')", [fam])
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Payments by financial year of A

@pytest.fixture(scope="module")
def fy13(tmp_path_factory):
    """Xray: case 2013-02-01, enters at 2013-03 -> A = 2013-03-31 (2012/13).
    Yak: case 2013-04-01 (refresh 2013-04) -> A = 2013-04-01 (2013/14).
    Zebu: case 2013-04-10 -> A = 2013-04-10 (2013/14). Results at C = 2013-10-31 (>= A + 6m for
    all three: 2013-09-30, 2013-10-01, 2013-10-10)."""
    x, y, z = Fam("Xray"), Fam("Yak"), Fam("Zebu")
    d = Deliveries()
    # Xray: baseline (2012-09-30, 2013-03-31] 5 events, outcome (2013-04-30, 2013-10-31] 2.
    d.add("2013-03", "asb", [x.event(x.kid, 1, "2012-11-15", "abc")]
          + x.events(x.kid, ["2012-12-01", "2013-01-01", "2013-02-01", "2013-03-01"], "asb_incident"))
    d.add("2013-10", "asb", x.events(x.kid, ["2013-06-01", "2013-07-01"], "asb_incident"))
    d.add("2013-03", "benefits", x.benefit("esa", "2011-01-01", cap="Y"))
    d.add("2013-03", "interventions", x.case_rows("2013-02-01"))
    d.add("2013-10", "employment", x.job(x.mum, "work_programme", "2013-06-01"))
    # Yak: every leg neutral (ASBO 2012-06-01 before the baseline window (2012-10-01, 2013-04-01]);
    # JSA at A until 2013-04-14, job from 2013-04-15: 2013-10-31 - 2013-04-15 = 199 >= 182.
    d.add("2013-03", "asb", y.event(y.kid, 1, "2012-06-01", "asbo"))
    d.add("2013-03", "benefits", y.benefit("jsa", "2011-01-01", cap="Y"))
    d.add("2013-04", "interventions", y.case_rows("2013-04-01"))
    d.add("2013-10", "benefits", y.benefit("jsa", "2011-01-01", "2013-04-14", cap="Y"))
    d.add("2013-10", "employment", y.job(y.mum, "employment", "2013-04-15"))
    # Zebu: baseline (2012-10-10, 2013-04-10] 5 events, outcome 2; work programme 2013-06-01.
    d.add("2013-03", "asb", [z.event(z.kid, 1, "2013-01-05", "abc")]
          + z.events(z.kid, ["2013-01-10", "2013-01-20", "2013-02-10", "2013-03-10"], "asb_incident"))
    d.add("2013-03", "benefits", z.benefit("esa", "2011-01-01", cap="Y"))
    d.add("2013-04", "interventions", z.case_rows("2013-04-10"))
    d.add("2013-10", "asb", z.events(z.kid, ["2013-06-01", "2013-07-01"], "asb_incident"))
    d.add("2013-10", "employment", z.job(z.mum, "work_programme", "2013-06-01"))
    tl = Timeline(Pipeline(tmp_path_factory.mktemp("fy13")), d)
    for period in ("2013-03", "2013-04", "2013-10"):
        tl.run(period)
    tl.ids = {f.s: fid(tl.runs["2013-10"], f) for f in (x, y, z)}
    return tl


def test_payments_2012_13_and_2013_14(fy13):
    ids = fy13.ids
    assert claim_set(fy13.runs["2013-03"]) == {(ids["Xray"], "attachment_fee", "3200.00")}
    assert claim_set(fy13.runs["2013-04"]) == {(ids["Yak"], "attachment_fee", "2400.00"),
                                               (ids["Zebu"], "attachment_fee", "2400.00")}
    rows = claims(fy13.runs["2013-10"])
    assert {(c["family_id"], c["claim_type"], c["amount"], c["financial_year"]) for c in rows} == {
        (ids["Xray"], "route_a", "700.00", "2012/13"), (ids["Xray"], "progress_to_work", "100.00", "2012/13"),
        (ids["Yak"], "route_b", "1600.00", "2013/14"),
        (ids["Zebu"], "route_a", "1400.00", "2013/14"), (ids["Zebu"], "progress_to_work", "200.00", "2013/14")}
    yak = result(fy13.runs["2013-10"], ids["Yak"])
    assert (yak["rb_days"], yak["rb_required_days"], yak["rb_benefits_at_a"]) == (199, 182, "jsa")
    cohort = {r["family_id"]: r["attached_date"] for r in fy13.runs["2013-10"].cohort}
    assert cohort == {ids["Xray"]: "2013-03-31", ids["Yak"]: "2013-04-01", ids["Zebu"]: "2013-04-10"}


def test_batch_over_cohort_share_flag(fy13):
    # all 3 cohort families have results claims (100% > 95%): every result item is flagged
    for c in claims(fy13.runs["2013-10"]):
        assert "batch_over_cohort_share" in c["anomaly_flags"].split(";")
    # the attachment fee items are not results
    assert all("batch_over_cohort_share" not in c["anomaly_flags"] for c in claims(fy13.runs["2013-04"]))


@pytest.fixture(scope="module")
def fy14(tmp_path_factory):
    """A = 2014-06-30 (2014/15) for both. Ulm: route A (5 -> 2) and progress to work; Vole:
    route B (ESA, job from 2014-09-01: 2014-12-31 - 2014-09-01 = 121 >= 91). Before the results
    refresh, one of Ulm's links is set below the confident-match threshold."""
    u, v = Fam("Ulm"), Fam("Vole")
    d = Deliveries()
    d.add("2014-06", "asb", [u.event(u.kid, 1, "2014-01-15", "abc")]
          + u.events(u.kid, ["2014-02-01", "2014-03-01", "2014-04-01", "2014-05-01"], "asb_incident"))
    d.add("2014-12", "asb", u.events(u.kid, ["2014-08-01", "2014-09-01"], "asb_incident"))
    d.add("2014-06", "benefits", [u.benefit("esa", "2012-01-01", cap="Y"), v.benefit("esa", "2012-01-01", cap="Y")])
    d.add("2014-06", "interventions", u.case_rows("2014-05-01") + v.case_rows("2014-05-01"))
    d.add("2014-12", "employment", [u.job(u.mum, "work_programme", "2014-07-01"),
                                    v.job(v.mum, "employment", "2014-09-01")])
    d.add("2014-06", "asb", v.event(v.kid, 1, "2013-09-01", "asbo"))
    d.add("2014-12", "benefits", v.benefit("esa", "2012-01-01", "2014-08-31", cap="Y"))
    tl = Timeline(Pipeline(tmp_path_factory.mktemp("fy14")), d)
    tl.run("2014-06")
    tl.ids = {f.s: fid(tl.runs["2014-06"], f) for f in (u, v)}
    con = duckdb.connect(str(tl.pipe.db))
    try:
        con.execute("UPDATE person_xwalk SET match_probability = 0.9 WHERE source = 'benefits' AND source_key = ?",
                    [u.nino(u.mum)])
    finally:
        con.close()
    tl.run("2014-12")
    return tl


def test_payments_2014_15(fy14):
    ids = fy14.ids
    assert claim_set(fy14.runs["2014-06"]) == {(ids["Ulm"], "attachment_fee", "1600.00"),
                                               (ids["Vole"], "attachment_fee", "1600.00")}
    rows = claims(fy14.runs["2014-12"])
    assert {(c["family_id"], c["claim_type"], c["amount"], c["financial_year"]) for c in rows} == {
        (ids["Ulm"], "route_a", "2100.00", "2014/15"), (ids["Ulm"], "progress_to_work", "300.00", "2014/15"),
        (ids["Vole"], "route_b", "2400.00", "2014/15")}


def test_low_confidence_link_flag(fy14):
    rows = claims(fy14.runs["2014-12"])
    for c in rows:
        flagged = "low_confidence_link" in c["anomaly_flags"].split(";")
        assert flagged == (c["family_id"] == fy14.ids["Ulm"]), c
    # set after the 2014-06 refresh: its fees were not flagged
    assert all(c["anomaly_flags"] == "" for c in claims(fy14.runs["2014-06"]))


# ---------------------------------------------------------------------------------------------
# The £4,000 cap, with a rulebook whose table makes it bind

@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    root = tmp_path_factory.mktemp("cap")
    data = yaml.safe_load((resources.files("pbr") / "rulebooks" / "phase1-2012.yaml").read_text(encoding="utf-8"))
    data["name"], data["version"] = "cap-test", "9.1"
    data["payments"]["by_financial_year"][0].update(attachment_fee=3500, route_a=700, progress_to_work=100,
                                                    route_b=800)
    rb = root / "cap-test.yaml"
    rb.write_text(yaml.safe_dump(data), encoding="utf-8")
    # Capa: route A at 2012-12 (5 -> 2), progress to work (start 2013-01-10) at 2013-03.
    # Capb: route B at 2012-12 (ESA to 2012-09-30, job from 2012-10-01: 91 days).
    a, b = Fam("Capa"), Fam("Capb")
    d = Deliveries()
    asb_5_to_2(d, a); on_esa(d, a)
    d.add("2012-06", "interventions", a.case_rows("2012-05-01") + b.case_rows("2012-05-01"))
    d.add("2013-03", "employment", a.job(a.mum, "work_programme", "2013-01-10"))
    old_asbo(d, b); on_esa(d, b)
    d.add("2012-12", "benefits", b.benefit("esa", "2011-01-01", "2012-09-30", cap="Y"))
    d.add("2012-12", "employment", b.job(b.mum, "employment", "2012-10-01"))
    tl = Timeline(Pipeline(root), d)
    for period in ("2012-06", "2012-12", "2013-03"):
        tl.run(period, rulebook=str(rb))
    tl.ids = {f.s: fid(tl.runs["2013-03"], f) for f in (a, b)}
    return tl


def test_cap_trims_the_last_item(capped):
    ids = capped.ids
    assert claim_set(capped.runs["2012-06"]) == {(ids["Capa"], "attachment_fee", "3500.00"),
                                                 (ids["Capb"], "attachment_fee", "3500.00")}
    # 3500 + 700 > 4000: route A is trimmed to 500; route B likewise
    assert claim_set(capped.runs["2012-12"]) == {(ids["Capa"], "route_a", "500.00"),
                                                 (ids["Capb"], "route_b", "500.00")}
    # progress to work is met at 2013-03, but the family's £4,000 is reached: nothing to claim
    assert result(capped.runs["2013-03"], ids["Capa"])["progress_to_work"] is True
    assert claims(capped.runs["2013-03"]) == []
    assert capped.runs["2013-03"].summary["batch_id"] is None


def test_custom_rulebook_recorded_in_claims(capped):
    for period in ("2012-06", "2012-12"):
        for c in claims(capped.runs[period]):
            assert (c["rulebook_name"], c["rulebook_version"]) == ("cap-test", "9.1")


# ---------------------------------------------------------------------------------------------
# Audit sample: 10% of a batch, at least 5, all when 5 or fewer; a recorded, reproducible seed

SAMPLE_NAMES = [f"Sam{a}{b}" for a in "abcdefghij" for b in "klmnopqr"]  # 80 letter-only surnames


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """5 families enter at 2012-06, 6 more at 2012-07, 60 more at 2012-08: batches of 5, 6 and
    60 attachment fees."""
    fams = [Fam(n) for n in SAMPLE_NAMES[:71]]
    d = Deliveries()
    groups = {"2012-06": fams[:5], "2012-07": fams[5:11], "2012-08": fams[11:71]}
    for period, group in groups.items():
        for f in group:
            d.add(period, "asb", f.event(f.kid, 1, "2012-03-01", "abc"))
            on_esa(d, f, period=period)
            d.add(period, "interventions", f.case_rows("2012-04-01"))
    tl = Timeline(Pipeline(tmp_path_factory.mktemp("sample")), d)
    for period in groups:
        tl.run(period)
    tl.first_aug = claims(tl.runs["2012-08"])
    tl.rerun = tl.pipe.refresh("2012-08", tl.folders["2012-08"])
    return tl


@pytest.mark.parametrize("period, items, sample", [("2012-06", 5, 5), ("2012-07", 6, 5), ("2012-08", 60, 6)])
def test_audit_sample_size(sampled, period, items, sample):
    rows = claims(sampled.runs[period])
    assert len(rows) == items
    assert sum(c["audit_sample"] == "true" for c in rows) == sample


def test_audit_sample_is_reproducible_and_its_seed_recorded(sampled):
    again = claims(sampled.runs["2012-08"])
    picked = lambda rows: {c["claim_id"] for c in rows if c["audit_sample"] == "true"}  # noqa: E731
    assert picked(again) == picked(sampled.first_aug)
    seeds = {c["sample_seed"] for c in again}
    assert len(seeds) == 1 and seeds == {c["sample_seed"] for c in sampled.first_aug}
    con = duckdb.connect(str(sampled.pipe.db), read_only=True)
    try:
        stored = con.execute("SELECT sample_seed FROM claim_batch WHERE batch_id = 'B2012-08-1'").fetchone()[0]
        created = con.execute("SELECT detail FROM claim_event WHERE batch_id = 'B2012-08-1' AND action = 'created'"
                              ).fetchall()
    finally:
        con.close()
    assert seeds == {str(stored)}
    assert created == [(f"60 items, sample seed {stored}",)]
    # each batch draws its own sample with its own seed
    assert len({claims(sampled.runs[p])[0]["sample_seed"] for p in ("2012-06", "2012-07", "2012-08")}) == 3
