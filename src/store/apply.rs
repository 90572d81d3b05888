//! Applying one refresh: items, stories, sections and the fetch record in one transaction, the
//! dedupe decision gathered and written, and the similarity index kept in step with what committed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::ALL_SECTION;
use crate::dedupe::{
    self, Decision, EntryDates, Incoming, IndexUpdate, KnownItem, Policy, TitleIndex, VetoRules,
};
use crate::model::Item;
use crate::tag::rules::{ItemText, Tagger};
use crate::text::hex;

use super::index::{IndexOp, IndexState, RepTitles};
use super::lookup::{Candidates, ItemFields, Prefetched, candidate_statements, similar_stories};
use super::pending::{ItemRow, Pending, RESERVE_FOR_NEW_ENTRIES};
use super::sources::{FetchRecord, write_fetch_record};
use super::sql::{Conn, Read, Row, TextRow, Value};
use super::tags::{
    StoryTexts, extend_tags, retag, sections_of_rows, sections_sql, unmark_other_tagging,
};
use super::{Store, StoreError, to_ms};
use crate::dedupe::Candidate;

/// Everything one refresh writes, in one transaction. Owned, so that refreshes can wait in a node's
/// queue to be applied together ([`Store::apply_queued`]).
pub struct RefreshInput {
    pub source_id: i64,
    pub items: Vec<Item>,
    /// When the poll that fetched these items started: the first-seen time of new items and stories.
    pub now: DateTime<Utc>,
    pub window: chrono::Duration,
    /// `[dedupe].title_threshold`: the similarity at which a title joins a story.
    pub threshold: f64,
    /// `[dedupe].decay_hours`: similarity decays with a story's idle time (0 = off).
    pub decay_hours: f64,
    /// False for a source with `dedupe = false`: its items never join or gather stories by title.
    pub title_dedupe: bool,
    /// `[dedupe].similarity`: false leaves only URL and identical-headline joins.
    pub similarity: bool,
    /// `[dedupe].veto`: the look-alike rules that refuse a similar-title join.
    pub veto: VetoRules,
    /// Section rules, and each source's default sections and tagging mode (from the current config).
    pub tagger: Arc<Tagger>,
    pub fetch: FetchRecord,
}

#[cfg(test)]
impl RefreshInput {
    /// A refresh of `items` by `source_id` at `now` with the default dedupe settings (a 48-hour
    /// window, threshold 0.5, no decay, every veto) and a successful fetch: the unit tests' way in.
    pub(crate) fn for_test(
        source_id: i64,
        items: Vec<Item>,
        now: DateTime<Utc>,
        tagger: Arc<Tagger>,
    ) -> RefreshInput {
        RefreshInput {
            source_id,
            items,
            now,
            window: chrono::Duration::hours(48),
            threshold: 0.5,
            decay_hours: 0.0,
            title_dedupe: true,
            similarity: true,
            veto: dedupe::VetoRules::ALL,
            tagger,
            fetch: FetchRecord::ok(now),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RefreshStats {
    /// Entries in the document.
    pub items: usize,
    pub new_items: usize,
    pub updated_items: usize,
    /// New items that joined a story another source already reported.
    pub joined: usize,
    pub new_stories: usize,
    /// Joins by reason ("url", "title", "similar").
    pub joins_by_reason: BTreeMap<&'static str, usize>,
    /// Entries of the document left out by `[poll].max_entries` (the oldest; set by the refresh).
    pub left_out: usize,
    /// Sections whose output changed (includes `all` when anything changed).
    pub changed_sections: BTreeSet<String>,
}

impl Store {
    /// Applies one refreshed source: items, stories, sections and the fetch record land together.
    ///
    /// The similarity index is read inside the transaction and updated only after it commits, so a failed
    /// refresh leaves both the database and the index as they were.
    pub fn apply_refresh(&self, input: &RefreshInput) -> Result<RefreshStats, StoreError> {
        let mut stats = self.apply_together(vec![Prepared::of(input)])?;
        stats
            .pop()
            .ok_or_else(|| StoreError::Task("a refresh gave no result".into()))
    }

    /// Applies one refresh the way the daemon does. On PostgreSQL it waits in this node's queue, which
    /// one blocking thread at a time works through: each turn takes the refreshes waiting (up to
    /// [`MAX_TOGETHER`], in the order they came) and applies them in one transaction
    /// ([`apply_batch`]), so the refreshes that arrive while one transaction applies go together in
    /// the next (one round trip per refresh after the first; one lock, index-log entry and commit for
    /// all). If that transaction fails, each of its refreshes is applied on its own, so a refresh that
    /// cannot be stored fails alone. On SQLite (no round trips, one writer) each is applied on its own,
    /// as by [`Store::apply_refresh`].
    pub async fn apply_queued(&self, input: RefreshInput) -> Result<RefreshStats, StoreError> {
        if self.postgres().is_none() {
            return self.call(move |s| s.apply_refresh(&input)).await;
        }
        let (sender, answer) = tokio::sync::oneshot::channel();
        // Worked out before queueing: the thread applying the queue does only the database work.
        let waiting = Waiting {
            keys: title_keys(&input),
            events: entry_events(&input),
            input,
            answer: sender,
        };
        let start = {
            let mut queue = self.lock_queue();
            queue.waiting.push_back(waiting);
            !std::mem::replace(&mut queue.applying, true)
        };
        if start {
            let store = self.clone();
            // Not awaited: the answers are sent from the blocking thread, so a caller that stops
            // waiting loses only its own.
            drop(tokio::task::spawn_blocking(move || {
                super::pg::may_block(|| store.apply_waiting())
            }));
        }
        answer
            .await
            .map_err(|_| StoreError::Task("a queued refresh was not applied".into()))?
    }

    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Works through the queue until it is empty (PostgreSQL): the refreshes waiting, up to
    /// [`MAX_TOGETHER`] a turn, by [`Store::apply_refreshes`]; each answered.
    fn apply_waiting(&self) {
        // Should a turn panic, the queue is handed on: what waits is answered with an error (its
        // senders dropped), and the next refresh queued starts a thread again.
        struct HandOn<'a>(&'a Store);
        impl Drop for HandOn<'_> {
            fn drop(&mut self) {
                let mut queue = self.0.lock_queue();
                queue.applying = false;
                if std::thread::panicking() {
                    queue.waiting.clear();
                }
            }
        }
        let _hand_on = HandOn(self);
        loop {
            let taken: Vec<Waiting> = {
                let mut queue = self.lock_queue();
                if queue.waiting.is_empty() {
                    queue.applying = false;
                    return;
                }
                let together = queue.waiting.len().min(MAX_TOGETHER);
                queue.waiting.drain(..together).collect()
            };
            let mut inputs = Vec::with_capacity(taken.len());
            let mut worked_out = Vec::with_capacity(taken.len());
            let mut answers = Vec::with_capacity(taken.len());
            for w in taken {
                inputs.push(w.input);
                worked_out.push((w.keys, w.events));
                answers.push(w.answer);
            }
            let batch = inputs
                .iter()
                .zip(worked_out)
                .map(|(input, (keys, events))| Prepared {
                    input,
                    keys,
                    events,
                })
                .collect();
            for (answer, result) in answers.into_iter().zip(self.apply_prepared(batch)) {
                let _ = answer.send(result);
            }
        }
    }

    /// Applies refreshes in order, each one's result in its place. On PostgreSQL, consecutive ones of
    /// one [`same_index`] go together in one transaction ([`apply_batch`]); when that fails, each of
    /// them is applied on its own, so a refresh that cannot be stored fails alone. On SQLite each is
    /// applied on its own.
    pub fn apply_refreshes(
        &self,
        inputs: &[RefreshInput],
    ) -> Vec<Result<RefreshStats, StoreError>> {
        self.apply_prepared(inputs.iter().map(Prepared::of).collect())
    }

    /// [`Store::apply_refreshes`] of refreshes worked out ahead.
    fn apply_prepared(&self, batch: Vec<Prepared<'_>>) -> Vec<Result<RefreshStats, StoreError>> {
        let alone = |input: &RefreshInput| self.apply_refresh(input);
        if self.postgres().is_none() {
            return batch.iter().map(|p| alone(p.input)).collect();
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut rest = batch.into_iter().peekable();
        while let Some(first) = rest.next() {
            let mut group = vec![first];
            while let Some(next) = rest.next_if(|p| same_index(group[0].input, p.input)) {
                group.push(next);
            }
            let inputs: Vec<&RefreshInput> = group.iter().map(|p| p.input).collect();
            match self.apply_together(group) {
                Ok(stats) => results.extend(stats.into_iter().map(Ok)),
                Err(e) if inputs.len() == 1 => results.push(Err(e)),
                Err(e) => {
                    tracing::warn!(
                        refreshes = inputs.len(),
                        error = %e,
                        "refreshes applied together failed; applying each on its own"
                    );
                    results.extend(inputs.into_iter().map(alone));
                }
            }
        }
        results
    }

    /// Applies refreshes of one [`same_index`] in order, in one transaction ([`apply_batch`]). On
    /// PostgreSQL, the other nodes' index changes logged so far are read first, before anything is
    /// locked, while this node's other refreshes apply; then one transaction of this node applies at
    /// a time, the others waiting without holding one of the pool's connections, which stay free for
    /// claims, fetch records and pages.
    fn apply_together(&self, batch: Vec<Prepared<'_>>) -> Result<Vec<RefreshStats>, StoreError> {
        let Some(threshold) = batch.first().map(|p| p.input.threshold) else {
            return Ok(Vec::new());
        };
        if self.postgres().is_none() {
            return self.with(|c| apply_batch(c, &mut self.lock_index(), batch));
        }
        let seen = self.lock_index().seen_seq;
        let logged = self.with(|c| {
            c.query(
                super::index::LOG_AFTER,
                &[seen.into()],
                super::index::log_entry,
            )
        })?;
        let _applying = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        self.with(|c| {
            let mut index = self.lock_index();
            index.replay_ahead(logged, threshold)?;
            apply_batch(c, &mut index, batch)
        })
    }

    /// Rebuilds the similarity index from the stories first seen within `window` before `now`.
    pub fn rebuild_index(
        &self,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        self.with(|c| self.lock_index().rebuild(c, now, window))
    }

    /// The story an item of a source belongs to.
    pub fn story_of_item(&self, source_id: i64, key: &str) -> Result<Option<i64>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT story_id FROM items WHERE source_id = ?1 AND key = ?2",
                &[source_id.into(), key.into()],
                |r| r.int(0),
            )
        })
    }

    /// Runs `f` on the similarity index (read-only: explanations use its token weights).
    pub fn with_index<T>(&self, f: impl FnOnce(&TitleIndex) -> T) -> T {
        f(&self.lock_index().index)
    }

    /// Stories held by the similarity index (for metrics and tests).
    pub fn index_len(&self) -> usize {
        self.lock_index().index.len()
    }
}

/// The title keys of each entry (see [`Store::apply_refresh`]): computed before the store is locked.
pub(super) fn title_keys(input: &RefreshInput) -> Vec<TitleKeys> {
    input
        .items
        .iter()
        .map(|item| match (input.title_dedupe, input.similarity) {
            (true, true) => {
                let (fp, tokens) = dedupe::title_keys(&item.title);
                (fp, tokens, dedupe::NameLexicon::observe(&item.title))
            }
            (true, false) => (
                dedupe::title_fingerprint(&item.title),
                Vec::new(),
                Vec::new(),
            ),
            (false, _) => (String::new(), Vec::new(), Vec::new()),
        })
        .collect()
}

/// The clustering time of each entry, judged against the document's own order.
pub(super) fn entry_events(input: &RefreshInput) -> Vec<DateTime<Utc>> {
    let dates: Vec<EntryDates> = input
        .items
        .iter()
        .map(|i| EntryDates {
            published: i.published,
            updated: i.updated,
        })
        .collect();
    dedupe::event_times(&dates, input.now)
}

/// Refreshes applied together at most ([`Store::apply_queued`]): enough to spread a transaction's
/// fixed costs (lock, index log, commit) thin, few enough that other nodes wait briefly for the lock.
const MAX_TOGETHER: usize = 16;

/// A node's refreshes waiting to be applied ([`Store::apply_queued`]), and whether a thread is
/// applying them.
#[derive(Default)]
pub(super) struct Queue {
    waiting: VecDeque<Waiting>,
    applying: bool,
}

/// A refresh waiting in a node's queue, worked out as [`Prepared`] is, and where its result goes.
struct Waiting {
    input: RefreshInput,
    keys: Vec<TitleKeys>,
    events: Vec<DateTime<Utc>>,
    answer: tokio::sync::oneshot::Sender<Result<RefreshStats, StoreError>>,
}

/// A refresh ready to apply: its input, with the title keys and event times worked out before anything
/// is locked.
pub(super) struct Prepared<'a> {
    pub input: &'a RefreshInput,
    pub keys: Vec<TitleKeys>,
    pub events: Vec<DateTime<Utc>>,
}

impl<'a> Prepared<'a> {
    pub fn of(input: &'a RefreshInput) -> Prepared<'a> {
        Prepared {
            input,
            keys: title_keys(input),
            events: entry_events(input),
        }
    }
}

/// Whether two refreshes can be applied in one transaction: the index they decide with is the same
/// (the window it holds and how similarity decays).
pub(super) fn same_index(a: &RefreshInput, b: &RefreshInput) -> bool {
    a.window == b.window && a.decay_hours == b.decay_hours
}

/// [`Store::apply_refresh`] on either engine, for one refresh or several in order (all of one
/// [`same_index`]), in one transaction, with the similarity index the store keeps. A refresh's stats,
/// in order.
///
/// The index is read inside the transaction. A refresh's index updates are made once the transaction
/// commits; when refreshes are applied together, each one's updates are made before the next decides
/// (it must see the stories they started), and if the transaction then fails, the index (which learned
/// what did not commit) is rebuilt from the store before the next refresh.
///
/// On PostgreSQL, nodes sharing the database apply one transaction at a time, under an advisory lock,
/// each first replaying what the others changed in the index (fetch, parse and normalize stay
/// parallel). The lock, the last applied number, the other nodes' index changes since this node's last
/// look and what the first refresh reads up front come in one round trip; each later refresh's reads go
/// with the writes of the one before it; the last one's writes go with the commit. Applying several
/// together takes the lock, logs the index changes and commits once for all of them.
pub(super) fn apply_batch(
    conn: &mut Conn<'_>,
    index: &mut IndexState,
    batch: Vec<Prepared<'_>>,
) -> Result<Vec<RefreshStats>, StoreError> {
    let Some(first) = batch.first().map(|p| p.input) else {
        return Ok(Vec::new());
    };
    if index.window != Some(first.window) {
        index.rebuild(conn, first.now, first.window)?;
    }
    index.index.set_decay_hours(first.decay_hours);
    let shared = conn.is_postgres();
    let (apply_lock, reads) = if shared {
        let mut reads = vec![
            Read::new(super::index::APPLIED_SEQ, &[]),
            Read::new(super::index::LOG_AFTER, &[index.seen_seq.into()]),
        ];
        reads.extend(ahead_statements(conn, &batch[0]));
        (Some(super::index::APPLY_LOCK), reads)
    } else {
        (None, Vec::new())
    };
    let last = batch.len() - 1;
    let (threshold, latest) = (batch[last].input.threshold, batch[last].input.now);
    let mut tentative = false;
    let result = conn.planned_transaction(apply_lock, &reads, |tx, read| {
        let mut ahead = Vec::new();
        if shared {
            let mut read = read.into_iter();
            let (seq, logged) = (
                read.next().unwrap_or_default(),
                read.next().unwrap_or_default(),
            );
            let seq = seq.first().and_then(|r| r.opt_int(0).ok().flatten());
            let seq = seq.unwrap_or(0);
            let logged = logged
                .iter()
                .map(|r| super::index::log_entry(r))
                .collect::<Result<_, _>>()?;
            index.catch_up(tx, seq, logged, first.threshold, first.now, first.window)?;
            ahead = read.collect();
        }
        let mut stats: Vec<RefreshStats> = Vec::with_capacity(batch.len());
        let mut logged_ops = Vec::new();
        let mut committed_ops = Vec::new();
        // The refresh before, whose sections are recomputed once their stored ones are read with
        // this refresh's reads (PostgreSQL).
        let mut retag_before: Option<Retagging<'_>> = None;
        // The tagging fingerprint whose mark this transaction has checked (once per tagger).
        let mut unmarked = None;
        for (n, prepared) in batch.into_iter().enumerate() {
            let input = prepared.input;
            if shared && n > 0 {
                let sections = retag_before.as_ref().and_then(|r| r.read(tx));
                let with_sections = sections.is_some();
                let mut reads: Vec<Read> = sections.into_iter().collect();
                reads.extend(ahead_statements(tx, &prepared));
                ahead = tx.flush_and_read(&reads)?;
                if let Some(retagging) = retag_before.take() {
                    let stored = with_sections.then(|| ahead.remove(0));
                    let before = stats.last_mut().expect("the refresh before has stats");
                    retagging.finish(tx, stored.as_deref(), before)?;
                }
            }
            let (name, rest) = match ahead.split_first() {
                Some((name, rest)) if shared => (
                    name.first().and_then(|r| r.opt_text(0).ok().flatten()),
                    Some(rest),
                ),
                _ => (None, None),
            };
            let (mut refresh, ops, retagging) = apply(
                tx,
                input,
                name,
                prepared.keys,
                &prepared.events,
                index,
                rest,
            )?;
            write_fetch_record(tx, input.source_id, &input.fetch)?;
            let fingerprint = input.tagger.fingerprint();
            if unmarked != Some(fingerprint) {
                unmark_other_tagging(tx, fingerprint)?;
                unmarked = Some(fingerprint);
            }
            if shared {
                retag_before = Some(retagging);
            } else {
                retagging.finish(tx, None, &mut refresh)?;
            }
            stats.push(refresh);
            if shared {
                logged_ops.extend(ops.iter().cloned());
            }
            if n < last {
                // The next refresh decides with this one's stories.
                tentative = true;
                for op in ops {
                    index.apply_op(op, input.threshold);
                }
            } else {
                committed_ops = ops;
            }
        }
        if let Some(retagging) = retag_before {
            // The last refresh's stored sections: read with the writes still held, the
            // sections written with the commit.
            // (A full retag reads what is stored, the held writes included.)
            let read = retagging.read(tx);
            let stored = if read.is_some() || !retagging.changed.is_empty() {
                tx.flush_and_read(read.as_slice())?.pop()
            } else {
                None
            };
            let last = stats.last_mut().expect("the last refresh has stats");
            retagging.finish(tx, stored.as_deref(), last)?;
        }
        let seq = if shared {
            Some(index.log(tx, &logged_ops)?)
        } else {
            None
        };
        Ok((stats, committed_ops, seq))
    });
    match result {
        Ok((stats, ops, seq)) => {
            if let Some(seq) = seq {
                index.seen_seq = seq;
            }
            for op in ops {
                index.apply_op(op, threshold);
            }
            index.prune(latest - first.window);
            Ok(stats)
        }
        Err(e) => {
            if tentative {
                index.window = None;
            }
            Err(e)
        }
    }
}

/// A title's fingerprint, similarity tokens, and what it teaches the name lexicon (empty when not used).
type TitleKeys = (String, Vec<String>, Vec<(String, bool)>);

/// Applies one refresh inside its transaction: each entry's [`dedupe::decide`] verdict, written as it
/// says ([`apply_entry`]), then the sections of the stories it touched ([`retag_touched`]). Returns the
/// stats and the index updates to make once the transaction commits.
fn apply<'a>(
    tx: &mut Conn<'_>,
    input: &'a RefreshInput,
    source_name: Option<String>,
    keys: Vec<TitleKeys>,
    events: &[DateTime<Utc>],
    index: &IndexState,
    ahead: Option<&[Vec<TextRow>]>,
) -> Result<(RefreshStats, Vec<IndexOp>, Retagging<'a>), StoreError> {
    let source_name = match source_name {
        Some(name) => Some(name),
        None => tx.query_opt(SOURCE_NAME, &[input.source_id.into()], |r| r.text(0))?,
    }
    .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
    let mut stats = RefreshStats {
        items: input.items.len(),
        ..RefreshStats::default()
    };
    let step = Step {
        input,
        index: &index.index,
        titles: &index.titles,
        source_name: &source_name,
        policy: Policy {
            window: input.window,
            threshold: input.threshold,
            title_dedupe: input.title_dedupe,
            similarity: input.similarity,
            veto: input.veto,
        },
    };
    let mut ops = Vec::new();
    // Stories to retag: in full when one of their items changed, else only with the titles and summaries
    // they gained (sections are a union over items, so new items can only add).
    let mut touched: BTreeMap<i64, Option<Vec<&'a Item>>> = BTreeMap::new();
    let mut batch = Batch::read(tx, input, &keys, ahead)?;
    for (item, keys, event) in oldest_first(&input.items, keys, events) {
        let Some((decision, story_id)) =
            step.apply_entry(tx, item, keys, event, &mut ops, &mut batch)?
        else {
            continue;
        };
        stats.count(&decision);
        match (
            &decision,
            touched.entry(story_id).or_insert_with(|| Some(Vec::new())),
        ) {
            (Decision::SameItem { .. }, t) => *t = None,
            (_, Some(added)) => added.push(item),
            (_, None) => {}
        }
    }
    // A story with an edited item is retagged from its items as stored, so they are written first;
    // otherwise nothing later reads them back, and they are written with the next statements sent
    // (the sections written after them, which need their stories, are queued after them).
    let read_back = touched.values().any(Option::is_none);
    batch.pending.flush(tx, !read_back)?;
    let retagging = Retagging::new(&input.tagger, source_name, touched, &batch.fresh);
    Ok((stats, ops, retagging))
}

/// What one refresh reads up front and writes at its end, so that its entries cost few statements.
struct Batch {
    prefetched: Prefetched,
    candidates: Candidates,
    pending: Pending,
    /// Stories this refresh started.
    fresh: BTreeSet<i64>,
}

/// The statements of what a refresh reads up front, run ahead on PostgreSQL (in the transaction's
/// opening round trip, see [`Conn::planned_transaction`], or with the writes of the refresh before it):
/// the source's name, the ids for its new entries, their stored
/// copies and tombstones, and the exact-match candidates of all its entries (those of the entries that
/// turn out stored are dropped when read).
fn ahead_statements(tx: &Conn<'_>, prepared: &Prepared<'_>) -> Vec<Read> {
    let input = prepared.input;
    let entry_keys: Vec<&str> = input.items.iter().map(|i| i.key.as_str()).collect();
    let list = serde_json::to_string(&entry_keys).unwrap_or_else(|_| "[]".into());
    let ([stored, tombstoned], params) = Prefetched::statements(tx, input.source_id, &list);
    let (url_keys, fingerprints) = Batch::match_keys(input, &prepared.keys, |_| true);
    let [by_url, by_fp] = candidate_statements(tx);
    let urls = serde_json::to_string(&url_keys).unwrap_or_else(|_| "[]".into());
    let fps = serde_json::to_string(&fingerprints).unwrap_or_else(|_| "[]".into());
    vec![
        Read::new(SOURCE_NAME, &[input.source_id.into()]),
        Read::new(RESERVE_FOR_NEW_ENTRIES.as_str(), &params),
        Read::new(stored, &params),
        Read::new(tombstoned, &params),
        Read::new(by_url, &[urls.as_str().into()]),
        Read::new(by_fp, &[fps.as_str().into(), input.source_id.into()]),
    ]
}

/// The name of the source `?1`, which the section rules see.
const SOURCE_NAME: &str = "SELECT name FROM sources WHERE id = ?1";

impl Batch {
    /// The entries' stored copies, then the exact-match candidates of those that are new: read here,
    /// or from the rows of [`ahead_statements`].
    fn read(
        tx: &mut Conn<'_>,
        input: &RefreshInput,
        keys: &[TitleKeys],
        ahead: Option<&[Vec<TextRow>]>,
    ) -> Result<Batch, StoreError> {
        let prefetched = match ahead {
            Some([_, stored, tombstoned, ..]) => Prefetched::of_rows(stored, tombstoned)?,
            _ => {
                let entry_keys: Vec<&str> = input.items.iter().map(|i| i.key.as_str()).collect();
                Prefetched::read(tx, input.source_id, &entry_keys)?
            }
        };
        let new_entries = input
            .items
            .iter()
            .filter(|i| !prefetched.is_stored(&i.key))
            .count();
        let (url_keys, fingerprints) =
            Batch::match_keys(input, keys, |key| !prefetched.is_stored(key));
        let url_keys: Vec<&str> = url_keys.iter().map(String::as_str).collect();
        let mut pending = Pending::new(tx, new_entries);
        let candidates = match ahead {
            Some([ids, _, _, by_url, by_fp]) => {
                pending.take_reserved(ids)?;
                Candidates::of_rows(by_url, by_fp, &url_keys, &fingerprints)?
            }
            _ => Candidates::read(tx, input.source_id, &url_keys, &fingerprints)?,
        };
        Ok(Batch {
            prefetched,
            candidates,
            pending,
            fresh: BTreeSet::new(),
        })
    }

    /// The URL keys and title fingerprints (where titles are matched) of the entries whose key
    /// `wanted`, for their exact-match candidates.
    fn match_keys<'a>(
        input: &RefreshInput,
        keys: &'a [TitleKeys],
        wanted: impl Fn(&str) -> bool,
    ) -> (BTreeSet<String>, Vec<&'a str>) {
        let mut url_keys = BTreeSet::new();
        let mut fingerprints = BTreeSet::new();
        for (item, (fp, _, _)) in input.items.iter().zip(keys) {
            if !wanted(&item.key) {
                continue;
            }
            if let Some(url) = item.url.as_deref() {
                url_keys.insert(dedupe::url_key(url));
            }
            if input.title_dedupe && !fp.is_empty() {
                fingerprints.insert(fp.as_str());
            }
        }
        (url_keys, fingerprints.into_iter().collect())
    }
}

/// The entries oldest first by event time, so that within one refresh a higher story id means a newer
/// story. Feeds list newest first, so entries of the same time keep that order when reversed.
fn oldest_first<'a>(
    items: &'a [Item],
    keys: Vec<TitleKeys>,
    events: &[DateTime<Utc>],
) -> Vec<(&'a Item, TitleKeys, DateTime<Utc>)> {
    let mut order: Vec<(&Item, TitleKeys, DateTime<Utc>)> = items
        .iter()
        .zip(keys)
        .zip(events.iter().copied())
        .map(|((item, keys), event)| (item, keys, event))
        .rev()
        .collect();
    order.sort_by_key(|(_, _, event)| *event);
    order
}

impl RefreshStats {
    /// A touched story's sections before and after: its feeds changed, and so did `all`.
    fn note_sections(&mut self, before: Vec<String>, after: Vec<String>) {
        self.changed_sections.extend(before);
        self.changed_sections.extend(after);
        self.changed_sections.insert(ALL_SECTION.to_string());
    }

    /// Counts one written entry by its decision.
    fn count(&mut self, decision: &Decision) {
        match decision {
            Decision::SameItem { .. } => self.updated_items += 1,
            Decision::Join { reason, .. } => {
                self.new_items += 1;
                self.joined += 1;
                *self.joins_by_reason.entry(reason.as_str()).or_default() += 1;
            }
            Decision::New => {
                self.new_items += 1;
                self.new_stories += 1;
            }
        }
    }
}

/// What every entry of one refresh is applied with.
struct Step<'a> {
    input: &'a RefreshInput,
    index: &'a TitleIndex,
    titles: &'a RepTitles,
    source_name: &'a str,
    policy: Policy,
}

impl Step<'_> {
    /// One entry: gathers what [`dedupe::decide`] needs (the stored copy, the exact-match candidates,
    /// the similar stories), writes the verdict and queues its index updates. `None` when the entry is
    /// unchanged or was deleted by retention; else its decision and story.
    fn apply_entry(
        &self,
        tx: &mut Conn<'_>,
        item: &Item,
        (title_fp, tokens, observed): TitleKeys,
        event: DateTime<Utc>,
        ops: &mut Vec<IndexOp>,
        batch: &mut Batch,
    ) -> Result<Option<(Decision, i64)>, StoreError> {
        let input = self.input;
        let fields = ItemFields::of(item);
        let url_key = item.url.as_deref().map(dedupe::url_key);
        if batch.prefetched.was_taken(&item.key) {
            // A key listed twice: its first copy is looked up where it was written.
            batch.pending.flush(tx, false)?;
        }
        let (stored, gone) = batch.prefetched.take(tx, input.source_id, &item.key)?;
        if gone {
            // Deleted by retention: a source still listing it does not bring it back.
            return Ok(None);
        }
        if stored.as_ref().is_some_and(|st| st.fields == fields) {
            // Unchanged (the steady state of a re-poll): nothing to normalize or match.
            return Ok(None);
        }
        let incoming = Incoming {
            source_id: input.source_id,
            url_key: url_key.as_deref(),
            title: &item.title,
            title_fp: &title_fp,
            tokens: &tokens,
            event,
        };
        let known = stored.as_ref().map(|st| KnownItem {
            item_id: st.id,
            story_id: st.story_id,
            title_rep: st.title_rep,
            title_changed: st.fields.title != fields.title,
        });
        let cands = match known {
            Some(_) => Vec::new(),
            None => batch.candidates.of(&incoming, input.title_dedupe),
        };
        let verdict = {
            let similar =
                |k| similar_stories(tx, self.index, self.titles, &incoming, &self.policy, k);
            dedupe::decide(&incoming, known, &cands, similar, self.index, &self.policy)?
        };
        let (item_id, story_id) = write_item(
            tx,
            &mut batch.pending,
            input,
            item,
            &fields,
            self.source_name,
            &verdict,
            &incoming,
            known.map(|k| k.item_id),
        )?;
        match verdict.decision {
            Decision::New => {
                batch.fresh.insert(story_id);
                batch.candidates.widen(story_id, to_ms(event));
            }
            Decision::Join { .. } => batch.candidates.widen(story_id, to_ms(event)),
            Decision::SameItem { .. } => {}
        }
        // A URL candidate for the entries after it (a stored item's copy replaces the one read).
        batch.candidates.add(Candidate {
            item_id,
            story_id,
            source_id: input.source_id,
            url_key: url_key.clone(),
            title_fp: verdict.title_fp.clone(),
            story_span: (event, event),
        });
        if verdict.extend_span {
            ops.push(IndexOp::Span { story_id, event });
        }
        // (A headline that teaches the lexicon nothing is not logged: replaying it would do nothing.)
        if self.policy.title_dedupe
            && self.policy.similarity
            && known.is_none_or(|k| k.title_changed)
            && !observed.is_empty()
        {
            ops.push(IndexOp::Learn { observed });
        }
        let source_id = input.source_id;
        match verdict.index {
            IndexUpdate::NewStory => ops.push(IndexOp::NewStory {
                story_id,
                first_seen: input.now,
                event,
                item_id,
                source_id,
                tokens,
                title: fields.title,
            }),
            IndexUpdate::AddRep => ops.push(IndexOp::Rep {
                story_id,
                item_id,
                source_id,
                tokens,
                title: fields.title,
            }),
            IndexUpdate::EditRep => ops.push(IndexOp::Edit {
                story_id,
                item_id,
                tokens,
                title: fields.title,
            }),
            IndexUpdate::None => {}
        }
        Ok(Some((verdict.decision, story_id)))
    }
}

/// The sections of the stories a refresh touched, left to recompute once its entries are decided: in
/// full for a story one of whose items changed, else extended with the texts of the items it gained
/// (all such stories together). On PostgreSQL the stored sections of the extended stories are read
/// ahead ([`Retagging::read`]), with the next statements the refresh's transaction sends.
struct Retagging<'a> {
    tagger: &'a Tagger,
    source_name: String,
    /// Stories with an edited item.
    changed: Vec<i64>,
    /// Stories that gained items, whether this refresh started them, and the items.
    extended: Vec<(i64, bool, Vec<&'a Item>)>,
}

impl<'a> Retagging<'a> {
    fn new(
        tagger: &'a Tagger,
        source_name: String,
        touched: BTreeMap<i64, Option<Vec<&'a Item>>>,
        fresh: &BTreeSet<i64>,
    ) -> Retagging<'a> {
        let mut changed = Vec::new();
        let mut extended = Vec::new();
        for (story_id, added) in touched {
            match added {
                None => changed.push(story_id),
                Some(added) => extended.push((story_id, fresh.contains(&story_id), added)),
            }
        }
        Retagging {
            tagger,
            source_name,
            changed,
            extended,
        }
    }

    fn texts(&self) -> Vec<StoryTexts<'_>> {
        self.extended
            .iter()
            .map(|(story_id, fresh, added)| StoryTexts {
                story_id: *story_id,
                fresh: *fresh,
                added: added
                    .iter()
                    .map(|item| ItemText {
                        source_name: &self.source_name,
                        title: &item.title,
                        summary: &item.summary,
                        url: item.url.as_deref(),
                        categories: &item.categories,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The read of the extended stories' stored sections, when there are any.
    fn read(&self, tx: &Conn<'_>) -> Option<Read> {
        let stored: Vec<i64> = self
            .extended
            .iter()
            .filter(|(_, fresh, _)| !fresh)
            .map(|(story_id, ..)| *story_id)
            .collect();
        if stored.is_empty() {
            return None;
        }
        let list = serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into());
        Some(Read::new(sections_sql(tx), &[list.as_str().into()]))
    }

    /// Recomputes the sections (`stored`: the rows of [`Retagging::read`] when it was sent ahead;
    /// else they are read here); the changed ones go in `stats`.
    fn finish(
        self,
        tx: &mut Conn<'_>,
        stored: Option<&[TextRow]>,
        stats: &mut RefreshStats,
    ) -> Result<(), StoreError> {
        let tagger = self.tagger;
        for (before, after) in retag(tx, &self.changed, tagger)? {
            stats.note_sections(before, after);
        }
        let stored = stored.map(sections_of_rows).transpose()?;
        for (before, after) in extend_tags(tx, tagger, &self.texts(), stored)? {
            stats.note_sections(before, after);
        }
        Ok(())
    }
}

/// Writes one item as its verdict says: a new story first when it starts one, the story's event span
/// when it joins one, then the item itself (a known (source, key) keeps its story, first-seen time and
/// how it joined). Returns the item's id and its story's. (`known_id`: the item's id when it is stored
/// already.)
#[allow(clippy::too_many_arguments)]
fn write_item(
    tx: &mut Conn<'_>,
    pending: &mut Pending,
    input: &RefreshInput,
    item: &Item,
    fields: &ItemFields,
    source_name: &str,
    verdict: &dedupe::Verdict,
    incoming: &Incoming<'_>,
    known_id: Option<i64>,
) -> Result<(i64, i64), StoreError> {
    let now_ms = to_ms(input.now);
    let event_ms = to_ms(incoming.event);
    let (story_id, reason, score, matched) = write_story(
        tx,
        pending,
        verdict.decision,
        source_name,
        item,
        fields,
        now_ms,
        event_ms,
    )?;
    let miss = verdict.near_miss.as_ref();
    let miss_reason = miss.map(|m| m.veto.to_string());
    let row: ItemRow<'_> = [
        input.source_id.into(),
        item.key.as_str().into(),
        story_id.into(),
        (&item.guid).into(),
        (&fields.url).into(),
        incoming.url_key.into(),
        fields.title.as_str().into(),
        verdict.title_fp.as_str().into(),
        fields.summary.as_str().into(),
        (&fields.content).into(),
        (&fields.author).into(),
        fields.categories.as_str().into(),
        fields.published.into(),
        fields.updated.into(),
        now_ms.into(),
        now_ms.into(),
        reason.into(),
        Value::Real(score),
        matched.into(),
        i64::from(verdict.title_rep).into(),
        fields.enclosures.as_str().into(),
        event_ms.into(),
        dedupe::FINGERPRINT_VERSION.into(),
        miss.map(|m| m.item_id).into(),
        Value::Real(miss.map(|m| m.score)),
        miss_reason.as_deref().into(),
        (&fields.image).into(),
    ];
    let item_id = pending.item(tx, &row, known_id)?;
    Ok((item_id, story_id))
}

/// A story id and how an item joined it: reason, score and matched item, as the item row stores them.
type StorySide = (i64, &'static str, Option<f64>, Option<i64>);

/// The story side of a verdict: a new story row, or a joined story's event span widened (written
/// only when the item falls outside it). Returns the story id and how the item joined it (reason,
/// score, matched item) as the item row stores them.
#[allow(clippy::too_many_arguments)]
fn write_story(
    tx: &mut Conn<'_>,
    pending: &mut Pending,
    decision: Decision,
    source_name: &str,
    item: &Item,
    fields: &ItemFields,
    now_ms: i64,
    event_ms: i64,
) -> Result<StorySide, StoreError> {
    Ok(match decision {
        Decision::SameItem { story_id } => (story_id, "new", None, None),
        Decision::Join {
            story_id,
            item_id,
            reason,
        } => {
            pending.widen(tx, story_id, event_ms)?;
            (story_id, reason.as_str(), reason.score(), Some(item_id))
        }
        Decision::New => {
            let id = pending.story(
                tx,
                &story_uid(source_name, &item.key),
                now_ms,
                fields.published.unwrap_or(now_ms).min(now_ms),
                event_ms,
            )?;
            (id, "new", None, None)
        }
    })
}

/// Public story id: stable for the same first item of the same source, even across database rebuilds.
fn story_uid(source_name: &str, item_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_name.as_bytes());
    h.update(b"\0");
    h.update(item_key.as_bytes());
    hex(&h.finalize()[..10])
}
