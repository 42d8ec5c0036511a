-- Linkage as at $1: per source, the record keys linked so far, those whose person also has a
-- record in another source (matched across sources), and those linked below the confident-match
-- probability ($2).
WITH x AS (SELECT * FROM person_xwalk WHERE first_period <= $1),
persons AS (SELECT person_id, count(DISTINCT source) AS sources FROM x GROUP BY person_id)
SELECT x.source, count(*) AS record_keys,
       count(*) FILTER (WHERE p.sources > 1) AS matched,
       count(*) FILTER (WHERE x.match_probability < $2) AS below_confident
FROM x JOIN persons p USING (person_id)
GROUP BY x.source
ORDER BY x.source
