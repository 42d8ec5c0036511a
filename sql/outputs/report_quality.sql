-- Data quality of the deliveries of $1 (corrected files left out): per source, files, rows read,
-- rows quarantined.
SELECT source, count(*) AS files, sum(rows_read)::BIGINT AS rows_read,
       sum(rows_quarantined)::BIGINT AS rows_quarantined
FROM extract_file
WHERE delivery_period = $1 AND replaced_by IS NULL
GROUP BY source
ORDER BY source
