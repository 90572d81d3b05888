//! Retention: stories whose newest item is older than `[storage].keep_days` are deleted in small
//! batches, each item leaving a tombstone so that a source still listing it does not bring it back;
//! tombstones go in turn after a further period. Freed pages are reused by new data, so under steady
//! churn the file stops growing.

use chrono::{DateTime, Utc};

use super::sql::Conn;
use super::{Store, StoreError, to_ms};

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub stories: usize,
    pub items: usize,
    pub tombstones_expired: usize,
}

impl Store {
    /// Deletes up to `batch` stories whose newest item was first seen before `before`, leaving a
    /// tombstone per item, and up to `batch` tombstones made before `tombstones_before`. One short
    /// transaction: call it again until it returns fewer than `batch` stories.
    pub fn prune(
        &self,
        before: DateTime<Utc>,
        tombstones_before: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: usize,
    ) -> Result<Pruned, StoreError> {
        let times = (before, tombstones_before, now);
        self.with(|c| prune(c, times, batch))
    }

    /// The database's size in bytes (SQLite: pages × page size), for retention figures.
    pub fn file_bytes(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            let sql = if c.is_postgres() {
                "SELECT pg_database_size(current_database())"
            } else {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            };
            Ok(c.query_opt(sql, &[], |r| r.int(0))?.unwrap_or(0))
        })
    }

    /// Tombstones held (for tests and figures).
    pub fn tombstones(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT COUNT(*) FROM tombstones", &[], |r| r.int(0))?
                    .unwrap_or(0),
            )
        })
    }
}

/// The function behind [`Store::prune`], on either engine; `times`: (stories before, tombstones
/// before, now).
pub(super) fn prune(
    conn: &mut Conn<'_>,
    (before, tombstones_before, now): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    batch: usize,
) -> Result<Pruned, StoreError> {
    conn.transaction(|tx| {
        super::index::serialize_with_applies(tx)?;
        // A story pinned until later (or for good) is kept; once its pin expires it goes as any other
        // (its pin with it).
        let ids = tx.query(
            "SELECT story_id FROM items
             WHERE story_id NOT IN (SELECT story_id FROM pins WHERE until IS NULL OR until > ?3)
             GROUP BY story_id HAVING MAX(first_seen) < ?1 LIMIT ?2",
            &[
                to_ms(before).into(),
                (batch as i64).into(),
                to_ms(now).into(),
            ],
            |r| r.int(0),
        )?;
        let mut pruned = Pruned::default();
        for id in ids {
            tx.exec(
                "INSERT INTO tombstones (source_id, key, deleted_at)
                 SELECT source_id, key, ?2 FROM items WHERE story_id = ?1
                 ON CONFLICT (source_id, key) DO UPDATE SET deleted_at = excluded.deleted_at",
                &[id.into(), to_ms(now).into()],
            )?;
            tx.exec(
                "DELETE FROM story_sections WHERE story_id = ?1",
                &[id.into()],
            )?;
            tx.exec("DELETE FROM pins WHERE story_id = ?1", &[id.into()])?;
            pruned.items += tx.exec("DELETE FROM items WHERE story_id = ?1", &[id.into()])?;
            tx.exec("DELETE FROM stories WHERE id = ?1", &[id.into()])?;
            pruned.stories += 1;
        }
        pruned.tombstones_expired = tx.exec(
            "DELETE FROM tombstones WHERE (source_id, key) IN
             (SELECT source_id, key FROM tombstones WHERE deleted_at < ?1 LIMIT ?2)",
            &[to_ms(tombstones_before).into(), (batch as i64).into()],
        )?;
        Ok(pruned)
    })
}

/// Whether an entry was deleted by retention (and must not be stored again).
pub(super) fn is_tombstoned(
    tx: &mut Conn<'_>,
    source_id: i64,
    key: &str,
) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM tombstones WHERE source_id = ?1 AND key = ?2",
            &[source_id.into(), key.into()],
            |_| Ok(()),
        )?
        .is_some())
}
