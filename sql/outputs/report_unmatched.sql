-- Intervention cases reported at $1 that attached no family (or not the one reported), by issue.
SELECT issue, count(*) AS cases FROM case_report WHERE period = $1 GROUP BY issue ORDER BY issue
