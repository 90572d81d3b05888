-- syndic schema for PostgreSQL, version 5: as SQLite's version 11, editors' pins ("Must-reads"),
-- listed until they expire (`until`, NULL for never) or are removed; retention keeps pinned stories
-- meanwhile.
CREATE TABLE pins (
    story_id  BIGINT PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
    pinned_at BIGINT NOT NULL,
    until     BIGINT,
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pins_order ON pins(pinned_at DESC);
