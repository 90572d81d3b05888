-- syndic schema, version 4: the learned tagger's model.

-- name: which model ("sections"); data: crate::learn::Model::to_bytes; examples: stories it was trained
-- on; stories_at: the newest story id when it was trained (a retrain is due after enough new ones).
CREATE TABLE models (
    name       TEXT PRIMARY KEY,
    trained_at INTEGER NOT NULL,
    examples   INTEGER NOT NULL,
    stories_at INTEGER NOT NULL,
    data       BLOB NOT NULL
);
