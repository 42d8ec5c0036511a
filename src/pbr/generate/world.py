"""The simulated world: people, dwellings and households over time, and the records each source
system holds about them. Pure Python, deterministic for a seed.

The world only decides what happens. What the sources deliver each month is `deliveries.py`, and
who is in the cohort is decided by `reference.py` from the delivered rows, never from the
intentions recorded here (a family built to be "troubled" may well not qualify)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..calendar import add_months, add_years, periods_between, reference_date, term_end
from . import names

DAY = timedelta(days=1)
OUT_OF_WORK = ["jsa", "jsa", "esa", "esa", "is", "uc_searching", "uc_searching", "ib", "sda", "ca"]
LONG_SEARCH = ["jsa", "esa", "uc_searching"]  # the claims most often left for work
OTHER_BENEFITS = ["hb", "ctc", "wtc", "cb", "dla"]
BASE_SESSIONS = {"autumn": 140, "spring": 120, "summer": 130}
_NO_PLAN: dict = {}
TROUBLED = 0.25  # share of families with two or three problems at once
AT_RISK = 0.50  # below this (and above TROUBLED): one problem, perhaps near misses


@dataclass(eq=False)
class Dwelling:
    id: int
    number: int
    flat: int | None
    street: str  # "Station Road"
    town: str
    postcode: str  # canonical: upper case, one space
    uprn: str

    @property
    def district(self) -> str:
        return self.postcode.split()[0]

    @property
    def line(self) -> str:
        return f"Flat {self.flat}, {self.number} {self.street}" if self.flat else f"{self.number} {self.street}"


@dataclass(eq=False)
class Person:
    id: int
    forename: str
    surname: str
    sex: str
    dob: date
    arrival: date
    homes: list[tuple[date, Dwelling]] = field(default_factory=list)
    upn: str | None = None
    nino: str | None = None
    asb_ref: str | None = None
    case_ref: str | None = None  # the interventions system's person id
    absence: float = 0.02  # usual share of sessions missed without authority
    plan: dict[int, dict] = field(default_factory=dict)  # term index -> attendance overrides

    def home_at(self, d: date) -> Dwelling | None:
        found = None
        for since, dw in self.homes:
            if since <= d:
                found = dw
            else:
                break
        return found

    def __post_init__(self):
        self.adult_on = add_years(self.dob, 18)
        self.aged_10 = add_years(self.dob, 10)  # the age of criminal responsibility

    def is_child(self, d: date) -> bool:
        return d < self.adult_on


@dataclass(eq=False, slots=True)
class AttendanceRec:
    person: Person
    school_urn: str
    academic_year: str
    term: str
    term_end: date
    possible: int
    unauthorised: int
    authorised: int | None
    fixed: int | None
    permanent: bool | None
    provision: str | None


@dataclass(eq=False, slots=True)
class AsbRec:
    person: Person
    event_id: str
    event_date: date
    event_type: str
    agency: str | None


@dataclass(eq=False, slots=True)
class SpellRec:
    source: str  # benefits | employment
    person: Person
    kind: str  # benefit code or employment record_type
    start: date
    end: date | None
    end_reason: str | None
    cap: bool | None


@dataclass(eq=False, slots=True)
class CaseRec:
    person: Person
    case_ref: str
    attached: date
    closed: date | None
    keyworker: str | None
    role: str | None


@dataclass(eq=False)
class Household:
    id: int
    adults: list[Person]
    children: list[Person]
    arrival: date
    homes: list[tuple[date, Dwelling]] = field(default_factory=list)
    left: dict[int, date] = field(default_factory=dict)  # person id -> date they moved out

    @property
    def everyone(self) -> list[Person]:
        return self.adults + self.children

    def members_at(self, d: date) -> list[Person]:
        return [p for p in self.everyone if p.arrival <= d and self.left.get(p.id, date.max) > d]


@dataclass
class World:
    people: list[Person]
    dwellings: list[Dwelling]
    attendance: list[AttendanceRec]
    asb: list[AsbRec]
    benefits: list[SpellRec]
    employment: list[SpellRec]
    interventions: list[CaseRec]
    areas: list[tuple[str, list[tuple[str, str]]]]  # (first period it applies from, rows)
    households: int
    family_households: int


@dataclass(frozen=True)
class SimTerm:
    index: int
    academic_year: str
    name: str
    start: date
    end: date

    @property
    def start_year(self) -> int:
        return int(self.academic_year[:4])


class Simulation:
    def __init__(self, families: int, seed: int, start: str, end: str, lookback_months: int, rulebook,
                 shard: int = 0):
        self.rng = random.Random(seed)
        # Shard k > 0 is another authority of a region (pbr.generate.region): its own postcode
        # areas and identifier ranges, so no two shards share a place or an id. Shard 0 is the
        # plain generator, unchanged.
        self.ns = "" if shard == 0 else str(shard)
        self.districts = shard_districts(shard)
        self.n_families = families
        self.periods = periods_between(start, end)
        self.r_first = reference_date(start)
        self.r_last = reference_date(end)
        # Nothing dated on or before h0 is ever delivered; the world clock starts a year earlier
        # so open spells and cases already have a past when the first delivery is cut.
        self.h0 = add_months(self.r_first, -lookback_months)
        self.t0 = add_months(self.h0, -12)
        self.terms = self._terms(rulebook)
        self._term_years = [t.start_year for t in self.terms]
        self.people: list[Person] = []
        self.dwellings: list[Dwelling] = []
        self.households: list[Household] = []
        self.attendance: list[AttendanceRec] = []
        self.asb: list[AsbRec] = []
        self.benefits: list[SpellRec] = []
        self.employment: list[SpellRec] = []
        self.interventions: list[CaseRec] = []
        self._identities: set[tuple[str, str, date]] = set()
        self._ids: set[str] = set()
        self._cycle: dict[str, int] = {}
        self._streets = self._make_streets(max(12, (families * 13) // 100))
        self._streets_in: dict[str, list[int]] = {}
        for i, st in enumerate(self._streets):
            self._streets_in.setdefault(st[2].split()[0], []).append(i)
        self._area_rows, self._late_area = self._pick_areas()
        listed = {a for a, _ in self._area_rows}
        # Streets in the authority's listed areas, where troubled families more often live.
        self._listed_streets = [i for i, st in enumerate(self._streets)
                                if st[2].split()[0] in listed or st[2] in listed or any(u in listed for u in st[3])]
        self._claims: dict[int, list[SpellRec]] = {}  # person id -> benefit spells, for leaving for work
        self._troubled: list[Household] = []
        self._used_numbers: set[tuple[int, int, int | None]] = set()
        self._schools = self._make_schools()

    # ---- small helpers -------------------------------------------------------------------
    def date_between(self, a: date, b: date) -> date:
        if b <= a:
            return a
        return a + timedelta(days=self.rng.randint(0, (b - a).days))

    def unique(self, make) -> str:
        while True:
            s = make()
            if s not in self._ids:
                self._ids.add(s)
                return s

    def digits(self, n: int) -> str:
        return f"{self.rng.randrange(10 ** n):0{n}d}"

    def next_in_cycle(self, name: str, options: list[str]) -> str:
        # Round robin rather than random, so even a small world shows every mechanism.
        i = self._cycle.get(name, 0)
        self._cycle[name] = i + 1
        return options[i % len(options)]

    def _terms(self, rulebook) -> list[SimTerm]:
        ends = rulebook.term_ends
        start_mmdd = rulebook.academic_year_start
        found = []
        for y in range(self.t0.year - 2, self.r_last.year + 1):
            label = f"{y}/{(y + 1) % 100:02d}"
            for t in ends:
                e = term_end(label, t, ends, start_mmdd)
                if self.t0 < e <= self.r_last:
                    found.append((e, label, t))
        found.sort()
        out = []
        prev_end = found[0][0] - timedelta(days=120) if found else self.t0
        for i, (e, label, t) in enumerate(found):
            out.append(SimTerm(i, label, t, prev_end + DAY, e))
            prev_end = e
        return out

    # ---- places -------------------------------------------------------------------------
    def _make_streets(self, n: int) -> list[tuple[str, str, str, list[str]]]:
        """(street, town, district sector, units): a street sits in one sector with a few units."""
        districts = list(self.districts)
        combos = [f"{s} {t}" for s in names.STREETS for t in names.STREET_TYPES]
        self.rng.shuffle(combos)
        streets, used_units = [], set()
        # One street per name, so an address line and town never name two places.
        for i in range(min(n, len(combos))):
            d = districts[i % len(districts)]
            sector = f"{d} {self.rng.randint(0, 4)}"
            units = []
            for _ in range(self.rng.randint(2, 4)):
                while True:
                    u = self.rng.choice(names.UNIT_LETTERS) + self.rng.choice(names.UNIT_LETTERS)
                    if (sector, u) not in used_units:
                        used_units.add((sector, u))
                        units.append(f"{sector}{u}")  # "S65 1" + "AB"
                        break
            streets.append((combos[i], self.districts[d], sector, units))
        return streets

    def new_dwelling(self, near: Dwelling | None = None, listed: bool = False) -> Dwelling:
        while True:
            if listed and self._listed_streets:
                si = self.rng.choice(self._listed_streets)
            elif near is not None and self.rng.random() < 0.4:
                si = self.rng.choice(self._streets_in[near.district])
            else:
                si = self.rng.randrange(len(self._streets))
            number = self.rng.randint(1, 160)
            flat = self.rng.randint(1, 6) if self.rng.random() < 0.15 else None
            if (si, number, flat) not in self._used_numbers:
                self._used_numbers.add((si, number, flat))
                break
        street, town, sector, units = self._streets[si]
        postcode = units[min(number * len(units) // 161, len(units) - 1)]
        d, inward = postcode.split()
        dw = Dwelling(len(self.dwellings), number, flat, street, town, postcode,
                      self.unique(lambda: "1000" + self.ns + self.digits(8)))
        self.dwellings.append(dw)
        return dw

    def _make_schools(self) -> dict[tuple[str, str], list[str]]:
        schools = {}
        for d in self.districts:
            schools[(d, "primary")] = [self.unique(lambda: "10" + self.digits(4)) for _ in range(2)]
            schools[(d, "secondary")] = [self.unique(lambda: "13" + self.digits(4))]
        self.pru = self.unique(lambda: "14" + self.digits(4))
        self.ap = self.unique(lambda: "14" + self.digits(4))
        return schools

    def school_for(self, p: Person, d: date, year_group: int) -> str:
        home = (p.home_at(d) or p.homes[0][1]) if len(p.homes) > 1 else p.homes[0][1]
        options = self._schools[(home.district, "primary" if year_group <= 6 else "secondary")]
        return options[p.id % len(options)]

    def other_school(self, p: Person, d: date, year_group: int) -> str:
        here = self.school_for(p, d, year_group)
        phase = "primary" if year_group <= 6 else "secondary"
        pool = [u for (dist, ph), us in self._schools.items() if ph == phase for u in us if u != here]
        return pool[p.id % len(pool)]

    # ---- people -------------------------------------------------------------------------
    def new_person(self, sex: str, dob: date, surname: str, arrival: date, avoid: str | None = None) -> Person:
        pool = names.MALE if sex == "M" else names.FEMALE
        while True:
            forename = self.rng.choice(pool)
            # Twins and siblings must not be told apart only by a nickname of each other.
            if avoid and (forename == avoid or forename in names.NICKNAMES.get(avoid, [])
                          or avoid in names.NICKNAMES.get(forename, [])):
                continue
            if (forename, surname, dob) not in self._identities:
                break
            dob = dob + DAY if self.rng.random() < 0.5 and not avoid else dob
        self._identities.add((forename, surname, dob))
        p = Person(len(self.people), forename, surname, sex, dob, arrival)
        self.people.append(p)
        return p

    def dob_aged(self, years: float, at: date) -> date:
        return at - timedelta(days=int(years * 365.25) + self.rng.randint(0, 364))

    def year_group(self, p: Person, academic_year: str) -> int | None:
        dob_ay = p.dob.year if p.dob.month >= 9 else p.dob.year - 1
        yg = int(academic_year[:4]) - dob_ay - 4
        return yg if 0 <= yg <= 11 else None

    def ensure_nino(self, p: Person) -> str:
        if p.nino is None:
            first, second = "ABCEGHJKLMNPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
            p.nino = self.unique(lambda: self.rng.choice(first) + self.rng.choice(second)
                                 + self.digits(6) + self.rng.choice("ABCD"))
        return p.nino

    # ---- records ------------------------------------------------------------------------
    def event(self, people: list[Person], d: date, etype: str, agency: str | None) -> None:
        people = [p for p in people if p.arrival <= d]
        if not people or d <= self.h0 or d > self.r_last:
            return
        eid = self.unique(lambda: "EV" + self.ns + self.digits(8))
        for p in people:
            if p.asb_ref is None:
                p.asb_ref = self.unique(lambda: "PR" + self.ns + self.digits(8))
            self.asb.append(AsbRec(p, eid, d, etype, agency))

    def spell(self, p: Person, source: str, kind: str, start: date, end: date | None,
              reason: str | None = None, cap: bool = False) -> SpellRec | None:
        start = max(start, p.arrival)
        if start > self.r_last or (end is not None and (end < start or end <= self.h0)):
            return None
        self.ensure_nino(p)
        # An unflagged spell is written N or left empty (the contract default), at random.
        flag = True if cap else (False if self.rng.random() < 0.3 else None)
        rec = SpellRec(source, p, kind, start, end, reason if end else None, flag if source == "benefits" else None)
        if source == "benefits":
            self.benefits.append(rec)
            self._claims.setdefault(p.id, []).append(rec)
        else:
            self.employment.append(rec)
        return rec

    def case(self, members: list[Person], attached: date, closed: date | None) -> None:
        members = [p for p in members if p.arrival <= attached]
        if not members or attached > self.r_last:
            return
        ref = self.unique(lambda: "TF" + self.ns + self.digits(6))
        kw = self.rng.choice(names.KEYWORKERS) if self.rng.random() < 0.9 else None
        for p in members:
            if p.case_ref is None:
                p.case_ref = self.unique(lambda: "LL-" + self.ns + self.digits(6))
            role = "child" if p.is_child(attached) else "adult"
            self.interventions.append(CaseRec(p, ref, attached, closed, kw, role if self.rng.random() < 0.9 else None))

    # ---- the world ----------------------------------------------------------------------
    def run(self) -> World:
        for _ in range(self.n_families):
            self.family_household()
        for _ in range(max(1, self.n_families // 8)):
            self.adult_household()
        for p in self.people:
            self.background(p)
        for p in self.people:
            self.school_records(p)
        areas = self.areas()
        return World(self.people, self.dwellings, self.attendance, self.asb, self.benefits, self.employment,
                     self.interventions, areas, len(self.households), self.n_families)

    def arrival_date(self) -> date:
        # Most households are here before the first delivery; a few move into the area later.
        if self.rng.random() < 0.06:
            return self.date_between(add_months(self.r_first, 1), add_months(self.r_last, -3))
        return self.t0 - timedelta(days=3650)

    def family_household(self) -> None:
        rng = self.rng
        arrival = self.arrival_date()
        surname = rng.choice(names.SURNAMES)
        n_children = rng.choices([1, 2, 3, 4], [35, 35, 20, 10])[0]
        ages = sorted((rng.uniform(0, 17.9) for _ in range(n_children)), reverse=True)
        children: list[Person] = []
        for i, age in enumerate(ages):
            if children and rng.random() < 0.06:  # twins: same surname and dob, different forenames
                twin = children[-1]
                children.append(self.new_person(rng.choice("MF"), twin.dob, twin.surname, arrival, avoid=twin.forename))
                continue
            children.append(self.new_person(rng.choice("MF"), self.dob_aged(age, self.t0), surname, arrival))
        eldest = ages[0]
        adults = [self.new_person("F" if rng.random() < 0.85 else "M",
                                  self.dob_aged(eldest + rng.uniform(17, 30), self.t0), surname, arrival)]
        if rng.random() < 0.6:
            other = rng.choice(names.SURNAMES) if rng.random() < 0.25 else surname
            sex = "M" if adults[0].sex == "F" else "F"
            adults.append(self.new_person(sex, self.dob_aged(eldest + rng.uniform(18, 35), self.t0), other, arrival))
        roll = rng.random()
        hh = self.settle(adults, children, arrival, listed=roll < TROUBLED and rng.random() < 0.35)
        self.life_events(hh)
        self.troubles(hh, roll)
        if roll < TROUBLED:
            self._troubled.append(hh)

    def adult_household(self) -> None:
        rng = self.rng
        arrival = self.arrival_date()
        surname = rng.choice(names.SURNAMES)
        adults = [self.new_person(rng.choice("MF"), self.dob_aged(rng.uniform(18, 70), self.t0), surname, arrival)]
        if rng.random() < 0.5:
            adults.append(self.new_person(rng.choice("MF"), self.dob_aged(rng.uniform(18, 70), self.t0),
                                          surname if rng.random() < 0.6 else rng.choice(names.SURNAMES), arrival))
        hh = self.settle(adults, [], arrival)
        self.life_events(hh)
        if rng.random() < 0.2:  # single people and couples get into trouble too, never a family
            p = rng.choice(adults)
            d = self.date_between(max(self.h0, arrival), self.r_last)
            self.event([p], d, rng.choice(["asb_incident", "proven_offence", "asbo"]), "police")
            self.spell(p, "benefits", rng.choice(OUT_OF_WORK), d - timedelta(days=rng.randint(0, 900)),
                       self.maybe_end(d + timedelta(days=rng.randint(30, 700))))

    def settle(self, adults: list[Person], children: list[Person], arrival: date, listed: bool = False) -> Household:
        home = self.new_dwelling(listed=listed)
        hh = Household(len(self.households), adults, children, arrival, [(arrival, home)])
        for p in hh.everyone:
            p.homes.append((arrival, home))
        self.households.append(hh)
        return hh

    def maybe_end(self, d: date) -> date | None:
        return d if d <= self.r_last else None

    def life_events(self, hh: Household) -> None:
        """Moves as a unit, an adult leaving to live alone, young adults leaving home."""
        rng = self.rng
        lo = max(self.h0, hh.arrival + timedelta(days=60))
        events: list[tuple[date, str, Person | None]] = []
        for _ in range(rng.choices([0, 1, 2], [82, 15, 3])[0]):
            events.append((self.date_between(lo, self.r_last), "move", None))
        if len(hh.adults) == 2 and rng.random() < 0.08:
            events.append((self.date_between(lo, self.r_last), "leave", rng.choice(hh.adults)))
        for c in hh.children:
            at18 = c.adult_on
            if lo < at18 < self.r_last and rng.random() < 0.3:
                events.append((at18 + timedelta(days=rng.randint(0, 365)), "leave", c))
        for d, kind, who in sorted(events, key=lambda e: (e[0], e[1])):
            if d > self.r_last:
                continue
            if kind == "move":
                home = self.new_dwelling(near=hh.homes[-1][1])
                hh.homes.append((d, home))
                for p in hh.members_at(d):
                    p.homes.append((d, home))
            elif who is not None and hh.left.get(who.id, date.max) > d:
                hh.left[who.id] = d
                who.homes.append((d, self.new_dwelling(near=who.homes[-1][1])))

    # ---- background lives ---------------------------------------------------------------
    def background(self, p: Person) -> None:
        rng = self.rng
        years = (self.r_last - self.h0).days / 365.25
        lo = max(self.h0 + DAY, p.arrival)
        p.absence = rng.choice([0.01, 0.02, 0.02, 0.03, 0.04]) if rng.random() < 0.9 else (
            rng.uniform(0.05, 0.12) if rng.random() < 0.7 else rng.uniform(0.15, 0.3))
        for _ in range(self.count(0.03 * years)):
            d = self.date_between(lo, self.r_last)
            if d >= p.aged_10:
                self.event([p], d, "asb_incident", rng.choice(["police", "council", "housing"]))
        for _ in range(self.count(0.006 * years)):
            d = self.date_between(lo, self.r_last)
            if d >= p.aged_10:
                self.event([p], d, "proven_offence", "yot" if p.is_child(d) else "police")
        if p.adult_on > self.r_last:
            return
        adult_from = max(p.adult_on, p.arrival)
        if rng.random() < 0.22:
            start = self.date_between(max(adult_from, self.t0 - timedelta(days=1500)), self.r_last)
            self.spell(p, "benefits", "hb", start, self.maybe_end(start + timedelta(days=rng.randint(120, 2000))),
                       "other", cap=rng.random() < 0.03)
        if rng.random() < 0.15:
            start = self.date_between(max(adult_from, self.t0 - timedelta(days=1000)), self.r_last)
            self.spell(p, "benefits", rng.choice(OTHER_BENEFITS[1:]), start,
                       self.maybe_end(start + timedelta(days=rng.randint(90, 1500))), "other")
        if rng.random() < 0.08:
            start = self.date_between(max(adult_from, self.t0), self.r_last)
            end = start + timedelta(days=rng.randint(40, 300))
            gone_to_work = rng.random() < 0.5
            self.spell(p, "benefits", rng.choice(LONG_SEARCH), start, self.maybe_end(end),
                       "employment" if gone_to_work else "other")
            if gone_to_work and end < self.r_last:
                self.spell(p, "employment", "employment", end + DAY,
                           self.maybe_end(end + timedelta(days=rng.randint(30, 700))))

    def count(self, expected: float) -> int:
        n = int(expected)
        return n + (1 if self.rng.random() < expected - n else 0)

    # ---- troubles -------------------------------------------------------------------------
    def troubles(self, hh: Household, roll: float) -> None:
        """Episodes of trouble that should, when they overlap, qualify the family."""
        rng = self.rng
        if roll >= AT_RISK:
            return  # an ordinary family: background only
        # Episodes mostly overlap the delivered span; some are already running at its start.
        lo = max(add_months(self.r_first, -9), hh.arrival + timedelta(days=30))
        e0 = self.date_between(lo, add_months(self.r_last, -2))
        e1 = e0 + timedelta(days=rng.randint(300, 900))
        crits = ["crime", "education", "work"]
        if roll < TROUBLED:  # troubled: two or three criteria at once
            chosen = crits if rng.random() < 0.5 else rng.sample(crits, 2)
            near = [c for c in crits if c not in chosen and rng.random() < 0.4]
            case_p = 0.85
        else:  # at risk: one criterion, perhaps near misses on others
            chosen = [rng.choice(crits)]
            near = [c for c in crits if c not in chosen and rng.random() < 0.5]
            case_p = 0.15
        attached = None
        if rng.random() < case_p:
            attached = min(e0 + timedelta(days=rng.randint(-90, 240)), self.r_last)
            attached = max(attached, hh.arrival + DAY)
        improving = attached is not None and rng.random() < 0.65
        until = min(e1, attached + timedelta(days=rng.randint(60, 200))) if improving else e1
        for c in chosen:
            getattr(self, f"{c}_problem")(hh, e0, until, attached)
        for c in near:
            getattr(self, f"{c}_near_miss")(hh, e0, e1)
        if len(hh.children) >= 3 and roll < TROUBLED and rng.random() < 0.5:
            self.capped(hh, e0, e1)
        if attached is not None:
            self.attach(hh, attached)

    def older_members(self, hh: Household, d: date, min_age: int = 10) -> list[Person]:
        return [p for p in hh.members_at(d) if d >= (p.aged_10 if min_age == 10 else add_years(p.dob, min_age))]

    def crime_problem(self, hh: Household, e0: date, e1: date, attached: date | None) -> None:
        rng = self.rng
        kind = self.next_in_cycle("crime", ["child_offence", "asbo", "child_offence", "asb_injunction",
                                            "abc", "housing_asb_action"])
        kids = [c for c in hh.members_at(e0) if c.is_child(e0) and e0 >= c.aged_10]
        if kind == "child_offence" and kids:
            offender = rng.choice(kids)
            d = e0
            while d <= e1 and offender.is_child(d):
                self.event([offender], d, "proven_offence", "yot")
                d += timedelta(days=rng.randint(45, 220))
        else:
            if kind == "child_offence":
                kind = "asbo"
            adults = [p for p in hh.members_at(e0) if not p.is_child(e0)] or hh.adults
            who = rng.choice(adults) if kind == "housing_asb_action" else rng.choice(
                self.older_members(hh, e0) or adults)
            agency = {"housing_asb_action": "housing", "abc": "council"}.get(kind, "police")
            d = e0
            while d <= e1:
                self.event([who], d, kind, agency)
                d += timedelta(days=rng.randint(150, 340))
        self.incidents(hh, e0, e1, rng.randint(1, 5))

    def incidents(self, hh: Household, a: date, b: date, n: int) -> None:
        for _ in range(n):
            d = self.date_between(a, b)
            pool = self.older_members(hh, d)
            if pool:
                # Now and then one incident names two members: counted once per family.
                pair = len(pool) > 1 and self.rng.random() < 0.25
                who = self.rng.sample(pool, 2) if pair else [self.rng.choice(pool)]
                self.event(who, d, "asb_incident", self.rng.choice(["police", "council", "housing"]))

    def crime_near_miss(self, hh: Household, e0: date, e1: date) -> None:
        rng = self.rng
        kind = self.next_in_cycle("crime_near", ["adult_offence", "incidents_only", "offence_at_18"])
        if kind == "offence_at_18":
            turning = [c for c in hh.children if self.h0 < c.adult_on <= self.r_last]
            if turning:
                c = rng.choice(turning)
                at18 = c.adult_on
                self.event([c], at18, "proven_offence", "police")  # not under 18: does not count
                if rng.random() < 0.5:
                    self.event([c], at18 - DAY, "proven_offence", "yot")  # the day before does
                return
            kind = "adult_offence"
        if kind == "adult_offence":
            adults = [p for p in hh.members_at(e0) if not p.is_child(e0)]
            if adults:
                self.event([rng.choice(adults)], self.date_between(e0, e1), "proven_offence", "police")
                return
        self.incidents(hh, e0, e1, rng.randint(1, 4))

    def pupil_terms(self, hh: Household, e0: date, e1: date, need: int) -> tuple[Person | None, list[SimTerm]]:
        best, best_terms = None, []
        for c in hh.children:
            ts = [t for t in self.terms if e0 <= t.end and t.start <= e1 and t.end > self.h0
                  and t.end >= c.arrival and self.year_group(c, t.academic_year) is not None]
            if len(ts) >= need and len(ts) > len(best_terms):
                best, best_terms = c, ts
        return best, best_terms

    def education_problem(self, hh: Household, e0: date, e1: date, attached: date | None) -> None:
        rng = self.rng
        kind = self.next_in_cycle("education", ["absence_high", "absence_15", "fixed3_terms", "fixed3_split",
                                                "permanent", "alternative_provision", "not_on_roll"])
        pupil, ts = self.pupil_terms(hh, e0, e1, 3 if kind in ("absence_15", "permanent") else 2)
        if pupil is None:
            pupil, ts = self.pupil_terms(hh, e0, e1, 1)
            kind = "absence_high"
            if pupil is None:
                return
        plan = pupil.plan
        if kind == "absence_high":
            for t in ts:
                plan[t.index] = {"absence": rng.uniform(0.16, 0.4)}
        elif kind == "absence_15":
            # Exactly 15% over these three terms: 60 of 400 possible sessions.
            for t, poss, un in zip(ts, (140, 130, 130), (21, 20, 19)):
                plan[t.index] = {"possible": poss, "unauthorised": un}
        elif kind == "fixed3_terms":
            # 3 fixed-term exclusions in total, at two schools in different terms (a managed move).
            yg = self.year_group(pupil, ts[1].academic_year)
            plan[ts[0].index] = {"fixed": 1}
            plan[ts[1].index] = {"fixed": 2, "school": self.other_school(pupil, ts[1].end, yg)}
        elif kind == "fixed3_split":
            yg = self.year_group(pupil, ts[0].academic_year)
            plan[ts[0].index] = {"split": (self.other_school(pupil, ts[0].end, yg), 1, 2)}
        elif kind == "permanent":
            plan[ts[0].index] = {"permanent": True, "fixed": rng.choice([0, 1])}
            for t in ts[1:3]:
                plan[t.index] = {"provision": "pru", "school": self.pru}
        elif kind == "alternative_provision":
            for t in ts:
                plan[t.index] = {"provision": "alternative_provision", "school": self.ap}
        elif kind == "not_on_roll":
            for t in ts:
                plan[t.index] = {"provision": "not_on_roll", "possible": 0, "unauthorised": 0}

    def education_near_miss(self, hh: Household, e0: date, e1: date) -> None:
        kind = self.next_in_cycle("education_near", ["absence_149", "fixed2", "pru_earlier", "zero_possible"])
        pupil, ts = self.pupil_terms(hh, e0, e1, 3)
        if pupil is None:
            return
        plan = pupil.plan
        pupil.absence = min(pupil.absence, 0.03)
        if kind == "absence_149":
            # 58 of 390 possible sessions: 14.87%, just under the line.
            for t, un in zip(ts, (20, 19, 19)):
                plan[t.index] = {"possible": 130, "unauthorised": un}
        elif kind == "fixed2":
            plan[ts[0].index] = {"fixed": 1}
            plan[ts[1].index] = {"fixed": 1}
        elif kind == "pru_earlier":
            # In a PRU one term only: counts while it is the latest of the three terms, then not.
            plan[ts[0].index] = {"provision": "pru", "school": self.pru}
        elif kind == "zero_possible":
            for t in ts[:3]:
                plan[t.index] = {"possible": 0, "unauthorised": 0}

    def work_problem(self, hh: Household, e0: date, e1: date, attached: date | None) -> None:
        rng = self.rng
        kind = self.next_in_cycle("work", ["oow", "ends_day_before_R", "oow", "starts_on_R"])
        adults = [p for p in hh.members_at(e0) if not p.is_child(e0)] or [
            p for p in hh.adults if p.arrival <= e0]
        if not adults:
            return
        who = rng.choice(adults)
        code = rng.choice(OUT_OF_WORK)
        start = e0 - timedelta(days=rng.randint(0, 900))
        end = e1 + timedelta(days=rng.randint(0, 60))
        if kind == "ends_day_before_R":
            end = reference_date(f"{e1.year:04d}-{e1.month:02d}") - DAY
        elif kind == "starts_on_R":
            start = reference_date(f"{e0.year:04d}-{e0.month:02d}")
        self.spell(who, "benefits", code, start, self.maybe_end(end), "other")
        if len(adults) > 1 and rng.random() < 0.3:
            other = next(p for p in adults if p is not who)
            self.spell(other, "benefits", rng.choice(OUT_OF_WORK), start + timedelta(days=rng.randint(0, 200)),
                       self.maybe_end(end), "other")

    def work_near_miss(self, hh: Household, e0: date, e1: date) -> None:
        rng = self.rng
        kind = self.next_in_cycle("work_near", ["non_oow", "child_claimant", "non_oow"])
        if kind == "child_claimant":
            # A 16 or 17 year old claiming: out of work, but not an adult until the 18th birthday.
            young = [c for c in hh.members_at(e0) if c.is_child(e0) and e0 >= add_years(c.dob, 16)]
            if young:
                c = rng.choice(young)
                self.spell(c, "benefits", rng.choice(["is", "esa"]), e0,
                           self.maybe_end(e0 + timedelta(days=rng.randint(200, 700))), "other")
                return
        for p in hh.adults:
            if p.arrival <= e1:
                self.spell(p, "benefits", rng.choice(["hb", "ctc", "wtc"]), e0 - timedelta(days=rng.randint(0, 400)),
                           self.maybe_end(e1 + timedelta(days=rng.randint(0, 300))), "other")

    def capped(self, hh: Household, e0: date, e1: date) -> None:
        adults = [p for p in hh.adults if p.arrival <= e1]
        if adults:
            self.spell(adults[0], "benefits", "hb", e0 - timedelta(days=self.rng.randint(0, 300)),
                       self.maybe_end(e1), "other", cap=True)

    # ---- after a case is attached -------------------------------------------------------
    def attach(self, hh: Household, attached: date) -> None:
        """A case from A, then outcomes to measure: ASB down by varied amounts (a 60% cut
        exactly, now and then), adults leaving benefit for jobs of varied length."""
        rng = self.rng
        members = hh.members_at(attached)
        if self._troubled and rng.random() < 0.08:
            # A case that also names a child of another troubled family (a cousin staying over,
            # say): its members span two families, perhaps two in the cohort.
            other = self._troubled[rng.randrange(len(self._troubled))]
            if other.children and other.children[-1].is_child(attached):
                members = members + [other.children[-1]]
        closed = attached + timedelta(days=rng.randint(150, 560)) if rng.random() < 0.6 else None
        self.case(members, attached, self.maybe_end(closed) if closed else None)
        # ASB baseline in the six months up to A, then a reduction of varied depth.
        pool = self.older_members(hh, attached)
        if pool and rng.random() < 0.7:
            base = rng.randint(1, 6) if rng.random() < 0.7 else 5
            share = rng.choice([0.0, 0.2, 0.4, 0.4, 0.6, 1.0])
            self.incidents(hh, add_months(attached, -6) + DAY, attached, base)
            block = attached
            while block < min(self.r_last, add_months(attached, 24)):
                nxt = add_months(block, 6)
                self.incidents(hh, block + DAY, nxt, round(base * share))
                block = nxt
        self.leave_for_work(hh, attached)

    def leave_for_work(self, hh: Household, attached: date) -> None:
        rng = self.rng
        for p in hh.members_at(attached):
            if p.is_child(attached):
                continue
            covering = [s for s in self._claims.get(p.id, []) if s.kind in OUT_OF_WORK
                        and s.start <= attached and (s.end is None or s.end >= attached)]
            if covering and rng.random() < 0.6:
                s = covering[0]
                left = attached + timedelta(days=rng.randint(20, 240))
                if left >= self.r_last:
                    continue
                s.end, s.end_reason = left, "employment"
                length = rng.choice([60, 90, 91, 92, 120, 181, 182, 183, 300, None])
                job_start = left + DAY
                job_end = self.maybe_end(job_start + timedelta(days=length)) if length else None
                self.spell(p, "employment", "employment", job_start, job_end)
                if rng.random() < 0.15:  # a new claim breaks the job's run
                    back = job_start + timedelta(days=rng.randint(20, 150))
                    self.spell(p, "benefits", rng.choice(LONG_SEARCH), back,
                               self.maybe_end(back + timedelta(days=rng.randint(30, 200))), "other")
            if rng.random() < 0.25:
                start = attached + timedelta(days=rng.randint(-60, 300))
                self.spell(p, "employment", rng.choice(["work_programme", "esf_families"]), start,
                           self.maybe_end(start + timedelta(days=rng.randint(90, 365))))

    # ---- school -------------------------------------------------------------------------
    def school_records(self, p: Person) -> None:
        """One row per term of school age (two when the pupil changed school in the term).
        Hundreds of thousands of rows at scale: random() rather than the slower helpers."""
        rng = self.rng
        random = rng.random
        dob_ay = p.dob.year if p.dob.month >= 9 else p.dob.year - 1
        if not self.terms or dob_ay + 4 > self._term_years[-1] or dob_ay + 15 < self._term_years[0]:
            return  # never of school age while the world runs
        settled = len(p.homes) == 1
        schools: dict[int, str] = {}
        for t, start_year in zip(self.terms, self._term_years):
            yg = start_year - dob_ay - 4  # reception is 0, year 11 is 11
            if not 0 <= yg <= 11 or t.end <= self.h0 or t.end < p.arrival:
                continue
            plan = p.plan.get(t.index, _NO_PLAN)
            possible = plan.get("possible", BASE_SESSIONS.get(t.name, 130) + 2 * int(random() * 5) - 6)
            if "possible" not in plan and p.arrival > t.start:
                possible = possible * (t.end - p.arrival).days // max(1, (t.end - t.start).days)
            if "unauthorised" in plan:
                unauth = plan["unauthorised"]
            else:
                rate = plan.get("absence", p.absence)
                unauth = min(possible, round(possible * rate * (0.6 + 0.8 * random())))
            auth = min(possible - unauth, round(possible * (0.01 + 0.06 * random())))
            fixed = plan.get("fixed", 0 if random() < 0.995 else 1)
            permanent = plan.get("permanent", False)
            provision = plan.get("provision", "mainstream")
            if settled:  # the same school all through each phase
                usual = schools.get(yg <= 6) or schools.setdefault(yg <= 6, self.school_for(p, t.end, yg))
                school, first_school = plan.get("school") or usual, usual
            else:
                school = plan.get("school") or self.school_for(p, t.end, yg)
                first_school = self.school_for(p, t.start, yg)
            if "split" in plan:
                other, f1, f2 = plan["split"]
                self.split_term(p, t, school, other, possible, unauth, auth, (f1, f2), permanent, provision)
            elif first_school != school and "school" not in plan:
                # Moved house in the term and changed school: a row from each school.
                self.split_term(p, t, first_school, school, possible, unauth, auth, (0, fixed), permanent, provision)
            else:
                self.att_row(p, t, school, possible, unauth, auth, fixed, permanent, provision)

    def split_term(self, p, t, a, b, possible, unauth, auth, fixed, permanent, provision) -> None:
        pa, ua, aa = possible // 2, unauth // 2, auth // 2
        self.att_row(p, t, a, pa, ua, aa, fixed[0], False, "mainstream")
        self.att_row(p, t, b, possible - pa, unauth - ua, auth - aa, fixed[1], permanent, provision)

    def att_row(self, p, t, school, possible, unauth, auth, fixed, permanent, provision) -> None:
        rng = self.rng
        if p.upn is None:
            p.upn = self.unique(lambda: "A" + self.ns + self.digits(12))
        # Optional columns are sometimes left empty: the contract's defaults apply.
        random = rng.random
        self.attendance.append(AttendanceRec(
            p, school, t.academic_year, t.name, t.end, possible, unauth,
            auth if random() < 0.9 else None,
            fixed if fixed or random() < 0.7 else None,
            permanent if permanent or random() < 0.5 else None,
            provision if provision != "mainstream" or random() < 0.6 else None))

    # ---- local discretion areas ---------------------------------------------------------
    def _pick_areas(self) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
        """Two districts, a few sectors and a few full postcodes elsewhere; one more sector from
        mid-span, so a household can come into the areas without moving."""
        rng = self.rng
        districts = sorted({s[2].split()[0] for s in self._streets})
        listed_districts = [d for d in (shard_district("S65", self.ns), shard_district("DN1", self.ns)) if d in districts]
        sectors = sorted({s[2] for s in self._streets if s[2].split()[0] not in listed_districts})
        units = sorted({u for s in self._streets for u in s[3] if u.split()[0] not in listed_districts})
        picked_sectors = rng.sample(sectors, min(3, len(sectors)))
        picked_units = [u for u in rng.sample(units, min(12, len(units))) if u[:-2] not in picked_sectors][:6]
        rows = [(d, rng.choice(names.WARDS)) for d in listed_districts]
        rows += [(s, rng.choice(names.WARDS)) for s in picked_sectors[:2]]
        rows += [(u, rng.choice(names.WARDS)) for u in picked_units]
        late = (picked_sectors[2], rng.choice(names.WARDS)) if len(picked_sectors) > 2 else None
        return rows, late

    def areas(self) -> list[tuple[str, list[tuple[str, str]]]]:
        out = [(self.periods[0], self._area_rows)]
        if len(self.periods) > 2 and self._late_area:
            out.append((self.periods[len(self.periods) // 2], self._area_rows + [self._late_area]))
        return out


def simulate(families: int, seed: int, start: str, end: str, lookback_months: int, rulebook,
             shard: int = 0) -> World:
    return Simulation(families, seed, start, end, lookback_months, rulebook, shard).run()


# Postcode areas of a region's authorities: shard k's districts are names.DISTRICTS with "S" and
# "DN" replaced by pair k (each pair's areas appear in no other pair).
SHARD_AREAS = [("S", "DN"), ("LS", "WF"), ("M", "OL"), ("B", "WV"), ("NG", "DE"), ("L", "WA"),
               ("HU", "YO"), ("BD", "HX"), ("CV", "LE"), ("NE", "SR")]


def shard_district(district: str, ns: str) -> str:
    if not ns:
        return district
    s_area, dn_area = SHARD_AREAS[int(ns)]
    return (dn_area + district[2:]) if district.startswith("DN") else (s_area + district[1:])


def shard_districts(shard: int) -> dict[str, str]:
    if not 0 <= shard < len(SHARD_AREAS):
        raise ValueError(f"shard must be 0..{len(SHARD_AREAS) - 1}")
    ns = "" if shard == 0 else str(shard)
    return {shard_district(d, ns): town for d, town in names.DISTRICTS.items()}
