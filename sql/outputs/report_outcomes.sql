-- Outcome indicators at $1 for attached families whose results can be measured (C >= A + 6 months):
-- for each indicator, the families it applies to and those improved.
--   asb_reduced: ASB events in the baseline window; improved = the ASB leg passed (a 60% reduction)
--   offending_reduced: proven offences by a child in the baseline window; improved = the leg passed
--   attendance_improved: met the education criterion at entry, leg not pending; improved = passed
--   into_work: met the work criterion at entry; improved = an adult left benefit into work (route B)
WITH r AS (
    SELECT f.*, c.education AS base_education, c.work AS base_work
    FROM family_result f JOIN cohort c USING (family_id)
    WHERE f.period = $1 AND f.measurable
)
SELECT 'asb_reduced' AS indicator, count(*) FILTER (WHERE asb_baseline > 0) AS applicable,
       count(*) FILTER (WHERE asb_baseline > 0 AND asb_leg = 'pass') AS improved FROM r
UNION ALL
SELECT 'offending_reduced', count(*) FILTER (WHERE offending_baseline > 0),
       count(*) FILTER (WHERE offending_baseline > 0 AND offending_leg = 'pass') FROM r
UNION ALL
SELECT 'attendance_improved', count(*) FILTER (WHERE base_education AND education_leg IN ('pass', 'fail')),
       count(*) FILTER (WHERE base_education AND education_leg = 'pass') FROM r
UNION ALL
SELECT 'into_work', count(*) FILTER (WHERE base_work),
       count(*) FILTER (WHERE base_work AND route_b) FROM r
