//! The `syndic run` process: SIGHUP reloads (a bad file is refused, a good one takes effect, new rules
//! retag recent stories), SIGTERM stops it cleanly with exit code 0.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::support::{
    Env, FixtureServer, Route, RunningDaemon, SECTIONS, WAIT, get, rss_feed, source, wait_until,
};

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn config(sources: &str, lifestyle_keywords: &str) -> String {
    let sections = SECTIONS.replace("keywords = [\"recipe\"]", lifestyle_keywords);
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test\"\n[storage]\ndatabase = \"test.db\"\n[poll]\nschedule = \"* * * * * *\"\ntimeout_secs = 5\n{sections}\n{sources}"
    )
}

#[test]
fn sighup_reloads_good_configs_refuses_bad_ones_and_sigterm_stops_cleanly() {
    let server = FixtureServer::start();
    server.set(
        "/a.xml",
        Route::rss(rss_feed(
            "A",
            &[(
                "a1",
                "Gardeners swap seeds in spring",
                "https://a.example/1",
            )],
        )),
    );
    server.set(
        "/b.xml",
        Route::rss(rss_feed(
            "B",
            &[("b1", "Ceasefire extended by a week", "https://b.example/1")],
        )),
    );
    let a = source("A", &server.url("/a.xml"), &["world"]);
    let env = Env::new("");
    std::fs::write(env.config_path(), config(&a, "keywords = [\"recipe\"]")).unwrap();

    let mut daemon = RunningDaemon::spawn(&env.config_path());
    let (addr, log) = (daemon.addr, daemon.log.clone());
    let logged = |s: &str| log.lock().unwrap().contains(s);

    wait_until("A's story in the merged feed", || {
        get(addr, "/feeds/all.rss")
            .1
            .contains("Gardeners swap seeds")
    });
    assert!(!get(addr, "/feeds/lifestyle.rss").1.contains("Gardeners"));

    // A broken edit is refused; the daemon keeps serving with the old config.
    std::fs::write(env.config_path(), config(&a, "keywrds = [\"garden\"]")).unwrap();
    signal(&daemon.child, "-HUP");
    wait_until("the bad reload to be logged", || {
        logged("reload rejected") && logged("unknown field `keywrds`")
    });
    assert_eq!(get(addr, "/healthz").0, 200);
    assert_eq!(get(addr, "/feeds/world.rss").0, 200);

    // A good edit: a new source, and a keyword that puts A's existing story into lifestyle.
    let b = source("B", &server.url("/b.xml"), &["world"]);
    std::fs::write(
        env.config_path(),
        config(&format!("{a}{b}"), "keywords = [\"gardeners\"]"),
    )
    .unwrap();
    signal(&daemon.child, "-HUP");
    wait_until("B's story after reload", || {
        get(addr, "/feeds/world.rss")
            .1
            .contains("Ceasefire extended")
    });
    wait_until("A's story retagged into lifestyle", || {
        get(addr, "/feeds/lifestyle.rss")
            .1
            .contains("Gardeners swap seeds")
    });
    wait_until("the reload to be logged", || logged("config reloaded"));

    signal(&daemon.child, "-TERM");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        log.lock().unwrap()
    );
    wait_until("the shutdown to be logged", || logged("syndic stopped"));
}

#[cfg(unix)]
#[test]
fn systemd_hears_ready_watchdog_status_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let server = FixtureServer::start();
    server.set(
        "/a.xml",
        Route::rss(rss_feed(
            "A",
            &[("a1", "Harbour reopens", "https://a.example/1")],
        )),
    );
    let env = Env::new(&source("A", &server.url("/a.xml"), &["world"]));
    let sock_path = env.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut daemon = RunningDaemon::spawn_with(
        &env.config_path(),
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let mut got: Vec<(Instant, String)> = Vec::new();
    let read_for = |d: Duration, got: &mut Vec<(Instant, String)>| {
        let until = Instant::now() + d;
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push((
                    Instant::now(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                ));
            }
        }
    };
    read_for(Duration::from_millis(2600), &mut got);
    // READY=1 came once the port answered: the address was announced (listener bound) before it.
    let ready = got
        .iter()
        .position(|(_, m)| m.contains("READY=1"))
        .expect("READY=1");
    assert!(got[ready].1.contains("STATUS=serving on"), "{got:?}");
    assert_eq!(get(daemon.addr, "/healthz").0, 200);
    let pings = got.iter().filter(|(_, m)| m == "WATCHDOG=1").count();
    assert!(
        (3..=8).contains(&pings),
        "{pings} watchdog pings in 2.6 s: {got:?}"
    );
    assert!(
        got.iter()
            .any(|(_, m)| m.starts_with("STATUS=") && m.contains("sources")),
        "{got:?}"
    );

    signal(&daemon.child, "-HUP");
    got.clear();
    read_for(Duration::from_millis(1500), &mut got);
    let reloading = got.iter().position(|(_, m)| m.starts_with("RELOADING=1"));
    let ready_again = got.iter().rposition(|(_, m)| m == "READY=1");
    assert!(
        matches!((reloading, ready_again), (Some(r), Some(a)) if r < a),
        "{got:?}"
    );

    signal(&daemon.child, "-TERM");
    got.clear();
    read_for(Duration::from_millis(1500), &mut got);
    assert!(got.iter().any(|(_, m)| m == "STOPPING=1"), "{got:?}");
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// The shipped unit passes `systemd-analyze verify`, and its sandboxing keeps the exposure score low.
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !crate::support::have("systemd-analyze")
        && crate::support::missing_tool("systemd-analyze (Debian systemd)")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/syndic.service"),
    )
    .unwrap()
    // verify checks that the programs exist; the test machine has no installed syndic.
    .replace("/usr/local/bin/syndic", "/bin/true");
    // The filter denies @resources, which holds setpriority: the daemon lowers its polling threads'
    // priority, so the unit must allow that one call back, and a refused call must fail, not kill.
    let filters: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("SystemCallFilter="))
        .collect();
    let denies_resources = filters
        .iter()
        .position(|f| f.starts_with('~') && f.contains("@resources"));
    if let Some(at) = denies_resources {
        assert!(
            filters[at + 1..]
                .iter()
                .any(|f| !f.starts_with('~') && f.split_whitespace().any(|c| c == "setpriority")),
            "setpriority must be allowed after `~@resources`: {filters:?}"
        );
    }
    assert!(
        unit.lines().any(|l| l == "SystemCallErrorNumber=EPERM"),
        "a refused system call must fail with EPERM, not kill the daemon"
    );
    let path = dir.path().join("syndic.service");
    std::fs::write(&path, unit).unwrap();
    let socket = dir.path().join("syndic.socket");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/syndic.socket"),
        &socket,
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .arg(&socket)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for syndic.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{text}"));
    eprintln!("systemd-analyze security: exposure {score}");
    assert!(score <= 2.0, "exposure {score}:\n{text}");
}

/// Logs: no colour codes when stderr is not a terminal; under journald (`$JOURNAL_STREAM`) a `<N>`
/// priority prefix per line and no timestamp.
#[test]
fn logs_suit_their_reader() {
    let server = FixtureServer::start();
    server.set("/gone.xml", Route::Status(500));
    let env = Env::new(&source("Broken", &server.url("/gone.xml"), &[]));
    let run = |journal: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_syndic"));
        cmd.arg("--config")
            .arg(env.config_path())
            .args(["poll", "--force"])
            .env("RUST_LOG", "syndic=info")
            .env_remove("JOURNAL_STREAM");
        if journal {
            cmd.env("JOURNAL_STREAM", "8:12345");
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let plain = run(false);
    assert!(plain.contains("refresh failed"), "{plain}");
    assert!(
        !plain.contains('\u{1b}'),
        "colour codes in a pipe: {plain:?}"
    );
    let journal = run(true);
    let line = journal
        .lines()
        .find(|l| l.contains("refresh failed"))
        .unwrap_or_else(|| panic!("{journal}"));
    assert!(line.starts_with("<4>"), "{line}");
    assert!(!line.contains("WARN") && !line.contains("2026-"), "{line}");
    assert!(journal.lines().all(|l| l.starts_with('<')), "{journal}");
    assert!(!journal.contains('\u{1b}'));
}

/// Socket activation: a listener passed as fd 3 with `LISTEN_FDS=1` and the process's pid is served
/// instead of binding `server.listen`. Python does what systemd does (bind, dup to fd 3, exec).
#[cfg(unix)]
#[test]
fn serves_on_a_socket_passed_by_systemd() {
    let python = "python3";
    if !crate::support::have(python) && crate::support::missing_tool("python3") {
        return;
    }
    let server = FixtureServer::start();
    server.set(
        "/a.xml",
        Route::rss(rss_feed(
            "A",
            &[("a1", "Ferry timetable changes", "https://a.example/1")],
        )),
    );
    let env = Env::new(&source("A", &server.url("/a.xml"), &["world"]));
    // server.listen stays 127.0.0.1:0: if the passed socket were ignored, syndic would bind elsewhere.
    let script = r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[1], sys.argv[1:], env)
"#;
    let mut child = Command::new(python)
        .args(["-c", script, env!("CARGO_BIN_EXE_syndic"), "--config"])
        .arg(env.config_path())
        .arg("run")
        .env("RUST_LOG", "syndic=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", port.trim()).parse().unwrap();
    wait_until("the story served on the passed socket", || {
        std::net::TcpStream::connect(addr).is_ok()
            && get(addr, "/feeds/world.rss").1.contains("Ferry timetable")
    });
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("socket activation"), "{log}");
}

/// SIGTERM in the middle of a poll of 200 slow sources: the daemon stops promptly with exit 0 and
/// leaves a sound database.
#[test]
fn sigterm_during_a_slow_poll_stops_promptly_and_cleanly() {
    let server = FixtureServer::start();
    let mut sources = String::new();
    for s in 0..200 {
        server.set(
            &format!("/slow{s}.xml"),
            Route::Hang(Duration::from_secs(3)),
        );
        sources += &source(
            &format!("Slow {s}"),
            &server.url(&format!("/slow{s}.xml")),
            &[],
        );
    }
    let env = Env::with_poll(
        &sources,
        "schedule = \"* * * * * *\"\ntimeout_secs = 10\nconcurrency = 16\nper_host = 16",
    );
    let mut daemon = RunningDaemon::spawn(&env.config_path());
    wait_until("refreshes in flight", || {
        (0..200).any(|s| !server.requests(&format!("/slow{s}.xml")).is_empty())
    });
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    signal(&daemon.child, "-TERM");
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "{status:?}\n{}",
        daemon.log.lock().unwrap()
    );
    let conn = rusqlite::Connection::open(env.path("test.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!("stopped {} ms after SIGTERM", asked.elapsed().as_millis());
}
