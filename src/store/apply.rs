//! Applying one refresh: items, stories, sections and the fetch record in one transaction, the
//! dedupe decision gathered and written, and the similarity index kept in step with what committed.

use std::collections::{BTreeMap, BTreeSet};

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
use super::tags::{StoryTexts, extend_tags, retag};
use super::{Store, StoreError, to_ms};
use crate::dedupe::Candidate;

/// Everything one refresh writes, in one transaction.
pub struct RefreshInput<'a> {
    pub source_id: i64,
    pub items: &'a [Item],
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
    pub tagger: &'a Tagger,
    pub fetch: FetchRecord,
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
    pub fn apply_refresh(&self, input: &RefreshInput<'_>) -> Result<RefreshStats, StoreError> {
        // Title keys are computed before the store is locked: refreshes of other sources wait only for
        // the database work.
        let keys = title_keys(input);
        let events = entry_events(input);
        if self.postgres().is_some() {
            // The other nodes' index changes logged so far are read before anything is locked, while
            // this node's other refreshes apply.
            let seen = self.lock_index().seen_seq;
            let logged = self.with(|c| {
                c.query(
                    super::index::LOG_AFTER,
                    &[seen.into()],
                    super::index::log_entry,
                )
            })?;
            // One refresh of this node applies at a time; the others wait here without holding one of
            // the pool's connections, which stay free for claims, fetch records and pages.
            let _applying = self.applying.lock().unwrap_or_else(|e| e.into_inner());
            return self.with(|c| {
                let mut index = self.lock_index();
                index.replay_ahead(logged, input.threshold)?;
                apply_refresh(c, &mut index, input, keys, &events)
            });
        }
        self.with(|c| apply_refresh(c, &mut self.lock_index(), input, keys, &events))
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
pub(super) fn title_keys(input: &RefreshInput<'_>) -> Vec<TitleKeys> {
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
pub(super) fn entry_events(input: &RefreshInput<'_>) -> Vec<DateTime<Utc>> {
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

/// [`Store::apply_refresh`] on either engine, with the similarity index it keeps: the index is read
/// inside the transaction and updated only after it commits.
pub(super) fn apply_refresh(
    conn: &mut Conn<'_>,
    index: &mut IndexState,
    input: &RefreshInput<'_>,
    keys: Vec<TitleKeys>,
    events: &[DateTime<Utc>],
) -> Result<RefreshStats, StoreError> {
    if index.window != Some(input.window) {
        index.rebuild(conn, input.now, input.window)?;
    }
    index.index.set_decay_hours(input.decay_hours);
    // Nodes sharing a PostgreSQL database apply one refresh at a time, each first replaying what the
    // others changed in the index (fetch, parse and normalize stay parallel).
    let shared = conn.is_postgres();
    // On PostgreSQL the lock, the last applied number, the source's name, the other nodes' index
    // changes since this node's last look, the ids for the new entries and what the entries' decisions
    // read up front come in one round trip.
    let (apply_lock, reads) = if shared {
        let mut reads = vec![
            Read::new(super::index::APPLIED_SEQ, &[]),
            Read::new(
                "SELECT name FROM sources WHERE id = ?1",
                &[input.source_id.into()],
            ),
            Read::new(super::index::LOG_AFTER, &[index.seen_seq.into()]),
        ];
        reads.extend(ahead_statements(conn, input, &keys));
        (Some(super::index::APPLY_LOCK), reads)
    } else {
        (None, Vec::new())
    };
    let (stats, ops, seq) = conn.planned_transaction(apply_lock, &reads, |tx, read| {
        let mut source_name = None;
        let mut ahead = None;
        if let [seq, name, logged, rest @ ..] = &read[..] {
            let first = |rows: &[TextRow]| rows.first().and_then(|r| r.opt_text(0).ok().flatten());
            let seq = first(seq).and_then(|v| v.parse().ok()).unwrap_or(0);
            let logged = logged
                .iter()
                .map(|r| super::index::log_entry(r))
                .collect::<Result<_, _>>()?;
            index.catch_up(tx, seq, logged, input.threshold, input.now, input.window)?;
            source_name = first(name);
            ahead = Some(rest);
        }
        let (stats, ops) = apply(tx, input, source_name, keys, events, index, ahead)?;
        write_fetch_record(tx, input.source_id, &input.fetch)?;
        let seq = if shared {
            Some(index.log(tx, &ops)?)
        } else {
            None
        };
        Ok((stats, ops, seq))
    })?;
    if let Some(seq) = seq {
        index.seen_seq = seq;
    }
    for op in ops {
        index.apply_op(op, input.threshold);
    }
    index.prune(input.now - input.window);
    Ok(stats)
}

/// A title's fingerprint, similarity tokens, and what it teaches the name lexicon (empty when not used).
type TitleKeys = (String, Vec<String>, Vec<(String, bool)>);

/// Applies one refresh inside its transaction: each entry's [`dedupe::decide`] verdict, written as it
/// says ([`apply_entry`]), then the sections of the stories it touched ([`retag_touched`]). Returns the
/// stats and the index updates to make once the transaction commits.
fn apply(
    tx: &mut Conn<'_>,
    input: &RefreshInput<'_>,
    source_name: Option<String>,
    keys: Vec<TitleKeys>,
    events: &[DateTime<Utc>],
    index: &IndexState,
    ahead: Option<&[Vec<TextRow>]>,
) -> Result<(RefreshStats, Vec<IndexOp>), StoreError> {
    let source_name = match source_name {
        Some(name) => Some(name),
        None => tx.query_opt(
            "SELECT name FROM sources WHERE id = ?1",
            &[input.source_id.into()],
            |r| r.text(0),
        )?,
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
    let mut touched: BTreeMap<i64, Option<Vec<&Item>>> = BTreeMap::new();
    let mut batch = Batch::read(tx, input, &keys, ahead)?;
    for (item, keys, event) in oldest_first(input.items, keys, events) {
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
    // otherwise nothing later reads them back, and they are written with the commit (the sections
    // written after them, which need their stories, are queued after them).
    let read_back = touched.values().any(Option::is_none);
    batch.pending.flush(tx, !read_back)?;
    retag_touched(
        tx,
        input.tagger,
        &source_name,
        touched,
        &batch.fresh,
        &mut stats,
    )?;
    Ok((stats, ops))
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
/// opening round trip, see [`Conn::planned_transaction`]): the ids for its new entries, their stored
/// copies and tombstones, and the exact-match candidates of all its entries (those of the entries that
/// turn out stored are dropped when read).
fn ahead_statements(tx: &Conn<'_>, input: &RefreshInput<'_>, keys: &[TitleKeys]) -> Vec<Read> {
    let entry_keys: Vec<&str> = input.items.iter().map(|i| i.key.as_str()).collect();
    let list = serde_json::to_string(&entry_keys).unwrap_or_else(|_| "[]".into());
    let ([stored, tombstoned], params) = Prefetched::statements(tx, input.source_id, &list);
    let (url_keys, fingerprints) = Batch::match_keys(input, keys, |_| true);
    let [by_url, by_fp] = candidate_statements(tx);
    let urls = serde_json::to_string(&url_keys).unwrap_or_else(|_| "[]".into());
    let fps = serde_json::to_string(&fingerprints).unwrap_or_else(|_| "[]".into());
    vec![
        Read::new(RESERVE_FOR_NEW_ENTRIES.as_str(), &params),
        Read::new(stored, &params),
        Read::new(tombstoned, &params),
        Read::new(by_url, &[urls.as_str().into()]),
        Read::new(by_fp, &[fps.as_str().into(), input.source_id.into()]),
    ]
}

impl Batch {
    /// The entries' stored copies, then the exact-match candidates of those that are new: read here,
    /// or from the rows of [`ahead_statements`].
    fn read(
        tx: &mut Conn<'_>,
        input: &RefreshInput<'_>,
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
        input: &RefreshInput<'_>,
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
    input: &'a RefreshInput<'a>,
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
        if self.policy.title_dedupe
            && self.policy.similarity
            && known.is_none_or(|k| k.title_changed)
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

/// Recomputes the sections of the stories a refresh touched: in full when one of their items changed
/// (`None`), else extended with the texts of the items they gained (all such stories together); the
/// changed sections go in `stats`.
fn retag_touched(
    tx: &mut Conn<'_>,
    tagger: &Tagger,
    source_name: &str,
    touched: BTreeMap<i64, Option<Vec<&Item>>>,
    fresh: &BTreeSet<i64>,
    stats: &mut RefreshStats,
) -> Result<(), StoreError> {
    let mut extended = Vec::new();
    let mut changed = Vec::new();
    for (story_id, added) in touched {
        let Some(added) = added else {
            changed.push(story_id);
            continue;
        };
        extended.push(StoryTexts {
            story_id,
            fresh: fresh.contains(&story_id),
            added: added
                .iter()
                .map(|item| ItemText {
                    source_name,
                    title: &item.title,
                    summary: &item.summary,
                    url: item.url.as_deref(),
                    categories: &item.categories,
                })
                .collect(),
        });
    }
    for (before, after) in retag(tx, &changed, tagger)? {
        stats.note_sections(before, after);
    }
    for (before, after) in extend_tags(tx, tagger, &extended)? {
        stats.note_sections(before, after);
    }
    Ok(())
}

/// Writes one item as its verdict says: a new story first when it starts one, the story's event span
/// when it joins one, then the item itself (a known (source, key) keeps its story, first-seen time and
/// how it joined). Returns the item's id and its story's. (`known_id`: the item's id when it is stored
/// already.)
#[allow(clippy::too_many_arguments)]
fn write_item(
    tx: &mut Conn<'_>,
    pending: &mut Pending,
    input: &RefreshInput<'_>,
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
