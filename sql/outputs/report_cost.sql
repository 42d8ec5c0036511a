-- Cost avoidance inputs at $1 (rules.md, Cost avoidance; an estimate, never part of a claim): for
-- attached families whose results can be measured, events in the baseline window (A - 6 months, A]
-- and in the outcome window (C - 6 months, C], and adults who left benefit into work (route B).
SELECT 'asb_event' AS unit, count(*) AS families,
       coalesce(sum(asb_baseline), 0) AS baseline, coalesce(sum(asb_outcome), 0) AS outcome
FROM family_result WHERE period = $1 AND measurable
UNION ALL
SELECT 'proven_offence', count(*), coalesce(sum(offending_baseline), 0), coalesce(sum(offending_outcome), 0)
FROM family_result WHERE period = $1 AND measurable
UNION ALL
SELECT 'out_of_work_benefit_year', count(*), count(*) FILTER (WHERE route_b), 0
FROM family_result WHERE period = $1 AND measurable
