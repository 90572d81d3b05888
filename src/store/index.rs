//! The store's similarity index: built from the stories within the dedupe window, changed only by
//! what a committed refresh says ([`IndexOp`]); and the re-fingerprinting of stored items when the title
//! normalization changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::dedupe::{self, TitleIndex};

use super::sql::Conn;
use super::{StoreError, from_ms, to_ms};

/// The similarity index and the window it was built for (`None`: not built yet).
#[derive(Default)]
pub(crate) struct IndexState {
    pub(crate) index: TitleIndex,
    pub(crate) window: Option<chrono::Duration>,
    /// On PostgreSQL: the last applied refresh (`apply_seq`) the index reflects; the ones after it,
    /// applied by other nodes, are replayed from `index_log` before this node decides anything.
    pub(crate) seen_seq: i64,
    /// The representatives' titles, kept with the index.
    pub(crate) titles: RepTitles,
}

/// The titles of the index's representatives by item id (with their story): what the look-alike veto
/// reads of a similar story, held with the index so that a refresh does not query each one. Filled as
/// the index is (rebuilt from the store, or changed by a committed or replayed [`IndexOp`]); an item
/// missing here (logged by a node that did not carry titles) is read from the store.
#[derive(Default)]
pub(crate) struct RepTitles {
    by_item: HashMap<i64, (i64, Box<str>)>,
    /// How many were held after the last sweep of pruned stories.
    kept: usize,
}

impl RepTitles {
    pub(super) fn get(&self, item_id: i64) -> Option<&str> {
        self.by_item.get(&item_id).map(|(_, t)| &**t)
    }

    /// A representative's title as of now; an empty one (not carried) forgets what was held.
    fn set(&mut self, story_id: i64, item_id: i64, title: &str) {
        if title.is_empty() {
            self.by_item.remove(&item_id);
        } else {
            self.by_item.insert(item_id, (story_id, title.into()));
        }
    }

    /// Drops the titles of stories the index no longer holds, once they could be as many again as
    /// those it does (a sweep per refresh would cost more than the memory).
    fn prune(&mut self, index: &TitleIndex) {
        if self.by_item.len() > 2 * self.kept + 4096 {
            self.by_item.retain(|_, (story, _)| index.contains(*story));
            self.kept = self.by_item.len();
        }
    }
}

impl IndexState {
    /// Loads the representatives of every story first seen within the window, in first-seen order, each
    /// story's first item first, with the story's event span: the index the running daemon had built,
    /// item for item.
    pub(super) fn rebuild(
        &mut self,
        conn: &mut Conn<'_>,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        if conn.is_postgres() {
            // Under the apply lock: the stories read and the sequence they reflect agree.
            return conn.transaction(|tx| {
                self.seen_seq = lock_applies(tx)?;
                self.load(tx, now, window)
            });
        }
        self.load(conn, now, window)
    }

    fn load(
        &mut self,
        conn: &mut Conn<'_>,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        let mut index = TitleIndex::new();
        let mut titles = RepTitles::default();
        let sql = "SELECT s.id, s.first_seen, i.id, i.source_id, i.title, s.event_lo, s.event_hi
             FROM stories s JOIN items i ON i.story_id = s.id AND i.title_rep = 1
             WHERE s.first_seen >= ?1
             ORDER BY s.first_seen, s.id, i.match_reason <> 'new', i.id";
        conn.for_each(sql, &[to_ms(now - window).into()], |r| {
            let (story_id, first_seen, item_id, source_id) =
                (r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?);
            let title = r.text(4)?;
            let (lo, hi) = (r.int(5)?, r.int(6)?);
            let tokens = dedupe::title_tokens(&title);
            index.learn_names(&title);
            titles.set(story_id, item_id, &title);
            if index.contains(story_id) {
                index.restore_rep(story_id, item_id, source_id, &tokens);
            } else {
                let span = (from_ms(lo), from_ms(hi));
                index.insert_story(
                    story_id,
                    from_ms(first_seen),
                    span,
                    item_id,
                    source_id,
                    &tokens,
                );
            }
            Ok(())
        })?;
        titles.kept = titles.by_item.len();
        self.index = index;
        self.titles = titles;
        self.window = Some(window);
        Ok(())
    }

    /// Makes a committed (or replayed) change to the index and the titles it holds.
    pub(super) fn apply_op(&mut self, op: IndexOp, threshold: f64) {
        match &op {
            IndexOp::NewStory {
                story_id,
                item_id,
                title,
                ..
            }
            | IndexOp::Rep {
                story_id,
                item_id,
                title,
                ..
            }
            | IndexOp::Edit {
                story_id,
                item_id,
                title,
                ..
            } => self.titles.set(*story_id, *item_id, title),
            IndexOp::Span { .. } | IndexOp::Learn { .. } => {}
        }
        op.apply(&mut self.index, threshold);
    }

    /// Drops the stories first seen before `cutoff`.
    pub(super) fn prune(&mut self, cutoff: DateTime<Utc>) {
        self.index.prune(cutoff);
        self.titles.prune(&self.index);
    }
}

/// The lock that applies refreshes one at a time across the nodes of a PostgreSQL database ("syndicA"
/// in ASCII), held until the transaction ends.
pub(super) const APPLY_LOCK: i64 = 0x0073_796e_6469_6341;

/// On PostgreSQL, makes a transaction that rewrites stories or their sections (retagging, retention)
/// wait for the refresh another node is applying, and hold the next ones off until it ends. Nothing
/// on SQLite (one writer at a time already).
pub(super) fn serialize_with_applies(tx: &mut Conn<'_>) -> Result<(), StoreError> {
    if tx.is_postgres() {
        tx.query_opt(
            "SELECT pg_advisory_xact_lock(?1)",
            &[APPLY_LOCK.into()],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

/// Takes the apply lock (PostgreSQL) and returns the last applied refresh's sequence number.
fn lock_applies(tx: &mut Conn<'_>) -> Result<i64, StoreError> {
    serialize_with_applies(tx)?;
    applied_seq(tx)
}

/// The last applied refresh's sequence number (read under the apply lock).
pub(super) const APPLIED_SEQ: &str = "SELECT value FROM meta WHERE key = 'apply_seq'";

fn applied_seq(tx: &mut Conn<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_opt(APPLIED_SEQ, &[], |r| r.int(0))?.unwrap_or(0))
}

/// The index log after `?1`, in order: a row per entry, its number and its ops (PostgreSQL; read
/// alone, or among [`Conn::planned_transaction`]'s reads). Rows rather than one aggregated value: the
/// ops, JSON text already, are not escaped into another JSON document and parsed out of it again.
pub(super) const LOG_AFTER: &str = "SELECT seq, ops FROM index_log WHERE seq > ?1 ORDER BY seq";

/// An entry of the log as [`LOG_AFTER`] reads it: its number and its ops.
pub(super) fn log_entry(row: &dyn super::sql::Row) -> Result<(i64, String), StoreError> {
    Ok((row.int(0)?, row.text(1)?))
}

/// Most log entries kept: a node further behind than this rebuilds its index instead of replaying.
const LOG_KEPT: i64 = 10_000;

impl IndexState {
    /// On PostgreSQL, before the refresh's transaction: replays what the other nodes logged so far
    /// (`logged`, read by [`LOG_AFTER`] without the apply lock or this index's, while they apply), so
    /// that [`IndexState::catch_up`] (inside the lock) has at most the last few entries left. The log
    /// is written under the lock with gapless sequence numbers, so what is visible of it is always a
    /// complete prefix; entries this index has seen since are skipped, and when the read does not
    /// follow on from what it has seen (the log was trimmed past it), the rebuild is left to `catch_up`.
    pub(super) fn replay_ahead(
        &mut self,
        mut logged: Vec<(i64, String)>,
        threshold: f64,
    ) -> Result<(), StoreError> {
        logged.retain(|(seq, _)| *seq > self.seen_seq);
        if logged.first().map(|(s, _)| *s) != Some(self.seen_seq + 1) {
            return Ok(());
        }
        self.replay(logged, threshold)
    }

    /// Applies logged entries (consecutive, following `seen_seq`) to the index.
    fn replay(&mut self, logged: Vec<(i64, String)>, threshold: f64) -> Result<(), StoreError> {
        for (seq, ops) in logged {
            let ops: Vec<IndexOp> = serde_json::from_str(&ops)
                .map_err(|e| StoreError::Postgres(format!("index_log: {e}")))?;
            for op in ops {
                self.apply_op(op, threshold);
            }
            self.seen_seq = seq;
        }
        Ok(())
    }

    /// On PostgreSQL, inside the refresh's transaction, which holds the apply lock (see
    /// [`Conn::planned_transaction`]): replays the index changes other nodes logged since this node's
    /// last look (rebuilding when the log no longer reaches back that far), so the decision sees every
    /// story stored on any node.
    ///
    /// `seq`: `meta.apply_seq` as read under the lock ([`APPLIED_SEQ`]); `logged`: the log after
    /// `seen_seq` as read with it ([`LOG_AFTER`]).
    pub(super) fn catch_up(
        &mut self,
        tx: &mut Conn<'_>,
        seq: i64,
        logged: Vec<(i64, String)>,
        threshold: f64,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        if seq == self.seen_seq {
            return Ok(());
        }
        if logged.first().map(|(s, _)| *s) != Some(self.seen_seq + 1)
            || logged.last().map(|(s, _)| *s) != Some(seq)
        {
            self.load(tx, now, window)?;
        } else {
            self.replay(logged, threshold)?;
        }
        self.seen_seq = seq;
        Ok(())
    }

    /// On PostgreSQL, inside the refresh's transaction (after [`IndexState::catch_up`]): logs this
    /// refresh's index changes for the other nodes; returns its sequence number.
    pub(super) fn log(&self, tx: &mut Conn<'_>, ops: &[IndexOp]) -> Result<i64, StoreError> {
        let seq = self.seen_seq + 1;
        let text = serde_json::to_string(ops)
            .map_err(|e| StoreError::Postgres(format!("index_log: {e}")))?;
        // One statement (PostgreSQL only, as the log is): the entry, the last number, the oldest
        // entries dropped; sent with the commit.
        tx.exec_at_commit(
            "WITH logged AS (INSERT INTO index_log (seq, ops) VALUES (?1, ?2)),
                  dropped AS (DELETE FROM index_log WHERE seq <= ?3)
             UPDATE meta SET value = ?1 WHERE key = 'apply_seq'",
            &[seq.into(), text.as_str().into(), (seq - LOG_KEPT).into()],
        )?;
        Ok(seq)
    }
}

/// A change to the similarity index, applied once the refresh's transaction has committed (and, on
/// PostgreSQL, logged for the other nodes).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) enum IndexOp {
    NewStory {
        story_id: i64,
        first_seen: DateTime<Utc>,
        event: DateTime<Utc>,
        item_id: i64,
        source_id: i64,
        tokens: Vec<String>,
        /// The title, for [`RepTitles`] (empty in entries logged without it).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        title: String,
    },
    /// A joined item whose title was admitted as a representative (decided in the transaction).
    Rep {
        story_id: i64,
        item_id: i64,
        source_id: i64,
        tokens: Vec<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        title: String,
    },
    /// A representative's title was edited in place.
    Edit {
        story_id: i64,
        item_id: i64,
        tokens: Vec<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        title: String,
    },
    /// An item at this event time joined the story: its span grows.
    Span { story_id: i64, event: DateTime<Utc> },
    /// A new headline: the name lexicon learns what it observed in it.
    Learn { observed: Vec<(String, bool)> },
}

impl IndexOp {
    pub(super) fn apply(self, index: &mut TitleIndex, threshold: f64) {
        match self {
            IndexOp::NewStory {
                story_id,
                first_seen,
                event,
                item_id,
                source_id,
                tokens,
                ..
            } => index.insert_story(
                story_id,
                first_seen,
                (event, event),
                item_id,
                source_id,
                &tokens,
            ),
            IndexOp::Rep {
                story_id,
                item_id,
                source_id,
                tokens,
                ..
            } => index.restore_rep(story_id, item_id, source_id, &tokens),
            IndexOp::Edit {
                story_id,
                item_id,
                tokens,
                ..
            } => {
                index.edit_rep(story_id, item_id, &tokens, threshold);
            }
            IndexOp::Span { story_id, event } => index.extend_span(story_id, event),
            IndexOp::Learn { observed } => index.record_names(observed),
        }
    }
}

/// Re-fingerprints stored items whose title fingerprint was computed by an older normalization
/// ([`dedupe::FINGERPRINT_VERSION`]), in batches, so that exact-title joins keep meeting them. Items
/// stored without a fingerprint (titles too short, or a source with `dedupe = false`) stay without one.
/// On either engine; on PostgreSQL each batch waits for the refresh another node is applying. Returns
/// how many fingerprints changed.
pub(super) fn refingerprint(conn: &mut Conn<'_>) -> Result<usize, StoreError> {
    const BATCH: i64 = 5000;
    let version = dedupe::FINGERPRINT_VERSION;
    // One row says whether there is anything to do, so a start-up does not scan every item.
    let stored = conn
        .query_opt(
            "SELECT value FROM meta WHERE key = 'fingerprint_version'",
            &[],
            |r| r.int(0),
        )?
        .unwrap_or(0);
    if stored >= version {
        return Ok(0);
    }
    let mut changed = 0;
    loop {
        let (done, n) = conn.transaction(|tx| {
            serialize_with_applies(tx)?;
            let rows = tx.query(
                "SELECT id, title, title_fp FROM items WHERE fp_version < ?1 ORDER BY id LIMIT ?2",
                &[version.into(), BATCH.into()],
                |r| Ok((r.int(0)?, r.text(1)?, r.text(2)?)),
            )?;
            if rows.is_empty() {
                tx.exec(
                    "UPDATE meta SET value = ?1 WHERE key = 'fingerprint_version'",
                    &[version.into()],
                )?;
                return Ok((true, 0));
            }
            let mut n = 0;
            for (id, title, old) in &rows {
                let fp = if old.is_empty() {
                    String::new()
                } else {
                    dedupe::title_fingerprint(title)
                };
                n += usize::from(fp != *old);
                tx.exec(
                    "UPDATE items SET title_fp = ?2, fp_version = ?3 WHERE id = ?1",
                    &[(*id).into(), fp.as_str().into(), version.into()],
                )?;
            }
            Ok((false, n))
        })?;
        changed += n;
        if done {
            return Ok(changed);
        }
    }
}
