//! Story sections: recomputed from a story's items when it changes, and for recent stories after the
//! section rules change.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::config::ALL_SECTION;
use crate::tag::rules::{ItemText, Origin, Tagger};

use super::sql::{Conn, KeyedSelect, json_field, json_row};
use super::stories::{ITEM_ORDER, decode_origin};
use super::{Store, StoreError, to_ms};

impl Store {
    /// Re-applies the section rules to every story first seen since `since` (after a config change:
    /// new keywords, a source's sections edited). Returns the sections whose feeds changed.
    pub fn retag_since(
        &self,
        since: DateTime<Utc>,
        tagger: &Tagger,
    ) -> Result<BTreeSet<String>, StoreError> {
        self.with(|c| retag_since(c, since, tagger))
    }
}

// The functions behind it and the refresh's tagging, on either engine (see `sql::Conn`).

pub(super) fn retag_since(
    conn: &mut Conn<'_>,
    since: DateTime<Utc>,
    tagger: &Tagger,
) -> Result<BTreeSet<String>, StoreError> {
    conn.transaction(|tx| {
        super::index::serialize_with_applies(tx)?;
        let ids = tx.query(
            "SELECT id FROM stories WHERE first_seen >= ?1",
            &[to_ms(since).into()],
            |r| r.int(0),
        )?;
        let mut changed = BTreeSet::new();
        for id in ids {
            let (before, after) = retag(tx, id, tagger)?;
            if before != after {
                changed.extend(before.into_iter().chain(after));
                changed.insert(ALL_SECTION.to_string());
            }
        }
        Ok(changed)
    })
}

/// Sections before and after a retag.
pub(super) type Retagged = (Vec<String>, Vec<String>);

/// Recomputes a story's sections from all its items; returns its sections before and after.
pub(super) fn retag(
    tx: &mut Conn<'_>,
    story_id: i64,
    tagger: &Tagger,
) -> Result<Retagged, StoreError> {
    let rows = tx.query(
        &format!(
            "SELECT src.name, i.title, i.summary, i.url, i.categories
             FROM items i JOIN sources src ON src.id = i.source_id
             WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER}"
        ),
        &[story_id.into()],
        |r| {
            let categories: Vec<String> = serde_json::from_str(&r.text(4)?).unwrap_or_default();
            Ok((
                r.text(0)?,
                r.text(1)?,
                r.text(2)?,
                r.opt_text(3)?,
                categories,
            ))
        },
    )?;
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
    let new: Vec<(String, Origin)> = tagger.tag(&texts).into_iter().collect();
    let old = sections_of(tx, story_id)?;
    if old != new {
        tx.exec(
            "DELETE FROM story_sections WHERE story_id = ?1",
            &[story_id.into()],
        )?;
        for (section, origin) in &new {
            tx.exec(
                "INSERT INTO story_sections (story_id, section, origin) VALUES (?1, ?2, ?3)",
                &[
                    story_id.into(),
                    section.as_str().into(),
                    origin.encode().as_str().into(),
                ],
            )?;
        }
    }
    let names = |v: Vec<(String, Origin)>| v.into_iter().map(|(s, _)| s).collect();
    Ok((names(old), names(new)))
}

/// A story's stored (section, origin) pairs, by section.
pub(super) fn sections_of(
    tx: &mut Conn<'_>,
    story_id: i64,
) -> Result<Vec<(String, Origin)>, StoreError> {
    tx.query(
        "SELECT section, origin FROM story_sections WHERE story_id = ?1 ORDER BY section",
        &[story_id.into()],
        |r| Ok((r.text(0)?, decode_origin(r.text(1)?)?)),
    )
}

/// A story a refresh added items to, with their texts; `fresh` when the refresh started it (it has no
/// stored sections to read).
pub(super) struct StoryTexts<'a> {
    pub(super) story_id: i64,
    pub(super) fresh: bool,
    pub(super) added: Vec<ItemText<'a>>,
}

/// Adds the sections of stories' new items to the ones they have (a join or a new story: nothing was
/// removed, so nothing needs re-reading): the stored sections of all of them in one statement, the
/// new ones in one more. A section found by a rule before that a new item's source gives by default
/// becomes the source's, and one the learned tagger gave becomes a rule's or a source's, as a full
/// retag would make them. Returns each story's sections before and after, in order.
pub(super) fn extend_tags(
    tx: &mut Conn<'_>,
    tagger: &Tagger,
    stories: &[StoryTexts<'_>],
) -> Result<Vec<Retagged>, StoreError> {
    let stored: Vec<i64> = stories
        .iter()
        .filter(|s| !s.fresh)
        .map(|s| s.story_id)
        .collect();
    let mut old: HashMap<i64, Vec<(String, Origin)>> = HashMap::new();
    if !stored.is_empty() {
        let list = serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into());
        let sql = tx.by_keys(KeyedSelect {
            columns: "story_id, section, origin",
            from: "story_sections",
            key: "story_id",
            cast: Some("BIGINT"),
            rest: None,
            order: Some("1, 2"),
            first_per: None,
        });
        for (id, section, origin) in tx.query(&sql, &[list.as_str().into()], |r| {
            Ok((r.int(0)?, r.text(1)?, decode_origin(r.text(2)?)?))
        })? {
            old.entry(id).or_default().push((section, origin));
        }
    }
    let mut writes = Vec::new();
    let mut out = Vec::with_capacity(stories.len());
    for story in stories {
        let old = old.remove(&story.story_id).unwrap_or_default();
        let mut after: BTreeSet<String> = old.iter().map(|(s, _)| s.clone()).collect();
        let has_sections = old.iter().any(|(_, o)| !o.is_learned());
        for (section, origin) in tagger.tag_story(&story.added, has_sections) {
            let replace = match old.iter().find(|(s, _)| *s == section) {
                None => true,
                Some((_, was)) => match origin {
                    Origin::Source(_) => !was.is_source(),
                    Origin::Learned(_) => false,
                    _ => was.is_learned(),
                },
            };
            if replace {
                writes.push(json_row(&[
                    story.story_id.into(),
                    section.as_str().into(),
                    origin.encode().as_str().into(),
                ]));
                after.insert(section);
            }
        }
        let before = old.into_iter().map(|(s, _)| s).collect();
        out.push((before, after.into_iter().collect()));
    }
    if !writes.is_empty() {
        // `WHERE true`: SQLite reads an ON CONFLICT after a bare FROM as a join's constraint.
        let sql = format!(
            "INSERT INTO story_sections (story_id, section, origin)
             SELECT {}, {}, {} FROM {} WHERE true
             ON CONFLICT (story_id, section) DO UPDATE SET origin = excluded.origin",
            json_field(0, "BIGINT"),
            json_field(1, "TEXT"),
            json_field(2, "TEXT"),
            tx.json_rows(1)
        );
        let rows = serde_json::Value::Array(writes).to_string();
        tx.exec(&sql, &[rows.as_str().into()])?;
    }
    Ok(out)
}
