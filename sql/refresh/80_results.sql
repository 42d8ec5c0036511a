-- Results at C = R for every attached family (rules.md, Results). Members are the family's
-- members at C (its last known members when it no longer forms a household).
-- Variables: ref_date, res_window_months, res_min_months, res_asb_types, res_asb_max_pct,
-- res_offence_types, res_off_max_pct, res_ptw_types, res_emp_types, res_long_benefits,
-- res_long_days, res_short_days, oow_benefits, adult_age_years, edu_*.

CREATE OR REPLACE TEMP TABLE res_family AS
SELECT a.family_id, a.case_ref, a.attached_date AS a_date, c.education AS edu_at_entry,
       add_months(a.attached_date, getvariable('res_min_months')) <= getvariable('ref_date') AS measurable,
       add_months(a.attached_date, -getvariable('res_window_months')) AS base_start,
       add_months(getvariable('ref_date'), -getvariable('res_window_months')) AS out_start
FROM attachment a JOIN cohort c USING (family_id);

CREATE OR REPLACE TEMP TABLE res_member AS
SELECT s.family_id, s.person_id, d.dob,
       getvariable('ref_date') < add_months(d.dob, 12 * getvariable('adult_age_years')) AS is_child
FROM family_snapshot s
JOIN res_family f USING (family_id)
LEFT JOIN person_dob d USING (person_id)
WHERE s.period <= getvariable('period')
QUALIFY dense_rank() OVER (PARTITION BY s.family_id ORDER BY s.period DESC) = 1;

-- ASB and offending events of members, tagged with the window they fall in.
CREATE OR REPLACE TEMP TABLE res_event AS
SELECT f.family_id, m.person_id, e.event_id, e.event_date, e.event_type, e.extract_id, e.line_no,
       CASE WHEN list_contains(getvariable('res_asb_types'), e.event_type) THEN 'asb'
            WHEN list_contains(getvariable('res_offence_types'), e.event_type)
                 AND e.event_date < add_months(m.dob, 12 * getvariable('adult_age_years')) THEN 'offending' END AS leg,
       CASE WHEN e.event_date > f.base_start AND e.event_date <= f.a_date THEN 'baseline' END AS in_base,
       CASE WHEN e.event_date > f.out_start AND e.event_date <= getvariable('ref_date') THEN 'outcome' END AS in_out
FROM res_family f
JOIN res_member m USING (family_id)
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'asb'
JOIN cur_asb e ON e.person_ref = x.source_key;

CREATE OR REPLACE TEMP TABLE res_counts AS
SELECT f.family_id,
       count(DISTINCT e.event_id) FILTER (WHERE e.leg = 'asb' AND e.in_base IS NOT NULL) AS asb_base,
       count(DISTINCT e.event_id) FILTER (WHERE e.leg = 'asb' AND e.in_out IS NOT NULL) AS asb_out,
       count(DISTINCT e.event_id) FILTER (WHERE e.leg = 'offending' AND e.in_base IS NOT NULL) AS off_base,
       count(DISTINCT e.event_id) FILTER (WHERE e.leg = 'offending' AND e.in_out IS NOT NULL) AS off_out
FROM res_family f LEFT JOIN res_event e USING (family_id)
GROUP BY f.family_id;

-- Education at C: each pupil member over the last 3 terms at C, the identification test reversed.
CREATE OR REPLACE TEMP TABLE res_pupil AS
SELECT m.family_id, p.*
FROM res_member m JOIN person_education p USING (person_id);

CREATE OR REPLACE TEMP TABLE res_education AS
SELECT f.family_id,
       (SELECT count(*) FROM term_end_calendar t WHERE t.term_end > f.a_date AND t.term_end <= getvariable('ref_date')) AS terms_since_a,
       count(p.person_id) AS pupils,
       count(p.person_id) FILTER (WHERE fails_education(p.permanent_exclusion, p.fixed_exclusions, p.possible,
                                                        p.unauthorised, p.latest_term_provision)) AS failing
FROM res_family f LEFT JOIN res_pupil p USING (family_id)
GROUP BY f.family_id, f.a_date;

-- Progress to work: an adult member started on a work-programme provision in (C - 6m, C], on or
-- after A. The earliest such start is the evidence.
CREATE OR REPLACE TEMP TABLE res_ptw AS
SELECT f.family_id, m.person_id, e.record_type, e.start_date, e.extract_id, e.line_no
FROM res_family f
JOIN res_member m USING (family_id)
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'employment'
JOIN cur_employment e ON e.person_key = x.source_key
WHERE NOT m.is_child
  AND list_contains(getvariable('res_ptw_types'), e.record_type)
  AND e.start_date > f.out_start AND e.start_date <= getvariable('ref_date')
  AND e.start_date >= f.a_date
QUALIFY row_number() OVER (PARTITION BY f.family_id ORDER BY e.start_date, m.person_id, e.record_type) = 1;

-- Route B: an adult member on an out-of-work benefit covering A who has left benefit into an
-- employment spell starting on or after A, with no out-of-work benefit covering any day of the
-- spell up to C, lasting long enough by C.
CREATE OR REPLACE TEMP TABLE res_oow_spell AS
SELECT m.family_id, m.person_id, b.benefit, b.start_date, b.end_date, b.extract_id, b.line_no
FROM res_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'benefits'
JOIN cur_benefits b ON b.person_key = x.source_key
WHERE list_contains(getvariable('oow_benefits'), b.benefit);

CREATE OR REPLACE TEMP TABLE res_rb_candidate AS
SELECT m.family_id, m.person_id,
       string_agg(DISTINCT s.benefit, ',' ORDER BY s.benefit) AS benefits_at_a,
       bool_or(list_contains(getvariable('res_long_benefits'), s.benefit)) AS long_required
FROM res_member m
JOIN res_family f USING (family_id)
JOIN res_oow_spell s ON s.family_id = m.family_id AND s.person_id = m.person_id
WHERE NOT m.is_child
  AND s.start_date <= f.a_date AND (s.end_date IS NULL OR s.end_date >= f.a_date)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE res_rb AS
WITH spell AS (
    SELECT c.family_id, c.person_id, c.benefits_at_a,
           CASE WHEN c.long_required THEN getvariable('res_long_days') ELSE getvariable('res_short_days') END AS required_days,
           e.start_date AS s, least(coalesce(e.end_date, getvariable('ref_date')), getvariable('ref_date')) AS e_end,
           e.extract_id, e.line_no
    FROM res_rb_candidate c
    JOIN res_family f USING (family_id)
    JOIN person_xwalk x ON x.person_id = c.person_id AND x.source = 'employment'
    JOIN cur_employment e ON e.person_key = x.source_key
    WHERE list_contains(getvariable('res_emp_types'), e.record_type)
      AND e.start_date >= f.a_date AND e.start_date <= getvariable('ref_date')
)
SELECT sp.*, date_diff('day', sp.s, sp.e_end) AS days
FROM spell sp
WHERE date_diff('day', sp.s, sp.e_end) >= sp.required_days
  AND NOT EXISTS (
      SELECT 1 FROM res_oow_spell b
      WHERE b.family_id = sp.family_id AND b.person_id = sp.person_id
        AND b.start_date <= sp.e_end AND (b.end_date IS NULL OR b.end_date >= sp.s))
QUALIFY row_number() OVER (PARTITION BY sp.family_id ORDER BY sp.s, sp.person_id) = 1;

CREATE OR REPLACE TEMP TABLE res_legs AS
SELECT f.family_id, f.case_ref, f.a_date, f.measurable, f.edu_at_entry,
       c.asb_base, c.asb_out, c.off_base, c.off_out,
       ed.terms_since_a, ed.pupils, ed.failing,
       CASE WHEN c.asb_base > 0 THEN
                CASE WHEN c.asb_out * 100 <= getvariable('res_asb_max_pct') * c.asb_base THEN 'pass' ELSE 'fail' END
            WHEN c.asb_out > 0 THEN 'fail' ELSE 'neutral' END AS asb_leg,
       CASE WHEN c.off_base > 0 THEN
                CASE WHEN c.off_out * 100 <= getvariable('res_off_max_pct') * c.off_base THEN 'pass' ELSE 'fail' END
            WHEN c.off_out > 0 THEN 'fail' ELSE 'neutral' END AS offending_leg,
       CASE WHEN f.edu_at_entry THEN
                CASE WHEN ed.terms_since_a < getvariable('res_edu_terms') THEN 'pending'
                     WHEN ed.failing = 0 THEN 'pass' ELSE 'fail' END
            WHEN ed.failing > 0 THEN 'fail' ELSE 'neutral' END AS education_leg
FROM res_family f
JOIN res_counts c USING (family_id)
JOIN res_education ed USING (family_id);

INSERT INTO family_result
SELECT getvariable('period'), l.family_id, l.a_date, l.measurable,
       l.asb_leg, l.asb_base, l.asb_out, l.offending_leg, l.off_base, l.off_out,
       l.education_leg, l.terms_since_a, l.pupils, l.failing,
       l.measurable
         AND l.asb_leg IN ('pass', 'neutral') AND l.offending_leg IN ('pass', 'neutral')
         AND l.education_leg IN ('pass', 'neutral')
         AND 'pass' IN (l.asb_leg, l.offending_leg, l.education_leg) AS route_a,
       l.measurable AND p.family_id IS NOT NULL, p.person_id, p.record_type, p.start_date,
       l.measurable AND b.family_id IS NOT NULL, b.person_id, b.benefits_at_a, b.s, b.e_end, b.days, b.required_days
FROM res_legs l
LEFT JOIN res_ptw p USING (family_id)
LEFT JOIN res_rb b USING (family_id);

-- The records behind the counts, for the claim evidence.
INSERT INTO result_evidence
SELECT getvariable('period'), e.family_id, e.leg, w.window_name,
       CASE w.window_name WHEN 'baseline' THEN f.base_start ELSE f.out_start END,
       CASE w.window_name WHEN 'baseline' THEN f.a_date ELSE getvariable('ref_date') END,
       e.person_id, 'asb', e.extract_id, e.line_no, e.event_date, e.event_type || ' event ' || e.event_id
FROM res_event e
JOIN res_family f USING (family_id)
JOIN (SELECT 'baseline' AS window_name UNION ALL SELECT 'outcome') w
  ON (w.window_name = 'baseline' AND e.in_base IS NOT NULL) OR (w.window_name = 'outcome' AND e.in_out IS NOT NULL)
WHERE e.leg IS NOT NULL;

INSERT INTO result_evidence
SELECT getvariable('period'), p.family_id, 'education', 'outcome', getvariable('edu_window_start'), getvariable('ref_date'),
       p.person_id, 'attendance', NULL, NULL, NULL,
       'possible ' || p.possible || ', unauthorised ' || p.unauthorised || ' (' ||
       CASE WHEN p.possible > 0 THEN round(100.0 * p.unauthorised / p.possible, 1) || '%' ELSE 'not assessed' END ||
       '), fixed-term exclusions ' || p.fixed_exclusions || ', permanent exclusion ' ||
       CASE WHEN p.permanent_exclusion THEN 'yes' ELSE 'no' END ||
       CASE WHEN p.latest_term_provision THEN ', pru/alternative provision/not on roll in the latest term' ELSE '' END
FROM res_pupil p;

INSERT INTO result_evidence
SELECT getvariable('period'), p.family_id, 'progress_to_work', 'outcome', f.out_start, getvariable('ref_date'),
       p.person_id, 'employment', p.extract_id, p.line_no, p.start_date, p.record_type || ' started ' || p.start_date
FROM res_ptw p JOIN res_family f USING (family_id);

INSERT INTO result_evidence
SELECT getvariable('period'), s.family_id, 'route_b', 'at_attachment', s.start_date, s.end_date,
       s.person_id, 'benefits', s.extract_id, s.line_no, s.start_date,
       s.benefit || ' spell ' || s.start_date || coalesce(' to ' || s.end_date, ' (open)') || ' covering A'
FROM res_oow_spell s JOIN res_family f USING (family_id)
JOIN res_rb r ON r.family_id = s.family_id AND r.person_id = s.person_id
WHERE s.start_date <= f.a_date AND (s.end_date IS NULL OR s.end_date >= f.a_date);

INSERT INTO result_evidence
SELECT getvariable('period'), r.family_id, 'route_b', 'spell', r.s, r.e_end, r.person_id, 'employment',
       r.extract_id, r.line_no, r.s,
       'employment from ' || r.s || ' counted to ' || r.e_end || ': ' || r.days || ' days (needs ' || r.required_days ||
       ', benefit at A: ' || r.benefits_at_a || '), no out-of-work benefit in that time'
FROM res_rb r;

-- The extract files behind each attached family's evidence: the counted records, the case's
-- interventions rows, and the attendance rows of the terms assessed.
CREATE OR REPLACE TEMP TABLE family_source_extract AS
SELECT DISTINCT family_id, extract_id FROM result_evidence
WHERE period = getvariable('period') AND extract_id IS NOT NULL
UNION
SELECT a.family_id, i.extract_id
FROM attachment a JOIN cur_interventions i USING (case_ref)
UNION
SELECT m.family_id, t.extract_id
FROM res_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'attendance'
JOIN cur_attendance t ON t.upn = x.source_key
JOIN last_terms lt ON lt.academic_year = t.academic_year AND lt.term = t.term;

-- Per pupil and term: the attendance rows behind the education leg's totals (the last terms at C),
-- kept so the claim workbook's Attendance sheet can show each term's figures from its record.
INSERT INTO result_evidence
SELECT getvariable('period'), m.family_id, 'education', 'term', lt.term_end, lt.term_end,
       m.person_id, 'attendance', t.extract_id, t.line_no, lt.term_end,
       t.term || ' ' || t.academic_year || ' at school ' || t.school_urn
FROM res_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'attendance'
JOIN cur_attendance t ON t.upn = x.source_key
JOIN last_terms lt ON lt.academic_year = t.academic_year AND lt.term = t.term;
