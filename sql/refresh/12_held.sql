-- The held rows of one source after folding (pbr.in_force, a refresh only): its rows in force
-- that are not from its latest live extract. Held rows a new extract superseded go; rows of the
-- extracts read from the raw table that stay in force, and are not the latest extract's, come in.
-- (pbr.in_force fills in the placeholders: the source, the rows in force, the extracts read and
-- the latest.)

DELETE FROM held_$source WHERE rowid IN (
    SELECT h.rowid FROM held_$source h ANTI JOIN $in_force f USING (extract_id, line_no));

INSERT INTO held_$source
SELECT $columns FROM $in_force WHERE extract_id IN ($read) AND extract_id <> $latest;
