-- syndic schema for PostgreSQL, version 4: as SQLite's version 10, each source's host (lower-case, as
-- the URL parser gives it; empty when the URL has none), written with its URL. A claim counts live
-- leases per host by it instead of parsing every due source's URL. Filled here for the sources
-- stored already; each node's start writes it again from its config.
ALTER TABLE sources ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE sources SET host = coalesce(lower(substring(url from
    '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/]*\]|[^/:?#]*)')), '');
