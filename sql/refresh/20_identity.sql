-- Every identity observation ever delivered (superseded rows too: an old row's identity still
-- tells us who a source key is), standardised, keyed by its source record key.

-- A dwelling's address key (see address_edge below); input a std_address value.
CREATE OR REPLACE TEMP MACRO address_street_types(s) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(s,
    '\b(RD|ROAD)\b', 'ROAD', 'g'), '\b(ST|STREET)\b', 'STREET', 'g'), '\b(AVE?|AVENUE)\b', 'AVENUE', 'g'),
    '\b(LN|LANE)\b', 'LANE', 'g'), '\b(CL|CLOSE)\b', 'CLOSE', 'g'), '\b(DR|DRIVE)\b', 'DRIVE', 'g'),
    '\b(CRES|CRESCENT)\b', 'CRESCENT', 'g'), '\b(WY|WAY)\b', 'WAY', 'g'), '\b(GR|GROVE)\b', 'GROVE', 'g'),
    '\b(TERR?|TERRACE)\b', 'TERRACE', 'g');
CREATE OR REPLACE TEMP MACRO address_unit(s) AS
    regexp_replace(regexp_replace(coalesce(s, ''), '^FLAT ([0-9]+[A-Z]?) ', '\1 '), '^F([0-9]+[A-Z]?) ', '\1 ');
CREATE OR REPLACE TEMP MACRO address_key(s) AS nullif(coalesce(nullif(regexp_extract(
    address_street_types(address_unit(s)),
    '^(.*?\b(ROAD|STREET|AVENUE|LANE|CLOSE|DRIVE|CRESCENT|WAY|GROVE|TERRACE)\b)', 1), ''),
    address_street_types(address_unit(s))), '');

CREATE OR REPLACE TEMP TABLE identity_obs AS
WITH rows AS (
    SELECT 'attendance' AS source, upn AS source_key, NULL AS nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_attendance JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'asb', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_asb JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'benefits', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_benefits JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'employment', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_employment JOIN live_extract USING (extract_id)
    UNION ALL
    SELECT 'interventions', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_interventions JOIN live_extract USING (extract_id)
)
-- (Standardised once per distinct raw identity: most rows repeat one from an earlier extract.)
, raw AS (SELECT DISTINCT * FROM rows)
SELECT DISTINCT
    source, source_key, nino,
    std_name(forename) AS fn, std_name(surname) AS sn, dob,
    std_postcode(postcode) AS pc, std_address(address) AS addr,
    nullif(upper(trim(uprn)), '') AS uprn,
    CASE WHEN upper(trim(sex)) IN ('M', 'F') THEN upper(trim(sex)) END AS sex
FROM raw;

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

-- Address variants of one dwelling: the flat and house numbers and the street, up to its street
-- type, with the postcode ("Flat 3, 12 Mill Rd, Rotherham", "3/12 MILL ROAD", "F3 12 Mill Road"
-- are one key); the town and anything after the street are left out (sources drop them).
CREATE OR REPLACE TEMP TABLE address_edge AS
SELECT a, b FROM address_edge
UNION
SELECT 'A:' || coalesce(addr, '') || '|' || pc, 'K:' || addr_key || '|' || pc
FROM (SELECT addr, pc, address_key(addr) AS addr_key
      FROM (SELECT DISTINCT addr, pc FROM identity_obs WHERE pc IS NOT NULL))
WHERE addr_key IS NOT NULL;
