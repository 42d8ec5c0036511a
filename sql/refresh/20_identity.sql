-- Every identity observation ever delivered (superseded rows too: an old row's identity still
-- tells us who a source key is), standardised, keyed by its source record key.

CREATE OR REPLACE TEMP TABLE identity_obs AS
WITH rows AS (
    SELECT 'attendance' AS source, upn AS source_key, NULL AS nino, forename, surname, dob, postcode, address, uprn
    FROM raw_attendance JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'asb', person_ref, NULL, forename, surname, dob, postcode, address, uprn
    FROM raw_asb JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'benefits', person_key, nino, forename, surname, dob, postcode, address, uprn
    FROM raw_benefits JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'employment', person_key, nino, forename, surname, dob, postcode, address, uprn
    FROM raw_employment JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'interventions', person_ref, NULL, forename, surname, dob, postcode, address, uprn
    FROM raw_interventions JOIN live_extract USING (extract_id)
)
SELECT DISTINCT
    source, source_key, nino,
    std_name(forename) AS fn, std_name(surname) AS sn, dob,
    std_postcode(postcode) AS pc, std_address(address) AS addr,
    nullif(upper(trim(uprn)), '') AS uprn
FROM rows;

-- Deterministic person links: a source record key is a node; it joins the nodes sharing a NINO
-- (benefits and employment) or the same standardised forename + surname + dob + postcode.
CREATE OR REPLACE TEMP TABLE person_edge AS
SELECT DISTINCT source || ':' || source_key AS a, 'NINO:' || nino AS b
FROM identity_obs WHERE nino IS NOT NULL
UNION
SELECT DISTINCT source || ':' || source_key, 'NID:' || fn || '|' || sn || '|' || dob || '|' || pc
FROM identity_obs WHERE fn IS NOT NULL AND sn IS NOT NULL AND dob IS NOT NULL AND pc IS NOT NULL
UNION
SELECT DISTINCT source || ':' || source_key, source || ':' || source_key
FROM identity_obs;

-- Address resolution: a UPRN and a standardised address + postcode seen on one record are one
-- dwelling.
CREATE OR REPLACE TEMP TABLE address_edge AS
SELECT DISTINCT 'A:' || coalesce(addr, '') || '|' || coalesce(pc, '') AS a,
       coalesce('U:' || uprn, 'A:' || coalesce(addr, '') || '|' || coalesce(pc, '')) AS b
FROM identity_obs;
