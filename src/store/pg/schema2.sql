-- syndic schema for PostgreSQL, version 2: what nodes sharing the database need to agree on stories.
-- index_log: the similarity-index changes of each applied refresh, in apply order (seq), so a node
-- replays the others' before deciding; meta 'apply_seq' is the last seq written. Refreshes are applied
-- one at a time across nodes (an advisory lock), so seq has no gaps. PostgreSQL's own bookkeeping, as
-- schema_version is: SQLite, with one node, has neither.
CREATE TABLE index_log (
    seq BIGINT PRIMARY KEY,
    ops TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('apply_seq', 0);
