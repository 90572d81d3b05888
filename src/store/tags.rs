//! Story sections: recomputed from a story's items when it changes, and for recent stories after the
//! section rules change.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::config::ALL_SECTION;
use crate::tag::rules::{ItemText, Origin, Tagger};

use super::stories::{ITEM_ORDER, origin_at};
use super::{Store, StoreError, to_ms};

impl Store {
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
}

/// Sections before and after a retag.
pub(super) type Retagged = (Vec<String>, Vec<String>);

/// Recomputes a story's sections from all its items; returns its sections before and after.
pub(super) fn retag(
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
    let new: Vec<(String, Origin)> = tagger.tag(&texts).into_iter().collect();
    let old = sections_of(tx, story_id)?;
    if old != new {
        tx.prepare_cached("DELETE FROM story_sections WHERE story_id = ?1")?
            .execute([story_id])?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO story_sections (story_id, section, origin) VALUES (?1, ?2, ?3)",
        )?;
        for (section, origin) in &new {
            ins.execute(params![story_id, section, origin.encode()])?;
        }
    }
    let names = |v: Vec<(String, Origin)>| v.into_iter().map(|(s, _)| s).collect();
    Ok((names(old), names(new)))
}

/// A story's stored (section, origin) pairs, by section.
pub(super) fn sections_of(
    tx: &rusqlite::Connection,
    story_id: i64,
) -> Result<Vec<(String, Origin)>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT section, origin FROM story_sections WHERE story_id = ?1 ORDER BY section",
    )?;
    let rows = stmt.query_map([story_id], |r| Ok((r.get(0)?, origin_at(r, 1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds the sections of a story's new items to the ones it has (a join or a new story: nothing was
/// removed, so nothing needs re-reading). A section found by a rule before that a new item's source
/// gives by default becomes the source's, and one the learned tagger gave becomes a rule's or a
/// source's, as a full retag would make them.
pub(super) fn extend_tags(
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
    let has_sections = old.iter().any(|(_, o)| !o.is_learned());
    for (section, origin) in tagger.tag_story(added, has_sections) {
        let replace = match old.iter().find(|(s, _)| *s == section) {
            None => true,
            Some((_, was)) => match origin {
                Origin::Source(_) => !was.is_source(),
                Origin::Learned(_) => false,
                _ => was.is_learned(),
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
