"""Identification at R (rules.md, Words and Identification): the three national criteria, local
discretion, cohort routes, households and families, person linkage, and the cohort kept across
monthly refreshes. Each test case is one small hand-made family; where many cases check one rule
they live side by side in a single refresh (one family each, see Fam), so the suite stays fast.
Expected results are worked out by hand from rules.md.

Unless a test says otherwise the period is 2026-01, so R = 2026-01-31, the 12 months up to R are
(2025-01-31, 2026-01-31], and the last 3 terms at R are autumn 2025/26 (ends 2025-12-31), summer
2024/25 (2025-07-31) and spring 2024/25 (2025-03-31)."""

from __future__ import annotations

import itertools

import pytest

from builders import asb, attendance, benefit, employment, intervention, person
from pbr.errors import PbrError

P = "2026-01"

MUM = person("Ann", "Smith", "1985-03-02")
KID = person("Bob", "Smith", "2012-05-05")
MUM_NINO = "AB123456C"
KID_UPN = "K100"


def merge(*parts: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in parts:
        for source, rows in part.items():
            out.setdefault(source, []).extend(rows)
    return out


# Building blocks: each meets one criterion for the Smith family at 1 High Street, S65 1AB.
WORK = {"benefits": [benefit(MUM, MUM_NINO, "jsa", "2025-06-01")]}                     # open jsa spell
EDU = {"attendance": [attendance(KID, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=20)]}
CRIME = {"asb": [asb(KID, "Y1", "E1", "2025-11-10", "asbo")]}
# ... and blocks that only put a member in the household without meeting anything.
MUM_HERE = {"benefits": [benefit(MUM, MUM_NINO, "hb", "2025-06-01")]}                  # not out of work
KID_HERE = {"attendance": [attendance(KID, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=0)]}
CRIME_BY_MUM = {"asb": [asb(MUM, "Y2", "E2", "2025-10-01", "asbo")]}


def route(run) -> str | None:
    """The route of the single cohort family, or None when the cohort is empty."""
    rows = run.cohort
    assert len(rows) <= 1, rows
    return rows[0]["route"] if rows else None


def flags(row: dict) -> tuple[str, str, str, str]:
    return row["crime_asb"], row["education"], row["work"], row["local_discretion"]


def only_status(run) -> dict:
    rows = run.status()
    assert len(rows) == 1, rows
    return rows[0]


# =========================================================================== side-by-side families
# Most rules are checked over one refresh holding many small families side by side, one per
# test case: each family has its own surname, address and identifiers, so nothing links across
# families, and each parametrised test reads its own family's result.


def letters(i: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'aa': name parts must be letters (digits are dropped when names
    are standardised, so 'Smith1' and 'Smith2' would be one surname)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(97 + r) + out
    return out


class Fam:
    """One family of its own for a side-by-side refresh."""

    def __init__(self, i: int, postcode: str = "S65 1AB"):
        self.k = letters(i)
        self.surname = "Fam" + self.k
        self.where = dict(address=f"{i + 1} {self.k.title()} Street", postcode=postcode)
        self.keys: set[tuple[str, str]] = set()
        self.mum = self.person("Ann", "1985-03-02")
        self.kid = self.person("Bob", "2012-05-05")
        self.mum_nino = f"MN{self.k.upper()}"
        self.kid_upn = f"KU{self.k.upper()}"

    def person(self, forename: str, dob: str, **kw) -> dict:
        return person(forename, self.surname, dob, **{**self.where, **kw})

    def ref(self, name: str) -> str:
        return f"{name}{self.k.upper()}"

    def rows(self, source: str, *rows: dict) -> dict[str, list[dict]]:
        key = {"attendance": "upn", "asb": "person_ref", "interventions": "person_ref"}.get(source, "nino")
        self.keys |= {(source, r[key]) for r in rows}
        return {source: list(rows)}

    # Blocks meeting one criterion each, and blocks that only put a member in the household.
    def work(self, code="jsa", start="2025-06-01", end="", **kw):
        return self.rows("benefits", benefit(self.mum, self.mum_nino, code, start, end, **kw))

    def mum_here(self):
        return self.rows("benefits", benefit(self.mum, self.mum_nino, "hb", "2025-06-01"))

    def edu(self):
        return self.rows("attendance", attendance(self.kid, self.kid_upn, "2025/26", "autumn", possible=100, unauthorised=20))

    def kid_here(self):
        return self.rows("attendance", attendance(self.kid, self.kid_upn, "2025/26", "autumn"))

    def att(self, term: str, **kw) -> dict:
        name, year = term.split()
        return attendance(self.kid, self.kid_upn, year, name, **kw)

    def event(self, event_type="asbo", event_date="2025-11-10", who=None, n=1):
        who = who or self.kid
        ref = self.ref("Y" + who["forename"])
        return self.rows("asb", asb(who, ref, self.ref(f"E{n}"), event_date, event_type))

    def crime(self):
        return self.event()

    def crime_by_mum(self):
        return self.event("asbo", "2025-10-01", who=self.mum)


class Batch:
    def __init__(self, run, fams: dict[str, Fam]):
        self.run = run
        self.fams = fams
        self._families = run.families()
        self._status = {r["family_id"]: r for r in run.status()}
        self._cohort = {r["family_id"]: r for r in run.cohort}

    def family_id(self, case: str) -> str | None:
        keys = self.fams[case].keys
        ids = [fid for fid, members in self._families.items() if members & keys]
        assert len(ids) <= 1, f"{case}: records in several families {ids}"
        return ids[0] if ids else None

    def members(self, case: str) -> set[tuple[str, str]]:
        fid = self.family_id(case)
        return self._families[fid] if fid else set()

    def status(self, case: str) -> dict:
        fid = self.family_id(case)
        assert fid is not None, f"{case}: no family at R"
        return self._status[fid]

    def cohort_row(self, case: str) -> dict | None:
        return self._cohort.get(self.family_id(case))

    def route(self, case: str) -> str | None:
        row = self.cohort_row(case)
        return row["route"] if row else None


def run_batch(factory, pipeline_at, name: str, cases: dict, *, period: str = P, extra: dict | None = None,
              postcodes: dict[str, str] | None = None) -> Batch:
    """cases: case id -> (builder(fam) -> rows, ...expected). One refresh for all of them."""
    pipe = pipeline_at(factory.mktemp(name))
    fams, parts = {}, []
    for i, (case, spec) in enumerate(cases.items()):
        fam = Fam(i, (postcodes or {}).get(case, "S65 1AB"))
        fams[case] = fam
        parts.append(spec[0](fam))
    run = pipe.refresh(period, **merge(*parts, extra or {}))
    assert run.quarantine == []
    return Batch(run, fams)


# =========================================================================== 1. crime / ASB


def _offence_by_carl(day):
    # Carl, born 2007-06-15, is 18 from 2025-06-15 and an adult at R.
    return lambda f: merge(f.work(), f.edu(), f.event("proven_offence", day, who=f.person("Carl", "2007-06-15")))


CRIME_CASES = {
    "offence-by-child": (lambda f: merge(f.work(), f.edu(), f.event("proven_offence")), True),
    "offence-day-before-18th-birthday": (_offence_by_carl("2025-06-14"), True),
    "offence-on-18th-birthday": (_offence_by_carl("2025-06-15"), False),
    "offence-as-adult": (_offence_by_carl("2025-09-01"), False),
    **{f"{et}-{label}": ((lambda et, day: lambda f: merge(f.work(), f.edu(), f.event(et, day)))(et, day), counts)
       for et in ("asbo", "proven_offence")
       for label, day, counts in [
           ("on-R", "2026-01-31", True),            # exactly R: inside (R - 12m, R]
           ("first-day-of-window", "2025-02-01", True),
           ("on-R-minus-12-months", "2025-01-31", False),  # exactly R - 12 months: outside
           ("before-window", "2024-12-01", False),
           ("after-R", "2026-02-01", False)]},
    # An ASB intervention counts whoever receives it, an adult included.
    **{f"intervention-{et}": ((lambda et: lambda f: merge(f.work(), f.edu(), f.event(et, "2025-08-01", who=f.mum)))(et), True)
       for et in ("asbo", "asb_injunction", "abc", "housing_asb_action")},
    "asb-incidents-only": (lambda f: merge(f.work(), f.edu(), *[
        f.event("asb_incident", f"2025-{m:02d}-15", n=m) for m in range(2, 13)]), False),
    "asbo-of-a-neighbour": (lambda f: merge(f.work(), f.edu(), f.event(
        "asbo", who=f.person("Nick", "1990-01-01", address=f"99 {f.k.title()} Street"))), False),
    "no-event": (lambda f: merge(f.work(), f.edu()), False),
}


@pytest.fixture(scope="module")
def crime_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "crime", CRIME_CASES)


@pytest.mark.parametrize("case", list(CRIME_CASES))
def test_crime_asb_criterion(crime_batch, case):
    """Work and education are met; the event decides crime/ASB and so the cohort."""
    counts = CRIME_CASES[case][1]
    assert crime_batch.route(case) == ("three_criteria" if counts else None)
    status = crime_batch.status(case)
    assert (status["crime_asb"], status["education"], status["work"]) == (counts, True, True)
    if counts:
        assert crime_batch.cohort_row(case)["crime_asb"] == "true"


LEAP_CASES = {day: ((lambda day: lambda f: merge(
    f.rows("benefits", benefit(f.mum, f.mum_nino, "jsa", "2023-06-01")),
    f.rows("attendance", attendance(f.kid, f.kid_upn, "2023/24", "autumn", possible=100, unauthorised=20)),
    f.event("asbo", day)))(day), counts)
    for day, counts in [("2023-02-28", False), ("2023-03-01", True), ("2024-02-29", True)]}


@pytest.fixture(scope="module")
def leap_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "leap", LEAP_CASES, period="2024-02")


@pytest.mark.parametrize("case", list(LEAP_CASES))
def test_crime_window_in_a_leap_february(leap_batch, case):
    """Period 2024-02: R = 2024-02-29, R - 12 months = 2023-02-28 (clamped); the window is
    (2023-02-28, 2024-02-29]."""
    counts = LEAP_CASES[case][1]
    assert leap_batch.route(case) == ("three_criteria" if counts else None)
    assert leap_batch.status(case)["crime_asb"] is counts


# =========================================================================== 2. education


def _edu(*terms):
    """Attendance rows for the family's pupil: ("autumn 2025/26", {kw}) pairs."""
    return lambda f: merge(f.work(), f.crime_by_mum(), f.rows("attendance", *[f.att(t, **kw) for t, kw in terms]))


EDU_CASES = {
    "permanent-exclusion-latest-term": (_edu(("autumn 2025/26", dict(permanent="Y"))), True),
    "permanent-exclusion-oldest-of-3-terms": (_edu(("spring 2024/25", dict(permanent="Y")), ("autumn 2025/26", {})), True),
    "fixed-3-two-schools-one-term": (_edu(("autumn 2025/26", dict(fixed=2, school_urn="A")),
                                          ("autumn 2025/26", dict(fixed=1, school_urn="B"))), True),
    "fixed-3-two-schools-two-terms": (_edu(("summer 2024/25", dict(fixed=2, school_urn="A")),
                                           ("autumn 2025/26", dict(fixed=1, school_urn="B"))), True),
    "fixed-2-not-enough": (_edu(("autumn 2025/26", dict(fixed=1, school_urn="A")),
                                ("autumn 2025/26", dict(fixed=1, school_urn="B"))), False),
    "absence-150-of-1000-is-15pct": (_edu(("summer 2024/25", dict(possible=400, unauthorised=40)),
                                          ("autumn 2025/26", dict(possible=600, unauthorised=110))), True),
    "absence-149-of-1000-under-15pct": (_edu(("summer 2024/25", dict(possible=400, unauthorised=40)),
                                             ("autumn 2025/26", dict(possible=600, unauthorised=109))), False),
    # 60/400 alone is 15%, but the rule sums the terms: 149/1000
    "absence-summed-over-terms-not-per-term": (_edu(("summer 2024/25", dict(possible=400, unauthorised=60)),
                                                    ("autumn 2025/26", dict(possible=600, unauthorised=89))), False),
    "absence-two-schools-add-up-30-of-200": (_edu(("autumn 2025/26", dict(possible=100, unauthorised=10, school_urn="A")),
                                                  ("autumn 2025/26", dict(possible=100, unauthorised=20, school_urn="B"))), True),
    "no-possible-sessions-not-assessed": (_edu(("autumn 2025/26", dict(possible=0, unauthorised=0))), False),
    "zero-possible-term-and-15pct": (_edu(("summer 2024/25", dict(possible=0, unauthorised=0)),
                                          ("autumn 2025/26", dict(possible=100, unauthorised=15))), True),
    "pru-latest-term": (_edu(("autumn 2025/26", dict(provision="pru"))), True),
    "alternative-provision-latest-term": (_edu(("autumn 2025/26", dict(provision="alternative_provision"))), True),
    "not-on-roll-latest-term": (_edu(("autumn 2025/26", dict(provision="not_on_roll", possible=0))), True),
    "pru-row-of-a-second-school-latest-term": (_edu(("autumn 2025/26", dict(school_urn="A")),
                                                    ("autumn 2025/26", dict(provision="pru", school_urn="B"))), True),
    "pru-only-in-earlier-term": (_edu(("summer 2024/25", dict(provision="pru")), ("autumn 2025/26", {})), False),
    "alternative-provision-only-in-earlier-term": (_edu(("spring 2024/25", dict(provision="alternative_provision")),
                                                        ("autumn 2025/26", {})), False),
    "not-on-roll-only-in-earlier-term": (_edu(("summer 2024/25", dict(provision="not_on_roll", possible=0)),
                                              ("autumn 2025/26", {})), False),
    "rows-older-than-last-3-terms-ignored": (_edu(("autumn 2024/25", dict(permanent="Y", fixed=5, possible=100,
                                                                          unauthorised=100, provision="pru")),
                                                  ("autumn 2025/26", {})), False),
    "term-ending-after-R-ignored": (_edu(("autumn 2025/26", {}),
                                         ("spring 2025/26", dict(permanent="Y", fixed=4, unauthorised=90))), False),
    "clean-attendance": (_edu(("summer 2024/25", {}), ("autumn 2025/26", dict(unauthorised=14, fixed=2))), False),
    "siblings-exclusions-do-not-add-up": (lambda f: merge(f.work(), f.crime_by_mum(), f.rows(
        "attendance", f.att("autumn 2025/26", fixed=2),
        attendance(f.person("Cat", "2013-09-09"), f.ref("KS"), "2025/26", "autumn", fixed=1))), False),
}


@pytest.fixture(scope="module")
def edu_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "education", EDU_CASES)


@pytest.mark.parametrize("case", list(EDU_CASES))
def test_education_criterion(edu_batch, case):
    """Work and crime/ASB are met; the pupil's attendance rows decide education."""
    meets = EDU_CASES[case][1]
    assert edu_batch.route(case) == ("three_criteria" if meets else None)
    status = edu_batch.status(case)
    assert (status["crime_asb"], status["education"], status["work"]) == (True, meets, True)


def test_education_siblings_are_two_pupils(edu_batch):
    assert edu_batch.status("siblings-exclusions-do-not-add-up")["children"] == 2


def test_education_at_a_term_end_reference_date(pipeline):
    """Period 2025-12: R = 2025-12-31 is the autumn term's end, so autumn 2025/26 is the latest term."""
    rows = {
        "benefits": [benefit(MUM, MUM_NINO, "jsa", "2025-06-01")],
        "asb": [asb(MUM, "Y2", "E2", "2025-10-01", "asbo")],
        "attendance": [attendance(KID, KID_UPN, "2024/25", "summer"),
                       attendance(KID, KID_UPN, "2025/26", "autumn", provision="pru")],
    }
    run = pipeline.refresh("2025-12", **rows)
    assert route(run) == "three_criteria"


# =========================================================================== 3. work


def _spell(code, start, end=""):
    return lambda f: merge(f.edu(), f.crime(), f.work(code, start, end))


WORK_CASES = {
    "starts-on-R": (_spell("jsa", "2026-01-31"), True),
    "ends-on-R": (_spell("jsa", "2025-01-01", "2026-01-31"), True),
    "ended-day-before-R": (_spell("jsa", "2025-01-01", "2026-01-30"), False),
    "starts-after-R": (_spell("jsa", "2026-02-01"), False),
    **{f"open-{code}": (_spell(code, "2025-01-01"), True) for code in ("jsa", "esa", "is", "ib", "sda", "ca", "uc_searching")},
    "open-hb-not-out-of-work": (_spell("hb", "2025-01-01"), False),
    "open-uc_working-not-out-of-work": (_spell("uc_working", "2025-01-01"), False),
    "spell-of-a-child": (lambda f: merge(f.edu(), f.crime(), f.mum_here(), f.rows(
        "benefits", benefit(f.person("Dee", "2008-06-01"), f.ref("DN"), "jsa", "2025-09-01"))), False),  # 17 at R
    "spell-of-a-member-18-on-R": (lambda f: merge(f.edu(), f.crime(), f.mum_here(), f.rows(
        "benefits", benefit(f.person("Dee", "2008-01-31"), f.ref("DN"), "jsa", "2025-09-01"))), True),
}


@pytest.fixture(scope="module")
def work_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "work", WORK_CASES)


@pytest.mark.parametrize("case", list(WORK_CASES))
def test_work_criterion(work_batch, case):
    """Crime/ASB and education are met; the adult's benefit spell decides work."""
    meets = WORK_CASES[case][1]
    assert work_batch.route(case) == ("three_criteria" if meets else None)
    status = work_batch.status(case)
    assert (status["crime_asb"], status["education"], status["work"]) == (True, True, meets)


def test_work_child_spell_family_has_two_children(work_batch):
    assert work_batch.status("spell-of-a-child")["children"] == 2
    assert work_batch.status("spell-of-a-member-18-on-R")["children"] == 1


# =========================================================================== 4. local discretion

AREAS = [{"area": a, "name": "Ward"} for a in ["S65", "S66 1", "S67 1AB", " s68  1ab ", "s69 1", "S7"]]
AREA_CASES = {
    # case: (family postcode, meets)
    "district": ("S65 4XY", True),
    "sector": ("S66 1AB", True),
    "full-postcode": ("S67 1AB", True),
    "listed-in-lower-case-with-extra-spaces": ("S68 1AB", True),
    "listed-sector-in-lower-case": ("S69 1ZZ", True),
    "household-postcode-as-delivered-s661ab": ("s661ab", True),
    "other-sector-of-a-listed-sector": ("S66 2AB", False),
    "other-postcode-of-a-listed-postcode": ("S67 1AC", False),
    "district-starting-with-a-listed-district": ("S70 1AA", False),
    "unlisted": ("S99 1AA", False),
}


@pytest.fixture(scope="module")
def area_batch(tmp_path_factory, pipeline_at):
    cases = {c: (lambda f: merge(f.work(), f.edu()),) for c in AREA_CASES}
    return run_batch(tmp_path_factory, pipeline_at, "areas", cases, extra={"areas": AREAS},
                     postcodes={c: pc for c, (pc, _) in AREA_CASES.items()})


@pytest.mark.parametrize("case", list(AREA_CASES))
def test_local_discretion_by_area(area_batch, case):
    """Work and education are met; the household postcode's district, sector or full postcode
    being listed in the areas file decides local discretion."""
    meets = AREA_CASES[case][1]
    assert area_batch.route(case) == ("two_plus_local" if meets else None)
    status = area_batch.status(case)
    assert (status["local_area"], status["local_discretion"]) == (meets, meets)


CAP_CASES = {
    "capped-open-spell": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.mum, f.mum_nino, "hb", "2025-06-01", cap="Y"))), True),
    "capped-spell-ending-on-R": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.mum, f.mum_nino, "hb", "2025-06-01", "2026-01-31", cap="Y"))), True),
    "capped-jsa-spell-itself": (lambda f: merge(f.edu(), f.work(cap="Y")), True),
    "capped-spell-of-a-child-member": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.person("Dee", "2008-06-01"), f.ref("DN"), "hb", "2025-06-01", cap="Y"))), True),
    "capped-spell-ended-day-before-R": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.mum, f.mum_nino, "hb", "2025-06-01", "2026-01-30", cap="Y"))), False),
    "capped-spell-starting-after-R": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.mum, f.mum_nino, "hb", "2026-02-01", cap="Y"))), False),
    "uncapped-spell": (lambda f: merge(f.work(), f.edu(), f.rows("benefits", benefit(
        f.mum, f.mum_nino, "hb", "2025-06-01", cap="N"))), False),
}


@pytest.fixture(scope="module")
def cap_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "cap", CAP_CASES)


@pytest.mark.parametrize("case", list(CAP_CASES))
def test_local_discretion_by_benefit_cap(cap_batch, case):
    meets = CAP_CASES[case][1]
    assert cap_batch.route(case) == ("two_plus_local" if meets else None)
    status = cap_batch.status(case)
    assert (status["local_benefit_cap"], status["local_discretion"], status["local_area"]) == (meets, meets, False)


def test_area_filter_switched_off_in_config(pipeline):
    rows = merge(WORK, EDU, {"areas": [{"area": "S65"}]})
    assert route(pipeline.refresh(P, **rows)) == "two_plus_local"
    off = pipeline.refresh(P, config={"local_discretion": {"areas": False}}, **rows)
    assert route(off) is None
    assert only_status(off)["local_area"] is False


def test_benefit_cap_filter_switched_off_in_config(pipeline):
    rows = merge(WORK, EDU, {"benefits": [benefit(MUM, MUM_NINO, "hb", "2025-06-01", cap="Y")],
                             "areas": [{"area": "S99"}]})
    # Switching the areas filter off leaves the benefit cap on ...
    assert route(pipeline.refresh(P, config={"local_discretion": {"areas": False}}, **rows)) == "two_plus_local"
    # ... and switching the benefit cap off takes it away.
    off = pipeline.refresh(P, config={"local_discretion": {"benefit_cap": False}}, **rows)
    assert route(off) is None
    assert only_status(off)["local_benefit_cap"] is False


# =========================================================================== routes

LOCAL, NOT_LOCAL = "S65 1AB", "S99 1AA"
ROUTE_CASES = {
    # case: (builder, postcode, route, cohort flags crime_asb, education, work, local_discretion)
    "three-criteria": (lambda f: merge(f.work(), f.edu(), f.crime()), NOT_LOCAL, "three_criteria",
                       ("true", "true", "true", "false")),
    "three-criteria-and-local": (lambda f: merge(f.work(), f.edu(), f.crime()), LOCAL, "three_criteria",
                                 ("true", "true", "true", "true")),
    "crime+education+local": (lambda f: merge(f.edu(), f.crime()), LOCAL, "two_plus_local",
                              ("true", "true", "false", "true")),
    "crime+work+local": (lambda f: merge(f.work(), f.crime(), f.kid_here()), LOCAL, "two_plus_local",
                         ("true", "false", "true", "true")),
    "education+work+local": (lambda f: merge(f.work(), f.edu()), LOCAL, "two_plus_local",
                             ("false", "true", "true", "true")),
    "crime+education": (lambda f: merge(f.edu(), f.crime()), NOT_LOCAL, None, None),
    "crime+work": (lambda f: merge(f.work(), f.crime(), f.kid_here()), NOT_LOCAL, None, None),
    "education+work": (lambda f: merge(f.work(), f.edu()), NOT_LOCAL, None, None),
    "crime+local": (lambda f: merge(f.crime(), f.kid_here()), LOCAL, None, None),
    "education+local": (lambda f: f.edu(), LOCAL, None, None),
    "work+local": (lambda f: merge(f.work(), f.kid_here()), LOCAL, None, None),
    "local-only": (lambda f: f.kid_here(), LOCAL, None, None),
}


@pytest.fixture(scope="module")
def route_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "routes", ROUTE_CASES, extra={"areas": [{"area": "S65"}]},
                     postcodes={c: spec[1] for c, spec in ROUTE_CASES.items()})


@pytest.mark.parametrize("case", list(ROUTE_CASES))
def test_cohort_route(route_batch, case):
    _, postcode, expected_route, expected_flags = ROUTE_CASES[case]
    row = route_batch.cohort_row(case)
    if expected_route is None:
        assert row is None
        assert route_batch.status(case)["route"] is None
    else:
        assert (row["route"], row["identified_period"], row["still_meets_criteria"]) == (expected_route, P, "true")
        assert flags(row) == expected_flags
    assert route_batch.status(case)["local_discretion"] is (postcode == LOCAL)


def test_cohort_summary_counts_routes(route_batch):
    s = route_batch.run.summary
    assert s["families"] == len(ROUTE_CASES)
    assert s["cohort"] == 5
    assert s["cohort_by_route"] == {"three_criteria": 2, "two_plus_local": 3}
    assert sorted(s["new_in_cohort"]) == sorted(r["family_id"] for r in route_batch.run.cohort)


def test_local_area_evidence_has_one_row_per_listed_area_the_postcode_falls_in(pipeline):
    """The household (postcode S65 1AB) is in a listed district, sector and full postcode, each
    listed once (one twice, in another spelling): one evidence row per listed area, none twice."""
    areas = [{"area": a} for a in ["S65", "S65 1", "s65  1ab", "S65 1AB", "S66", "S65 2"]]
    run = pipeline.refresh(P, **merge(WORK, EDU, {"areas": areas}))
    assert route(run) == "two_plus_local"
    details = sorted(e["detail"] for e in run.evidence if e["criterion"] == "local_area")
    assert details == ["household postcode in listed area S65", "household postcode in listed area S65 1",
                       "household postcode in listed area S65 1AB"]


def test_cohort_evidence_names_the_records_behind_each_flag(pipeline):
    run = pipeline.refresh(P, **merge(WORK, EDU, CRIME))
    fid = run.only_family()["family_id"]
    sha = {f["file_name"]: f["sha256"] for f in run.summary["files"]}
    ev = {e["criterion"]: e for e in run.evidence}
    assert set(ev) == {"crime_asb", "education", "work"}
    assert all(e["family_id"] == fid and e["identified_period"] == P for e in run.evidence)
    assert (ev["crime_asb"]["extract_file"], ev["crime_asb"]["line"], ev["crime_asb"]["record_date"]) == (
        "asb.csv", "2", "2025-11-10")
    assert ev["crime_asb"]["extract_sha256"] == sha["asb.csv"]
    assert (ev["work"]["extract_file"], ev["work"]["extract_sha256"]) == ("benefits.csv", sha["benefits.csv"])
    assert ev["work"]["window_end"] == "2026-01-31"
    assert {e["rulebook_name"] for e in run.evidence} == {"phase1-2012"}
    text = (run.out_dir / "cohort_evidence.csv").read_text()
    assert "Smith" not in text and "High Street" not in text


# =========================================================================== households and families

OLD = dict(address="1 High Street", postcode="S65 1AB")
NEW = dict(address="5 New Road", postcode="S66 2CD")


@pytest.mark.parametrize("area, in_cohort", [("S66", True), ("S65", False)])
def test_a_family_that_moved_is_one_family_at_its_current_address(pipeline, area, in_cohort):
    mum_old, mum_new = {**MUM, **OLD}, {**MUM, **NEW}
    kid_old, kid_new = {**KID, **OLD}, {**KID, **NEW}
    rows = {
        "benefits": [benefit(mum_old, MUM_NINO, "hb", "2024-06-01", "2025-03-01"),
                     benefit(mum_new, MUM_NINO, "jsa", "2025-09-01")],
        # The absence was recorded at the old address: the family's whole history counts.
        "attendance": [attendance(kid_old, KID_UPN, "2024/25", "summer", possible=100, unauthorised=40),
                       attendance(kid_new, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=0)],
        "areas": [{"area": area}],
    }
    run = pipeline.refresh(P, **rows)
    assert run.summary["families"] == 1
    (members,) = run.families().values()
    assert members == {("benefits", MUM_NINO), ("attendance", KID_UPN)}
    status = only_status(run)
    assert (status["education"], status["work"], status["local_area"]) == (True, True, in_cohort)
    assert route(run) == ("two_plus_local" if in_cohort else None)


def test_a_person_whose_records_are_all_after_r_is_not_a_member(pipeline):
    dad = person("Dan", "Smith", "1980-01-01")
    run = pipeline.refresh(P, **merge(WORK, EDU, CRIME, {"benefits": [benefit(dad, "DD123456D", "jsa", "2026-02-10")],
                                                        "asb": [asb(dad, "Y5", "E5", "2026-02-03", "asb_incident")]}))
    fid = run.only_family()["family_id"]
    assert run.member_keys(fid) == {("benefits", MUM_NINO), ("attendance", KID_UPN), ("asb", "Y1")}


def test_no_family_when_the_only_child_has_records_after_r_only(pipeline):
    kid_later = attendance(KID, KID_UPN, "2025/26", "spring", possible=100, unauthorised=50)  # ends 2026-03-31
    run = pipeline.refresh(P, **merge(WORK, CRIME_BY_MUM, {"attendance": [kid_later]}))
    assert run.summary["families"] == 0 and run.cohort == []


@pytest.mark.parametrize("moved_out, expected", [(False, "three_criteria"), (True, None)])
def test_an_adult_whose_latest_record_is_elsewhere_is_not_in_the_family(pipeline, moved_out, expected):
    dad = person("Dan", "Smith", "1980-01-01")
    dad_away = person("Dan", "Smith", "1980-01-01", address="9 Far Lane", postcode="S70 1AA")
    rows = merge(MUM_HERE, EDU, CRIME, {"benefits": [benefit(dad, "DD123456D", "jsa", "2024-06-01")]})
    if moved_out:
        rows = merge(rows, {"employment": [employment(dad_away, "DD123456D", "employment", "2025-09-01")]})
    run = pipeline.refresh(P, **rows)
    assert route(run) == expected
    (members,) = run.families().values()
    assert (("benefits", "DD123456D") in members) is (not moved_out)


def test_a_household_without_a_child_is_not_a_family(pipeline):
    dad = person("Dan", "Smith", "1980-01-01")
    rows = merge(WORK, CRIME_BY_MUM, {"benefits": [benefit(dad, "DD123456D", "esa", "2024-06-01")]})
    run = pipeline.refresh(P, **rows)
    assert run.summary["families"] == 0
    assert run.cohort == [] and run.status() == []


def test_a_child_turning_18_before_r_ends_a_one_child_family(pipeline):
    kid = person("Bob", "Smith", "2008-01-20")  # 18 on 2026-01-20
    rows = {"benefits": WORK["benefits"],
            "attendance": [attendance(kid, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=20)],
            "asb": [asb(kid, "Y1", "E1", "2025-11-10", "asbo")]}
    december = pipeline.refresh("2025-12", **rows)  # R = 2025-12-31: still a child
    assert december.summary["families"] == 1
    fam = december.only_family()
    january = pipeline.refresh(P)  # R = 2026-01-31: an adult, no child left
    assert january.summary["families"] == 0
    # The family stays in the cohort, flagged as no longer meeting the criteria.
    row = january.only_family()
    assert (row["family_id"], row["identified_period"], row["still_meets_criteria"]) == (
        fam["family_id"], "2025-12", "false")
    assert january.summary["no_longer_meeting"] == [fam["family_id"]]


@pytest.mark.parametrize("period, families", [("2026-01", 1), ("2026-02", 0)])
def test_leap_day_birthday_child_turns_18_on_28_february(pipeline, period, families):
    """dob 2008-02-29 + 18 years = 2026-02-28: an adult on R = 2026-02-28."""
    kid = person("Bob", "Smith", "2008-02-29")
    rows = merge(MUM_HERE, {"attendance": [attendance(kid, KID_UPN, "2025/26", "autumn")]})
    run = pipeline.refresh(period, **rows)
    assert run.summary["families"] == families


def _lives(*records):
    """Mum's records, each (source, where, date-ish args); the child lives at the family address A.
    B is another address of the same postcode."""
    def build(f: Fam):
        a = f.where
        b = dict(address=f"77 {f.k.title()} Lane", postcode=f.where["postcode"])
        rows = [f.kid_here()]
        for source, at, *args in records:
            mum = {**f.mum, **(a if at == "A" else b)}
            row = {
                "benefits": lambda: benefit(mum, f.mum_nino, "hb", *args),
                "employment": lambda: employment(mum, f.mum_nino, "employment", *args),
                "asb": lambda: asb(mum, f.ref("YM"), f.ref("E" + args[0].replace("-", "")), args[0], "asb_incident"),
                "interventions": lambda: intervention(mum, f.ref("C"), f.ref("IM"), *args),
                "attendance": lambda: attendance(mum, f.ref("MU"), args[0], args[1]),
            }[source]()
            rows.append(f.rows(source, row))
        return merge(*rows)
    return build


RECORD_DATE_CASES = {
    # case: (builder, mum lives at the family address A)
    "benefit-ended-before-R-is-dated-by-its-end": (_lives(
        ("benefits", "A", "2024-01-01", "2025-12-01"), ("asb", "B", "2025-06-01")), True),
    "benefit-ending-after-R-is-dated-by-its-start": (_lives(
        ("benefits", "A", "2025-07-01", "2026-06-30"), ("asb", "B", "2025-06-01")), True),
    "benefit-ending-after-R-started-before-the-other-record": (_lives(
        ("benefits", "A", "2025-05-01", "2026-06-30"), ("asb", "B", "2025-06-01")), False),
    "open-benefit-is-dated-by-its-start": (_lives(
        ("benefits", "A", "2025-05-01"), ("asb", "B", "2025-06-01")), False),
    "employment-ended-before-R-is-dated-by-its-end": (_lives(
        ("employment", "A", "2024-01-01", "2025-12-01"), ("asb", "B", "2025-06-01")), True),
    "attendance-is-dated-by-its-term-end": (_lives(
        ("attendance", "A", "2025/26", "autumn"), ("asb", "B", "2025-12-15")), True),
    "intervention-is-dated-by-attached-not-closed-date": (_lives(
        ("interventions", "A", "2025-11-01", "2026-01-20"), ("asb", "B", "2025-12-01")), False),
    "latest-record-at-the-family-address": (_lives(
        ("asb", "B", "2025-06-01"), ("interventions", "A", "2025-11-01")), True),
    "record-after-R-is-ignored": (_lives(
        ("benefits", "A", "2025-06-01"), ("asb", "B", "2026-02-01")), True),
}


@pytest.fixture(scope="module")
def record_date_batch(tmp_path_factory, pipeline_at):
    return run_batch(tmp_path_factory, pipeline_at, "record-dates", RECORD_DATE_CASES)


@pytest.mark.parametrize("case", list(RECORD_DATE_CASES))
def test_household_uses_each_records_date(record_date_batch, case):
    """A record's date (rules.md, Household at R): attendance = term end; ASB event = event
    date; benefit and employment spells = start, or end when on or before R; intervention =
    attached date. Mum lives where her most recent record dated on or before R says."""
    f = record_date_batch.fams[case]
    at_a = RECORD_DATE_CASES[case][1]
    members = record_date_batch.members(case)
    mum_keys = {k for k in f.keys if k[1] in (f.mum_nino, f.ref("YM"), f.ref("IM"), f.ref("MU"))}
    assert mum_keys
    assert (mum_keys <= members) is at_a
    assert (mum_keys & members == set()) is (not at_a)


TIE_DATE = "2025-12-31"  # the autumn 2025/26 term end, so attendance rows can fall on it too
TIE_ORDER = ["interventions", "benefits", "employment", "attendance", "asb"]
TIE_CASES = {f"{first}-before-{second}-at-{at}": (first, second, at)
             for first, second in itertools.combinations(TIE_ORDER, 2) for at in ("X", "Y")}


def _tie_family(f: Fam, first: str, second: str, at: str) -> dict:
    """Cal (a child) has two records on one date, from two sources, at two addresses X and Y of
    the same postcode; an adult lives at each address."""
    x = dict(address=f"1 {f.k.title()} Road", postcode="S65 1AB")
    y = dict(address=f"2 {f.k.title()} Road", postcode="S65 1AB")
    here, there = (x, y) if at == "X" else (y, x)
    nino, upn, ref, case = f.ref("CN"), f.ref("CU"), f.ref("CR"), f.ref("C")

    def record(source, where):
        cal = f.person("Cal", "2010-06-01", **where)
        return f.rows(source, {
            "interventions": lambda: intervention(cal, case, ref, TIE_DATE),
            "benefits": lambda: benefit(cal, nino, "hb", TIE_DATE),
            "employment": lambda: employment(cal, nino, "work_programme", TIE_DATE),
            "attendance": lambda: attendance(cal, upn, "2025/26", "autumn"),
            "asb": lambda: asb(cal, ref, f.ref("E"), TIE_DATE, "asb_incident"),
        }[source]())

    adults = {"benefits": [benefit(f.person("Ann", "1985-01-01", **x), f.ref("XN"), "hb", "2025-01-01"),
                           benefit(f.person("Dan", "1984-01-01", **y), f.ref("YN"), "hb", "2025-01-01")]}
    return merge(adults, record(first, here), record(second, there))


@pytest.fixture(scope="module")
def tie_batch(tmp_path_factory, pipeline_at):
    cases = {c: ((lambda spec: lambda f: _tie_family(f, *spec))(spec),) for c, spec in TIE_CASES.items()}
    return run_batch(tmp_path_factory, pipeline_at, "ties", cases)


@pytest.mark.parametrize("case", list(TIE_CASES))
def test_tie_on_the_same_date_goes_to_the_source_first_in_order(tie_batch, case):
    """Cal lives where the record of the source first in the order (interventions, benefits,
    employment, attendance, asb) says: Cal is the only child, so the family is there with the
    adult of that address."""
    first, second, at = TIE_CASES[case]
    f = tie_batch.fams[case]
    members = tie_batch.members(case)
    with_adult, without = (f.ref("XN"), f.ref("YN")) if at == "X" else (f.ref("YN"), f.ref("XN"))
    assert ("benefits", with_adult) in members
    assert ("benefits", without) not in members


def _line_tie_family(f: Fam, at: str) -> dict:
    """Cal (a child) has two ASB events on one date in one file, at two addresses X and Y of the
    same postcode; the later line says `at`. An adult lives at each address."""
    x = dict(address=f"1 {f.k.title()} Road", postcode="S65 1AB")
    y = dict(address=f"2 {f.k.title()} Road", postcode="S65 1AB")
    later, earlier = (x, y) if at == "X" else (y, x)
    ref = f.ref("CR")
    adults = {"benefits": [benefit(f.person("Ann", "1985-01-01", **x), f.ref("XN"), "hb", "2025-01-01"),
                           benefit(f.person("Dan", "1984-01-01", **y), f.ref("YN"), "hb", "2025-01-01")]}
    return merge(adults, f.rows("asb", asb(f.person("Cal", "2010-06-01", **earlier), ref, f.ref("E1"), TIE_DATE, "asb_incident"),
                                asb(f.person("Cal", "2010-06-01", **later), ref, f.ref("E2"), TIE_DATE, "asb_incident")))


@pytest.mark.parametrize("at", ["X", "Y"])
def test_tie_on_the_same_date_and_source_goes_to_the_later_line(tmp_path_factory, pipeline_at, at):
    """Same date, same source, same delivery: the later row of the file says where Cal lives."""
    batch = run_batch(tmp_path_factory, pipeline_at, f"line-tie-{at}", {"line": (lambda f: _line_tie_family(f, at),)})
    f, members = batch.fams["line"], batch.members("line")
    with_adult, without = (f.ref("XN"), f.ref("YN")) if at == "X" else (f.ref("YN"), f.ref("XN"))
    assert ("benefits", with_adult) in members
    assert ("benefits", without) not in members


def test_uprn_and_plain_address_form_one_household(pipeline):
    uprn = "100012345678"
    mum = person("Ann", "Smith", "1985-03-02", address="Rose Cottage, High St", uprn=uprn)
    kid = person("Bob", "Smith", "2012-05-05", address="ROSE COTTAGE HIGH STREET")  # no UPRN
    dad = person("Dan", "Smith", "1980-01-01", address="The Old Rectory", uprn=uprn)  # same UPRN, other text
    gran = person("Eve", "Smith", "1950-01-01", address="the old rectory")  # plain address only
    rows = {
        "benefits": [benefit(mum, MUM_NINO, "jsa", "2025-06-01"), benefit(dad, "DD123456D", "hb", "2025-06-01"),
                     benefit(gran, "EE123456E", "hb", "2025-06-01")],
        "attendance": [attendance(kid, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=20)],
        "asb": [asb(kid, "Y1", "E1", "2025-11-10", "asbo")],
    }
    run = pipeline.refresh(P, **rows)
    assert run.summary["families"] == 1
    fid = run.only_family()["family_id"]
    assert run.member_keys(fid) == {("benefits", MUM_NINO), ("benefits", "DD123456D"), ("benefits", "EE123456E"),
                                    ("attendance", KID_UPN), ("asb", "Y1")}


# =========================================================================== linkage


def test_same_upn_across_terms_links_whatever_the_names(pipeline):
    bob = person("Bob", "Smith", "2012-05-05")
    robert = person("Robert", "Smyth", "2012-05-05")
    rows = merge(WORK, {
        "attendance": [attendance(bob, KID_UPN, "2024/25", "summer", possible=100, unauthorised=30),
                       attendance(robert, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=0)],
        "asb": [asb(robert, "Y1", "E1", "2025-11-10", "asbo")],            # links to the autumn row
        "interventions": [intervention(bob, "C1", "IR1", "2025-10-01")],  # links to the summer row
    })
    run = pipeline.refresh(P, **rows)
    assert run.summary["people"] == 2
    ids = run.person_ids()
    assert ids[("attendance", KID_UPN)] == ids[("asb", "Y1")] == ids[("interventions", "IR1")]
    assert run.only_family()["route"] == "three_criteria"


def test_same_nino_links_benefits_and_employment(pipeline):
    anne = person("Anne", "Smyth-Jones", "1985-03-02", address="Flat 2, Park View", postcode="S70 9ZZ")
    rows = merge(WORK, EDU, CRIME, {"employment": [employment(anne, MUM_NINO, "work_programme", "2025-03-01", "2025-05-01")]})
    run = pipeline.refresh(P, **rows)
    ids = run.person_ids()
    assert ids[("benefits", MUM_NINO)] == ids[("employment", MUM_NINO)]
    assert run.summary["people"] == 2
    fid = run.only_family()["family_id"]
    assert {("benefits", MUM_NINO), ("employment", MUM_NINO)} <= run.member_keys(fid)


def test_name_dob_postcode_links_across_sources_tolerating_formatting(pipeline):
    a = person("Bob", "O'Neil", "2012-05-05", postcode="S65 1AB")
    b = person(" BOB", "ONEIL", "2012-05-05", postcode="s651ab")
    c = person("bob.", "o'neil ", "2012-05-05", postcode=" S65  1AB ")
    d = person("Bob", "O Neil", "2012-05-05", postcode="S65-1AB")
    rows = merge(WORK, {
        "attendance": [attendance(a, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=20)],
        "asb": [asb(b, "Y1", "E1", "2025-11-10", "asbo")],
        "interventions": [intervention(c, "C1", "IR1", "2025-10-01"), intervention(d, "C1", "IR2", "2025-10-01")],
    })
    run = pipeline.refresh(P, **rows)
    ids = run.person_ids()
    assert ids[("attendance", KID_UPN)] == ids[("asb", "Y1")] == ids[("interventions", "IR1")] == ids[("interventions", "IR2")]
    assert run.summary["people"] == 2
    assert run.only_family()["route"] == "three_criteria"


def test_records_without_nino_are_keyed_by_name_and_dob(pipeline):
    """family_members.csv: a benefits/employment row without a NINO is keyed forename|surname|dob
    as delivered, the dob written YYYY-MM-DD; such rows link to the person by name, dob and
    postcode."""
    mum_uk_dob = {**MUM, "dob": "02/03/1985"}
    rows = merge(EDU, CRIME, {"benefits": [benefit(mum_uk_dob, "", "jsa", "2025-06-01")],
                              "employment": [employment(MUM, "", "work_programme", "2025-03-01", "2025-04-01")],
                              "interventions": [intervention(MUM, "C1", "IRM", "2025-10-01")]})
    run = pipeline.refresh(P, **rows)
    fid = run.only_family()["family_id"]
    key = "Ann|Smith|1985-03-02"
    assert {("benefits", key), ("employment", key), ("interventions", "IRM")} <= run.member_keys(fid)
    assert run.person_of("benefits", key) == run.person_of("employment", key) == run.person_of("interventions", "IRM")
    assert run.only_family()["work"] == "true"


def test_twins_stay_two_people(pipeline):
    amy = person("Amy", "Smith", "2014-07-07")
    ava = person("Ava", "Smith", "2014-07-07")
    rows = merge(MUM_HERE, {
        "attendance": [attendance(amy, "K401", "2025/26", "autumn"), attendance(ava, "K402", "2025/26", "autumn")],
        "asb": [asb(amy, "Y41", "E1", "2025-11-10", "asb_incident"), asb(ava, "Y42", "E1", "2025-11-10", "asb_incident")],
    })
    run = pipeline.refresh(P, **rows)
    ids = run.person_ids()
    assert ids[("attendance", "K401")] == ids[("asb", "Y41")]
    assert ids[("attendance", "K402")] == ids[("asb", "Y42")]
    assert ids[("attendance", "K401")] != ids[("attendance", "K402")]
    assert run.summary["people"] == 3
    assert only_status(run)["children"] == 2 and only_status(run)["members"] == 3


# =========================================================================== cohort across refreshes


def test_cohort_family_is_kept_when_it_no_longer_meets_the_criteria(pipeline):
    # The asbo of 2025-02-15 is inside the 12 months up to 2026-01-31 but not up to 2026-02-28.
    rows = merge(WORK, EDU, {"asb": [asb(KID, "Y1", "E1", "2025-02-15", "asbo")]})
    jan = pipeline.refresh("2026-01", **rows)
    first = jan.only_family()
    assert first["route"] == "three_criteria" and jan.summary["new_in_cohort"] == [first["family_id"]]

    feb = pipeline.refresh("2026-02")
    row = feb.only_family()
    assert row == {**first, "still_meets_criteria": "false"}
    assert feb.summary["no_longer_meeting"] == [first["family_id"]]
    assert feb.summary["newly_not_meeting"] == [first["family_id"]]
    assert feb.summary["new_in_cohort"] == [] and feb.summary["cohort"] == 1
    # The baseline evidence stays as it was when the family entered.
    assert {e["criterion"] for e in feb.evidence} == {"crime_asb", "education", "work"}
    assert feb.evidence == jan.evidence

    # March: a new ASB intervention; the family meets the criteria again, its baseline unchanged.
    mar = pipeline.refresh("2026-03", asb=[asb(KID, "Y1", "E2", "2026-03-05", "abc")])
    row = mar.only_family()
    assert row == {**first, "still_meets_criteria": "true"}
    assert mar.summary["meeting_again"] == [first["family_id"]]
    assert mar.summary["no_longer_meeting"] == []


def test_a_family_qualifying_later_gets_the_later_identified_period(pipeline):
    jan = pipeline.refresh("2026-01", **merge(WORK, EDU))
    assert jan.cohort == []
    fid = only_status(jan)["family_id"]
    feb = pipeline.refresh("2026-02", asb=[asb(KID, "Y1", "E1", "2026-02-10", "asb_injunction")])
    row = feb.only_family()
    assert (row["family_id"], row["identified_period"], row["route"]) == (fid, "2026-02", "three_criteria")
    assert feb.summary["new_in_cohort"] == [fid]


def test_family_and_person_ids_stay_stable_when_people_are_added(pipeline):
    jan = pipeline.refresh("2026-01", **merge(WORK, EDU, CRIME))
    fid = jan.only_family()["family_id"]
    ids = jan.person_ids()

    # February adds a baby to the family, a new record for the child, and a second family
    # elsewhere whose people are new.
    baby = person("Cy", "Smith", "2026-01-05")
    mum2 = person("Gail", "Brown", "1990-01-01", address="7 Low Road", postcode="S66 3EF")
    kid2 = person("Hal", "Brown", "2015-01-01", address="7 Low Road", postcode="S66 3EF")
    feb = pipeline.refresh("2026-02", **{
        "interventions": [intervention(baby, "C9", "IRB", "2026-02-05"), intervention(KID, "C9", "IRK", "2026-02-05")],
        "benefits": [benefit(mum2, "GB123456B", "esa", "2025-01-01")],
        "attendance": [attendance(kid2, "K900", "2025/26", "autumn", permanent="Y")],
        "asb": [asb(kid2, "Y90", "E90", "2026-02-01", "proven_offence")],
    })
    cohort = {r["family_id"]: r for r in feb.cohort}
    assert len(cohort) == 2 and fid in cohort
    assert cohort[fid]["identified_period"] == "2026-01"
    (new_fid,) = set(cohort) - {fid}
    assert cohort[new_fid]["identified_period"] == "2026-02"
    assert feb.summary["new_in_cohort"] == [new_fid]
    assert feb.member_keys(fid) == {("benefits", MUM_NINO), ("attendance", KID_UPN), ("asb", "Y1"),
                                    ("interventions", "IRB"), ("interventions", "IRK")}
    new_ids = feb.person_ids()
    assert all(new_ids[k] == v for k, v in ids.items())
    assert new_ids[("interventions", "IRK")] == ids[("attendance", KID_UPN)]


def test_refreshing_an_earlier_period_is_refused(pipeline):
    rows = merge(WORK, EDU, CRIME)
    pipeline.refresh("2026-02", **rows)
    before = pipeline.table_counts()
    with pytest.raises(PbrError) as ei:
        pipeline.refresh("2026-01", **rows)
    message = str(ei.value)
    assert "2026-01" in message and "2026-02" in message
    assert pipeline.table_counts() == before
    assert not (pipeline.out / "2026-01").exists()


def test_rerunning_the_latest_period_gives_identical_outputs(pipeline):
    pipeline.refresh("2026-01", **merge(WORK, EDU, CRIME))
    kid2 = person("Hal", "Brown", "2015-01-01", address="7 Low Road", postcode="S66 3EF")
    mum2 = person("Gail", "Brown", "1990-01-01", address="7 Low Road", postcode="S66 3EF")
    feb_folder = pipeline.delivery(
        benefits=[benefit(mum2, "GB123456B", "esa", "2025-01-01")],
        attendance=[attendance(kid2, "K900", "2025/26", "autumn", permanent="Y"),
                    attendance(KID, KID_UPN, "2025/26", "autumn", possible=100, unauthorised=20)],
        asb=[asb(kid2, "Y90", "E90", "2026-02-01", "proven_offence")])
    first = pipeline.refresh("2026-02", feb_folder)
    files = {n: (first.out_dir / n).read_bytes() for n in ("cohort.csv", "family_members.csv", "cohort_evidence.csv")}
    again = pipeline.refresh("2026-02", feb_folder)
    assert all(f["already_loaded"] for f in again.summary["files"])
    for name, content in files.items():
        assert (again.out_dir / name).read_bytes() == content, name
    assert len(again.cohort) == 2
    assert again.summary["new_in_cohort"] == first.summary["new_in_cohort"]
