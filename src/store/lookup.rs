//! What the dedupe decision needs from the store, read inside the refresh's transaction: the stored
//! copy of an entry, the stories with the same URL or title fingerprint, and the similar stories' stored
//! event spans.

use crate::dedupe::{
    self, Candidate, Incoming, Policy, Similar, TitleIndex, TitleProbe, VetoRules,
};
use std::collections::{HashMap, HashSet};

use crate::model::Item;

use super::sql::{Conn, Row};
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
            published: item.published.map(to_ms),
            updated: item.updated.map(to_ms),
        }
    }
}

/// The index's best similar stories for an incoming item, with the titles the veto reads: the matched
/// representative's and the story's first.
pub(super) fn similar_stories(
    tx: &mut Conn<'_>,
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
                              published, updated, id, title_rep, enclosures";

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
    pub(super) fn read(
        tx: &mut Conn<'_>,
        source_id: i64,
        keys: &[&str],
    ) -> Result<Prefetched, StoreError> {
        let list = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        // The keys as one JSON array: a parameter both engines take.
        let among = if tx.is_postgres() {
            "(SELECT json_array_elements_text(?2::text::json))"
        } else {
            "(SELECT value FROM json_each(?2))"
        };
        let stored: HashMap<String, Stored> = tx
            .query(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM items WHERE source_id = ?1 AND key IN {among}"
                ),
                &[source_id.into(), list.as_str().into()],
                stored_row,
            )?
            .into_iter()
            .collect();
        let tombstoned = if stored.len() < keys.len() {
            tx.query(
                &format!("SELECT key FROM tombstones WHERE source_id = ?1 AND key IN {among}"),
                &[source_id.into(), list.as_str().into()],
                |r| r.text(0),
            )?
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

/// Stored items sharing the URL key, or (in a story the item's event time fits) the title fingerprint.
pub(super) fn candidates(
    tx: &mut Conn<'_>,
    item: &Incoming<'_>,
    title_dedupe: bool,
    window: chrono::Duration,
) -> Result<Vec<Candidate>, StoreError> {
    // Only what `dedupe::exact_match` can pick: items with the same URL (any source), else items of
    // other sources with the same fingerprint in a story within the window of the item's event time.
    // (No ORDER BY: it would tempt the planner into walking stories by date instead of using the item
    // indexes.)
    let map = |r: &dyn Row| {
        Ok(Candidate {
            item_id: r.int(6)?,
            story_id: r.int(0)?,
            source_id: r.int(1)?,
            url_key: r.opt_text(2)?,
            title_fp: r.text(3)?,
            story_span: (from_ms(r.int(4)?), from_ms(r.int(5)?)),
        })
    };
    if let Some(key) = item.url_key {
        let out = tx.query(
            "SELECT i.story_id, i.source_id, i.url_key, i.title_fp, s.event_lo, s.event_hi, i.id
             FROM items i JOIN stories s ON s.id = i.story_id WHERE i.url_key = ?1",
            &[key.into()],
            map,
        )?;
        if !out.is_empty() {
            return Ok(out);
        }
    }
    if title_dedupe && !item.title_fp.is_empty() {
        return tx.query(
            "SELECT i.story_id, i.source_id, i.url_key, i.title_fp, s.event_lo, s.event_hi, i.id
             FROM items i JOIN stories s ON s.id = i.story_id
             WHERE i.title_fp = ?1 AND s.event_hi >= ?2 AND s.event_lo <= ?3 AND i.source_id <> ?4",
            &[
                item.title_fp.into(),
                to_ms(item.event - window).into(),
                to_ms(item.event + window).into(),
                item.source_id.into(),
            ],
            map,
        );
    }
    Ok(Vec::new())
}
