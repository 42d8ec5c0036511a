-- The three national criteria and local discretion at R for every family (rules.md,
-- Identification). Each criterion keeps the records behind it as evidence.
-- Variables: ref_date, window_months, offence_types, asb_intervention_types, edu_fixed_min,
-- edu_unauth_pct, edu_provisions, oow_benefits, filter_areas, filter_benefit_cap.

-- 1. Crime / ASB: a proven offence committed under 18, or an ASB intervention, in (R - 12m, R].
CREATE OR REPLACE TEMP TABLE ev_crime_asb AS
SELECT m.family_id, m.person_id, 'asb' AS source, a.extract_id, a.line_no, a.event_date AS record_date,
       a.event_type || ' event ' || a.event_id AS detail
FROM family_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'asb'
JOIN cur_asb a ON a.person_ref = x.source_key
WHERE a.event_date > add_months(getvariable('ref_date'), -getvariable('window_months'))
  AND a.event_date <= getvariable('ref_date')
  AND (
        list_contains(getvariable('asb_intervention_types'), a.event_type)
     OR (list_contains(getvariable('offence_types'), a.event_type)
         AND a.event_date < add_months(m.dob, 12 * getvariable('adult_age_years')))
  );

-- 2. Education over the last 3 terms at R, per pupil, several schools' rows adding up. One row
-- per person with attendance in those terms; the results step (C = R) reads it too.
CREATE OR REPLACE TEMP TABLE person_education AS
SELECT x.person_id,
       sum(t.sessions_possible) AS possible,
       sum(t.sessions_unauthorised) AS unauthorised,
       sum(t.fixed_exclusions) AS fixed_exclusions,
       bool_or(t.permanent_exclusion) AS permanent_exclusion,
       bool_or(lt.term_rank = 1 AND list_contains(getvariable('edu_provisions'), t.provision)) AS latest_term_provision
FROM person_xwalk x
JOIN cur_attendance t ON x.source = 'attendance' AND t.upn = x.source_key
JOIN last_terms lt ON lt.academic_year = t.academic_year AND lt.term = t.term
GROUP BY x.person_id;

-- The identification test; the results' education leg is this test reversed.
CREATE OR REPLACE TEMP MACRO fails_education(permanent_exclusion, fixed_exclusions, possible, unauthorised,
                                             latest_term_provision) AS
    permanent_exclusion
    OR fixed_exclusions >= getvariable('edu_fixed_min')
    OR (possible > 0 AND unauthorised * 100 >= getvariable('edu_unauth_pct') * possible)
    OR latest_term_provision;

CREATE OR REPLACE TEMP TABLE pupil_terms AS
SELECT m.family_id, p.*
FROM family_member m JOIN person_education p USING (person_id);

CREATE OR REPLACE TEMP TABLE ev_education AS
SELECT family_id, person_id, 'attendance' AS source, NULL::INTEGER AS extract_id, NULL::BIGINT AS line_no,
       NULL::DATE AS record_date,
       concat_ws('; ',
           CASE WHEN permanent_exclusion THEN 'permanent exclusion' END,
           CASE WHEN fixed_exclusions >= getvariable('edu_fixed_min')
                THEN fixed_exclusions || ' fixed-term exclusions' END,
           CASE WHEN possible > 0 AND unauthorised * 100 >= getvariable('edu_unauth_pct') * possible
                THEN 'unauthorised absence ' || unauthorised || '/' || possible || ' sessions ('
                     || round(100.0 * unauthorised / possible, 1) || '%)' END,
           CASE WHEN latest_term_provision THEN 'pru/alternative provision/not on roll in the latest term' END
       ) || ' over the last 3 terms' AS detail
FROM pupil_terms
WHERE fails_education(permanent_exclusion, fixed_exclusions, possible, unauthorised, latest_term_provision);

-- 3. Work: an adult with an out-of-work benefit spell covering R.
CREATE OR REPLACE TEMP TABLE ev_work AS
SELECT m.family_id, m.person_id, 'benefits' AS source, b.extract_id, b.line_no, b.start_date AS record_date,
       b.benefit || ' spell from ' || b.start_date || coalesce(' to ' || b.end_date, ' (open)') AS detail
FROM family_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'benefits'
JOIN cur_benefits b ON b.person_key = x.source_key
WHERE NOT m.is_child
  AND list_contains(getvariable('oow_benefits'), b.benefit)
  AND b.start_date <= getvariable('ref_date')
  AND (b.end_date IS NULL OR b.end_date >= getvariable('ref_date'));

-- 4a. Local discretion by area: the household postcode's district, sector or full postcode.
-- (Each postcode's three keys are unnested and equi-joined to the list: a join on
-- `area IN (pc, district, sector)` is a nested loop over families x listed areas, 15 s at region
-- scale against 0.2 s at authority. list_distinct keeps one row per listed area, as IN did, where
-- two keys coincide, and drops NULLs, which IN never matched.)
CREATE OR REPLACE TEMP TABLE ev_local_area AS
SELECT f.family_id, NULL::VARCHAR AS person_id, 'areas' AS source, NULL::INTEGER AS extract_id,
       NULL::BIGINT AS line_no, NULL::DATE AS record_date,
       'household postcode in listed area ' || ar.area AS detail
FROM (SELECT DISTINCT family_id, address_id FROM family_member) f
JOIN (SELECT address_id, unnest(list_distinct([pc, pc_district(pc), pc_sector(pc)])) AS area
      FROM address_postcode) p USING (address_id)
JOIN cur_areas ar ON ar.area = p.area
WHERE getvariable('filter_areas');

-- 4b. Local discretion by benefit cap: any member's benefit spell covering R flagged as capped.
CREATE OR REPLACE TEMP TABLE ev_local_benefit_cap AS
SELECT m.family_id, m.person_id, 'benefits' AS source, b.extract_id, b.line_no, b.start_date AS record_date,
       b.benefit || ' spell from ' || b.start_date || ' affected by the benefit cap' AS detail
FROM family_member m
JOIN person_xwalk x ON x.person_id = m.person_id AND x.source = 'benefits'
JOIN cur_benefits b ON b.person_key = x.source_key
WHERE getvariable('filter_benefit_cap')
  AND b.benefit_cap
  AND b.start_date <= getvariable('ref_date')
  AND (b.end_date IS NULL OR b.end_date >= getvariable('ref_date'));

CREATE OR REPLACE TEMP TABLE family_criteria AS
WITH fam AS (
    SELECT family_id, any_value(address_id) AS address_id, count(*) AS members, count(*) FILTER (WHERE is_child) AS children
    FROM family_member GROUP BY family_id
), flags AS (
    SELECT f.*,
        family_id IN (SELECT family_id FROM ev_crime_asb) AS crime_asb,
        family_id IN (SELECT family_id FROM ev_education) AS education,
        family_id IN (SELECT family_id FROM ev_work) AS work,
        family_id IN (SELECT family_id FROM ev_local_area) AS local_area,
        family_id IN (SELECT family_id FROM ev_local_benefit_cap) AS local_benefit_cap
    FROM fam f
)
SELECT *, local_area OR local_benefit_cap AS local_discretion,
       CASE WHEN crime_asb::INT + education::INT + work::INT = 3 THEN 'three_criteria'
            WHEN crime_asb::INT + education::INT + work::INT = 2 AND (local_area OR local_benefit_cap)
                 THEN 'two_plus_local' END AS route
FROM flags;
