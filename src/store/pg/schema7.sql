-- syndic schema for PostgreSQL, version 7: the text keys compared byte by byte (collation "C"), as
-- SQLite's BINARY collation compares them. Only equality and byte order are ever asked of these
-- columns, and a database's own collation (often a locale's, or C.UTF-8, which PostgreSQL 15 does not
-- treat as C) makes every index insert and lookup on them a call into the C library's collation
-- (measured: one statement inserting 50,000 item rows took 0.60 s under C.UTF-8, 0.45 s under "C").
-- Ordering by them is unchanged for UTF-8 text.
ALTER TABLE items
    ALTER COLUMN key TYPE TEXT COLLATE "C",
    ALTER COLUMN url_key TYPE TEXT COLLATE "C",
    ALTER COLUMN title_fp TYPE TEXT COLLATE "C";
ALTER TABLE stories ALTER COLUMN uid TYPE TEXT COLLATE "C";
ALTER TABLE tombstones ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE story_sections ALTER COLUMN section TYPE TEXT COLLATE "C";
ALTER TABLE sources
    ALTER COLUMN name TYPE TEXT COLLATE "C",
    ALTER COLUMN host TYPE TEXT COLLATE "C";
