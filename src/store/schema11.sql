-- syndic schema, version 11: editors' pins ("Must-reads"). A pinned story is listed in
-- /feeds/must-reads.* until the pin expires (`until`, NULL for never) or is removed, and retention
-- keeps it meanwhile; `note` is the editor's line shown beside it on the front page.
CREATE TABLE pins (
    story_id  INTEGER PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
    pinned_at INTEGER NOT NULL,
    until     INTEGER,
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pins_order ON pins(pinned_at DESC);
