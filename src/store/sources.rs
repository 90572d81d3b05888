//! Sources and their fetch state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, from_ms, to_ms};
use crate::config::SourceConfig;
use crate::fetch::Validators;

/// A source id and when it is next due (`None`: never checked).
pub type NextCheck = (i64, Option<DateTime<Utc>>);

/// What a refresh needs to know before fetching.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    pub validators: Validators,
    /// SHA-256 of the last body parsed: an unchanged body costs no parse even without validators.
    pub body_hash: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub error_streak: i64,
}

/// The outcome of one fetch, as recorded on the source row.
#[derive(Debug, Clone)]
pub struct FetchRecord {
    pub at: DateTime<Utc>,
    /// "ok", "not-modified" or "error".
    pub status: &'static str,
    pub error: Option<String>,
    /// New validators and body hash after a successful fetch (None: keep the stored ones).
    pub validators: Option<Validators>,
    pub body_hash: Option<String>,
    pub feed_title: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
}

impl FetchRecord {
    /// A successful fetch at `at` that changes no validators (tools and tests that feed items directly).
    pub fn ok(at: DateTime<Utc>) -> FetchRecord {
        FetchRecord {
            at,
            status: "ok",
            error: None,
            validators: None,
            body_hash: None,
            feed_title: None,
            next_check_at: None,
        }
    }
}

/// One line of `syndic sources`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceHealth {
    pub name: String,
    pub url: String,
    pub active: bool,
    pub feed_title: Option<String>,
    pub last_fetch_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub status: Option<String>,
    pub last_error: Option<String>,
    pub error_streak: i64,
    pub next_check_at: Option<DateTime<Utc>>,
    pub items: i64,
}

impl Store {
    /// Makes the sources table match the config: new names are added, changed URLs updated (with their
    /// validators reset), names no longer configured marked inactive. Returns name → id.
    pub fn sync_sources(
        &self,
        sources: &[SourceConfig],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("UPDATE sources SET active = 0", [])?;
        let mut ids = HashMap::new();
        for s in sources {
            let url = s.url.as_str();
            let existing: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, url FROM sources WHERE name = ?1",
                    [&s.name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let id = match existing {
                Some((id, old)) if old == url => {
                    tx.execute("UPDATE sources SET active = 1 WHERE id = ?1", [id])?;
                    id
                }
                Some((id, _)) => {
                    tx.execute(
                        "UPDATE sources SET active = 1, url = ?2, etag = NULL, last_modified = NULL,
                         body_hash = NULL, next_check_at = NULL WHERE id = ?1",
                        params![id, url],
                    )?;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO sources (name, url) VALUES (?1, ?2)",
                        params![s.name, url],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            ids.insert(s.name.clone(), id);
        }
        tx.commit()?;
        Ok(ids)
    }

    pub fn source_state(&self, source_id: i64) -> Result<SourceState, StoreError> {
        let conn = self.lock();
        let state = conn.query_row(
            "SELECT etag, last_modified, body_hash, next_check_at, error_streak FROM sources WHERE id = ?1",
            [source_id],
            |r| {
                Ok(SourceState {
                    validators: Validators {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                    },
                    body_hash: r.get(2)?,
                    next_check_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
                    error_streak: r.get(4)?,
                })
            },
        )?;
        Ok(state)
    }

    /// Records a fetch that stored nothing (not modified, or an error).
    pub fn record_fetch(&self, source_id: i64, rec: &FetchRecord) -> Result<(), StoreError> {
        let conn = self.lock();
        write_fetch_record(&conn, source_id, rec)
    }

    /// `(id, next_check_at)` of every active source; `None` means "never checked: due now".
    pub fn next_checks(&self) -> Result<Vec<NextCheck>, StoreError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT id, next_check_at FROM sources WHERE active = 1")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.map(from_ms)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Health of every source, configured ones first (in name order), then inactive ones.
    pub fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT s.name, s.url, s.active, s.feed_title, s.last_fetch_at, s.last_success_at,
                    s.last_status, s.last_error, s.error_streak, s.next_check_at,
                    (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id)
             FROM sources s ORDER BY s.active DESC, s.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceHealth {
                name: r.get(0)?,
                url: r.get(1)?,
                active: r.get(2)?,
                feed_title: r.get(3)?,
                last_fetch_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                last_success_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                status: r.get(6)?,
                last_error: r.get(7)?,
                error_streak: r.get(8)?,
                next_check_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
                items: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub(super) fn write_fetch_record(
    conn: &rusqlite::Connection,
    source_id: i64,
    rec: &FetchRecord,
) -> Result<(), StoreError> {
    let ok = rec.status != "error";
    conn.execute(
        "UPDATE sources SET
            last_fetch_at = ?2,
            last_status = ?3,
            last_error = ?4,
            error_streak = CASE WHEN ?5 THEN 0 ELSE error_streak + 1 END,
            last_success_at = CASE WHEN ?5 THEN ?2 ELSE last_success_at END,
            etag = CASE WHEN ?6 THEN ?7 ELSE etag END,
            last_modified = CASE WHEN ?6 THEN ?8 ELSE last_modified END,
            body_hash = COALESCE(?9, body_hash),
            feed_title = COALESCE(?10, feed_title),
            next_check_at = COALESCE(?11, next_check_at)
         WHERE id = ?1",
        params![
            source_id,
            to_ms(rec.at),
            rec.status,
            rec.error,
            ok,
            rec.validators.is_some(),
            rec.validators.as_ref().and_then(|v| v.etag.clone()),
            rec.validators
                .as_ref()
                .and_then(|v| v.last_modified.clone()),
            rec.body_hash,
            rec.feed_title,
            rec.next_check_at.map(to_ms),
        ],
    )?;
    Ok(())
}
