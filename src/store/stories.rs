//! Items, stories and their sections: applying a refresh, and reading stories back for rendering.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::ALL_SECTION;

use crate::dedupe::Veto;
use crate::tag::rules::Origin;

use super::sql::{Conn, Row};
use super::{Store, StoreError, from_ms, to_ms};

/// The order of a story's items; the first is the representative. Earliest seen first; among items seen
/// in the same poll, the earliest published, then the source listed first in the config (so the choice
/// does not depend on which server answered first).
pub(super) const ITEM_ORDER: &str =
    "i.first_seen, COALESCE(i.published, i.first_seen), i.source_id, i.id";

/// A story as rendered: its items, earliest (the representative) first.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub id: i64,
    pub uid: String,
    pub first_seen: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub sections: Vec<String>,
    /// Why each section applies (same order as `sections`): "source:NAME", "keyword:WORDS", ...
    pub section_origins: Vec<Origin>,
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
    /// The item's picture (see [`crate::model::Item::image`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
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
    /// The veto (in words, "different places: chile / japan", when shown or serialized).
    pub reason: Veto,
    /// The similarity score it had reached.
    pub score: Option<f64>,
    /// The stored item it resembled: its source and title.
    pub matched_source: Option<String>,
    pub matched_title: Option<String>,
}

pub(super) type StoryRow = (i64, String, i64);

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

    /// The story's picture, for a thumbnail: the lead's, else the first item's that has one.
    pub fn image(&self) -> Option<&str> {
        self.items.iter().find_map(|i| i.image.as_deref())
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
        let page = (limit, offset, top);
        self.with(|c| stories_query(c, section, page))
    }

    /// The newest story's id: grows by one per story stored, and costs one index lookup (where a
    /// count reads the whole table), so "stories stored since" is a subtraction.
    pub fn last_story_id(&self) -> Result<i64, StoreError> {
        self.with(last_story_id)
    }

    /// Stored section tags by kind of origin ("source", "category", "path", "keyword", "regex",
    /// "learned").
    pub fn tags_by_origin(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(tags_by_origin)
    }

    /// Counts of (items, stories), for summaries and tests.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.with(counts)
    }

    /// Every stored item's story by the item's own id (guid), for evaluations that label items by it.
    pub fn stories_by_guid(&self) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let rows = self.with(|c| {
            c.query(
                "SELECT guid, story_id FROM items WHERE guid IS NOT NULL",
                &[],
                |r| Ok((r.text(0)?, r.int(1)?)),
            )
        })?;
        Ok(rows.into_iter().collect())
    }
}

// The functions behind those methods, on either engine (see `sql::Conn`).

/// One page of stories (newest first, or by how many sources reported them for a top view), each
/// with its items and sections; `page`: (limit, offset, top view).
pub(super) fn stories_query(
    conn: &mut Conn<'_>,
    section: Option<&str>,
    (limit, offset, top): (usize, usize, Option<TopQuery>),
) -> Result<Vec<Story>, StoreError> {
    let section = section.filter(|s| *s != ALL_SECTION);
    let ids = story_ids(conn, section, limit, offset, top)?;
    stories_of(conn, ids)
}

/// The stories `ids` names, in that order, each with its items and sections (one that lost all its
/// items is left out).
pub(super) fn stories_of(
    conn: &mut Conn<'_>,
    ids: Vec<StoryRow>,
) -> Result<Vec<Story>, StoreError> {
    let items_sql = format!(
        "SELECT src.name, i.title, i.url, i.summary, i.content, i.author, i.categories,
                i.published, i.first_seen, i.match_reason, i.match_score, msrc.name, m.title,
                i.changed_at, i.enclosures, i.miss_reason, i.miss_score, xsrc.name, x.title, i.image
         FROM items i JOIN sources src ON src.id = i.source_id
         LEFT JOIN items m ON m.id = i.match_item
         LEFT JOIN sources msrc ON msrc.id = m.source_id
         LEFT JOIN items x ON x.id = i.miss_item
         LEFT JOIN sources xsrc ON xsrc.id = x.source_id
         WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER}"
    );
    let mut out = Vec::with_capacity(ids.len());
    for (id, uid, first_seen) in ids {
        // When the story last changed: the latest refresh that added or changed one of its items
        // (kept with the items, so a join writes no story row).
        let mut updated = first_seen;
        let items = conn.query(&items_sql, &[id.into()], |r| {
            updated = updated.max(r.int(13)?);
            story_item(r)
        })?;
        if items.is_empty() {
            continue;
        }
        let tags = conn.query(
            "SELECT section, origin FROM story_sections WHERE story_id = ?1 ORDER BY section",
            &[id.into()],
            |r| Ok((r.text(0)?, decode_origin(r.text(1)?)?)),
        )?;
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

pub(super) fn last_story_id(conn: &mut Conn<'_>) -> Result<i64, StoreError> {
    let id = conn.query_opt("SELECT COALESCE(MAX(id), 0) FROM stories", &[], |r| {
        r.int(0)
    })?;
    Ok(id.unwrap_or(0))
}

pub(super) fn tags_by_origin(conn: &mut Conn<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    // The origin's kind is the text before its first ':' (SQLite has instr, PostgreSQL split_part).
    let kind = if conn.is_postgres() {
        "split_part(origin, ':', 1)"
    } else {
        "substr(origin, 1, instr(origin, ':') - 1)"
    };
    conn.query(
        &format!("SELECT {kind} AS kind, COUNT(*) FROM story_sections GROUP BY kind ORDER BY kind"),
        &[],
        |r| Ok((r.text(0)?, r.int(1)?)),
    )
}

pub(super) fn counts(conn: &mut Conn<'_>) -> Result<(i64, i64), StoreError> {
    let counts = conn.query_opt(
        "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM stories)",
        &[],
        |r| Ok((r.int(0)?, r.int(1)?)),
    )?;
    Ok(counts.unwrap_or_default())
}

/// The (id, uid, first seen) of one page of stories, optionally of one section: newest first, or for a
/// top view ranked by how many sources reported them within its period.
fn story_ids(
    conn: &mut Conn<'_>,
    section: Option<&str>,
    limit: usize,
    offset: usize,
    top: Option<TopQuery>,
) -> Result<Vec<StoryRow>, StoreError> {
    let filter = if section.is_some() {
        "JOIN story_sections ss ON ss.story_id = s.id AND ss.section = ?1"
    } else {
        "WHERE CAST(?1 AS TEXT) IS NULL"
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
    conn.query(
        &sql,
        &[
            section.into(),
            (limit as i64).into(),
            since.into(),
            (offset as i64).into(),
        ],
        |r| Ok((r.int(0)?, r.text(1)?, r.int(2)?)),
    )
}

/// One row of the story items query as a [`StoryItem`]; an unknown stored join reason or refusal is
/// an error.
fn story_item(r: &dyn Row) -> Result<StoryItem, StoreError> {
    let reason = JoinReason::parse_stored(&r.text(9)?)?;
    Ok(StoryItem {
        source: r.text(0)?,
        title: r.text(1)?,
        url: r.opt_text(2)?,
        summary: r.text(3)?,
        content_html: r.opt_text(4)?,
        author: r.opt_text(5)?,
        categories: serde_json::from_str(&r.text(6)?).unwrap_or_default(),
        enclosures: serde_json::from_str(&r.text(14)?).unwrap_or_default(),
        image: r.opt_text(19)?,
        published: r.opt_int(7)?.map(from_ms),
        first_seen: from_ms(r.int(8)?),
        joined: reason
            .map(|reason| -> Result<JoinInfo, StoreError> {
                Ok(JoinInfo {
                    reason,
                    score: r.opt_real(10)?,
                    matched_source: r.opt_text(11)?,
                    matched_title: r.opt_text(12)?,
                })
            })
            .transpose()?,
        refused: r
            .opt_text(15)?
            .map(|text| -> Result<RefusalInfo, StoreError> {
                Ok(RefusalInfo {
                    reason: refusal(&text)?,
                    score: r.opt_real(16)?,
                    matched_source: r.opt_text(17)?,
                    matched_title: r.opt_text(18)?,
                })
            })
            .transpose()?,
    })
}

/// A stored refusal (`items.miss_reason`) parsed; an unknown form is an error naming the known ones.
fn refusal(text: &str) -> Result<Veto, StoreError> {
    Veto::parse_stored(text).ok_or_else(|| {
        UnknownValue {
            column: "items.miss_reason",
            value: text.to_string(),
            known: "different places|names|figures|days: OURS / THEIRS",
        }
        .into()
    })
}

/// A stored origin parsed, on either engine.
pub(super) fn decode_origin(text: String) -> Result<Origin, StoreError> {
    Origin::decode(&text).ok_or_else(|| unknown_origin(text).into())
}

fn unknown_origin(value: String) -> UnknownValue {
    UnknownValue {
        column: "story_sections.origin",
        value,
        known: Origin::KINDS,
    }
}
