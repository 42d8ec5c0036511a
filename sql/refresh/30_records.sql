-- Current rows with their person and dwelling, and each record's date for household formation
-- (rules.md, Household at R): attendance = term end; ASB = event date; benefit and employment
-- spells = start date, or end date when that is on or before R; interventions = attached date.

CREATE OR REPLACE TEMP TABLE person_record AS
-- (NOT MATERIALIZED: read twice, the five tables' union costs less scanned again than copied,
-- ≈1.0 -> 0.5 s at authority scale)
WITH rows AS NOT MATERIALIZED (
    SELECT 'attendance' AS source, upn AS source_key, term_end AS record_date,
           delivery_period, extract_id, line_no, address, postcode, dob
    FROM cur_attendance
    UNION ALL
    SELECT 'asb', person_ref, event_date, delivery_period, extract_id, line_no, address, postcode, dob
    FROM cur_asb
    UNION ALL
    SELECT 'benefits', person_key,
           CASE WHEN end_date <= getvariable('ref_date') THEN end_date ELSE start_date END,
           delivery_period, extract_id, line_no, address, postcode, dob
    FROM cur_benefits
    UNION ALL
    SELECT 'employment', person_key,
           CASE WHEN end_date <= getvariable('ref_date') THEN end_date ELSE start_date END,
           delivery_period, extract_id, line_no, address, postcode, dob
    FROM cur_employment
    UNION ALL
    SELECT 'interventions', person_ref, attached_date, delivery_period, extract_id, line_no, address, postcode, dob
    FROM cur_interventions
)
-- (standardised once per distinct raw address and postcode, not once per row: looked up in the
-- memo tables pbr.memo built from every live raw row, which these current rows are among)
, address_std AS (
    SELECT d.address, d.postcode,
           'A:' || coalesce(a.output, '') || '|' || coalesce(p.output, '') AS address_node
    FROM (SELECT DISTINCT address, postcode FROM rows) d
    JOIN memo_std_address a ON a.input IS NOT DISTINCT FROM d.address
    JOIN memo_std_postcode p ON p.input IS NOT DISTINCT FROM d.postcode
)
, keyed AS (
    SELECT r.*, s.address_node
    FROM rows r JOIN address_std s
      ON s.address IS NOT DISTINCT FROM r.address AND s.postcode IS NOT DISTINCT FROM r.postcode
)
SELECT x.person_id, r.source, r.source_key, r.record_date, r.delivery_period, r.extract_id, r.line_no, r.dob,
       a.address_id,
       CASE r.source WHEN 'interventions' THEN 0 WHEN 'benefits' THEN 1 WHEN 'employment' THEN 2
                     WHEN 'attendance' THEN 3 ELSE 4 END AS source_rank
FROM keyed r
JOIN person_xwalk x ON x.source = r.source AND x.source_key = r.source_key
JOIN address_node a ON a.node = r.address_node;

-- One date of birth per person: the one most of their current records give (latest on a tie).
CREATE OR REPLACE TEMP TABLE person_dob AS
SELECT person_id, dob
FROM (
    SELECT person_id, dob, count(*) AS n, max(record_date) AS latest
    FROM person_record WHERE dob IS NOT NULL GROUP BY person_id, dob
)
QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY n DESC, latest DESC, dob DESC) = 1;

-- A dwelling's postcode: the standardised postcode most of its records give.
CREATE OR REPLACE TEMP TABLE address_postcode AS
SELECT address_id, pc
FROM (
    SELECT a.address_id, o.pc, count(*) AS n
    FROM (SELECT pc, 'A:' || coalesce(addr, '') || '|' || coalesce(pc, '') AS node FROM identity_obs) o
    JOIN address_node a USING (node)
    WHERE o.pc IS NOT NULL
    GROUP BY ALL
)
QUALIFY row_number() OVER (PARTITION BY address_id ORDER BY n DESC, pc) = 1;
