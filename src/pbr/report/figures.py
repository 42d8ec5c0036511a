"""Every number of the monthly report, read from the store through sql/outputs/report_*.sql.
Raw figures only: disclosure control (disclosure.py) is applied when the page is built."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ..sqlfiles import read_sql

FUNNEL_STAGES = ["identified", "attached", "results", "claimed", "paid"]
CLAIM_TYPES = ["attachment_fee", "route_a", "progress_to_work", "route_b"]
INDICATORS = ["asb_reduced", "offending_reduced", "attendance_improved", "into_work"]
COST_UNITS = ["asb_event", "proven_offence", "out_of_work_benefit_year"]


def _rows(con: duckdb.DuckDBPyConnection, name: str, *params) -> list[dict]:
    cur = con.execute(read_sql(f"outputs/report_{name}.sql"), list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


@dataclass
class Figures:
    period: str
    funnel: list[dict]                 # per period: period, identified, attached, results, claimed, paid
    cohort: list[dict]                 # route, combination, families, new_this_month, no_longer_meeting
    claims: list[dict]                 # period, claim_type, items, amount, paid_amount
    outcomes: list[dict]               # indicator, applicable, improved
    timeliness: list[dict]             # measure, period, families, median_days, mean_days
    cost: list[dict]                   # unit, families, baseline, outcome
    quality: list[dict]                # source, files, rows_read, rows_quarantined
    linkage: list[dict]                # source, record_keys, matched, below_confident
    unmatched: list[dict]              # issue, cases
    refreshed: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def funnel_now(self) -> dict:
        for row in self.funnel:
            if row["period"] == self.period:
                return row
        return {"period": self.period, **{s: 0 for s in FUNNEL_STAGES}}


def collect(con: duckdb.DuckDBPyConnection, period: str, min_match_probability: float = 0.95) -> Figures:
    refreshed = con.execute("SELECT count(*) FROM refresh_run WHERE period = ? AND finished_at IS NOT NULL",
                            [period]).fetchone()[0] > 0
    return Figures(
        period=period,
        funnel=_rows(con, "funnel", period),
        cohort=_rows(con, "cohort", period),
        claims=_rows(con, "claims", period),
        outcomes=_rows(con, "outcomes", period),
        timeliness=_rows(con, "timeliness", period),
        cost=_rows(con, "cost", period),
        quality=_rows(con, "quality", period),
        linkage=_rows(con, "linkage", period, min_match_probability),
        unmatched=_rows(con, "unmatched", period),
        refreshed=refreshed,
    )


def cost_avoided(fig: Figures, unit_costs: dict[str, float]) -> list[dict]:
    """Per unit: events avoided (baseline minus outcome; for benefit, adults into work counted as a
    year each) and the estimate in pounds."""
    out = []
    for row in fig.cost:
        avoided = int(row["baseline"]) - int(row["outcome"])
        cost = float(unit_costs.get(row["unit"], 0.0))
        out.append({**row, "avoided": avoided, "unit_cost": cost, "estimate": avoided * cost})
    return out
