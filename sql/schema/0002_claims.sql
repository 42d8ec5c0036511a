-- pbr store, schema version 2: attachment, results, and the claim ledger.

-- A cohort family's attachment, made once and kept.
CREATE TABLE attachment (
    family_id          VARCHAR PRIMARY KEY,
    case_ref           VARCHAR NOT NULL,
    case_attached_date DATE NOT NULL,    -- the earliest attached_date among the case's rows
    attached_date      DATE NOT NULL,    -- A: the case's date, or R of the entry refresh when later
    period_attached    VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL
);

-- Cases that attached no family, or not the one reported, at each refresh.
CREATE TABLE case_report (
    period    VARCHAR NOT NULL,
    case_ref  VARCHAR NOT NULL,
    issue     VARCHAR NOT NULL CHECK (issue IN ('no_cohort_family', 'spread_over_families', 'family_attached_by_other_case')),
    family_id VARCHAR,
    detail    VARCHAR NOT NULL
);

-- Each attached family's results at each refresh, with the figures behind every verdict.
CREATE TABLE family_result (
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
    rb_required_days     INTEGER,
    PRIMARY KEY (period, family_id)
);

-- The records counted in each leg's baseline and outcome windows.
CREATE TABLE result_evidence (
    period      VARCHAR NOT NULL,
    family_id   VARCHAR NOT NULL,
    leg         VARCHAR NOT NULL,   -- asb | offending | education | progress_to_work | route_b
    window_name VARCHAR NOT NULL,   -- baseline | outcome | at_attachment | spell
    window_start DATE,
    window_end  DATE,
    person_id   VARCHAR,
    source      VARCHAR NOT NULL,
    extract_id  INTEGER,
    line_no     BIGINT,
    record_date DATE,
    detail      VARCHAR NOT NULL
);

CREATE TABLE claim_batch (
    batch_id         VARCHAR PRIMARY KEY,
    period           VARCHAR NOT NULL,
    state            VARCHAR NOT NULL CHECK (state IN ('draft', 'audited', 'submitted', 'paid')),
    created_at       TIMESTAMP NOT NULL,
    audited_at       TIMESTAMP,
    submitted_at     TIMESTAMP,
    paid_at          TIMESTAMP,
    sample_seed      BIGINT NOT NULL,
    rulebook_name    VARCHAR NOT NULL,
    rulebook_version VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL
);

CREATE TABLE claim_item (
    claim_id       VARCHAR PRIMARY KEY,
    batch_id       VARCHAR NOT NULL,
    family_id      VARCHAR NOT NULL,
    case_ref       VARCHAR NOT NULL,
    claim_type     VARCHAR NOT NULL CHECK (claim_type IN ('attachment_fee', 'route_a', 'progress_to_work', 'route_b')),
    amount         DECIMAL(10, 2) NOT NULL CHECK (amount > 0),
    financial_year VARCHAR NOT NULL,
    attached_date  DATE NOT NULL,
    audit_sample   BOOLEAN NOT NULL DEFAULT false,
    anomaly_flags  VARCHAR NOT NULL DEFAULT '',
    decision       VARCHAR CHECK (decision IN ('approved', 'rejected')),
    decision_note  VARCHAR,
    decided_by     VARCHAR,
    decided_at     TIMESTAMP,
    evidence       VARCHAR NOT NULL   -- JSON: legs, windows, counts, sources, rulebook; ids only
);

-- What makes a second claim impossible rather than merely avoided: a claim occupies slots, one
-- claim per (family, slot) ever, freed only when audit rejects it. route_a takes 'results',
-- progress_to_work takes 'progress', route_b takes both (so it excludes them and they exclude it).
CREATE TABLE claim_slot (
    family_id VARCHAR NOT NULL,
    slot      VARCHAR NOT NULL CHECK (slot IN ('attachment', 'results', 'progress')),
    claim_id  VARCHAR NOT NULL,
    PRIMARY KEY (family_id, slot)
);

-- Who did what to a batch, and when.
CREATE TABLE claim_event (
    batch_id VARCHAR NOT NULL,
    event_at TIMESTAMP NOT NULL,
    actor    VARCHAR NOT NULL,
    action   VARCHAR NOT NULL,
    detail   VARCHAR NOT NULL
);
