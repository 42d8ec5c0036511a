-- Attachment (rules.md, Attachment): a case attaches the cohort family holding most of its linked
-- members at R; a family's counting case is its earliest-attached one; attachments are kept.

CREATE OR REPLACE TEMP TABLE case_in_force AS
SELECT case_ref, min(attached_date) AS case_attached_date
FROM cur_interventions GROUP BY case_ref
HAVING min(attached_date) <= getvariable('ref_date');

CREATE OR REPLACE TEMP TABLE case_person AS
SELECT DISTINCT i.case_ref, x.person_id
FROM cur_interventions i
JOIN person_xwalk x ON x.source = 'interventions' AND x.source_key = i.person_ref
WHERE i.case_ref IN (SELECT case_ref FROM case_in_force);

CREATE OR REPLACE TEMP TABLE case_family_share AS
SELECT cp.case_ref, fm.family_id, count(*) AS members
FROM case_person cp
JOIN family_member fm USING (person_id)
JOIN cohort c ON c.family_id = fm.family_id
GROUP BY ALL;

-- The family a case attaches: the one holding strictly most of its members.
CREATE OR REPLACE TEMP TABLE case_target AS
SELECT case_ref, family_id, members,
       count(*) OVER (PARTITION BY case_ref, members) AS tied,
       count(*) OVER (PARTITION BY case_ref) AS families
FROM case_family_share
QUALIFY rank() OVER (PARTITION BY case_ref ORDER BY members DESC) = 1;

INSERT INTO case_report
SELECT getvariable('period'), c.case_ref, 'no_cohort_family', NULL,
       'no member of the case is in a cohort family at R'
FROM case_in_force c
WHERE c.case_ref NOT IN (SELECT case_ref FROM case_family_share);

INSERT INTO case_report
SELECT getvariable('period'), case_ref, 'spread_over_families', NULL,
       'members spread equally over ' || tied || ' cohort families (' ||
       string_agg(family_id, ', ' ORDER BY family_id) || '): attach by hand or correct the case'
FROM case_target WHERE tied > 1
GROUP BY case_ref, tied;

CREATE OR REPLACE TEMP TABLE family_case AS
SELECT t.family_id, t.case_ref, c.case_attached_date
FROM case_target t JOIN case_in_force c USING (case_ref)
WHERE t.tied = 1;

-- New attachments: cohort families with a case and no attachment yet. A family attached before it
-- entered the cohort is attached from its entry refresh: A is then that refresh's R.
INSERT INTO attachment
SELECT fc.family_id, fc.case_ref, fc.case_attached_date,
       greatest(fc.case_attached_date, last_day(CAST(co.identified_period || '-01' AS DATE))),
       getvariable('period'), getvariable('run_id')
FROM family_case fc
JOIN cohort co USING (family_id)
WHERE fc.family_id NOT IN (SELECT family_id FROM attachment)
QUALIFY row_number() OVER (PARTITION BY fc.family_id ORDER BY fc.case_attached_date, fc.case_ref) = 1;

INSERT INTO case_report
SELECT getvariable('period'), fc.case_ref, 'family_attached_by_other_case', fc.family_id,
       'family ' || fc.family_id || ' counts case attached ' || a.case_attached_date || ' instead'
FROM family_case fc
JOIN attachment a USING (family_id)
WHERE fc.case_ref <> a.case_ref;
