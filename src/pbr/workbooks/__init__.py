"""The workbooks of a refresh: claims.xlsx (internal audit) and cohort.xlsx (co-ordinators).

Written in the refresh's output step and rebuildable from the store (`pbr workbooks`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..rulebook import Rulebook


def write_workbooks(con: duckdb.DuckDBPyConnection, period: str, folder: Path, rb: Rulebook,
                    authority: str = "Local authority", with_identities: bool = False) -> list[Path]:
    """claims.xlsx and cohort.xlsx for the period into folder (ids only unless with_identities).
    (A refresh writes them apart: the cohort's beside its later steps, pbr.outputs.EarlyCohortOutputs.)"""
    from .claims_book import write_claims_book
    from .cohort_book import write_cohort_book
    return [write_claims_book(con, period, folder / "claims.xlsx", rb, authority, with_identities),
            write_cohort_book(con, period, folder / "cohort.xlsx", authority, with_identities)]
