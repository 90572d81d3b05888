//! Several syndic nodes on one PostgreSQL database, the way operators run them: three `syndic run`
//! processes with the same feeds.toml (`[storage] url`), 300 sources on a loopback server.
//!
//! Each tick every source is fetched by exactly one node (counted by the server), every item is
//! stored once and every story once, the per-host limit holds across the nodes, and all nodes serve
//! the same bytes with the same ETags. Then the leading node is killed with SIGKILL while it holds
//! leases: the others take over the lead and its sources once the leases expire, and nothing stored
//! is lost or doubled.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::pg::{TestDb, on_postgres};
use crate::support::{Env, FixtureServer, Route, RunningDaemon, rss_feed, source};

const SOURCES: usize = 300;
/// Sources `n` and `n + SHARED` carry the same story (the same link and headline) in every tick.
const SHARED: usize = 150;
/// Fewer than the three nodes' slots together (3 × [`SLOTS`]), so the limit binds; more than two
/// nodes' slots, so the leader always finds room to claim (a node that just finished a refresh claims
/// again at once, and could otherwise keep the leader, which looks every second, from every slot).
const PER_HOST: usize = 5;
/// `[poll] concurrency` of each node.
const SLOTS: usize = 2;
const LEASE_SECS: u64 = 4;
/// How long one tick may take on a slow machine (three debug builds and PostgreSQL on two cores).
const TICK: Duration = Duration::from_secs(240);

/// "a", "b", … "z", "ba", …: distinct letters-only words, so no two headlines normalize alike.
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// Source `n`'s feed at tick `tick`: two items per tick so far (one of its own, one shared).
fn feed(n: usize, tick: usize) -> String {
    let mut items = Vec::new();
    for t in (1..=tick).rev() {
        items.push((
            format!("s{n}-own-{t}"),
            format!("Dispatch {} edition {}", letters(n + 1000), letters(t)),
            format!("https://outlet{n}.example/own/{t}"),
        ));
        let k = n % SHARED;
        items.push((
            format!("s{n}-shared-{t}"),
            format!("Bulletin {} release {}", letters(k + 5000), letters(t)),
            format!("https://news.example/shared/{k}/{t}"),
        ));
    }
    rss_feed(&format!("Outlet {n}"), &items)
}

fn serve_tick(server: &FixtureServer, tick: usize, delay: Duration) {
    for n in 0..SOURCES {
        server.set(
            &format!("/s{n}.xml"),
            Route::Slow(delay, Box::new(Route::rss(feed(n, tick)))),
        );
    }
}

fn one(pg: &mut postgres::Client, sql: &str) -> i64 {
    pg.query_one(sql, &[]).unwrap().get(0)
}

/// Waits (up to [`TICK`]) until every item of `tick` ticks is stored and no lease is held.
fn wait_stored(pg: &mut postgres::Client, tick: usize) -> Duration {
    let started = Instant::now();
    let items = (SOURCES * 2 * tick) as i64;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let stored = one(pg, "SELECT count(*) FROM items");
        let leased = one(
            pg,
            &format!("SELECT count(*) FROM sources WHERE lease_until > {now}"),
        );
        if stored == items && leased == 0 {
            return started.elapsed();
        }
        assert!(
            stored <= items,
            "tick {tick}: {stored} items stored, want {items}"
        );
        assert!(
            started.elapsed() < TICK,
            "tick {tick}: {stored} of {items} items stored, {leased} leases held"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Makes the sources `which` picks (an SQL condition) due now, as the schedule would at its next
/// firing, and wakes the nodes.
fn next_tick(pg: &mut postgres::Client, nodes: &[&RunningDaemon], which: &str) {
    let now = chrono::Utc::now().timestamp_millis() - 1000;
    pg.execute(
        &format!("UPDATE sources SET next_check_at = {now} WHERE {which}"),
        &[],
    )
    .unwrap();
    for node in nodes {
        // SIGHUP: the node reloads its config and looks for due sources at once.
        signal(node, "-HUP");
    }
}

fn signal(node: &RunningDaemon, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Every node serves the same bytes and ETag for each feed, with `marker` in the "all" feed; returns
/// how long that took to hold.
fn same_everywhere(nodes: &[&RunningDaemon], marker: &str) -> Duration {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let paths = [
        "/feeds/all.rss",
        "/feeds/all.atom",
        "/feeds/asia.json",
        "/feeds/world.rss",
    ];
    loop {
        let mut answers: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for node in nodes {
            let mut mine = Vec::new();
            for path in paths {
                let (status, etag, body) = rt.block_on(async {
                    let r = client
                        .get(format!("http://{}{path}", node.addr))
                        .send()
                        .await
                        .unwrap();
                    let etag = r.headers()["etag"].to_str().unwrap().to_string();
                    (r.status().as_u16(), etag, r.bytes().await.unwrap().to_vec())
                });
                assert_eq!(status, 200, "{path}");
                mine.push((etag, body));
            }
            answers.push(mine);
        }
        let fresh = answers
            .iter()
            .all(|a| String::from_utf8_lossy(&a[0].1).contains(marker));
        if fresh && answers.iter().all(|a| *a == answers[0]) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the nodes do not serve the same feeds (or not yet '{marker}')"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests per source path so far.
fn fetches(server: &FixtureServer) -> Vec<usize> {
    (0..SOURCES)
        .map(|n| server.requests(&format!("/s{n}.xml")).len())
        .collect()
}

/// The invariants of a sound store: every story has an item, no link is in two stories, the counts
/// are those of `ticks` ticks.
fn check_integrity(pg: &mut postgres::Client, ticks: usize) {
    assert_eq!(
        one(pg, "SELECT count(*) FROM items"),
        (SOURCES * 2 * ticks) as i64
    );
    assert_eq!(
        one(pg, "SELECT count(*) FROM stories"),
        ((SOURCES + SHARED) * ticks) as i64,
        "one story per distinct link"
    );
    assert_eq!(
        one(
            pg,
            "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id)"
        ),
        0,
        "stories without items"
    );
    assert_eq!(
        one(
            pg,
            "SELECT count(*) FROM (SELECT url FROM items GROUP BY url HAVING count(DISTINCT story_id) > 1) d"
        ),
        0,
        "a link in two stories"
    );
}

#[test]
fn three_nodes_share_the_polling_serve_the_same_feeds_and_survive_a_kill() {
    let Some(db) = TestDb::create("cluster") else {
        return;
    };
    let server = FixtureServer::start();
    serve_tick(&server, 1, Duration::from_millis(30));
    let sections = ["asia", "world", "business"];
    let sources: String = (0..SOURCES)
        .map(|n| {
            source(
                &format!("Outlet {n}"),
                &server.url(&format!("/s{n}.xml")),
                &[sections[n % 3]],
            )
        })
        .collect();
    let env = Env::with_poll(
        &format!("{sources}\n[dedupe]\nsimilarity = false\n"),
        &format!(
            "schedule = \"@daily\"\ntimeout_secs = 10\nconcurrency = {SLOTS}\nper_host = {PER_HOST}\nlease_secs = {LEASE_SECS}"
        ),
    );
    on_postgres(&env, &db.url);
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace(
            "max_items = 50\n",
            &format!("max_items = 50\nwebsub_hub = \"{}\"\n", server.url("/hub")),
        ),
    )
    .unwrap();
    server.set("/hub", Route::Status(204));
    env.ok(&["check"]);
    let mut pg = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();

    // Tick 1: the sources are new, so due at once.
    let mut nodes: Vec<RunningDaemon> = (0..3)
        .map(|_| RunningDaemon::spawn(&env.config_path()))
        .collect();
    let took = wait_stored(&mut pg, 1);
    assert_eq!(
        fetches(&server),
        vec![1; SOURCES],
        "each source once in tick 1"
    );
    check_integrity(&mut pg, 1);
    let refs: Vec<&RunningDaemon> = nodes.iter().collect();
    let converged = same_everywhere(&refs, &format!("edition {}", letters(1)));
    eprintln!("tick 1: stored in {took:?}; all nodes serve the same feeds {converged:?} later");
    // Every lease was given back, and no host ever had more than PER_HOST fetches at once.
    let by_node: BTreeMap<String, i64> = pg
        .query(
            "SELECT lease_node, count(*) FROM sources GROUP BY lease_node",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, Option<String>>(0).unwrap_or_default(), r.get(1)))
        .collect();
    assert_eq!(by_node.get(""), Some(&(SOURCES as i64)), "leases released");
    assert!(
        server.max_concurrent() <= PER_HOST,
        "{} fetches at once on one host",
        server.max_concurrent()
    );
    let leaders: Vec<usize> = (0..3)
        .filter(|&k| nodes[k].log.lock().unwrap().contains("this node leads"))
        .collect();
    assert_eq!(leaders.len(), 1, "one leader: {leaders:?}");

    // Tick 2: every source fetched once more, by one node.
    serve_tick(&server, 2, Duration::from_millis(30));
    next_tick(&mut pg, &refs, "true");
    let took = wait_stored(&mut pg, 2);
    assert_eq!(
        fetches(&server),
        vec![2; SOURCES],
        "each source once in tick 2"
    );
    check_integrity(&mut pg, 2);
    let converged = same_everywhere(&refs, &format!("edition {}", letters(2)));
    eprintln!("tick 2: stored in {took:?}; all nodes serve the same feeds {converged:?} later");

    // Tick 3, slowly: the leader is killed while it holds leases; the others finish its sources
    // once its leases expire, and one of them takes the lead.
    serve_tick(&server, 3, Duration::from_millis(200));
    next_tick(&mut pg, &refs, "true");
    let leader = leaders[0];
    let pid = nodes[leader].child.id();
    let mut held = 0;
    crate::support::wait_until("the leader holds leases", || {
        let now = chrono::Utc::now().timestamp_millis();
        held = one(
            &mut pg,
            &format!(
                "SELECT count(*) FROM sources WHERE lease_node LIKE '%:{pid}' AND lease_until > {now}"
            ),
        );
        held > 0
    });
    nodes[leader].child.kill().unwrap();
    nodes[leader].child.wait().unwrap();
    // The dead node's leases stand until they expire.
    let listing = env.ok(&["sources"]);
    assert!(listing.contains("leased to node "), "{listing}");
    let killed_at = Instant::now();
    eprintln!("killed the leader (pid {pid}) holding {held} leases");
    let survivors: Vec<&RunningDaemon> =
        (0..3).filter(|&k| k != leader).map(|k| &nodes[k]).collect();
    crate::support::wait_until("another node takes the lead", || {
        survivors
            .iter()
            .any(|n| n.log.lock().unwrap().contains("this node leads"))
    });
    let took = wait_stored(&mut pg, 3);
    eprintln!("tick 3: the rest stored {took:?} after the kill");
    check_integrity(&mut pg, 3);
    let counts = fetches(&server);
    assert!(
        counts.iter().all(|&c| c >= 3),
        "every source fetched in tick 3"
    );
    let again: usize = counts.iter().map(|c| c - 3).sum();
    assert!(
        again <= SLOTS,
        "only the killed node's running fetches are repeated: {again}"
    );
    let converged = same_everywhere(&survivors, &format!("edition {}", letters(3)));
    eprintln!(
        "tick 3: {again} fetches repeated; survivors agree {:?} after the kill",
        killed_at.elapsed().min(converged + took)
    );
    assert!(
        server.max_concurrent() <= PER_HOST,
        "{} fetches at once on one host",
        server.max_concurrent()
    );

    // One change, one WebSub ping: one source publishes one more story; the node that stores it pings
    // the hub for the feeds it changed, the other marks its renderings out of date without pinging.
    let pings = |feed: &str| {
        server
            .requests("/hub")
            .iter()
            .filter(|r| r.body.contains(&format!("feeds%2F{feed}")))
            .count()
    };
    // The ticks' own pings may still be on their way (each waits for a quiet period, then retries): the
    // count is read once it has held still for longer than that.
    let mut before = pings("all.rss");
    loop {
        std::thread::sleep(Duration::from_secs(3));
        let now = pings("all.rss");
        if now == before {
            break;
        }
        before = now;
    }
    assert!(before > 0, "the hub heard of the ticks");
    let mut items = vec![(
        "s1-extra".to_string(),
        "Late dispatch from the harbour".to_string(),
        "https://outlet1.example/extra".to_string(),
    )];
    items.extend((1..=3).rev().flat_map(|t| {
        [
            (
                format!("s1-own-{t}"),
                format!("Dispatch {} edition {}", letters(1001), letters(t)),
                format!("https://outlet1.example/own/{t}"),
            ),
            (
                format!("s1-shared-{t}"),
                format!("Bulletin {} release {}", letters(5001), letters(t)),
                format!("https://news.example/shared/1/{t}"),
            ),
        ]
    }));
    server.set("/s1.xml", Route::rss(rss_feed("Outlet 1", &items)));
    next_tick(&mut pg, &survivors, "name = 'Outlet 1'");
    crate::support::wait_until("the late story is stored", || {
        one(&mut pg, "SELECT count(*) FROM items") == (SOURCES * 6 + 1) as i64
    });
    same_everywhere(&survivors, "Late dispatch from the harbour");
    crate::support::wait_until("the hub is pinged", || pings("all.rss") > before);
    // Longer than the pings' quiet period and their first retry: a second ping would have come.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pings("all.rss"), before + 1, "one ping for one change");
    for n in nodes.iter_mut() {
        let _ = n.child.kill();
    }
}

/// A node stopped with SIGTERM gives its leases back at once, so the other nodes need not wait for
/// them to expire.
#[test]
fn a_stopping_node_gives_its_leases_back() {
    let Some(db) = TestDb::create("stop") else {
        return;
    };
    let server = FixtureServer::start();
    server.set("/slow.xml", Route::Hang(Duration::from_secs(4)));
    let env = Env::with_poll(
        &source("Slow", &server.url("/slow.xml"), &["world"]),
        "schedule = \"@daily\"\ntimeout_secs = 10\nlease_secs = 600",
    );
    on_postgres(&env, &db.url);
    let node = RunningDaemon::spawn(&env.config_path());
    let mut pg = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let held = "SELECT count(*) FROM sources WHERE lease_node IS NOT NULL";
    crate::support::wait_until("the node claims the source", || one(&mut pg, held) == 1);
    signal(&node, "-TERM");
    crate::support::wait_until("the node stops", || {
        node.log.lock().unwrap().contains("syndic stopped")
    });
    assert_eq!(one(&mut pg, held), 0, "{}", node.log.lock().unwrap());
}
