-- Households at R: each person lives where their most recent record dated on or before R says.
-- Ties on a date go to interventions, benefits, employment, attendance, asb; then the later
-- delivery; then the later row of the file.

CREATE OR REPLACE TEMP TABLE household_member AS
SELECT p.person_id, p.address_id, d.dob,
       getvariable('ref_date') < add_months(d.dob, 12 * getvariable('adult_age_years')) AS is_child
FROM person_record p
LEFT JOIN person_dob d USING (person_id)
WHERE p.record_date <= getvariable('ref_date')
QUALIFY row_number() OVER (
    PARTITION BY p.person_id
    ORDER BY p.record_date DESC, p.source_rank, p.delivery_period DESC, p.extract_id DESC, p.line_no DESC) = 1;

-- Families: households with at least one child at R. family_key is provisional; stable family
-- ids are assigned next by overlap with earlier refreshes.
CREATE OR REPLACE TEMP TABLE family_at_r AS
SELECT address_id, person_id, is_child, dob
FROM household_member
WHERE address_id IN (SELECT address_id FROM household_member WHERE is_child);
