-- The report's funnel, as at each refreshed period up to $1 (families, cumulative):
-- identified (in the cohort), attached, a result achieved (route A, progress to work or route B at
-- any refresh so far), a result claimed (a results claim item not rejected by audit, in a batch of
-- that period or before) and paid (such an item in a batch now paid).
WITH periods AS (
    SELECT DISTINCT period FROM refresh_run WHERE finished_at IS NOT NULL AND period <= $1
),
achieved AS (
    SELECT family_id, min(period) AS first_period FROM family_result
    WHERE route_a OR progress_to_work OR route_b GROUP BY family_id
),
claimed AS (
    SELECT i.family_id, b.period, b.state FROM claim_item i JOIN claim_batch b USING (batch_id)
    WHERE i.claim_type <> 'attachment_fee' AND coalesce(i.decision, '') <> 'rejected'
)
SELECT p.period,
       (SELECT count(*) FROM cohort c WHERE c.identified_period <= p.period) AS identified,
       (SELECT count(*) FROM attachment a WHERE a.period_attached <= p.period) AS attached,
       (SELECT count(*) FROM achieved r WHERE r.first_period <= p.period) AS results,
       (SELECT count(DISTINCT k.family_id) FROM claimed k WHERE k.period <= p.period) AS claimed,
       (SELECT count(DISTINCT k.family_id) FROM claimed k WHERE k.period <= p.period AND k.state = 'paid') AS paid
FROM periods p
ORDER BY p.period
