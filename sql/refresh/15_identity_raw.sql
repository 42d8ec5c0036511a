-- Every raw identity delivered in a live extract (superseded rows too: an old row's identity
-- still tells us who a source key is), once per distinct raw identity: most rows repeat one from
-- an earlier extract. pbr.memo standardises its values; 20_identity.sql reads both.
-- identity_seen holds the identities of the extracts folded before, for the sources whose folded
-- extracts are all still live; only the rows of each source's other live extracts are read here.
-- (pbr.in_force fills in the placeholders: those sources, each source's extracts to read and
-- what identity_raw is made of.)

CREATE OR REPLACE TEMP TABLE _identity_new AS
WITH rows AS (
    SELECT 'attendance' AS source, upn AS source_key, NULL AS nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_attendance WHERE extract_id IN ($attendance)
    UNION ALL
    SELECT 'asb', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_asb WHERE extract_id IN ($asb)
    UNION ALL
    SELECT 'benefits', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_benefits WHERE extract_id IN ($benefits)
    UNION ALL
    SELECT 'employment', person_key, nino, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_employment WHERE extract_id IN ($employment)
    UNION ALL
    SELECT 'interventions', person_ref, NULL, forename, surname, dob, postcode, address, uprn, sex
    FROM raw_interventions WHERE extract_id IN ($interventions)
)
SELECT * FROM rows
EXCEPT
SELECT * FROM identity_seen WHERE source IN ($folded);

-- A view, read a few times (pbr.memo, 20_identity.sql), rather than a copy: a refresh has added
-- _identity_new to identity_seen by then, and a read-only caller has not.
CREATE OR REPLACE TEMP VIEW identity_raw AS $identities;
