"""Edge cases of a whole refresh: an empty store, codes in upper case."""

from __future__ import annotations

import csv

from builders import attendance, asb, benefit, person, write_delivery
from pbr.refresh import refresh


def _cohort(out_dir):
    with open(out_dir / "cohort.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_first_refresh_with_no_delivery_writes_empty_outputs(tmp_path):
    r = refresh("2026-01", None, tmp_path / "s.duckdb", tmp_path / "out")
    assert r.summary["cohort"] == 0 and r.summary["people"] == 0
    assert _cohort(r.out_dir) == []


def test_benefit_codes_are_matched_whatever_their_case(tmp_path):
    mum = person("Imelda", "Garrow", "1980-01-01")
    kid = person("Jory", "Garrow", "2012-01-01")
    write_delivery(tmp_path / "in",
                   attendance=[attendance(kid, "G1", "2025/26", "autumn", possible=100, unauthorised=20)],
                   asb=[asb(kid, "GR1", "GE1", "2025-12-01", "ASBO")],
                   benefits=[benefit(mum, "AB111111C", "JSA", "2025-01-01")])
    r = refresh("2026-01", tmp_path / "in", tmp_path / "s.duckdb", tmp_path / "out")
    rows = _cohort(r.out_dir)
    assert [(x["route"], x["crime_asb"], x["education"], x["work"]) for x in rows] == [
        ("three_criteria", "true", "true", "true")]
