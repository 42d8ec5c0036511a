-- pbr store, schema version 6: what a refresh derives from the delivered history, kept between
-- refreshes so that its work does not grow with the months the store keeps (pbr.in_force; issue 9,
-- round 23). Deliveries repeat what came before, so before this every refresh found the rows in
-- force and the distinct identities again from every row of every delivery kept.
--
-- held_<source>: the rows in force (the latest row of each natural key) that are not from the
-- source's latest live extract: keys the latest delivery did not repeat. The same columns as
-- raw_<source> (a schema change to a raw table changes its held table too).
-- identity_seen: each distinct raw identity of a source record key delivered in a live extract
-- (what sql/refresh/15_identity_raw.sql selects).
-- in_force_state: per source, the live extracts (in delivery order) the two tables hold. A
-- refresh whose live extracts begin with these adds only the new ones; any other change (a
-- corrected file, a purge) derives them again from every live extract.
-- All three hold personal data taken from the raw tables: `pbr purge` empties them.

CREATE TABLE held_attendance AS SELECT * FROM raw_attendance LIMIT 0;
CREATE TABLE held_asb AS SELECT * FROM raw_asb LIMIT 0;
CREATE TABLE held_benefits AS SELECT * FROM raw_benefits LIMIT 0;
CREATE TABLE held_employment AS SELECT * FROM raw_employment LIMIT 0;
CREATE TABLE held_interventions AS SELECT * FROM raw_interventions LIMIT 0;

CREATE TABLE identity_seen (
    source     VARCHAR NOT NULL,
    source_key VARCHAR,
    nino       VARCHAR,
    forename   VARCHAR,
    surname    VARCHAR,
    dob        DATE,
    postcode   VARCHAR,
    address    VARCHAR,
    uprn       VARCHAR,
    sex        VARCHAR
);

CREATE TABLE in_force_state (
    source   VARCHAR NOT NULL,
    extracts INTEGER[] NOT NULL
);
