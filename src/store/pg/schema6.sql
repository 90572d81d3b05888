-- syndic schema for PostgreSQL, version 6: as SQLite's version 12, an item's picture (`image`).
ALTER TABLE items ADD COLUMN image TEXT;
