-- pbr store, schema version 5: the per-period history tables and the person crosswalk without
-- primary keys. Their keys are checked by the refresh instead (pbr.store.check_unique, on the rows
-- it writes, inside its transaction): the same refusal of a second row for one key, without an
-- index DuckDB rewrote at every commit. At authority scale those four indexes (text keys, ~1.5M
-- entries) were ~0.6 s of each refresh's commit (benchmarks/README.md, round 13). Each table is
-- copied whole into a new one without the key, in the order it held its rows.

CREATE TABLE person_xwalk_v5 (
    source       VARCHAR NOT NULL,
    source_key   VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    match_probability DOUBLE NOT NULL DEFAULT 1.0,
    first_period VARCHAR NOT NULL
);
INSERT INTO person_xwalk_v5 SELECT * FROM person_xwalk;
DROP TABLE person_xwalk;
ALTER TABLE person_xwalk_v5 RENAME TO person_xwalk;

CREATE TABLE family_snapshot_v5 (
    period    VARCHAR NOT NULL,
    family_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    is_child  BOOLEAN NOT NULL
);
INSERT INTO family_snapshot_v5 SELECT * FROM family_snapshot;
DROP TABLE family_snapshot;
ALTER TABLE family_snapshot_v5 RENAME TO family_snapshot;

CREATE TABLE family_status_v5 (
    period            VARCHAR NOT NULL,
    family_id         VARCHAR NOT NULL,
    address_id        VARCHAR NOT NULL,
    members           INTEGER NOT NULL,
    children          INTEGER NOT NULL,
    crime_asb         BOOLEAN NOT NULL,
    education         BOOLEAN NOT NULL,
    work              BOOLEAN NOT NULL,
    local_area        BOOLEAN NOT NULL,
    local_benefit_cap BOOLEAN NOT NULL,
    local_discretion  BOOLEAN NOT NULL,
    route             VARCHAR   -- three_criteria | two_plus_local | null
);
INSERT INTO family_status_v5 SELECT * FROM family_status;
DROP TABLE family_status;
ALTER TABLE family_status_v5 RENAME TO family_status;

CREATE TABLE family_result_v5 (
    period               VARCHAR NOT NULL,
    family_id            VARCHAR NOT NULL,
    attached_date        DATE NOT NULL,
    measurable           BOOLEAN NOT NULL,
    asb_leg              VARCHAR,
    asb_baseline         INTEGER,
    asb_outcome          INTEGER,
    offending_leg        VARCHAR,
    offending_baseline   INTEGER,
    offending_outcome    INTEGER,
    education_leg        VARCHAR,
    education_terms_since_a INTEGER,
    education_pupils     INTEGER,
    education_failing    INTEGER,
    route_a              BOOLEAN,
    progress_to_work     BOOLEAN,
    ptw_person_id        VARCHAR,
    ptw_record_type      VARCHAR,
    ptw_start            DATE,
    route_b              BOOLEAN,
    rb_person_id         VARCHAR,
    rb_benefits_at_a     VARCHAR,
    rb_employment_start  DATE,
    rb_employment_end    DATE,
    rb_days              INTEGER,
    rb_required_days     INTEGER
);
INSERT INTO family_result_v5 SELECT * FROM family_result;
DROP TABLE family_result;
ALTER TABLE family_result_v5 RENAME TO family_result;
