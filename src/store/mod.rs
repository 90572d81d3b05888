//! The SQLite story store: schema, migrations and the connection handle.
//!
//! One connection behind a std mutex, held briefly and never across an `.await`: async callers go through
//! [`Store::call`], which runs the closure on tokio's blocking pool. SQLite has one writer anyway, and the
//! read side is mostly served from the render cache.

mod apply;
mod index;
mod lookup;
mod models;
mod retention;
mod sources;
mod stories;
mod tags;

use std::ffi::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

pub use apply::{RefreshInput, RefreshStats};
pub use models::{StoredModel, TaggedStory};
pub use retention::Pruned;
pub use sources::{FetchRecord, FetchStatus, HealthState, Hold, SourceHealth, SourceState};
pub use stories::{
    JoinInfo, JoinReason, MAX_TOP_HOURS, RefusalInfo, Story, StoryItem, TopQuery, UnknownValue,
};

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema2.sql"),
    include_str!("schema3.sql"),
    include_str!("schema4.sql"),
    include_str!("schema5.sql"),
    include_str!("schema6.sql"),
    include_str!("schema7.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "database {path} has schema version {found}, newer than this syndic understands ({known}); upgrade syndic"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("cannot create database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// The title-similarity index over the stories in the dedupe window. Always locked after `conn`.
    index: Arc<Mutex<index::IndexState>>,
    /// Checkpoints run by the background checkpointer (for tests and metrics).
    checkpoints: Arc<AtomicU64>,
}

/// Frames (pages) in the write-ahead log after which a background thread copies it into the database.
const CHECKPOINT_FRAMES: c_int = 1000;
/// Frames beyond which the committing connection checkpoints by itself: the background thread fell behind
/// or is gone, and the log must not grow without bound.
const CHECKPOINT_BACKSTOP: c_int = 16 * 1024;
/// The log file is cut back to this size when SQLite starts it over.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Folder(dir.display().to_string(), e))?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 16 MiB of page cache (SQLite's default is 2 MiB): a busy poll cycle reads the same index pages
        // over and over; without it a third of the cycle went to copying pages from the OS.
        conn.pragma_update(None, "cache_size", -16384)?;
        // Plans must not depend on bound values: otherwise SQLite re-prepares a cached statement on every
        // run whose parameter it consulted, which cost a quarter of the ingest time.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // Room for every statement the refresh, render and retention paths cache (the default 16 is
        // fewer than one refresh uses: evicted statements were re-prepared over and over).
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, &path.display().to_string())?;
        let refingerprinted = index::refingerprint(&mut conn)?;
        if refingerprinted > 0 {
            tracing::info!(
                items = refingerprinted,
                "title fingerprints recomputed for the current normalization"
            );
        }
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let checkpoints = Arc::new(AtomicU64::new(0));
        start_checkpointer(&mut conn, path, checkpoints.clone())?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            index: Arc::new(Mutex::new(index::IndexState::default())),
            checkpoints,
        })
    }

    /// Checkpoints the background checkpointer has run since the store opened.
    pub fn background_checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// Opens the database and builds the title-similarity index from the stories first seen within
    /// `window` (the daemon's and the CLI's way in; [`Store::open`] builds it on the first refresh).
    pub fn open_with_window(path: &Path, window: chrono::Duration) -> Result<Store, StoreError> {
        let store = Store::open(path)?;
        store.rebuild_index(Utc::now(), window)?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled back its transaction; the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_index(&self) -> MutexGuard<'_, index::IndexState> {
        // Index updates happen after a commit and cannot half-fail; a poisoned lock holds a usable index.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs blocking store work off the async runtime.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// A trivial query: does the database answer?
    pub fn ping(&self) -> Result<(), StoreError> {
        self.lock().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Copies the database at `source` to `dest` with SQLite's online backup API: consistent even while
/// a daemon writes to it (the copy is one snapshot; a write in between restarts the step), written
/// beside `dest` and renamed into place once it passes `PRAGMA quick_check`. Returns the pages copied.
pub fn backup(source: &Path, dest: &Path) -> Result<i64, StoreError> {
    use rusqlite::OpenFlags;
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    let partial = dest.with_file_name(format!(
        ".{}.partial",
        dest.file_name()
            .map_or("backup".into(), |n| n.to_string_lossy())
    ));
    let _ = std::fs::remove_file(&partial);
    let result = (|| -> Result<i64, StoreError> {
        let mut dst = Connection::open(&partial)?;
        {
            let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
            b.run_to_completion(1024, std::time::Duration::from_millis(5), None)?;
        }
        let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Task(format!(
                "the copy fails quick_check: {check}"
            )));
        }
        let pages: i64 = dst.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        drop(dst);
        std::fs::rename(&partial, dest)
            .map_err(|e| StoreError::Task(format!("{}: {e}", dest.display())))?;
        Ok(pages)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Moves WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit that
/// crosses its threshold, and copying the log back into the database took half of a busy poll cycle's
/// commit time, all of it while the store lock was held. Instead, a commit that leaves at least
/// [`CHECKPOINT_FRAMES`] frames in the log wakes a thread with its own connection, which runs a passive
/// checkpoint (it never blocks the writer). Past [`CHECKPOINT_BACKSTOP`] frames the commit checkpoints by
/// itself, as SQLite would: under steady writes the thread is always a little behind, so it is this
/// checkpoint, with little left to copy, that lets SQLite start the log over; and if the thread is gone
/// it does all the work. The thread ends when the last handle of the store is dropped.
fn start_checkpointer(
    conn: &mut Connection,
    path: &Path,
    count: Arc<AtomicU64>,
) -> Result<(), StoreError> {
    let worker = Connection::open(path)?;
    worker.busy_timeout(std::time::Duration::from_secs(10))?;
    // A connection learns that the database is in WAL mode when it first reads it; until then a
    // checkpoint does nothing.
    worker.pragma_update(None, "journal_mode", "WAL")?;
    let (wake, rx) = sync_channel::<()>(1);
    // Log size when the thread was last woken: it is woken again once the log has grown by
    // CHECKPOINT_FRAMES since (or has started over).
    let mut woken_at: c_int = 0;
    conn.wal_hook(Some(
        move |wal: &mut rusqlite::hooks::Wal, frames: c_int| {
            if frames < woken_at {
                woken_at = 0;
            }
            if frames >= CHECKPOINT_BACKSTOP {
                // The transaction has committed whatever this returns, so an error must not reach the
                // caller (it would report a stored refresh as failed). Busy means the thread is
                // copying the log right now; the next commit tries again.
                if let Err(e) = wal.checkpoint() {
                    tracing::debug!("WAL checkpoint after commit: {e}");
                }
                woken_at = 0;
            } else if frames - woken_at >= CHECKPOINT_FRAMES {
                woken_at = frames;
                match wake.try_send(()) {
                    // Full: a checkpoint is already due. Disconnected: the thread is gone; the backstop
                    // takes over.
                    Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
                }
            }
            Ok(())
        },
    ))?;
    std::thread::Builder::new()
        .name("syndic-checkpoint".into())
        .spawn(move || checkpoint_loop(&worker, &rx, &count))
        .map_err(|e| StoreError::Task(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

fn checkpoint_loop(worker: &Connection, wake: &Receiver<()>, count: &AtomicU64) {
    while wake.recv().is_ok() {
        match worker.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
            Ok((log, _)) if log >= 0 => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => tracing::warn!("background WAL checkpoint: the database is not in WAL mode"),
            Err(e) => tracing::warn!("background WAL checkpoint failed: {e}"),
        }
    }
}

fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_thread_checkpoints_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::open(&path).unwrap();
        {
            let conn = store.lock();
            conn.execute_batch("CREATE TABLE filler (x TEXT)").unwrap();
            // About 3,000 pages in 30 commits: the log crosses CHECKPOINT_FRAMES several times.
            for _ in 0..30 {
                conn.execute_batch(
                    "BEGIN; INSERT INTO filler SELECT printf('%.3000c', 'x') FROM
                       (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                        SELECT i FROM n); COMMIT;",
                )
                .unwrap();
            }
        }
        // The thread runs on its own; give it ample time on a slow machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.background_checkpoints() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(store.background_checkpoints() > 0);
        // The copied pages are in the database file itself.
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert!(on_disk > 1000 * 4096, "database file is {on_disk} bytes");
        let rows: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3000);
    }

    #[test]
    fn fingerprints_of_an_older_normalization_are_recomputed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fp.db");
        Store::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
                 INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
                 INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                     changed_at, fp_version)
                 VALUES (1, 'k1', 1, 'UPDATE 2-Mt. Gox files for bankruptcy - Reuters', 'stale', '', 0, 0, 0),
                        (1, 'k2', 1, 'Quake hits northern Japan coast', '', '', 0, 0, 0);
                 UPDATE meta SET value = 0 WHERE key = 'fingerprint_version';",
            )
            .unwrap();
        }
        Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let rows: Vec<(String, i64)> = conn
            .prepare("SELECT title_fp, fp_version FROM items ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let v = crate::dedupe::FINGERPRINT_VERSION;
        assert_eq!(
            rows,
            vec![
                (
                    crate::dedupe::title_fingerprint("Mt. Gox files for bankruptcy"),
                    v
                ),
                // Stored without a fingerprint (dedupe off, or too short): stays without one.
                (String::new(), v),
            ]
        );
    }

    #[test]
    fn a_version_6_database_gains_event_spans_and_keeps_every_story() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..6] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 6).unwrap();
            let tx = conn.transaction().unwrap();
            // A story of two items (one dated, one with a date after it was first seen), and a story
            // stored with similarity off (no representative).
            tx.execute_batch(
                "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/'),
                                                           (2, 'b', 'http://b.invalid/');
                 INSERT INTO stories (id, uid, first_seen, published, updated)
                     VALUES (1, 'u1', 1700000000000, 1699990000000, 1700000000000),
                            (2, 'u2', 1700000500000, 1700000500000, 1700000500000);
                 INSERT INTO items (source_id, key, story_id, title, title_fp, summary, published,
                     first_seen, changed_at, title_rep, match_reason)
                 VALUES (1, 'k1', 1, 'Quake hits northern Japan coast',
                         'quake hits northern japan coast', '', 1699990000000, 1700000000000,
                         1700000000000, 1, 'new'),
                        (2, 'k2', 1, 'Quake shakes northern Japan coast', 'quake shakes northern japan coast',
                         '', 1800000000000, 1700000100000, 1700000100000, 0, 'similar'),
                        (2, 'k3', 2, 'Central bank holds rates steady', 'central bank holds rates steady',
                         '', NULL, 1700000500000, 1700000500000, 0, 'new');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let spans: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT id, event_lo, event_hi FROM stories ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // The dated item counts at its date; one dated after it was first seen counts when first seen.
        assert_eq!(
            spans,
            vec![
                (1, 1699990000000, 1700000100000),
                (2, 1700000500000, 1700000500000)
            ]
        );
        let reps: i64 = conn
            .query_row("SELECT title_rep FROM items WHERE key = 'k3'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            reps, 1,
            "a story without a representative gets its first item"
        );
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn an_unknown_stored_join_reason_is_a_clear_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = Store::open(&path).unwrap();
        {
            let conn = store.lock();
            conn.execute_batch(
                "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
                 INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
                 INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                     changed_at, match_reason)
                 VALUES (1, 'k1', 1, 'A', '', '', 0, 0, 'new'),
                        (1, 'k2', 1, 'B', '', '', 0, 0, 'url');",
            )
            .unwrap();
        }
        let stories = store.stories(None, 10).unwrap();
        assert_eq!(stories[0].items[0].joined, None);
        assert_eq!(
            stories[0].items[1].joined.as_ref().map(|j| j.reason),
            Some(JoinReason::Url)
        );
        store
            .lock()
            .execute_batch("UPDATE items SET match_reason = 'telepathy' WHERE key = 'k2'")
            .unwrap();
        let err = store.stories(None, 10).unwrap_err().to_string();
        assert!(
            err.contains("unknown value \"telepathy\" in items.match_reason"),
            "{err}"
        );
    }

    #[test]
    fn section_origins_and_refusals_are_typed_and_an_unknown_one_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db")).unwrap();
        store
            .lock()
            .execute_batch(
                "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
                 INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
                 INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                     changed_at, match_reason, miss_reason)
                 VALUES (1, 'k1', 1, 'A', '', '', 0, 0, 'new', 'different places: chile / japan');
                 INSERT INTO story_sections (story_id, section, origin)
                 VALUES (1, 'asia', 'keyword:tokyo'), (1, 'world', 'learned:0.93');",
            )
            .unwrap();
        let story = &store.stories(None, 10).unwrap()[0];
        assert_eq!(
            story.section_origins,
            vec![
                crate::tag::rules::Origin::Keyword("tokyo".into()),
                crate::tag::rules::Origin::Learned("0.93".into())
            ]
        );
        let refused = story.items[0].refused.as_ref().unwrap();
        assert_eq!(refused.reason.kind, crate::dedupe::VetoKind::Places);
        assert_eq!(
            refused.reason.to_string(),
            "different places: chile / japan"
        );
        let json = serde_json::to_value(story).unwrap();
        assert_eq!(json["section_origins"][0], "keyword:tokyo");
        assert_eq!(
            json["items"][0]["refused"]["reason"],
            "different places: chile / japan"
        );

        store
            .lock()
            .execute_batch("UPDATE story_sections SET origin = 'oracle:x' WHERE section = 'asia'")
            .unwrap();
        let err = store.stories(None, 10).unwrap_err().to_string();
        assert!(
            err.contains("unknown value \"oracle:x\" in story_sections.origin"),
            "{err}"
        );
        store
            .lock()
            .execute_batch(
                "UPDATE story_sections SET origin = 'keyword:tokyo' WHERE section = 'asia';
                 UPDATE items SET miss_reason = 'bad vibes' WHERE key = 'k1'",
            )
            .unwrap();
        let err = store.stories(None, 10).unwrap_err().to_string();
        assert!(
            err.contains("unknown value \"bad vibes\" in items.miss_reason"),
            "{err}"
        );
    }

    #[test]
    fn fetch_statuses_are_typed_and_an_unknown_one_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .lock()
            .execute_batch(
                "INSERT INTO sources (id, name, url, last_status) VALUES
                     (1, 'a', 'http://a.invalid/', 'not-modified'), (2, 'b', 'http://b.invalid/', NULL);",
            )
            .unwrap();
        let health = store.source_health().unwrap();
        assert_eq!(health[0].status, Some(FetchStatus::NotModified));
        assert_eq!(
            (health[1].status, health[1].state),
            (None, HealthState::New)
        );
        assert_eq!(
            serde_json::to_value(&health[0]).unwrap()["status"],
            "not-modified"
        );
        store
            .lock()
            .execute_batch("UPDATE sources SET last_status = 'sideways' WHERE id = 1")
            .unwrap();
        let err = store.source_health().unwrap_err().to_string();
        assert!(
            err.contains("unknown value \"sideways\" in sources.last_status"),
            "{err}"
        );
    }

    #[test]
    fn migrates_once_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/s.db");
        Store::open(&path).unwrap().ping().unwrap();
        // Reopening runs nothing twice.
        Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer than this syndic"), "{err}");
    }
}
