//! The PostgreSQL engine's foundation against a real server: `SYNDIC_TEST_POSTGRES` names it (a
//! `postgres://` URL of a role that may create databases; `.ci/run` starts a throwaway one). Each test
//! creates and drops a database of its own. Without the variable the tests skip, except under CI.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use syndic::store::Store;
use syndic::store::pg::Pg;

/// A database of its own on the test server, dropped when the test ends.
pub(crate) struct TestDb {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl TestDb {
    /// `None` (after saying so) where no server is configured; under CI a missing server fails.
    pub(crate) fn create(tag: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var("SYNDIC_TEST_POSTGRES") else {
            let msg = "SYNDIC_TEST_POSTGRES is not set: run `bash .ci/run` (it starts a PostgreSQL \
                       server) or point it at one";
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("{msg}; CI must have it");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        let name = format!("syndic_test_{tag}_{}", std::process::id());
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("test server");
        // One statement each: a multi-statement batch runs as one transaction, which these refuse.
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(TestDb {
            admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn migrations_create_the_sqlite_tables_and_columns_and_run_once() {
    let Some(db) = TestDb::create("schema") else {
        return;
    };
    let pg = Pg::connect(&db.url).unwrap();
    let before = pg.state().unwrap();
    assert_eq!(before.applied, 0, "an empty database");
    assert!(
        before
            .server_version
            .split('.')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 13,
        "{}",
        before.server_version
    );
    let after = pg.migrate().unwrap();
    assert_eq!(after.applied, after.known);
    assert_eq!(
        pg.migrate().unwrap(),
        after,
        "a second start changes nothing"
    );

    // The same tables and columns as a fresh SQLite store, so an operator's SQL works on both (besides
    // PostgreSQL's own bookkeeping: its schema version and the nodes' index log).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::open(&path).unwrap());
    let lite = rusqlite::Connection::open(&path).unwrap();
    let mut sqlite: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let tables: Vec<String> = lite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let cols: BTreeSet<String> = lite
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        sqlite.insert(t, cols);
    }
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut postgres: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in c
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name NOT IN ('schema_version', 'index_log')",
            &[],
        )
        .unwrap()
    {
        postgres.entry(row.get(0)).or_default().insert(row.get(1));
    }
    assert_eq!(postgres, sqlite);
}

#[test]
fn an_unreachable_server_is_a_clear_error_without_the_password() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://syndic:s3cret@127.0.0.1:{port}/news");
    let err = Pg::connect(&url)
        .err()
        .expect("nothing listens there")
        .to_string();
    assert!(
        err.contains("cannot connect to postgres://syndic:***@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_store_survives_its_connections_being_cut() {
    let Some(db) = TestDb::create("reconnect") else {
        return;
    };
    let store = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    // Several calls at once, so the pool holds more than one connection.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| store.ping().unwrap());
        }
    });
    let count = || {
        let mut admin = postgres::Client::connect(&db.admin, postgres::NoTls).unwrap();
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name],
            )
            .unwrap()
            .get(0);
        (admin, n)
    };
    let (mut admin, before) = count();
    assert!(before >= 1, "the store is connected");
    assert!(before <= 4, "at most the pool's four connections: {before}");
    // What a server restart or a dropped network does to a node's sessions.
    let cut: i64 = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .unwrap()
        .len() as i64;
    assert_eq!(cut, before);
    // A call on a cut connection fails (its error reaches the caller, a refresh that is retried); the
    // pool then opens new ones, and nothing stored is lost.
    let mut answered = 0;
    for _ in 0..(before + 2) {
        if store.ping().is_ok() {
            answered += 1;
        }
    }
    assert!(answered >= 2, "the store reconnects: {answered} answers");
    assert!(store.ping().is_ok());
    let (_, after) = count();
    assert!((1..=4).contains(&after), "{after} connections");
}

#[test]
fn each_due_source_is_claimed_by_exactly_one_node_and_an_expired_lease_goes_to_another() {
    let Some(db) = TestDb::create("lease") else {
        return;
    };
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    let now = Utc::now();
    let due = now.timestamp_millis() - 1000;
    let later = now.timestamp_millis() + 3_600_000;
    // The host as a node's start writes it from the URL (`Store::sync_sources`).
    let mut sql =
        String::from("INSERT INTO sources (name, url, host, next_check_at, gone_at) VALUES ");
    for n in 0..300 {
        // 280 due, 10 not due yet, 10 gone.
        let (next, gone) = match n {
            0..280 => (due.to_string(), "NULL".to_string()),
            280..290 => (later.to_string(), "NULL".to_string()),
            _ => (due.to_string(), due.to_string()),
        };
        sql.push_str(&format!(
            "{}('s{n}', 'http://H{host}.example:8080/feed/{n}', 'h{host}.example', {next}, {gone})",
            if n == 0 { "" } else { ", " },
            host = n % 40
        ));
    }
    pg.batch(&sql).unwrap();
    let ids: Vec<i64> = (1..=300).collect();
    let claim = |pg: &Pg, node: &str, at, per_host: usize, limit: i64| {
        let claim = syndic::store::pg::Claim {
            node,
            among: &ids,
            lease: Duration::seconds(120),
            per_host,
            limit,
        };
        pg.claim_due(&claim, at).unwrap()
    };

    // Three nodes claim in small batches at the same time, each over its own connection, at most two
    // running sources per host across the three: 40 hosts, so 80 claims.
    let lease = Duration::seconds(120);
    let claim_all = |per_host: usize| -> Vec<Vec<i64>> {
        std::thread::scope(|s| {
            let nodes: Vec<_> = (0..3)
                .map(|k| {
                    let url = db.url.clone();
                    s.spawn(move || {
                        let pg = Pg::connect(&url).unwrap();
                        let node = format!("node-{k}");
                        let mut mine = Vec::new();
                        loop {
                            let got = claim(&pg, &node, now, per_host, 7);
                            if got.is_empty() {
                                break;
                            }
                            mine.extend(got);
                        }
                        mine
                    })
                })
                .collect();
            nodes.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let limited: Vec<i64> = claim_all(2).into_iter().flatten().collect();
    assert_eq!(limited.len(), 80, "two per host: {limited:?}");
    let mut per_host: BTreeMap<i64, usize> = BTreeMap::new();
    for id in &limited {
        *per_host.entry((id - 1) % 40).or_default() += 1;
    }
    assert!(per_host.values().all(|n| *n == 2), "{per_host:?}");
    // Sources outside a node's config are never its to claim.
    let other = syndic::store::pg::Claim {
        node: "node-x",
        among: &[],
        lease,
        per_host: 1000,
        limit: 1000,
    };
    assert!(pg.claim_due(&other, now).unwrap().is_empty());
    let mut claimed = claim_all(1000);
    claimed.push(limited);
    let all: Vec<i64> = claimed.iter().flatten().copied().collect();
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        280,
        "every due source once: {:?}",
        claimed.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(unique.len(), 280, "no source claimed twice");

    // While the leases hold nobody else gets them; once they expire (the node died) another does.
    assert!(claim(&pg, "node-9", now, 1000, 1000).is_empty());
    let after = now + lease + Duration::milliseconds(1);
    assert_eq!(claim(&pg, "node-9", after, 1000, 1000).len(), 280);
    let holders = pg.leases(after).unwrap();
    assert_eq!(
        holders
            .iter()
            .filter(|(_, n)| n.as_deref() == Some("node-9"))
            .count(),
        280
    );
    // Only the holder gives a lease back.
    let first = *unique.iter().next().unwrap();
    assert!(!pg.release("node-0", first).unwrap());
    assert!(pg.release("node-9", first).unwrap());
    assert_eq!(claim(&pg, "node-1", after, 1000, 1000), vec![first]);
    // Renewing keeps a lease past its first expiry; only the holder's renewals count.
    let later = after + lease + Duration::seconds(1);
    assert_eq!(pg.renew("node-1", &[first], later + lease).unwrap(), 1);
    assert_eq!(pg.renew("node-2", &[first], later + lease).unwrap(), 0);
    assert!(!claim(&pg, "node-2", later, 1000, 1000).contains(&first));
}

/// Each table's rows in SQLite, as text (a table's columns joined, rows sorted).
fn sqlite_rows(db: &std::path::Path, table: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let cols: Vec<String> = c
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Scores to 12 places: the engines print a double's digits differently.
    let cast: Vec<String> = cols
        .iter()
        .map(|c| {
            if c.ends_with("_score") {
                format!("COALESCE(CAST(ROUND({c}, 12) AS TEXT), '-')")
            } else {
                format!("COALESCE(CAST({c} AS TEXT), '-')")
            }
        })
        .collect();
    let mut rows: Vec<String> = c
        .prepare(&format!("SELECT {} FROM {table}", cast.join(" || '|' || ")))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

/// The same in PostgreSQL, in SQLite's column order.
fn pg_rows(url: &str, table: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let cols: Vec<String> = c
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // In SQLite's column order, so the rows compare as text.
    let lite_order = sqlite_columns(table);
    assert_eq!(
        cols.iter().collect::<BTreeSet<_>>(),
        lite_order.iter().collect::<BTreeSet<_>>()
    );
    let cast: Vec<String> = lite_order
        .iter()
        .map(|c| {
            if c == "data" {
                format!("COALESCE(encode({c}, 'escape'), '-')")
            } else if c.ends_with("_score") {
                format!("COALESCE(CAST(ROUND({c}::numeric, 12)::float8 AS TEXT), '-')")
            } else {
                format!("COALESCE(CAST({c} AS TEXT), '-')")
            }
        })
        .collect();
    let mut rows: Vec<String> = c
        .query(
            &format!("SELECT {} FROM {table}", cast.join(" || '|' || ")),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    rows.sort();
    rows
}

/// A table's columns in a fresh SQLite store, in order.
fn sqlite_columns(table: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    drop(Store::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.prepare(&format!(
        "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
    ))
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn syndic_migrate_copies_a_polled_store_and_running_it_again_doubles_nothing() {
    use crate::support::{Env, FixtureServer, Route, rss_feed, source};
    let Some(db) = TestDb::create("migrate") else {
        return;
    };
    let server = FixtureServer::start();
    let wire = |n: usize| -> Vec<(String, String, String)> {
        (0..n)
            .map(|i| {
                (
                    format!("w{i}"),
                    format!("Ceasefire talks resume in Geneva, round {i}"),
                    format!("https://wire.example/{i}"),
                )
            })
            .collect()
    };
    server.set("/wire.xml", Route::rss(rss_feed("Wire", &wire(3))));
    server.set(
        "/desk.xml",
        Route::rss(rss_feed(
            "Desk",
            &[
                (
                    "d1",
                    "Ceasefire talks resume in Geneva, round 0",
                    "https://desk.example/1",
                ),
                (
                    "d2",
                    "Tokyo stocks close at a record high",
                    "https://desk.example/2",
                ),
            ],
        )),
    );
    let env = Env::new(
        &(source("Wire", &server.url("/wire.xml"), &["world"])
            + &source("Desk", &server.url("/desk.xml"), &["asia"])),
    );
    env.ok(&["poll"]);
    let out = env.ok(&["migrate", "--to", &db.url]);
    assert!(out.contains("PostgreSQL 1"), "{out}");
    assert!(out.contains("schema 0 of "), "{out}");
    assert!(out.contains("items: 5 rows"), "{out}");
    let sqlite = env.path("test.db");
    let tables = [
        "sources",
        "stories",
        "items",
        "story_sections",
        "tombstones",
        "meta",
    ];
    let same = |what: &str| {
        for t in tables {
            let mut lite = sqlite_rows(&sqlite, t);
            let mut pg = pg_rows(&db.url, t);
            if t == "meta" {
                // PostgreSQL's own bookkeeping: the copy's mark and the nodes' apply sequence.
                pg.retain(|r| {
                    !r.starts_with("migrated_from_sqlite") && !r.starts_with("apply_seq")
                });
            }
            // match_score / miss_score: REAL in both, printed alike for the values syndic stores.
            lite.sort();
            pg.sort();
            assert!(
                !lite.is_empty() || t == "tombstones",
                "{what}: {t} is empty"
            );
            assert_eq!(pg, lite, "{what}: table {t}");
        }
    };
    same("first copy");
    let items = sqlite_rows(&sqlite, "items");
    assert_eq!(items.len(), 5);
    assert!(
        items
            .iter()
            .any(|r| r.contains("|similar|") || r.contains("|title|")),
        "a joined item, with its reason and score, is among the copied rows: {items:#?}"
    );

    // Again: nothing doubles, nothing changes.
    let again = env.ok(&["migrate", "--to", &db.url]);
    let known = Pg::connect(&db.url).unwrap().state().unwrap().known;
    assert!(
        again.contains(&format!("schema {known} of {known}")),
        "{again}"
    );
    same("second copy");

    // More polling, then a copy brings the new rows over, and new ids continue after the copied ones.
    server.set("/wire.xml", Route::rss(rss_feed("Wire", &wire(5))));
    env.ok(&["poll"]);
    env.ok(&["migrate", "--to", &db.url]);
    same("after another poll");
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let id: i64 = c
        .query_one(
            "INSERT INTO stories (uid, first_seen, published, updated) VALUES ('x', 0, 0, 0)
             RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    let max: i64 = rusqlite::Connection::open(&sqlite)
        .unwrap()
        .query_row("SELECT MAX(id) FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, max + 1);
}

#[test]
fn syndic_migrate_says_clearly_what_is_wrong_with_the_target() {
    use crate::support::Env;
    let env = Env::new("");
    let out = env.syndic(&["migrate", "--to", "mysql://db.example/news"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("want a postgres:// URL"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = env.syndic(&[
        "migrate",
        "--to",
        &format!("postgres://syndic:hunter2@127.0.0.1:{port}/news"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot connect to postgres://syndic:***@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    // The same for a `[storage] url` nothing answers: the command names the database, not a file.
    on_postgres(
        &env,
        &format!("postgres://syndic:hunter2@127.0.0.1:{port}/news"),
    );
    let out = env.syndic(&["poll"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "opening postgres://syndic:***@127.0.0.1:{port}/news"
        )),
        "{err}"
    );
    assert!(
        err.contains("cannot connect") && !err.contains("hunter2"),
        "{err}"
    );

    // A database nodes already wrote to (stories not copied by migrate) is refused.
    let Some(db) = TestDb::create("refuse") else {
        return;
    };
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    pg.batch("INSERT INTO stories (uid, first_seen, published, updated) VALUES ('n1', 0, 0, 0)")
        .unwrap();
    let out = env.syndic(&["migrate", "--to", &db.url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("migrate into an empty database"), "{err}");
}

/// The sources operations, run alike on a store of each engine: the same calls give the same answers.
#[test]
fn sources_and_their_fetch_state_behave_alike_on_both_engines() {
    use syndic::config::Config;
    use syndic::model::Validators;
    use syndic::store::{FetchRecord, FetchStatus};
    let Some(db) = TestDb::create("sources") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = |urls: &[(&str, &str)]| {
        let mut text = String::from("[[section]]\nid = \"world\"\ntitle = \"World\"\n");
        for (name, url) in urls {
            text += &format!(
                "[[source]]\nname = \"{name}\"\nurl = \"{url}\"\nsections = [\"world\"]\n"
            );
        }
        Config::from_toml(&dir.path().join("feeds.toml"), &text).unwrap()
    };
    let first = config(&[
        ("Wire", "http://127.0.0.1:1/wire.xml"),
        ("Desk", "http://127.0.0.1:1/desk.xml"),
        ("Old", "http://127.0.0.1:1/old.xml"),
    ]);
    // Old leaves the config; Desk moves to a new URL (its fetch state starts afresh).
    let second = config(&[
        ("Wire", "http://127.0.0.1:1/wire.xml"),
        ("Desk", "http://LocalHost:1/desk2.xml"),
    ]);
    let at = Utc::now();
    let ok = FetchRecord {
        validators: Some(Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Wed, 02 Dec 2026 10:00:00 GMT".into()),
        }),
        body_hash: Some("abc".into()),
        feed_title: Some("The Wire".into()),
        next_check_at: Some(at + Duration::minutes(15)),
        hint_secs: Some(900),
        ..FetchRecord::ok(at)
    };
    let failed = FetchRecord::error(at, "fetch: timed out after 5s".into());
    let gone = FetchRecord {
        gone: true,
        ..FetchRecord::error(at, "410 Gone".into())
    };

    // Each step's answer, as text, per engine.
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&lite_dir.path().join("s.db")).unwrap();
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    let pgs = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    let mut answers: Vec<Vec<String>> = Vec::new();
    for engine in 0..2 {
        let mut said = Vec::new();
        let ids = if engine == 0 {
            lite.sync_sources(&first.sources).unwrap()
        } else {
            pgs.sync_sources(&first.sources).unwrap()
        };
        let (wire, desk, old) = (ids["Wire"], ids["Desk"], ids["Old"]);
        let record = |id: i64, rec: &FetchRecord| {
            if engine == 0 {
                lite.record_fetch(id, rec).unwrap()
            } else {
                pgs.record_fetch(id, rec).unwrap()
            }
        };
        record(wire, &ok);
        record(desk, &ok);
        record(desk, &failed);
        record(desk, &failed);
        record(old, &gone);
        let state = |id: i64| {
            let s = if engine == 0 {
                lite.source_state(id).unwrap()
            } else {
                pgs.source_state(id).unwrap()
            };
            format!("{s:?}")
        };
        said.push(state(wire));
        said.push(state(desk));
        let checks = |said: &mut Vec<String>| {
            let mut c = if engine == 0 {
                lite.next_checks().unwrap()
            } else {
                pgs.next_checks().unwrap()
            };
            c.sort();
            said.push(format!(
                "{:?}",
                c.iter()
                    .map(|(id, t)| (*id == wire, t.map(|t| t.timestamp_millis())))
                    .collect::<Vec<_>>()
            ));
        };
        checks(&mut said);
        let health = |said: &mut Vec<String>| {
            let h = if engine == 0 {
                lite.source_health().unwrap()
            } else {
                pgs.source_health().unwrap()
            };
            said.push(serde_json::to_string(&h).unwrap());
        };
        health(&mut said);
        let again = if engine == 0 {
            lite.sync_sources(&second.sources).unwrap()
        } else {
            pgs.sync_sources(&second.sources).unwrap()
        };
        assert_eq!(again["Desk"], desk, "a moved source keeps its id");
        said.push(state(desk));
        health(&mut said);
        answers.push(said);
    }
    assert_eq!(answers[0], answers[1]);
    // Each source's host is written with its URL, lower-case, on both engines (claims count by it).
    let lite_hosts: Vec<(String, String)> =
        rusqlite::Connection::open(lite_dir.path().join("s.db"))
            .unwrap()
            .prepare("SELECT name, host FROM sources ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let pg_hosts: Vec<(String, String)> = postgres::Client::connect(&db.url, postgres::NoTls)
        .unwrap()
        .query("SELECT name, host FROM sources ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want = |n: &str, h: &str| (n.to_string(), h.to_string());
    assert_eq!(
        lite_hosts,
        [
            want("Desk", "localhost"),
            want("Old", "127.0.0.1"),
            want("Wire", "127.0.0.1")
        ]
    );
    assert_eq!(pg_hosts, lite_hosts);
    // And they say what they should (not merely the same thing twice).
    let health: serde_json::Value = serde_json::from_str(answers[0].last().unwrap()).unwrap();
    let by_name = |n: &str| {
        health
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("Wire")["state"], "ok");
    assert_eq!(
        by_name("Desk")["error_streak"],
        0,
        "a new URL starts afresh"
    );
    let moved = &answers[0][answers[0].len() - 2];
    assert!(
        moved.contains("etag: None") && moved.contains("body_hash: None"),
        "{moved}"
    );
    assert_eq!(by_name("Old")["active"], false);
    assert_eq!(by_name("Old")["state"], "gone");
    assert!(
        answers[0][1].contains("error_streak: 2"),
        "{}",
        answers[0][1]
    );
    let _ = FetchStatus::Ok;
}

/// Models, training examples and retention, run alike on a store of each engine over the same rows.
#[test]
fn models_examples_and_retention_behave_alike_on_both_engines() {
    let Some(db) = TestDb::create("retention") else {
        return;
    };
    // Two sources; three stories: one old (both items 40 days old), one recent, one mixed (an old and
    // a recent item: kept, its newest item counts). Sections from a rule, a source and the tagger.
    let day = 86_400_000i64;
    let now = Utc::now();
    let t = now.timestamp_millis();
    let rows = format!(
        "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/'), (2, 'b', 'http://b.invalid/');
         INSERT INTO stories (id, uid, first_seen, published, updated) VALUES
             (1, 'old', {old}, {old}, {old}), (2, 'new', {t}, {t}, {t}), (3, 'mixed', {old}, {old}, {old});
         INSERT INTO items (id, source_id, key, story_id, title, title_fp, summary, first_seen, changed_at) VALUES
             (1, 1, 'k1', 1, 'Old news one', '', 'Old summary', {old}, {old}),
             (2, 2, 'k2', 1, 'Old news two', '', '', {old}, {old}),
             (3, 1, 'k3', 2, 'Tokyo stocks close at a record high', '', 'Markets', {t}, {t}),
             (4, 1, 'k4', 3, 'Mixed story starts', '', '', {old}, {old}),
             (5, 2, 'k5', 3, 'Mixed story goes on', '', '', {t}, {t});
         INSERT INTO story_sections (story_id, section, origin) VALUES
             (1, 'world', 'keyword:news'), (2, 'asia', 'source:a'), (2, 'business', 'learned:0.93'),
             (3, 'world', 'regex:Mixed');",
        old = t - 40 * day,
    );
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&lite_dir.path().join("r.db")).unwrap();
    rusqlite::Connection::open(lite_dir.path().join("r.db"))
        .unwrap()
        .execute_batch(&rows)
        .unwrap();
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    pg.batch(&rows).unwrap();
    let pgs = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();

    let trained = now - Duration::hours(1);
    let model = b"syndicM1\x00\x01binary\xffmodel".to_vec();
    let mut answers = Vec::new();
    for engine in 0..2 {
        let mut said = Vec::new();
        let examples = if engine == 0 {
            lite.save_model("sections", trained, 2, 3, &model).unwrap();
            lite.save_model("sections", trained, 3, 3, &model).unwrap();
            (
                lite.tagged_stories(10).unwrap(),
                lite.load_model("sections").unwrap(),
            )
        } else {
            pgs.save_model("sections", trained, 2, 3, &model).unwrap();
            pgs.save_model("sections", trained, 3, 3, &model).unwrap();
            (
                pgs.tagged_stories(10).unwrap(),
                pgs.load_model("sections").unwrap(),
            )
        };
        said.push(format!("{:?}", examples.0));
        let stored = examples.1.expect("a stored model");
        assert_eq!(stored.data, model);
        assert_eq!(stored.examples, 3, "saving again replaces");
        said.push(format!(
            "{:?}",
            (
                stored.trained_at.timestamp_millis(),
                stored.examples,
                stored.stories_at
            )
        ));
        let pruned = if engine == 0 {
            lite.prune(now - Duration::days(30), now - Duration::days(90), now, 500)
                .unwrap()
        } else {
            pgs.prune(now - Duration::days(30), now - Duration::days(90), now, 500)
                .unwrap()
        };
        said.push(format!("{pruned:?}"));
        // Tombstones then expire after their own period.
        let expired = if engine == 0 {
            lite.prune(now - Duration::days(30), now + Duration::days(1), now, 500)
                .unwrap()
        } else {
            pgs.prune(now - Duration::days(30), now + Duration::days(1), now, 500)
                .unwrap()
        };
        said.push(format!("{expired:?}"));
        answers.push(said);
    }
    assert_eq!(answers[0], answers[1]);
    // What they say: the learned tag is no example; the old story goes with both its items.
    assert!(!answers[0][0].contains("Learned"), "{}", answers[0][0]);
    assert!(answers[0][0].contains("Tokyo stocks"), "{}", answers[0][0]);
    assert_eq!(
        answers[0][2],
        "Pruned { stories: 1, items: 2, tombstones_expired: 0 }"
    );
    assert_eq!(
        answers[0][3],
        "Pruned { stories: 0, items: 0, tombstones_expired: 2 }"
    );
}

/// Story reads, top views, tag counts and a retag after a rule change, alike on both engines.
#[test]
fn story_reads_and_retagging_behave_alike_on_both_engines() {
    use syndic::config::Config;
    use syndic::store::TopQuery;
    use syndic::tag::rules::Tagger;
    let Some(db) = TestDb::create("reads") else {
        return;
    };
    let now = Utc::now();
    let t = now.timestamp_millis();
    let h = 3_600_000i64;
    // Three stories: a joined one reported by two sources (with a near miss recorded), and two alone.
    let rows = format!(
        "INSERT INTO sources (id, name, url) VALUES (1, 'Wire', 'http://a.invalid/'), (2, 'Desk', 'http://b.invalid/');
         INSERT INTO stories (id, uid, first_seen, published, updated, event_lo, event_hi) VALUES
             (1, 'u1', {t2}, {t2}, {t2}, {t2}, {t2}), (2, 'u2', {t1}, {t1}, {t1}, {t1}, {t1}),
             (3, 'u3', {t}, {t}, {t}, {t}, {t});
         INSERT INTO items (id, source_id, key, story_id, url, title, title_fp, summary, categories,
                            published, first_seen, changed_at, match_reason, match_score, match_item,
                            title_rep, enclosures, miss_item, miss_score, miss_reason) VALUES
             (1, 1, 'k1', 1, 'https://a.example/1', 'Ceasefire talks resume in Geneva', 'f1', 'Talks.',
              '[\"Politics\"]', {t2}, {t2}, {t2}, 'new', NULL, NULL, 1, '[]', NULL, NULL, NULL),
             (2, 2, 'k2', 1, 'https://b.example/2', 'Ceasefire talks restart in Geneva', 'f2', '',
              '[]', {t2}, {t2}, {t1}, 'similar', 0.8125, 1, 1,
              '[{{\"url\":\"https://b.example/a.mp3\",\"mime_type\":\"audio/mpeg\",\"length\":12}}]',
              NULL, NULL, NULL),
             (3, 1, 'k3', 2, 'https://a.example/3', 'Tokyo stocks close at a record high', 'f3', 'Markets.',
              '[]', NULL, {t1}, {t1}, 'new', NULL, NULL, 1, '[]', NULL, NULL, NULL),
             (4, 2, 'k4', 3, NULL, 'Quake hits northern Japan coast', 'f4', '', '[]', {t}, {t}, {t},
              'new', NULL, NULL, 1, '[]', 3, 0.71875, 'different places: japan / chile');
         INSERT INTO story_sections (story_id, section, origin) VALUES
             (1, 'world', 'source:Wire'), (2, 'business', 'keyword:stocks'), (3, 'asia', 'learned:0.91');",
        t1 = t - h,
        t2 = t - 2 * h,
    );
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&lite_dir.path().join("r.db")).unwrap();
    rusqlite::Connection::open(lite_dir.path().join("r.db"))
        .unwrap()
        .execute_batch(&rows)
        .unwrap();
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    pg.batch(&rows).unwrap();
    let pgs = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    // A rule that now puts Tokyo in asia too.
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        &dir.path().join("feeds.toml"),
        "[[section]]\nid = \"world\"\ntitle = \"World\"\n[[section]]\nid = \"asia\"\ntitle = \"Asia\"\nkeywords = [\"Tokyo\", \"Japan\"]\n[[section]]\nid = \"business\"\ntitle = \"Business\"\nkeywords = [\"stocks\"]\n[[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\nsections = [\"world\"]\n[[source]]\nname = \"Desk\"\nurl = \"http://b.invalid/\"\n",
    )
    .unwrap();
    let tagger = std::sync::Arc::new(Tagger::new(&config.sections, &config.sources));
    let top = Some(TopQuery { now, hours: 24 });
    let mut answers = Vec::new();
    for engine in 0..2 {
        let json = |v: Vec<syndic::store::Story>| serde_json::to_string(&v).unwrap();
        let said: Vec<String> = if engine == 0 {
            vec![
                json(lite.stories(None, 10).unwrap()),
                json(lite.stories(Some("world"), 10).unwrap()),
                json(lite.stories_page(None, 1, 1).unwrap()),
                json(lite.stories_by(None, 10, top).unwrap()),
                format!("{:?}", lite.tags_by_origin().unwrap()),
                format!(
                    "{:?}",
                    (lite.counts().unwrap(), lite.last_story_id().unwrap())
                ),
                format!(
                    "{:?}",
                    lite.retag_since(now - chrono::Duration::hours(3), &tagger)
                        .unwrap()
                ),
                json(lite.stories(None, 10).unwrap()),
            ]
        } else {
            vec![
                json(pgs.stories(None, 10).unwrap()),
                json(pgs.stories(Some("world"), 10).unwrap()),
                json(pgs.stories_page(None, 1, 1).unwrap()),
                json(pgs.stories_by(None, 10, top).unwrap()),
                format!("{:?}", pgs.tags_by_origin().unwrap()),
                format!(
                    "{:?}",
                    (pgs.counts().unwrap(), pgs.last_story_id().unwrap())
                ),
                format!(
                    "{:?}",
                    pgs.retag_since(now - chrono::Duration::hours(3), &tagger)
                        .unwrap()
                ),
                json(pgs.stories(None, 10).unwrap()),
            ]
        };
        answers.push(said);
    }
    for (n, (a, b)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(a, b, "answer {n} differs");
    }
    let first: serde_json::Value = serde_json::from_str(&answers[0][0]).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 3);
    let joined = &first[2]["items"][1];
    assert_eq!(joined["joined"]["reason"], "similar", "{first:#}");
    assert_eq!(
        first[0]["items"][0]["refused"]["reason"],
        "different places: japan / chile"
    );
    assert_eq!(
        answers[0][4],
        "[(\"keyword\", 1), (\"learned\", 1), (\"source\", 1)]"
    );
    assert!(
        answers[0][6].contains("asia"),
        "the retag put Tokyo in asia: {}",
        answers[0][6]
    );
}

/// An entry key that PostgreSQL's reads ahead write into their statements as a literal (see
/// `sql::inline`): quotes, backslashes, placeholders and an escape-string opener.
const HOSTILE_KEY: &str = "w3 ' '' \\' \\\\ ?1 ?2 $1 E'x' \\x00 ü";

/// One refresh after another applied to a store of each engine: the same decisions (URL, headline,
/// similar-title joins, a look-alike kept apart, an edited entry), the same stats, the same stories;
/// the entry keyed by [`HOSTILE_KEY`] is found again when its source is refreshed (nothing doubled).
#[test]
fn refreshes_cluster_alike_on_both_engines() {
    use syndic::config::Config;
    use syndic::model::Item;
    use syndic::tag::rules::Tagger;
    let Some(db) = TestDb::create("apply") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        &dir.path().join("feeds.toml"),
        "[[section]]\nid = \"world\"\ntitle = \"World\"\n[[section]]\nid = \"asia\"\ntitle = \"Asia\"\nkeywords = [\"Japan\"]\n\
         [[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\nsections = [\"world\"]\n\
         [[source]]\nname = \"Desk\"\nurl = \"http://b.invalid/\"\n\
         [[source]]\nname = \"Post\"\nurl = \"http://c.invalid/\"\n",
    )
    .unwrap();
    let tagger = std::sync::Arc::new(Tagger::new(&config.sections, &config.sources));
    let now = Utc::now();
    let item = |key: &str, title: &str, url: &str, hours_ago: i64| Item {
        key: key.into(),
        guid: Some(key.into()),
        url: Some(url.into()),
        title: title.into(),
        summary: format!("About: {title}."),
        content_html: None,
        author: None,
        categories: vec!["News".into()],
        enclosures: vec![],
        image: None,
        published: Some(now - Duration::hours(hours_ago)),
        updated: None,
    };
    let refreshes: Vec<(&str, Vec<Item>)> = vec![
        (
            "Wire",
            vec![
                item(
                    "w1",
                    "Ceasefire talks resume in Geneva after weeks of fighting",
                    "https://wire.example/1",
                    3,
                ),
                item(
                    "w2",
                    "Strong earthquake hits northern Japan coast",
                    "https://wire.example/2",
                    2,
                ),
                item(
                    HOSTILE_KEY,
                    "Central bank holds rates steady as inflation cools",
                    "https://wire.example/3?q='a\\b'",
                    1,
                ),
            ],
        ),
        (
            "Desk",
            vec![
                // Same URL as w1, another headline: joins by URL.
                item("d1", "Geneva: talks back on", "https://wire.example/1", 3),
                // A similar headline about the same quake: joins by similarity.
                item(
                    "d2",
                    "Strong earthquake strikes northern Japan coast",
                    "https://desk.example/2",
                    2,
                ),
                // A look-alike about another country: kept apart.
                item(
                    "d3",
                    "Strong earthquake hits northern Chile coast",
                    "https://desk.example/3",
                    2,
                ),
            ],
        ),
        (
            "Post",
            vec![
                // The same headline as w3: joins by title.
                item(
                    "p1",
                    "Central bank holds rates steady as inflation cools",
                    "https://post.example/1",
                    1,
                ),
            ],
        ),
        (
            "Wire",
            vec![
                // w2 edited in place; w1 and w3 unchanged.
                item(
                    "w1",
                    "Ceasefire talks resume in Geneva after weeks of fighting",
                    "https://wire.example/1",
                    3,
                ),
                item(
                    "w2",
                    "Strong earthquake hits northern Japan coast, tsunami warning issued",
                    "https://wire.example/2",
                    2,
                ),
                item(
                    HOSTILE_KEY,
                    "Central bank holds rates steady as inflation cools",
                    "https://wire.example/3?q='a\\b'",
                    1,
                ),
            ],
        ),
    ];
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&lite_dir.path().join("a.db")).unwrap();
    let pg = Pg::connect(&db.url).unwrap();
    pg.migrate().unwrap();
    let pgs = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    let lite_ids = lite.sync_sources(&config.sources).unwrap();
    let pg_ids = pgs.sync_sources(&config.sources).unwrap();
    let mut answers: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for (name, items) in &refreshes {
        for (engine, said) in answers.iter_mut().enumerate() {
            let source_id = if engine == 0 {
                lite_ids[*name]
            } else {
                pg_ids[*name]
            };
            let input = refresh_input(source_id, items, now, &tagger);
            let stats = if engine == 0 {
                lite.apply_refresh(&input).unwrap()
            } else {
                pgs.apply_refresh(&input).unwrap()
            };
            said.push(format!("{stats:?}"));
        }
    }
    for (engine, said) in answers.iter_mut().enumerate() {
        let stories = if engine == 0 {
            lite.stories(None, 50).unwrap()
        } else {
            pgs.stories(None, 50).unwrap()
        };
        said.push(serde_json::to_string_pretty(&stories).unwrap());
    }
    for (n, (a, b)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(a, b, "answer {n} differs");
    }
    // The same refreshes applied together, in one transaction (as a node's queue applies those that
    // wait together): each later one decides with what the earlier ones wrote and started, so every
    // answer is the one they gave applied one by one.
    let together_db = TestDb::create("apply_together").unwrap();
    let together = Store::open_postgres(&together_db.url, Duration::hours(48)).unwrap();
    let ids = together.sync_sources(&config.sources).unwrap();
    let inputs: Vec<_> = refreshes
        .iter()
        .map(|(name, items)| refresh_input(ids[*name], items, now, &tagger))
        .collect();
    let mut said: Vec<String> = together
        .apply_refreshes(&inputs)
        .into_iter()
        .map(|stats| format!("{:?}", stats.unwrap()))
        .collect();
    said.push(serde_json::to_string_pretty(&together.stories(None, 50).unwrap()).unwrap());
    for (n, (a, b)) in answers[0].iter().zip(&said).enumerate() {
        assert_eq!(
            a, b,
            "answer {n} differs when the refreshes are applied together"
        );
    }
    assert_eq!(said.len(), answers[0].len());
    assert_eq!(together.index_len(), pgs.index_len());
    let stories: serde_json::Value = serde_json::from_str(answers[0].last().unwrap()).unwrap();
    let reasons: Vec<String> = stories
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap().clone())
        .filter_map(|i| i["joined"]["reason"].as_str().map(str::to_string))
        .collect();
    let mut reasons = reasons;
    reasons.sort();
    assert_eq!(reasons, ["similar", "title", "url"], "{stories:#}");
    assert_eq!(
        stories.as_array().unwrap().len(),
        4,
        "Chile kept apart: {stories:#}"
    );
    assert!(
        answers[0].last().unwrap().contains("different places"),
        "the refusal is recorded"
    );
    assert!(
        answers[1][3].contains("new_items: 0, updated_items: 1"),
        "{}",
        answers[1][3]
    );
    assert!(
        answers[0][3].contains("updated_items: 1"),
        "{}",
        answers[0][3]
    );
}

/// One node on PostgreSQL, the way users run it: `[storage] url` in feeds.toml, then `syndic check`,
/// `syndic poll`, `syndic stories` and `syndic run` serving the feeds; the stories are the ones the
/// same feeds make on SQLite.
#[test]
fn one_node_runs_on_postgresql_as_it_does_on_sqlite() {
    use crate::support::{Env, RunningDaemon, get};
    let Some(db) = TestDb::create("node") else {
        return;
    };
    let (_server, sources) = two_desks(false);
    let lite = Env::new(&sources);
    let on_pg = Env::new(&sources);
    on_postgres(&on_pg, &db.url);

    let check = on_pg.ok(&["check"]);
    assert!(check.contains("PostgreSQL 1"), "{check}");
    assert!(check.contains("creates the schema"), "{check}");
    lite.ok(&["poll"]);
    let polled = on_pg.ok(&["poll"]);
    assert!(
        polled.contains("store holds 4 items in 3 stories"),
        "{polled}"
    );
    assert!(
        !on_pg.path("test.db").exists(),
        "no SQLite file on PostgreSQL"
    );
    assert!(on_pg.ok(&["check"]).contains("schema up to date"));
    let (a, b) = (lite.stories("all"), on_pg.stories("all"));
    // The same clusters (the two sources are polled concurrently, so which one stored a story first,
    // and so the order of stories seen in the same poll, may differ between the runs).
    let clusters = |s: &[serde_json::Value]| {
        let mut c: Vec<Vec<String>> = s
            .iter()
            .map(|s| {
                let mut t: Vec<String> = s["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["title"].as_str().unwrap().to_string())
                    .collect();
                t.sort();
                t
            })
            .collect();
        c.sort();
        c
    };
    assert_eq!(clusters(&b), clusters(&a));
    assert_eq!(clusters(&b).len(), 3, "{:?}", clusters(&b));
    let out = on_pg.syndic(&["backup", on_pg.path("b.db").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));

    let mut node = RunningDaemon::spawn(&on_pg.config_path());
    let (status, body) = get(node.addr, "/feeds/all.rss");
    assert_eq!(status, 200);
    assert!(body.contains("Strong earthquake"), "{body}");
    let _ = node.child.kill();
}

/// A manual `syndic poll` on a database that nodes poll leaves a source another node is fetching to
/// it (with a line saying so), leases the ones it polls while it polls them, and gives them back.
#[test]
fn a_manual_poll_respects_the_nodes_leases() {
    use crate::support::Env;
    let Some(db) = TestDb::create("pollease") else {
        return;
    };
    let (server, sources) = two_desks(false);
    let env = Env::new(&sources);
    on_postgres(&env, &db.url);
    env.ok(&["check"]);
    env.ok(&["poll"]);
    assert_eq!(server.requests("/wire.xml").len(), 1);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let until = Utc::now().timestamp_millis() + 600_000;
    c.execute(
        "UPDATE sources SET lease_node = 'other:42', lease_until = $1 WHERE name = 'Wire'",
        &[&until],
    )
    .unwrap();
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("held     Wire: node other:42 holds its lease"),
        "{out}"
    );
    assert!(out.contains("polled 1 sources"), "{out}");
    assert_eq!(
        server.requests("/wire.xml").len(),
        1,
        "Wire left to its node"
    );
    assert_eq!(server.requests("/desk.xml").len(), 2);
    let leases: Vec<(String, Option<String>)> = c
        .query("SELECT name, lease_node FROM sources ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        leases,
        vec![
            ("Desk".to_string(), None),
            ("Wire".to_string(), Some("other:42".to_string()))
        ],
        "the poll gave its lease back and left the node's alone"
    );
    let out = env.ok(&["poll", "--force"]);
    assert!(out.contains("polled 2 sources"), "{out}");
    assert_eq!(server.requests("/wire.xml").len(), 2);
}

/// Items fingerprinted by an older title normalization are fingerprinted again when a node opens the
/// database, as on SQLite, so exact-title joins keep meeting them.
#[test]
fn stale_title_fingerprints_are_recomputed_on_open() {
    use crate::support::Env;
    let Some(db) = TestDb::create("refp") else {
        return;
    };
    let (_server, sources) = two_desks(false);
    let env = Env::new(&sources);
    on_postgres(&env, &db.url);
    env.ok(&["poll"]);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let fps = |c: &mut postgres::Client| -> Vec<(String, String, String, i64)> {
        c.query(
            "SELECT key, title, title_fp, fp_version FROM items ORDER BY key",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
    };
    let before = fps(&mut c);
    assert!(
        before.iter().all(|(_, _, fp, _)| !fp.is_empty()),
        "{before:?}"
    );
    c.batch_execute(
        "UPDATE items SET title_fp = 'stale', fp_version = 0 WHERE key = 'w1';
         UPDATE meta SET value = 0 WHERE key = 'fingerprint_version';",
    )
    .unwrap();
    let _store = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    let after = fps(&mut c);
    assert_eq!(after, before, "recomputed as stored");
    for (_, title, fp, version) in &after {
        assert_eq!(fp, &syndic::dedupe::title_fingerprint(title));
        assert_eq!(*version, syndic::dedupe::FINGERPRINT_VERSION);
    }
    let v: i64 = c
        .query_one(
            "SELECT value FROM meta WHERE key = 'fingerprint_version'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(v, syndic::dedupe::FINGERPRINT_VERSION);
}

/// The same stored state gives the same bytes and ETags whichever engine holds it: an SQLite store
/// copied into PostgreSQL by `syndic migrate`, then each served by its own `syndic run`.
#[test]
fn the_same_stored_state_serves_the_same_bytes_and_etags_on_both_engines() {
    use crate::support::{Env, RunningDaemon};
    let Some(db) = TestDb::create("bytes") else {
        return;
    };
    let (server, sources) = two_desks(true);
    let lite = Env::new(&sources);
    lite.ok(&["poll"]);
    lite.ok(&["migrate", "--to", &db.url]);
    let on_pg = Env::new(&sources);
    on_postgres(&on_pg, &db.url);
    // Both daemons stop polling (the fixture server is gone) so the stored state stays the same.
    drop(server);
    let a = RunningDaemon::spawn(&lite.config_path());
    let b = RunningDaemon::spawn(&on_pg.config_path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for path in [
        "/feeds/all.rss",
        "/feeds/all.atom",
        "/feeds/all.json",
        "/feeds/asia.rss",
        "/feeds/world.atom",
    ] {
        let get = |addr: std::net::SocketAddr| {
            rt.block_on(async {
                let r = client
                    .get(format!("http://{addr}{path}"))
                    .send()
                    .await
                    .unwrap();
                let etag = r.headers()["etag"].to_str().unwrap().to_string();
                (r.status().as_u16(), etag, r.bytes().await.unwrap())
            })
        };
        let (sa, ea, ba) = get(a.addr);
        let (sb, eb, bb) = get(b.addr);
        assert_eq!((sa, sb), (200, 200), "{path}");
        assert_eq!(ea, eb, "{path}: ETags differ");
        assert_eq!(ba, bb, "{path}: bodies differ");
        assert!(
            String::from_utf8_lossy(&ba).contains("earthquake"),
            "{path}"
        );
    }
}

/// Two sources on a fixture server (Wire, and Desk with a look-alike of Wire's quake story), and their
/// `[[source]]` tables; `more` adds a third Wire story.
fn two_desks(more: bool) -> (crate::support::FixtureServer, String) {
    use crate::support::{FixtureServer, Route, rss_feed, source};
    let server = FixtureServer::start();
    let mut wire = vec![
        (
            "w1",
            "Ceasefire talks resume in Geneva after weeks of fighting",
            "https://wire.example/1",
        ),
        (
            "w2",
            "Strong earthquake hits northern Japan coast",
            "https://wire.example/2",
        ),
    ];
    if more {
        wire.push((
            "w3",
            "Central bank holds rates steady as inflation cools",
            "https://wire.example/3",
        ));
    }
    server.set("/wire.xml", Route::rss(rss_feed("Wire", &wire)));
    server.set(
        "/desk.xml",
        Route::rss(rss_feed(
            "Desk",
            &[
                (
                    "d1",
                    "Strong earthquake strikes northern Japan coast",
                    "https://desk.example/1",
                ),
                (
                    "d2",
                    "Strong earthquake hits northern Chile coast",
                    "https://desk.example/2",
                ),
            ],
        )),
    );
    let sources = source("Wire", &server.url("/wire.xml"), &["world"])
        + &source("Desk", &server.url("/desk.xml"), &["asia"]);
    (server, sources)
}

/// Points an environment's config at the PostgreSQL database `url` (`[storage] url`).
pub(crate) fn on_postgres(env: &crate::support::Env, url: &str) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let text = text.replace(
        "database = \"test.db\"",
        &format!("database = \"test.db\"\nurl = \"{url}\""),
    );
    std::fs::write(env.config_path(), text).unwrap();
}

/// Two nodes (two stores, each with its own connection and similarity index) on one database: a
/// story stored by one is met by the other's next decision, and two nodes storing the same story at
/// the same moment make one story.
#[test]
fn two_nodes_on_one_database_make_one_story_of_one_event() {
    use syndic::config::Config;
    use syndic::model::Item;
    use syndic::tag::rules::Tagger;
    let Some(db) = TestDb::create("nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[[section]]\nid = \"world\"\ntitle = \"World\"\n");
    for n in 0..8 {
        text += &format!("[[source]]\nname = \"S{n}\"\nurl = \"http://{n}.invalid/\"\n");
    }
    let config = Config::from_toml(&dir.path().join("feeds.toml"), &text).unwrap();
    let tagger = std::sync::Arc::new(Tagger::new(&config.sections, &config.sources));
    let window = Duration::hours(48);
    let a = Store::open_postgres(&db.url, window).unwrap();
    let b = Store::open_postgres(&db.url, window).unwrap();
    let ids = a.sync_sources(&config.sources).unwrap();
    let now = Utc::now();
    let item = |key: String, title: &str| {
        Item::headline(&key, title, None, Some(now - Duration::hours(1)))
    };
    let apply = |store: &Store, source: usize, items: &[Item]| {
        store
            .apply_refresh(&refresh_input(
                ids[&format!("S{source}")],
                items,
                now,
                &tagger,
            ))
            .unwrap()
    };
    // Node a stores a story; node b's next refresh meets it by similarity (b's index learned it
    // from the log), then a meets b's join.
    apply(
        &a,
        0,
        &[item(
            "a1".into(),
            "Volcano erupts on remote Pacific island, flights cancelled",
        )],
    );
    let joined = apply(
        &b,
        1,
        &[item(
            "b1".into(),
            "Volcano erupts on remote Pacific island as flights are cancelled",
        )],
    );
    assert_eq!((joined.joined, joined.new_stories), (1, 0), "{joined:?}");
    let again = apply(
        &a,
        2,
        &[item(
            "a2".into(),
            "Remote Pacific island volcano erupts, flights cancelled",
        )],
    );
    assert_eq!(again.joined, 1, "{again:?}");

    // The same headlines from different sources, stored by both nodes at once, many times over.
    for round in 0..20 {
        let title = format!(
            "Parliament passes budget bill number {round} after marathon overnight session"
        );
        let (ta, tb) = (
            item(format!("x{round}"), &title),
            item(format!("y{round}"), &title),
        );
        std::thread::scope(|s| {
            s.spawn(|| apply(&a, 3 + round % 2, std::slice::from_ref(&ta)));
            s.spawn(|| apply(&b, 5 + round % 3, std::slice::from_ref(&tb)));
        });
    }
    let stories = a.stories(None, 100).unwrap();
    let budget: Vec<usize> = stories
        .iter()
        .filter(|s| s.lead().title.starts_with("Parliament"))
        .map(|s| s.items.len())
        .collect();
    assert_eq!(budget, vec![2; 20], "each round is one story of two items");
    assert_eq!(stories.len(), 21);
    // Both nodes serve the same stories.
    let json = |s: &Store| serde_json::to_string(&s.stories(None, 100).unwrap()).unwrap();
    assert_eq!(json(&a), json(&b));
}

/// A refresh of `items` from one source, polled at `now`, under the default dedupe settings (a 48 h
/// window, threshold 0.5, every look-alike rule).
fn refresh_input(
    source_id: i64,
    items: &[syndic::model::Item],
    now: chrono::DateTime<Utc>,
    tagger: &std::sync::Arc<syndic::tag::rules::Tagger>,
) -> syndic::store::RefreshInput {
    syndic::store::RefreshInput {
        source_id,
        items: items.to_vec(),
        now,
        window: Duration::hours(48),
        threshold: 0.5,
        decay_hours: 24.0,
        title_dedupe: true,
        similarity: true,
        veto: syndic::dedupe::VetoRules::ALL,
        tagger: tagger.clone(),
        fetch: syndic::store::FetchRecord::ok(now),
    }
}

/// Pins on both engines: the same must-reads in the same order, the same listing, and retention keeps
/// a live pin's story and lets an expired one's go, its pin with it.
#[test]
fn pins_behave_alike_on_both_engines() {
    use syndic::config::Config;
    use syndic::model::Item;
    use syndic::tag::rules::Tagger;
    let Some(db) = TestDb::create("pins") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        &dir.path().join("feeds.toml"),
        "[[section]]\nid = \"world\"\ntitle = \"World\"\n\
         [[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\nsections = [\"world\"]\n",
    )
    .unwrap();
    let tagger = std::sync::Arc::new(Tagger::new(&config.sections, &config.sources));
    let now = Utc::now();
    let item = |key: &str, title: &str| {
        let url = Some(format!("https://wire.example/{key}"));
        Item::headline(key, title, url, Some(now - Duration::hours(1)))
    };
    let items = vec![
        item("a", "Harbour strike ends after talks"),
        item("b", "Rail fares rise in the spring"),
        item("c", "Glacier retreat speeds up"),
    ];
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&lite_dir.path().join("p.db")).unwrap();
    Pg::connect(&db.url).unwrap().migrate().unwrap();
    let pgs = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
    let mut said: Vec<Vec<String>> = Vec::new();
    for store in [&lite, &pgs] {
        let ids = store.sync_sources(&config.sources).unwrap();
        store
            .apply_refresh(&refresh_input(ids["Wire"], &items, now, &tagger))
            .unwrap();
        let id = |title: &str| {
            store
                .stories(None, 10)
                .unwrap()
                .iter()
                .find(|s| s.items[0].title == title)
                .unwrap()
                .id
        };
        let (a, b, c) = (
            id("Harbour strike ends after talks"),
            id("Rail fares rise in the spring"),
            id("Glacier retreat speeds up"),
        );
        assert_eq!(store.find_story(&a.to_string()).unwrap().unwrap().0, a);
        store.pin(a, now, None, "for good").unwrap();
        store
            .pin(
                b,
                now + Duration::seconds(1),
                Some(now + Duration::days(1)),
                "",
            )
            .unwrap();
        store
            .pin(
                c,
                now + Duration::seconds(2),
                Some(now + Duration::seconds(3)),
                "",
            )
            .unwrap();
        let titles = |at| -> Vec<String> {
            store
                .pinned_stories(at, 10)
                .unwrap()
                .iter()
                .map(|(s, _)| s.items[0].title.clone())
                .collect()
        };
        let mut out = vec![
            format!("{:?}", titles(now)),
            format!("{:?}", titles(now + Duration::seconds(10))),
        ];
        let later = now + Duration::seconds(10);
        let far = now + Duration::days(3650);
        store.prune(far, far, later, 100).unwrap();
        out.push(format!(
            "{:?}",
            store
                .pins()
                .unwrap()
                .iter()
                .map(|p| (p.title.clone(), p.note.clone(), p.live(later)))
                .collect::<Vec<_>>()
        ));
        assert!(store.unpin(a).unwrap());
        assert!(!store.unpin(a).unwrap());
        out.push(format!("{:?}", titles(later)));
        said.push(out);
    }
    assert_eq!(said[0], said[1]);
    assert_eq!(
        said[0][0],
        r#"["Glacier retreat speeds up", "Rail fares rise in the spring", "Harbour strike ends after talks"]"#
    );
    assert_eq!(
        said[0][1],
        r#"["Rail fares rise in the spring", "Harbour strike ends after talks"]"#
    );
    assert_eq!(
        said[0][2],
        r#"[("Rail fares rise in the spring", "", true), ("Harbour strike ends after talks", "for good", true)]"#
    );
    assert_eq!(said[0][3], r#"["Rail fares rise in the spring"]"#);
}

/// The last writes of a refresh go with its COMMIT: when one of them fails there, the whole refresh
/// is rolled back (no item, story or index-log entry stored) and the node's similarity index does not
/// learn the stories that were never stored, so the next refresh is decided against what is stored.
#[test]
fn a_refresh_whose_commit_fails_leaves_nothing_behind() {
    let Some(v) = Volcano::new("commitfail") else {
        return;
    };
    let mut admin = postgres::Client::connect(&v.db.url, postgres::NoTls).unwrap();
    // The fetch record, written with the commit, is refused by the server.
    admin
        .batch_execute("ALTER TABLE sources ADD CONSTRAINT refuse CHECK (last_status IS NULL)")
        .unwrap();
    let refused = v
        .store
        .apply_refresh(&refresh_input(v.ids["S0"], &v.first, v.now, &v.tagger));
    let error = refused.expect_err("the commit fails").to_string();
    assert!(error.contains("refuse"), "{error}");
    for table in ["items", "stories", "story_sections", "index_log"] {
        assert_eq!(
            count(&mut admin, table),
            0,
            "{table} after the failed commit"
        );
    }
    assert_eq!(v.store.index_len(), 0, "the index did not learn the story");
    admin
        .batch_execute("ALTER TABLE sources DROP CONSTRAINT refuse")
        .unwrap();
    // Nothing to join: the similar headline starts the first story.
    let stats = v
        .store
        .apply_refresh(&refresh_input(v.ids["S1"], &v.similar, v.now, &v.tagger))
        .unwrap();
    assert_eq!((stats.new_stories, stats.joined), (1, 0), "{stats:?}");
    // The refused refresh, tried again, is stored and joins it.
    let stats = v
        .store
        .apply_refresh(&refresh_input(v.ids["S0"], &v.first, v.now, &v.tagger))
        .unwrap();
    assert_eq!((stats.new_stories, stats.joined), (0, 1), "{stats:?}");
    assert_eq!(count(&mut admin, "items"), 2);
    assert_eq!(count(&mut admin, "stories"), 1);
    assert_eq!(count(&mut admin, "index_log"), 2);
}

/// The daemon's way in: refreshes queued at once are applied and each answered (the second joins the
/// story the first started, whichever came first); once the last handle of the store goes, nothing
/// holds its connections open.
#[test]
fn queued_refreshes_are_applied_and_nothing_outlives_the_store() {
    let Some(v) = Volcano::new("queued") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let copy = v.store.clone();
    let (a, b) = runtime.block_on(async {
        tokio::join!(
            v.store
                .apply_queued(refresh_input(v.ids["S0"], &v.first, v.now, &v.tagger)),
            copy.apply_queued(refresh_input(v.ids["S1"], &v.similar, v.now, &v.tagger)),
        )
    });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.new_stories + b.new_stories, 1, "{a:?} {b:?}");
    assert_eq!(a.joined + b.joined, 1, "{a:?} {b:?}");
    let mut admin = postgres::Client::connect(&v.db.url, postgres::NoTls).unwrap();
    assert_eq!(count(&mut admin, "items"), 2);
    assert_eq!(count(&mut admin, "stories"), 1);
    drop(admin);
    assert!(connections(&v.db) >= 1, "the store is connected");
    let Volcano { db, store, .. } = v;
    drop((store, copy));
    crate::support::wait_until("the store's connections to close", || connections(&db) == 0);
}

/// A retag for a tagging fingerprint is skipped when the last one was for the same, unless a refresh
/// tagged by another was stored since (as on SQLite:
/// `service::startup::tests::a_start_retags_only_when_what_tags_stories_changed`).
#[test]
fn a_retag_for_the_same_tagging_is_skipped() {
    let Some(v) = Volcano::new("tagged_by") else {
        return;
    };
    v.store
        .apply_refresh(&refresh_input(v.ids["S0"], &v.first, v.now, &v.tagger))
        .unwrap();
    let since = v.now - Duration::hours(48);
    let retag = |fingerprint| {
        v.store
            .retag_unless_tagged_by(since, &v.tagger, fingerprint)
            .unwrap()
    };
    assert!(retag(7).is_some(), "the first retag runs");
    assert_eq!(retag(7), None, "the same tagging again");
    assert!(retag(-8).is_some(), "other tagging");
    assert_eq!(retag(-8), None);
    // A refresh stored by a tagger with another fingerprint (here none) clears the mark.
    v.store
        .apply_refresh(&refresh_input(v.ids["S1"], &v.similar, v.now, &v.tagger))
        .unwrap();
    assert!(retag(-8).is_some(), "stories tagged otherwise were stored");
    assert_eq!(retag(-8), None);
}

/// Refreshes applied together whose transaction fails are applied one by one: the one that cannot be
/// stored fails alone, the others are stored, and the index (which had learned what the failed
/// transaction wrote) holds only what is stored.
#[test]
fn a_refresh_that_fails_among_others_applied_together_fails_alone() {
    let Some(v) = Volcano::new("together_fail") else {
        return;
    };
    let unrelated = [(v.item)(
        &v.now,
        "x1",
        "Parliament passes the annual budget after a long night",
    )];
    // The second names a source the database does not have: it cannot be stored.
    let results = v.store.apply_refreshes(&[
        refresh_input(v.ids["S0"], &v.first, v.now, &v.tagger),
        refresh_input(
            v.ids["S0"] + v.ids["S1"] + 100,
            &unrelated,
            v.now,
            &v.tagger,
        ),
        refresh_input(v.ids["S1"], &v.similar, v.now, &v.tagger),
    ]);
    assert!(results[1].is_err(), "{results:?}");
    let stats: Vec<_> = [&results[0], &results[2]]
        .iter()
        .map(|r| {
            let s = r.as_ref().unwrap();
            (s.new_stories, s.joined)
        })
        .collect();
    assert_eq!(
        stats,
        [(1, 0), (0, 1)],
        "the similar headline joins the first"
    );
    let mut admin = postgres::Client::connect(&v.db.url, postgres::NoTls).unwrap();
    assert_eq!(count(&mut admin, "items"), 2);
    assert_eq!(count(&mut admin, "stories"), 1);
    assert_eq!(
        v.store.index_len(),
        1,
        "the index holds the stored story only"
    );
    // Each refresh that was stored was logged once, for the other nodes.
    assert_eq!(count(&mut admin, "index_log"), 2);
}

/// Two sources, S0 and S1, on a fresh database, and two headlines of one event a refresh each would
/// bring (`first` from S0, `similar` from S1), for the tests of failed applies.
struct Volcano {
    db: TestDb,
    store: Store,
    ids: std::collections::HashMap<String, i64>,
    tagger: std::sync::Arc<syndic::tag::rules::Tagger>,
    now: chrono::DateTime<Utc>,
    first: Vec<syndic::model::Item>,
    similar: Vec<syndic::model::Item>,
    /// A headline published an hour before `now`, linked at example.org/key.
    item: fn(&chrono::DateTime<Utc>, &str, &str) -> syndic::model::Item,
}

impl Volcano {
    fn new(tag: &str) -> Option<Volcano> {
        use syndic::config::Config;
        use syndic::tag::rules::Tagger;
        let db = TestDb::create(tag)?;
        let dir = tempfile::tempdir().unwrap();
        let text = "[[source]]\nname = \"S0\"\nurl = \"http://0.invalid/\"\n\
                    [[source]]\nname = \"S1\"\nurl = \"http://1.invalid/\"\n";
        let config = Config::from_toml(&dir.path().join("feeds.toml"), text).unwrap();
        let tagger = std::sync::Arc::new(Tagger::new(&config.sections, &config.sources));
        let store = Store::open_postgres(&db.url, Duration::hours(48)).unwrap();
        let ids = store.sync_sources(&config.sources).unwrap();
        let now = Utc::now();
        let item = |now: &chrono::DateTime<Utc>, key: &str, title: &str| {
            let url = Some(format!("https://example.org/{key}"));
            syndic::model::Item::headline(key, title, url, Some(*now - Duration::hours(1)))
        };
        let first = vec![item(
            &now,
            "a1",
            "Volcano erupts on remote Pacific island, flights cancelled",
        )];
        let similar = vec![item(
            &now,
            "b1",
            "Volcano erupts on remote Pacific island as flights are cancelled",
        )];
        Some(Volcano {
            db,
            store,
            ids,
            tagger,
            now,
            first,
            similar,
            item,
        })
    }
}

/// Rows in `table`.
/// Sessions open on the test database.
fn connections(db: &TestDb) -> i64 {
    let mut admin = postgres::Client::connect(&db.admin, postgres::NoTls).unwrap();
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .unwrap()
        .get(0)
}

fn count(admin: &mut postgres::Client, table: &str) -> i64 {
    admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}
