//! The PostgreSQL engine's foundation: connecting (with a clear error), versioned migrations that
//! create the SQLite engine's tables with the same table and column names, the server and schema
//! state `syndic check` reports, and leased polling (each due source claimed by exactly one node per
//! tick, `FOR UPDATE SKIP LOCKED`; a dead node's leases expire and go to the others), and the copy of
//! an SQLite store into it (`syndic migrate`).
//!
//! The client is the synchronous `postgres` crate: the store's seam is synchronous (each call runs on a
//! blocking thread, as the SQLite engine's do), so both engines keep one shape.

mod copy;

use std::sync::{Condvar, Mutex};

use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;

use super::sql::{Conn, PgClient};
use super::{StoreError, to_ms};

/// Migrations in order; the applied count is kept in `schema_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema1.sql"),
    include_str!("schema2.sql"),
    include_str!("schema3.sql"),
    include_str!("schema4.sql"),
    include_str!("schema5.sql"),
    include_str!("schema6.sql"),
    include_str!("schema7.sql"),
];

/// A small pool of connections to one PostgreSQL database: a node's refreshes, claims, fetch records
/// and page renders each take one, so a round trip on one does not hold up the others (a refresh's
/// decide-and-apply step is serialized by an advisory lock, not by a shared connection).
pub struct Pg {
    url: String,
    idle: Mutex<Idle>,
    returned: Condvar,
}

/// The pool's idle connections and how many exist in all.
struct Idle {
    clients: Vec<PgClient>,
    open: usize,
}

/// Connections a node keeps at most: enough for a refresh applying while others record their fetches,
/// a claim and a page render, few enough that many nodes fit in a default `max_connections` (100).
const POOL_SIZE: usize = 4;

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
        let first = off_runtime(|| open(url))?;
        Ok(Pg {
            url: url.to_string(),
            idle: Mutex::new(Idle {
                clients: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
        })
    }

    /// A connection of the pool: an idle one, a new one while the pool has room, else the first one
    /// given back. A connection found closed (the server restarted, the network dropped) is replaced.
    fn lock(&self) -> Result<Lease<'_>, StoreError> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(client) = idle.clients.pop() {
                if !client.client.is_closed() {
                    return Ok(Lease {
                        pool: self,
                        client: Some(client),
                    });
                }
                tracing::warn!("a PostgreSQL connection was closed; opening another");
                idle.open -= 1;
                off_runtime(move || drop(client));
            }
            if idle.open < POOL_SIZE {
                idle.open += 1;
                drop(idle);
                return match open(&self.url) {
                    Ok(client) => Ok(Lease {
                        pool: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The server's version and the schema's state, without changing anything.
    pub fn state(&self) -> Result<SchemaState, StoreError> {
        off_runtime(|| {
            let mut c = self.lock()?;
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
                let mut c = self.lock()?;
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

    /// Claims up to `limit` of the sources `among` that are due for `node` until `now + lease`: active,
    /// not gone, due (no next check yet, or one not after `now`), not leased to a live node, and with
    /// fewer than `per_host` live leases on their host across all nodes. Claims are taken one node at a
    /// time (a transaction advisory lock, so the per-host counts are exact), and rows another
    /// transaction holds at this moment are skipped, not waited for (`FOR UPDATE SKIP LOCKED`), so each
    /// due source goes to exactly one node. Returns the claimed source ids, soonest due first.
    pub fn claim_due(&self, claim: &Claim<'_>, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        off_runtime(|| {
            let now_ms = to_ms(now);
            let until = to_ms(now + claim.lease);
            let per_host = claim.per_host as i64;
            let mut c = self.lock()?;
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK])?;
            let rows = tx.query(
                "WITH busy AS (
                     SELECT host, count(*) AS n FROM sources
                     WHERE lease_until > $3 GROUP BY 1),
                 due AS (
                     SELECT id, next_check_at, host,
                            row_number() OVER (PARTITION BY host
                                               ORDER BY next_check_at NULLS FIRST, id) AS rn
                     FROM sources
                     WHERE id = ANY($6) AND active = 1 AND gone_at IS NULL
                       AND (next_check_at IS NULL OR next_check_at <= $3)
                       AND (lease_until IS NULL OR lease_until <= $3)),
                 pick AS (
                     SELECT due.id FROM due LEFT JOIN busy ON busy.host = due.host
                     WHERE due.rn + coalesce(busy.n, 0) <= $5
                     ORDER BY due.next_check_at NULLS FIRST, due.id
                     LIMIT $4)
                 UPDATE sources SET lease_node = $1, lease_until = $2
                 WHERE id IN (SELECT id FROM sources WHERE id IN (SELECT id FROM pick)
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, next_check_at",
                &[
                    &claim.node,
                    &until,
                    &now_ms,
                    &claim.limit,
                    &per_host,
                    &claim.among,
                ],
            )?;
            tx.commit()?;
            let mut claimed: Vec<(Option<i64>, i64)> =
                rows.iter().map(|r| (r.get(1), r.get(0))).collect();
            claimed.sort();
            Ok(claimed.into_iter().map(|(_, id)| id).collect())
        })
    }

    /// Extends `node`'s leases on `ids` (its running refreshes) to `until`; returns how many it still
    /// held.
    pub fn renew(&self, node: &str, ids: &[i64], until: DateTime<Utc>) -> Result<u64, StoreError> {
        off_runtime(|| {
            Ok(self.lock()?.execute(
                "UPDATE sources SET lease_until = $3 WHERE lease_node = $1 AND id = ANY($2)",
                &[&node, &ids, &to_ms(until)],
            )?)
        })
    }

    /// Tells every node listening on this database (see [`Watch`]) something changed: `payload` is
    /// delivered to them once this call returns.
    pub fn notify(&self, payload: &str) -> Result<(), StoreError> {
        off_runtime(|| {
            self.lock()?
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            Ok(())
        })
    }

    /// Leases `ids` to `node` until `until` where no other node holds a live lease at `now` (a manual
    /// `syndic poll` on a database that nodes poll); returns the ids now leased to `node`.
    pub fn take_leases(
        &self,
        node: &str,
        ids: &[i64],
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        off_runtime(|| {
            let rows = self.lock()?.query(
                "UPDATE sources SET lease_node = $1, lease_until = $2
                 WHERE id = ANY($3) AND (lease_until IS NULL OR lease_until <= $4 OR lease_node = $1)
                 RETURNING id",
                &[&node, &to_ms(until), &ids, &to_ms(now)],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Gives a source's lease back (its refresh finished); only the node holding it can.
    pub fn release(&self, node: &str, source_id: i64) -> Result<bool, StoreError> {
        off_runtime(|| {
            let n = self.lock()?.execute(
                "UPDATE sources SET lease_node = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_node = $2",
                &[&source_id, &node],
            )?;
            Ok(n == 1)
        })
    }

    /// Gives back every lease `node` holds (it is stopping); returns how many.
    pub fn release_all(&self, node: &str) -> Result<u64, StoreError> {
        off_runtime(|| {
            Ok(self.lock()?.execute(
                "UPDATE sources SET lease_node = NULL, lease_until = NULL WHERE lease_node = $1",
                &[&node],
            )?)
        })
    }

    /// Who holds each source's lease now, by source name (for `syndic sources`).
    pub fn leases(&self, now: DateTime<Utc>) -> Result<Vec<(String, Option<String>)>, StoreError> {
        off_runtime(|| {
            let rows = self.lock()?.query(
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
        off_runtime(|| f(&mut Conn::Pg(self.lock()?.pg())))
    }

    /// Runs `sql` as one batch (tests and `syndic migrate` fill tables with it).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        off_runtime(|| Ok(self.lock()?.batch_execute(sql)?))
    }
}

/// Opens one connection of the pool; the error says which server could not be reached and why.
fn open(url: &str) -> Result<PgClient, StoreError> {
    let connect = || {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        // Every statement here is a short keyed lookup or write; the planner's cost estimates for
        // key-list lookups cross the JIT threshold, and compiling took longer than running (about 5 ms
        // of a 6 ms candidate lookup on a 50,000-item store).
        client.batch_execute("SET jit = off")?;
        Ok::<_, postgres::Error>(client)
    };
    connect().map(PgClient::new).map_err(|e| {
        StoreError::Postgres(format!(
            "cannot connect to {}: {}",
            crate::text::redacted_url(url),
            crate::text::error_chain(&e)
        ))
    })
}

/// A connection taken from the pool, given back when dropped.
struct Lease<'a> {
    pool: &'a Pg,
    client: Option<PgClient>,
}

impl Lease<'_> {
    /// The client with its statement cache, as the engine-neutral functions take it.
    fn pg(&mut self) -> &mut PgClient {
        self.client
            .as_mut()
            .expect("a lease holds its client until dropped")
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self
            .client
            .as_ref()
            .expect("a lease holds its client until dropped")
            .client
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.pg().client
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.clients.push(client);
            drop(idle);
            self.pool.returned.notify_one();
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Closing blocks on the client's own runtime, which Tokio forbids inside another.
        let clients = std::mem::take(
            &mut self
                .idle
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .clients,
        );
        off_runtime(move || drop(clients));
    }
}

thread_local! {
    /// Set on a thread of Tokio's blocking pool while it runs store work ([`may_block`]).
    static MAY_BLOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, store work on a thread of Tokio's blocking pool (`Store::call`), telling
/// [`off_runtime`] that the synchronous client may block here: such a thread has the runtime's handle,
/// but drives no tasks, and a runtime of the client's own may run on it.
pub(crate) fn may_block<T>(f: impl FnOnce() -> T) -> T {
    let was = MAY_BLOCK.with(|m| m.replace(true));
    let out = f();
    MAY_BLOCK.with(|m| m.set(was));
    out
}

/// Runs `f` where the synchronous client may block: on this thread when it has no Tokio runtime or is
/// one of its blocking threads running store work ([`may_block`]); on a thread that drives async tasks
/// (the client drives a runtime of its own, and Tokio forbids nesting them), on a scoped thread of its
/// own. The daemon's store calls take the first way (a thread started for every call cost a
/// `pthread_create` and a join each).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if MAY_BLOCK.with(|m| m.get()) || tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The advisory lock key claims take ("syndicC" in ASCII).
const CLAIM_LOCK: i64 = 0x0073_796e_6469_6343;

/// The advisory lock key the leader node holds for its session ("syndicL" in ASCII).
const LEADER_LOCK: i64 = 0x0073_796e_6469_634c;

/// The notification channel nodes listen on.
const CHANNEL: &str = "syndic";

/// What a node claims: up to `limit` of the sources `among` (the ones its config knows), for `lease`,
/// at most `per_host` running at once per host across the nodes.
pub struct Claim<'a> {
    pub node: &'a str,
    pub among: &'a [i64],
    pub lease: chrono::Duration,
    pub per_host: usize,
    pub limit: i64,
}

/// A node's second connection: it listens for the other nodes' notices ([`Pg::notify`]) and holds
/// the leader lock while this node leads (retraining, retention). Closing it (the node stops or
/// dies) gives the lead to another node.
pub struct Watch {
    client: Option<postgres::Client>,
    leading: bool,
}

impl Watch {
    /// Connects to `url` and starts listening.
    pub fn connect(url: &str) -> Result<Watch, StoreError> {
        let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| {
            StoreError::Postgres(format!(
                "cannot connect to {}: {}",
                crate::text::redacted_url(url),
                crate::text::error_chain(&e)
            ))
        })?;
        // If this node's machine vanishes (no process left to close the connection), the server ends
        // the session, and so frees the lead, within a minute rather than after the system's two hours.
        client.batch_execute(&format!(
            "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;
             SET tcp_keepalives_count = 3; LISTEN {CHANNEL}"
        ))?;
        Ok(Watch {
            client: Some(client),
            leading: false,
        })
    }

    fn client(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .expect("the client lives until the Watch is dropped")
    }

    /// Leads if no other node does (kept until this connection closes); `true` while this node leads.
    pub fn try_lead(&mut self) -> Result<bool, StoreError> {
        if !self.leading {
            self.leading = self
                .client()
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])?
                .get(0);
        }
        Ok(self.leading)
    }

    /// The notices that arrive within `timeout` (returns at the first quiet `timeout`).
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<Vec<String>, StoreError> {
        let mut notices = self.client().notifications();
        let mut out = Vec::new();
        let mut iter = notices.timeout_iter(timeout);
        while let Some(n) = iter.next()? {
            out.push(n.payload().to_string());
        }
        Ok(out)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

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
