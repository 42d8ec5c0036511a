"""A plain-Python reference implementation of the Attachment, Results, Payments and Claims sections
of rules.md, with pbr's documented interpretations (README, "Attachment, results and claims").

Like `reference.py` it is a yardstick for the pipeline, written from the rules alone: it shares
nothing with the pipeline but the rulebook and the calendar helpers. It starts from what the
identification reference has worked out at each refresh (the cohort with each family's identified
period and baseline flags, the families at R and their true members, the current rows per natural
key, dates of birth) and assumes every claim item is approved at audit, so an item once claimed is
never claimable again.

Use:
    ref = Reference(dobs, postcodes, rulebook)
    claims = ReferenceClaims(rulebook)
    for period in periods:                              # in period order
        ref.deliver(period, rows, areas)
        cohort_rows = ref.refresh(period)
        claim_rows = claims.refresh(period, cohort_rows, ReferenceState(ref))

Each claim row is {period, case_ref, family_ref, claim_type, amount (Decimal), members (sorted true
person ids), attached_date}: one per item newly claimable in the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ..calendar import add_months, add_years, financial_year, last_terms, reference_date, term_end
from ..rulebook import Rulebook, load_rulebook
from .reference import fails_education

# The order the per-family cap is applied in: the last item that would exceed it is trimmed.
CLAIM_ORDER = ("attachment_fee", "route_b", "route_a", "progress_to_work")


class ReferenceState:
    """What the claims reference reads at a refresh, taken from an identification `Reference`
    right after its refresh of the same period."""

    def __init__(self, ref):
        self._ref = ref
        # Families forming at R: family ref -> true person ids (the cohort rows use F + 6 digits).
        self.families_at_r: dict[str, frozenset[str]] = {f"F{fid:06d}": fam for fid, fam in ref.families.items()}
        self.dobs: Mapping[str, date] = ref.dobs

    def rows(self, pid: str, source: str) -> list:
        """The person's current rows of a source (the record tuples of reference.py)."""
        p = self._ref._people.get(pid)
        if p is None:
            return []
        entries = self._ref._entries
        return [entries[k][4].data for k in p.keys[source]]

    def cases(self) -> dict[str, list[tuple[str, date]]]:
        """case_ref -> (true person id, attached date) of each of its current rows."""
        out: dict[str, list[tuple[str, date]]] = {}
        entries = self._ref._entries
        for pid, p in self._ref._people.items():
            for k in p.keys["interventions"]:
                d = entries[k][4].data
                out.setdefault(d.case_ref, []).append((pid, d.attached))
        return out


@dataclass
class Attachment:
    family_ref: str
    case_ref: str
    case_date: date  # the earliest attached_date of the case's rows
    A: date  # the attached date results are measured from
    period: str  # the refresh that made it


@dataclass
class Results:
    measurable: bool
    asb: str = "neutral"  # pass | fail | neutral
    offending: str = "neutral"
    education: str = "neutral"  # pass | fail | neutral | pending
    route_a: bool = False
    progress_to_work: bool = False
    route_b: bool = False
    counts: dict = field(default_factory=dict)


class ReferenceClaims:
    def __init__(self, rulebook: Rulebook | str | None = None):
        rb = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        self.rulebook = rb
        ident, res, pay = rb["identification"], rb["results"], rb["payments"]
        self.adult_age = int(ident["adult_age_years"])
        edu = ident["education"]
        self.edu_terms = int(edu["terms"])
        self.fixed_min = int(edu["fixed_exclusions_min"])
        pct = Fraction(str(edu["unauthorised_absence_pct"]))
        self.absence_num, self.absence_den = pct.numerator, pct.denominator
        self.provisions = set(edu["provisions"])
        self.out_of_work = set(ident["work"]["out_of_work_benefits"])
        self.term_ends = rb.term_ends
        self.year_start = rb.academic_year_start

        self.min_months = int(res["min_months_after_attachment"])
        self.window = int(res["window_months"])
        self.asb_types = set(res["asb"]["event_types"])
        self.asb_max = Fraction(str(res["asb"]["max_pct_of_baseline"]))
        self.offence_types = set(res["offending"]["offence_types"])
        self.off_max = Fraction(str(res["offending"]["max_pct_of_baseline"]))
        self.pending_terms = int(res["education"]["terms"])
        self.ptw_types = set(res["progress_to_work"]["record_types"])
        rb_ = res["route_b"]
        self.employment_types = set(rb_["employment_record_types"])
        self.long_benefits = set(rb_["long_benefits"])
        self.long_days = int(rb_["long_min_days"])
        self.short_days = int(rb_["short_min_days"])

        self.max_per_family = Decimal(str(pay["max_per_family"]))
        self.table = list(pay["by_financial_year"])

        self.attachments: dict[str, Attachment] = {}
        self.claimed: dict[str, dict[str, Decimal]] = {}  # family ref -> claim type -> amount
        self._last: str | None = None

    # ---- payments ------------------------------------------------------------------------
    def amounts(self, A: date) -> dict[str, Decimal]:
        """The payment row of the financial year (1 April - 31 March) of A."""
        fy = financial_year(A)
        for row in self.table:
            lo, hi = row.get("from"), row.get("to")
            if (lo is None or fy >= int(lo)) and (hi is None or fy <= int(hi)):
                return {t: Decimal(str(row[t])) for t in CLAIM_ORDER}
        raise ValueError(f"the rulebook has no payment row for financial year {fy}")

    # ---- attachment ----------------------------------------------------------------------
    def attach(self, period: str, R: date, cohort: Mapping[str, dict], state) -> None:
        """Attach cohort families to cases (rules.md, Attachment; README)."""
        # Cohort families forming at R, and who is in them.
        family_of: dict[str, str] = {}
        for ref, members in state.families_at_r.items():
            if ref in cohort:
                for pid in members:
                    family_of[pid] = ref
        claims_by_family: dict[str, list[tuple[date, str]]] = {}
        for case_ref, rows in state.cases().items():
            case_date = min(a for _, a in rows)
            if case_date > R:
                continue
            held: dict[str, int] = {}
            for pid in {pid for pid, _ in rows}:
                if pid in family_of:
                    held[family_of[pid]] = held.get(family_of[pid], 0) + 1
            if not held:
                continue  # no member in a cohort family: reported, attaches nothing
            most = max(held.values())
            top = [f for f, n in held.items() if n == most]
            if len(top) > 1:
                continue  # split equally: reported, attaches nothing
            claims_by_family.setdefault(top[0], []).append((case_date, case_ref))
        for ref, cases in claims_by_family.items():
            if ref in self.attachments:
                continue  # once made, an attachment is kept
            case_date, case_ref = min(cases)
            entry_R = reference_date(cohort[ref]["identified_period"])
            A = entry_R if case_date <= entry_R else case_date
            self.attachments[ref] = Attachment(ref, case_ref, case_date, A, period)

    # ---- results -------------------------------------------------------------------------
    def adult_from(self, pid: str, dobs: Mapping[str, date]) -> date:
        return add_years(dobs[pid], self.adult_age)

    def pupil_fails(self, rows: list, terms: list) -> bool:
        """The identification education test over the pupil's rows of the given terms (most
        recent first)."""
        keys = {(t.academic_year, t.name) for t in terms}
        rows = [a for a in rows if (a.academic_year, a.term) in keys]
        return fails_education(rows, (terms[0].academic_year, terms[0].name), self.fixed_min, self.absence_num,
                               self.absence_den, self.provisions)

    def terms_ended(self, after: date, upto: date) -> int:
        """How many terms end in (after, upto]."""
        n = 0
        for y in range(after.year - 2, upto.year + 2):
            label = f"{y}/{(y + 1) % 100:02d}"
            for t in self.term_ends:
                if after < term_end(label, t, self.term_ends, self.year_start) <= upto:
                    n += 1
        return n

    def results(self, att: Attachment, edu_at_entry: bool, members: Iterable[str], C: date, state) -> Results:
        A = att.A
        if C < add_months(A, self.min_months):
            return Results(measurable=False)
        members = sorted(members)
        dobs = state.dobs
        base_start, out_start = add_months(A, -self.window), add_months(C, -self.window)
        events = {("asb", "base"): set(), ("asb", "out"): set(), ("off", "base"): set(), ("off", "out"): set()}
        terms = last_terms(C, self.edu_terms, self.term_ends, self.year_start)
        term_keys = {(t.academic_year, t.name) for t in terms}
        pupils = failing = 0
        ptw = route_b = False
        for pid in members:
            adult_from = self.adult_from(pid, dobs)
            for e in state.rows(pid, "asb"):
                if e.event_type in self.asb_types:
                    leg = "asb"
                elif e.event_type in self.offence_types and e.event_date < adult_from:
                    leg = "off"  # an offence counts when committed under 18
                else:
                    continue
                if base_start < e.event_date <= A:
                    events[(leg, "base")].add(e.event_id)
                if out_start < e.event_date <= C:
                    events[(leg, "out")].add(e.event_id)
            attendance = [a for a in state.rows(pid, "attendance") if (a.academic_year, a.term) in term_keys]
            if attendance:
                pupils += 1
                failing += self.pupil_fails(attendance, terms)
            if C < adult_from:
                continue  # progress to work and route B look at adults (judged at C)
            employment = state.rows(pid, "employment")
            if any(s.kind in self.ptw_types and out_start < s.start <= C and s.start >= A for s in employment):
                ptw = True
            if not route_b:
                route_b = self.left_benefit_for_work(state.rows(pid, "benefits"), employment, A, C)

        counts = {k: len(v) for k, v in events.items()}

        def leg(base: int, out: int, max_pct: Fraction) -> str:
            if base == 0:
                return "fail" if out > 0 else "neutral"  # the whole-family rule
            return "pass" if out * 100 * max_pct.denominator <= max_pct.numerator * base else "fail"

        asb = leg(counts[("asb", "base")], counts[("asb", "out")], self.asb_max)
        off = leg(counts[("off", "base")], counts[("off", "out")], self.off_max)
        if edu_at_entry:
            if self.terms_ended(A, C) < self.pending_terms:
                edu = "pending"
            else:
                edu = "fail" if failing else "pass"  # no pupil left to assess: pass
        else:
            edu = "fail" if failing else "neutral"  # the whole-family rule
        legs = (asb, off, edu)
        route_a = all(v in ("pass", "neutral") for v in legs) and "pass" in legs
        return Results(True, asb, off, edu, route_a, ptw, route_b,
                       {**{f"{a}_{b}": n for (a, b), n in counts.items()}, "pupils": pupils, "failing": failing})

    def left_benefit_for_work(self, benefits: list, employment: list, A: date, C: date) -> bool:
        """Route B for one adult: an out-of-work benefit spell covering A, then an employment
        spell starting on or after A free of out-of-work benefit up to min(its end, C) and long
        enough by C."""
        oow = [b for b in benefits if b.kind in self.out_of_work]
        at_a = [b for b in oow if b.start <= A and (b.end is None or b.end >= A)]
        if not at_a:
            return False
        need = self.long_days if any(b.kind in self.long_benefits for b in at_a) else self.short_days
        for s in employment:
            if s.kind not in self.employment_types or s.start < A:
                continue
            upto = C if s.end is None or s.end > C else s.end
            if (upto - s.start).days < need:
                continue
            if any(b.start <= upto and (b.end is None or b.end >= s.start) for b in oow):
                continue  # a claim during the job breaks the run
            return True
        return False

    # ---- claims --------------------------------------------------------------------------
    def refresh(self, period: str, cohort_rows: list[dict], state) -> list[dict]:
        """The newly claimable items of the period (every earlier item approved)."""
        if self._last is not None and period <= self._last:
            raise ValueError(f"refreshes must be in period order: {period} after {self._last}")
        self._last = period
        R = reference_date(period)
        cohort = {r["family_ref"]: r for r in cohort_rows}
        self.attach(period, R, cohort, state)
        out: list[dict] = []
        for ref in sorted(self.attachments):
            att = self.attachments[ref]
            row = cohort[ref]
            members = row["members"]  # at C, or as last known when it no longer forms a family
            claimed = self.claimed.setdefault(ref, {})
            wanted = []
            if "attachment_fee" not in claimed:
                wanted.append("attachment_fee")
            res = self.results(att, bool(row["education"]), members, R, state)
            if res.measurable:
                b_side, a_side = {"route_b"}, {"route_a", "progress_to_work"}
                if res.route_b and not (claimed.keys() & (b_side | a_side)):
                    wanted.append("route_b")  # B wins when it and A/progress come together
                elif not claimed.keys() & b_side:
                    if res.route_a and "route_a" not in claimed:
                        wanted.append("route_a")
                    if res.progress_to_work and "progress_to_work" not in claimed:
                        wanted.append("progress_to_work")
            amounts = self.amounts(att.A)
            total = sum(claimed.values(), Decimal(0))
            for claim_type in sorted(wanted, key=CLAIM_ORDER.index):
                amount = min(amounts[claim_type], self.max_per_family - total)
                if amount <= 0:
                    continue  # the family's cap is reached
                total += amount
                claimed[claim_type] = amount
                out.append({"period": period, "case_ref": att.case_ref, "family_ref": ref, "claim_type": claim_type,
                            "amount": amount, "members": list(members), "attached_date": att.A})
        return out
