-- pbr store, schema version 4: deliveries read from databases (README, Reading from databases).
-- A database source is registered like a file: file_format 'database', file_name naming the source
-- and its table or query, sha256 and size_bytes of its rows as text (the same rows extracted again
-- are recognised), origin the URL without its password. These two columns are NULL for files.
ALTER TABLE extract_file ADD COLUMN query_sha256 VARCHAR;     -- SHA-256 of the SQL run
ALTER TABLE extract_file ADD COLUMN extracted_at TIMESTAMP;   -- when the rows were read (UTC)
