"""A plain-Python reference implementation of the Identification section of rules.md.

It is the yardstick the pipeline is measured against, so it is written from the rules alone and
shares nothing with the pipeline but the rulebook and the calendar helpers. It reads delivered
rows annotated with the truth (which person each row belongs to and which dwelling its address
is), so it never has to link records.

Deliveries repeat most rows month after month and the generator's run to millions of rows, so
the state is kept from one refresh to the next rather than rebuilt (the tests check the fast
paths against plain rescans):
- a delivery's rows go into the current state in bulk; only rows that are new or changed (a
  different row object for the natural key) go through the per-person bookkeeping;
- each person keeps the (record date, source order) of their most recent record and the keys
  holding it, so the household at R only has to break ties by delivery and line, and only
  people whose rows changed (or whose record date may move with R) are placed again;
- the crime and work tests look only at the rows that could meet them, and the education test
  is reused while the last three terms and the person's rows are unchanged.

Use:
    ref = Reference(dobs={"P1": date(...)}, postcodes={"D1": "S65 1AB"})
    ref.deliver("2026-01", rows, areas=["S65"])       # deliveries in period order
    cohort_rows = ref.refresh("2026-01")              # refreshes in period order
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import date
from fractions import Fraction
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

from ..calendar import add_months, add_years, last_terms, reference_date, term_end
from ..rulebook import Rulebook, load_rulebook

# Ties on one record date go to the first source in this order (rules.md, Household at R).
SOURCE_ORDER = ("interventions", "benefits", "employment", "attendance", "asb")
_RANK = {s: i for i, s in enumerate(SOURCE_ORDER)}


class Attendance(NamedTuple):
    upn: str
    school_urn: str
    academic_year: str
    term: str
    possible: int
    unauthorised: int
    fixed: int | None = None  # None: the contract default, 0
    permanent: bool | None = None  # None: N
    provision: str | None = None  # None: mainstream


class Asb(NamedTuple):
    person_ref: str
    event_id: str
    event_date: date
    event_type: str


class Spell(NamedTuple):
    """A benefits row (kind = benefit) or an employment row (kind = record_type)."""

    kind: str
    start: date
    end: date | None = None
    cap: bool | None = None
    nino: str | None = None
    # Identity as delivered: the person part of the natural key when there is no NINO.
    forename: str = ""
    surname: str = ""
    dob: date | None = None


class Intervention(NamedTuple):
    case_ref: str
    person_ref: str
    attached: date
    closed: date | None = None


class Row(NamedTuple):
    source: str  # attendance | asb | benefits | employment | interventions
    person: str  # the true person id
    dwelling: Hashable  # the true dwelling its address is
    data: tuple  # one of the records above
    line: int = 0  # line in the delivered file; 0 = number the rows in the order given


def fails_education(rows: list, latest_term: tuple, fixed_min: int, absence_num: int, absence_den: int,
                    provisions) -> bool:
    """rules.md's education test over one pupil's attendance rows of the last 3 terms (several
    schools adding up); the results' education leg is this test reversed."""
    if any(a.permanent for a in rows):
        return True
    if sum(a.fixed or 0 for a in rows) >= fixed_min:
        return True
    possible = sum(a.possible for a in rows)
    # unauthorised / possible >= pct / 100, in whole numbers
    if possible > 0 and sum(a.unauthorised for a in rows) * 100 * absence_den >= absence_num * possible:
        return True
    return any((a.academic_year, a.term) == latest_term and (a.provision or "mainstream") in provisions
               for a in rows)


def natural_key(row: Row) -> tuple:
    d = row.data
    s = row.source
    if s == "attendance":
        return (s, d.upn, d.academic_year, d.term, d.school_urn)
    if s == "asb":
        return (s, d.event_id, d.person_ref)
    if s in ("benefits", "employment"):
        who = ("nino", d.nino) if d.nino else ("name", d.forename, d.surname, d.dob)
        return (s, who, d.kind, d.start)
    if s == "interventions":
        return (s, d.case_ref, d.person_ref)
    raise ValueError(f"unknown source {s!r}")


def postcode_parts(postcode: str) -> tuple[str, str, str]:
    """(district, sector, full postcode), upper case with one space: 'S65 1AB' ->
    ('S65', 'S65 1', 'S65 1AB'). The inward code is always the last three characters."""
    compact = "".join(postcode.split()).upper()
    outward, inward = compact[:-3], compact[-3:]
    return outward, f"{outward} {inward[:1]}", f"{outward} {inward}"


def normalise_area(area: str) -> str:
    return " ".join(area.upper().split())


_NOT_IN_COHORT = {"route": None}
_SPELLS = ("benefits", "employment")


class _Person:
    """A person's current rows, by source (as natural key numbers), and where their most
    recent record stands."""

    __slots__ = ("pid", "keys", "terms", "top", "top_keys", "dirty", "volatile", "adult_from", "version", "edu",
                 "could_offend", "claims")

    def __init__(self, pid: str, adult_from: date):
        self.pid = pid
        self.keys: dict[str, set[int]] = {s: set() for s in SOURCE_ORDER}
        self.terms: dict[tuple[str, str], set[int]] = {}  # attendance keys by (academic year, term)
        # (record date, -source rank) of the most recent record, and the keys of the rows that
        # have it: among those the later delivery, then the later line, wins.
        self.top: tuple[date, int] | None = None
        self.top_keys: set[int] = set()
        self.dirty = False  # top must be worked out again from all rows
        self.volatile = False  # some row's record date may still change with R
        self.adult_from = adult_from
        self.version = 0  # changes whenever the content of a row changes, not when it is repeated
        self.edu: tuple | None = None  # (terms, version, result) of the last education test
        # Keys of the rows that could meet the crime test, and of out-of-work benefit spells:
        # most people have none, and their tests are then over at once.
        self.could_offend: set[int] = set()
        self.claims: set[int] = set()


class _At:
    """What a refresh at R needs, worked out once."""

    def __init__(self, ref: "Reference", R: date):
        self.R = R
        self.window_start = add_months(R, -ref.window)  # the 12 months up to R: (start, R]
        terms = last_terms(R, ref.n_terms, ref.term_ends, ref.year_start)
        self.terms = {(t.academic_year, t.name) for t in terms}
        self.terms_key = tuple(sorted(self.terms))
        self.latest_term = (terms[0].academic_year, terms[0].name)


class Reference:
    def __init__(self, dobs: Mapping[str, date], postcodes: Mapping[Hashable, str],
                 rulebook: Rulebook | str | None = None, filters: Mapping[str, bool] | None = None):
        """dobs: true date of birth per person id (may grow while deliveries arrive);
        postcodes: each dwelling's true postcode; filters: local discretion filters to override."""
        rb = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        self.rulebook = rb
        self.dobs = dobs
        self.postcodes = postcodes
        ident = rb["identification"]
        self.window = int(ident["window_months"])
        self.adult_age = int(ident["adult_age_years"])
        self.offences = set(ident["crime_asb"]["offence_types"])
        self.asb_interventions = set(ident["crime_asb"]["asb_intervention_types"])
        edu = ident["education"]
        self.n_terms = int(edu["terms"])
        self.fixed_min = int(edu["fixed_exclusions_min"])
        pct = Fraction(str(edu["unauthorised_absence_pct"]))
        self.absence_num, self.absence_den = pct.numerator, pct.denominator
        self.provisions = set(edu["provisions"])
        self.out_of_work = set(ident["work"]["out_of_work_benefits"])
        self.filters = {k: bool(v) for k, v in ident["local_discretion"]["filters"].items()}
        self.filters.update(filters or {})
        self.term_ends = rb.term_ends
        self.year_start = rb.academic_year_start
        self._term_end_cache: dict[tuple[str, str], date] = {}

        self._pending: list[tuple[str, int, dict[str, list[Row]], list[str] | None]] = []
        self._received = 0  # deliveries handed in
        self._deliveries = 0  # deliveries applied; also their order, "the later delivery"
        # The current rows: natural key number -> (record date, -source rank, delivery, line,
        # row). Entries compare as "most recent": later date, then earlier source, then later
        # delivery, then later line.
        self._entries: dict[int, tuple] = {}
        self._key_ids: dict[tuple, int] = {}
        self._owner: dict[int, _Person] = {}  # natural key number -> person holding its current row
        self._memo: dict[int, tuple] = {}
        self._people: dict[str, _Person] = {}
        self._areas: set[str] = set()
        self._last_refresh: str | None = None
        # Family identity across refreshes.
        self._families = 0
        self._last_members: dict[int, frozenset[str]] = {}
        self._sorted_members: dict[int, list[str]] = {}
        self._ids_holding: dict[str, set[int]] = {}
        self._cohort: dict[int, dict] = {}
        # Households, kept from one refresh to the next: only people whose rows changed, or
        # whose most recent record is tied or may change with R, are looked at again.
        self._home: dict[str, Hashable] = {}
        self._residents: dict[Hashable, set[str]] = {}
        self._touched: set[str] = set()
        self._unsettled: set[str] = set()  # tied between several most recent rows, dirty or volatile
        # dwelling -> (residents, the date the youngest of them turns adult, their _Person objects)
        self._dwellings: dict[Hashable, tuple[frozenset[str], date, list[_Person]]] = {}
        self.families: dict[int, frozenset[str]] = {}  # of the last refresh: family id -> members

    # ---- input --------------------------------------------------------------------------
    def deliver(self, period: str, rows: Iterable[Row] | Mapping[str, Iterable[Row]],
                areas: Iterable[str] | None = None) -> None:
        """One monthly delivery: its rows (or a mapping source -> rows), each file's rows in file
        order. areas=None: no areas file in it (the latest one still holds)."""
        reference_date(period)  # validates the period
        by_source: dict[str, list[Row]] = {}
        if isinstance(rows, Mapping):
            for source, rs in rows.items():
                by_source.setdefault(source, []).extend(rs)
        else:
            for row in rows:
                by_source.setdefault(row.source, []).append(row)
        for source in by_source:
            if source not in _RANK:
                raise ValueError(f"unknown source {source!r}")
        self._received += 1
        self._pending.append((period, self._received, by_source, None if areas is None else list(areas)))

    def _person(self, pid: str) -> _Person:
        p = self._people.get(pid)
        if p is None:
            p = self._people[pid] = _Person(pid, add_years(self.dobs[pid], self.adult_age))
        return p

    def _digest(self, row: Row) -> tuple:
        """(row, natural key number, record date, end date, the later of the two, person): the
        record date becomes the end date once R reaches it. Remembered by id(row)."""
        if row.source in _SPELLS:
            fixed, end = row.data.start, row.data.end
        else:
            fixed, end = self.record_date(row, date.max), None
        latest = fixed if end is None else max(fixed, end)
        # Natural keys are numbered: an int hashes faster than a tuple, millions of times over.
        key = self._key_ids.setdefault(natural_key(row), len(self._key_ids))
        m = self._memo[id(row)] = (row, key, fixed, end, latest, self._person(row.person))
        return m

    def _apply(self, upto: str) -> None:
        ready = sorted((d for d in self._pending if d[0] <= upto), key=lambda d: (d[0], d[1]))
        self._pending = [d for d in self._pending if d[0] > upto]
        memo, entries = self._memo, self._entries
        for period, _, by_source, areas in ready:
            self._deliveries += 1
            seq = self._deliveries
            R = reference_date(period)
            for source, rows in by_source.items():
                # Line 1 is the header, unless a row says which line it was on.
                if any(map(itemgetter(4), rows)):
                    lines = [row[4] or line for line, row in enumerate(rows, 2)]
                else:
                    lines = range(2, len(rows) + 2)
                # Work out a row's natural key, dates and person once per row object (the memo
                # holds the row, so its id stays its own).
                digests = [m if (m := memo.get(id(row))) is not None and m[0] is row else self._digest(row)
                           for row in rows]
                keys = [m[1] for m in digests]
                if source in _SPELLS:
                    dates = [m[3] if m[3] is not None and m[3] <= R else m[2] for m in digests]
                else:
                    dates = [m[2] for m in digests]
                # Rows that are new, or a new version of their natural key, need bookkeeping;
                # a row delivered again as it was only moves to this delivery and line.
                changed = [k for k, key in enumerate(keys) if (e := entries.get(key)) is None or e[4] is not rows[k]]
                rank = -_RANK[source]
                entries.update(zip(keys, zip(dates, repeat(rank), repeat(seq), lines, rows)))
                for k in changed:
                    m = digests[k]
                    self._changed(rows[k], keys[k], (dates[k], rank), m[5])
                    if m[4] > R:  # (a row seen before was checked then, at an earlier R)
                        m[5].volatile = True  # its record date may still change with R
            if areas is not None:
                self._areas = {normalise_area(a) for a in areas if a and a.strip()}

    def _changed(self, row: Row, key: int, top: tuple[date, int], p: _Person) -> None:
        source = row.source
        self._touched.add(row.person)
        owner = self._owner.get(key)
        if owner is not p:
            if owner is not None:  # the natural key now belongs to someone else
                self._touched.add(owner.pid)
                owner.keys[source].discard(key)
                owner.could_offend.discard(key)
                owner.claims.discard(key)
                if source == "attendance":
                    owner.terms[(row.data.academic_year, row.data.term)].discard(key)
                owner.dirty = True
                owner.version += 1
            self._owner[key] = p
            p.keys[source].add(key)
            if source == "attendance":  # the term is part of the natural key
                p.terms.setdefault((row.data.academic_year, row.data.term), set()).add(key)
        p.version += 1
        d = row.data
        if source == "asb":
            if self.could_offend(d, p):
                p.could_offend.add(key)
            else:
                p.could_offend.discard(key)
        elif source == "benefits":
            if d.kind in self.out_of_work:
                p.claims.add(key)
            else:
                p.claims.discard(key)
        if p.dirty:
            return
        if p.top is None or top > p.top:
            p.top, p.top_keys = top, {key}
        elif top == p.top:
            p.top_keys.add(key)
        elif key in p.top_keys:  # a most recent row's new version sorts earlier
            p.dirty = True

    def _data(self, p: _Person, source: str) -> list:
        entries = self._entries
        return [entries[k][4].data for k in p.keys[source]]

    # ---- rules --------------------------------------------------------------------------
    def record_date(self, row: Row, R: date) -> date:
        d = row.data
        s = row.source
        if s == "attendance":
            k = (d.academic_year, d.term)
            end = self._term_end_cache.get(k)
            if end is None:
                end = self._term_end_cache[k] = term_end(d.academic_year, d.term, self.term_ends, self.year_start)
            return end
        if s == "asb":
            return d.event_date
        if s in _SPELLS:
            return d.end if d.end is not None and d.end <= R else d.start
        return d.attached

    def _household(self, p: _Person, R: date, rescan: bool = False) -> Hashable | None:
        """The dwelling of the person's most recent record dated on or before R."""
        entries = self._entries
        if p.dirty or p.volatile or rescan:
            best, volatile = None, False
            for keys in p.keys.values():
                for k in keys:
                    e = entries[k]
                    row = e[4]
                    d = self.record_date(row, R)
                    if d > R or (row.source in _SPELLS and row.data.end is not None and row.data.end > R):
                        volatile = True
                    if d > R:
                        continue
                    e = (d, *e[1:])
                    if best is None or e > best:
                        best = e
            if rescan:
                return None if best is None else best[4].dwelling
            # Once volatile, always rescanned: the stored record date of such a row was worked
            # out for its own delivery's R and may be stale.
            p.dirty, p.volatile = False, p.volatile or volatile
            p.top = None if best is None else best[:2]
            p.top_keys = {k for keys in p.keys.values() for k in keys
                          if entries[k][:2] == p.top} if best is not None else set()
            return None if best is None else best[4].dwelling
        if p.top is None:
            return None
        if len(p.top_keys) == 1:
            for k in p.top_keys:
                return entries[k][4].dwelling
        return max(entries[k] for k in p.top_keys)[4].dwelling

    def could_offend(self, a: Asb, p: _Person) -> bool:
        """An ASB intervention, or a proven offence committed under 18: meets the crime test
        while its date is in the 12 months up to R. (Plain incidents never do.)"""
        return a.event_type in self.asb_interventions or (a.event_type in self.offences and a.event_date < p.adult_from)

    def crime_asb(self, p: _Person, at: _At) -> bool:
        entries = self._entries
        return any(at.window_start < entries[k][4].data.event_date <= at.R for k in p.could_offend)

    def education(self, p: _Person, at: _At) -> bool:
        # Only the last 3 terms matter, and they change three times a year: reuse the answer
        # while neither they nor the person's rows have changed.
        if p.edu is not None and p.edu[0] == at.terms_key and p.edu[1] == p.version:
            return p.edu[2]
        result = self._education(p, at)
        p.edu = (at.terms_key, p.version, result)
        return result

    def _education(self, p: _Person, at: _At) -> bool:
        entries = self._entries
        rows = [entries[k][4].data for t in at.terms_key for k in p.terms.get(t, ())]
        if not rows:
            return False
        return fails_education(rows, at.latest_term, self.fixed_min, self.absence_num, self.absence_den,
                               self.provisions)

    @staticmethod
    def covers(s: Spell, R: date) -> bool:
        """A spell covers the days from its start to its end date inclusive."""
        return s.start <= R and (s.end is None or s.end >= R)

    def work(self, p: _Person, at: _At) -> bool:
        """An adult with an out-of-work benefit spell (p.claims) covering R."""
        if at.R < p.adult_from:
            return False
        entries = self._entries
        return any(self.covers(entries[k][4].data, at.R) for k in p.claims)

    def benefit_cap(self, p: _Person, at: _At) -> bool:
        return any(s.cap and self.covers(s, at.R) for s in self._data(p, "benefits"))

    def in_areas(self, dwelling: Hashable) -> bool:
        return any(part in self._areas for part in postcode_parts(self.postcodes[dwelling]))

    def assess(self, members: Iterable[str], dwelling: Hashable, at: _At, full: bool = True) -> dict:
        """The criteria flags and route of one family at R. With full=False it stops as soon as
        the family cannot qualify (returning only route None)."""
        return self._assess([self._people[m] for m in members if m in self._people], dwelling, at, full)

    def _assess(self, people: list[_Person], dwelling: Hashable, at: _At, full: bool) -> dict:
        # Run for every family every month: the cheap tests first, plain loops, early exits
        # (education alone never qualifies a family).
        crime = education = work = False
        for p in people:
            if p.could_offend and self.crime_asb(p, at):
                crime = True
                break
        for p in people:
            if p.claims and self.work(p, at):
                work = True
                break
        if not full and not crime and not work:
            return _NOT_IN_COHORT
        for p in people:
            if p.keys["attendance"] and self.education(p, at):
                education = True
                break
        met = crime + education + work
        if not full and met < 2:
            return _NOT_IN_COHORT
        local = bool((self.filters.get("areas", False) and self.in_areas(dwelling)) or (
            self.filters.get("benefit_cap", False) and any(self.benefit_cap(p, at) for p in people)))
        route = "three_criteria" if met == 3 else ("two_plus_local" if met == 2 and local else None)
        return {"route": route, "crime_asb": crime, "education": education, "work": work, "local_discretion": local}

    # ---- families and the cohort --------------------------------------------------------
    def _match(self, families: list[frozenset[str]]) -> dict[int, frozenset[str]]:
        """Give each family an id: the old id it overlaps most (greedy: overlap descending, then
        older id, then the family's smallest member id), else a new one in order of smallest member."""
        pairs = []
        out: dict[int, frozenset[str]] = {}
        taken: set[frozenset[str]] = set()
        holding = self._ids_holding
        for fam in families:
            # Most families are exactly as last time: when every member is held by one id only
            # and nobody else, that id and this family are each other's only candidate.
            first = holding.get(next(iter(fam)))
            if first is not None and len(first) == 1:
                (fid,) = first
                if self._last_members[fid] == fam and all(holding[p] == first for p in fam):
                    out[fid] = fam
                    taken.add(fam)
                    continue
            seen: dict[int, int] = {}
            for p in fam:
                for fid in self._ids_holding.get(p, ()):
                    seen[fid] = seen.get(fid, 0) + 1
            smallest = min(fam)
            pairs.extend((-n, fid, smallest, fam) for fid, n in seen.items())
        pairs.sort(key=lambda x: (x[0], x[1], x[2]))
        for _, fid, _, fam in pairs:
            if fid not in out and fam not in taken:
                out[fid] = fam
                taken.add(fam)
        for fam in sorted((f for f in families if f not in taken), key=min):
            self._families += 1
            out[self._families] = fam
        for fid, fam in out.items():
            if self._last_members.get(fid) == fam:
                continue
            for p in self._last_members.get(fid, ()):
                self._ids_holding[p].discard(fid)
            self._last_members[fid] = fam
            self._sorted_members[fid] = sorted(fam)
            for p in fam:
                self._ids_holding.setdefault(p, set()).add(fid)
        return out

    def refresh(self, period: str) -> list[dict]:
        """The cohort at period P: one dict per cohort family, sorted by family id."""
        if self._last_refresh is not None and period <= self._last_refresh:
            raise ValueError(f"refreshes must be in period order: {period} after {self._last_refresh}")
        self._last_refresh = period
        self._apply(period)
        at = _At(self, reference_date(period))
        R = at.R

        people = self._people
        moved_in_or_out: set[Hashable] = set()
        for pid in self._touched | self._unsettled:
            p = people[pid]
            old, new = self._home.get(pid), self._household(p, R)
            if p.dirty or p.volatile or len(p.top_keys) > 1:
                self._unsettled.add(pid)
            else:
                self._unsettled.discard(pid)
            if new != old:
                moved_in_or_out.update((old, new))
                if old is not None:
                    self._residents[old].discard(pid)
                    if not self._residents[old]:
                        del self._residents[old]
                if new is None:
                    del self._home[pid]
                else:
                    self._home[pid] = new
                    self._residents.setdefault(new, set()).add(pid)
        self._touched = set()
        for dw in moved_in_or_out - {None}:
            residents = self._residents.get(dw)
            if residents:
                group = [people[pid] for pid in residents]
                # a child is someone not yet adult at R: a family while the youngest is a child
                self._dwellings[dw] = (frozenset(residents), max(p.adult_from for p in group), group)
            else:
                self._dwellings.pop(dw, None)
        families = {fam: dw for dw, (fam, youngest_adult_from, _) in self._dwellings.items() if R < youngest_adult_from}
        ids = self._match(sorted(families, key=min))
        self.families = ids

        qualifies: dict[int, bool] = {}
        for fid, fam in ids.items():
            a = self._assess(self._dwellings[families[fam]][2], families[fam], at, full=False)
            qualifies[fid] = a["route"] is not None
            if a["route"] is not None and fid not in self._cohort:
                self._cohort[fid] = {"identified_period": period, **a}

        out = []
        for fid in sorted(self._cohort):
            c = self._cohort[fid]
            out.append({
                "period": period,
                "family_ref": f"F{fid:06d}",
                "identified_period": c["identified_period"],
                "route": c["route"],
                "crime_asb": c["crime_asb"],
                "education": c["education"],
                "work": c["work"],
                "local_discretion": c["local_discretion"],
                "still_meets_criteria": qualifies.get(fid, False),
                "members": self._sorted_members[fid],
            })
        return out

    @property
    def family_ids(self) -> int:
        """How many family ids have been given out so far."""
        return self._families

    @property
    def households(self) -> dict[Hashable, list[str]]:
        """Of the last refresh: dwelling -> members (sorted)."""
        return {dw: sorted(m) for dw, m in self._residents.items()}

    def households_rescanned(self, period: str) -> dict[Hashable, list[str]]:
        """Households at the period's R worked out from scratch, from the rows applied so far
        (for tests of the fast path)."""
        R = reference_date(period)
        out: dict[Hashable, list[str]] = {}
        for pid, p in self._people.items():
            where = self._household(p, R, rescan=True)
            if where is not None:
                out.setdefault(where, []).append(pid)
        return {dw: sorted(m) for dw, m in out.items()}

    def assess_family(self, members: Iterable[str], dwelling: Hashable, period: str) -> dict:
        """All flags of a set of people at a period's R, from the rows applied so far (for tests)."""
        return self.assess(members, dwelling, _At(self, reference_date(period)))


def reference_cohort(deliveries: Iterable[tuple[str, Iterable[Row], Iterable[str] | None]], periods: Iterable[str],
                     dobs: Mapping[str, date], postcodes: Mapping[Hashable, str],
                     rulebook: Rulebook | str | None = None, filters: Mapping[str, bool] | None = None) -> list[dict]:
    """The cohort rows of every period, from (period, rows, areas) deliveries."""
    ref = Reference(dobs, postcodes, rulebook, filters)
    for period, rows, areas in deliveries:
        ref.deliver(period, rows, areas)
    out: list[dict] = []
    for p in periods:
        out.extend(ref.refresh(p))
    return out
