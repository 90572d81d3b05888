//! The SQLite story store: schema, migrations and the connection handle.
//!
//! One connection behind a std mutex, held briefly and never across an `.await`: async callers go through
//! [`Store::call`], which runs the closure on tokio's blocking pool. SQLite has one writer anyway, and the
//! read side is mostly served from the render cache.

mod apply;
mod index;
mod lookup;
mod models;
mod pending;
pub mod pg;
mod pins;
mod retention;
mod sources;
pub mod sql;
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
pub use pins::Pin;
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
    include_str!("schema8.sql"),
    include_str!("schema9.sql"),
    include_str!("schema10.sql"),
    include_str!("schema11.sql"),
    include_str!("schema12.sql"),
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
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("database: {0}")]
    Unknown(#[from] UnknownValue),
}

/// The stored state, on SQLite (embedded, the default) or PostgreSQL (`[storage] url`). Every operation
/// runs the same engine-neutral function ([`sql::Conn`]) on either.
#[derive(Clone)]
pub struct Store {
    engine: Engine,
    /// The title-similarity index over the stories in the dedupe window. Always locked after the
    /// engine's connection.
    index: Arc<Mutex<index::IndexState>>,
    /// Held by the refresh this process is applying on PostgreSQL, before it takes a connection (so
    /// the order is: this, a connection, the index).
    applying: Arc<Mutex<()>>,
    /// Refreshes waiting to be applied together ([`Store::apply_queued`], PostgreSQL).
    waiting: Arc<Mutex<apply::Queue>>,
    /// Checkpoints run by the background checkpointer (for tests and metrics).
    checkpoints: Arc<AtomicU64>,
}

/// The database behind a [`Store`].
#[derive(Clone)]
enum Engine {
    Lite(Arc<Mutex<Connection>>),
    Pg(Arc<pg::Pg>),
}

/// Frames (pages) in the write-ahead log after which a background thread copies it into the database.
const CHECKPOINT_FRAMES: c_int = 1000;
/// Frames beyond which the committing connection checkpoints by itself: the background thread fell behind
/// or is gone, and the log must not grow without bound.
const CHECKPOINT_BACKSTOP: c_int = 16 * 1024;
/// The log file is cut back to this size when SQLite starts it over.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

fn log_refingerprinted(items: usize) {
    if items > 0 {
        tracing::info!(
            items,
            "title fingerprints recomputed for the current normalization"
        );
    }
}

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
        log_refingerprinted(index::refingerprint(&mut sql::Conn::Lite(&conn))?);
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let checkpoints = Arc::new(AtomicU64::new(0));
        start_checkpointer(&mut conn, path, checkpoints.clone())?;
        Ok(Store {
            engine: Engine::Lite(Arc::new(Mutex::new(conn))),
            index: Arc::new(Mutex::new(index::IndexState::default())),
            applying: Arc::default(),
            waiting: Arc::default(),
            checkpoints,
        })
    }

    /// Connects to a PostgreSQL database (`postgres://...`), brings its schema up to date and builds
    /// the similarity index from the stories first seen within `window`.
    pub fn open_postgres(url: &str, window: chrono::Duration) -> Result<Store, StoreError> {
        let pg = pg::Pg::connect(url)?;
        pg.migrate()?;
        let store = Store {
            engine: Engine::Pg(Arc::new(pg)),
            index: Arc::new(Mutex::new(index::IndexState::default())),
            applying: Arc::default(),
            waiting: Arc::default(),
            checkpoints: Arc::new(AtomicU64::new(0)),
        };
        log_refingerprinted(store.with(index::refingerprint)?);
        store.rebuild_index(Utc::now(), window)?;
        Ok(store)
    }

    /// The store `[storage]` names: PostgreSQL when `url` is set, else the SQLite file `database`.
    pub fn open_configured(
        database: &Path,
        url: Option<&str>,
        window: chrono::Duration,
    ) -> Result<Store, StoreError> {
        match url {
            Some(url) => Store::open_postgres(url, window),
            None => Store::open_with_window(database, window),
        }
    }

    /// The PostgreSQL engine, when the store is on it.
    pub fn postgres(&self) -> Option<&pg::Pg> {
        match &self.engine {
            Engine::Pg(pg) => Some(pg),
            Engine::Lite(_) => None,
        }
    }

    /// Runs `f` on the engine's connection (locked for its duration).
    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut sql::Conn<'_>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        match &self.engine {
            Engine::Lite(conn) => {
                let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut sql::Conn::Lite(&conn))
            }
            Engine::Pg(pg) => pg.with(f),
        }
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

    /// The SQLite connection, for what only that engine has (its backup API, page counts, the copy
    /// into PostgreSQL); an error on PostgreSQL.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        match &self.engine {
            // A panic while holding the lock rolled back its transaction; the connection is usable.
            Engine::Lite(conn) => Ok(conn.lock().unwrap_or_else(|e| e.into_inner())),
            Engine::Pg(_) => Err(StoreError::Postgres(
                "this works on the SQLite engine only".into(),
            )),
        }
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
        tokio::task::spawn_blocking(move || pg::may_block(|| f(&store)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// A trivial query: does the database answer?
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.query_opt("SELECT 1", &[], |_| Ok(())))?;
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
mod tests;
