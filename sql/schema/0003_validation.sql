-- pbr store, schema version 3: delivery validation (Great Expectations suites in expectations/).

-- The check that rejected each quarantined row: a GX expectation type (expect_...) or a pbr-side
-- check (pbr_parse_date, pbr_parse_integer, pbr_parse_boolean). NULL for rows quarantined before
-- version 3.
ALTER TABLE quarantine ADD COLUMN expectation VARCHAR;

-- Each delivery file validated by a refresh: which suite (and its SHA-256) and what it found.
CREATE TABLE validation_file (
    run_id           VARCHAR NOT NULL,
    period           VARCHAR NOT NULL,
    extract_id       INTEGER NOT NULL,
    file_name        VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL,
    suite            VARCHAR NOT NULL,
    suite_sha256     VARCHAR NOT NULL,
    gx_version       VARCHAR NOT NULL,
    period_end       DATE NOT NULL,     -- the suite parameter period_end
    rows_read        INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    seconds          DOUBLE NOT NULL,
    validated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, extract_id)
);

-- One row per check per file per refresh: outcome, counts and the failing rows' line numbers.
-- Never values: GX's unexpected values are dropped before anything is stored.
CREATE TABLE validation_result (
    run_id           VARCHAR NOT NULL,
    extract_id       INTEGER NOT NULL,
    seq              INTEGER NOT NULL,  -- report order: pbr's parse checks, then the suite's order
    expectation      VARCHAR NOT NULL,
    column_name      VARCHAR NOT NULL,
    severity         VARCHAR NOT NULL,  -- critical (rows quarantined) | warning (reported, rows kept) | info
    level            VARCHAR NOT NULL,  -- row | file
    description      VARCHAR NOT NULL,
    evaluated_by     VARCHAR NOT NULL,  -- great_expectations | pbr
    success          BOOLEAN NOT NULL,
    element_count    BIGINT NOT NULL,
    unexpected_count BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    unexpected_lines VARCHAR NOT NULL,  -- JSON array of line numbers
    PRIMARY KEY (run_id, extract_id, seq)
);
