"""The workbooks of a refresh: claims.xlsx (internal audit) and cohort.xlsx (co-ordinators).

Written in the refresh's output step and rebuildable from the store (`pbr workbooks`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..rulebook import Rulebook


def write_workbooks(con: duckdb.DuckDBPyConnection, period: str, folder: Path, rb: Rulebook,
                    authority: str = "Local authority", with_identities: bool = False, cohort=None) -> list[Path]:
    """claims.xlsx and cohort.xlsx for the period into folder (ids only unless with_identities).
    cohort: the cohort_book.CohortData the caller has read already (a refresh: cohort.csv's and
    family_members.csv's rows), else read here."""
    from .claims_book import write_claims_book
    from .cohort_book import cohort_data, render_cohort_book
    return [write_claims_book(con, period, folder / "claims.xlsx", rb, authority, with_identities),
            render_cohort_book(cohort or cohort_data(con, period), folder / "cohort.xlsx", authority, with_identities)]
