-- The rows in force at this refresh: extracts delivered up to the period and not replaced by a
-- corrected file; per natural key the row of the latest delivery supersedes earlier ones.
-- (Per key the row with the greatest (delivery_period, extract_id, line_no): one hash aggregate
-- picks its (extract_id, line_no), the table's primary key, where a window sorted every live row;
-- the same rows, as the key is unique.)

CREATE OR REPLACE TEMP TABLE live_extract AS
SELECT extract_id, source, delivery_period
FROM extract_file
WHERE replaced_by IS NULL AND delivery_period <= getvariable('period');

CREATE OR REPLACE TEMP TABLE cur_attendance AS
WITH latest AS (
    SELECT arg_max((r.extract_id, r.line_no), (r.delivery_period, r.extract_id, r.line_no)) AS row_id
    FROM raw_attendance r
    JOIN live_extract USING (extract_id)
    JOIN term_calendar c USING (academic_year, term)
    GROUP BY r.upn, r.academic_year, r.term, r.school_urn)
SELECT r.*, c.term_end
FROM raw_attendance r
JOIN live_extract USING (extract_id)
JOIN term_calendar c USING (academic_year, term)
SEMI JOIN latest ON latest.row_id = (r.extract_id, r.line_no);

CREATE OR REPLACE TEMP TABLE cur_asb AS
WITH latest AS (
    SELECT arg_max((r.extract_id, r.line_no), (r.delivery_period, r.extract_id, r.line_no)) AS row_id
    FROM raw_asb r JOIN live_extract USING (extract_id)
    GROUP BY r.event_id, r.person_ref)
SELECT r.*
FROM raw_asb r JOIN live_extract USING (extract_id)
SEMI JOIN latest ON latest.row_id = (r.extract_id, r.line_no);

CREATE OR REPLACE TEMP TABLE cur_benefits AS
WITH latest AS (
    SELECT arg_max((r.extract_id, r.line_no), (r.delivery_period, r.extract_id, r.line_no)) AS row_id
    FROM raw_benefits r JOIN live_extract USING (extract_id)
    GROUP BY r.person_key, r.benefit, r.start_date)
SELECT r.*
FROM raw_benefits r JOIN live_extract USING (extract_id)
SEMI JOIN latest ON latest.row_id = (r.extract_id, r.line_no);

CREATE OR REPLACE TEMP TABLE cur_employment AS
WITH latest AS (
    SELECT arg_max((r.extract_id, r.line_no), (r.delivery_period, r.extract_id, r.line_no)) AS row_id
    FROM raw_employment r JOIN live_extract USING (extract_id)
    GROUP BY r.person_key, r.record_type, r.start_date)
SELECT r.*
FROM raw_employment r JOIN live_extract USING (extract_id)
SEMI JOIN latest ON latest.row_id = (r.extract_id, r.line_no);

CREATE OR REPLACE TEMP TABLE cur_interventions AS
WITH latest AS (
    SELECT arg_max((r.extract_id, r.line_no), (r.delivery_period, r.extract_id, r.line_no)) AS row_id
    FROM raw_interventions r JOIN live_extract USING (extract_id)
    GROUP BY r.case_ref, r.person_ref)
SELECT r.*
FROM raw_interventions r JOIN live_extract USING (extract_id)
SEMI JOIN latest ON latest.row_id = (r.extract_id, r.line_no);

-- The areas reference list is a snapshot: the latest delivered file is the whole list.
CREATE OR REPLACE TEMP TABLE cur_areas AS
SELECT DISTINCT upper(trim(regexp_replace(area, '\s+', ' ', 'g'))) AS area
FROM raw_areas
WHERE extract_id = (SELECT max(extract_id) FROM live_extract WHERE source = 'areas');
