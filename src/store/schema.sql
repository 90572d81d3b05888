-- syndic schema, version 1. Times are milliseconds since the Unix epoch (UTC).

-- One row per configured source (by name); rows of sources removed from the config stay, inactive,
-- so their stories are not lost.
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    etag            TEXT,
    last_modified   TEXT,
    body_hash       TEXT,
    feed_title      TEXT,
    last_fetch_at   INTEGER,
    last_success_at INTEGER,
    last_status     TEXT,
    last_error      TEXT,
    error_streak    INTEGER NOT NULL DEFAULT 0,
    next_check_at   INTEGER
);

-- A cluster of items reporting the same news. uid is the public, stable id used in feed guids.
-- Feeds order by first_seen (the start of the poll that found the story), then by published (the first
-- item's date, capped at first_seen), so one poll's batch keeps the sources' own order.
CREATE TABLE stories (
    id         INTEGER PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL,
    published  INTEGER NOT NULL,
    updated    INTEGER NOT NULL
);
CREATE INDEX stories_order ON stories(first_seen DESC, published DESC, id DESC);

-- One row per entry a source published.
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES sources(id),
    key        TEXT NOT NULL,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    guid       TEXT,
    url        TEXT,
    url_key    TEXT,
    title      TEXT NOT NULL,
    title_fp   TEXT NOT NULL,
    summary    TEXT NOT NULL,
    content    TEXT,
    author     TEXT,
    categories TEXT NOT NULL DEFAULT '[]',
    published  INTEGER,
    updated    INTEGER,
    first_seen INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    UNIQUE (source_id, key)
);
CREATE INDEX items_story ON items(story_id);
CREATE INDEX items_url_key ON items(url_key);
CREATE INDEX items_title_fp ON items(title_fp);

-- Sections of a story, with why (origin: "source:NAME" or "keyword:WORDS").
CREATE TABLE story_sections (
    story_id INTEGER NOT NULL REFERENCES stories(id),
    section  TEXT NOT NULL,
    origin   TEXT NOT NULL,
    PRIMARY KEY (story_id, section)
) WITHOUT ROWID;
CREATE INDEX story_sections_by_section ON story_sections(section, story_id);
