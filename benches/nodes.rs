//! `cargo bench --bench nodes`: whole poll cycles of 1,000 sources × 50 items by `syndic run`
//! processes, the way operators run them: one node on SQLite, then one, two and three nodes on one
//! PostgreSQL database (`SYNDIC_BENCH_POSTGRES=URL`, a role that may create databases; without it only
//! SQLite runs), in one run.
//!
//! The feeds come from the poll-cycle bench's generated server (a child process, with ETag and 304);
//! every source is on 127.0.0.1, so `per_host` is set high enough not to bind. Each node runs with
//! `concurrency = 16`. For each setup the bench prints the first cycle (from starting the nodes until
//! every source's first fetch is stored: start-up included), then an all-304 cycle (every source made
//! due and the nodes woken with SIGHUP), each node's CPU time (user + system) during the first cycle
//! and its peak RSS, and the PostgreSQL server's CPU time (all `postgres` processes) during it.
//!
//! `SYNDIC_BENCH_SOURCES=N` changes the number of sources; `SYNDIC_BENCH_NODES=1,3` picks the
//! PostgreSQL node counts. Needs a release build of `syndic` (cargo bench builds it).

#[path = "common/mod.rs"]
#[allow(dead_code)] // this bench reads other processes' figures only
mod common;
#[path = "common/feed_server.rs"]
mod feed_server;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SOURCES: usize = 1000;
const ITEMS: usize = 50;
/// The longest one cycle may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(900);

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
    let admin = std::env::var("SYNDIC_BENCH_POSTGRES").ok();
    let counts: Vec<usize> = std::env::var("SYNDIC_BENCH_NODES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    println!(
        "{sources} sources × {ITEMS} items; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    run_setup(sources, None, 1);
    match &admin {
        Some(admin) => {
            for n in counts {
                run_setup(sources, Some(admin), n);
            }
        }
        None => println!("SKIPPED PostgreSQL: set SYNDIC_BENCH_POSTGRES to a postgres:// URL"),
    }
}

/// Where one setup stores: an SQLite file, or a PostgreSQL database made for the run.
enum Db {
    Lite(std::path::PathBuf),
    Pg {
        admin: String,
        name: String,
        url: String,
        /// One connection for the bench's own queries (opened on first use).
        client: Option<Box<postgres::Client>>,
    },
}

impl Db {
    /// The first column of the first row of `sql` (0 while the tables do not exist yet).
    fn query(&mut self, sql: &str) -> i64 {
        match self {
            Db::Lite(path) => {
                let Ok(c) = rusqlite::Connection::open(&*path) else {
                    return 0;
                };
                c.busy_timeout(Duration::from_secs(30)).unwrap();
                c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
            }
            Db::Pg { url, client, .. } => {
                let c = client.get_or_insert_with(|| {
                    Box::new(postgres::Client::connect(url, postgres::NoTls).unwrap())
                });
                c.query_one(sql, &[]).map(|r| r.get(0)).unwrap_or(0)
            }
        }
    }

    fn execute(&mut self, sql: &str) {
        match self {
            Db::Lite(path) => {
                let c = rusqlite::Connection::open(&*path).unwrap();
                c.busy_timeout(Duration::from_secs(30)).unwrap();
                c.execute(sql, []).unwrap();
            }
            Db::Pg { url, client, .. } => {
                let c = client.get_or_insert_with(|| {
                    Box::new(postgres::Client::connect(url, postgres::NoTls).unwrap())
                });
                c.execute(sql, &[]).unwrap();
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Pg { client, .. } = self {
            drop(client.take());
        }
        if let Db::Pg { admin, name, .. } = self
            && let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn run_setup(sources: usize, admin: Option<&String>, nodes: usize) {
    let (mut server, addr) = feed_server::spawn(&[("SYNDIC_BENCH_SOURCES", sources.to_string())]);
    let dir = tempfile::tempdir().unwrap();
    let mut db = match admin {
        None => Db::Lite(dir.path().join("bench.db")),
        Some(admin) => {
            let name = format!("syndic_bench_nodes_{}", std::process::id());
            let mut c = postgres::Client::connect(admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(&name);
            Db::Pg {
                admin: admin.clone(),
                name,
                url: url.to_string(),
                client: None,
            }
        }
    };
    let storage = match &db {
        Db::Lite(_) => String::new(),
        Db::Pg { url, .. } => format!("url = \"{url}\"\n"),
    };
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndatabase = \"bench.db\"\n{storage}\n[poll]\nschedule = \"@daily\"\nconcurrency = 16\nper_host = 64\ntimeout_secs = 30\n\n[tagging]\nlearn = false\n\n[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [\"war\", \"election\"]\n\n",
    );
    for n in 0..sources {
        toml.push_str(&format!(
            "[[source]]\nname = \"Source {n}\"\nurl = \"http://{addr}/feed/{n}\"\n\n"
        ));
    }
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, toml).unwrap();
    let engine = if admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let label = format!(
        "{engine}, {nodes} node{}",
        if nodes == 1 { "" } else { "s" }
    );

    // The first cycle: the sources are new, so due at once.
    let pg_before = postgres_cpu();
    let t0 = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let mut procs: Vec<Child> = (0..nodes).map(|_| spawn_node(&config)).collect();
    wait_cycle(&mut db, sources, t0, started);
    let first = started.elapsed().as_secs_f64();
    let cpu: Vec<f64> = procs.iter().map(|p| cpu_secs(p.id())).collect();
    let pg_cpu = postgres_cpu() - pg_before;
    let items = db.query("SELECT count(*) FROM items");
    let stories = db.query("SELECT count(*) FROM stories");

    // The all-304 cycle.
    let t1 = chrono::Utc::now().timestamp_millis();
    db.execute(&format!("UPDATE sources SET next_check_at = {}", t1 - 1000));
    let again = Instant::now();
    for p in &procs {
        let _ = Command::new("kill")
            .args(["-HUP", &p.id().to_string()])
            .status();
    }
    wait_cycle(&mut db, sources, t1, again);
    let second = again.elapsed().as_secs_f64();
    let rss: Vec<f64> = procs
        .iter()
        .map(|p| common::status_kib(&p.id().to_string(), "VmHWM") as f64 / 1024.0)
        .collect();
    for p in procs.iter_mut() {
        let _ = p.kill();
        let _ = p.wait();
    }
    drop(server.stdin.take());
    let _ = server.wait();

    let split: Vec<String> = cpu.iter().map(|c| format!("{c:.1}")).collect();
    let mem: Vec<String> = rss.iter().map(|m| format!("{m:.0}")).collect();
    println!(
        "{label}: first cycle {first:.2}s ({:.0} items/s; {items} items in {stories} stories); all-304 cycle {second:.2}s",
        items as f64 / first
    );
    println!(
        "{label}: CPU s per node in the first cycle [{}] (sum {:.1}){}; peak RSS MiB per node [{}]",
        split.join(", "),
        cpu.iter().sum::<f64>(),
        if admin.is_some() {
            format!("; PostgreSQL server {pg_cpu:.1} CPU s")
        } else {
            String::new()
        },
        mem.join(", ")
    );
}

fn spawn_node(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_syndic"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "syndic=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until every source was fetched (and its refresh stored) since `since_ms`.
fn wait_cycle(db: &mut Db, sources: usize, since_ms: i64, started: Instant) {
    loop {
        let done = db.query(&format!(
            "SELECT count(*) FROM sources WHERE last_fetch_at >= {since_ms} AND lease_until IS NULL"
        ));
        if done as usize >= sources {
            return;
        }
        assert!(
            started.elapsed() < LIMIT,
            "only {done} of {sources} sources fetched"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process's CPU time so far (user + system), in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant of the system.
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / hz
}

/// CPU seconds of every `postgres` process now running.
fn postgres_cpu() -> f64 {
    let mut total = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                total += cpu_secs(pid);
            }
        }
    }
    total
}
