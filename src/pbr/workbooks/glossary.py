"""Plain-English explanations of every column of the workbooks (the Glossary sheets)."""

from __future__ import annotations

CLAIMS: dict[str, str] = {
    "batch_id": "The claim batch: B, the period, then its number in that period (B2026-11-1).",
    "claim_id": "The claim item's id, unique across all batches.",
    "case_ref": "The authority's case reference (interventions file) the claim is reported against.",
    "family_id": "pbr's stable family id (no personal data).",
    "claim_type": "attachment_fee, route_a (crime/ASB and education results), progress_to_work, or route_b "
                  "(continuous employment).",
    "amount": "The amount claimed (GBP), from the rulebook's payment table for the financial year of A, "
              "trimmed by the per-family cap.",
    "period": "The refresh period (YYYY-MM) that built the batch; C is its last day.",
    "batch_state": "draft, audited, submitted or paid.",
    "attached_date": "A: the date the family counts as attached (the case's date, or the reference date "
                     "of the refresh in which the family entered the cohort when later).",
    "case_attached_date": "The earliest attached_date among the case's rows in the interventions file.",
    "financial_year": "The financial year (April to March) of A, which sets the amounts.",
    "identified_period": "The refresh period in which the family entered the cohort.",
    "route": "The identification route: how the family met the criteria.",
    "asb_leg": "Verdict of the anti-social behaviour leg: pass, fail or neutral.",
    "asb_baseline_window": "The 6 months up to A: (A - 6 months, A], the first date excluded.",
    "asb_baseline_count": "Distinct ASB events of the family's members in the baseline window.",
    "asb_outcome_window": "The 6 months up to C: (C - 6 months, C], the first date excluded.",
    "asb_outcome_count": "Distinct ASB events of the family's members in the outcome window.",
    "asb_outcome_pct": "Outcome count as a percentage of the baseline count.",
    "asb_threshold_pct": "The leg passes when the outcome is at most this percentage of the baseline.",
    "offending_leg": "Verdict of the youth offending leg (offences committed under 18): pass, fail or neutral.",
    "offending_baseline_window": "As for ASB: (A - 6 months, A].",
    "offending_baseline_count": "Distinct proven offences committed under 18 in the baseline window.",
    "offending_outcome_window": "As for ASB: (C - 6 months, C].",
    "offending_outcome_count": "Distinct proven offences committed under 18 in the outcome window.",
    "offending_outcome_pct": "Outcome count as a percentage of the baseline count.",
    "offending_threshold_pct": "The leg passes when the outcome is at most this percentage of the baseline.",
    "education_leg": "Verdict of the education leg: pass, fail, neutral or pending.",
    "education_applies": "Whether the education criterion was met when the family entered the cohort.",
    "education_terms_since_attachment": "School terms ended after A and on or before C.",
    "education_pupils_assessed": "Pupil members with attendance in the last terms at C.",
    "education_pupils_failing": "Of those, pupils who would still meet the education criterion.",
    "ptw_person_id": "Progress to work: the adult member who started a work-programme provision.",
    "ptw_record_type": "Progress to work: the provision (work_programme or esf_families).",
    "ptw_start_date": "Progress to work: the start date, in (C - 6 months, C] and on or after A.",
    "route_b_person_id": "Route B: the adult member on an out-of-work benefit at A who moved into work.",
    "route_b_benefits_at_attachment": "Route B: the out-of-work benefit(s) covering A.",
    "route_b_employment_start": "Route B: the first day of the employment spell (on or after A).",
    "route_b_counted_to": "Route B: the spell's last day counted (its end, or C).",
    "route_b_days": "Route B: counted_to minus start, in days.",
    "route_b_required_days": "Route B: days required: 182 (26 weeks) after JSA or UC searching, otherwise 91.",
    "audit_sample": "Whether the item is in the audit sample drawn with the batch's seed.",
    "sample_seed": "The seed of the audit sample draw (derived from the batch id).",
    "anomaly_flags": "Reasons for audit to look closer (semicolon-separated); empty when none.",
    "decision": "Internal audit's decision once made: approved or rejected.",
    "decision_note": "Internal audit's note on the decision.",
    "decided_by": "Who recorded the decision.",
    "decided_at": "When the decision was recorded (UTC).",
    "source_files": "The extract files behind the claim's evidence, with delivery period and SHA-256.",
    "rulebook_name": "The rulebook the batch was built with.",
    "rulebook_version": "Its version.",
}

EVIDENCE: dict[str, str] = {
    "leg": "attachment, asb, offending, education, progress_to_work or route_b.",
    "verdict": "pass, fail, neutral or pending (route A legs); met (progress to work, route B, attachment).",
    "baseline_from": "Start of the baseline window, excluded: A - 6 months.",
    "baseline_to": "End of the baseline window, included: A.",
    "baseline_count": "Distinct events counted in the baseline window (an event naming several members "
                      "counts once; Records lists it once per member).",
    "outcome_from": "Start of the outcome window, excluded: C - 6 months.",
    "outcome_to": "End of the outcome window, included: C.",
    "outcome_count": "Records counted in the outcome window (education: pupils failing).",
    "outcome_pct_of_baseline": "outcome_count / baseline_count.",
    "threshold_pct": "A leg passes when outcome_pct_of_baseline is at most this.",
    "person_id": "The member whose record meets the measure (progress to work, route B).",
    "start_date": "Progress to work: the provision's start. Route B: the employment spell's start.",
    "end_date": "Route B: the last day counted (the spell's end, or C).",
    "days": "Route B: end_date - start_date in days.",
    "required_days": "Route B: the days the rulebook requires.",
    "why": "The verdict in words, from the figures on the row.",
}

ATTENDANCE: dict[str, str] = {
    "person_id": "The pupil (pbr person id; no UPN).",
    "academic_year": "Academic year of the term (2012/13).",
    "term": "autumn, spring or summer.",
    "term_end": "The term's last day (rulebook calendar).",
    "school_urn": "The school's URN as delivered.",
    "sessions_possible": "Sessions the pupil could attend in the term.",
    "sessions_unauthorised": "Sessions missed without authorisation.",
    "unauthorised_pct": "sessions_unauthorised / sessions_possible for the term (the test adds the terms up).",
    "sessions_authorised": "Sessions missed with authorisation (not used by the rules).",
    "fixed_exclusions": "Fixed-term exclusions in the term.",
    "permanent_exclusion": "Excluded permanently in the term.",
    "provision": "mainstream, pru, alternative_provision or not_on_roll.",
}

RECORDS: dict[str, str] = {
    "window": "baseline, outcome, at_attachment (a benefit spell covering A), spell (the employment "
              "spell), term (a term's attendance) or case (the interventions row attaching the family).",
    "window_start": "The window's first date (for baseline and outcome windows it is excluded); a "
                    "spell's start.",
    "window_end": "The window's last date, included; a spell's end (empty while open).",
    "source": "The contract source the record came from.",
    "record_date": "The record's date (event date, start date, term end, attached date).",
    "detail": "What the record says, without personal data.",
    "file": "The extract file the record was loaded from.",
    "line": "Its line in that file (header = line 1) or row in a database result.",
    "sha256": "The SHA-256 of the extract file (compare with the file you hold).",
}

SOURCES: dict[str, str] = {
    "delivery_period": "The period whose delivery brought the file.",
    "rows": "Rows loaded from the file.",
    "claims": "How many claim items of this workbook draw on the file.",
}

SHEETS: dict[str, str] = {
    "Summary": "Batch, rulebook and run; counts and amounts by claim type as live formulas over Claims, "
               "beside pbr's own figures, and whether they agree.",
    "Claims": "One row per claim item: claims.csv's columns (the contract's, then the evidence).",
    "Evidence": "Each claim item's legs: windows, counts, percentage, threshold, verdict and why.",
    "Attendance": "Per pupil and term, the attendance records behind each route A claim's education leg.",
    "Spells": "Benefit and employment spells behind route B claims; programme starts behind progress to work.",
    "Records": "Every source record behind each claim, with its file, line and SHA-256.",
    "Audit sample": "The sampled items and the anomaly-flagged items, with the seed.",
    "Sources": "Every extract file behind the batch with its SHA-256, delivery period and rows.",
    "Rules": "The rulebook's name, version, SHA-256 and every value in it.",
    "People": "Only in the identities copy: names and dates of birth of the members (restricted).",
}

COHORT: dict[str, str] = {
    "family_id": "pbr's stable family id.",
    "identified_period": "The refresh period in which the family entered the cohort.",
    "route": "How the family met the criteria at entry.",
    "crime_asb": "Met the crime/ASB criterion at entry.",
    "education": "Met the education criterion at entry.",
    "work": "Met the work criterion at entry.",
    "local_discretion": "Met a local-discretion filter at entry.",
    "still_meets_criteria": "Whether the family meets the criteria at this refresh.",
    "case_ref": "The attached case (empty when not attached).",
    "attached_date": "A: the attachment date (empty when not attached).",
    "members": "Members (pbr person ids) at this refresh, or as last known.",
    "new_this_month": "Entered the cohort at this refresh.",
    "person_id": "pbr's stable person id.",
    "source": "The source a record key of the person came from.",
    "source_key": "Only in the identities copy: the key itself (UPN, NINO, person ref).",
}


def rows(*tables: dict[str, str]) -> list[list[str]]:
    seen: dict[str, str] = {}
    for t in tables:
        for k, v in t.items():
            seen.setdefault(k, v)
    return [[k, v] for k, v in seen.items()]
