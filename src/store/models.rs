//! The learned tagger's side of the store: training examples out, trained models in.

use chrono::{DateTime, Utc};

use crate::tag::rules::Origin;

use super::sql::{Conn, Value};
use super::stories::{ITEM_ORDER, decode_origin};
use super::{Store, StoreError, from_ms, to_ms};

/// One stored section of a story that did not come from the learned tagger, with the story's lead text.
#[derive(Debug, Clone)]
pub struct TaggedStory {
    pub story_id: i64,
    pub title: String,
    pub summary: String,
    /// (section, origin), the learned tagger's own tags left out.
    pub sections: Vec<(String, Origin)>,
}

/// A model as stored.
#[derive(Debug, Clone)]
pub struct StoredModel {
    pub trained_at: DateTime<Utc>,
    pub examples: i64,
    /// The newest story id when it was trained.
    pub stories_at: i64,
    pub data: Vec<u8>,
}

impl Store {
    /// The newest `limit` stories that have a section from a source default or a rule, each with its
    /// lead item's title and summary.
    pub fn tagged_stories(&self, limit: usize) -> Result<Vec<TaggedStory>, StoreError> {
        self.with(|c| tagged_stories(c, limit))
    }

    /// Stores (replacing) the model `name`.
    pub fn save_model(
        &self,
        name: &str,
        trained_at: DateTime<Utc>,
        examples: usize,
        stories_at: i64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let model = (name, trained_at, examples, stories_at, data);
        self.with(|c| save_model(c, model))
    }

    /// The stored model `name`, if any.
    pub fn load_model(&self, name: &str) -> Result<Option<StoredModel>, StoreError> {
        self.with(|c| load_model(c, name))
    }
}

// The functions behind those methods, on either engine (see `sql::Conn`).

pub(super) fn tagged_stories(
    conn: &mut Conn<'_>,
    limit: usize,
) -> Result<Vec<TaggedStory>, StoreError> {
    let rows = conn.query(
        "SELECT s.id, ss.section, ss.origin FROM stories s
         JOIN story_sections ss ON ss.story_id = s.id
         WHERE s.id IN (
             SELECT DISTINCT story_id FROM story_sections WHERE origin NOT LIKE 'learned:%'
             ORDER BY story_id DESC LIMIT ?1)
           AND ss.origin NOT LIKE 'learned:%'
         ORDER BY s.id DESC, ss.section",
        &[(limit as i64).into()],
        |r| Ok((r.int(0)?, r.text(1)?, decode_origin(r.text(2)?)?)),
    )?;
    let mut out: Vec<TaggedStory> = Vec::new();
    for (id, section, origin) in rows {
        match out.last_mut() {
            Some(t) if t.story_id == id => t.sections.push((section, origin)),
            _ => out.push(TaggedStory {
                story_id: id,
                title: String::new(),
                summary: String::new(),
                sections: vec![(section, origin)],
            }),
        }
    }
    let lead = format!(
        "SELECT i.title, i.summary FROM items i WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER} LIMIT 1"
    );
    for t in &mut out {
        if let Some((title, summary)) = conn.query_opt(&lead, &[t.story_id.into()], |r| {
            Ok((r.text(0)?, r.text(1)?))
        })? {
            t.title = title;
            t.summary = summary;
        }
    }
    Ok(out)
}

/// A model to store: name, when trained, examples, the newest story id then, its bytes.
type NewModel<'a> = (&'a str, DateTime<Utc>, usize, i64, &'a [u8]);

pub(super) fn save_model(conn: &mut Conn<'_>, model: NewModel<'_>) -> Result<(), StoreError> {
    let (name, trained_at, examples, stories_at, data) = model;
    conn.exec(
        "INSERT INTO models (name, trained_at, examples, stories_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET trained_at = excluded.trained_at,
             examples = excluded.examples, stories_at = excluded.stories_at, data = excluded.data",
        &[
            name.into(),
            to_ms(trained_at).into(),
            (examples as i64).into(),
            stories_at.into(),
            Value::Bytes(data),
        ],
    )?;
    Ok(())
}

pub(super) fn load_model(
    conn: &mut Conn<'_>,
    name: &str,
) -> Result<Option<StoredModel>, StoreError> {
    conn.query_opt(
        "SELECT trained_at, examples, stories_at, data FROM models WHERE name = ?1",
        &[name.into()],
        |r| {
            Ok(StoredModel {
                trained_at: from_ms(r.int(0)?),
                examples: r.int(1)?,
                stories_at: r.int(2)?,
                data: r.bytes(3)?,
            })
        },
    )
}
