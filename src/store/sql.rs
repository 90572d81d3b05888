//! The SQL both engines run: one statement text, written with SQLite's `?N` placeholders (PostgreSQL
//! gets them as `$N`), with parameters and rows of a few plain types. The store's functions take a
//! [`Conn`] and so serve either engine; where the dialects differ, the function says so.

use std::error::Error;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::StoreError;

/// A statement parameter, for either engine.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(bool),
    Text(Option<&'a str>),
    Bytes(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::Text(v.as_deref())
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Lite, ValueRef};
        Ok(match *self {
            Value::Int(None) | Value::Real(None) | Value::Text(None) => {
                ToSqlOutput::Owned(Lite::Null)
            }
            Value::Int(Some(v)) => ToSqlOutput::Owned(Lite::Integer(v)),
            Value::Real(Some(v)) => ToSqlOutput::Owned(Lite::Real(v)),
            Value::Bool(v) => ToSqlOutput::Owned(Lite::Integer(i64::from(v))),
            Value::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // The checked forms: a parameter of the wrong type is an error, never reinterpreted bytes.
        match *self {
            Value::Int(v) => ToSql::to_sql_checked(&v, ty, out),
            Value::Real(v) => ToSql::to_sql_checked(&v, ty, out),
            Value::Bool(v) => ToSql::to_sql_checked(&v, ty, out),
            Value::Text(v) => ToSql::to_sql_checked(&v, ty, out),
            Value::Bytes(v) => ToSql::to_sql_checked(&v, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A result row, read by column index, from either engine. Integers are 64-bit in both.
pub trait Row {
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError>;
}

impl Row for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.get(i)?)
    }
}

impl Row for postgres::Row {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

/// A row of a statement run by the simple query protocol ([`Conn::planned_transaction`]'s reads):
/// each column as PostgreSQL's text form, `None` for NULL.
pub struct TextRow(Vec<Option<String>>);

impl TextRow {
    fn column(&self, i: usize) -> Result<Option<&str>, StoreError> {
        self.0
            .get(i)
            .map(Option::as_deref)
            .ok_or_else(|| StoreError::Postgres(format!("no column {i} in a read's row")))
    }

    fn parsed<T: std::str::FromStr>(&self, i: usize) -> Result<Option<T>, StoreError> {
        self.column(i)?
            .map(|v| {
                v.parse().map_err(|_| {
                    StoreError::Postgres(format!("column {i} of a read's row is not a number: {v}"))
                })
            })
            .transpose()
    }

    fn required<T>(i: usize, v: Option<T>) -> Result<T, StoreError> {
        v.ok_or_else(|| StoreError::Postgres(format!("column {i} of a read's row is NULL")))
    }
}

impl Row for TextRow {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        TextRow::required(i, self.parsed(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.parsed(i)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        TextRow::required(i, self.opt_text(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.column(i)?.map(str::to_string))
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        // bytea's text form is hex after `\x`.
        let v = self.text(i)?;
        let hex = v.strip_prefix("\\x").unwrap_or(&v);
        (0..hex.len() / 2)
            .map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| StoreError::Postgres(format!("column {i} of a read's row is not bytea")))
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        self.parsed(i)
    }
}

/// A statement of [`Conn::planned_transaction`]'s reads: its text (with `?N` placeholders) and its
/// parameters, written as literals (see [`literals`]).
pub struct Read {
    pub sql: String,
    pub args: String,
}

impl Read {
    pub fn new(sql: impl Into<String>, params: &[Value<'_>]) -> Read {
        Read {
            sql: sql.into(),
            args: literals(params),
        }
    }
}

/// Parameters as SQL literals, comma-separated: the arguments of an `EXECUTE`, for statements sent
/// together in one round trip (PostgreSQL's simple query protocol takes no parameters).
pub fn literals(params: &[Value<'_>]) -> String {
    params.iter().map(literal).collect::<Vec<_>>().join(", ")
}

/// A parameter as an SQL literal. Text is dollar-quoted (`$syndic$...$syndic$`: nothing to escape,
/// nothing for the server to unescape), or, when it could end the quote early, an escape string
/// (`E'...'`, whatever `standard_conforming_strings` says: backslashes and quotes doubled).
fn literal(v: &Value<'_>) -> String {
    match *v {
        Value::Int(Some(v)) => v.to_string(),
        Value::Real(Some(v)) if v.is_finite() => format!("{v:?}"),
        Value::Int(None) | Value::Real(_) | Value::Text(None) => "NULL".to_string(),
        Value::Bool(v) => if v { "TRUE" } else { "FALSE" }.to_string(),
        Value::Text(Some(t)) if !t.contains("$syndic$") && !t.ends_with("$syndic") => {
            format!("$syndic${t}$syndic$")
        }
        Value::Text(Some(t)) => format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "''")),
        Value::Bytes(b) => format!("E'\\\\x{}'::bytea", crate::text::hex(b)),
    }
}

/// A connection of either engine, inside the caller's transaction when it has one.
pub enum Conn<'c> {
    Lite(&'c rusqlite::Connection),
    Pg(&'c mut PgClient),
}

/// A PostgreSQL client with its prepared statements, by statement text (as SQLite's connection caches
/// them): a statement is parsed once per connection, not once per run.
pub struct PgClient {
    pub client: postgres::Client,
    statements: std::collections::HashMap<String, postgres::Statement>,
    /// Statements prepared by SQL `PREPARE`, by text: their names (for `EXECUTE`).
    named: std::collections::HashMap<String, String>,
    /// The open transaction's writes held back to go with its `COMMIT` ([`Conn::exec_at_commit`]).
    at_commit: Vec<String>,
    /// Whether a transaction begun by [`Conn::transaction`] or [`Conn::planned_transaction`] is open.
    in_transaction: bool,
}

impl PgClient {
    pub fn new(client: postgres::Client) -> PgClient {
        PgClient {
            client,
            statements: std::collections::HashMap::new(),
            named: std::collections::HashMap::new(),
            at_commit: Vec::new(),
            in_transaction: false,
        }
    }

    /// `EXECUTE` of a read (its statement prepared by name on this connection at its first use, in a
    /// round trip of its own): run among other statements in one simple query, it keeps the cached
    /// plan a prepared statement has, where a statement sent as text is planned at every run.
    fn execute(&mut self, read: &Read) -> Result<String, StoreError> {
        let name = match self.named.get(&read.sql) {
            Some(name) => name.clone(),
            None => {
                let name = format!("syndic_read_{}", self.named.len());
                self.client
                    .batch_execute(&format!("PREPARE {name} AS {}", pg_sql(&read.sql)))?;
                self.named.insert(read.sql.clone(), name.clone());
                name
            }
        };
        Ok(if read.args.is_empty() {
            format!("EXECUTE {name}")
        } else {
            format!("EXECUTE {name}({})", read.args)
        })
    }

    /// The prepared form of an SQLite-placeholder statement.
    fn prepared(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(&pg_sql(sql))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

impl Conn<'_> {
    /// Runs a statement; returns the rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[Value<'_>]) -> Result<usize, StoreError> {
        match self {
            Conn::Lite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Conn::Pg(c) => {
                let statement = c.prepared(sql)?;
                Ok(c.client.execute(&statement, &pg_params(params))? as usize)
            }
        }
    }

    /// Runs an `INSERT` and returns the new row's `id`.
    pub fn insert_id(&mut self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        match self {
            Conn::Lite(c) => {
                c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Pg(c) => {
                let statement = c.prepared(&format!("{sql} RETURNING id"))?;
                Ok(c.client
                    .query_one(&statement, &pg_params(params))?
                    .try_get(0)?)
            }
        }
    }

    /// Every row of a query, each read by `f`.
    pub fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.for_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` on each row of a query as it arrives (nothing is collected: for scans of many rows).
    pub fn for_each(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Conn::Lite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                while let Some(r) = rows.next()? {
                    f(r)?;
                }
            }
            Conn::Pg(c) => {
                let statement = c.prepared(sql)?;
                let mut rows = c.client.query_raw(&statement, pg_params(params))?;
                while let Some(r) = rows.next()? {
                    f(&r)?;
                }
            }
        }
        Ok(())
    }

    /// The first row of a query, if any.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnMut(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.query(sql, params, f)?.into_iter().next())
    }

    /// A write of the open transaction whose outcome nothing in it reads: on PostgreSQL it is held
    /// back and sent with the `COMMIT`, in its round trip (an error then fails the commit, and the
    /// transaction rolls back whole); on SQLite, or outside a transaction, it runs now.
    pub fn exec_at_commit(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        match self {
            Conn::Pg(c) if c.in_transaction => {
                let statement = c.execute(&Read::new(sql, params))?;
                c.at_commit.push(statement);
                Ok(())
            }
            _ => self.exec(sql, params).map(drop),
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.batch("BEGIN")?;
        if let Conn::Pg(c) = self {
            c.in_transaction = true;
        }
        finish(self, f)
    }

    /// [`Conn::transaction`] for a refresh, whose every statement reads or writes tens of rows by key:
    /// on PostgreSQL no plan in it scans a table whole, or hashes or sorts one for a join
    /// (`enable_seqscan`, `enable_hashjoin` and `enable_mergejoin` off for the transaction), so each key
    /// costs one index lookup. The planner cannot count a JSON key list (it assumes 100 keys) and a
    /// plan cached while a fresh database's tables were nearly empty would otherwise keep scanning them
    /// once they are not, until an ANALYZE that may be a minute away: a refresh's lookups would grow
    /// with the table. Cached plans stay usable, so statements (and the foreign-key checks their
    /// triggers run, one per row) are not planned again at every execution.
    ///
    /// On PostgreSQL, `advisory_lock` is a transaction-scoped advisory lock taken first, and `reads`
    /// are statements ([`Read`]) run under it; settings, lock and reads go
    /// in one round trip, and `f` receives each read's rows, in text form ([`TextRow`]). On SQLite there
    /// is no lock and `reads` must be empty.
    pub fn planned_transaction<T>(
        &mut self,
        advisory_lock: Option<i64>,
        reads: &[Read],
        f: impl FnOnce(&mut Conn<'_>, Vec<Vec<TextRow>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Conn::Pg(c) = self else {
            self.batch("BEGIN")?;
            return finish(self, |tx| f(tx, Vec::new()));
        };
        let mut sql = String::from(
            "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off;
             SET LOCAL enable_mergejoin = off",
        );
        if let Some(key) = advisory_lock {
            sql += &format!("; SELECT pg_advisory_xact_lock({key})");
        }
        for read in reads {
            sql += "; ";
            sql += &c.execute(read)?;
        }
        c.in_transaction = true;
        let values = match simple_reads(c, &sql, reads.len()) {
            Ok(v) => v,
            Err(e) => {
                c.in_transaction = false;
                let _ = c.client.batch_execute("ROLLBACK");
                return Err(e.into());
            }
        };
        finish(self, |tx| f(tx, values))
    }

    /// Inside [`Conn::planned_transaction`] on PostgreSQL: the writes held back so far, then `reads`,
    /// in one round trip (each read sees the writes); each read's rows. An error aborts the
    /// transaction. On SQLite `reads` must be empty (nothing is held there).
    pub fn flush_and_read(&mut self, reads: &[Read]) -> Result<Vec<Vec<TextRow>>, StoreError> {
        let Conn::Pg(c) = self else {
            return match reads {
                [] => Ok(Vec::new()),
                _ => Err(StoreError::Postgres(
                    "statements read ahead are PostgreSQL's".into(),
                )),
            };
        };
        let mut sql = std::mem::take(&mut c.at_commit).join("; ");
        for read in reads {
            if !sql.is_empty() {
                sql += "; ";
            }
            sql += &c.execute(read)?;
        }
        if sql.is_empty() {
            return Ok(Vec::new());
        }
        Ok(simple_reads(c, &sql, reads.len())?)
    }

    /// Whether this is PostgreSQL (for the few statements whose dialects differ).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Pg(_))
    }

    /// A subquery of the values of a JSON array parameter `?N` (`cast`, e.g. `BIGINT`, or `None` for
    /// text), for `column IN ...`: many keys in one statement, one statement text whatever their number.
    pub fn json_values(&self, param: usize, cast: Option<&str>) -> String {
        let value = match cast {
            Some(ty) => format!("CAST(value AS {ty})"),
            None => "value".to_string(),
        };
        match self {
            Conn::Lite(_) => format!("(SELECT {value} FROM json_each(?{param}))"),
            Conn::Pg(_) => {
                format!("(SELECT {value} FROM json_array_elements_text(?{param}::text::json))")
            }
        }
    }

    /// `SELECT columns FROM from WHERE key = any key of the JSON array parameter ?1 [AND rest]
    /// [ORDER BY order]` (`cast` the key column's type, `None` for text; `order` by column position,
    /// as `1, 2`): many keys in one statement, whatever their number. On PostgreSQL each key is a
    /// lookup of its own (a lateral subquery kept apart with `OFFSET 0`), so the key's index is used
    /// whatever the planner believes of the table: without statistics (a fresh database filling up) it
    /// took an `IN` list over a whole table for a hash join.
    pub fn by_keys(&self, select: KeyedSelect<'_>) -> String {
        let KeyedSelect {
            columns,
            from,
            key,
            cast,
            rest,
            order,
            first_per,
        } = select;
        let rest = rest.map(|r| format!(" AND {r}")).unwrap_or_default();
        let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
        match self {
            Conn::Lite(_) => format!(
                "SELECT {columns} FROM {from} WHERE {key} IN {}{rest}{order}",
                self.json_values(1, cast)
            ),
            Conn::Pg(_) => {
                let value = match cast {
                    Some(ty) => format!("CAST(k.v AS {ty})"),
                    None => "k.v".to_string(),
                };
                let (distinct, tail) = match first_per {
                    Some((group, by)) => (
                        format!("DISTINCT ON ({group}) "),
                        format!("ORDER BY {group}, {by}"),
                    ),
                    None => (String::new(), "OFFSET 0".to_string()),
                };
                format!(
                    "SELECT x.* FROM json_array_elements_text(?1::text::json) AS k(v)
                     CROSS JOIN LATERAL (SELECT {distinct}{columns} FROM {from}
                        WHERE {key} = {value}{rest} {tail}) AS x{order}"
                )
            }
        }
    }

    /// A FROM item over the rows of a JSON array parameter `?N` whose elements are arrays: `v`, with
    /// each row as `e` (read a field as `e ->> i`, cast to its column's type; see [`JsonRows`]).
    pub fn json_rows(&self, param: usize) -> String {
        match self {
            Conn::Lite(_) => format!("(SELECT value AS e FROM json_each(?{param})) AS v"),
            // jsonb: each field read from a parsed row, where `json` would parse the row's text again.
            Conn::Pg(_) => format!("jsonb_array_elements(?{param}::text::jsonb) AS v(e)"),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Lite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(c) => Ok(c.client.batch_execute(sql)?),
        }
    }
}

/// Runs `sql` (statements separated by `;`) in one round trip; the rows of its last `reads` statements,
/// each row in text form.
fn simple_reads(
    c: &mut PgClient,
    sql: &str,
    reads: usize,
) -> Result<Vec<Vec<TextRow>>, postgres::Error> {
    // Each statement's rows end with its CommandComplete; the reads are the last statements.
    let mut values = Vec::new();
    let mut rows = Vec::new();
    for m in c.client.simple_query(sql)? {
        match m {
            postgres::SimpleQueryMessage::Row(row) => rows.push(TextRow(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            )),
            postgres::SimpleQueryMessage::CommandComplete(_) => {
                values.push(std::mem::take(&mut rows))
            }
            _ => {}
        }
    }
    Ok(values.split_off(values.len().saturating_sub(reads)))
}

/// Runs `f` in the transaction just begun: committed when it returns `Ok`, rolled back otherwise.
fn finish<T>(
    conn: &mut Conn<'_>,
    f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let result = f(conn);
    let held = match conn {
        Conn::Pg(c) => {
            c.in_transaction = false;
            std::mem::take(&mut c.at_commit)
        }
        Conn::Lite(_) => Vec::new(),
    };
    match result {
        Ok(v) => {
            let mut commit = held.join("; ");
            if !commit.is_empty() {
                commit += "; ";
            }
            commit += "COMMIT";
            if let Err(e) = conn.batch(&commit) {
                // A held-back write failed: the transaction is aborted, and ends here.
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
            Ok(v)
        }
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N` (statements hold no `?` in string literals).
fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

fn pg_params<'a>(params: &'a [Value<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// A lookup by a list of keys: see [`Conn::by_keys`].
pub struct KeyedSelect<'a> {
    pub columns: &'a str,
    pub from: &'a str,
    /// The key column, compared with each key.
    pub key: &'a str,
    /// The key column's SQL type, `None` for text.
    pub cast: Option<&'a str>,
    /// More conditions (parameters from `?2`).
    pub rest: Option<&'a str>,
    /// ORDER BY, by column position.
    pub order: Option<&'a str>,
    /// `(group, by)`: of the rows of one key, only the first of each `group` in `by` order (on
    /// PostgreSQL, where each row costs a network transfer and a join; SQLite returns them all, so a
    /// caller must reach the same result from either).
    pub first_per: Option<(&'a str, &'a str)>,
}

/// The rows of a [`Conn::json_rows`] parameter, written straight into its JSON text: each row an
/// array of statement parameters (a flag as 0 or 1, bytes as hex; a number JSON cannot hold, which no
/// batched column has, as null).
#[derive(Default)]
pub struct JsonRows {
    text: Vec<u8>,
    rows: usize,
}

impl JsonRows {
    pub fn push(&mut self, params: &[Value<'_>]) {
        self.text.push(if self.rows == 0 { b'[' } else { b',' });
        self.rows += 1;
        self.text.push(b'[');
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                self.text.push(b',');
            }
            let out = &mut self.text;
            match *p {
                Value::Int(Some(v)) => serde_json::to_writer(out, &v),
                Value::Real(Some(v)) if v.is_finite() => serde_json::to_writer(out, &v),
                Value::Int(None) | Value::Real(_) | Value::Text(None) => {
                    serde_json::to_writer(out, &())
                }
                Value::Bool(v) => serde_json::to_writer(out, &i64::from(v)),
                Value::Text(Some(v)) => serde_json::to_writer(out, v),
                Value::Bytes(v) => serde_json::to_writer(out, &crate::text::hex(v)),
            }
            .expect("writing JSON into memory does not fail");
        }
        self.text.push(b']');
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The JSON array of the rows pushed; empties `self`.
    pub fn take(&mut self) -> String {
        let mut text = std::mem::take(&mut self.text);
        if self.rows == 0 {
            text.push(b'[');
        }
        text.push(b']');
        self.rows = 0;
        String::from_utf8(text).expect("JSON written from UTF-8 text is UTF-8")
    }
}

/// Field `i` of a [`Conn::json_rows`] row as a column of SQL type `ty` (`TEXT` is read as it is).
pub fn json_field(i: usize, ty: &str) -> String {
    if ty == "TEXT" {
        format!("e ->> {i}")
    } else {
        format!("CAST(e ->> {i} AS {ty})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_written_as_literals_that_keep_every_character() {
        let params: Vec<Value> = vec![
            "it's a \\ back\\slash E'x' ?1 $1 $$".into(),
            42i64.into(),
            Value::Int(None),
            Value::Real(Some(0.5)),
            true.into(),
            Value::Text(None),
        ];
        assert_eq!(
            literals(&params),
            "$syndic$it's a \\ back\\slash E'x' ?1 $1 $$$syndic$, 42, NULL, 0.5, TRUE, NULL"
        );
        assert_eq!(literals(&[]), "");
        // Text that would close the dollar quote early is an escape string.
        for (text, literal) in [
            ("a $syndic$ b", "E'a $syndic$ b'"),
            ("it's $syndic", "E'it''s $syndic'"),
        ] {
            assert_eq!(literals(&[text.into()]), literal);
        }
    }

    #[test]
    fn json_rows_are_arrays_of_json_values() {
        let mut rows = JsonRows::default();
        assert!(rows.is_empty());
        assert_eq!(rows.take(), "[]");
        rows.push(&[
            7i64.into(),
            "a \"quoted\" \\ line\n".into(),
            Value::Int(None),
            Value::Real(Some(0.25)),
            Value::Real(Some(f64::NAN)),
            true.into(),
            Value::Bytes(&[0, 255]),
        ]);
        rows.push(&[]);
        assert_eq!(
            rows.take(),
            r#"[[7,"a \"quoted\" \\ line\n",null,0.25,null,1,"00ff"],[]]"#
        );
        assert!(rows.is_empty());
    }

    #[test]
    fn a_text_row_reads_postgresql_text_forms() {
        let row = TextRow(vec![
            Some("-12".into()),
            None,
            Some("t".into()),
            Some("\\x00ff".into()),
            Some("1.25".into()),
        ]);
        assert_eq!(row.int(0).unwrap(), -12);
        assert_eq!(row.opt_int(1).unwrap(), None);
        assert!(row.int(1).is_err(), "NULL is no number");
        assert!(row.int(2).is_err(), "t is no number");
        assert_eq!(row.text(2).unwrap(), "t");
        assert_eq!(row.bytes(3).unwrap(), vec![0, 255]);
        assert_eq!(row.opt_real(4).unwrap(), Some(1.25));
        assert!(row.text(9).is_err(), "no such column");
    }
}
