-- Every identity observation ever delivered (superseded rows too: an old row's identity still
-- tells us who a source key is), standardised, keyed by its source record key.

-- (Standardised through the memo tables pbr.memo builds from identity_raw: each distinct raw
-- value once, and a value an earlier refresh standardised is looked up, not derived again.)
CREATE OR REPLACE TEMP TABLE identity_obs AS
SELECT DISTINCT
    source, source_key, nino,
    nf.output AS fn, ns.output AS sn, dob,
    np.output AS pc, na.output AS addr,
    nullif(upper(trim(uprn)), '') AS uprn,
    CASE WHEN upper(trim(sex)) IN ('M', 'F') THEN upper(trim(sex)) END AS sex
FROM identity_raw raw
JOIN memo_std_name nf ON nf.input IS NOT DISTINCT FROM raw.forename
JOIN memo_std_name ns ON ns.input IS NOT DISTINCT FROM raw.surname
JOIN memo_std_postcode np ON np.input IS NOT DISTINCT FROM raw.postcode
JOIN memo_std_address na ON na.input IS NOT DISTINCT FROM raw.address;

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
FROM (SELECT d.addr, d.pc, k.output AS addr_key
      FROM (SELECT DISTINCT addr, pc FROM identity_obs WHERE pc IS NOT NULL) d
      JOIN memo_address_key k ON k.input IS NOT DISTINCT FROM d.addr)
WHERE addr_key IS NOT NULL;
