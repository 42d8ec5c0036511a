-- Standardisation and date helpers shared by every refresh step.

CREATE OR REPLACE TEMP MACRO add_months(d, n) AS CAST(d + to_months(CAST(n AS INTEGER)) AS DATE);

-- Names: upper case, accents and anything but letters removed ("O'Neil-Smith" -> ONEILSMITH).
CREATE OR REPLACE TEMP MACRO std_name(s) AS
    nullif(regexp_replace(upper(strip_accents(coalesce(s, ''))), '[^A-Z]', '', 'g'), '');

-- Postcodes: upper case, one space before the inward code ("s651ab" -> "S65 1AB").
-- (No subquery here: a macro with one becomes a correlated subquery per row.)
CREATE OR REPLACE TEMP MACRO pc_compact(s) AS regexp_replace(upper(coalesce(s, '')), '[^A-Z0-9]', '', 'g');
CREATE OR REPLACE TEMP MACRO std_postcode(s) AS
    CASE WHEN length(pc_compact(s)) >= 5 THEN left(pc_compact(s), length(pc_compact(s)) - 3) || ' ' || right(pc_compact(s), 3)
         WHEN length(pc_compact(s)) > 0 THEN pc_compact(s) END;

-- Addresses: upper case, punctuation to spaces, common street-type abbreviations expanded.
CREATE OR REPLACE TEMP MACRO std_address(s) AS nullif(trim(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(upper(strip_accents(coalesce(s, ''))), '[^A-Z0-9]+', ' ', 'g'),
    '\bRD\b', 'ROAD', 'g'), '\bAVE?\b', 'AVENUE', 'g'), '\bCL\b', 'CLOSE', 'g'), '\bDR\b', 'DRIVE', 'g'),
    '\bLN\b', 'LANE', 'g'), '\bCRES\b', 'CRESCENT', 'g'), '\bGDNS\b', 'GARDENS', 'g'), '\bTERR?\b', 'TERRACE', 'g'),
    '\bST\b$', 'STREET', 'g'),
    '\s+', ' ', 'g')), '');

CREATE OR REPLACE TEMP MACRO pc_district(pc) AS split_part(pc, ' ', 1);
CREATE OR REPLACE TEMP MACRO pc_sector(pc) AS
    CASE WHEN position(' ' IN pc) > 0 THEN split_part(pc, ' ', 1) || ' ' || left(split_part(pc, ' ', 2), 1) END;
