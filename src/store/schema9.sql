-- syndic schema, version 9: items_story (story_id) goes; items_story_seen (story_id, first_seen) serves
-- every lookup by story through its first column, and one index fewer to keep up makes each stored item
-- cheaper to write.
DROP INDEX IF EXISTS items_story;
