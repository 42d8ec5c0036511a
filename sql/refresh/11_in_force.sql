-- The rows in force of one source: per natural key the row of the latest delivery, among the
-- working rows. pbr.in_force fills in the placeholders: the key, the working rows, the table made
-- and, for attendance, the term calendar's end date (joined here, the rows of unknown terms
-- dropped from cur_attendance after). Folding new extracts in, the working rows are
-- the held rows (held_<source>: in force, and not from the latest extract folded before) and every
-- row of that extract and the new ones; deriving again, every row of every live extract. Both give
-- the rows in force of every live extract: a row an earlier extract superseded is superseded again
-- among the working rows, or was never held.
-- (Per key the row with the greatest (delivery_period, extract_id, line_no): one hash aggregate
-- finds it, where a window sorted every live row. That triple is compared as one 128-bit number,
-- row_order = period << 96 | extract_id << 64 | line_no (live_order, 10_current_rows.sql): extract
-- ids below 2^31 and line numbers below 2^63, so the number orders rows exactly as the triple
-- does and names one row (extract_id, line_no is the raw table's primary key).)
-- (NOT MATERIALIZED: the working rows are read twice, not copied once into a CTE with every column
-- and read back; the aggregate then reads only the key columns. Attendance at authority: 0.50-0.66
-- -> 0.42-0.47 s, the same rows.)

CREATE OR REPLACE TEMP TABLE $table AS
WITH w AS NOT MATERIALIZED ($working),
latest AS (
    SELECT max(l.row_base | w.line_no) AS row_order
    FROM w JOIN live_order l USING (extract_id)
    GROUP BY $key)
SELECT w.*$extra
FROM w JOIN live_order l USING (extract_id)$join
SEMI JOIN latest ON latest.row_order = (l.row_base | w.line_no);
