"""claims.csv (the contract's columns, then the evidence flattened) and cases_reported.csv."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

CLAIM_COLUMNS = [
    # the contract's columns
    "batch_id", "claim_id", "case_ref", "family_id", "claim_type", "amount",
    # the evidence
    "period", "batch_state", "attached_date", "case_attached_date", "financial_year", "identified_period", "route",
    "asb_leg", "asb_baseline_window", "asb_baseline_count", "asb_outcome_window", "asb_outcome_count", "asb_outcome_pct",
    "asb_threshold_pct",
    "offending_leg", "offending_baseline_window", "offending_baseline_count", "offending_outcome_window",
    "offending_outcome_count", "offending_outcome_pct", "offending_threshold_pct",
    "education_leg", "education_applies", "education_terms_since_attachment", "education_pupils_assessed",
    "education_pupils_failing",
    "ptw_person_id", "ptw_record_type", "ptw_start_date",
    "route_b_person_id", "route_b_benefits_at_attachment", "route_b_employment_start", "route_b_counted_to",
    "route_b_days", "route_b_required_days",
    "audit_sample", "sample_seed", "anomaly_flags", "decision", "decision_note", "decided_by", "decided_at",
    "source_files", "rulebook_name", "rulebook_version",
]
CASE_COLUMNS = ["case_ref", "issue", "family_id", "detail"]


def claim_rows(con: duckdb.DuckDBPyConnection, period: str) -> list[list]:
    rows = con.execute("""
        SELECT i.batch_id, i.claim_id, i.case_ref, i.family_id, i.claim_type, i.amount, b.period, b.state,
               i.attached_date, i.financial_year, i.audit_sample, b.sample_seed, i.anomaly_flags, i.decision,
               i.decision_note, i.decided_by, i.decided_at, i.evidence, b.rulebook_name, b.rulebook_version
        FROM claim_item i JOIN claim_batch b USING (batch_id)
        WHERE b.period = ? ORDER BY i.batch_id, i.claim_id""", [period]).fetchall()
    out = []
    for (batch_id, claim_id, case_ref, family_id, claim_type, amount, b_period, state, a_date, fy, sample, seed,
         flags, decision, note, by, at, evidence, rb_name, rb_version) in rows:
        ev = json.loads(evidence)
        legs = ev.get("legs", {})
        asb, off, edu = legs.get("asb", {}), legs.get("offending", {}), legs.get("education", {})
        ptw, rb = ev.get("progress_to_work", {}), ev.get("route_b", {})
        sources = "; ".join(f"{s['file']} ({s['delivery_period']}, sha256 {s['sha256']})" for s in ev.get("sources", []))
        out.append([
            batch_id, claim_id, case_ref, family_id, claim_type, f"{amount:.2f}",
            b_period, state, a_date, ev.get("case_attached_date"), fy, ev.get("identified_period"), ev.get("route"),
            asb.get("verdict"), asb.get("baseline_window"), asb.get("baseline_count"), asb.get("outcome_window"),
            asb.get("outcome_count"), asb.get("outcome_pct_of_baseline"), asb.get("pass_at_or_below_pct"),
            off.get("verdict"), off.get("baseline_window"), off.get("baseline_count"), off.get("outcome_window"),
            off.get("outcome_count"), off.get("outcome_pct_of_baseline"), off.get("pass_at_or_below_pct"),
            edu.get("verdict"), edu.get("applies"), edu.get("terms_ended_since_A"), edu.get("pupils_assessed"),
            edu.get("pupils_failing"),
            ptw.get("person_id"), ptw.get("record_type"), ptw.get("start_date"),
            rb.get("person_id"), rb.get("benefits_at_A"), rb.get("employment_start"), rb.get("counted_to"),
            rb.get("days"), rb.get("required_days"),
            sample, seed, flags, decision, note, by, at, sources, rb_name, rb_version,
        ])
    return out


def case_rows(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple]:
    return con.execute("""
        SELECT case_ref, issue, family_id, detail FROM case_report WHERE period = ?
        ORDER BY case_ref, issue, family_id""", [period]).fetchall()


def write_claim_outputs(con: duckdb.DuckDBPyConnection, period: str, staging: Path, write_csv) -> None:
    write_csv(staging / "claims.csv", CLAIM_COLUMNS, claim_rows(con, period))
    write_csv(staging / "cases_reported.csv", CASE_COLUMNS, case_rows(con, period))
