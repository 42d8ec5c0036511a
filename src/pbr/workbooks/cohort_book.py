"""OUT/YYYY-MM/cohort.xlsx: the co-ordinator's view of the cohort (see docs/workbooks.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from openpyxl import Workbook

from ..outputs import COHORT_COLUMNS, cohort_rows, member_rows
from . import glossary
from .cells import Formula, TITLE_FONT, cell, protect_sheet, save_book, table_sheet

COLUMNS = COHORT_COLUMNS + ["members", "new_this_month"]


@dataclass
class CohortData:
    """What the cohort workbook shows from the store: cohort.csv's and family_members.csv's rows
    as Arrow tables (a refresh reads them once, for the CSVs and the workbook; the CSVs are
    written from them by polars, not row by row: ≈90,000 members at authority scale)."""
    period: str
    cohort: pa.Table
    members: pa.Table


def cohort_data(con: duckdb.DuckDBPyConnection, period: str) -> CohortData:
    return CohortData(period, cohort_rows(con, period), member_rows(con, period))


def write_cohort_book(con: duckdb.DuckDBPyConnection, period: str, path: Path, authority: str = "Local authority",
                      with_identities: bool = False, generated_at: datetime | None = None) -> Path:
    return render_cohort_book(cohort_data(con, period), path, authority, with_identities, generated_at)


def render_cohort_book(data: CohortData, path: Path, authority: str = "Local authority",
                       with_identities: bool = False, generated_at: datetime | None = None) -> Path:
    generated_at = generated_at or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    period, members = data.period, pl.from_arrow(data.members)
    count = dict(members.group_by("family_id").agg(pl.col("person_id").n_unique()).iter_rows())
    rows = [list(r) + [count.get(r[0], 0), r[1] == period] for r in pl.from_arrow(data.cohort).iter_rows()]
    new = [r for r in rows if r[-1]]
    gone = [r for r in rows if not r[7]]
    attached = [r for r in rows if r[8]]
    not_attached = [r for r in rows if not r[8]]

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 40
    ws.freeze_panes = "A2"  # write-only: sheet views before the first row
    t = cell(ws, f"Cohort workbook {period}")
    t.font = TITLE_FONT
    ws.append([t])
    n = len(rows)
    rng = lambda col: f"Cohort!${col}$2:${col}${max(n + 1, 2)}"  # noqa: E731
    for k, v in [
        ("Authority", authority), ("Period", period), ("Generated (UTC)", generated_at),
        ("Copy", "WITH IDENTITIES (restricted)" if with_identities else "ids only (no personal data)"),
        ("Families in the cohort", Formula(f"=COUNTA({rng('A')})")),
        ("New this month", Formula(f"=COUNTIFS({rng('L')},TRUE())")),
        ("No longer meeting the criteria", Formula(f"=COUNTIFS({rng('H')},FALSE())")),
        ("Attached", Formula(f'=COUNTIFS({rng("I")},"?*")')),
        ("Not yet attached", Formula(f"=COUNTA({rng('A')})-COUNTIFS({rng('I')},\"?*\")")),
    ]:
        ws.append([cell(ws, k, bold=True), cell(ws, v)])
    ws.append([])
    ws.append([cell(ws, "pbr's counts", bold=True),
               cell(ws, f"{n} families, {len(new)} new, {len(gone)} no longer meeting, "
                        f"{len(attached)} attached, {len(not_attached)} not yet attached")])
    ws.print_area = "A1:B13"
    protect_sheet(ws)

    widths = {"identified_period": 12, "route": 22, "case_ref": 18}
    table_sheet(wb, "Cohort", COLUMNS, rows, widths=widths)
    table_sheet(wb, "New this month", COLUMNS, new, widths=widths)
    table_sheet(wb, "No longer meeting", COLUMNS, gone, widths=widths)
    table_sheet(wb, "Not yet attached", COLUMNS, not_attached, widths=widths)
    table_sheet(wb, "Attached", COLUMNS, attached, widths=widths)
    member_cols = ["family_id", "person_id", "source"] + (["source_key"] if with_identities else [])
    shown = members if with_identities else members.select(member_cols).unique().sort(member_cols)
    table_sheet(wb, "Members", member_cols, shown.select(member_cols).rows(), widths={"source_key": 30})
    table_sheet(wb, "Glossary", ["term", "meaning"],
                [["sheet: Cohort", "Every family in the cohort as of this refresh (cohort.csv), with member count."],
                 ["sheet: New this month", "Families that entered the cohort at this refresh."],
                 ["sheet: No longer meeting", "Cohort families that do not meet the criteria at this refresh."],
                 ["sheet: Not yet attached", "Cohort families no case has attached yet."],
                 ["sheet: Attached", "Cohort families with an attached case."],
                 ["sheet: Members", "The source record keys linked into each family (ids only unless the "
                                    "identities copy)."]] + glossary.rows(glossary.COHORT),
                widths={"term": 30, "meaning": 100})
    tmp = path.with_name(f".{path.name}.tmp")
    save_book(wb, tmp)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
