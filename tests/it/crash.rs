//! Crash safety: the real daemon polls 300 loopback sources every second while its feeds change, and
//! is killed with SIGKILL at random moments, 20 times. After every kill the database opens, passes
//! `PRAGMA integrity_check`, still holds every story a feed ever served, stores no entry twice, and the
//! restarted daemon serves its feeds again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::{Env, FixtureServer, Route, RunningDaemon, get, rss_feed, source};

const SOURCES: usize = 300;
const KILLS: usize = 20;

/// A small deterministic generator (xorshift), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Source `s`'s feed after `round` rounds of news: two entries per round so far (the newest 20).
fn feed(s: usize, round: usize) -> String {
    let items: Vec<(String, String, String)> = (0..=round * 2 + 1)
        .rev()
        .take(20)
        .map(|j| {
            (
                format!("s{s}-e{j}"),
                format!("Desk {s} reports development {j} in case {}", s * 1000 + j),
                format!("https://desk{s}.example/story/{j}"),
            )
        })
        .collect();
    rss_feed(&format!("Desk {s}"), &items)
}

/// Story uids in a served RSS feed (its guids are `UID/SECTION`).
fn served_uids(body: &str) -> Vec<String> {
    body.split("<guid isPermaLink=\"false\">")
        .skip(1)
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn sigkill_at_random_moments_never_corrupts_or_loses_anything() {
    let server = FixtureServer::start();
    let mut sources = String::new();
    for s in 0..SOURCES {
        server.set(&format!("/d{s}.xml"), Route::rss(feed(s, 0)));
        sources += &source(
            &format!("Desk {s}"),
            &server.url(&format!("/d{s}.xml")),
            &["world"],
        );
        // The generated headlines are alike: most desks stay out of title matching so that stories
        // stay many; every tenth joins (and grows) stories by title.
        if s % 10 != 0 {
            sources += "dedupe = false\n";
        }
    }
    let env = Env::with_poll(
        &sources,
        "schedule = \"* * * * * *\"\ntimeout_secs = 5\nconcurrency = 16\nper_host = 16",
    );
    let db = env.path("test.db");
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut served: BTreeSet<String> = BTreeSet::new();
    let mut slowest_restart = Duration::ZERO;

    for round in 1..=KILLS {
        // News arrives at a tenth of the desks before each run.
        for _ in 0..SOURCES / 10 {
            let s = rng.below(SOURCES as u64) as usize;
            server.set(&format!("/d{s}.xml"), Route::rss(feed(s, round)));
        }
        let started = Instant::now();
        let mut daemon = RunningDaemon::spawn(&env.config_path());
        // Served again soon after the restart (the figure is printed; the bound is loose).
        let (status, body) = loop {
            let (status, body) = get(daemon.addr, "/feeds/all.rss");
            if status == 200 || started.elapsed() > Duration::from_secs(30) {
                break (status, body);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        slowest_restart = slowest_restart.max(started.elapsed());
        assert_eq!(status, 200, "round {round}: feed not served after restart");
        served.extend(served_uids(&body));

        // Let it work (polls every second, 300 sources, 16 at a time), reading feeds meanwhile, then
        // kill it without warning.
        let until = Instant::now() + Duration::from_millis(200 + rng.below(1800));
        while Instant::now() < until {
            let (status, body) = get(daemon.addr, "/feeds/world.rss");
            assert_eq!(status, 200);
            served.extend(served_uids(&body));
            std::thread::sleep(Duration::from_millis(50 + rng.below(150)));
        }
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();

        let conn = rusqlite::Connection::open(&db).unwrap();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let mut missing = Vec::new();
        for uid in &served {
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM stories WHERE uid = ?1", [uid], |r| {
                    r.get(0)
                })
                .unwrap();
            if n != 1 {
                missing.push(uid.clone());
            }
        }
        assert!(
            missing.is_empty(),
            "round {round}: served stories gone: {missing:?}"
        );
        // No entry twice: one row per (source, entry), and never more rows than entries published.
        let (items, distinct_guids): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COUNT(DISTINCT source_id || ' ' || guid) FROM items",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            items, distinct_guids,
            "round {round}: an entry stored twice"
        );
        let orphans: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "round {round}: a story without items");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stories: i64 = conn
        .query_row("SELECT COUNT(*) FROM stories", [], |r| r.get(0))
        .unwrap();
    let items: i64 = conn
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap();
    eprintln!(
        "crash test: {KILLS} kills, {} stories served and kept, {items} items in {stories} stories, slowest restart to a served feed {} ms",
        served.len(),
        slowest_restart.as_millis()
    );
    assert!(
        items >= SOURCES as i64,
        "the daemon stored too little: {items} items"
    );
}
