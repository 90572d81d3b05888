//! The SQLite story store: schema, migrations and the connection handle.
//!
//! One connection behind a std mutex, held briefly and never across an `.await`: async callers go through
//! [`Store::call`], which runs the closure on tokio's blocking pool. SQLite has one writer anyway, and the
//! read side is mostly served from the render cache.

mod sources;
mod stories;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

pub use sources::{FetchRecord, Hold, SourceHealth, SourceState};
pub use stories::{
    JoinInfo, MAX_TOP_HOURS, RefreshInput, RefreshStats, Story, StoryItem, TopQuery,
};

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema2.sql"),
    include_str!("schema3.sql"),
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
    index: Arc<Mutex<stories::IndexState>>,
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
        migrate(&mut conn, &path.display().to_string())?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            index: Arc::new(Mutex::new(stories::IndexState::default())),
        })
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

    fn lock_index(&self) -> MutexGuard<'_, stories::IndexState> {
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
