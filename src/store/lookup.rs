//! What the dedupe decision needs from the store, read inside the refresh's transaction: the stored
//! copy of an entry, the stories with the same URL or title fingerprint, and the similar stories' stored
//! event spans.

use crate::dedupe::{
    self, Candidate, Incoming, Policy, Similar, TitleIndex, TitleProbe, VetoRules,
};
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::model::Item;

use super::index::RepTitles;
use super::sql::{Conn, KeyedSelect, Row, Value};
use super::{StoreError, from_ms, to_ms};

/// The stored copy of an item, for change detection.
pub(super) struct Stored {
    pub(super) id: i64,
    pub(super) story_id: i64,
    pub(super) title_rep: bool,
    pub(super) fields: ItemFields,
}

#[derive(PartialEq)]
pub(super) struct ItemFields {
    pub(super) url: Option<String>,
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) content: Option<String>,
    pub(super) author: Option<String>,
    pub(super) categories: String,
    pub(super) enclosures: String,
    pub(super) image: Option<String>,
    pub(super) published: Option<i64>,
    pub(super) updated: Option<i64>,
}

impl ItemFields {
    pub(super) fn of(item: &Item) -> ItemFields {
        ItemFields {
            url: item.url.clone(),
            title: item.title.clone(),
            summary: item.summary.clone(),
            content: item.content_html.clone(),
            author: item.author.clone(),
            categories: serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
            enclosures: serde_json::to_string(&item.enclosures).unwrap_or_else(|_| "[]".into()),
            image: item.image.clone(),
            published: item.published.map(to_ms),
            updated: item.updated.map(to_ms),
        }
    }
}

/// The index's best similar stories for an incoming item, with the titles the veto reads: the matched
/// representative's and the story's first (as held with the index, else read from the store).
pub(super) fn similar_stories(
    tx: &mut Conn<'_>,
    index: &TitleIndex,
    titles: &RepTitles,
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
        if let (Some(title), Some(lead_title)) = (titles.get(m.item_id), titles.get(lead)) {
            out.push(Similar {
                found: m,
                title: title.to_string(),
                lead_title: lead_title.to_string(),
            });
            continue;
        }
        let (mut title, mut lead_title) = (String::new(), String::new());
        let rows = tx.query(
            // Two key lookups rather than `id IN (?1, ?2)`: PostgreSQL's cached plan for the IN list,
            // made while a fresh database's items table was nearly empty, scanned the whole table.
            "SELECT id, title FROM items WHERE id = ?1
             UNION ALL SELECT id, title FROM items WHERE id = ?2",
            &[m.item_id.into(), lead.into()],
            |r| Ok((r.int(0)?, r.text(1)?)),
        )?;
        for (id, t) in rows {
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

/// The columns [`stored_row`] reads, after the entry key.
const STORED_COLUMNS: &str = "key, story_id, url, title, summary, content, author, categories, \
                              published, updated, id, title_rep, enclosures, image";

/// An entry key and its stored copy, from a row of [`STORED_COLUMNS`].
fn stored_row(r: &dyn Row) -> Result<(String, Stored), StoreError> {
    Ok((
        r.text(0)?,
        Stored {
            id: r.int(10)?,
            story_id: r.int(1)?,
            title_rep: r.int(11)? != 0,
            fields: ItemFields {
                url: r.opt_text(2)?,
                title: r.text(3)?,
                summary: r.text(4)?,
                content: r.opt_text(5)?,
                author: r.opt_text(6)?,
                categories: r.text(7)?,
                enclosures: r.text(12)?,
                image: r.opt_text(13)?,
                published: r.opt_int(8)?,
                updated: r.opt_int(9)?,
            },
        },
    ))
}

pub(super) fn find_item(
    tx: &mut Conn<'_>,
    source_id: i64,
    key: &str,
) -> Result<Option<Stored>, StoreError> {
    Ok(tx
        .query_opt(
            &format!("SELECT {STORED_COLUMNS} FROM items WHERE source_id = ?1 AND key = ?2"),
            &[source_id.into(), key.into()],
            stored_row,
        )?
        .map(|(_, stored)| stored))
}

/// What the store holds for one refresh's entries, read in two statements rather than two per entry
/// (on PostgreSQL each statement is a round trip): their stored copies, and which of the others
/// retention deleted.
pub(super) struct Prefetched {
    stored: HashMap<String, Stored>,
    tombstoned: HashSet<String>,
    /// Keys already handed out: a key listed twice in one document is looked up again, as the first
    /// copy may have been stored in this transaction.
    taken: HashSet<String>,
}

impl Prefetched {
    /// The statements that read the entries' stored copies and their tombstones, with their
    /// parameters (`keys` the entry keys as a JSON array).
    pub(super) fn statements<'a>(
        tx: &Conn<'_>,
        source_id: i64,
        keys: &'a str,
    ) -> ([String; 2], [Value<'a>; 2]) {
        let of_source = |columns, from| KeyedSelect {
            columns,
            from,
            key: "key",
            cast: None,
            rest: Some("source_id = ?2"),
            order: None,
            first_per: None,
        };
        (
            [
                tx.by_keys(of_source(STORED_COLUMNS, "items")),
                tx.by_keys(of_source("key", "tombstones")),
            ],
            [keys.into(), source_id.into()],
        )
    }

    pub(super) fn read(
        tx: &mut Conn<'_>,
        source_id: i64,
        keys: &[&str],
    ) -> Result<Prefetched, StoreError> {
        // The keys as one JSON array: a parameter both engines take.
        let list = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        let ([stored_sql, tombstones_sql], params) = Prefetched::statements(tx, source_id, &list);
        let stored: HashMap<String, Stored> = tx
            .query(&stored_sql, &params, stored_row)?
            .into_iter()
            .collect();
        let tombstoned = if stored.len() < keys.len() {
            tx.query(&tombstones_sql, &params, |r| r.text(0))?
                .into_iter()
                .collect()
        } else {
            HashSet::new()
        };
        Ok(Prefetched {
            stored,
            tombstoned,
            taken: HashSet::new(),
        })
    }

    /// From the rows of [`Prefetched::statements`], read ahead.
    pub(super) fn of_rows<R: Row>(
        stored: &[R],
        tombstoned: &[R],
    ) -> Result<Prefetched, StoreError> {
        Ok(Prefetched {
            stored: stored
                .iter()
                .map(|r| stored_row(r))
                .collect::<Result<_, _>>()?,
            tombstoned: tombstoned
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<_, _>>()?,
            taken: HashSet::new(),
        })
    }

    /// Whether the entry is stored or was deleted by retention (as read, before this refresh).
    pub(super) fn is_stored(&self, key: &str) -> bool {
        self.stored.contains_key(key) || self.tombstoned.contains(key)
    }

    /// Whether the entry's key was handed out before in this refresh (listed twice in the document).
    pub(super) fn was_taken(&self, key: &str) -> bool {
        self.taken.contains(key)
    }

    /// The entry's stored copy, and whether retention deleted it (when not stored).
    pub(super) fn take(
        &mut self,
        tx: &mut Conn<'_>,
        source_id: i64,
        key: &str,
    ) -> Result<(Option<Stored>, bool), StoreError> {
        if !self.taken.insert(key.to_string()) {
            let stored = find_item(tx, source_id, key)?;
            let gone = stored.is_none() && super::retention::is_tombstoned(tx, source_id, key)?;
            return Ok((stored, gone));
        }
        let stored = self.stored.remove(key);
        let gone = stored.is_none() && self.tombstoned.contains(key);
        Ok((stored, gone))
    }
}

/// The exact-match candidates of a refresh's new entries: the stored items sharing a URL key with
/// any of them, and other sources' items sharing a title fingerprint, read in at most two statements
/// rather than two per entry. The items the refresh writes are added as it goes, and the story spans
/// it widens are kept, so each entry sees what a query of its own would have found.
pub(super) struct Candidates {
    by_url: HashMap<String, Vec<Candidate>>,
    by_fp: HashMap<String, Vec<Candidate>>,
    /// Story spans (ms) widened by this refresh, and the spans of its new stories.
    spans: HashMap<i64, (i64, i64)>,
    /// The stored spans of the candidates' stories, as read.
    read_spans: HashMap<i64, (DateTime<Utc>, DateTime<Utc>)>,
}

/// The statement of the items with one of the URL keys (`?1`, a JSON array), and the one of other
/// sources' items with one of the fingerprints (`?1`; `?2` the refresh's source): of one story's items
/// with the fingerprint, the first, the only one `dedupe::exact_match` can pick (the earliest story,
/// then its smallest item id; they share the story's span), as the URL candidates are read in full on
/// their own. Any time: the window is judged against the story's span as it stands when the entry is
/// decided, which the refresh may widen.
pub(super) fn candidate_statements(tx: &Conn<'_>) -> [String; 2] {
    let by_url = tx.by_keys(KeyedSelect {
        // The story's span by its key (in a refresh's transaction the join is a lookup by key, see
        // `Conn::planned_transaction`).
        columns: "i.story_id, i.source_id, i.url_key, i.title_fp, s.event_lo, s.event_hi, i.id",
        from: "items i JOIN stories s ON s.id = i.story_id",
        key: "i.url_key",
        cast: None,
        rest: None,
        order: None,
        first_per: None,
    });
    // A fingerprint is shared by every copy of a headline: the first item per story is chosen before
    // its story is looked up, so each story is read once, not once per copy.
    let first_items = tx.by_keys(KeyedSelect {
        columns: "i.story_id, i.source_id, i.url_key, i.title_fp, i.id",
        from: "items i",
        key: "i.title_fp",
        cast: None,
        rest: Some("i.source_id <> ?2"),
        order: None,
        first_per: Some(("i.story_id", "i.id")),
    });
    [
        by_url,
        format!(
            "SELECT c.story_id, c.source_id, c.url_key, c.title_fp, s.event_lo, s.event_hi, c.id
             FROM ({first_items}) AS c JOIN stories s ON s.id = c.story_id"
        ),
    ]
}

/// A candidate from a row of [`candidate_statements`].
fn candidate_row(r: &dyn Row) -> Result<Candidate, StoreError> {
    Ok(Candidate {
        item_id: r.int(6)?,
        story_id: r.int(0)?,
        source_id: r.int(1)?,
        url_key: r.opt_text(2)?,
        title_fp: r.text(3)?,
        story_span: (from_ms(r.int(4)?), from_ms(r.int(5)?)),
    })
}

impl Candidates {
    fn empty() -> Candidates {
        Candidates {
            by_url: HashMap::new(),
            by_fp: HashMap::new(),
            spans: HashMap::new(),
            read_spans: HashMap::new(),
        }
    }

    /// `url_keys` and `fingerprints`: the new entries' (fingerprints only where titles are matched).
    pub(super) fn read(
        tx: &mut Conn<'_>,
        source_id: i64,
        url_keys: &[&str],
        fingerprints: &[&str],
    ) -> Result<Candidates, StoreError> {
        let mut out = Candidates::empty();
        let [by_url, by_fp] = candidate_statements(tx);
        if !url_keys.is_empty() {
            let list = serde_json::to_string(url_keys).unwrap_or_else(|_| "[]".into());
            for c in tx.query(&by_url, &[list.as_str().into()], candidate_row)? {
                out.add_to(c, true);
            }
        }
        if !fingerprints.is_empty() {
            let list = serde_json::to_string(fingerprints).unwrap_or_else(|_| "[]".into());
            let params = [list.as_str().into(), source_id.into()];
            for c in tx.query(&by_fp, &params, candidate_row)? {
                out.add_to(c, false);
            }
        }
        Ok(out)
    }

    /// From the rows of [`candidate_statements`] read ahead for more keys than the new entries' (for
    /// all entries, before it was known which are new): those of `url_keys` and `fingerprints` only,
    /// as [`Candidates::read`] would have read them.
    pub(super) fn of_rows<R: Row>(
        by_url: &[R],
        by_fp: &[R],
        url_keys: &[&str],
        fingerprints: &[&str],
    ) -> Result<Candidates, StoreError> {
        let mut out = Candidates::empty();
        for (rows, keys, is_url) in [(by_url, url_keys, true), (by_fp, fingerprints, false)] {
            for r in rows {
                let c = candidate_row(r)?;
                let key = if is_url {
                    c.url_key.as_deref().unwrap_or_default()
                } else {
                    c.title_fp.as_str()
                };
                if keys.contains(&key) {
                    out.add_to(c, is_url);
                }
            }
        }
        Ok(out)
    }

    fn add_to(&mut self, c: Candidate, by_url: bool) {
        self.read_spans.insert(c.story_id, c.story_span);
        let (map, key) = if by_url {
            (&mut self.by_url, c.url_key.clone().unwrap_or_default())
        } else {
            (&mut self.by_fp, c.title_fp.clone())
        };
        map.entry(key).or_default().push(c);
    }

    /// An item this refresh wrote, as a URL candidate for the entries after it (as the refresh's own
    /// source's, it is no title candidate). A stored item's new copy replaces the one read; its story's
    /// span is the one read where known, and as [`Candidates::widen`] keeps it.
    pub(super) fn add(&mut self, mut c: Candidate) {
        for list in self.by_url.values_mut() {
            list.retain(|old| old.item_id != c.item_id);
        }
        if let Some(&span) = self.read_spans.get(&c.story_id) {
            c.story_span = span;
        }
        if c.url_key.is_some() {
            self.add_to(c, true);
        }
    }

    /// A story's event span now takes in `event` (ms): a new story's, or a joined one's.
    pub(super) fn widen(&mut self, story_id: i64, event: i64) {
        let span = self.spans.entry(story_id).or_insert((event, event));
        span.0 = span.0.min(event);
        span.1 = span.1.max(event);
    }

    /// The candidates for an entry: the items with its URL key and those with its fingerprint
    /// ([`dedupe::exact_match`] picks among them), with their stories' spans as they stand.
    pub(super) fn of(&self, item: &Incoming<'_>, title_dedupe: bool) -> Vec<Candidate> {
        let by_url = item.url_key.and_then(|k| self.by_url.get(k));
        let by_fp = (title_dedupe && !item.title_fp.is_empty())
            .then(|| self.by_fp.get(item.title_fp))
            .flatten();
        by_url
            .into_iter()
            .chain(by_fp)
            .flatten()
            .map(|c| {
                let mut c = c.clone();
                if let Some(&(lo, hi)) = self.spans.get(&c.story_id) {
                    c.story_span = (
                        c.story_span.0.min(from_ms(lo)),
                        c.story_span.1.max(from_ms(hi)),
                    );
                }
                c
            })
            .collect()
    }
}
