//! The learned tagger's side of the store: training examples out, trained models in.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::tag::rules::Origin;

use super::stories::{ITEM_ORDER, origin_at};
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
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT s.id, ss.section, ss.origin FROM stories s
             JOIN story_sections ss ON ss.story_id = s.id
             WHERE s.id IN (
                 SELECT DISTINCT story_id FROM story_sections WHERE origin NOT LIKE 'learned:%'
                 ORDER BY story_id DESC LIMIT ?1)
               AND ss.origin NOT LIKE 'learned:%'
             ORDER BY s.id DESC, ss.section",
        )?;
        let mut out: Vec<TaggedStory> = Vec::new();
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                origin_at(r, 2)?,
            ))
        })?;
        for row in rows {
            let (id, section, origin) = row?;
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
        let mut lead = conn.prepare_cached(&format!(
            "SELECT i.title, i.summary FROM items i WHERE i.story_id = ?1 ORDER BY {ITEM_ORDER} LIMIT 1"
        ))?;
        for t in &mut out {
            if let Some((title, summary)) = lead
                .query_row([t.story_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                t.title = title;
                t.summary = summary;
            }
        }
        Ok(out)
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
        self.lock().execute(
            "INSERT OR REPLACE INTO models (name, trained_at, examples, stories_at, data)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, to_ms(trained_at), examples as i64, stories_at, data],
        )?;
        Ok(())
    }

    /// The stored model `name`, if any.
    pub fn load_model(&self, name: &str) -> Result<Option<StoredModel>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT trained_at, examples, stories_at, data FROM models WHERE name = ?1",
                [name],
                |r| {
                    Ok(StoredModel {
                        trained_at: from_ms(r.get(0)?),
                        examples: r.get(1)?,
                        stories_at: r.get(2)?,
                        data: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}
