"""How each source system holds a person's identity and a dwelling's address.

Clean mode: every source holds the truth. Messy mode: each source holds its own slightly wrong
version (typos, nicknames, a transposed date of birth, address and postcode formatting, missing
NINO or UPRN), the way real extracts disagree. A source's version of a person is fixed for the
whole run, as a case system keeps its record: so a natural key stays the same from one delivery
to the next, and the world itself is identical in both modes."""

from __future__ import annotations

import random
from datetime import date

from . import names
from .world import Dwelling, Person, World

UPRN_SOURCES = ("benefits", "interventions")  # the systems that hold property references


class Presenter:
    def __init__(self, world: World, messy: bool, seed: int):
        self.messy = messy
        self.rng = random.Random(f"pbr-noise-{seed}")
        self._people: dict[tuple[int, str], tuple[str, str, date, str, bool]] = {}
        self._places: dict[tuple[int, str], tuple[str, str, str]] = {}
        # Whoever holds an identity (as the deterministic link key sees it) keeps it: noise never
        # makes one person look exactly like another.
        self._owner: dict[tuple[str, str, date], int] = {
            (p.forename.upper(), p.surname.upper(), p.dob): p.id for p in world.people}

    def person(self, p: Person, source: str) -> tuple[str, str, date, str, bool]:
        """(forename, surname, dob, sex, has_nino) as the source holds them."""
        key = (p.id, source)
        got = self._people.get(key)
        if got is None:
            got = self._people[key] = self._noisy_person(p, source) if self.messy else (
                p.forename, p.surname, p.dob, p.sex, True)
        return got

    def place(self, dw: Dwelling, source: str) -> tuple[str, str, str]:
        """(address, postcode, uprn) as the source holds them; uprn may be empty."""
        key = (dw.id, source)
        got = self._places.get(key)
        if got is None:
            uprn = dw.uprn if source in UPRN_SOURCES else ""
            got = (f"{dw.line}, {dw.town}", dw.postcode, uprn)
            if self.messy:
                got = self._noisy_place(dw, uprn)
            self._places[key] = got
        return got

    # ---- messy --------------------------------------------------------------------------
    def _noisy_person(self, p: Person, source: str) -> tuple[str, str, date, str, bool]:
        r = self.rng.random
        forename, surname, dob = p.forename, p.surname, p.dob
        if r() < 0.08 and forename in names.NICKNAMES:
            forename = self.rng.choice(names.NICKNAMES[forename])
        elif r() < 0.04:
            forename = self._typo(forename)
        if r() < 0.04:
            surname = self._typo(surname)
        elif r() < 0.03 and "-" in surname:
            surname = surname.replace("-", " ")
        if r() < 0.04 and dob.day <= 12 and dob.day != dob.month:
            dob = date(dob.year, dob.day, dob.month)
        if r() < 0.05:
            forename, surname = forename.upper(), surname.upper()
        elif r() < 0.03 and source not in ("benefits", "employment"):
            # Stray spaces, but not where a name may stand in for a missing NINO in a key.
            forename = f" {forename} "
        ident = (forename.strip().upper(), surname.strip().upper(), dob)
        if self._owner.setdefault(ident, p.id) != p.id:
            forename, surname, dob = p.forename, p.surname, p.dob
        sex = p.sex if r() > 0.08 else ("" if r() < 0.7 else "U")
        has_nino = not (source in ("benefits", "employment") and r() < 0.06)
        return forename, surname, dob, sex, has_nino

    def _typo(self, s: str) -> str:
        if len(s) < 4:
            return s
        i = self.rng.randint(1, len(s) - 2)
        kind = self.rng.randint(0, 2)
        if kind == 0:
            return s[:i] + s[i + 1] + s[i] + s[i + 2:]  # swapped neighbours
        if kind == 1:
            return s[:i] + s[i + 1:]  # a letter dropped
        return s[:i] + s[i] + s[i:]  # a letter doubled

    def _noisy_place(self, dw: Dwelling, uprn: str) -> tuple[str, str, str]:
        r = self.rng.random
        street = dw.street
        if r() < 0.3:
            first, _, kind = street.rpartition(" ")
            street = f"{first} {names.ABBREVIATIONS.get(kind, kind)}"
        line = f"{dw.number} {street}"
        if dw.flat:
            line = self.rng.choice([f"Flat {dw.flat}, {line}", f"Flat {dw.flat} {line}", f"{dw.flat}/{line}",
                                    f"F{dw.flat} {line}"])
        address = f"{line}, {dw.town}" if r() > 0.15 else line
        if r() < 0.2:
            address = address.replace(",", "")
        if r() < 0.1:
            address = address.upper()
        elif r() < 0.05:
            address = address.lower()
        postcode = dw.postcode
        roll = r()
        if roll < 0.15:
            postcode = postcode.replace(" ", "")
        elif roll < 0.25:
            postcode = postcode.lower()
        elif roll < 0.3:
            postcode = postcode.replace(" ", "  ")
        if uprn and r() < 0.1:
            uprn = ""
        return address, postcode, uprn
