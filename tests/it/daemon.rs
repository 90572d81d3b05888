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

    let RunningDaemon {
        mut child,
        addr,
        log,
    } = RunningDaemon::spawn(&env.config_path());
    let logged = |s: &str| log.lock().unwrap().contains(s);

    wait_until("A's story in the merged feed", || {
        get(addr, "/feeds/all.rss")
            .1
            .contains("Gardeners swap seeds")
    });
    assert!(!get(addr, "/feeds/lifestyle.rss").1.contains("Gardeners"));

    // A broken edit is refused; the daemon keeps serving with the old config.
    std::fs::write(env.config_path(), config(&a, "keywrds = [\"garden\"]")).unwrap();
    signal(&child, "-HUP");
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
    signal(&child, "-HUP");
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

    signal(&child, "-TERM");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
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
