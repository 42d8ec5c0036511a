"""Claim batches: every newly claimable item of a refresh, priced from the rulebook, sampled and
flagged for internal audit, with its evidence. The store's claim_slot table makes a second claim
for the same family and type (or across the route B / route A + progress divide) impossible."""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb

from . import calendar as cal
from .rulebook import Rulebook

SLOTS = {
    "attachment_fee": ("attachment",),
    "route_a": ("results",),
    "progress_to_work": ("progress",),
    "route_b": ("results", "progress"),
}
CLAIM_ORDER = ["attachment_fee", "route_b", "route_a", "progress_to_work"]


@dataclass
class Item:
    family_id: str
    case_ref: str
    claim_type: str
    amount: Decimal
    financial_year: str
    attached_date: date
    flags: list[str]
    evidence: dict


def fy_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def build_batch(con: duckdb.DuckDBPyConnection, period: str, rb: Rulebook, run_id: str) -> str | None:
    """Create the period's draft batch from what is newly claimable; None when nothing is."""
    c_date = cal.reference_date(period)
    taken = {(f, s) for f, s in con.execute("SELECT family_id, slot FROM claim_slot").fetchall()}
    claimed_total = dict(con.execute("""
        SELECT i.family_id, sum(i.amount) FROM claim_item i
        WHERE i.decision IS DISTINCT FROM 'rejected' GROUP BY 1""").fetchall())
    results = {r[0]: r for r in con.execute("""
        SELECT family_id, route_a, progress_to_work, route_b FROM family_result WHERE period = ?""", [period]).fetchall()}
    attached = con.execute("""
        SELECT a.family_id, a.case_ref, a.attached_date, c.identified_period, c.route
        FROM attachment a JOIN cohort c USING (family_id)
        WHERE a.period_attached <= ? ORDER BY a.family_id""", [period]).fetchall()
    max_total = Decimal(str(rb.get("payments.max_per_family")))
    items: list[Item] = []
    for family_id, case_ref, a_date, identified, route in attached:
        fy = cal.financial_year(a_date)
        row = rb.payment_row(fy)
        free = lambda t: all((family_id, s) not in taken for s in SLOTS[t])  # noqa: E731
        wanted = []
        if free("attachment_fee"):
            wanted.append("attachment_fee")
        res = results.get(family_id)
        if res:
            _, route_a, ptw, route_b = res
            if route_b and free("route_b"):
                wanted.append("route_b")  # B wins when it and A/progress become claimable together
            else:
                if route_a and free("route_a"):
                    wanted.append("route_a")
                if ptw and free("progress_to_work"):
                    wanted.append("progress_to_work")
        total = Decimal(str(claimed_total.get(family_id, 0)))
        for claim_type in sorted(wanted, key=CLAIM_ORDER.index):
            amount = min(Decimal(str(row[claim_type])), max_total - total)
            if amount <= 0:
                continue  # the family's cap is reached
            total += amount
            items.append(Item(family_id, case_ref, claim_type, amount, fy_label(fy), a_date, [], {}))
    if not items:
        return None

    n_batches = con.execute("SELECT count(*) FROM claim_batch WHERE period = ?", [period]).fetchone()[0]
    batch_id = f"B{period}-{n_batches + 1}"
    seed = int.from_bytes(hashlib.sha256(batch_id.encode()).digest()[:4], "big")
    next_no = con.execute("SELECT coalesce(max(CAST(substr(claim_id, 2) AS BIGINT)), 0) + 1 FROM claim_item").fetchone()[0]
    ids = [f"C{next_no + i:07d}" for i in range(len(items))]

    _flag_anomalies(con, period, rb, c_date, items)
    n_sample = len(items) if len(items) <= rb.get("claims.audit_sample.minimum") else max(
        int(rb.get("claims.audit_sample.minimum")), math.ceil(float(rb.get("claims.audit_sample.share")) * len(items)))
    sampled = set(random.Random(seed).sample(ids, min(n_sample, len(ids))))

    con.execute("INSERT INTO claim_batch VALUES (?, ?, 'draft', ?, NULL, NULL, NULL, ?, ?, ?, ?)",
                [batch_id, period, _now(), seed, rb.name, rb.version, run_id])
    # Evidence for every item from a few set queries (not several queries per item), then the
    # items and their slots inserted in one statement each.
    data = EvidenceData.fetch(con, period, [it.family_id for it in items])
    for it in items:
        it.evidence = data.evidence(period, rb, it, c_date)
    import pyarrow as pa

    item_rows = pa.table({
        "claim_id": ids, "batch_id": [batch_id] * len(items), "family_id": [it.family_id for it in items],
        "case_ref": [it.case_ref for it in items], "claim_type": [it.claim_type for it in items],
        "amount": pa.array([it.amount for it in items], pa.decimal128(10, 2)),
        "financial_year": [it.financial_year for it in items],
        "attached_date": pa.array([it.attached_date for it in items], pa.date32()),
        "audit_sample": [claim_id in sampled for claim_id in ids], "anomaly_flags": [";".join(it.flags) for it in items],
        "evidence": [json.dumps(it.evidence, default=str) for it in items]})
    con.execute("""INSERT INTO claim_item (claim_id, batch_id, family_id, case_ref, claim_type, amount,
                   financial_year, attached_date, audit_sample, anomaly_flags, evidence)
                   SELECT claim_id, batch_id, family_id, case_ref, claim_type, amount, financial_year,
                          attached_date, audit_sample, anomaly_flags, evidence FROM item_rows""")
    slot_rows = pa.table({  # noqa: F841 (read by DuckDB by name)
        "family_id": [it.family_id for it in items for _ in SLOTS[it.claim_type]],
        "slot": [slot for it in items for slot in SLOTS[it.claim_type]],
        "claim_id": [claim_id for claim_id, it in zip(ids, items) for _ in SLOTS[it.claim_type]]})
    # The primary key refuses a second claim outright, whatever the code above decided.
    con.execute("INSERT INTO claim_slot SELECT family_id, slot, claim_id FROM slot_rows")
    con.execute("INSERT INTO claim_event VALUES (?, ?, 'pbr', 'created', ?)",
                [batch_id, _now(), f"{len(items)} items, sample seed {seed}"])
    return batch_id


def _flag_anomalies(con, period: str, rb: Rulebook, c_date: date, items: list[Item]) -> None:
    min_months = int(rb.get("claims.anomalies.min_months_attachment_to_result"))
    results = {r[0]: r[1:] for r in con.execute("""
        SELECT family_id, asb_leg, offending_leg, education_leg FROM family_result WHERE period = ?""",
        [period]).fetchall()}
    cohort_size = con.execute("SELECT count(*) FROM cohort WHERE identified_period <= ?", [period]).fetchone()[0]
    already = {r[0] for r in con.execute("""
        SELECT DISTINCT family_id FROM claim_item
        WHERE claim_type <> 'attachment_fee' AND decision IS DISTINCT FROM 'rejected'""").fetchall()}
    with_results = already | {i.family_id for i in items if i.claim_type != "attachment_fee"}
    over_share = cohort_size > 0 and len(with_results) / cohort_size > float(rb.get("claims.anomalies.max_cohort_share_claimed"))
    threshold = float(rb.get("claims.anomalies.min_match_probability"))
    # linkage.low_confidence (configuration; set by probabilistic linkage) flags at its level too
    threshold = max(threshold, float(con.execute("SELECT coalesce(getvariable('link_low_confidence'), 0)").fetchone()[0]))
    low_links = {r[0] for r in con.execute("""
        SELECT DISTINCT s.family_id FROM family_snapshot s
        JOIN person_xwalk x USING (person_id)
        WHERE s.period = (SELECT max(period) FROM family_snapshot t WHERE t.family_id = s.family_id AND t.period <= ?)
          AND x.match_probability < ?""", [period, threshold]).fetchall()}
    for it in items:
        if it.claim_type != "attachment_fee":
            if c_date < cal.add_months(it.attached_date, min_months):
                it.flags.append("result_within_6_months_of_attachment")
            if over_share:
                it.flags.append("batch_over_cohort_share")
        if it.claim_type == "route_a":
            legs = results.get(it.family_id, ())
            if sum(1 for leg in legs if leg == "neutral") == len(legs) - 1:
                it.flags.append("route_a_single_leg")
        if it.family_id in low_links:
            it.flags.append("low_confidence_link")


def claim_evidence(con, period: str, rb: Rulebook, it: Item, c_date: date) -> dict:
    """One item's evidence (build_batch fetches every item's data at once: EvidenceData)."""
    return EvidenceData.fetch(con, period, [it.family_id]).evidence(period, rb, it, c_date)


_RECORD_COLS = ["leg", "window", "window_start", "window_end", "person_id", "source", "file",
                "sha256", "line", "record_date", "detail"]
_SOURCE_COLS = ["file", "sha256", "delivery_period", "rows"]


@dataclass
class EvidenceData:
    """What the evidence of a batch's items is built from, fetched per family in a few queries."""
    fams: dict
    results: dict
    result_cols: list[str]
    records: dict
    sources: dict

    @classmethod
    def fetch(cls, con, period: str, family_ids: list[str]) -> EvidenceData:
        import pyarrow as pa

        wanted = pa.table({"family_id": sorted(set(family_ids))})  # noqa: F841 (read by DuckDB by name)
        fams = {r[0]: r[1:] for r in con.execute("""
            SELECT family_id, c.identified_period, c.route, c.crime_asb, c.education, c.work, c.local_discretion,
                   a.case_attached_date, a.period_attached
            FROM cohort c JOIN attachment a USING (family_id)
            WHERE family_id IN (SELECT family_id FROM wanted)""").fetchall()}
        cur = con.execute("""SELECT * FROM family_result
            WHERE period = ? AND family_id IN (SELECT family_id FROM wanted)""", [period])
        cols = [d[0] for d in cur.description]
        fi = cols.index("family_id")
        results = {r[fi]: r for r in cur.fetchall()}
        records: dict[str, list] = {}
        for row in con.execute("""
            SELECT v.family_id, v.leg, v.window_name, v.window_start, v.window_end, v.person_id, v.source,
                   e.file_name, e.sha256, v.line_no, v.record_date, v.detail
            FROM result_evidence v LEFT JOIN extract_file e USING (extract_id)
            WHERE v.period = ? AND v.family_id IN (SELECT family_id FROM wanted)
            ORDER BY v.family_id, v.leg, v.window_name, v.record_date, v.person_id""", [period]).fetchall():
            records.setdefault(row[0], []).append(dict(zip(_RECORD_COLS, row[1:])))
        sources: dict[str, list] = {}
        for row in con.execute("""
            SELECT DISTINCT f.family_id, e.file_name, e.sha256, e.delivery_period, e.rows_loaded
            FROM family_source_extract f JOIN extract_file e USING (extract_id)
            WHERE f.family_id IN (SELECT family_id FROM wanted)
            ORDER BY f.family_id, e.delivery_period, e.file_name""").fetchall():
            sources.setdefault(row[0], []).append(dict(zip(_SOURCE_COLS, row[1:])))
        return cls(fams, results, cols, records, sources)

    def evidence(self, period: str, rb: Rulebook, it: Item, c_date: date) -> dict:
        fam = self.fams[it.family_id]
        ev: dict = {
            "claim_type": it.claim_type,
            "period": period,
            "reference_date_C": c_date.isoformat(),
            "family_id": it.family_id,
            "case_ref": it.case_ref,
            "attached_date_A": it.attached_date.isoformat(),
            "case_attached_date": fam[6].isoformat(),
            "attached_in_period": fam[7],
            "financial_year_of_A": it.financial_year,
            "identified_period": fam[0],
            "route": fam[1],
            "baseline_criteria": {"crime_asb": fam[2], "education": fam[3], "work": fam[4], "local_discretion": fam[5]},
            "rulebook": {"name": rb.name, "version": rb.version},
        }
        if it.claim_type != "attachment_fee":
            res = dict(zip(self.result_cols, self.results[it.family_id]))
            a = it.attached_date
            base = (cal.add_months(a, -6).isoformat(), a.isoformat())
            out = (cal.add_months(c_date, -6).isoformat(), c_date.isoformat())
            asb_max = rb.get("results.asb.max_pct_of_baseline")
            off_max = rb.get("results.offending.max_pct_of_baseline")
            ev["legs"] = {
                "asb": _leg(res["asb_leg"], res["asb_baseline"], res["asb_outcome"], asb_max, base, out),
                "offending": _leg(res["offending_leg"], res["offending_baseline"], res["offending_outcome"], off_max, base, out),
                "education": {"verdict": res["education_leg"], "applies": bool(fam[3]),
                              "terms_ended_since_A": res["education_terms_since_a"],
                              "pupils_assessed": res["education_pupils"], "pupils_failing": res["education_failing"]},
            }
            ev["progress_to_work"] = {"person_id": res["ptw_person_id"], "record_type": res["ptw_record_type"],
                                      "start_date": res["ptw_start"]}
            ev["route_b"] = {"person_id": res["rb_person_id"], "benefits_at_A": res["rb_benefits_at_a"],
                             "employment_start": res["rb_employment_start"], "counted_to": res["rb_employment_end"],
                             "days": res["rb_days"], "required_days": res["rb_required_days"]}
            ev["records"] = [dict(r) for r in self.records.get(it.family_id, [])]
        ev["sources"] = [dict(r) for r in self.sources.get(it.family_id, [])]
        return ev


def _leg(verdict, baseline, outcome, max_pct, base_window, out_window) -> dict:
    pct = None if not baseline else round(100.0 * outcome / baseline, 1)
    return {"verdict": verdict, "baseline_window": f"({base_window[0]}, {base_window[1]}]", "baseline_count": baseline,
            "outcome_window": f"({out_window[0]}, {out_window[1]}]", "outcome_count": outcome,
            "outcome_pct_of_baseline": pct, "pass_at_or_below_pct": max_pct}
