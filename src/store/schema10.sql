-- syndic schema, version 10: each source's host (lower-case, as the URL parser gives it; empty when
-- the URL has none), written with its URL. Per-host limits count running sources by it: on
-- PostgreSQL a claim reads it instead of parsing every due source's URL.
ALTER TABLE sources ADD COLUMN host TEXT NOT NULL DEFAULT '';
