//! The new rows of one refresh. On SQLite each is written as it is decided (a statement costs a
//! function call). On PostgreSQL, where each statement is a round trip to the server and refreshes
//! take their turns under the apply lock, new stories and items get their ids from the sequences in
//! one statement and are written together before the refresh reads them back (at its end, or when a
//! key comes round twice): a refresh of fifty entries is a handful of statements, not a hundred.
//!
//! What is decided meanwhile sees the queued rows through the refresh's own bookkeeping: the
//! exact-match candidates ([`super::lookup::Candidates`]) hold the new items, and a join to a queued
//! story widens the queued row.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use super::StoreError;
use super::sql::{Conn, JsonRows, Row, Value, json_field};

/// The columns of an item row the refresh writes, with their SQL types, in parameter order.
const ITEM_COLUMNS: [(&str, &str); 27] = [
    ("source_id", "BIGINT"),
    ("key", "TEXT"),
    ("story_id", "BIGINT"),
    ("guid", "TEXT"),
    ("url", "TEXT"),
    ("url_key", "TEXT"),
    ("title", "TEXT"),
    ("title_fp", "TEXT"),
    ("summary", "TEXT"),
    ("content", "TEXT"),
    ("author", "TEXT"),
    ("categories", "TEXT"),
    ("published", "BIGINT"),
    ("updated", "BIGINT"),
    ("first_seen", "BIGINT"),
    ("changed_at", "BIGINT"),
    ("match_reason", "TEXT"),
    ("match_score", "DOUBLE PRECISION"),
    ("match_item", "BIGINT"),
    ("title_rep", "BIGINT"),
    ("enclosures", "TEXT"),
    ("event_at", "BIGINT"),
    ("fp_version", "BIGINT"),
    ("miss_item", "BIGINT"),
    ("miss_score", "DOUBLE PRECISION"),
    ("miss_reason", "TEXT"),
    ("image", "TEXT"),
];

/// An item's parameters, in [`ITEM_COLUMNS`] order.
pub(super) type ItemRow<'a> = [Value<'a>; ITEM_COLUMNS.len()];

/// The columns a stored item's new copy replaces: everything but its story, first-seen time and how it
/// joined.
const UPDATED_COLUMNS: [&str; 16] = [
    "guid",
    "url",
    "url_key",
    "title",
    "title_fp",
    "summary",
    "content",
    "author",
    "categories",
    "enclosures",
    "published",
    "updated",
    "changed_at",
    "title_rep",
    "fp_version",
    "image",
];

/// One item, inserted or (a stored (source, key)) updated in place.
static UPSERT_ITEM: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = ITEM_COLUMNS.iter().map(|(c, _)| *c).collect();
    let params: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let set: Vec<String> = UPDATED_COLUMNS
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO items ({}) VALUES ({}) ON CONFLICT (source_id, key) DO UPDATE SET {}",
        names.join(", "),
        params.join(", "),
        set.join(", ")
    )
});

/// The queued items, each a JSON row of its id and its [`ITEM_COLUMNS`].
fn insert_items_sql(tx: &Conn<'_>, param: usize) -> String {
    let names: Vec<&str> = ITEM_COLUMNS.iter().map(|(c, _)| *c).collect();
    let fields: Vec<String> = ITEM_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| json_field(i + 1, ty))
        .collect();
    format!(
        "INSERT INTO items (id, {}) SELECT {}, {} FROM {}",
        names.join(", "),
        json_field(0, "BIGINT"),
        fields.join(", "),
        tx.json_rows(param)
    )
}

/// The two sequences, as `items` and `stories`.
const SEQUENCES: &str = "CAST(pg_get_serial_sequence('items', 'id') AS regclass) AS items,
                         CAST(pg_get_serial_sequence('stories', 'id') AS regclass) AS stories";

/// Moves both sequences `q.n` past their next value; reads the last id of each block.
const RESERVE: &str = "setval(q.items, nextval(q.items) + q.n - 1),
                       setval(q.stories, nextval(q.stories) + q.n - 1)";

/// PostgreSQL, under the apply lock: reserves ids for a refresh's new entries (`?1` the entry keys as a
/// JSON array, `?2` the source) before reading them, as [`Pending`] would take them at the first new
/// entry: one item id and one story id for each entry neither stored nor deleted by retention. Reads
/// the last id of each block and the block's size; no row (and no id taken) when no entry is new.
pub(super) static RESERVE_FOR_NEW_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {RESERVE}, q.n FROM (SELECT {SEQUENCES},
            (SELECT count(*) FROM json_array_elements_text(?1::text::json) AS k(v)
             WHERE NOT EXISTS (SELECT 1 FROM items WHERE source_id = ?2 AND key = k.v)
               AND NOT EXISTS (SELECT 1 FROM tombstones WHERE source_id = ?2 AND key = k.v)) AS n)
         AS q WHERE q.n > 0"
    )
});

/// A new story's row: id, uid, first seen, published, event span.
struct StoryRow {
    id: i64,
    uid: String,
    first_seen: i64,
    published: i64,
    event_lo: i64,
    event_hi: i64,
}

/// The new rows of one refresh, written as decided (SQLite) or queued (PostgreSQL).
pub(super) struct Pending {
    queue: bool,
    /// Ids taken from the sequences and not yet used, and how many to take when they run out.
    item_ids: Vec<i64>,
    story_ids: Vec<i64>,
    batch: usize,
    stories: Vec<StoryRow>,
    queued_story: HashMap<i64, usize>,
    items: JsonRows,
    /// Stored stories' event spans to widen to these bounds.
    widened: BTreeMap<i64, (i64, i64)>,
}

impl Pending {
    /// `new_entries`: how many entries of the refresh are not stored (at most that many ids are taken).
    pub(super) fn new(tx: &Conn<'_>, new_entries: usize) -> Pending {
        Pending {
            queue: tx.is_postgres(),
            item_ids: Vec::new(),
            story_ids: Vec::new(),
            batch: new_entries.max(1),
            stories: Vec::new(),
            queued_story: HashMap::new(),
            items: JsonRows::default(),
            widened: BTreeMap::new(),
        }
    }

    /// Takes ids for the remaining new entries from both sequences, in one statement: a block of
    /// `batch` numbers each, reserved by moving the sequence past it. Only refreshes take item and
    /// story ids on PostgreSQL, one at a time under the apply lock, so no other transaction draws from
    /// the sequences between the `nextval` and the `setval` (and the ids still grow in the order
    /// entries are applied, as they do on SQLite).
    fn take_ids(&mut self, tx: &mut Conn<'_>) -> Result<(), StoreError> {
        let n = self.batch as i64;
        let (item_last, story_last) = tx
            .query_opt(
                &format!(
                    "SELECT {RESERVE} FROM (SELECT {SEQUENCES}, CAST(?1 AS BIGINT) AS n) AS q"
                ),
                &[n.into()],
                |r| Ok((r.int(0)?, r.int(1)?)),
            )?
            .ok_or_else(|| StoreError::Postgres("no ids from the sequences".into()))?;
        self.reserved(item_last, story_last, n);
        Ok(())
    }

    /// Ids `last - n + 1 ..= last` of each sequence, reserved for this refresh.
    fn reserved(&mut self, item_last: i64, story_last: i64, n: i64) {
        // Used from the smallest (popped from the end).
        self.item_ids.extend((item_last - n + 1..=item_last).rev());
        self.story_ids
            .extend((story_last - n + 1..=story_last).rev());
    }

    /// The ids [`RESERVE_FOR_NEW_ENTRIES`] reserved ahead (its rows: none when no entry is new).
    pub(super) fn take_reserved(&mut self, rows: &[impl Row]) -> Result<(), StoreError> {
        if let Some(r) = rows.first() {
            self.reserved(r.int(0)?, r.int(1)?, r.int(2)?);
        }
        Ok(())
    }

    /// A new story; returns its id.
    pub(super) fn story(
        &mut self,
        tx: &mut Conn<'_>,
        uid: &str,
        first_seen: i64,
        published: i64,
        event: i64,
    ) -> Result<i64, StoreError> {
        if !self.queue {
            // `updated` is not maintained: a story changes when its items do (see `stories_by`).
            return tx.insert_id(
                "INSERT INTO stories (uid, first_seen, published, updated, event_lo, event_hi)
                 VALUES (?1, ?2, ?3, ?2, ?4, ?4)",
                &[
                    uid.into(),
                    first_seen.into(),
                    published.into(),
                    event.into(),
                ],
            );
        }
        if self.story_ids.is_empty() {
            self.take_ids(tx)?;
        }
        let id = self.story_ids.pop().expect("ids were just taken");
        self.queued_story.insert(id, self.stories.len());
        self.stories.push(StoryRow {
            id,
            uid: uid.to_string(),
            first_seen,
            published,
            event_lo: event,
            event_hi: event,
        });
        Ok(id)
    }

    /// Widens a story's event span to take in `event` (written only when it falls outside).
    pub(super) fn widen(
        &mut self,
        tx: &mut Conn<'_>,
        story_id: i64,
        event: i64,
    ) -> Result<(), StoreError> {
        if !self.queue {
            // CASE rather than two-argument MIN/MAX, which PostgreSQL spells LEAST/GREATEST.
            tx.exec(
                "UPDATE stories SET
                    event_lo = CASE WHEN event_lo > ?2 THEN ?2 ELSE event_lo END,
                    event_hi = CASE WHEN event_hi < ?2 THEN ?2 ELSE event_hi END
                 WHERE id = ?1 AND (event_lo > ?2 OR event_hi < ?2)",
                &[story_id.into(), event.into()],
            )?;
            return Ok(());
        }
        let (lo, hi) = match self.queued_story.get(&story_id) {
            Some(&at) => {
                let row = &mut self.stories[at];
                (&mut row.event_lo, &mut row.event_hi)
            }
            None => {
                let span = self.widened.entry(story_id).or_insert((event, event));
                (&mut span.0, &mut span.1)
            }
        };
        *lo = (*lo).min(event);
        *hi = (*hi).max(event);
        Ok(())
    }

    /// An item: a new one (`known_id` none) gets an id; a stored one is updated in place and keeps
    /// its story, first-seen time and how it joined. Returns its id.
    pub(super) fn item(
        &mut self,
        tx: &mut Conn<'_>,
        row: &ItemRow<'_>,
        known_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        match known_id {
            Some(id) => {
                tx.exec(&UPSERT_ITEM, row)?;
                Ok(id)
            }
            None if !self.queue => tx.insert_id(&UPSERT_ITEM, row),
            None => {
                if self.item_ids.is_empty() {
                    self.take_ids(tx)?;
                }
                let id = self.item_ids.pop().expect("ids were just taken");
                let mut values = Vec::with_capacity(row.len() + 1);
                values.push(id.into());
                values.extend_from_slice(row);
                self.items.push(&values);
                Ok(id)
            }
        }
    }

    /// Writes what is queued: the new stories, then their items, then the widened spans. With
    /// `at_commit`, when nothing later in the transaction reads them back, the write goes with the
    /// commit ([`Conn::exec_at_commit`]).
    pub(super) fn flush(&mut self, tx: &mut Conn<'_>, at_commit: bool) -> Result<(), StoreError> {
        // Each write as a statement of its own parameter (numbered as they come), then all in one
        // statement: the first ones as data-modifying WITH queries, which run with the same snapshot
        // (the spans widened are stored stories', never the ones inserted here).
        let mut parts: Vec<(String, String)> = Vec::new();
        if !self.stories.is_empty() {
            let mut rows = JsonRows::default();
            for s in self.stories.drain(..) {
                rows.push(&[
                    s.id.into(),
                    s.uid.as_str().into(),
                    s.first_seen.into(),
                    s.published.into(),
                    s.event_lo.into(),
                    s.event_hi.into(),
                ]);
            }
            self.queued_story.clear();
            let sql = format!(
                "INSERT INTO stories (id, uid, first_seen, published, updated, event_lo, event_hi)
                 SELECT {id}, {uid}, {seen}, {published}, {seen}, {lo}, {hi} FROM {rows}",
                id = json_field(0, "BIGINT"),
                uid = json_field(1, "TEXT"),
                seen = json_field(2, "BIGINT"),
                published = json_field(3, "BIGINT"),
                lo = json_field(4, "BIGINT"),
                hi = json_field(5, "BIGINT"),
                rows = tx.json_rows(parts.len() + 1),
            );
            parts.push((sql, rows.take()));
        }
        if !self.widened.is_empty() {
            let mut rows = JsonRows::default();
            for (id, (lo, hi)) in std::mem::take(&mut self.widened) {
                rows.push(&[id.into(), lo.into(), hi.into()]);
            }
            let sql = format!(
                "UPDATE stories SET
                    event_lo = CASE WHEN event_lo > w.lo THEN w.lo ELSE event_lo END,
                    event_hi = CASE WHEN event_hi < w.hi THEN w.hi ELSE event_hi END
                 FROM (SELECT {id} AS id, {lo} AS lo, {hi} AS hi FROM {rows}) AS w
                 WHERE stories.id = w.id AND (stories.event_lo > w.lo OR stories.event_hi < w.hi)",
                id = json_field(0, "BIGINT"),
                lo = json_field(1, "BIGINT"),
                hi = json_field(2, "BIGINT"),
                rows = tx.json_rows(parts.len() + 1),
            );
            parts.push((sql, rows.take()));
        }
        if !self.items.is_empty() {
            let rows = self.items.take();
            parts.push((insert_items_sql(tx, parts.len() + 1), rows));
        }
        let Some((last, _)) = parts.last() else {
            return Ok(());
        };
        let mut sql = String::new();
        for (i, (part, _)) in parts[..parts.len() - 1].iter().enumerate() {
            sql += if i == 0 { "WITH " } else { ", " };
            sql += &format!("w{i} AS ({part})");
        }
        sql += " ";
        sql += last;
        let params: Vec<Value<'_>> = parts.iter().map(|(_, rows)| rows.as_str().into()).collect();
        if at_commit {
            tx.exec_at_commit(&sql, &params)
        } else {
            tx.exec(&sql, &params).map(drop)
        }
    }
}
