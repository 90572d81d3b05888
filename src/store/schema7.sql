-- syndic schema, version 7: clustering on event time, fingerprint versions, refused near-misses.
-- An item's event time is its own date when credible (not before 1995, not over two hours after syndic
-- first saw it), else when syndic first saw it; a story's event span runs from its items' earliest to
-- their latest event time. Items record the similar story a look-alike veto refused them, for --explain.
ALTER TABLE items ADD COLUMN event_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN fp_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE items ADD COLUMN miss_item INTEGER;
ALTER TABLE items ADD COLUMN miss_score REAL;
ALTER TABLE items ADD COLUMN miss_reason TEXT;
ALTER TABLE stories ADD COLUMN event_lo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stories ADD COLUMN event_hi INTEGER NOT NULL DEFAULT 0;

UPDATE items SET event_at = CASE
    WHEN published IS NOT NULL AND published >= 788918400000 AND published <= first_seen + 7200000
    THEN published ELSE first_seen END;
UPDATE stories SET
    event_lo = COALESCE((SELECT MIN(event_at) FROM items WHERE story_id = stories.id), published),
    event_hi = COALESCE((SELECT MAX(event_at) FROM items WHERE story_id = stories.id), published);

-- Stories stored with similarity off have no representative title: their first item becomes one, so
-- they are candidates once similarity is on.
UPDATE items SET title_rep = 1
 WHERE title_fp <> ''
   AND id IN (SELECT MIN(id) FROM items GROUP BY story_id)
   AND story_id NOT IN (SELECT story_id FROM items WHERE title_rep = 1);

-- Store-wide settings that are not schema: the title-fingerprint version the stored fingerprints were
-- made with (the store recomputes them when syndic's is newer).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('fingerprint_version', 1);
