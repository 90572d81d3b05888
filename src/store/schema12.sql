-- syndic schema, version 12: an item's picture (`image`: media:thumbnail, an image media:content or
-- enclosure, JSON Feed `image`), shown as the story's thumbnail and carried on in the feeds.
ALTER TABLE items ADD COLUMN image TEXT;
