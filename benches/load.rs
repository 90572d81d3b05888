//! `cargo bench --bench load`: syndic's feeds under load while it polls 1,000 sources, beside nginx
//! serving the same bytes as a static file.
//!
//! A child process serves 1,000 generated RSS feeds (the poll-cycle bench's server; 30% of them publish
//! five new items every 5 s). The release `syndic run` polls them every 20 s (`concurrency = 16`) and
//! serves its feeds. First printed: syndic's CPU time over 40 s of polling with no readers. nginx
//! (Debian's `nginx-light`, `sendfile on`) serves a copy of `/feeds/all.rss` from a folder on another
//! loopback port; the copy is replaced by syndic's current bytes before every nginx run, since the feed
//! grows as stories gather sources. `wrk -t2 -c32 -d10s --latency` (Debian's `wrk`) then loads, in
//! turn: syndic `/feeds/all.rss` (200), the same revalidated with the ETag of each thread's last
//! response (304), with `Accept-Encoding: gzip`, the World section feed, and nginx's copy. Printed per
//! run: requests/s, p50 and p99 latency, errors; and syndic's 200 throughput as a share of nginx's,
//! from those runs and from ten alternating pairs of 3-second runs. Refresh cycles run during every
//! wrk run.
//!
//! Needs `wrk` and `nginx` (`apt-get install wrk nginx-light`) and `../shared/data/headlines/dev.tsv`;
//! without them it says so and skips. `SYNDIC_BENCH_SECONDS=N` changes each run's length.

#[path = "common/feed_server.rs"]
mod feed_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SOURCES: usize = 1000;
const ITEMS: usize = 50;

fn main() {
    let Some(titles) = feed_server::dev_titles() else {
        return;
    };
    if std::env::args().any(|a| a == "serve") {
        feed_server::serve(titles, SOURCES, ITEMS);
        return;
    }
    for tool in ["wrk", "nginx"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            println!("SKIPPED: `{tool}` is not installed (apt-get install wrk nginx-light)");
            return;
        }
    }
    let seconds: u64 = std::env::var("SYNDIC_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);

    // The feed server.
    let (mut feeds, feeds_addr) = feed_server::spawn(&[]);

    // syndic.
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndatabase = \"load.db\"\n\n[poll]\nschedule = \"*/20 * * * * *\"\nconcurrency = 16\nper_host = 16\ntimeout_secs = 30\n\n[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [\"war\", \"election\", \"president\", \"minister\"]\n\n",
    );
    for n in 0..SOURCES {
        toml += &format!(
            "[[source]]\nname = \"Source {n}\"\nurl = \"http://{feeds_addr}/feed/{n}\"\n\n"
        );
    }
    std::fs::write(dir.path().join("feeds.toml"), toml).unwrap();
    let mut syndic = Command::new(env!("CARGO_BIN_EXE_syndic"))
        .arg("--config")
        .arg(dir.path().join("feeds.toml"))
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(syndic.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("syndic: serving http://") {
                let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("syndic announces its address")
        .parse()
        .unwrap();
    let started = Instant::now();
    loop {
        let (status, _, body) = get(addr, "/feeds/all.rss", "");
        if status == 200 && body.matches("<item>").count() >= 50 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "syndic never filled its feed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the first cycle (50,000 new items) finish; later cycles run during the measurements.
    std::thread::sleep(Duration::from_secs(5));
    let (_, _, body) = get(addr, "/feeds/all.rss", "");
    println!(
        "syndic is serving /feeds/all.rss ({} bytes) {:.1} s after start",
        body.len(),
        started.elapsed().as_secs_f64()
    );

    // What polling costs on its own: syndic's CPU time over two poll cycles without readers.
    let (cpu0, fetched0) = (cpu_seconds(syndic.id()), fetches(addr));
    std::thread::sleep(Duration::from_secs(40));
    let (cpu1, fetched1) = (cpu_seconds(syndic.id()), fetches(addr));
    println!(
        "without readers, 40 s of polling: {:.0} source refreshes, syndic used {:.1} s of CPU ({:.0}% of one core)",
        fetched1 - fetched0,
        cpu1 - cpu0,
        (cpu1 - cpu0) / 40.0 * 100.0
    );

    // nginx, with the same bytes.
    let www = dir.path().join("www/feeds");
    std::fs::create_dir_all(&www).unwrap();
    // The feed grows as stories gather sources (each lists the others): before every nginx run its
    // copy is replaced by what syndic serves at that moment, so both always send the same bytes.
    let copy_for_nginx = |quiet: bool| {
        let (_, _, body) = get(addr, "/feeds/all.rss", "");
        let tmp = www.join("all.rss.tmp");
        std::fs::write(&tmp, &body).unwrap();
        std::fs::rename(&tmp, www.join("all.rss")).unwrap();
        if !quiet {
            println!(
                "  (nginx now serves syndic's current all.rss: {} bytes)",
                body.len()
            );
        }
    };
    copy_for_nginx(true);
    let nginx_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = format!(
        "daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n  types {{ application/rss+xml rss; }}\n  server {{ listen 127.0.0.1:{nginx_port}; root {d}/www; }}\n}}\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut nginx = Command::new("nginx")
        .args(["-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx_addr: SocketAddr = format!("127.0.0.1:{nginx_port}").parse().unwrap();
    let started = Instant::now();
    while get(nginx_addr, "/feeds/all.rss", "").0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // News keeps arriving while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let bumper = {
        let (stop, feeds_addr) = (stop.clone(), feeds_addr.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = get(feeds_addr.parse().unwrap(), "/bump?percent=30", "");
                std::thread::sleep(Duration::from_secs(5));
            }
        })
    };

    // A reader that revalidates: each wrk thread sends the ETag of its last response, so the 304 row
    // stays 304s although the feed changes several times a second while syndic polls.
    let revalidate = dir.path().join("revalidate.lua");
    std::fs::write(
        &revalidate,
        "local etag = nil\nrequest = function()\n  if etag then return wrk.format(\"GET\", nil, {[\"If-None-Match\"] = etag}) end\n  return wrk.format(\"GET\")\nend\nresponse = function(status, headers, body)\n  etag = headers[\"etag\"] or headers[\"ETag\"] or etag\nend\n",
    )
    .unwrap();
    let runs: Vec<(&str, String, Vec<String>)> = vec![
        (
            "syndic all.rss 200",
            format!("http://{addr}/feeds/all.rss"),
            vec![],
        ),
        (
            "syndic all.rss 304",
            format!("http://{addr}/feeds/all.rss"),
            vec![format!("script:{}", revalidate.display())],
        ),
        (
            "syndic all.rss gzip",
            format!("http://{addr}/feeds/all.rss"),
            vec!["Accept-Encoding: gzip".into()],
        ),
        (
            "syndic world.rss 200",
            format!("http://{addr}/feeds/world.rss"),
            vec![],
        ),
        (
            "nginx all.rss 200",
            format!("http://{nginx_addr}/feeds/all.rss"),
            vec![],
        ),
    ];
    println!(
        "\nwrk -t2 -c32 -d{seconds}s --latency, each run while syndic polls (2-core machine, all on loopback):"
    );
    println!(
        "  {:<22} {:>10} {:>9} {:>9} {:>8}",
        "", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut rates = std::collections::HashMap::new();
    for (name, url, headers) in &runs {
        if name.starts_with("nginx") {
            copy_for_nginx(false);
        }
        let run = wrk(url, headers, seconds);
        println!(
            "  {name:<22} {:>10.0} {:>9.2} {:>9.2} {:>8}",
            run.rate,
            run.p50.unwrap_or(f64::NAN),
            run.p99.unwrap_or(f64::NAN),
            if run.errors.is_empty() {
                "0"
            } else {
                &run.errors
            }
        );
        rates.insert(*name, run.rate);
    }
    println!(
        "\nsyndic 200 / nginx 200: {:.2}",
        rates["syndic all.rss 200"] / rates["nginx all.rss 200"]
    );
    // The runs above meet the poll cycles (every 20 s) at different moments. Alternating short runs of
    // the two servers puts both under the same background load on average: 3 s slices, so a pair
    // (6 s) drifts across the cycle instead of locking to one phase of it, and who goes first swaps.
    let pairs = 10;
    let slice = 3;
    let (mut ours, mut theirs) = (0.0, 0.0);
    let fetched0 = fetches(addr);
    for n in 0..pairs {
        if n % 2 == 0 {
            ours += wrk(&runs[0].1, &[], slice).rate;
            copy_for_nginx(true);
            theirs += wrk(&runs[4].1, &[], slice).rate;
        } else {
            copy_for_nginx(true);
            theirs += wrk(&runs[4].1, &[], slice).rate;
            ours += wrk(&runs[0].1, &[], slice).rate;
        }
    }
    println!(
        "alternating {pairs} x ({slice} s syndic, {slice} s nginx), 200: syndic {:.0} req/s, nginx {:.0} req/s, ratio {:.2}; {:.0} source refreshes meanwhile",
        ours / f64::from(pairs),
        theirs / f64::from(pairs),
        ours / theirs,
        fetches(addr) - fetched0
    );

    stop.store(true, Ordering::Relaxed);
    let _ = bumper.join();
    stop_child(&mut nginx);
    let _ = Command::new("kill")
        .args(["-TERM", &syndic.id().to_string()])
        .status();
    let _ = syndic.wait();
    drop(feeds.stdin.take());
    let _ = feeds.wait();
}

/// One wrk run's figures.
struct Run {
    rate: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    errors: String,
}

/// `wrk -t2 -c32 -dN --latency` against `url` with extra header lines.
fn wrk(url: &str, headers: &[String], seconds: u64) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"]);
    for h in headers {
        match h.strip_prefix("script:") {
            Some(path) => cmd.args(["-s", path]),
            None => cmd.args(["-H", h]),
        };
    }
    let out = cmd.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    Run {
        rate: field(&text, "Requests/sec:").unwrap_or(0.0),
        p50: latency(&text, "50%"),
        p99: latency(&text, "99%"),
        errors: text
            .lines()
            .filter(|l| l.contains("Non-2xx or 3xx") || l.contains("Socket errors"))
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// User plus system CPU time of a process so far, in seconds (Linux `/proc`; 0 elsewhere).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    fields.get(11).unwrap_or(&0.0) / 100.0 + fields.get(12).unwrap_or(&0.0) / 100.0
}

/// Source refreshes syndic has counted so far (every outcome), from its metrics.
fn fetches(addr: SocketAddr) -> f64 {
    let (_, _, text) = get(addr, "/metrics", "");
    text.lines()
        .filter(|l| l.starts_with("syndic_fetches_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn stop_child(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A plain HTTP/1.1 GET with one optional extra header line: (status, ETag, body).
fn get(addr: SocketAddr, path: &str, header: &str) -> (u16, String, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new(), String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let extra = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\r\n")
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}Connection: close\r\n\r\n"
    );
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let etag = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, etag, body.to_string())
}

/// The number after `label` in wrk's output.
fn field(text: &str, label: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
    line.trim_start()[label.len()..].trim().parse().ok()
}

/// A latency percentile line of wrk's `--latency` output, in milliseconds.
fn latency(text: &str, pct: &str) -> Option<f64> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(pct) && !l.contains("Thread"))?;
    let v = line.split_whitespace().nth(1)?;
    let (num, unit): (String, String) = v.chars().partition(|c| c.is_ascii_digit() || *c == '.');
    let n: f64 = num.parse().ok()?;
    Some(match unit.as_str() {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}
