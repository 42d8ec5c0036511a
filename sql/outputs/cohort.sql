-- cohort.csv: every cohort family as of the period ($1), baseline flags frozen at entry,
-- whether it still meets the criteria at R, and its attachment (once attached).
SELECT c.family_id, c.identified_period, c.route, c.crime_asb, c.education, c.work, c.local_discretion,
       coalesce(s.route IS NOT NULL, false) AS still_meets_criteria,
       a.case_ref, a.attached_date
FROM cohort c
LEFT JOIN family_status s ON s.family_id = c.family_id AND s.period = $1
LEFT JOIN attachment a ON a.family_id = c.family_id AND a.period_attached <= $1
WHERE c.identified_period <= $1
ORDER BY c.family_id
