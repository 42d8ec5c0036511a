-- The rows in force at this refresh: extracts delivered up to the period and not replaced by a
-- corrected file; per natural key the row of the latest delivery supersedes earlier ones.

CREATE OR REPLACE TEMP TABLE live_extract AS
SELECT extract_id, source, delivery_period
FROM extract_file
WHERE replaced_by IS NULL AND delivery_period <= getvariable('period');

CREATE OR REPLACE TEMP TABLE cur_attendance AS
SELECT r.*, c.term_end
FROM raw_attendance r
JOIN live_extract USING (extract_id)
JOIN term_calendar c USING (academic_year, term)
QUALIFY row_number() OVER (
    PARTITION BY r.upn, r.academic_year, r.term, r.school_urn
    ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1;

CREATE OR REPLACE TEMP TABLE cur_asb AS
SELECT r.*
FROM raw_asb r JOIN live_extract USING (extract_id)
QUALIFY row_number() OVER (
    PARTITION BY r.event_id, r.person_ref
    ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1;

CREATE OR REPLACE TEMP TABLE cur_benefits AS
SELECT r.*
FROM raw_benefits r JOIN live_extract USING (extract_id)
QUALIFY row_number() OVER (
    PARTITION BY r.person_key, r.benefit, r.start_date
    ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1;

CREATE OR REPLACE TEMP TABLE cur_employment AS
SELECT r.*
FROM raw_employment r JOIN live_extract USING (extract_id)
QUALIFY row_number() OVER (
    PARTITION BY r.person_key, r.record_type, r.start_date
    ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1;

CREATE OR REPLACE TEMP TABLE cur_interventions AS
SELECT r.*
FROM raw_interventions r JOIN live_extract USING (extract_id)
QUALIFY row_number() OVER (
    PARTITION BY r.case_ref, r.person_ref
    ORDER BY r.delivery_period DESC, r.extract_id DESC, r.line_no DESC) = 1;

-- The areas reference list is a snapshot: the latest delivered file is the whole list.
CREATE OR REPLACE TEMP TABLE cur_areas AS
SELECT DISTINCT upper(trim(regexp_replace(area, '\s+', ' ', 'g'))) AS area
FROM raw_areas
WHERE extract_id = (SELECT max(extract_id) FROM live_extract WHERE source = 'areas');
