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

-- A dwelling's address key (see address_edge below); input a std_address value.
CREATE OR REPLACE TEMP MACRO address_street_types(s) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(s,
    '\b(RD|ROAD)\b', 'ROAD', 'g'), '\b(ST|STREET)\b', 'STREET', 'g'), '\b(AVE?|AVENUE)\b', 'AVENUE', 'g'),
    '\b(LN|LANE)\b', 'LANE', 'g'), '\b(CL|CLOSE)\b', 'CLOSE', 'g'), '\b(DR|DRIVE)\b', 'DRIVE', 'g'),
    '\b(CRES|CRESCENT)\b', 'CRESCENT', 'g'), '\b(WY|WAY)\b', 'WAY', 'g'), '\b(GR|GROVE)\b', 'GROVE', 'g'),
    '\b(TERR?|TERRACE)\b', 'TERRACE', 'g');
CREATE OR REPLACE TEMP MACRO address_unit(s) AS
    regexp_replace(regexp_replace(coalesce(s, ''), '^FLAT ([0-9]+[A-Z]?) ', '\1 '), '^F([0-9]+[A-Z]?) ', '\1 ');
CREATE OR REPLACE TEMP MACRO address_key(s) AS nullif(coalesce(nullif(regexp_extract(
    address_street_types(address_unit(s)),
    '^(.*?\b(ROAD|STREET|AVENUE|LANE|CLOSE|DRIVE|CRESCENT|WAY|GROVE|TERRACE)\b)', 1), ''),
    address_street_types(address_unit(s))), '');
