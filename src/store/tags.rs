//! Story sections: recomputed from a story's items when it changes, and for recent stories after the
//! section rules change.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::config::ALL_SECTION;
use crate::tag::rules::{ItemText, Origin, Tagger};

use super::sql::{Conn, JsonRows, KeyedSelect, Row, TextRow, json_field};
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

    /// [`Store::retag_since`], and re-scores every story the learned tagger put in a section,
    /// whatever its age (after a new model is installed, or the tagger turned off or kept off a
    /// section): no learned tag is left from a model that is no longer in use. Each story is retagged
    /// once. Returns the sections whose feeds changed.
    pub fn retag_since_and_learned(
        &self,
        since: DateTime<Utc>,
        tagger: &Tagger,
    ) -> Result<BTreeSet<String>, StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                super::index::serialize_with_applies(tx)?;
                retag_recent_and_learned(tx, since, tagger)
            })
        })
    }

    /// [`Store::retag_since_and_learned`] for a config that tags stories as `fingerprint` says (a
    /// number standing for everything that decides a story's sections, worked out by
    /// `service::startup::tagging_fingerprint`), unless the last retag was for the same one: `None`
    /// then, and nothing is rewritten. The fingerprint is stored in the retag's transaction (on
    /// PostgreSQL under the apply lock: of nodes starting together with one config, one retags).
    pub fn retag_unless_tagged_by(
        &self,
        since: DateTime<Utc>,
        tagger: &Tagger,
        fingerprint: i64,
    ) -> Result<Option<BTreeSet<String>>, StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                super::index::serialize_with_applies(tx)?;
                let last =
                    tx.query_opt("SELECT value FROM meta WHERE key = 'tagged_by'", &[], |r| {
                        r.int(0)
                    })?;
                if last == Some(fingerprint) {
                    return Ok(None);
                }
                let changed = retag_recent_and_learned(tx, since, tagger)?;
                tx.exec(
                    "INSERT INTO meta (key, value) VALUES ('tagged_by', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[fingerprint.into()],
                )?;
                Ok(Some(changed))
            })
        })
    }
}

/// Inside a refresh's transaction: clears the mark of the last retag's tagging fingerprint
/// ([`Store::retag_unless_tagged_by`]) unless it is `fingerprint`, the one the refresh's stories are
/// tagged by: stories tagged otherwise are stored, so the next start or reload must retag. On
/// PostgreSQL the statement goes with the commit (no round trip of its own).
pub(super) fn unmark_other_tagging(tx: &mut Conn<'_>, fingerprint: i64) -> Result<(), StoreError> {
    tx.exec_at_commit(
        "DELETE FROM meta WHERE key = 'tagged_by' AND value <> ?1",
        &[fingerprint.into()],
    )
}

/// The stories first seen since `since` and those with a learned section, retagged (inside a
/// transaction that holds the apply lock).
fn retag_recent_and_learned(
    tx: &mut Conn<'_>,
    since: DateTime<Utc>,
    tagger: &Tagger,
) -> Result<BTreeSet<String>, StoreError> {
    let ids = tx.query(
        "SELECT id FROM stories WHERE first_seen >= ?1
         UNION SELECT story_id FROM story_sections WHERE origin LIKE 'learned:%'
         ORDER BY 1",
        &[to_ms(since).into()],
        |r| r.int(0),
    )?;
    retag_ids(tx, &ids, tagger)
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
        retag_ids(tx, &ids, tagger)
    })
}

/// Retags stories in chunks of [`RETAG_CHUNK`]; returns the sections whose feeds changed.
fn retag_ids(
    tx: &mut Conn<'_>,
    ids: &[i64],
    tagger: &Tagger,
) -> Result<BTreeSet<String>, StoreError> {
    let mut changed = BTreeSet::new();
    for chunk in ids.chunks(RETAG_CHUNK) {
        for (before, after) in retag(tx, chunk, tagger)? {
            if before != after {
                changed.extend(before.into_iter().chain(after));
                changed.insert(ALL_SECTION.to_string());
            }
        }
    }
    Ok(changed)
}

/// Sections before and after a retag.
pub(super) type Retagged = (Vec<String>, Vec<String>);

/// Stories retagged by one [`retag`] (a statement's key list).
const RETAG_CHUNK: usize = 100;

/// Recomputes stories' sections from all their items; returns each one's sections before and after, in
/// the order of `story_ids`. Reads the items of all of them in one statement and their sections in
/// another, and rewrites the sections of those that changed in two more.
pub(super) fn retag(
    tx: &mut Conn<'_>,
    story_ids: &[i64],
    tagger: &Tagger,
) -> Result<Vec<Retagged>, StoreError> {
    if story_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(story_ids).unwrap_or_else(|_| "[]".into());
    // The items by story, each story's in its order: ITEM_ORDER's four columns follow the story id.
    let columns =
        format!("i.story_id, {ITEM_ORDER}, src.name, i.title, i.summary, i.url, i.categories");
    let sql = tx.by_keys(KeyedSelect {
        columns: &columns,
        from: "items i JOIN sources src ON src.id = i.source_id",
        key: "i.story_id",
        cast: Some("BIGINT"),
        rest: None,
        order: Some("1, 2, 3, 4, 5"),
        first_per: None,
    });
    let mut items: HashMap<i64, Vec<StoredText>> = HashMap::new();
    for (id, text) in tx.query(&sql, &[list.as_str().into()], |r| {
        let categories: Vec<String> = serde_json::from_str(&r.text(9)?).unwrap_or_default();
        Ok((
            r.int(0)?,
            StoredText {
                source_name: r.text(5)?,
                title: r.text(6)?,
                summary: r.text(7)?,
                url: r.opt_text(8)?,
                categories,
            },
        ))
    })? {
        items.entry(id).or_default().push(text);
    }
    let mut old = sections_of(tx, story_ids)?;
    let mut changed = Vec::new();
    let mut writes = JsonRows::default();
    let mut out = Vec::with_capacity(story_ids.len());
    for id in story_ids {
        let texts: Vec<ItemText<'_>> = items
            .get(id)
            .map(|v| v.iter().map(StoredText::as_item_text).collect())
            .unwrap_or_default();
        let new: Vec<(String, Origin)> = tagger.tag(&texts).into_iter().collect();
        let old = old.remove(id).unwrap_or_default();
        if old != new {
            changed.push(*id);
            for (section, origin) in &new {
                writes.push(&[
                    (*id).into(),
                    section.as_str().into(),
                    origin.encode().as_str().into(),
                ]);
            }
        }
        let names = |v: Vec<(String, Origin)>| v.into_iter().map(|(s, _)| s).collect();
        out.push((names(old), names(new)));
    }
    if !changed.is_empty() {
        let list = serde_json::to_string(&changed).unwrap_or_else(|_| "[]".into());
        tx.exec(
            &format!(
                "DELETE FROM story_sections WHERE story_id IN {}",
                tx.json_values(1, Some("BIGINT"))
            ),
            &[list.as_str().into()],
        )?;
    }
    write_sections(tx, writes, false)?;
    Ok(out)
}

/// A stored item's text, as the tagger reads it.
struct StoredText {
    source_name: String,
    title: String,
    summary: String,
    url: Option<String>,
    categories: Vec<String>,
}

impl StoredText {
    fn as_item_text(&self) -> ItemText<'_> {
        ItemText {
            source_name: &self.source_name,
            title: &self.title,
            summary: &self.summary,
            url: self.url.as_deref(),
            categories: &self.categories,
        }
    }
}

/// Stories' stored (section, origin) pairs, each story's by section.
pub(super) type StoredSections = HashMap<i64, Vec<(String, Origin)>>;

/// Stories' stored (section, origin) pairs (one statement).
pub(super) fn sections_of(
    tx: &mut Conn<'_>,
    story_ids: &[i64],
) -> Result<StoredSections, StoreError> {
    if story_ids.is_empty() {
        return Ok(StoredSections::new());
    }
    let list = serde_json::to_string(story_ids).unwrap_or_else(|_| "[]".into());
    let rows = tx.query(&sections_sql(tx), &[list.as_str().into()], section_row)?;
    Ok(collect_sections(rows))
}

/// The statement [`sections_of`] runs (`?1`: the story ids as a JSON list), for a caller that sends it
/// among others ([`sql::Read`](super::sql::Read)); its rows are read by [`sections_of_rows`].
pub(super) fn sections_sql(tx: &Conn<'_>) -> String {
    tx.by_keys(KeyedSelect {
        columns: "story_id, section, origin",
        from: "story_sections",
        key: "story_id",
        cast: Some("BIGINT"),
        rest: None,
        order: Some("1, 2"),
        first_per: None,
    })
}

/// The rows of a [`sections_sql`] sent ahead.
pub(super) fn sections_of_rows(rows: &[TextRow]) -> Result<StoredSections, StoreError> {
    let rows = rows
        .iter()
        .map(|r| section_row(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(collect_sections(rows))
}

fn section_row(r: &dyn Row) -> Result<(i64, String, Origin), StoreError> {
    Ok((r.int(0)?, r.text(1)?, decode_origin(r.text(2)?)?))
}

fn collect_sections(rows: Vec<(i64, String, Origin)>) -> StoredSections {
    let mut out = StoredSections::new();
    for (id, section, origin) in rows {
        out.entry(id).or_default().push((section, origin));
    }
    out
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
///
/// `stored`: the stored sections of the stories not `fresh`, when they were read ahead (else they are
/// read here).
pub(super) fn extend_tags(
    tx: &mut Conn<'_>,
    tagger: &Tagger,
    stories: &[StoryTexts<'_>],
    stored: Option<StoredSections>,
) -> Result<Vec<Retagged>, StoreError> {
    let mut old = match stored {
        Some(old) => old,
        None => sections_of(tx, &stored_stories(stories))?,
    };
    let mut writes = JsonRows::default();
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
                writes.push(&[
                    story.story_id.into(),
                    section.as_str().into(),
                    origin.encode().as_str().into(),
                ]);
                after.insert(section);
            }
        }
        let before = old.into_iter().map(|(s, _)| s).collect();
        out.push((before, after.into_iter().collect()));
    }
    // The last statement of a refresh's tagging: nothing after it in the transaction reads them.
    write_sections(tx, writes, true)?;
    Ok(out)
}

/// The stories of `stories` that have stored sections to read (those not `fresh`).
fn stored_stories(stories: &[StoryTexts<'_>]) -> Vec<i64> {
    stories
        .iter()
        .filter(|s| !s.fresh)
        .map(|s| s.story_id)
        .collect()
}

/// Writes (story id, section, origin) rows, replacing a story's origin for a section
/// it has; with the commit when `at_commit` ([`Conn::exec_at_commit`]).
fn write_sections(
    tx: &mut Conn<'_>,
    mut writes: JsonRows,
    at_commit: bool,
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
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
    let rows = writes.take();
    if at_commit {
        tx.exec_at_commit(&sql, &[rows.as_str().into()])
    } else {
        tx.exec(&sql, &[rows.as_str().into()]).map(drop)
    }
}
