-- syndic schema, version 2: why each item joined its story, and the title-similarity representatives.

-- match_reason: 'new' (started its story), 'url', 'title' (same normalized title), 'similar' (title
-- similarity, score in match_score), with match_item the stored item it matched.
-- title_rep: 1 when the item's title represents its story in the similarity index (rebuilt from these
-- rows when the store opens, so a restart gives the same decisions).
ALTER TABLE items ADD COLUMN match_reason TEXT NOT NULL DEFAULT 'new';
ALTER TABLE items ADD COLUMN match_score REAL;
ALTER TABLE items ADD COLUMN match_item INTEGER;
ALTER TABLE items ADD COLUMN title_rep INTEGER NOT NULL DEFAULT 0;

-- Existing stories: their earliest item started them and represents them.
UPDATE items SET title_rep = 1
 WHERE id IN (SELECT MIN(id) FROM items GROUP BY story_id);
UPDATE items SET match_reason = 'joined'
 WHERE id NOT IN (SELECT MIN(id) FROM items GROUP BY story_id);

CREATE INDEX items_title_rep ON items(story_id) WHERE title_rep = 1;
-- Stories by distinct reporting sources, for the "top" view.
CREATE INDEX stories_first_seen ON stories(first_seen);
