-- Record every family's criteria at R, enter newly qualifying families into the cohort with their
-- baseline frozen, and keep the evidence behind each cohort family's flags.

INSERT INTO family_status
SELECT getvariable('period'), family_id, address_id, members, children, crime_asb, education, work,
       local_area, local_benefit_cap, local_discretion, route
FROM family_criteria;

INSERT INTO cohort
SELECT family_id, getvariable('period'), route, crime_asb, education, work, local_discretion,
       getvariable('rulebook_name'), getvariable('rulebook_version'), getvariable('run_id')
FROM family_criteria
WHERE route IS NOT NULL AND family_id NOT IN (SELECT family_id FROM cohort);

INSERT INTO criteria_evidence
SELECT getvariable('period'), e.family_id, e.criterion, e.person_id, e.source, e.extract_id, e.line_no,
       e.window_start, getvariable('ref_date'), e.record_date, e.detail
FROM (
    SELECT *, 'crime_asb' AS criterion,
           add_months(getvariable('ref_date'), -getvariable('window_months')) AS window_start FROM ev_crime_asb
    UNION ALL BY NAME
    SELECT *, 'education' AS criterion, getvariable('edu_window_start') AS window_start FROM ev_education
    UNION ALL BY NAME
    SELECT *, 'work' AS criterion, getvariable('ref_date') AS window_start FROM ev_work
    UNION ALL BY NAME
    SELECT *, 'local_area' AS criterion, getvariable('ref_date') AS window_start FROM ev_local_area
    UNION ALL BY NAME
    SELECT *, 'local_benefit_cap' AS criterion, getvariable('ref_date') AS window_start FROM ev_local_benefit_cap
) e
WHERE e.family_id IN (SELECT family_id FROM cohort);
