//! Items, stories and their sections: applying a refresh, and reading stories back for rendering.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::sources::{FetchRecord, write_fetch_record};
use super::{Store, StoreError, from_ms, to_ms};
use crate::config::ALL_SECTION;
use crate::dedupe::{
    self, Candidate, Decision, EntryDates, Incoming, IndexUpdate, KnownItem, Policy, Similar,
    TitleIndex, TitleProbe, VetoRules,
};
use crate::model::Item;
use crate::tag::rules::{ItemText, Origin, Tagger};
use crate::text::hex;

/// The order of a story's items; the first is the representative. Earliest seen first; among items seen
/// in the same poll, the earliest published, then the source listed first in the config (so the choice
/// does not depend on which server answered first).
pub(super) const ITEM_ORDER: &str =
    "i.first_seen, COALESCE(i.published, i.first_seen), i.source_id, i.id";

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

/// A story as rendered: its items, earliest (the representative) first.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub id: i64,
    pub uid: String,
    pub first_seen: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub sections: Vec<String>,
    /// Why each section applies (same order as `sections`): "source:NAME", "keyword:WORDS", ...
    pub section_origins: Vec<String>,
    pub items: Vec<StoryItem>,
}

/// Why an item joined its story, as stored in `items.match_reason` (text; `new` for the item that
/// started it) and serialized in `stories --json` (lower case).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JoinReason {
    /// The same article URL.
    Url,
    /// The same normalized title.
    Title,
    /// Title similarity (the score is kept beside it).
    Similar,
    /// Stored before syndic recorded reasons.
    Joined,
}

impl JoinReason {
    /// The stored text: `Some` reason, or `None` for `new` (the item started its story). An unknown value
    /// (a database written by a newer syndic, or edited by hand) is an error that names it.
    pub fn parse_stored(text: &str) -> Result<Option<JoinReason>, UnknownValue> {
        Ok(Some(match text {
            "new" => return Ok(None),
            "url" => JoinReason::Url,
            "title" => JoinReason::Title,
            "similar" => JoinReason::Similar,
            "joined" => JoinReason::Joined,
            _ => {
                return Err(UnknownValue {
                    column: "items.match_reason",
                    value: text.to_string(),
                    known: "new, url, title, similar, joined",
                });
            }
        }))
    }
}

/// A stored status or reason this syndic does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown value \"{value}\" in {column} (known: {known})")]
pub struct UnknownValue {
    pub column: &'static str,
    pub value: String,
    pub known: &'static str,
}

/// How an item joined its story (absent for the item that started it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JoinInfo {
    pub reason: JoinReason,
    /// The similarity score, for "similar".
    pub score: Option<f64>,
    /// The stored item it matched: its source and title.
    pub matched_source: Option<String>,
    pub matched_title: Option<String>,
}

/// The "Popular now" view: stories first seen within `hours` before `now`, by distinct sources.
#[derive(Debug, Clone, Copy)]
pub struct TopQuery {
    pub now: DateTime<Utc>,
    pub hours: u32,
}

/// Longest period of the top view (a year).
pub const MAX_TOP_HOURS: u32 = 24 * 366;

#[derive(Debug, Clone, Serialize)]
pub struct StoryItem {
    pub source: String,
    pub title: String,
    pub url: Option<String>,
    pub summary: String,
    pub content_html: Option<String>,
    pub author: Option<String>,
    pub categories: Vec<String>,
    pub enclosures: Vec<crate::model::Enclosure>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub joined: Option<JoinInfo>,
    /// A similar story the look-alike veto kept this item out of (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<RefusalInfo>,
}

/// A near-miss the look-alike veto refused, as stored with the item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RefusalInfo {
    /// The veto, in words ("different places: chile / japan").
    pub reason: String,
    /// The similarity score it had reached.
    pub score: Option<f64>,
    /// The stored item it resembled: its source and title.
    pub matched_source: Option<String>,
    pub matched_title: Option<String>,
}

type StoryRow = (i64, String, i64);

fn story_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoryRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

impl Story {
    /// Distinct sources that reported the story.
    pub fn source_count(&self) -> usize {
        let mut names: Vec<&str> = self.items.iter().map(|i| i.source.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }

    /// The representative item: the one seen first.
    pub fn lead(&self) -> &StoryItem {
        &self.items[0]
    }

    /// The items of the other outlets: each other source once (its earliest item), never the lead's own.
    pub fn other_sources(&self) -> impl Iterator<Item = &StoryItem> {
        let mut seen = vec![self.lead().source.as_str()];
        self.items[1..].iter().filter(move |i| {
            let new = !seen.contains(&i.source.as_str());
            seen.push(&i.source);
            new
        })
    }

    /// The story's media: the lead's enclosures, else those of the first item that has any.
    pub fn enclosures(&self) -> &[crate::model::Enclosure] {
        self.items
            .iter()
            .map(|i| i.enclosures.as_slice())
            .find(|e| !e.is_empty())
            .unwrap_or_default()
    }

    /// Publication date of the story: its lead's, else when syndic first saw it. Never later than first
    /// seen: a date in the future (a wrong time zone, a scheduled post) would pin it to the top of readers.
    /// When the story itself last changed, by its items' own dates (the newest, never later than the
    /// refresh that stored it); `updated` when no item has a date. Feed entries carry this, so that
    /// stories stored by one poll do not all share the poll's time.
    pub fn changed(&self) -> DateTime<Utc> {
        self.items
            .iter()
            .filter_map(|i| i.published)
            .max()
            .map_or(self.updated, |t| t.min(self.updated).max(self.published()))
    }

    pub fn published(&self) -> DateTime<Utc> {
        self.lead()
            .published
            .map_or(self.first_seen, |p| p.min(self.first_seen))
    }
}

impl Store {
    /// Applies one refreshed source: items, stories, sections and the fetch record land together.
    ///
    /// The similarity index is read inside the transaction and updated only after it commits, so a failed
    /// refresh leaves both the database and the index as they were.
    pub fn apply_refresh(&self, input: &RefreshInput<'_>) -> Result<RefreshStats, StoreError> {
        // Title keys are computed before the store is locked: refreshes of other sources wait only for
        // the database work.
        let keys: Vec<TitleKeys> = input
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
            .collect();
        // Clustering time of each entry, judged against the document's own order.
        let dates: Vec<EntryDates> = input
            .items
            .iter()
            .map(|i| EntryDates {
                published: i.published,
                updated: i.updated,
            })
            .collect();
        let events = dedupe::event_times(&dates, input.now);
        let mut conn = self.lock();
        let mut index = self.lock_index();
        if index.window != Some(input.window) {
            index.rebuild(&conn, input.now, input.window)?;
        }
        index.index.set_decay_hours(input.decay_hours);
        let tx = conn.transaction()?;
        let (stats, ops) = apply(&tx, input, keys, &events, &index.index)?;
        write_fetch_record(&tx, input.source_id, &input.fetch)?;
        tx.commit()?;
        for op in ops {
            op.apply(&mut index.index, input.threshold);
        }
        index.index.prune(input.now - input.window);
        Ok(stats)
    }

    /// Rebuilds the similarity index from the stories first seen within `window` before `now`.
    pub fn rebuild_index(
        &self,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        self.lock_index().rebuild(&conn, now, window)
    }

    /// The story an item of a source belongs to.
    pub fn story_of_item(&self, source_id: i64, key: &str) -> Result<Option<i64>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT story_id FROM items WHERE source_id = ?1 AND key = ?2",
                params![source_id, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Runs `f` on the similarity index (read-only: explanations use its token weights).
    pub fn with_index<T>(&self, f: impl FnOnce(&TitleIndex) -> T) -> T {
        f(&self.lock_index().index)
    }

    /// Stories held by the similarity index (for metrics and tests).
    pub fn index_len(&self) -> usize {
        self.lock_index().index.len()
    }

    /// Newest stories first (by the time syndic first saw them), optionally of one section.
    pub fn stories(&self, section: Option<&str>, limit: usize) -> Result<Vec<Story>, StoreError> {
        self.stories_by(section, limit, None)
    }

    /// Stories of a section, newest first, skipping the first `offset` (archive pages).
    pub fn stories_page(
        &self,
        section: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Story>, StoreError> {
        self.stories_query(section, limit, offset, None)
    }

    /// Stories of a section, newest first, or with `top` the "Popular now" ranking: stories first seen
    /// within `top.hours` before `top.now`, by the number of distinct sources that reported them, newest
    /// first among equals.
    pub fn stories_by(
        &self,
        section: Option<&str>,
        limit: usize,
        top: Option<TopQuery>,
    ) -> Result<Vec<Story>, StoreError> {
        self.stories_query(section, limit, 0, top)
    }

    fn stories_query(
        &self,
        section: Option<&str>,
        limit: usize,
        offset: usize,
        top: Option<TopQuery>,
    ) -> Result<Vec<Story>, StoreError> {
        let conn = self.lock();
        let section = section.filter(|s| *s != ALL_SECTION);
        let mut ids = Vec::new();
        {
            let filter = if section.is_some() {
                "JOIN story_sections ss ON ss.story_id = s.id AND ss.section = ?1"
            } else {
                "WHERE ?1 IS NULL"
            };
            let order = "s.first_seen DESC, s.published DESC, s.id DESC";
            // ?3: the earliest first_seen (the top view's period; the very first instant otherwise).
            let since = if section.is_some() { "WHERE" } else { "AND" };
            let rank = if top.is_some() {
                "(SELECT COUNT(DISTINCT i.source_id) FROM items i WHERE i.story_id = s.id) DESC,"
            } else {
                ""
            };
            let sql = format!(
                "SELECT s.id, s.uid, s.first_seen FROM stories s {filter}
                 {since} s.first_seen >= ?3
                 ORDER BY {rank} {order}
                 LIMIT ?2 OFFSET ?4"
            );
            let since = top.map_or(i64::MIN, |t| {
                to_ms(t.now - chrono::Duration::hours(t.hours.into()))
            });
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(
                    params![section, limit as i64, since, offset as i64],
                    story_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            ids.extend(rows);
        }
        let mut items_stmt = conn.prepare_cached(&format!(
            "SELECT src.name, i.title, i.url, i.summary, i.content, i.author, i.categories,
                        i.published, i.first_seen, i.match_reason, i.match_score, msrc.name, m.title,
                        i.changed_at, i.enclosures, i.miss_reason, i.miss_score, xsrc.name, x.title
                 FROM items i JOIN sources src ON src.id = i.source_id
                 LEFT JOIN items m ON m.id = i.match_item
                 LEFT JOIN sources msrc ON msrc.id = m.source_id
                 LEFT JOIN items x ON x.id = i.miss_item
                 LEFT JOIN sources xsrc ON xsrc.id = x.source_id
                 WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER}"
        ))?;
        let mut sections_stmt = conn.prepare_cached(
            "SELECT section, origin FROM story_sections WHERE story_id = ?1 ORDER BY section",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, uid, first_seen) in ids {
            // When the story last changed: the latest refresh that added or changed one of its items
            // (kept with the items, so a join writes no story row).
            let mut updated = first_seen;
            let items = items_stmt
                .query_map([id], |r| {
                    updated = updated.max(r.get(13)?);
                    let cats: String = r.get(6)?;
                    let reason =
                        JoinReason::parse_stored(&r.get::<_, String>(9)?).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                9,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                    Ok(StoryItem {
                        source: r.get(0)?,
                        title: r.get(1)?,
                        url: r.get(2)?,
                        summary: r.get(3)?,
                        content_html: r.get(4)?,
                        author: r.get(5)?,
                        categories: serde_json::from_str(&cats).unwrap_or_default(),
                        enclosures: serde_json::from_str(&r.get::<_, String>(14)?)
                            .unwrap_or_default(),
                        published: r.get::<_, Option<i64>>(7)?.map(from_ms),
                        first_seen: from_ms(r.get(8)?),
                        joined: reason.map(|reason| JoinInfo {
                            reason,
                            score: r.get(10).ok().flatten(),
                            matched_source: r.get(11).ok().flatten(),
                            matched_title: r.get(12).ok().flatten(),
                        }),
                        refused: r.get::<_, Option<String>>(15)?.map(|reason| RefusalInfo {
                            reason,
                            score: r.get(16).ok().flatten(),
                            matched_source: r.get(17).ok().flatten(),
                            matched_title: r.get(18).ok().flatten(),
                        }),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if items.is_empty() {
                continue;
            }
            let tags = sections_stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(String, String)>, _>>()?;
            out.push(Story {
                id,
                uid,
                first_seen: from_ms(first_seen),
                updated: from_ms(updated),
                sections: tags.iter().map(|(s, _)| s.clone()).collect(),
                section_origins: tags.into_iter().map(|(_, o)| o).collect(),
                items,
            });
        }
        Ok(out)
    }

    /// Re-applies the section rules to every story first seen since `since` (after a config change:
    /// new keywords, a source's sections edited). Returns the sections whose feeds changed.
    pub fn retag_since(
        &self,
        since: DateTime<Utc>,
        tagger: &Tagger,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM stories WHERE first_seen >= ?1")?;
            stmt.query_map([to_ms(since)], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut changed = BTreeSet::new();
        for id in ids {
            let (before, after) = retag(&tx, id, tagger)?;
            if before != after {
                changed.extend(before.into_iter().chain(after));
                changed.insert(ALL_SECTION.to_string());
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// The newest story's id: grows by one per story stored, and costs one index lookup (where a
    /// count reads the whole table), so "stories stored since" is a subtraction.
    pub fn last_story_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM stories", [], |r| r.get(0))?)
    }

    /// Stored section tags by kind of origin ("source", "category", "path", "keyword", "regex",
    /// "learned").
    pub fn tags_by_origin(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT substr(origin, 1, instr(origin, ':') - 1) AS kind, COUNT(*) FROM story_sections
             GROUP BY kind ORDER BY kind",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts of (items, stories), for summaries and tests.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        let conn = self.lock();
        Ok(conn.query_row(
            "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM stories)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

/// The similarity index and the window it was built for (`None`: not built yet).
#[derive(Default)]
pub(crate) struct IndexState {
    pub(crate) index: TitleIndex,
    pub(crate) window: Option<chrono::Duration>,
}

impl IndexState {
    /// Loads the representatives of every story first seen within the window, in first-seen order, each
    /// story's first item first, with the story's event span: the index the running daemon had built,
    /// item for item.
    fn rebuild(
        &mut self,
        conn: &rusqlite::Connection,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<(), StoreError> {
        let mut index = TitleIndex::new();
        let mut stmt = conn.prepare(
            "SELECT s.id, s.first_seen, i.id, i.source_id, i.title, s.event_lo, s.event_hi
             FROM stories s JOIN items i ON i.story_id = s.id AND i.title_rep = 1
             WHERE s.first_seen >= ?1
             ORDER BY s.first_seen, s.id, i.match_reason <> 'new', i.id",
        )?;
        let rows = stmt.query_map([to_ms(now - window)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                (r.get::<_, i64>(5)?, r.get::<_, i64>(6)?),
            ))
        })?;
        for row in rows {
            let (story_id, first_seen, item_id, source_id, title, (lo, hi)) = row?;
            let tokens = dedupe::title_tokens(&title);
            index.learn_names(&title);
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
        }
        self.index = index;
        self.window = Some(window);
        Ok(())
    }
}

/// A change to the similarity index, applied once the refresh's transaction has committed.
enum IndexOp {
    NewStory {
        story_id: i64,
        first_seen: DateTime<Utc>,
        event: DateTime<Utc>,
        item_id: i64,
        source_id: i64,
        tokens: Vec<String>,
    },
    /// A joined item whose title was admitted as a representative (decided in the transaction).
    Rep {
        story_id: i64,
        item_id: i64,
        source_id: i64,
        tokens: Vec<String>,
    },
    /// A representative's title was edited in place.
    Edit {
        story_id: i64,
        item_id: i64,
        tokens: Vec<String>,
    },
    /// An item at this event time joined the story: its span grows.
    Span { story_id: i64, event: DateTime<Utc> },
    /// A new headline: the name lexicon learns what it observed in it.
    Learn { observed: Vec<(String, bool)> },
}

impl IndexOp {
    fn apply(self, index: &mut TitleIndex, threshold: f64) {
        match self {
            IndexOp::NewStory {
                story_id,
                first_seen,
                event,
                item_id,
                source_id,
                tokens,
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
            } => index.restore_rep(story_id, item_id, source_id, &tokens),
            IndexOp::Edit {
                story_id,
                item_id,
                tokens,
            } => {
                index.edit_rep(story_id, item_id, &tokens, threshold);
            }
            IndexOp::Span { story_id, event } => index.extend_span(story_id, event),
            IndexOp::Learn { observed } => index.record_names(observed),
        }
    }
}

/// The stored copy of an item, for change detection.
struct Stored {
    id: i64,
    story_id: i64,
    title_rep: bool,
    fields: ItemFields,
}

#[derive(PartialEq)]
struct ItemFields {
    url: Option<String>,
    title: String,
    summary: String,
    content: Option<String>,
    author: Option<String>,
    categories: String,
    enclosures: String,
    published: Option<i64>,
    updated: Option<i64>,
}

impl ItemFields {
    fn of(item: &Item) -> ItemFields {
        ItemFields {
            url: item.url.clone(),
            title: item.title.clone(),
            summary: item.summary.clone(),
            content: item.content_html.clone(),
            author: item.author.clone(),
            categories: serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
            enclosures: serde_json::to_string(&item.enclosures).unwrap_or_else(|_| "[]".into()),
            published: item.published.map(to_ms),
            updated: item.updated.map(to_ms),
        }
    }
}

/// A title's fingerprint, similarity tokens, and what it teaches the name lexicon (empty when not used).
type TitleKeys = (String, Vec<String>, Vec<(String, bool)>);

/// Applies one refresh inside its transaction: each entry's [`dedupe::decide`] verdict, written as it
/// says. Returns the stats and the index updates to make once the transaction commits.
fn apply(
    tx: &rusqlite::Connection,
    input: &RefreshInput<'_>,
    keys: Vec<TitleKeys>,
    events: &[DateTime<Utc>],
    index: &TitleIndex,
) -> Result<(RefreshStats, Vec<IndexOp>), StoreError> {
    let source_name: String = tx.query_row(
        "SELECT name FROM sources WHERE id = ?1",
        [input.source_id],
        |r| r.get(0),
    )?;
    let mut stats = RefreshStats {
        items: input.items.len(),
        ..RefreshStats::default()
    };
    let policy = Policy {
        window: input.window,
        threshold: input.threshold,
        title_dedupe: input.title_dedupe,
        similarity: input.similarity,
        veto: input.veto,
    };
    let mut ops = Vec::new();
    // Oldest first by event time, so that within one refresh a higher story id means a newer story.
    // Feeds list newest first, so entries of the same time keep that order when reversed.
    let mut order: Vec<(&Item, TitleKeys, DateTime<Utc>)> = input
        .items
        .iter()
        .zip(keys)
        .zip(events.iter().copied())
        .map(|((item, keys), event)| (item, keys, event))
        .rev()
        .collect();
    order.sort_by_key(|(_, _, event)| *event);

    // Stories to retag: in full when one of their items changed, else only with the titles and summaries
    // they gained (sections are a union over items, so new items can only add).
    let mut touched: BTreeMap<i64, Option<Vec<&Item>>> = BTreeMap::new();
    for (item, (title_fp, tokens, mut observed), event) in order {
        let fields = ItemFields::of(item);
        let url_key = item.url.as_deref().map(dedupe::url_key);
        let stored = find_item(tx, input.source_id, &item.key)?;
        if stored.is_none() && super::retention::is_tombstoned(tx, input.source_id, &item.key)? {
            // Deleted by retention: a source still listing it does not bring it back.
            continue;
        }
        if stored.as_ref().is_some_and(|st| st.fields == fields) {
            // Unchanged (the steady state of a re-poll): nothing to normalize or match.
            continue;
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
            None => candidates(tx, &incoming, input.title_dedupe, input.window)?,
        };
        let similar = |k| similar_stories(tx, index, &incoming, &policy, k);
        let verdict = dedupe::decide(&incoming, known, &cands, similar, index, &policy)?;
        let known_id = known.map(|k| k.item_id);
        let (item_id, story_id) = write_item(
            tx,
            input,
            item,
            &fields,
            &source_name,
            &verdict,
            &incoming,
            known_id,
        )?;
        match verdict.decision {
            Decision::SameItem { .. } => {
                stats.updated_items += 1;
            }
            Decision::Join { reason, .. } => {
                stats.new_items += 1;
                stats.joined += 1;
                *stats.joins_by_reason.entry(reason.as_str()).or_default() += 1;
            }
            Decision::New => {
                stats.new_items += 1;
                stats.new_stories += 1;
            }
        }
        if verdict.extend_span {
            ops.push(IndexOp::Span { story_id, event });
        }
        if policy.title_dedupe
            && policy.similarity
            && (known.is_none() || known.is_some_and(|k| k.title_changed))
        {
            ops.push(IndexOp::Learn {
                observed: std::mem::take(&mut observed),
            });
        }
        match verdict.index {
            IndexUpdate::NewStory => ops.push(IndexOp::NewStory {
                story_id,
                first_seen: input.now,
                event,
                item_id,
                source_id: input.source_id,
                tokens,
            }),
            IndexUpdate::AddRep => ops.push(IndexOp::Rep {
                story_id,
                item_id,
                source_id: input.source_id,
                tokens,
            }),
            IndexUpdate::EditRep => ops.push(IndexOp::Edit {
                story_id,
                item_id,
                tokens,
            }),
            IndexUpdate::None => {}
        }
        match (
            &verdict.decision,
            touched.entry(story_id).or_insert_with(|| Some(Vec::new())),
        ) {
            (Decision::SameItem { .. }, t) => *t = None,
            (_, Some(added)) => added.push(item),
            (_, None) => {}
        }
    }

    for (story_id, added) in touched {
        let (before, after) = match added {
            None => retag(tx, story_id, input.tagger)?,
            Some(added) => {
                let texts: Vec<ItemText<'_>> = added
                    .iter()
                    .map(|item| ItemText {
                        source_name: &source_name,
                        title: &item.title,
                        summary: &item.summary,
                        url: item.url.as_deref(),
                        categories: &item.categories,
                    })
                    .collect();
                extend_tags(tx, story_id, input.tagger, &texts)?
            }
        };
        stats.changed_sections.extend(before);
        stats.changed_sections.extend(after);
        stats.changed_sections.insert(ALL_SECTION.to_string());
    }
    Ok((stats, ops))
}

/// Writes one item as its verdict says: a new story first when it starts one, the story's event span
/// when it joins one, then the item itself (a known (source, key) keeps its story, first-seen time and
/// how it joined). Returns the item's id and its story's. (`known_id`: the item's id when it is stored
/// already.)
#[allow(clippy::too_many_arguments)]
fn write_item(
    tx: &rusqlite::Connection,
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
    let (story_id, reason, score, matched) = match verdict.decision {
        Decision::SameItem { story_id } => (story_id, "new", None, None),
        Decision::Join {
            story_id,
            item_id,
            reason,
        } => {
            // Written only when the item falls outside the span (most joins fall inside it).
            tx.prepare_cached(
                "UPDATE stories SET event_lo = MIN(event_lo, ?2), event_hi = MAX(event_hi, ?2)
                 WHERE id = ?1 AND (event_lo > ?2 OR event_hi < ?2)",
            )?
            .execute(params![story_id, event_ms])?;
            (story_id, reason.as_str(), reason.score(), Some(item_id))
        }
        Decision::New => {
            tx.prepare_cached(
                // `updated` is not maintained: a story changes when its items do (see `stories_by`).
                "INSERT INTO stories (uid, first_seen, published, updated, event_lo, event_hi)
                 VALUES (?1, ?2, ?3, ?2, ?4, ?4)",
            )?
            .execute(params![
                story_uid(source_name, &item.key),
                now_ms,
                fields.published.unwrap_or(now_ms).min(now_ms),
                event_ms,
            ])?;
            (tx.last_insert_rowid(), "new", None, None)
        }
    };
    let miss = verdict.near_miss.as_ref();
    tx.prepare_cached(
        "INSERT INTO items (source_id, key, story_id, guid, url, url_key, title, title_fp, summary,
            content, author, categories, published, updated, first_seen, changed_at,
            match_reason, match_score, match_item, title_rep, enclosures, event_at, fp_version,
            miss_item, miss_score, miss_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15,
            ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)
         ON CONFLICT (source_id, key) DO UPDATE SET
            guid = excluded.guid, url = excluded.url, url_key = excluded.url_key,
            title = excluded.title, title_fp = excluded.title_fp, summary = excluded.summary,
            content = excluded.content, author = excluded.author, categories = excluded.categories,
            enclosures = excluded.enclosures, published = excluded.published, updated = excluded.updated,
            changed_at = excluded.changed_at, title_rep = excluded.title_rep,
            fp_version = excluded.fp_version",
    )?
    .execute(params![
        input.source_id,
        item.key,
        story_id,
        item.guid,
        fields.url,
        incoming.url_key,
        fields.title,
        verdict.title_fp,
        fields.summary,
        fields.content,
        fields.author,
        fields.categories,
        fields.published,
        fields.updated,
        now_ms,
        reason,
        score,
        matched,
        verdict.title_rep,
        fields.enclosures,
        event_ms,
        dedupe::FINGERPRINT_VERSION,
        miss.map(|m| m.item_id),
        miss.map(|m| m.score),
        miss.map(|m| m.veto.to_string()),
    ])?;
    let item_id = match known_id {
        Some(id) => id,
        None => tx.last_insert_rowid(),
    };
    Ok((item_id, story_id))
}

/// The index's best similar stories for an incoming item, with the titles the veto reads: the matched
/// representative's and the story's first.
fn similar_stories(
    tx: &rusqlite::Connection,
    index: &TitleIndex,
    item: &Incoming<'_>,
    policy: &Policy,
    k: usize,
) -> Result<Vec<Similar>, StoreError> {
    let probe = TitleProbe {
        source_id: item.source_id,
        tokens: item.tokens,
        event: item.event,
    };
    let found = index.best_matches(&probe, policy.threshold, policy.window, k);
    // The matched representative's title and the story's first title, in one statement.
    let mut titles = tx.prepare_cached("SELECT id, title FROM items WHERE id IN (?1, ?2)")?;
    let mut out = Vec::with_capacity(found.len());
    for m in found {
        if m.score >= dedupe::SAME_WORDS_SCORE || policy.veto == VetoRules::NONE {
            // Nothing for the veto to read.
            out.push(Similar {
                found: m,
                title: String::new(),
                lead_title: String::new(),
            });
            continue;
        }
        let lead = index.lead_of(m.story_id).unwrap_or(m.item_id);
        let (mut title, mut lead_title) = (String::new(), String::new());
        for row in titles.query_map([m.item_id, lead], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })? {
            let (id, t) = row?;
            if id == lead {
                lead_title.clone_from(&t);
            }
            if id == m.item_id {
                title = t;
            }
        }
        out.push(Similar {
            found: m,
            title,
            lead_title,
        });
    }
    Ok(out)
}

fn find_item(
    tx: &rusqlite::Connection,
    source_id: i64,
    key: &str,
) -> Result<Option<Stored>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT story_id, url, title, summary, content, author, categories, published, updated, id,
                title_rep, enclosures
         FROM items WHERE source_id = ?1 AND key = ?2",
    )?;
    Ok(stmt
        .query_row(params![source_id, key], |r| {
            Ok(Stored {
                id: r.get(9)?,
                story_id: r.get(0)?,
                title_rep: r.get(10)?,
                fields: ItemFields {
                    url: r.get(1)?,
                    title: r.get(2)?,
                    summary: r.get(3)?,
                    content: r.get(4)?,
                    author: r.get(5)?,
                    categories: r.get(6)?,
                    enclosures: r.get(11)?,
                    published: r.get(7)?,
                    updated: r.get(8)?,
                },
            })
        })
        .optional()?)
}

/// Stored items sharing the URL key, or (in a story the item's event time fits) the title fingerprint.
fn candidates(
    tx: &rusqlite::Connection,
    item: &Incoming<'_>,
    title_dedupe: bool,
    window: chrono::Duration,
) -> Result<Vec<Candidate>, StoreError> {
    // Only what `dedupe::exact_match` can pick: items with the same URL (any source), else items of
    // other sources with the same fingerprint in a story within the window of the item's event time.
    // (No ORDER BY: it would tempt the planner into walking stories by date instead of using the item
    // indexes.)
    let mut out = Vec::new();
    let map = |r: &rusqlite::Row<'_>| {
        Ok(Candidate {
            item_id: r.get(6)?,
            story_id: r.get(0)?,
            source_id: r.get(1)?,
            url_key: r.get(2)?,
            title_fp: r.get(3)?,
            story_span: (from_ms(r.get(4)?), from_ms(r.get(5)?)),
        })
    };
    if let Some(key) = item.url_key {
        let mut stmt = tx.prepare_cached(
            "SELECT i.story_id, i.source_id, i.url_key, i.title_fp, s.event_lo, s.event_hi, i.id
             FROM items i JOIN stories s ON s.id = i.story_id WHERE i.url_key = ?1",
        )?;
        for c in stmt.query_map([key], map)? {
            out.push(c?);
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    if title_dedupe && !item.title_fp.is_empty() {
        let mut stmt = tx.prepare_cached(
            "SELECT i.story_id, i.source_id, i.url_key, i.title_fp, s.event_lo, s.event_hi, i.id
             FROM items i JOIN stories s ON s.id = i.story_id
             WHERE i.title_fp = ?1 AND s.event_hi >= ?2 AND s.event_lo <= ?3 AND i.source_id <> ?4",
        )?;
        let rows = stmt.query_map(
            params![
                item.title_fp,
                to_ms(item.event - window),
                to_ms(item.event + window),
                item.source_id
            ],
            map,
        )?;
        for c in rows {
            out.push(c?);
        }
    }
    Ok(out)
}

/// Sections before and after a retag.
type Retagged = (Vec<String>, Vec<String>);

/// Recomputes a story's sections from all its items; returns its sections before and after.
fn retag(
    tx: &rusqlite::Connection,
    story_id: i64,
    tagger: &Tagger,
) -> Result<Retagged, StoreError> {
    type Row = (String, String, String, Option<String>, Vec<String>);
    let rows: Vec<Row> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT src.name, i.title, i.summary, i.url, i.categories
             FROM items i JOIN sources src ON src.id = i.source_id
             WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER}"
        ))?;
        stmt.query_map([story_id], |r| {
            let cats: String = r.get(4)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                serde_json::from_str(&cats).unwrap_or_default(),
            ))
        })?
        .collect::<Result<_, _>>()?
    };
    let texts: Vec<ItemText<'_>> = rows
        .iter()
        .map(|(name, title, summary, url, categories)| ItemText {
            source_name: name,
            title,
            summary,
            url: url.as_deref(),
            categories,
        })
        .collect();
    let new: Vec<(String, String)> = tagger
        .tag(&texts)
        .into_iter()
        .map(|(s, o)| (s, o.encode()))
        .collect();
    let old = sections_of(tx, story_id)?;
    if old != new {
        tx.prepare_cached("DELETE FROM story_sections WHERE story_id = ?1")?
            .execute([story_id])?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO story_sections (story_id, section, origin) VALUES (?1, ?2, ?3)",
        )?;
        for (section, origin) in &new {
            ins.execute(params![story_id, section, origin])?;
        }
    }
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(s, _)| s).collect();
    Ok((names(old), names(new)))
}

/// A story's stored (section, origin) pairs, by section.
fn sections_of(
    tx: &rusqlite::Connection,
    story_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT section, origin FROM story_sections WHERE story_id = ?1 ORDER BY section",
    )?;
    let rows = stmt.query_map([story_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds the sections of a story's new items to the ones it has (a join or a new story: nothing was
/// removed, so nothing needs re-reading). A section found by a rule before that a new item's source
/// gives by default becomes the source's, and one the learned tagger gave becomes a rule's or a
/// source's, as a full retag would make them.
fn extend_tags(
    tx: &rusqlite::Connection,
    story_id: i64,
    tagger: &Tagger,
    added: &[ItemText<'_>],
) -> Result<Retagged, StoreError> {
    let old = sections_of(tx, story_id)?;
    let mut ins = tx.prepare_cached(
        "INSERT OR REPLACE INTO story_sections (story_id, section, origin) VALUES (?1, ?2, ?3)",
    )?;
    let mut after: BTreeSet<String> = old.iter().map(|(s, _)| s.clone()).collect();
    let has_sections = old.iter().any(|(_, o)| !Origin::is_learned_encoded(o));
    for (section, origin) in tagger.tag_story(added, has_sections) {
        let replace = match old.iter().find(|(s, _)| *s == section) {
            None => true,
            Some((_, was)) => match origin {
                Origin::Source(_) => !Origin::is_source_encoded(was),
                Origin::Learned(_) => false,
                _ => Origin::is_learned_encoded(was),
            },
        };
        if replace {
            ins.execute(params![story_id, section, origin.encode()])?;
            after.insert(section);
        }
    }
    let before = old.into_iter().map(|(s, _)| s).collect();
    Ok((before, after.into_iter().collect()))
}

/// Public story id: stable for the same first item of the same source, even across database rebuilds.
fn story_uid(source_name: &str, item_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_name.as_bytes());
    h.update(b"\0");
    h.update(item_key.as_bytes());
    hex(&h.finalize()[..10])
}

impl Store {
    /// Every stored item's story by the item's own id (guid), for evaluations that label items by it.
    pub fn stories_by_guid(&self) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT guid, story_id FROM items WHERE guid IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Re-fingerprints stored items whose title fingerprint was computed by an older normalization
/// ([`dedupe::FINGERPRINT_VERSION`]), in batches, so that exact-title joins keep meeting them. Items
/// stored without a fingerprint (titles too short, or a source with `dedupe = false`) stay without one.
/// Returns how many fingerprints changed.
pub(super) fn refingerprint(conn: &mut rusqlite::Connection) -> Result<usize, StoreError> {
    const BATCH: i64 = 5000;
    let version = dedupe::FINGERPRINT_VERSION;
    // One row says whether there is anything to do, so a start-up does not scan every item.
    let stored: i64 = conn.query_row(
        "SELECT value FROM meta WHERE key = 'fingerprint_version'",
        [],
        |r| r.get(0),
    )?;
    if stored >= version {
        return Ok(0);
    }
    let mut changed = 0;
    loop {
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, title, title_fp FROM items WHERE fp_version < ?1 ORDER BY id LIMIT ?2",
            )?;
            stmt.query_map(params![version, BATCH], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        if rows.is_empty() {
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'fingerprint_version'",
                [version],
            )?;
            tx.commit()?;
            return Ok(changed);
        }
        {
            let mut update =
                tx.prepare("UPDATE items SET title_fp = ?2, fp_version = ?3 WHERE id = ?1")?;
            for (id, title, old) in &rows {
                let fp = if old.is_empty() {
                    String::new()
                } else {
                    dedupe::title_fingerprint(title)
                };
                changed += usize::from(fp != *old);
                update.execute(params![id, fp, version])?;
            }
        }
        tx.commit()?;
    }
}
