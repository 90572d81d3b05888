//! Retention: stories whose newest item is older than `[storage].keep_days` are deleted in small
//! batches, each item leaving a tombstone so that a source still listing it does not bring it back;
//! tombstones go in turn after a further period. Freed pages are reused by new data, so under steady
//! churn the file stops growing.

use chrono::{DateTime, Utc};
use rusqlite::params;

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
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT story_id FROM items GROUP BY story_id HAVING MAX(first_seen) < ?1 LIMIT ?2",
            )?;
            stmt.query_map(params![to_ms(before), batch as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut pruned = Pruned::default();
        for id in &ids {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tombstones (source_id, key, deleted_at)
                 SELECT source_id, key, ?2 FROM items WHERE story_id = ?1",
            )?
            .execute(params![id, to_ms(now)])?;
            tx.prepare_cached("DELETE FROM story_sections WHERE story_id = ?1")?
                .execute([id])?;
            pruned.items += tx
                .prepare_cached("DELETE FROM items WHERE story_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                .execute([id])?;
            pruned.stories += 1;
        }
        pruned.tombstones_expired = tx
            .prepare_cached(
                "DELETE FROM tombstones WHERE (source_id, key) IN
                 (SELECT source_id, key FROM tombstones WHERE deleted_at < ?1 LIMIT ?2)",
            )?
            .execute(params![to_ms(tombstones_before), batch as i64])?;
        tx.commit()?;
        Ok(pruned)
    }

    /// The database file's size in bytes (pages × page size), for retention figures.
    pub fn file_bytes(&self) -> Result<i64, StoreError> {
        Ok(self.lock().query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?)
    }

    /// Tombstones held (for tests and figures).
    pub fn tombstones(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT COUNT(*) FROM tombstones", [], |r| r.get(0))?)
    }
}

/// Whether an entry was deleted by retention (and must not be stored again).
pub(super) fn is_tombstoned(
    tx: &rusqlite::Connection,
    source_id: i64,
    key: &str,
) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM tombstones WHERE source_id = ?1 AND key = ?2")?
        .exists(params![source_id, key])?)
}
