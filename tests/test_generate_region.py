"""generate_region: a region's deliveries as several authorities (generator shards) put together."""

from __future__ import annotations

import csv
import json
import re

import pytest

from pbr.generate import generate
from pbr.generate.region import generate_region

ID_COLUMNS = {"attendance": ["upn"], "asb": ["person_ref", "event_id"], "interventions": ["case_ref", "person_ref"]}
POSTCODE_AREA = re.compile(r"^\s*([A-Za-z]+)")


def rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("region")
    summary = generate_region(authorities=3, families=40, seed=11, start="2015-01", end="2015-02",
                              out=root / "region", workers=2)
    shards = [generate(families=40, seed=11 + k, start="2015-01", end="2015-02", out=root / f"a{k}",
                       messy=True, truth=False, shard=k) for k in range(3)]
    return root, summary, shards


def test_region_files_are_the_authorities_files_in_order_under_one_header(region):
    root, summary, shards = region
    deliveries = root / "region" / "deliveries"
    files = sorted(p.relative_to(deliveries) for p in deliveries.rglob("*.csv"))
    assert files == sorted(p.relative_to(root / "a0" / "deliveries") for p in (root / "a0" / "deliveries").rglob("*.csv"))
    for rel in files:
        parts = [(root / f"a{k}" / "deliveries" / rel).read_bytes() for k in range(3)]
        expected = parts[0] + b"".join(p.split(b"\n", 1)[1] for p in parts[1:])
        assert (deliveries / rel).read_bytes() == expected, rel
    assert summary["people"] == sum(s["people"] for s in shards)
    assert summary["rows"] == {src: sum(s["rows"][src] for s in shards) for src in shards[0]["rows"]}
    manifest = json.loads((root / "region" / "truth" / "manifest.json").read_text())
    assert manifest["summary"]["people"] == summary["people"]
    people = rows(root / "region" / "truth" / "people.csv")
    assert len(people) == sum(len(rows(root / f"a{k}" / "truth" / "people.csv")) for k in range(3))
    assert not (root / "region" / ".shards").exists()


def test_authority_zero_is_the_plain_generator(region, tmp_path):
    root, _, _ = region
    plain = tmp_path / "plain"
    generate(families=40, seed=11, start="2015-01", end="2015-02", out=plain, messy=True, truth=False)
    for f in (plain / "deliveries").rglob("*.csv"):
        assert f.read_bytes() == (root / "a0" / "deliveries" / f.relative_to(plain / "deliveries")).read_bytes()


def test_authorities_share_no_identifier_or_postcode_area(region):
    root, _, _ = region
    seen_ids: list[dict[str, set[str]]] = []
    areas: list[set[str]] = []
    for k in range(3):
        folder = root / f"a{k}" / "deliveries" / "2015-02"
        ids: dict[str, set[str]] = {}
        codes: set[str] = set()
        for source in ("attendance", "asb", "interventions", "benefits", "employment"):
            for r in rows(folder / f"{source}.csv"):
                for col in ID_COLUMNS.get(source, []) + ["uprn"]:
                    if r.get(col, "").strip():
                        ids.setdefault(col, set()).add(r[col].strip().upper())
                m = POSTCODE_AREA.match(r["postcode"])
                if m:
                    codes.add(m.group(1).upper())
        seen_ids.append(ids)
        areas.append(codes)
    for a in range(3):
        for b in range(a + 1, 3):
            assert not areas[a] & areas[b], (a, b)
            for col in seen_ids[a]:
                assert seen_ids[a][col] and not seen_ids[a][col] & seen_ids[b].get(col, set()), (col, a, b)


def test_region_delivery_passes_the_contract(region, pipeline):
    root, summary, _ = region
    run = pipeline.refresh("2015-02", root / "region" / "deliveries" / "2015-02")
    assert run.summary["people"] > 0
    # No row is quarantined for the format of a namespaced identifier or postcode.
    assert not [q for q in run.quarantine if q["column_name"] in ("postcode", "upn", "uprn", "case_ref", "person_ref")]


def test_authorities_out_of_range_are_refused(tmp_path):
    with pytest.raises(ValueError):
        generate_region(authorities=11, families=10, seed=1, start="2015-01", end="2015-01", out=tmp_path)
    with pytest.raises(ValueError):
        generate(families=10, seed=1, start="2015-01", end="2015-01", out=tmp_path, shard=10)


def test_no_person_or_family_spans_two_authorities(region, pipeline_at, tmp_path):
    """The region's refresh finds what the authorities' own refreshes find, added up: nothing of
    one authority links to another's."""
    root, _, _ = region
    whole = pipeline_at(tmp_path / "whole").refresh("2015-02", root / "region" / "deliveries" / "2015-02")
    parts = [pipeline_at(tmp_path / f"p{k}").refresh("2015-02", root / f"a{k}" / "deliveries" / "2015-02")
             for k in range(3)]
    for key in ("people", "families", "cohort"):
        assert whole.summary[key] == sum(p.summary[key] for p in parts), key
