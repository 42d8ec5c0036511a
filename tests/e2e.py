"""Shared machinery of the end-to-end tests: generate a synthetic authority, run every monthly
refresh in order, and compare the pipeline's contract outputs with the generator's ground truth
(people are matched through their source record keys, never through pipeline ids)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from pbr import calendar as cal
from pbr.generate import generate
from pbr.refresh import refresh

FLAGS = ["crime_asb", "education", "work", "local_discretion", "still_meets_criteria"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_all(tmp: Path, families: int, seed: int, start: str, end: str, messy: bool = False) -> dict[str, Path]:
    gen = tmp / "gen"
    generate(families=families, seed=seed, start=start, end=end, out=gen, messy=messy)
    db, out = tmp / "pbr.duckdb", tmp / "out"
    outputs = {}
    for period in cal.periods_between(start, end):
        result = refresh(period, gen / "deliveries" / period, db, out)
        outputs[period] = result.out_dir
    return {"gen": gen, "db": db, "out": out, **outputs}


def true_person_of(gen: Path) -> dict[tuple[str, str], str]:
    return {(r["source"], r["source_key"]): r["true_person_id"] for r in read_csv(gen / "truth" / "people.csv")}


def pipeline_cohort(out_dir: Path, people: dict[tuple[str, str], str]) -> Counter:
    members: dict[str, set[str]] = {}
    for r in read_csv(out_dir / "family_members.csv"):
        members.setdefault(r["family_id"], set()).add(people[(r["source"], r["source_key"])])
    rows = Counter()
    for r in read_csv(out_dir / "cohort.csv"):
        rows[(r["identified_period"], r["route"], *(r[f] for f in FLAGS),
              ";".join(sorted(members.get(r["family_id"], set()))))] += 1
    return rows


def truth_cohort(gen: Path, period: str) -> Counter:
    rows = Counter()
    for r in read_csv(gen / "truth" / "cohort.csv"):
        if r["period"] == period:
            rows[(r["identified_period"], r["route"], *(r[f] for f in FLAGS), r["members"])] += 1
    return rows
