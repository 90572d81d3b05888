-- syndic schema, version 6: enclosures (podcast audio, images, video) of each item, as a JSON array of
-- {"url", "mime_type", "length"?}; items stored before this version have none.
ALTER TABLE items ADD COLUMN enclosures TEXT NOT NULL DEFAULT '[]';
