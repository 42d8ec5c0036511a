"""Small helpers to write hand-made deliveries for tests: each row names only what matters."""

from __future__ import annotations

import csv
from pathlib import Path

from pbr.contract import sources

IDENTITY = dict(sex="", address="1 High Street", postcode="S65 1AB", uprn="")


def person(forename: str, surname: str, dob: str, **kw) -> dict:
    return {"forename": forename, "surname": surname, "dob": dob, **IDENTITY, **kw}


def attendance(p: dict, upn: str, academic_year: str, term: str, possible=100, unauthorised=0, fixed=0,
               permanent="N", provision="mainstream", school_urn="100001", **kw) -> dict:
    return {**p, "upn": upn, "school_urn": school_urn, "academic_year": academic_year, "term": term,
            "sessions_possible": possible, "sessions_unauthorised": unauthorised, "fixed_exclusions": fixed,
            "permanent_exclusion": permanent, "provision": provision, **kw}


def asb(p: dict, person_ref: str, event_id: str, event_date: str, event_type: str, agency="police", **kw) -> dict:
    return {**p, "person_ref": person_ref, "event_id": event_id, "event_date": event_date,
            "event_type": event_type, "agency": agency, **kw}


def benefit(p: dict, nino: str, benefit: str, start_date: str, end_date="", cap="N", end_reason="", **kw) -> dict:
    return {**p, "nino": nino, "benefit": benefit, "start_date": start_date, "end_date": end_date,
            "end_reason": end_reason, "benefit_cap": cap, **kw}


def employment(p: dict, nino: str, record_type: str, start_date: str, end_date="", **kw) -> dict:
    return {**p, "nino": nino, "record_type": record_type, "start_date": start_date, "end_date": end_date, **kw}


def intervention(p: dict, case_ref: str, person_ref: str, attached_date: str, closed_date="", role="", **kw) -> dict:
    return {**p, "case_ref": case_ref, "person_ref": person_ref, "attached_date": attached_date,
            "closed_date": closed_date, "keyworker": "KW1", "role": role, **kw}


def write_delivery(folder: Path, **tables: list[dict]) -> Path:
    """write_delivery(dir, attendance=[...], asb=[...], areas=[{"area": "S65"}]) -> dir"""
    folder.mkdir(parents=True, exist_ok=True)
    for source, rows in tables.items():
        cols = sources()[source].column_names
        with open(folder / f"{source}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="raise")
            w.writeheader()
            for r in rows:
                w.writerow({c: r.get(c, "") for c in cols})
    return folder
