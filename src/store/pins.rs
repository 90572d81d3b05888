//! Editors' pins: the stories of the "Must-reads" list and feeds, newest pin first, each until its pin
//! expires or is removed. Pins are written by the command line only (nothing served over HTTP changes
//! them); retention keeps a story while its pin holds.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sql::Conn;
use super::stories::{ITEM_ORDER, Story, StoryRow, stories_of};
use super::{Store, StoreError, from_ms, to_ms};

/// One pin, with its story's lead title.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pin {
    pub story_id: i64,
    pub uid: String,
    pub title: String,
    pub pinned_at: DateTime<Utc>,
    /// When it stops being listed (`None`: until removed).
    pub until: Option<DateTime<Utc>>,
    pub note: String,
}

impl Pin {
    /// Whether the pin still lists its story at `now`.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|u| u > now)
    }
}

/// A story's lead title (its first item's, in story order).
fn lead_title() -> String {
    format!("(SELECT i.title FROM items i WHERE i.story_id = s.id ORDER BY {ITEM_ORDER} LIMIT 1)")
}

impl Store {
    /// A story by its id (as `syndic stories --json` prints it) or its uid: `(id, uid, lead title)`.
    pub fn find_story(&self, key: &str) -> Result<Option<(i64, String, String)>, StoreError> {
        let id: i64 = key.trim().parse().unwrap_or(-1);
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT s.id, s.uid, COALESCE({}, '') FROM stories s
                     WHERE s.id = ?1 OR s.uid = ?2",
                    lead_title()
                ),
                &[id.into(), key.trim().into()],
                |r| Ok((r.int(0)?, r.text(1)?, r.text(2)?)),
            )
        })
    }

    /// Pins a story at `now`, until `until` (`None`: until unpinned), with an editor's note; pinning
    /// it again replaces its pin (and makes it the newest).
    pub fn pin(
        &self,
        story_id: i64,
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        note: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.exec(
                "INSERT INTO pins (story_id, pinned_at, until, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (story_id) DO UPDATE SET
                    pinned_at = excluded.pinned_at, until = excluded.until, note = excluded.note",
                &[
                    story_id.into(),
                    to_ms(now).into(),
                    until.map(to_ms).into(),
                    note.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// Removes a story's pin; whether it had one.
    pub fn unpin(&self, story_id: i64) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.exec("DELETE FROM pins WHERE story_id = ?1", &[story_id.into()])? > 0))
    }

    /// Every pin, live or expired, newest first.
    pub fn pins(&self) -> Result<Vec<Pin>, StoreError> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT p.story_id, s.uid, COALESCE({}, ''), p.pinned_at, p.until, p.note
                     FROM pins p JOIN stories s ON s.id = p.story_id
                     ORDER BY p.pinned_at DESC, p.story_id DESC",
                    lead_title()
                ),
                &[],
                |r| {
                    Ok(Pin {
                        story_id: r.int(0)?,
                        uid: r.text(1)?,
                        title: r.text(2)?,
                        pinned_at: from_ms(r.int(3)?),
                        until: r.opt_int(4)?.map(from_ms),
                        note: r.text(5)?,
                    })
                },
            )
        })
    }

    /// The stories pinned at `now` (pins not expired), newest pin first, at most `limit`, each with
    /// its pin's note.
    pub fn pinned_stories(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Story, String)>, StoreError> {
        self.with(|c| pinned_stories(c, now, limit))
    }
}

fn pinned_stories(
    conn: &mut Conn<'_>,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(Story, String)>, StoreError> {
    let mut notes = std::collections::HashMap::new();
    let ids: Vec<StoryRow> = conn.query(
        "SELECT s.id, s.uid, s.first_seen, p.note FROM pins p JOIN stories s ON s.id = p.story_id
         WHERE p.until IS NULL OR p.until > ?1
         ORDER BY p.pinned_at DESC, p.story_id DESC LIMIT ?2",
        &[to_ms(now).into(), (limit as i64).into()],
        |r| {
            notes.insert(r.int(0)?, r.text(3)?);
            Ok((r.int(0)?, r.text(1)?, r.int(2)?))
        },
    )?;
    Ok(stories_of(conn, ids)?
        .into_iter()
        .map(|s| {
            let note = notes.remove(&s.id).unwrap_or_default();
            (s, note)
        })
        .collect())
}
