"""The truth files: who each delivered source key is, the cohort and the claims of every period."""

from __future__ import annotations

import csv
import json
from pathlib import Path

COHORT_COLUMNS = ["period", "family_ref", "identified_period", "route", "crime_asb", "education", "work",
                  "local_discretion", "still_meets_criteria", "members"]


def write_people(folder: Path, keys: set[tuple[str, str, str]]) -> None:
    with open(folder / "people.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["true_person_id", "source", "source_key"])
        w.writerows(sorted(keys))


def _flag(v: bool) -> str:
    return "true" if v else "false"


def write_cohort(folder: Path, rows: list[dict]) -> None:
    with open(folder / "cohort.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COHORT_COLUMNS)
        for r in rows:
            w.writerow([r["period"], r["family_ref"], r["identified_period"], r["route"], _flag(r["crime_asb"]),
                        _flag(r["education"]), _flag(r["work"]), _flag(r["local_discretion"]),
                        _flag(r["still_meets_criteria"]), ";".join(r["members"])])


CLAIMS_COLUMNS = ["period", "case_ref", "claim_type", "amount", "members"]


def write_claims(folder: Path, rows: list[dict]) -> None:
    """One row per newly claimable item (every item approved at audit), members as in cohort.csv."""
    with open(folder / "claims.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CLAIMS_COLUMNS)
        for r in rows:
            w.writerow([r["period"], r["case_ref"], r["claim_type"], f"{r['amount']:.2f}", ";".join(r["members"])])


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_cohort(out: Path) -> list[dict[str, str]]:
    with open(Path(out) / "truth" / "cohort.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
