"""The claim workbook's evidence rows, read from the store: each item's frozen evidence (claim_item
.evidence JSON, written when the batch was built) and the source records it points at. Ids only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb

from .cells import Pct, as_date


@dataclass
class ClaimItem:
    claim_id: str
    batch_id: str
    family_id: str
    case_ref: str
    claim_type: str
    amount: Decimal
    attached_date: date
    audit_sample: bool
    anomaly_flags: str
    decision: str | None
    decision_note: str | None
    evidence: dict


def batches(con: duckdb.DuckDBPyConnection, period: str) -> list[dict]:
    cur = con.execute("""
        SELECT b.batch_id, b.period, b.state, b.created_at, b.sample_seed, b.rulebook_name, b.rulebook_version,
               b.run_id, r.rulebook_sha256
        FROM claim_batch b LEFT JOIN refresh_run r USING (run_id)
        WHERE b.period = ? ORDER BY b.batch_id""", [period])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def items(con: duckdb.DuckDBPyConnection, period: str) -> list[ClaimItem]:
    rows = con.execute("""
        SELECT i.claim_id, i.batch_id, i.family_id, i.case_ref, i.claim_type, i.amount, i.attached_date,
               i.audit_sample, i.anomaly_flags, i.decision, i.decision_note, i.evidence
        FROM claim_item i JOIN claim_batch b USING (batch_id)
        WHERE b.period = ? ORDER BY i.batch_id, i.claim_id""", [period]).fetchall()
    return [ClaimItem(*r[:-1], json.loads(r[-1])) for r in rows]


def _window(text: str | None) -> tuple[date | None, date | None]:
    """'(2011-12-30, 2012-06-30]' -> (2011-12-30, 2012-06-30)."""
    if not text:
        return None, None
    a, b = text.strip("(]").split(",")
    return date.fromisoformat(a.strip()), date.fromisoformat(b.strip())


def _frac(pct) -> Pct:
    return Pct(None if pct is None else float(pct) / 100.0)


EVIDENCE_COLUMNS = ["claim_id", "family_id", "claim_type", "leg", "verdict", "baseline_from", "baseline_to",
                    "baseline_count", "outcome_from", "outcome_to", "outcome_count", "outcome_pct_of_baseline",
                    "threshold_pct", "person_id", "start_date", "end_date", "days", "required_days", "why"]


def _count_leg_why(name: str, leg: dict) -> str:
    b, o, t, v = leg.get("baseline_count"), leg.get("outcome_count"), leg.get("pass_at_or_below_pct"), leg.get("verdict")
    if b:
        pct = leg.get("outcome_pct_of_baseline")
        cmp = "at most" if v == "pass" else "above"
        return f"{name}: {o} in the outcome window against {b} at baseline = {pct}% of baseline, {cmp} {t}%: {v}"
    if o:
        return f"{name}: none at baseline but {o} in the outcome window: {v}"
    return f"{name}: none in either window: the leg does not apply ({v})"


def evidence_rows(its: list[ClaimItem], edu_terms_required: int | None) -> list[list]:
    out = []
    for it in its:
        ev = it.evidence
        head = [it.claim_id, it.family_id, it.claim_type]
        if it.claim_type == "attachment_fee":
            out.append(head + ["attachment", "met", None, None, None, None, None, None, None, None, None,
                               None, as_date(ev.get("attached_date_A")), None, None, None,
                               f"case {ev.get('case_ref')} attached the family (case dated "
                               f"{ev.get('case_attached_date')}, family in the cohort from {ev.get('identified_period')}); "
                               f"A = {ev.get('attached_date_A')}, financial year {ev.get('financial_year_of_A')}"])
            continue
        legs = ev.get("legs", {})
        c_date = as_date(ev.get("reference_date_C"))
        if it.claim_type == "route_a":
            verdicts = []
            for name in ("asb", "offending"):
                leg = legs.get(name, {})
                bf, bt = _window(leg.get("baseline_window"))
                of, ot = _window(leg.get("outcome_window"))
                verdicts.append(leg.get("verdict"))
                out.append(head + [name, leg.get("verdict"), bf, bt, leg.get("baseline_count"), of, ot,
                                   leg.get("outcome_count"), _frac(leg.get("outcome_pct_of_baseline")),
                                   _frac(leg.get("pass_at_or_below_pct")), None, None, None, None, None,
                                   _count_leg_why(name, leg)])
            edu = legs.get("education", {})
            verdicts.append(edu.get("verdict"))
            applies = "applies (criterion met at entry)" if edu.get("applies") else "did not apply at entry"
            why = (f"education {applies}; {edu.get('terms_ended_since_A')} terms ended since A"
                   + (f" (needs {edu_terms_required})" if edu.get("applies") and edu_terms_required else "")
                   + f"; {edu.get('pupils_assessed')} pupils assessed over the last terms at C, "
                   f"{edu.get('pupils_failing')} still meeting the criterion: {edu.get('verdict')}")
            out.append(head + ["education", edu.get("verdict"), None, None, None, None, c_date,
                               edu.get("pupils_failing"), None, None, None, None, None, None, None, why])
            out.append(head + ["route_a", "met", None, None, None, None, None, None, None, None, None, None,
                               None, None, None,
                               f"legs {', '.join(str(v) for v in verdicts)}: every leg pass or neutral and at "
                               "least one pass (the whole-family rule)"])
        elif it.claim_type == "progress_to_work":
            p = ev.get("progress_to_work", {})
            of, ot = _window(next(iter(legs.values()), {}).get("outcome_window")) if legs else (None, None)
            out.append(head + ["progress_to_work", "met", None, None, None, of, ot, None, None, None,
                               p.get("person_id"), as_date(p.get("start_date")), None, None, None,
                               f"adult member started {p.get('record_type')} on {p.get('start_date')}: in the "
                               f"outcome window and on or after A ({ev.get('attached_date_A')})"])
        elif it.claim_type == "route_b":
            r = ev.get("route_b", {})
            out.append(head + ["route_b", "met", None, None, None, None, c_date, None, None, None,
                               r.get("person_id"), as_date(r.get("employment_start")), as_date(r.get("counted_to")),
                               r.get("days"), r.get("required_days"),
                               f"on {r.get('benefits_at_A')} at A ({ev.get('attached_date_A')}); employment from "
                               f"{r.get('employment_start')} counted to {r.get('counted_to')}: {r.get('days')} days, "
                               f"at least the {r.get('required_days')} required; no out-of-work benefit in that time"])
    return out


RECORD_COLUMNS = ["claim_id", "family_id", "claim_type", "leg", "window", "window_start", "window_end",
                  "person_id", "source", "record_date", "detail", "file", "line", "sha256"]


def record_rows(con: duckdb.DuckDBPyConnection, period: str, its: list[ClaimItem]) -> list[list]:
    """The records frozen in each item's evidence, plus the interventions rows of its case."""
    case_rows = _case_rows(con, period)
    out = []
    for it in its:
        for r in it.evidence.get("records", []):
            out.append([it.claim_id, it.family_id, it.claim_type, r.get("leg"), r.get("window"),
                        as_date(r.get("window_start")), as_date(r.get("window_end")), r.get("person_id"),
                        r.get("source"), as_date(r.get("record_date")), r.get("detail"), r.get("file"),
                        r.get("line"), r.get("sha256")])
        if it.claim_type == "attachment_fee":
            for person_id, attached, closed, file, line, sha in case_rows.get(it.case_ref, []):
                out.append([it.claim_id, it.family_id, it.claim_type, "attachment", "case", None, None, person_id,
                            "interventions", attached,
                            "case row, attached " + str(attached) + (f", closed {closed}" if closed else ""),
                            file, line, sha])
    return out


def _case_rows(con, period: str) -> dict[str, list[tuple]]:
    rows = con.execute("""
        SELECT r.case_ref, x.person_id, r.attached_date, r.closed_date, e.file_name, r.line_no, e.sha256
        FROM raw_interventions r
        JOIN extract_file e USING (extract_id)
        LEFT JOIN person_xwalk x ON x.source = 'interventions' AND x.source_key = r.person_ref
        WHERE e.replaced_by IS NULL AND e.delivery_period <= ?
          AND r.case_ref IN (SELECT i.case_ref FROM claim_item i JOIN claim_batch b USING (batch_id)
                             WHERE b.period = ? AND i.claim_type = 'attachment_fee')
        QUALIFY row_number() OVER (PARTITION BY r.case_ref, r.person_ref
                                   ORDER BY e.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1
        ORDER BY r.case_ref, x.person_id, r.line_no""", [period, period]).fetchall()
    out: dict[str, list[tuple]] = {}
    for case_ref, *rest in rows:
        out.setdefault(case_ref, []).append(tuple(rest))
    return out


ATTENDANCE_COLUMNS = ["claim_id", "family_id", "person_id", "academic_year", "term", "term_end", "school_urn",
                      "sessions_possible", "sessions_unauthorised", "unauthorised_pct", "sessions_authorised",
                      "fixed_exclusions", "permanent_exclusion", "provision", "file", "line", "sha256"]


def attendance_rows(con: duckdb.DuckDBPyConnection, period: str, its: list[ClaimItem]) -> list[list]:
    """Per pupil and term, the attendance records behind each route A item's education leg."""
    claims_of: dict[str, list[str]] = {}
    for it in its:
        if it.claim_type == "route_a":
            claims_of.setdefault(it.family_id, []).append(it.claim_id)
    if not claims_of:
        return []
    rows = con.execute("""
        SELECT v.family_id, v.person_id, a.academic_year, a.term, v.record_date, a.school_urn,
               a.sessions_possible, a.sessions_unauthorised, a.sessions_authorised, a.fixed_exclusions,
               a.permanent_exclusion, a.provision, e.file_name, a.line_no, e.sha256
        FROM result_evidence v
        JOIN raw_attendance a USING (extract_id, line_no)
        JOIN extract_file e USING (extract_id)
        WHERE v.period = ? AND v.leg = 'education' AND v.window_name = 'term'
        ORDER BY v.family_id, v.person_id, v.record_date, a.school_urn""", [period]).fetchall()
    out = []
    for family_id, person_id, year, term, term_end, urn, possible, unauth, auth, fixed, perm, prov, f, line, sha in rows:
        for claim_id in claims_of.get(family_id, []):
            out.append([claim_id, family_id, person_id, year, term, term_end, urn, possible, unauth,
                        Pct(unauth / possible if possible else None), auth, fixed, perm, prov, f, line, sha])
    return out


SPELL_COLUMNS = ["claim_id", "family_id", "claim_type", "leg", "kind", "person_id", "source", "start_date",
                 "end_date", "detail", "file", "line", "sha256"]


def spell_rows(its: list[ClaimItem]) -> list[list]:
    """Route B's benefit spells covering A and its employment spell; progress to work's start."""
    kinds = {"at_attachment": "benefit spell covering A", "spell": "employment spell counted",
             "outcome": "provision start"}
    out = []
    for it in its:
        if it.claim_type not in ("route_b", "progress_to_work"):
            continue
        for r in it.evidence.get("records", []):
            if r.get("leg") != it.claim_type:
                continue
            if r.get("window") == "outcome":
                start, end = r.get("record_date"), None
            else:
                start, end = r.get("window_start"), r.get("window_end")
            out.append([it.claim_id, it.family_id, it.claim_type, r.get("leg"), kinds.get(r.get("window"), r.get("window")),
                        r.get("person_id"), r.get("source"), as_date(start), as_date(end), r.get("detail"),
                        r.get("file"), r.get("line"), r.get("sha256")])
    return out


SOURCE_COLUMNS = ["file", "sha256", "delivery_period", "rows", "claims"]


def source_rows(its: list[ClaimItem]) -> list[list]:
    seen: dict[tuple, set[str]] = {}
    for it in its:
        for s in it.evidence.get("sources", []):
            key = (s.get("file"), s.get("sha256"), s.get("delivery_period"), s.get("rows"))
            seen.setdefault(key, set()).add(it.claim_id)
    return [[f, sha, p, n, len(ids)] for (f, sha, p, n), ids in sorted(seen.items(), key=lambda kv: (str(kv[0][2]), str(kv[0][0])))]


def manifest_sha256(source_rows_: list[list]) -> str:
    """The SHA-256 of the input manifest: one line per file, 'delivery_period file sha256', sorted."""
    lines = sorted(f"{p} {f} {sha}" for f, sha, p, _n, _c in source_rows_)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
