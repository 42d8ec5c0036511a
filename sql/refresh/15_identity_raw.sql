-- Every raw identity delivered in a live extract (superseded rows too: an old row's identity
-- still tells us who a source key is), once per distinct raw identity: most rows repeat one from
-- an earlier extract. pbr.memo standardises its values; 20_identity.sql reads both.

CREATE OR REPLACE TEMP TABLE identity_raw AS
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
SELECT DISTINCT * FROM rows;
