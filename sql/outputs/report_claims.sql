-- Claim items by batch period and type up to $1 (items rejected by audit left out): how many, the
-- amount, and the amount in batches now paid.
SELECT b.period, i.claim_type,
       count(*) AS items,
       sum(i.amount)::DOUBLE AS amount,
       coalesce(sum(i.amount) FILTER (WHERE b.state = 'paid'), 0)::DOUBLE AS paid_amount
FROM claim_item i JOIN claim_batch b USING (batch_id)
WHERE b.period <= $1 AND coalesce(i.decision, '') <> 'rejected'
GROUP BY 1, 2
ORDER BY 1, 2
