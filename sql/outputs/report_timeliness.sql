-- Timeliness up to $1, by month: days from identification (R of the period the family entered the
-- cohort) to attachment (A), by the period of attachment; and days from A to the first result
-- achieved (R of that refresh), by the period of that result; and over all months ('all').
WITH attach AS (
    SELECT a.period_attached AS period,
           date_diff('day', last_day(strptime(c.identified_period || '-01', '%Y-%m-%d')::DATE), a.attached_date) AS days
    FROM attachment a JOIN cohort c USING (family_id)
    WHERE a.period_attached <= $1
),
first_result AS (
    SELECT family_id, min(period) AS period FROM family_result
    WHERE (route_a OR progress_to_work OR route_b) AND period <= $1 GROUP BY family_id
),
result AS (
    SELECT r.period,
           date_diff('day', a.attached_date, last_day(strptime(r.period || '-01', '%Y-%m-%d')::DATE)) AS days
    FROM first_result r JOIN attachment a USING (family_id)
)
SELECT 'identification_to_attachment' AS measure, period, count(*) AS families,
       median(days)::DOUBLE AS median_days, avg(days)::DOUBLE AS mean_days
FROM attach GROUP BY period
UNION ALL
SELECT 'attachment_to_result', period, count(*), median(days)::DOUBLE, avg(days)::DOUBLE
FROM result GROUP BY period
-- and over all months so far (period 'all', sorted last)
UNION ALL
SELECT 'identification_to_attachment', 'all', count(*), median(days)::DOUBLE, avg(days)::DOUBLE FROM attach
HAVING count(*) > 0
UNION ALL
SELECT 'attachment_to_result', 'all', count(*), median(days)::DOUBLE, avg(days)::DOUBLE FROM result
HAVING count(*) > 0
ORDER BY 1, 2
