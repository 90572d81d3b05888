//! Sources and their fetch state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::SourceConfig;
use crate::model::Validators;

use super::sql::{Conn, JsonRows, json_field};
use super::{Store, StoreError, from_ms, to_ms};

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
    /// Where a 301/308 moved the feed (polled instead of the configured URL).
    pub moved_to: Option<String>,
    /// When the source answered 410 Gone (it is not polled until its URL changes).
    pub gone_at: Option<DateTime<Utc>>,
    /// A Retry-After holds the source until then.
    pub retry_until: Option<DateTime<Utc>>,
    /// The interval the feed or server last asked for, in seconds.
    pub hint_secs: Option<i64>,
}

/// Why a source is not polled now (by the daemon, or by `syndic poll` without `--force`).
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// 410 Gone.
    Gone(DateTime<Utc>),
    /// A 429/503 Retry-After, until then.
    RetryAfter(DateTime<Utc>),
    /// Backing off after consecutive failures, until then.
    Backoff { until: DateTime<Utc>, failures: i64 },
}

impl SourceState {
    /// Whether the source is held at `now`, and why.
    pub fn hold(&self, now: DateTime<Utc>) -> Option<Hold> {
        if let Some(at) = self.gone_at {
            return Some(Hold::Gone(at));
        }
        if let Some(until) = self.retry_until.filter(|t| *t > now) {
            return Some(Hold::RetryAfter(until));
        }
        match self.next_check_at {
            Some(until) if self.error_streak > 0 && until > now => Some(Hold::Backoff {
                until,
                failures: self.error_streak,
            }),
            _ => None,
        }
    }
}

/// The outcome of one fetch, as stored in `sources.last_status` (text) and shown by `syndic sources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchStatus {
    /// A new document, parsed and stored.
    Ok,
    /// 304 Not Modified.
    NotModified,
    /// The same bytes as last time: not parsed.
    Unchanged,
    /// The fetch, parse or store failed (`last_error` says why).
    Error,
}

impl FetchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchStatus::Ok => "ok",
            FetchStatus::NotModified => "not-modified",
            FetchStatus::Unchanged => "unchanged",
            FetchStatus::Error => "error",
        }
    }

    /// The stored text; an unknown value is an error that names it.
    pub fn parse_stored(text: &str) -> Result<FetchStatus, super::UnknownValue> {
        [
            FetchStatus::Ok,
            FetchStatus::NotModified,
            FetchStatus::Unchanged,
            FetchStatus::Error,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| super::UnknownValue {
            column: "sources.last_status",
            value: text.to_string(),
            known: "ok, not-modified, unchanged, error",
        })
    }
}

/// A source's state in `syndic sources` (see README, "Source states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    Ok,
    /// Never fetched yet.
    New,
    /// Backing off after failures.
    Backoff,
    /// Held by the server's Retry-After.
    RetryAfter,
    /// Answered 410 Gone.
    Gone,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::New => "new",
            HealthState::Backoff => "backoff",
            HealthState::RetryAfter => "retry-after",
            HealthState::Gone => "gone",
        }
    }
}

/// The outcome of one fetch, as recorded on the source row.
#[derive(Debug, Clone)]
pub struct FetchRecord {
    pub at: DateTime<Utc>,
    pub status: FetchStatus,
    pub error: Option<String>,
    /// New validators and body hash after a successful fetch (None: keep the stored ones).
    pub validators: Option<Validators>,
    pub body_hash: Option<String>,
    pub feed_title: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    /// A 301/308 moved the feed here.
    pub moved_to: Option<String>,
    /// The source answered 410 Gone.
    pub gone: bool,
    /// Held by Retry-After until then.
    pub retry_until: Option<DateTime<Utc>>,
    /// The interval the feed or server asked for, in seconds.
    pub hint_secs: Option<i64>,
}

impl FetchRecord {
    /// A successful fetch at `at` that changes no validators (tools and tests that feed items directly).
    pub fn ok(at: DateTime<Utc>) -> FetchRecord {
        FetchRecord {
            at,
            status: FetchStatus::Ok,
            error: None,
            validators: None,
            body_hash: None,
            feed_title: None,
            next_check_at: None,
            moved_to: None,
            gone: false,
            retry_until: None,
            hint_secs: None,
        }
    }

    /// A failed fetch at `at`, with its message.
    pub fn error(at: DateTime<Utc>, error: String) -> FetchRecord {
        FetchRecord {
            status: FetchStatus::Error,
            error: Some(error),
            ..FetchRecord::ok(at)
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
    pub status: Option<FetchStatus>,
    pub last_error: Option<String>,
    pub error_streak: i64,
    pub next_check_at: Option<DateTime<Utc>>,
    pub items: i64,
    /// Where a 301/308 moved the feed: feeds.toml should be updated to it.
    pub moved_to: Option<String>,
    pub gone_at: Option<DateTime<Utc>>,
    pub retry_until: Option<DateTime<Utc>>,
    /// The interval the feed or server last asked for, in seconds.
    pub hint_secs: Option<i64>,
    /// `ok`, `new`, `backoff`, `retry-after` or `gone` (see README, "Source states").
    pub state: HealthState,
    /// On PostgreSQL, the node that claimed the source for a refresh and until when (unexpired leases
    /// only).
    pub lease_node: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Makes the sources table match the config: new names are added, changed URLs updated (with their
    /// validators reset), names no longer configured marked inactive. Returns name → id.
    pub fn sync_sources(
        &self,
        sources: &[SourceConfig],
    ) -> Result<HashMap<String, i64>, StoreError> {
        self.with(|c| sync_sources(c, sources))
    }

    pub fn source_state(&self, source_id: i64) -> Result<SourceState, StoreError> {
        self.with(|c| source_state(c, source_id))
    }

    /// Records a fetch that stored nothing (not modified, or an error).
    pub fn record_fetch(&self, source_id: i64, rec: &FetchRecord) -> Result<(), StoreError> {
        self.with(|c| write_fetch_record(c, source_id, rec))
    }

    /// `(id, next_check_at)` of every active source that is not gone; `None` means "never checked: due
    /// now".
    pub fn next_checks(&self) -> Result<Vec<NextCheck>, StoreError> {
        self.with(next_checks)
    }

    /// Health of every source, configured ones first (in name order), then inactive ones.
    pub fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        self.with(source_health)
    }
}

/// The lock that registers the sources of one node at a time on PostgreSQL ("syndicS" in ASCII).
const SOURCES_LOCK: i64 = 0x0073_796e_6469_6353;

// The functions behind those methods, on either engine (see `sql::Conn`).

pub(super) fn sync_sources(
    conn: &mut Conn<'_>,
    sources: &[SourceConfig],
) -> Result<HashMap<String, i64>, StoreError> {
    conn.transaction(|tx| {
        if tx.is_postgres() {
            // Nodes starting together register one at a time (two inserting one name would clash).
            tx.query_opt(
                "SELECT pg_advisory_xact_lock(?1)",
                &[SOURCES_LOCK.into()],
                |_| Ok(()),
            )?;
        }
        // Statements by the batch, not by the source: a start-up with thousands of sources costs a few
        // round trips on PostgreSQL. Only rows that change are written: a node that starts or reloads
        // with the file unchanged writes nothing, and holds no row the other nodes are updating.
        let mut stored: HashMap<String, (i64, String, i64, Option<String>)> = tx
            .query("SELECT id, name, url, active, host FROM sources", &[], |r| {
                Ok((r.text(1)?, (r.int(0)?, r.text(2)?, r.int(3)?, r.opt_text(4)?)))
            })?
            .into_iter()
            .collect();
        let mut ids = HashMap::new();
        let (mut kept, mut moved, mut added) =
            (JsonRows::default(), JsonRows::default(), JsonRows::default());
        // Names are unique (the config refuses a name used twice).
        for s in sources {
            let url = s.url.as_str();
            // As the fetcher's per-host limit counts it.
            let host = s.url.host_str().unwrap_or_default().to_ascii_lowercase();
            match stored.remove(&s.name) {
                Some((id, old, active, old_host)) => {
                    ids.insert(s.name.clone(), id);
                    if old != url {
                        moved.push(&[id.into(), url.into(), host.as_str().into()]);
                    } else if active != 1 || old_host.as_deref() != Some(host.as_str()) {
                        kept.push(&[id.into(), host.as_str().into()]);
                    }
                }
                None => added.push(&[s.name.as_str().into(), url.into(), host.as_str().into()]),
            }
        }
        // What is left of the stored sources is no longer in the file.
        let retired: Vec<i64> = stored
            .values()
            .filter(|(_, _, active, _)| *active != 0)
            .map(|(id, ..)| *id)
            .collect();
        if !retired.is_empty() {
            let list = serde_json::to_string(&retired).unwrap_or_else(|_| "[]".into());
            let sql = format!(
                "UPDATE sources SET active = 0 WHERE id IN {}",
                tx.json_values(1, Some("BIGINT"))
            );
            tx.exec(&sql, &[list.as_str().into()])?;
        }
        if !kept.is_empty() {
            let sql = format!(
                "UPDATE sources SET active = 1, host = v.host
                 FROM (SELECT {} AS id, {} AS host FROM {}) AS v WHERE sources.id = v.id",
                json_field(0, "BIGINT"),
                json_field(1, "TEXT"),
                tx.json_rows(1)
            );
            tx.exec(&sql, &[kept.take().as_str().into()])?;
        }
        if !moved.is_empty() {
            // A new URL starts afresh: no validators, move, 410, hold or backoff of the old one.
            let sql = format!(
                "UPDATE sources SET active = 1, url = v.url, host = v.host, etag = NULL,
                 last_modified = NULL, body_hash = NULL, next_check_at = NULL, moved_to = NULL,
                 gone_at = NULL, retry_until = NULL, error_streak = 0
                 FROM (SELECT {} AS id, {} AS url, {} AS host FROM {}) AS v WHERE sources.id = v.id",
                json_field(0, "BIGINT"),
                json_field(1, "TEXT"),
                json_field(2, "TEXT"),
                tx.json_rows(1)
            );
            tx.exec(&sql, &[moved.take().as_str().into()])?;
        }
        if !added.is_empty() {
            let sql = format!(
                "INSERT INTO sources (name, url, host) SELECT {}, {}, {} FROM {} RETURNING name, id",
                json_field(0, "TEXT"),
                json_field(1, "TEXT"),
                json_field(2, "TEXT"),
                tx.json_rows(1)
            );
            for (name, id) in tx.query(&sql, &[added.take().as_str().into()], |r| {
                Ok((r.text(0)?, r.int(1)?))
            })? {
                ids.insert(name, id);
            }
        }
        Ok(ids)
    })
}

pub(super) fn source_state(conn: &mut Conn<'_>, source_id: i64) -> Result<SourceState, StoreError> {
    conn.query_opt(
        "SELECT etag, last_modified, body_hash, next_check_at, error_streak, moved_to, gone_at,
                retry_until, hint_secs
         FROM sources WHERE id = ?1",
        &[source_id.into()],
        |r| {
            Ok(SourceState {
                validators: Validators {
                    etag: r.opt_text(0)?,
                    last_modified: r.opt_text(1)?,
                },
                body_hash: r.opt_text(2)?,
                next_check_at: r.opt_int(3)?.map(from_ms),
                error_streak: r.int(4)?,
                moved_to: r.opt_text(5)?,
                gone_at: r.opt_int(6)?.map(from_ms),
                retry_until: r.opt_int(7)?.map(from_ms),
                hint_secs: r.opt_int(8)?,
            })
        },
    )?
    .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub(super) fn next_checks(conn: &mut Conn<'_>) -> Result<Vec<NextCheck>, StoreError> {
    conn.query(
        "SELECT id, next_check_at FROM sources WHERE active = 1 AND gone_at IS NULL",
        &[],
        |r| Ok((r.int(0)?, r.opt_int(1)?.map(from_ms))),
    )
}

pub(super) fn source_health(conn: &mut Conn<'_>) -> Result<Vec<SourceHealth>, StoreError> {
    let now = Utc::now();
    conn.query(
        "SELECT s.name, s.url, s.active, s.feed_title, s.last_fetch_at, s.last_success_at,
                s.last_status, s.last_error, s.error_streak, s.next_check_at,
                (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id),
                s.moved_to, s.gone_at, s.retry_until, s.hint_secs,
                CASE WHEN s.lease_until > ?1 THEN s.lease_node END,
                CASE WHEN s.lease_until > ?1 THEN s.lease_until END
         FROM sources s ORDER BY s.active DESC, s.name",
        &[to_ms(now).into()],
        |r| {
            let gone_at = r.opt_int(12)?.map(from_ms);
            let retry_until = r.opt_int(13)?.map(from_ms);
            let streak = r.int(8)?;
            let status = r
                .opt_text(6)?
                .map(|s| FetchStatus::parse_stored(&s))
                .transpose()?;
            let state = if gone_at.is_some() {
                HealthState::Gone
            } else if retry_until.is_some_and(|t| t > now) {
                HealthState::RetryAfter
            } else if streak > 0 {
                HealthState::Backoff
            } else if status.is_none() {
                HealthState::New
            } else {
                HealthState::Ok
            };
            Ok(SourceHealth {
                name: r.text(0)?,
                url: r.text(1)?,
                active: r.int(2)? != 0,
                feed_title: r.opt_text(3)?,
                last_fetch_at: r.opt_int(4)?.map(from_ms),
                last_success_at: r.opt_int(5)?.map(from_ms),
                status,
                last_error: r.opt_text(7)?,
                error_streak: streak,
                next_check_at: r.opt_int(9)?.map(from_ms),
                items: r.int(10)?,
                moved_to: r.opt_text(11)?,
                gone_at,
                retry_until,
                hint_secs: r.opt_int(14)?,
                state,
                lease_node: r.opt_text(15)?,
                lease_until: r.opt_int(16)?.map(from_ms),
            })
        },
    )
}

pub(super) fn write_fetch_record(
    conn: &mut Conn<'_>,
    source_id: i64,
    rec: &FetchRecord,
) -> Result<(), StoreError> {
    let ok = rec.status != FetchStatus::Error;
    let validators = rec.validators.as_ref();
    conn.exec_at_commit(
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
            next_check_at = CASE WHEN ?13 THEN NULL ELSE COALESCE(?11, next_check_at) END,
            moved_to = COALESCE(?12, moved_to),
            gone_at = CASE WHEN ?13 THEN ?2 WHEN ?5 THEN NULL ELSE gone_at END,
            retry_until = CASE WHEN ?5 THEN NULL ELSE CAST(?14 AS BIGINT) END,
            hint_secs = CASE WHEN ?5 THEN ?15 ELSE hint_secs END
         WHERE id = ?1",
        &[
            source_id.into(),
            to_ms(rec.at).into(),
            rec.status.as_str().into(),
            (&rec.error).into(),
            ok.into(),
            validators.is_some().into(),
            validators.and_then(|v| v.etag.as_deref()).into(),
            validators.and_then(|v| v.last_modified.as_deref()).into(),
            (&rec.body_hash).into(),
            (&rec.feed_title).into(),
            rec.next_check_at.map(to_ms).into(),
            (&rec.moved_to).into(),
            rec.gone.into(),
            rec.retry_until.map(to_ms).into(),
            rec.hint_secs.into(),
        ],
    )?;
    Ok(())
}
