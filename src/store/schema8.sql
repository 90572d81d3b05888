-- syndic schema, version 8: leased polling columns, so the SQLite and PostgreSQL engines have the same
-- tables and columns. lease_node: the node fetching the source now; lease_until: until when its lease
-- holds (ms). A single SQLite node leaves them empty.
ALTER TABLE sources ADD COLUMN lease_node TEXT;
ALTER TABLE sources ADD COLUMN lease_until INTEGER;
