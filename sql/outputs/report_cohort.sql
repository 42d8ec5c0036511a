-- The cohort as at $1 by route and by the combination of its baseline criteria (frozen at entry),
-- with the families new this month and those whose current data no longer meets the criteria.
SELECT c.route,
       concat_ws(' + ',
                 CASE WHEN c.crime_asb THEN 'crime/ASB' END,
                 CASE WHEN c.education THEN 'education' END,
                 CASE WHEN c.work THEN 'work' END,
                 CASE WHEN c.local_discretion THEN 'local discretion' END) AS combination,
       count(*) AS families,
       count(*) FILTER (WHERE c.identified_period = $1) AS new_this_month,
       count(*) FILTER (WHERE s.route IS NULL) AS no_longer_meeting
FROM cohort c
LEFT JOIN family_status s ON s.family_id = c.family_id AND s.period = $1
WHERE c.identified_period <= $1
GROUP BY 1, 2
ORDER BY 1, 2
