-- syndic schema, version 3: what polling learned about each source.

-- moved_to: the URL a 301/308 moved the feed to; polled instead of url until url changes in feeds.toml.
-- gone_at: when the source answered 410 Gone; not polled again until its url changes.
-- retry_until: a 429/503 Retry-After holds the source until then.
-- hint_secs: the interval the feed or server last asked for (ttl, sy:update*, max-age, Expires).
ALTER TABLE sources ADD COLUMN moved_to TEXT;
ALTER TABLE sources ADD COLUMN gone_at INTEGER;
ALTER TABLE sources ADD COLUMN retry_until INTEGER;
ALTER TABLE sources ADD COLUMN hint_secs INTEGER;
