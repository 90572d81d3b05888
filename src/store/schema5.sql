-- syndic schema, version 5: retention.

-- An item deleted by retention leaves its (source, key) here, so a source that still lists the entry
-- does not bring it back; tombstones are deleted in turn after a further period.
CREATE TABLE tombstones (
    source_id  INTEGER NOT NULL,
    key        TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;
CREATE INDEX tombstones_age ON tombstones(deleted_at);
-- Retention finds stories by their newest item.
CREATE INDEX items_story_seen ON items(story_id, first_seen);
