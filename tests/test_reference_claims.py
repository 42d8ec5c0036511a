"""The generator's claims reference (pbr.generate.reference_claims) on small hand-made families,
every expected claim worked out by hand from rules.md and the README's interpretations.

Unless a test says otherwise each family is a mother M<n> (born 1985) and her son K<n> (born
2010-05-05, a child throughout) at dwelling D<n>, postcode S65 1AB (a listed district). The
son's `asbo` ten months before entry (crime) and the mother's open `jsa` (work) put the family in
the cohort at its entry period, 2025-01 (R = 2025-01-31), on the two_plus_local route. Case
TF<n> names both, attached 2025-02-10, so A = 2025-02-10 (financial year 2024/25: fee £1,600,
route A £2,100, progress to work £300, route B £2,400); the baseline window is
(2024-08-10, 2025-02-10] and results are first measured at C = 2025-08-31 (period 2025-08), whose
outcome window is (2025-02-28, 2025-08-31].

Every delivery holds the rows dated on or before its R, with an end date after R left empty, as
the generator's deliveries do."""

from __future__ import annotations

import copy
import csv
from datetime import date, timedelta

import pytest

from pbr.calendar import add_months, periods_between, reference_date
from pbr.generate import generate
from pbr.generate.reference import Asb, Attendance, Intervention, Reference, Row, Spell
from pbr.generate.reference_claims import ReferenceClaims, ReferenceState
from pbr.generate.truth import CLAIMS_COLUMNS
from pbr.rulebook import Rulebook, load_rulebook

RB = load_rulebook()


def d(s: str | date) -> date:
    return s if isinstance(s, date) else date.fromisoformat(s)


class World:
    def __init__(self):
        self.rows: list[Row] = []
        self.dobs: dict[str, date] = {}
        self.postcodes: dict[str, str] = {}
        self._events = 0

    def event(self, who: list[str], dw: str, when, etype: str = "asb_incident") -> None:
        """One ASB-source event naming one or more people (one event id)."""
        self._events += 1
        for p in who:
            self.rows.append(Row("asb", p, dw, Asb(f"R{p}", f"E{self._events}", d(when), etype)))

    def spell(self, source: str, p: str, dw: str, kind: str, start, end=None) -> None:
        self.rows.append(Row(source, p, dw, Spell(kind, d(start), d(end) if end else None, None, f"NI{p}")))

    def case(self, ref: str, p: str, dw: str, attached) -> None:
        self.rows.append(Row("interventions", p, dw, Intervention(ref, f"C{p}", d(attached))))

    def term(self, p: str, dw: str, ay: str, term: str, possible=130, unauthorised=0, fixed=None) -> None:
        self.rows.append(Row("attendance", p, dw, Attendance(f"U{p}", "100001", ay, term, possible, unauthorised,
                                                              fixed)))

    def delivery(self, R: date) -> list[Row]:
        out = []
        for r in self.rows:
            x = r.data
            if r.source in ("benefits", "employment"):
                if x.start > R:
                    continue
                if x.end is not None and x.end > R:
                    r = r._replace(data=x._replace(end=None))
            elif r.source == "asb" and x.event_date > R:
                continue
            elif r.source == "interventions" and x.attached > R:
                continue
            elif r.source == "attendance" and date(int(x.academic_year[:4]) + (x.term != "autumn"),
                                                   {"autumn": 12, "spring": 3, "summer": 7}[x.term], 31) > R:
                continue
            out.append(r)
        return out

    def run(self, start: str, end: str, rulebook: Rulebook = RB) -> tuple[dict[str, list[tuple]], ReferenceClaims]:
        """Claims per period: (case_ref, claim_type, amount, members)."""
        ref = Reference(self.dobs, self.postcodes, rulebook)
        claims = ReferenceClaims(rulebook)
        out: dict[str, list[tuple]] = {}
        for period in periods_between(start, end):
            ref.deliver(period, self.delivery(reference_date(period)), ["S65"])
            cohort = ref.refresh(period)
            for c in claims.refresh(period, cohort, ReferenceState(ref)):
                out.setdefault(period, []).append(
                    (c["case_ref"], c["claim_type"], f"{c['amount']:.2f}", ";".join(c["members"])))
        return out, claims


class Fam:
    def __init__(self, w: World, n: int, entry: str = "2025-01", case: str | None = "2025-02-10",
                 benefit: tuple[str, str | None] = ("jsa", None)):
        self.w, self.n = w, n
        self.mum, self.kid, self.dw = f"M{n}", f"K{n}", f"D{n}"
        self.members = f"K{n};M{n}"
        w.dobs[self.mum], w.dobs[self.kid] = date(1985, 3, 2), date(2010, 5, 5)
        w.postcodes[self.dw] = "S65 1AB"
        R = reference_date(entry)
        w.event([self.kid], self.dw, add_months(R, -10), "asbo")
        kind, end = benefit
        self.spell("benefits", self.mum, kind, add_months(R, -7), end)
        if case:
            self.case(f"TF{n}", case)

    def case(self, ref: str, attached, who=None) -> None:
        for p in who or (self.mum, self.kid):
            self.w.case(ref, p, self.dw, attached)

    def incidents(self, *dates, who=None, etype="asb_incident") -> None:
        for when in dates:
            self.w.event(who or [self.kid], self.dw, when, etype)

    def spell(self, source: str, p: str, kind: str, start, end=None) -> None:
        self.w.spell(source, p, self.dw, kind, start, end)

    def baseline(self, n: int = 3, A: str = "2025-02-10") -> None:
        """n ASB incidents by the son in the baseline window, none after."""
        self.incidents(*(d(A) - timedelta(days=20 * i + 5) for i in range(n)))


def claims_of(claims: dict, n: int) -> dict[str, list[tuple]]:
    """One family's claims per period: (claim_type, amount)."""
    out: dict[str, list[tuple]] = {}
    for period, items in claims.items():
        for case_ref, claim_type, amount, _ in items:
            if case_ref == f"TF{n}" or case_ref.startswith(f"TF{n}-"):
                out.setdefault(period, []).append((claim_type, amount))
    return out


# =========================================================================== attachment


def test_attachment_fee_from_the_refresh_that_attaches():
    w = World()
    Fam(w, 1)
    claims, ref = w.run("2025-01", "2025-12")
    assert claims == {"2025-02": [("TF1", "attachment_fee", "1600.00", "K1;M1")]}
    assert ref.attachments["F000001"].A == date(2025, 2, 10)


def test_a_case_attached_before_entry_counts_from_the_entry_refresh():
    # Case dated 2024-11-20, family enters 2025-01: A = 2025-01-31, so results are measured from
    # C >= 2025-07-31. Baseline (2024-07-31, 2025-01-31] holds two incidents, none after: route A
    # in 2025-07 (with A = the case date it would have come at 2025-05).
    w = World()
    f = Fam(w, 1, case="2024-11-20")
    f.incidents("2024-12-01", "2025-01-20")
    claims, ref = w.run("2025-01", "2025-12")
    assert ref.attachments["F000001"].A == date(2025, 1, 31)
    assert claims_of(claims, 1) == {"2025-01": [("attachment_fee", "1600.00")], "2025-07": [("route_a", "2100.00")]}


def test_which_case_attaches_which_family():
    w = World()
    f1, f2, f3, f4, f5 = (Fam(w, n, case=None) for n in range(1, 6))
    # One member in each of two cohort families: a tie, attaches nothing.
    w.case("TF1", f1.mum, f1.dw, "2025-02-10")
    w.case("TF1", f2.mum, f2.dw, "2025-02-10")
    # Two members in family 3 and a cousin from family 4: attaches family 3 only.
    f3.case("TF3", "2025-02-10")
    w.case("TF3", f4.kid, f4.dw, "2025-02-10")
    # Family 5: TF5-B dated by its earliest row (2025-02-03) beats TF5-A (2025-02-10); TF5-C
    # has the same date as TF5-B but a larger case ref.
    f5.case("TF5-A", "2025-02-10")
    w.case("TF5-B", f5.mum, f5.dw, "2025-02-20")
    w.case("TF5-B", f5.kid, f5.dw, "2025-02-03")
    f5.case("TF5-C", "2025-02-03")
    claims, ref = w.run("2025-01", "2025-04")
    assert claims == {"2025-02": [("TF3", "attachment_fee", "1600.00", "K3;M3"),
                                  ("TF5-B", "attachment_fee", "1600.00", "K5;M5")]}
    assert ref.attachments["F000005"].A == date(2025, 2, 3)
    assert set(ref.attachments) == {"F000003", "F000005"}


def test_attachment_is_kept_and_results_are_over_the_members_at_c():
    # The mother moves out in 2025-05: her son alone is still the family (the same one), its
    # attachment stays and the results are claimed over him alone.
    w = World()
    f = Fam(w, 1)
    f.baseline(3)
    w.postcodes["D1-new"] = "S60 2XY"
    w.spell("benefits", f.mum, "D1-new", "hb", "2025-05-01")
    claims, _ = w.run("2025-01", "2025-09")
    assert claims == {"2025-02": [("TF1", "attachment_fee", "1600.00", "K1;M1")],
                      "2025-08": [("TF1", "route_a", "2100.00", "K1")]}


# =========================================================================== route A


@pytest.mark.parametrize("outcome, first", [
    ([], "2025-08"),
    # 2 of 3 in (2025-02-28, 2025-08-31] is 67% > 40%: fails; at 2025-09 the window
    # (2025-03-30, 2025-09-30] holds one, 33%: passes.
    (["2025-03-05", "2025-07-01"], "2025-09"),
    # Both in the window up to C = 2025-12-31; (2025-07-31, 2026-01-31] holds only the second.
    (["2025-07-01", "2025-08-01"], "2026-01"),
])
def test_route_a_with_one_pass_leg(outcome, first):
    w = World()
    f = Fam(w, 1)
    f.baseline(3)
    f.incidents(*outcome)
    claims, _ = w.run("2025-01", "2026-03")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], first: [("route_a", "2100.00")]}


@pytest.mark.parametrize("base, out, achieved", [(5, 2, True), (5, 3, False), (3, 1, True), (1, 1, False)])
def test_asb_leg_comparison_is_exact(base, out, achieved):
    # outcome * 100 <= 40 * baseline: 2 of 5 is exactly 40% and passes.
    w = World()
    f = Fam(w, 1)
    f.baseline(base)
    f.incidents(*(f"2025-0{m}-15" for m in range(3, 3 + out)))
    claims, _ = w.run("2025-01", "2025-08")
    assert claims_of(claims, 1).get("2025-08") == ([("route_a", "2100.00")] if achieved else None)


def test_an_event_naming_two_members_counts_once():
    # Baseline: E naming mother and son, and one naming the son: 2 events, not 3 rows. One
    # outcome event: 100 > 40 * 2 fails (it would pass against 3).
    w = World()
    f = Fam(w, 1)
    f.incidents("2025-01-10", who=[f.mum, f.kid])
    f.incidents("2025-01-20")
    f.incidents("2025-05-01")
    claims, _ = w.run("2025-01", "2025-08")
    assert "2025-08" not in claims


def test_offending_leg_counts_offences_under_18():
    # Two offences by the son in the baseline, one after: 100 <= 67 * 2 passes; ASB leg neutral.
    w = World()
    f = Fam(w, 1)
    f.incidents("2024-12-01", "2025-01-01", etype="proven_offence")
    f.incidents("2025-04-01", etype="proven_offence")
    claims, _ = w.run("2025-01", "2025-08")
    assert claims_of(claims, 1)["2025-08"] == [("route_a", "2100.00")]


@pytest.mark.parametrize("offender, first", [("kid", "2025-11"), ("mum", "2025-08")])
def test_whole_family_rule_on_a_neutral_offending_leg(offender, first):
    # ASB leg passes from 2025-08, but an offence by the son (under 18) on 2025-05-01 fails the
    # neutral offending leg while it is in the outcome window: until C = 2025-11-30, whose window
    # starts 2025-05-30. The mother's offence (an adult) does not count.
    w = World()
    f = Fam(w, 1)
    f.baseline(3)
    f.incidents("2025-05-01", who=[getattr(f, offender)], etype="proven_offence")
    claims, _ = w.run("2025-01", "2025-12")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], first: [("route_a", "2100.00")]}


def test_whole_family_rule_on_a_neutral_education_leg():
    # Education was not met at entry, but the son's summer 2025 term (26 of 130 unauthorised, 20%)
    # fails him over the last 3 terms at C until autumn 2025 (0 of 140) brings the three terms to
    # 26 / 270 = 9.6%: route A in 2025-12 rather than 2025-08.
    w = World()
    f = Fam(w, 1)
    f.baseline(3)
    w.term(f.kid, f.dw, "2024/25", "summer", 130, 26)
    w.term(f.kid, f.dw, "2025/26", "autumn", 140, 0)
    claims, _ = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-12": [("route_a", "2100.00")]}


def edu_family(w: World, n: int = 1) -> Fam:
    """The son's last 3 terms at entry (spring, summer, autumn 2024) at 30 of 130 unauthorised
    (23%): three criteria at entry, education applies. Baseline ASB passes from 2025-08."""
    f = Fam(w, n)
    for ay, t in (("2023/24", "spring"), ("2023/24", "summer"), ("2024/25", "autumn")):
        w.term(f.kid, f.dw, ay, t, 130, 30)
    f.baseline(3)
    return f


def test_pending_education_waits_for_three_terms_after_a():
    # Terms ending in (2025-02-10, C]: spring 2025 (03-31), summer (07-31), autumn (12-31): pending
    # until 2025-12 though at 2025-08 the last 3 terms (30 + 0 + 0 of 390, 7.7%) would pass.
    w = World()
    f = edu_family(w)
    for ay, t in (("2024/25", "spring"), ("2024/25", "summer"), ("2025/26", "autumn")):
        w.term(f.kid, f.dw, ay, t, 130, 0)
    claims, ref = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-12": [("route_a", "2100.00")]}


def test_applicable_education_leg_fails_on_three_fixed_exclusions():
    w = World()
    f = edu_family(w)
    w.term(f.kid, f.dw, "2024/25", "spring", 130, 0)
    w.term(f.kid, f.dw, "2024/25", "summer", 130, 0, fixed=1)
    w.term(f.kid, f.dw, "2025/26", "autumn", 130, 0, fixed=2)
    claims, _ = w.run("2025-01", "2026-02")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")]}


def test_applicable_education_leg_with_no_pupil_left_passes():
    w = World()
    edu_family(w)  # no attendance after entry: no pupil in the last 3 terms at 2025-12-31
    claims, _ = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-12": [("route_a", "2100.00")]}


# =========================================================================== progress to work


@pytest.mark.parametrize("who, start, first", [
    ("mum", "2025-05-01", "2025-08"),
    ("mum", "2025-09-10", "2025-09"),
    ("mum", "2025-01-20", None),  # before A
    ("mum", "2025-02-15", None),  # after A, but before the first outcome window (2025-02-28, ...]
    ("kid", "2025-05-01", None),  # a child
])
def test_progress_to_work(who, start, first):
    w = World()
    f = Fam(w, 1)
    f.spell("employment", getattr(f, who), "work_programme", start, "2026-06-30")
    claims, _ = w.run("2025-01", "2025-12")
    want = {"2025-02": [("attachment_fee", "1600.00")]}
    if first:
        want[first] = [("progress_to_work", "300.00")]
    assert claims_of(claims, 1) == want


# =========================================================================== route B


@pytest.mark.parametrize("benefit, left, job_start, job_end, first", [
    # jsa covering A: 182 days. 2025-03-02 to 2025-08-31 is 182 days; from 03-03, 181 by 08-31.
    ("jsa", "2025-03-01", "2025-03-02", None, "2025-08"),
    ("jsa", "2025-03-01", "2025-03-03", None, "2025-09"),
    ("uc_searching", "2025-03-01", "2025-03-03", None, "2025-09"),
    ("jsa", "2025-03-01", "2025-03-02", "2025-08-30", None),  # ended at 181 days
    # esa: 91 days. 2025-06-01 to 2025-08-31 is 91 days; from 06-02, 90.
    ("esa", "2025-05-31", "2025-06-01", None, "2025-08"),
    ("esa", "2025-05-31", "2025-06-02", None, "2025-09"),
    ("esa", "2025-05-31", "2025-06-01", "2025-08-31", "2025-08"),
    ("esa", "2025-01-31", "2025-02-01", None, None),  # the benefit did not cover A (nor the job start)
])
def test_route_b(benefit, left, job_start, job_end, first):
    w = World()
    f = Fam(w, 1, benefit=(benefit, left))
    f.spell("employment", f.mum, "employment", job_start, job_end)
    claims, _ = w.run("2025-01", "2025-12")
    want = {"2025-02": [("attachment_fee", "1600.00")]}
    if first:
        want[first] = [("route_b", "2400.00")]
    assert claims_of(claims, 1) == want


def test_route_b_needs_182_days_when_any_benefit_at_a_was_jsa():
    # esa and jsa both cover A: 2025-06-01 + 182 days = 2025-11-30.
    w = World()
    f = Fam(w, 1, benefit=("esa", "2025-05-31"))
    f.spell("benefits", f.mum, "jsa", "2024-09-01", "2025-05-31")
    f.spell("employment", f.mum, "employment", "2025-06-01")
    claims, _ = w.run("2025-01", "2025-12")
    assert claims_of(claims, 1)["2025-11"] == [("route_b", "2400.00")]
    assert "2025-08" not in claims


@pytest.mark.parametrize("kind, blocks", [("jsa", True), ("hb", False)])
def test_route_b_a_new_claim_during_the_job_breaks_it(kind, blocks):
    w = World()
    f = Fam(w, 1, benefit=("jsa", "2025-03-01"))
    f.spell("employment", f.mum, "employment", "2025-03-02")
    f.spell("benefits", f.mum, kind, "2025-04-01", "2025-04-10")
    claims, _ = w.run("2025-01", "2026-03")
    assert (("route_b", "2400.00") in sum(claims_of(claims, 1).values(), [])) is not blocks


# =========================================================================== claims


def test_route_b_wins_over_route_a_and_progress_in_the_same_refresh():
    w = World()
    f = Fam(w, 1, benefit=("jsa", "2025-03-01"))
    f.baseline(3)  # route A from 2025-08
    f.spell("employment", f.mum, "employment", "2025-03-02")  # route B from 2025-08
    f.spell("employment", f.mum, "work_programme", "2025-05-01", "2025-12-31")  # progress from 2025-08
    claims, _ = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-08": [("route_b", "2400.00")]}


def test_route_a_first_excludes_route_b_but_not_progress():
    # Route A at 2025-08; route B achieved at 2025-09 (181 days at 08-31) is never claimed;
    # progress to work (started 2025-09-10) still is.
    w = World()
    f = Fam(w, 1, benefit=("jsa", "2025-03-01"))
    f.baseline(3)
    f.spell("employment", f.mum, "employment", "2025-03-03")
    f.spell("employment", f.mum, "work_programme", "2025-09-10", "2025-12-31")
    claims, _ = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-08": [("route_a", "2100.00")],
                                    "2025-09": [("progress_to_work", "300.00")]}


def test_route_b_first_excludes_route_a_and_progress():
    # Route B at 2025-08; route A only from 2025-09 (an outcome incident on 2025-03-05) and
    # progress from 2025-09: neither is ever claimed.
    w = World()
    f = Fam(w, 1, benefit=("jsa", "2025-03-01"))
    f.baseline(3)
    f.incidents("2025-03-05", "2025-07-01")
    f.spell("employment", f.mum, "employment", "2025-03-02")
    f.spell("employment", f.mum, "work_programme", "2025-09-10", "2025-12-31")
    claims, _ = w.run("2025-01", "2026-01")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")], "2025-08": [("route_b", "2400.00")]}


def test_route_a_and_progress_together():
    w = World()
    f = Fam(w, 1)
    f.baseline(3)
    f.spell("employment", f.mum, "esf_families", "2025-05-01", "2025-12-31")
    claims, _ = w.run("2025-01", "2025-12")
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "1600.00")],
                                    "2025-08": [("route_a", "2100.00"), ("progress_to_work", "300.00")]}


@pytest.mark.parametrize("entry, case, A, fee, route_a_period, route_a", [
    ("2013-02", "2013-03-31", "2013-03-31", "3200.00", "2013-09", "700.00"),   # 2012/13
    ("2013-02", "2013-04-01", "2013-04-01", "2400.00", "2013-10", "1400.00"),  # 2013/14
    ("2014-03", "2014-01-15", "2014-03-31", "2400.00", "2014-09", "1400.00"),  # A = entry R, 2013/14
    ("2014-03", "2014-04-01", "2014-04-01", "1600.00", "2014-10", "2100.00"),  # 2014/15
])
def test_amounts_by_financial_year_of_a(entry, case, A, fee, route_a_period, route_a):
    w = World()
    f = Fam(w, 1, entry=entry, case=case)
    f.baseline(2, A=A)
    claims, ref = w.run(entry, periods_between(entry, "2015-12")[9])
    assert ref.attachments["F000001"].A == d(A)
    attach_period = max(entry, case[:7])
    assert claims_of(claims, 1) == {attach_period: [("attachment_fee", fee)], route_a_period: [("route_a", route_a)]}


def test_the_cap_trims_the_last_item():
    # A table whose items exceed £4,000: fee 3,200 then route A 900 is trimmed to 800 and progress
    # to work (nothing left) is not claimed; route B 1,000 alone is trimmed to 800.
    data = copy.deepcopy(RB.data)
    data["payments"]["by_financial_year"] = [
        {"from": None, "to": None, "attachment_fee": 3200, "route_a": 900, "progress_to_work": 300, "route_b": 1000}]
    rb = Rulebook("cap-test", "1", data)
    w = World()
    f1 = Fam(w, 1)
    f1.baseline(3)
    f1.spell("employment", f1.mum, "work_programme", "2025-05-01", "2025-12-31")
    f2 = Fam(w, 2, benefit=("esa", "2025-05-31"))
    f2.spell("employment", f2.mum, "employment", "2025-06-01")
    claims, _ = w.run("2025-01", "2025-12", rb)
    assert claims_of(claims, 1) == {"2025-02": [("attachment_fee", "3200.00")], "2025-08": [("route_a", "800.00")]}
    assert claims_of(claims, 2) == {"2025-02": [("attachment_fee", "3200.00")], "2025-08": [("route_b", "800.00")]}


def test_refreshes_must_be_in_order():
    w = World()
    Fam(w, 1)
    ref = Reference(w.dobs, w.postcodes, RB)
    claims = ReferenceClaims(RB)
    ref.deliver("2025-01", w.delivery(reference_date("2025-01")), ["S65"])
    claims.refresh("2025-01", ref.refresh("2025-01"), ReferenceState(ref))
    with pytest.raises(ValueError):
        claims.refresh("2025-01", [], ReferenceState(ref))


def test_generator_writes_claims_truth(tmp_path):
    summary = generate(families=150, seed=3, start="2025-01", end="2025-09", out=tmp_path)
    with open(tmp_path / "truth" / "claims.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == CLAIMS_COLUMNS
    assert rows and summary["claims"]["attachment_fee"] == sum(r["claim_type"] == "attachment_fee" for r in rows)
    assert all(r["amount"].endswith(".00") and r["members"] for r in rows)
