//! The PostgreSQL engine's foundation: connecting (with a clear error), versioned migrations that
//! create the SQLite engine's tables with the same table and column names, the server and schema
//! state `syndic check` reports, and leased polling (each due source claimed by exactly one node per
//! tick, `FOR UPDATE SKIP LOCKED`; a dead node's leases expire and go to the others), and the copy of
//! an SQLite store into it (`syndic migrate`).
//!
//! The client is the synchronous `postgres` crate: the store's seam is synchronous (each call runs on a
//! blocking thread, as the SQLite engine's do), so both engines keep one shape.

mod copy;

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::sql::{Conn, PgClient};
use super::{StoreError, to_ms};

/// Migrations in order; the applied count is kept in `schema_version`.
const MIGRATIONS: &[&str] = &[include_str!("schema1.sql"), include_str!("schema2.sql")];

/// A connection to one PostgreSQL database.
pub struct Pg {
    client: Mutex<ClientCell>,
}

/// What `syndic check` says about a database: the server's version and how far its schema is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    pub server_version: String,
    /// Migrations applied (0: an empty database).
    pub applied: i64,
    /// Migrations this syndic knows.
    pub known: i64,
}

impl Pg {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`); the error says which
    /// server could not be reached and why.
    pub fn connect(url: &str) -> Result<Pg, StoreError> {
        let client =
            off_runtime(|| postgres::Client::connect(url, postgres::NoTls)).map_err(|e| {
                StoreError::Postgres(format!(
                    "cannot connect to {}: {}",
                    crate::text::redacted_url(url),
                    crate::text::error_chain(&e)
                ))
            })?;
        Ok(Pg {
            client: Mutex::new(ClientCell(Some(PgClient::new(client)))),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ClientCell> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's version and the schema's state, without changing anything.
    pub fn state(&self) -> Result<SchemaState, StoreError> {
        off_runtime(|| {
            let mut c = self.lock();
            let server_version: String = c.query_one("SHOW server_version", &[])?.get(0);
            Ok(SchemaState {
                server_version,
                applied: applied(&mut c)?,
                known: MIGRATIONS.len() as i64,
            })
        })
    }

    /// Applies the migrations the database lacks, each in its own transaction, under an advisory lock
    /// so nodes starting together migrate once. A database newer than this syndic is refused.
    pub fn migrate(&self) -> Result<SchemaState, StoreError> {
        off_runtime(|| {
            {
                let mut c = self.lock();
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
                     INSERT INTO schema_version (version)
                     SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
                )?;
                let version: i64 = tx
                    .query_one("SELECT version FROM schema_version", &[])?
                    .get(0);
                let known = MIGRATIONS.len() as i64;
                if version > known {
                    return Err(StoreError::TooNew {
                        path: "the PostgreSQL database".into(),
                        found: version,
                        known,
                    });
                }
                for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                    tx.batch_execute(sql)?;
                    tx.execute("UPDATE schema_version SET version = $1", &[&(n as i64 + 1)])?;
                }
                tx.commit()?;
            }
            self.state()
        })
    }

    /// Claims up to `limit` due sources for `node` until `now + lease`: active, not gone, due (no next
    /// check yet, or one not after `now`), and not leased to a live node. Rows another node is claiming
    /// at this moment are skipped, not waited for, so each due source goes to exactly one node.
    /// Returns the claimed source ids, soonest due first.
    pub fn claim_due(
        &self,
        node: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        off_runtime(|| {
            let now_ms = to_ms(now);
            let until = to_ms(now + lease);
            let rows = self.lock().query(
                "UPDATE sources SET lease_node = $1, lease_until = $2
                 WHERE id IN (
                     SELECT id FROM sources
                     WHERE active = 1 AND gone_at IS NULL
                       AND (next_check_at IS NULL OR next_check_at <= $3)
                       AND (lease_until IS NULL OR lease_until <= $3)
                     ORDER BY next_check_at NULLS FIRST, id
                     LIMIT $4
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, next_check_at",
                &[&node, &until, &now_ms, &limit],
            )?;
            let mut claimed: Vec<(Option<i64>, i64)> =
                rows.iter().map(|r| (r.get(1), r.get(0))).collect();
            claimed.sort();
            Ok(claimed.into_iter().map(|(_, id)| id).collect())
        })
    }

    /// Gives a source's lease back (its refresh finished); only the node holding it can.
    pub fn release(&self, node: &str, source_id: i64) -> Result<bool, StoreError> {
        off_runtime(|| {
            let n = self.lock().execute(
                "UPDATE sources SET lease_node = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_node = $2",
                &[&source_id, &node],
            )?;
            Ok(n == 1)
        })
    }

    /// Who holds each source's lease now, by source name (for `syndic sources`).
    pub fn leases(&self, now: DateTime<Utc>) -> Result<Vec<(String, Option<String>)>, StoreError> {
        off_runtime(|| {
            let rows = self.lock().query(
                "SELECT name, CASE WHEN lease_until > $1 THEN lease_node END FROM sources ORDER BY name",
                &[&to_ms(now)],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Runs `f` on this database as a [`Conn`], the seam the store's engine-neutral functions take.
    pub(super) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| f(&mut Conn::Pg(self.lock().pg())))
    }

    /// Takes the one-node lock for this connection's life; `false` when another syndic node holds it.
    /// Until polling is leased and decisions are serialized across nodes, one node runs per database.
    pub fn hold_node_lock(&self) -> Result<bool, StoreError> {
        off_runtime(|| {
            Ok(self
                .lock()
                .query_one("SELECT pg_try_advisory_lock($1)", &[&NODE_LOCK])?
                .get(0))
        })
    }

    /// Runs `sql` as one batch (tests and `syndic migrate` fill tables with it).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        off_runtime(|| Ok(self.lock().batch_execute(sql)?))
    }
}

/// The client, closed off the async runtime when the [`Pg`] is dropped (closing blocks on the
/// client's own runtime, which Tokio forbids inside another).
struct ClientCell(Option<PgClient>);

impl ClientCell {
    /// The client with its statement cache, as the engine-neutral functions take it.
    fn pg(&mut self) -> &mut PgClient {
        self.0
            .as_mut()
            .expect("the client lives until the Pg is dropped")
    }
}

impl std::ops::Deref for ClientCell {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self
            .0
            .as_ref()
            .expect("the client lives until the Pg is dropped")
            .client
    }
}

impl std::ops::DerefMut for ClientCell {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.pg().client
    }
}

impl Drop for ClientCell {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` where the synchronous client may block: on this thread, unless the thread belongs to a
/// Tokio runtime (the client drives a runtime of its own, and Tokio forbids nesting them), then on a
/// scoped thread of its own. The daemon's store calls run on blocking threads and take the first way.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The advisory lock key the running node holds ("syndicN" in ASCII).
const NODE_LOCK: i64 = 0x0073_796e_6469_634e;

/// The advisory lock key migrations take ("syndic" in ASCII).
const MIGRATION_LOCK: i64 = 0x7379_6e64_6963;

/// Migrations applied to the database (0 when it has no `schema_version` table yet).
fn applied(c: &mut postgres::Client) -> Result<i64, StoreError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(c.query_one("SELECT version FROM schema_version", &[])?
        .get(0))
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Postgres(crate::text::error_chain(&e))
    }
}
