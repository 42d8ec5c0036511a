"""The synthetic data generator and the reference implementation of the identification rules.

The reference tests matter most: the reference is the yardstick the pipeline is measured against,
so each case below states a value worked out by hand from rules.md."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest

from pbr.calendar import reference_date, term_end
from pbr.contract import sources
from pbr.generate import check_linkable, generate
from pbr.generate.deliveries import DeliveryWriter, Schedule
from pbr.generate.linkage import read_people, source_key
from pbr.generate.noise import Presenter
from pbr.generate.reference import (Asb, Attendance, Intervention, Reference, Row, Spell, _At, postcode_parts,
                                    reference_cohort)
from pbr.generate.truth import read_cohort
from pbr.generate.world import simulate
from pbr.rulebook import load_rulebook

IDENTITY_SOURCES = ("attendance", "asb", "benefits", "employment", "interventions")

# ---------------------------------------------------------------------------------------------
# Hand-made rows for the reference
# ---------------------------------------------------------------------------------------------

POSTCODES = {"D1": "S60 1AA", "D2": "S65 2BB", "D3": "S61 4CD", "D4": "DN4 0EF"}
DOBS = {
    "P01": date(1985, 5, 5),  # adult
    "P02": date(2012, 6, 1),  # child, 13 at 2026-03-31
    "P03": date(2007, 10, 15),  # 18 on 2025-10-15
    "P04": date(1950, 1, 1),  # adult
    "P05": date(2015, 1, 1),  # child
    "P06": date(2014, 1, 1),  # child
    "P07": date(2008, 2, 15),  # 18 on 2026-02-15
    "P08": date(1988, 8, 8),  # adult
    "P09": date(2016, 9, 9),  # child
    "P10": date(1990, 1, 1),  # adult
    "P11": date(2013, 3, 3),  # child
}


def d(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def att(p, dw, ay, term, possible=100, unauth=0, fixed=None, permanent=None, provision=None, school="100001"):
    data = Attendance(f"U{p}", school, ay, term, possible, unauth, fixed, permanent, provision)
    return Row("attendance", p, dw, data)


def asb(p, dw, eid, when, etype="asb_incident"):
    return Row("asb", p, dw, Asb(f"R{p}", eid, d(when), etype))


def ben(p, dw, kind, start, end=None, cap=None, nino="default"):
    return Row("benefits", p, dw, Spell(kind, d(start), d(end), cap, f"NI{p}" if nino == "default" else nino))


def case(p, dw, ref, attached, closed=None):
    return Row("interventions", p, dw, Intervention(ref, f"C{p}", d(attached), d(closed)))


# At R = 2026-03-31 the last 3 terms are summer 2024/25, autumn 2025/26 and spring 2025/26 (the
# latest), and the 12 months up to R are (2025-03-31, 2026-03-31].
PERIOD = "2026-03"
TERMS = [("2024/25", "summer"), ("2025/26", "autumn"), ("2025/26", "spring")]


def base_family(dw="D1"):
    """An adult on housing benefit (not out of work) and a pupil with clean attendance."""
    return [ben("P01", dw, "hb", "2024-01-01")] + [att("P02", dw, ay, t) for ay, t in TERMS]


def flags(extra, areas=(), filters=None, dw="D1", members=("P01", "P02"), base=True):
    ref = Reference(DOBS, POSTCODES, filters=filters)
    ref.deliver(PERIOD, (base_family(dw) if base else []) + extra, areas)
    ref.refresh(PERIOD)
    return ref.assess_family(members, dw, PERIOD)


@pytest.mark.parametrize("extra, expected", [
    ([], False),
    ([asb("P02", "D1", "E1", "2025-10-01", "proven_offence")], True),  # offence by a child
    ([asb("P01", "D1", "E1", "2025-10-01", "proven_offence")], False),  # by an adult
    ([asb("P01", "D1", "E1", "2025-10-01", "asbo")], True),
    ([asb("P01", "D1", "E1", "2025-10-01", "asb_injunction")], True),
    ([asb("P02", "D1", "E1", "2025-10-01", "abc")], True),
    ([asb("P01", "D1", "E1", "2025-10-01", "housing_asb_action")], True),
    ([asb("P02", "D1", "E1", "2025-10-01", "asb_incident")], False),  # incidents never qualify
    ([asb("P02", "D1", "E1", "2025-03-31", "asbo")], False),  # R - 12 months: outside (start, R]
    ([asb("P02", "D1", "E1", "2025-04-01", "asbo")], True),
    ([asb("P02", "D1", "E1", "2026-03-31", "proven_offence")], True),  # on R
    ([asb("P03", "D1", "E1", "2025-10-14", "proven_offence")], True),  # the day before 18
    ([asb("P03", "D1", "E1", "2025-10-15", "proven_offence")], False),  # on the 18th birthday
])
def test_crime_asb(extra, expected):
    assert flags(extra, members=("P01", "P02", "P03"))["crime_asb"] is expected


def pupil(rows_by_term):
    """P02's attendance: a dict (academic_year, term) -> list of attendance kwargs."""
    out = []
    for (ay, t), rows in rows_by_term.items():
        for kw in rows:
            out.append(att("P02", "D1", ay, t, **kw))
    return out


CLEAN = {k: [{}] for k in TERMS}


@pytest.mark.parametrize("terms, expected", [
    (CLEAN, False),
    ({**CLEAN, TERMS[1]: [{"permanent": True}]}, True),
    # 3 fixed-term exclusions in total, at two schools in different terms
    ({**CLEAN, TERMS[0]: [{"fixed": 1}], TERMS[2]: [{"fixed": 2, "school": "100002"}]}, True),
    ({**CLEAN, TERMS[0]: [{"fixed": 1}], TERMS[2]: [{"fixed": 1}]}, False),
    # several schools in one term add up
    ({**CLEAN, TERMS[1]: [{"fixed": 1, "possible": 50}, {"fixed": 2, "possible": 50, "school": "100002"}]}, True),
    # exclusions in a term before the last three do not count
    ({**CLEAN, ("2023/24", "summer"): [{"fixed": 3}]}, False),
    # unauthorised absence: 60 of 400 possible is exactly 15%
    ({TERMS[0]: [{"possible": 140, "unauth": 21}], TERMS[1]: [{"possible": 130, "unauth": 20}],
      TERMS[2]: [{"possible": 130, "unauth": 19}]}, True),
    # 58 of 390 is 14.87%
    ({TERMS[0]: [{"possible": 130, "unauth": 20}], TERMS[1]: [{"possible": 130, "unauth": 19}],
      TERMS[2]: [{"possible": 130, "unauth": 19}]}, False),
    # no possible sessions at all: not assessed on absence
    ({k: [{"possible": 0}] for k in TERMS}, False),
    # possible sessions in one term only: 20 of 100
    ({TERMS[0]: [{"possible": 0}], TERMS[1]: [{"possible": 0}], TERMS[2]: [{"possible": 100, "unauth": 20}]}, True),
    # high absence before the last three terms does not count
    ({**CLEAN, ("2023/24", "summer"): [{"possible": 100, "unauth": 90}]}, False),
    ({**CLEAN, TERMS[2]: [{"provision": "pru"}]}, True),  # in a PRU in the latest term
    ({**CLEAN, TERMS[1]: [{"provision": "pru"}]}, False),  # in an earlier term
    ({**CLEAN, TERMS[2]: [{"provision": "alternative_provision"}]}, True),
    ({**CLEAN, TERMS[2]: [{"provision": "not_on_roll", "possible": 0}]}, True),
    ({**CLEAN, TERMS[2]: [{"provision": "mainstream"}]}, False),
])
def test_education(terms, expected):
    rows = [ben("P01", "D1", "hb", "2024-01-01")] + pupil(terms)
    assert flags(rows, base=False)["education"] is expected


@pytest.mark.parametrize("extra, expected", [
    ([], False),  # housing benefit is not an out-of-work benefit
    ([ben("P01", "D1", "jsa", "2025-01-01")], True),  # open spell
    ([ben("P01", "D1", "jsa", "2025-01-01", "2026-03-30")], False),  # ended the day before R
    ([ben("P01", "D1", "esa", "2025-01-01", "2026-03-31")], True),  # ends on R
    ([ben("P01", "D1", "uc_searching", "2026-03-31")], True),  # starts on R
    ([ben("P01", "D1", "ctc", "2025-01-01")], False),
    ([ben("P02", "D1", "esa", "2025-01-01")], False),  # a child claiming is not an adult
    ([ben("P03", "D1", "is", "2025-01-01")], True),  # 18 by R
])
def test_work(extra, expected):
    assert flags(extra, members=("P01", "P02", "P03"))["work"] is expected


@pytest.mark.parametrize("dw, areas, extra, filters, expected", [
    ("D1", [], [], None, False),
    ("D2", ["S65"], [], None, True),  # district
    ("D1", ["S60 1"], [], None, True),  # sector
    ("D1", ["S60 2", "S6"], [], None, False),
    ("D1", ["S60 1AA"], [], None, True),  # full postcode
    ("D1", ["s60  1aa "], [], None, True),  # upper case, one space
    ("D1", ["S60 1AB"], [], None, False),
    ("D1", [], [ben("P01", "D1", "hb", "2025-06-01", cap=True)], None, True),  # benefit cap covering R
    ("D1", [], [ben("P01", "D1", "hb", "2025-06-01", "2026-03-30", cap=True)], None, False),
    ("D1", [], [ben("P01", "D1", "hb", "2025-06-01", cap=False)], None, False),
    ("D2", ["S65"], [], {"areas": False}, False),  # the areas filter off
    ("D1", [], [ben("P01", "D1", "hb", "2025-06-01", cap=True)], {"benefit_cap": False}, False),
])
def test_local_discretion(dw, areas, extra, filters, expected):
    assert flags(extra, areas=areas, filters=filters, dw=dw)["local_discretion"] is expected


def test_postcode_parts():
    assert postcode_parts("s65 1ab") == ("S65", "S65 1", "S65 1AB")
    assert postcode_parts("DN121AB") == ("DN12", "DN12 1", "DN12 1AB")


def crime(dw="D1", p="P02", eid="E1"):
    return asb(p, dw, eid, "2025-10-01", "proven_offence")


def absence(dw="D1", p="P02"):
    return [att(p, dw, ay, t, 100, 30) for ay, t in TERMS]


def work(dw="D1", p="P01"):
    return ben(p, dw, "jsa", "2025-01-01")


def run(deliveries, periods, filters=None):
    return reference_cohort(deliveries, periods, DOBS, POSTCODES, filters=filters)


def test_routes():
    three = run([(PERIOD, [crime(), work()] + absence(), [])], [PERIOD])
    assert three == [{"period": PERIOD, "family_ref": "F000001", "identified_period": PERIOD,
                      "route": "three_criteria", "crime_asb": True, "education": True, "work": True,
                      "local_discretion": False, "still_meets_criteria": True, "members": ["P01", "P02"]}]
    two_local = run([(PERIOD, [crime("D2"), work("D2"), att("P02", "D2", *TERMS[2])], ["S65"])], [PERIOD])
    assert [(r["route"], r["crime_asb"], r["education"], r["work"], r["local_discretion"]) for r in two_local] == [
        ("two_plus_local", True, False, True, True)]
    # Exactly two criteria but no local discretion: not in the cohort.
    assert run([(PERIOD, [crime(), work(), att("P02", "D1", *TERMS[2])], ["S65"])], [PERIOD]) == []
    # Two criteria and a benefit cap.
    capped = run([(PERIOD, [crime(), work(), ben("P01", "D1", "hb", "2025-01-01", cap=True)], [])], [PERIOD])
    assert capped[0]["route"] == "two_plus_local"
    # One criterion and local discretion is not enough.
    assert run([(PERIOD, [crime("D2"), att("P02", "D2", *TERMS[2])], ["S65"])], [PERIOD]) == []
    # A household of adults only is no family, whatever it does.
    assert run([(PERIOD, [work(), asb("P01", "D1", "E1", "2025-10-01", "asbo"),
                          ben("P08", "D1", "jsa", "2025-01-01")], ["S60"])], [PERIOD]) == []


def test_mover_enters_when_the_new_address_is_listed():
    # January: crime and work at D1, not listed. February: the family has moved to D2 (S65,
    # listed): the delivery repeats their rows with the new address.
    jan = [crime("D1"), ben("P01", "D1", "jsa", "2025-01-01"), att("P02", "D1", "2025/26", "autumn")]
    feb = [crime("D2"), ben("P01", "D2", "jsa", "2025-01-01"), att("P02", "D2", "2025/26", "autumn")]
    # The grandmother's only record is in the January delivery: she stays at D1, in no family.
    jan.append(case("P04", "D1", "TF1", "2025-06-01", "2025-07-01"))
    out = run([("2026-01", jan, ["S65"]), ("2026-02", feb, ["S65"])], ["2026-01", "2026-02"])
    assert out == [{"period": "2026-02", "family_ref": "F000001", "identified_period": "2026-02",
                    "route": "two_plus_local", "crime_asb": True, "education": False, "work": True,
                    "local_discretion": True, "still_meets_criteria": True, "members": ["P01", "P02"]}]


def test_household_tie_breaks():
    ref = Reference(DOBS, POSTCODES)
    # Same date: an interventions row beats an asb row, whatever the order.
    ref.deliver("2026-01", [asb("P01", "D3", "E1", "2026-01-10"), case("P01", "D1", "TF1", "2026-01-10")])
    # Same source and date: the later delivery wins over the earlier one ...
    ref.deliver("2026-01", [asb("P08", "D1", "E2", "2026-01-05")])
    ref.deliver("2026-02", [asb("P08", "D2", "E3", "2026-01-05")])
    # ... and within one file the later line.
    ref.deliver("2026-02", [asb("P10", "D1", "E4", "2026-01-07"), asb("P10", "D3", "E5", "2026-01-07")])
    # A benefit spell dates from its start until its end date is on or before R.
    ref.deliver("2026-02", [ben("P04", "D4", "jsa", "2020-01-01", "2026-02-01"), asb("P04", "D1", "E6", "2026-01-20")])
    ref.refresh("2026-02")
    where = {p: dw for dw, ps in ref.households.items() for p in ps}
    assert where == {"P01": "D1", "P08": "D2", "P10": "D3", "P04": "D4"}
    assert ref.households_rescanned("2026-02") == ref.households


def test_an_end_date_after_the_deliverys_r_counts_once_r_reaches_it():
    # A spell delivered in February with an end date in March (not how deliveries are cut, but
    # the rule says: the record date is the end date when it is on or before R, else the start).
    ref = Reference(DOBS, POSTCODES)
    ref.deliver("2026-02", [asb("P01", "D1", "E1", "2026-02-10"), ben("P01", "D2", "hb", "2025-01-01", "2026-03-15")])
    ref.refresh("2026-02")
    assert ref.households == {"D1": ["P01"]}
    ref.refresh("2026-03")
    assert ref.households == {"D2": ["P01"]} == ref.households_rescanned("2026-03")
    ref.refresh("2026-04")
    assert ref.households == {"D2": ["P01"]}


def test_records_after_r_count_from_their_own_date():
    fam = [crime(), work()] + absence()
    # P05's first records arrive in the April delivery.
    late = [att("P05", "D1", "2025/26", "spring"), asb("P05", "D1", "E9", "2026-04-10")]
    # P06's row sits in the March delivery but is dated after R: P06 joins the household only
    # once R reaches its date.
    early = [asb("P06", "D1", "E8", "2026-04-02")]
    out = run([(PERIOD, fam + early, []), ("2026-04", fam + late, [])], [PERIOD, "2026-04"])
    assert [(r["period"], r["members"]) for r in out] == [
        (PERIOD, ["P01", "P02"]), ("2026-04", ["P01", "P02", "P05", "P06"])]


def test_child_turning_18_ends_the_family():
    rows = [asb("P07", "D1", "E1", "2025-12-01", "proven_offence"), work("D1")] + absence("D1", "P07")
    out = run([("2026-01", rows, []), ("2026-02", rows, [])], ["2026-01", "2026-02"])
    assert [(r["period"], r["route"], r["still_meets_criteria"], r["members"]) for r in out] == [
        ("2026-01", "three_criteria", True, ["P01", "P07"]),
        # 18 on 2026-02-15: no child left, so no family; the cohort keeps it, flagged.
        ("2026-02", "three_criteria", False, ["P01", "P07"]),
    ]


def test_family_id_continuity_when_an_adult_leaves():
    jan = [crime(), work()] + absence() + [ben("P08", "D1", "hb", "2024-01-01")]
    feb = [crime(), work()] + absence() + [ben("P08", "D3", "hb", "2024-01-01")]  # P08 lives alone now
    ref = Reference(DOBS, POSTCODES)
    ref.deliver("2026-01", jan, [])
    first = ref.refresh("2026-01")
    ref.deliver("2026-02", feb, [])
    second = ref.refresh("2026-02")
    assert [(r["family_ref"], r["members"]) for r in first] == [("F000001", ["P01", "P02", "P08"])]
    assert [(r["family_ref"], r["members"], r["still_meets_criteria"]) for r in second] == [
        ("F000001", ["P01", "P02"], True)]
    assert ref.families == {1: frozenset({"P01", "P02"})}


def test_family_ids_on_a_split_and_for_new_families():
    def hh(dw, *people):
        return [ben(p, dw, "hb", "2024-01-01") for p in people]

    ref = Reference(DOBS, POSTCODES)
    # January: two new families; ids go in order of smallest member id, not of input order.
    ref.deliver("2026-01", hh("D2", "P08", "P09") + hh("D1", "P01", "P02", "P05", "P10"))
    ref.refresh("2026-01")
    assert ref.families == {1: frozenset({"P01", "P02", "P05", "P10"}), 2: frozenset({"P08", "P09"})}
    # February: family 1 splits in two halves overlapping it equally; the half with the smaller
    # member id keeps id 1. P09 joins P11 at D4; family 2 (P08 alone) is no family now.
    ref.deliver("2026-02", hh("D1", "P10", "P05") + hh("D3", "P01", "P02") + hh("D4", "P09", "P11") + hh("D2", "P08"))
    ref.refresh("2026-02")
    assert ref.families == {1: frozenset({"P01", "P02"}), 2: frozenset({"P09", "P11"}),
                            3: frozenset({"P05", "P10"})}
    # March: P09 and P11 move in with P05 and P10. The merged family overlaps ids 2 and 3 by two
    # members each: the older id, 2, wins, and id 3 is left with no family.
    ref.deliver("2026-03", hh("D1", "P10", "P05", "P09", "P11") + hh("D3", "P01", "P02"))
    ref.refresh("2026-03")
    assert ref.families == {1: frozenset({"P01", "P02"}), 2: frozenset({"P05", "P09", "P10", "P11"})}


def test_refreshes_only_see_deliveries_up_to_their_period():
    ref = Reference(DOBS, POSTCODES)
    ref.deliver("2026-02", [crime(), work()] + absence())
    assert ref.refresh("2026-01") == []
    assert [r["identified_period"] for r in ref.refresh("2026-02")] == ["2026-02"]
    with pytest.raises(ValueError):
        ref.refresh("2026-02")


def test_a_family_that_stops_qualifying_stays_in_the_cohort_with_its_baseline():
    jan = [asb("P02", "D1", "E1", "2025-02-15", "asbo"), work()] + absence()
    out = run([("2026-01", jan, []), ("2026-02", jan, [])], ["2026-01", "2026-02"])
    # The asbo is in (2025-01-31, 2026-01-31] but not in (2025-02-28, 2026-02-28]: crime is no
    # longer met in February, and two criteria without local discretion do not qualify.
    assert [(r["period"], r["identified_period"], r["crime_asb"], r["still_meets_criteria"]) for r in out] == [
        ("2026-01", "2026-01", True, True), ("2026-02", "2026-01", True, False)]


def test_spell_superseded_by_a_later_delivery():
    # January delivers an open jsa spell; February fills in its end date (2026-01-31 itself, so
    # it still covers January's R but not February's).
    jan = [crime(), ben("P01", "D1", "jsa", "2025-01-01")] + absence()
    feb = [crime(), ben("P01", "D1", "jsa", "2025-01-01", "2026-01-31")] + absence()
    out = run([("2026-01", jan, []), ("2026-02", feb, [])], ["2026-01", "2026-02"])
    assert [(r["period"], r["work"], r["still_meets_criteria"]) for r in out] == [
        ("2026-01", True, True), ("2026-02", True, False)]


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------

START, END = "2013-04", "2014-03"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(60, 7, START, END, out)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("messy")
    return out, generate(60, 7, START, END, out, messy=True)


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def deliveries(out: Path) -> list[Path]:
    return sorted(p for p in (out / "deliveries").iterdir() if p.is_dir())


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(clean, tmp_path):
    out, _ = clean
    generate(60, 7, START, END, tmp_path)
    assert digest(tmp_path) == digest(out)
    other = tmp_path / "other"
    generate(60, 8, START, END, other)
    assert digest(other) != digest(out)


def test_layout_and_contract_columns(clean):
    out, summary = clean
    folders = deliveries(out)
    assert [f.name for f in folders] == [f"2013-{m:02d}" for m in range(4, 13)] + ["2014-01", "2014-02", "2014-03"]
    for f in folders:
        for s in (*IDENTITY_SOURCES, "areas"):
            with open(f / f"{s}.csv", encoding="utf-8") as fh:
                assert fh.readline().rstrip("\n").split(",") == sources()[s].column_names
    assert {"people.csv", "cohort.csv", "manifest.json"} <= {p.name for p in (out / "truth").iterdir()}
    assert summary["people"] == len({r["true_person_id"] for r in read(out / "truth" / "people.csv")})
    assert all(summary["rows"][s] > 0 for s in IDENTITY_SOURCES)


RB = load_rulebook()


def record_dates(source: str, row: dict[str, str], rb=RB) -> list[date]:
    if source == "attendance":
        return [term_end(row["academic_year"], row["term"], rb.term_ends, rb.academic_year_start)]
    if source == "asb":
        return [d(row["event_date"])]
    if source in ("benefits", "employment"):
        return [d(row["start_date"])] + ([d(row["end_date"])] if row["end_date"] else [])
    return [d(row["attached_date"])] + ([d(row["closed_date"])] if row["closed_date"] else [])


def test_deliveries_hold_only_records_dated_up_to_r(clean):
    out, _ = clean
    for f in deliveries(out):
        R = reference_date(f.name)
        for s in IDENTITY_SOURCES:
            for row in read(f / f"{s}.csv"):
                assert all(x <= R for x in record_dates(s, row)), (f.name, s)
                assert d(row["dob"]) <= R


NATURAL = {
    "attendance": ("upn", "academic_year", "term", "school_urn"),
    "asb": ("event_id", "person_ref"),
    "benefits": ("nino", "forename", "surname", "dob", "benefit", "start_date"),
    "employment": ("nino", "forename", "surname", "dob", "record_type", "start_date"),
    "interventions": ("case_ref", "person_ref"),
}


def test_overlapping_windows_and_superseded_spells(clean):
    out, _ = clean
    seen: dict[tuple, list[tuple[str, dict]]] = {}
    for f in deliveries(out):
        for s in IDENTITY_SOURCES:
            for row in read(f / f"{s}.csv"):
                seen.setdefault((s,) + tuple(row[c] for c in NATURAL[s]), []).append((f.name, row))
    repeated = [k for k, v in seen.items() if len(v) > 1]
    assert len(repeated) > len(seen) / 2  # most rows come again in later deliveries
    filled = [k for k, v in seen.items() if k[0] in ("benefits", "employment")
              and not v[0][1]["end_date"] and any(r["end_date"] for _, r in v[1:])]
    assert filled, "no spell has its end date filled in by a later delivery"
    # A 24-month lookback: the first delivery (R = 2013-04-30) already holds the summer term of
    # 2011, the first to end after 2011-04-30.
    first = read(deliveries(out)[0] / "attendance.csv")
    assert min((r["academic_year"], r["term"]) for r in first if r["term"] == "summer") == ("2010/11", "summer")


def test_clean_data_is_linkable(clean):
    out, _ = clean
    got = check_linkable(out)
    assert got["components"] == got["people"] > 100


def delivered_keys(out: Path) -> set[tuple[str, str]]:
    return {(s, source_key(s, row)) for f in deliveries(out) for s in IDENTITY_SOURCES for row in read(f / f"{s}.csv")}


def test_messy_identities_differ_but_map(clean, messy):
    c_out, m_out = clean[0], messy[0]
    people = read_people(m_out)
    assert delivered_keys(m_out) == set(people)  # every delivered key maps to one true person
    assert len(read(m_out / "truth" / "people.csv")) == len(people)
    # Same world: the same rows, with some identities and addresses written differently.
    changed = 0
    for fc, fm in zip(deliveries(c_out), deliveries(m_out)):
        for s in IDENTITY_SOURCES:
            rc, rm = read(fc / f"{s}.csv"), read(fm / f"{s}.csv")
            assert len(rc) == len(rm)
            changed += sum(a != b for a, b in zip(rc, rm))
    assert changed > 0
    with pytest.raises(AssertionError):
        check_linkable(m_out)
    # The truth does not change meaning: the same cohort.
    assert read_cohort(m_out) == read_cohort(c_out)


def test_cohort_truth_is_exercised(tmp_path):
    summary = generate(400, 3, START, END, tmp_path)
    last = summary["cohort"][END]
    assert 0.05 * summary["families"][END] < last
    assert set(summary["routes"]) == {"three_criteria", "two_plus_local"}
    rows = read_cohort(tmp_path)
    assert any(r["still_meets_criteria"] == "false" for r in rows)
    assert len({r["identified_period"] for r in rows}) > 3


def test_truth_equals_the_reference_applied_to_the_files(clean):
    """The reference inside the generator is fed rows in memory; read the CSV files back instead
    (clean mode: an address line and postcode name one dwelling) and get the same cohort."""
    out, _ = clean
    people = read_people(out)
    dobs: dict[str, date] = {}
    postcodes: dict[tuple[str, str], str] = {}
    delivered = []
    for f in deliveries(out):
        rows = []
        for s in ("interventions", "benefits", "employment", "attendance", "asb"):
            for r in read(f / f"{s}.csv"):
                pid = people[(s, source_key(s, r))]
                dobs[pid] = d(r["dob"])
                dw = (r["address"], r["postcode"])
                postcodes[dw] = r["postcode"]
                rows.append(Row(s, pid, dw, parse(s, r)))
        delivered.append((f.name, rows, [a["area"] for a in read(f / "areas.csv")]))
    got = reference_cohort(delivered, [f.name for f in deliveries(out)], dobs, postcodes)
    flat = [{**r, **{k: str(r[k]).lower() for k in ("crime_asb", "education", "work", "local_discretion",
                                                    "still_meets_criteria")}, "members": ";".join(r["members"])}
            for r in got]
    assert flat == read_cohort(out)


def parse(s: str, r: dict[str, str]):
    yes = {"Y": True, "N": False, "": None}
    if s == "attendance":
        fixed = int(r["fixed_exclusions"]) if r["fixed_exclusions"] else None
        return Attendance(r["upn"], r["school_urn"], r["academic_year"], r["term"], int(r["sessions_possible"]),
                          int(r["sessions_unauthorised"]), fixed, yes[r["permanent_exclusion"]], r["provision"] or None)
    if s == "asb":
        return Asb(r["person_ref"], r["event_id"], d(r["event_date"]), r["event_type"])
    if s in ("benefits", "employment"):
        return Spell(r.get("benefit") or r["record_type"], d(r["start_date"]), d(r["end_date"]),
                     yes[r.get("benefit_cap", "")], r["nino"] or None, r["forename"], r["surname"], d(r["dob"]))
    return Intervention(r["case_ref"], r["person_ref"], d(r["attached_date"]), d(r["closed_date"]))


def test_fast_paths_match_a_rescan(tmp_path):
    rb = load_rulebook()
    periods = [f"2013-{m:02d}" for m in range(4, 13)]
    world = simulate(80, 5, periods[0], periods[-1], 24, rb)
    writer = DeliveryWriter(world, Schedule(periods, 24), Presenter(world, False, 5), tmp_path)
    ref = Reference(writer.dobs, {dw.id: dw.postcode for dw in world.dwellings}, rb)
    for i, p in enumerate(periods):
        rows, areas = writer.write(i)
        ref.deliver(p, rows, areas)
        ref.refresh(p)
        assert ref.households_rescanned(p) == ref.households
        # the education shortcut gives the plain answer too
        at = _At(ref, reference_date(p))
        for person in ref._people.values():
            assert ref.education(person, at) == ref._education(person, at)
    writer.close()


def test_rows_handed_to_the_reference_are_the_rows_written(tmp_path):
    """Row by row, what the reference is given matches the delivered files: the person, the
    dwelling (its address as written) and every typed value."""
    rb = load_rulebook()
    periods = [f"2013-{m:02d}" for m in range(4, 13)] + [f"2014-{m:02d}" for m in range(1, 13)]
    world = simulate(60, 11, periods[0], periods[-1], 24, rb)
    writer = DeliveryWriter(world, Schedule(periods, 24), Presenter(world, False, 11), tmp_path)
    address = {dw.id: (f"{dw.line}, {dw.town}", dw.postcode) for dw in world.dwellings}
    moved = 0
    for i, p in enumerate(periods):
        given, _ = writer.write(i)
        writer.flush()
        keys = {(tid, s): k for tid, s, k in writer.people_keys}
        for s in IDENTITY_SOURCES:
            written = read(tmp_path / p / f"{s}.csv")
            assert len(written) == len(given[s])
            for w, g in zip(written, given[s]):
                assert keys[(g.person, s)] == source_key(s, w)
                assert (w["address"], w["postcode"]) == address[g.dwelling]
                assert parse(s, w) == g.data
        moved += len(writer.movers[i])
    writer.close()
    assert moved > 0  # some people moved house while their rows were being delivered
