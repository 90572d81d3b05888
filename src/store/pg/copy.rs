//! `syndic migrate --to postgres://...`: an SQLite store copied into a PostgreSQL database, table by
//! table, consistently (one read transaction on SQLite, one write transaction on PostgreSQL) and
//! idempotently (rows are upserted by their keys; copying the same store again changes nothing).

use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::Pg;
use crate::store::{Store, StoreError};

/// The tables in the order their references need, each with its key.
const TABLES: &[(&str, &str)] = &[
    ("sources", "id"),
    ("stories", "id"),
    ("items", "id"),
    ("story_sections", "story_id, section"),
    ("pins", "story_id"),
    ("models", "name"),
    ("tombstones", "source_id, key"),
    ("meta", "key"),
];

/// Rows per INSERT statement (27 columns of items make 5,400 parameters, under PostgreSQL's 65,535).
const BATCH: usize = 200;

/// The `meta` row that marks a database filled by `syndic migrate` (a database nodes already wrote to
/// without one is refused: its ids could collide with the copied ones).
const MIGRATED: &str = "migrated_from_sqlite";

type Param = Box<dyn ToSql + Sync>;

impl Store {
    /// Copies every table into `pg` (migrated first): inserts the rows it lacks and updates the ones
    /// that differ. Returns each table's row count. Refuses a database that holds stories but was not
    /// filled by a copy.
    pub fn copy_to(&self, pg: &Pg) -> Result<Vec<(&'static str, usize)>, StoreError> {
        pg.migrate()?;
        let conn = self.lock()?;
        // A read transaction: one snapshot of every table, even while a daemon writes (WAL).
        let read = conn.unchecked_transaction()?;
        let mut client = pg.lock()?;
        let mut write = client.transaction()?;
        let filled: i64 = write.query_one("SELECT COUNT(*) FROM stories", &[])?.get(0);
        let marked: i64 = write
            .query_one("SELECT COUNT(*) FROM meta WHERE key = $1", &[&MIGRATED])?
            .get(0);
        if filled > 0 && marked == 0 {
            return Err(StoreError::Postgres(
                "the database already holds stories that no `syndic migrate` copied: migrate into an \
                 empty database"
                    .into(),
            ));
        }
        let mut counts = Vec::with_capacity(TABLES.len());
        for &(table, key) in TABLES {
            counts.push((table, copy_table(&read, &mut write, table, key)?));
        }
        for table in ["sources", "stories", "items"] {
            write.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            ))?;
        }
        write.execute(
            "INSERT INTO meta (key, value) VALUES ($1, 1) ON CONFLICT (key) DO NOTHING",
            &[&MIGRATED],
        )?;
        write.commit()?;
        read.finish()?;
        Ok(counts)
    }
}

/// Copies one table in batches; returns how many rows it has.
fn copy_table(
    read: &rusqlite::Connection,
    write: &mut postgres::Transaction<'_>,
    table: &str,
    key: &str,
) -> Result<usize, StoreError> {
    let columns: Vec<String> = read
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut stmt = read.prepare(&format!("SELECT {} FROM {table}", columns.join(", ")))?;
    let mut rows = stmt.query([])?;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
    let mut total = 0;
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<Result<Vec<_>, _>>()?;
        batch.push(values);
        if batch.len() == BATCH {
            total += upsert(write, table, key, &columns, std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        total += upsert(write, table, key, &columns, batch)?;
    }
    Ok(total)
}

/// One multi-row `INSERT ... ON CONFLICT (key) DO UPDATE` (only rows that differ are rewritten).
fn upsert(
    write: &mut postgres::Transaction<'_>,
    table: &str,
    key: &str,
    columns: &[String],
    rows: Vec<Vec<Value>>,
) -> Result<usize, StoreError> {
    let n = columns.len();
    let values: Vec<String> = (0..rows.len())
        .map(|r| {
            let marks: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let keys: Vec<&str> = key.split(", ").collect();
    let rest: Vec<&String> = columns
        .iter()
        .filter(|c| !keys.contains(&c.as_str()))
        .collect();
    let on_conflict = if rest.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let set: Vec<String> = rest.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
        let changed: Vec<String> = rest.iter().map(|c| format!("{table}.{c}")).collect();
        let new: Vec<String> = rest.iter().map(|c| format!("EXCLUDED.{c}")).collect();
        format!(
            "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
            set.join(", "),
            changed.join(", "),
            new.join(", ")
        )
    };
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({key}) {on_conflict}",
        columns.join(", "),
        values.join(", ")
    );
    let stmt = write.prepare(&sql)?;
    let count = rows.len();
    let params: Vec<Param> = rows
        .into_iter()
        .flatten()
        .zip(stmt.params().iter().cycle())
        .map(|(v, ty)| param(v, ty))
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    write.execute(&stmt, &refs)?;
    Ok(count)
}

/// An SQLite value as a parameter of the PostgreSQL column type the statement expects (a NULL needs
/// the column's own type).
fn param(v: Value, ty: &Type) -> Param {
    match v {
        Value::Null if *ty == Type::INT8 => Box::new(None::<i64>),
        Value::Null if *ty == Type::FLOAT8 => Box::new(None::<f64>),
        Value::Null if *ty == Type::BYTEA => Box::new(None::<Vec<u8>>),
        Value::Null => Box::new(None::<String>),
        Value::Integer(i) if *ty == Type::FLOAT8 => Box::new(i as f64),
        Value::Integer(i) => Box::new(i),
        Value::Real(f) => Box::new(f),
        Value::Text(s) => Box::new(s),
        Value::Blob(b) => Box::new(b),
    }
}
