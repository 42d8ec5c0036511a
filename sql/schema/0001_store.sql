-- pbr store, schema version 1: extract registry, raw rows with lineage, quarantine,
-- identity crosswalks, family snapshots, cohort and its frozen evidence.

CREATE TABLE extract_file (
    extract_id       INTEGER PRIMARY KEY,
    source           VARCHAR NOT NULL,
    file_name        VARCHAR NOT NULL,
    file_format      VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL,
    size_bytes       BIGINT NOT NULL,
    rows_read        INTEGER NOT NULL,
    rows_loaded      INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    delivery_period  VARCHAR NOT NULL,
    loaded_at        TIMESTAMP NOT NULL,
    origin           VARCHAR,            -- where it came from (folder or database URL without credentials)
    replaced_by      INTEGER             -- a corrected file of the same source and period
);

CREATE TABLE quarantine (
    extract_id  INTEGER NOT NULL,
    file_name   VARCHAR NOT NULL,
    line_no     BIGINT NOT NULL,
    column_name VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    raw_row     VARCHAR                  -- the delivered text of the row, so nothing is lost
);

CREATE TABLE raw_attendance (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    forename VARCHAR, surname VARCHAR, dob DATE, sex VARCHAR, address VARCHAR, postcode VARCHAR, uprn VARCHAR,
    upn VARCHAR NOT NULL, school_urn VARCHAR NOT NULL, academic_year VARCHAR NOT NULL, term VARCHAR NOT NULL,
    sessions_possible INTEGER NOT NULL, sessions_unauthorised INTEGER NOT NULL, sessions_authorised INTEGER,
    fixed_exclusions INTEGER NOT NULL, permanent_exclusion BOOLEAN NOT NULL, provision VARCHAR NOT NULL,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE raw_asb (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    forename VARCHAR, surname VARCHAR, dob DATE, sex VARCHAR, address VARCHAR, postcode VARCHAR, uprn VARCHAR,
    person_ref VARCHAR NOT NULL, event_id VARCHAR NOT NULL, event_date DATE NOT NULL, event_type VARCHAR NOT NULL,
    agency VARCHAR,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE raw_benefits (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    forename VARCHAR, surname VARCHAR, dob DATE, sex VARCHAR, address VARCHAR, postcode VARCHAR, uprn VARCHAR,
    nino VARCHAR, person_key VARCHAR NOT NULL, benefit VARCHAR NOT NULL, start_date DATE NOT NULL, end_date DATE,
    end_reason VARCHAR, benefit_cap BOOLEAN NOT NULL,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE raw_employment (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    forename VARCHAR, surname VARCHAR, dob DATE, sex VARCHAR, address VARCHAR, postcode VARCHAR, uprn VARCHAR,
    nino VARCHAR, person_key VARCHAR NOT NULL, record_type VARCHAR NOT NULL, start_date DATE NOT NULL, end_date DATE,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE raw_interventions (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    forename VARCHAR, surname VARCHAR, dob DATE, sex VARCHAR, address VARCHAR, postcode VARCHAR, uprn VARCHAR,
    case_ref VARCHAR NOT NULL, person_ref VARCHAR NOT NULL, attached_date DATE NOT NULL, closed_date DATE,
    keyworker VARCHAR, role VARCHAR,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE raw_areas (
    extract_id INTEGER NOT NULL, line_no BIGINT NOT NULL, delivery_period VARCHAR NOT NULL,
    area VARCHAR NOT NULL, name VARCHAR,
    PRIMARY KEY (extract_id, line_no)
);

CREATE TABLE refresh_run (
    run_id           VARCHAR PRIMARY KEY,
    period           VARCHAR NOT NULL,
    rulebook_name    VARCHAR NOT NULL,
    rulebook_version VARCHAR NOT NULL,
    rulebook_sha256  VARCHAR NOT NULL,
    config_sha256    VARCHAR,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    summary          VARCHAR              -- JSON: counts only, no personal data
);

-- A source record key (family_members.csv's source + source_key) belongs to one person.
CREATE TABLE person_xwalk (
    source       VARCHAR NOT NULL,
    source_key   VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    match_probability DOUBLE NOT NULL DEFAULT 1.0,
    first_period VARCHAR NOT NULL,
    PRIMARY KEY (source, source_key)
);

-- Stable-id events: clusters merged into, or split from, an existing id.
CREATE TABLE id_event (
    period   VARCHAR NOT NULL,
    kind     VARCHAR NOT NULL,   -- person | family
    event    VARCHAR NOT NULL,   -- merged | split
    id       VARCHAR NOT NULL,
    other_id VARCHAR NOT NULL
);

-- Every family id ever created, with the period it was first seen.
CREATE TABLE family_registry (
    family_id    VARCHAR PRIMARY KEY,
    first_period VARCHAR NOT NULL
);

-- Who was in each family (household with a child) at each refresh's reference date.
CREATE TABLE family_snapshot (
    period    VARCHAR NOT NULL,
    family_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    is_child  BOOLEAN NOT NULL,
    PRIMARY KEY (period, person_id)
);

-- The criteria each family met at each refresh.
CREATE TABLE family_status (
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
    route             VARCHAR,             -- three_criteria | two_plus_local | null
    PRIMARY KEY (period, family_id)
);

CREATE TABLE cohort (
    family_id         VARCHAR PRIMARY KEY,
    identified_period VARCHAR NOT NULL,
    route             VARCHAR NOT NULL CHECK (route IN ('three_criteria', 'two_plus_local')),
    crime_asb         BOOLEAN NOT NULL,
    education         BOOLEAN NOT NULL,
    work              BOOLEAN NOT NULL,
    local_discretion  BOOLEAN NOT NULL,
    rulebook_name     VARCHAR NOT NULL,
    rulebook_version  VARCHAR NOT NULL,
    run_id            VARCHAR NOT NULL
);

-- The records behind each criterion flag of a cohort family at a refresh. Those of the
-- identified period are the frozen baseline evidence.
CREATE TABLE criteria_evidence (
    period      VARCHAR NOT NULL,
    family_id   VARCHAR NOT NULL,
    criterion   VARCHAR NOT NULL,   -- crime_asb | education | work | local_area | local_benefit_cap
    person_id   VARCHAR,
    source      VARCHAR NOT NULL,
    extract_id  INTEGER,
    line_no     BIGINT,
    window_start DATE,
    window_end  DATE,
    record_date DATE,
    detail      VARCHAR NOT NULL    -- codes and counts only, no personal data
);
