//! `cargo bench --bench poll_cycle`: whole poll cycles of 1,000 sources × 50 items over loopback HTTP.
//!
//! A child process (this binary, re-run with `serve`) serves the generated feeds with axum, with ETag and
//! 304 answers, so the server's memory and CPU are not the poller's. The parent polls them the way
//! `syndic poll` does (one `Context`, `refresh_all`, `concurrency = 16`; `per_host = 16`, as every
//! source is on 127.0.0.1) and prints: the first cycle (wall time, items/s), an all-304 cycle, a cycle
//! where 30% of the sources changed (5 new items each), and the poller's peak RSS. Then the same with
//! title similarity off (`[dedupe] similarity = false`: URL and identical-headline joins only), and the
//! ratio of the two first cycles; `SYNDIC_BENCH_ROUNDS=N` (default 3) alternates on and off N times and
//! prints the median ratio.
//!
//! Titles come from `../shared/data/headlines/dev.tsv` (so outlets share headlines, as real ones do);
//! without it the bench says so and skips. `SYNDIC_BENCH_SOURCES=N` changes the number of sources;
//! `SYNDIC_BENCH_SIMILARITY=on` (or `off`) runs only that half. `SYNDIC_BENCH_POSTGRES=URL` (a role that
//! may create databases) runs the cycles on PostgreSQL instead of SQLite, in a database created for
//! each run and dropped after it.

#[path = "common/mod.rs"]
mod common;
#[path = "common/feed_server.rs"]
mod feed_server;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use syndic::config::Config;
use syndic::ingest::refresh::{Outcome, refresh_all};
use syndic::service::startup::prepare;
use syndic::store::Store;

const SOURCES: usize = 1000;
const ITEMS: usize = 50;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(titles) = feed_server::dev_titles() else {
        return;
    };
    let sources = std::env::var("SYNDIC_BENCH_SOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SOURCES);
    if args.iter().any(|a| a == "serve") {
        feed_server::serve(titles, sources, ITEMS);
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("SYNDIC_BENCH_SIMILARITY").ok();
    let rounds: usize = std::env::var("SYNDIC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    // On and off alternate, so that a machine getting slower or faster in between (a VM's neighbours)
    // weighs on both; the ratio of each pair, and their median, is what to compare.
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let mut first = Vec::new();
        for similarity in [true, false] {
            if only.as_deref().is_some_and(|o| (o == "on") != similarity) {
                continue;
            }
            first.push(rt.block_on(cycles(sources, similarity)));
        }
        if let [on, off] = first[..] {
            println!(
                "round {round}: first cycle, similarity on / off: {:.3} ({:+.1}%)",
                on / off,
                (on / off - 1.0) * 100.0
            );
            ratios.push(on / off);
        }
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "first cycle, similarity on / off, median of {} rounds: {median:.3} ({:+.1}%); range {:+.1}% to {:+.1}%",
            ratios.len(),
            (median - 1.0) * 100.0,
            (ratios[0] - 1.0) * 100.0,
            (ratios[ratios.len() - 1] - 1.0) * 100.0
        );
    }
    println!(
        "poller peak RSS (VmHWM): {:.1} MiB",
        common::proc_status_kib("VmHWM") as f64 / 1024.0
    );
}

/// Runs the three cycles; returns the first cycle's wall time in seconds.
async fn cycles(sources: usize, similarity: bool) -> f64 {
    let (mut child, addr) = feed_server::spawn(&[("SYNDIC_BENCH_SOURCES", sources.to_string())]);

    let dir = tempfile::tempdir().unwrap();
    let postgres = std::env::var("SYNDIC_BENCH_POSTGRES")
        .ok()
        .map(|admin| BenchDb::create(&admin));
    let url = postgres
        .as_ref()
        .map(|db| format!("url = \"{}\"\n", db.url))
        .unwrap_or_default();
    let mut toml = format!(
        "[storage]\ndatabase = \"bench.db\"\n{url}\n[poll]\nconcurrency = 16\nper_host = 16\ntimeout_secs = 30\n\n[dedupe]\nsimilarity = {similarity}\n\n[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [\"war\", \"election\"]\n\n",
    );
    for n in 0..sources {
        toml.push_str(&format!(
            "[[source]]\nname = \"Source {n}\"\nurl = \"http://{addr}/feed/{n}\"\n\n"
        ));
    }
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(&path).unwrap();
    let store = Store::open_configured(
        &config.database,
        config.database_url.as_deref(),
        config.dedupe.window,
    )
    .unwrap();
    let ctx = prepare(Arc::new(config.clone()), store.clone())
        .await
        .unwrap()
        .ctx;

    let label = if similarity { "on" } else { "off" };
    let client = reqwest::Client::new();
    let mut first = 0.0;
    for round in ["first cycle", "all-304 cycle", "30% changed cycle"] {
        if round.starts_with("30%") {
            client
                .get(format!("http://{addr}/bump?percent=30"))
                .send()
                .await
                .unwrap();
        }
        let start = Instant::now();
        let reports = refresh_all(&ctx, &config.sources).await;
        let secs = start.elapsed().as_secs_f64();
        if round == "first cycle" {
            first = secs;
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut new_items = 0;
        for r in &reports {
            let kind = match &r.outcome {
                Outcome::Updated(s) => {
                    new_items += s.new_items;
                    "updated"
                }
                Outcome::Unchanged => "unchanged",
                Outcome::NotModified => "304",
                Outcome::Failed(e) => {
                    eprintln!("{}: {e}", r.source);
                    "failed"
                }
            };
            *counts.entry(kind).or_default() += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort();
        println!(
            "similarity {label}, {round}: {sources} sources in {secs:.2}s ({:.2} ms/source), {new_items} new items = {:.0} items/s; {counts:?}",
            secs * 1000.0 / sources as f64,
            new_items as f64 / secs
        );
    }
    let (items, stories) = store.counts().unwrap();
    println!("similarity {label}: store holds {items} items in {stories} stories");
    drop(child.stdin.take());
    let _ = child.wait();
    drop((ctx, store));
    drop(postgres);
    first
}

/// A database of the bench's own on a PostgreSQL server, dropped when the run ends.
struct BenchDb {
    admin: String,
    name: String,
    url: String,
}

impl BenchDb {
    fn create(admin: &str) -> BenchDb {
        let name = format!("syndic_bench_{}", std::process::id());
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut c = postgres::Client::connect(admin, postgres::NoTls).unwrap();
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .unwrap();
                c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            });
        });
        let mut url = url::Url::parse(admin).unwrap();
        url.set_path(&name);
        BenchDb {
            admin: admin.to_string(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        // The synchronous client drives a runtime of its own: not on the bench's runtime threads.
        std::thread::scope(|s| {
            s.spawn(|| {
                if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
                    let _ = c.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ));
                }
            });
        });
    }
}
