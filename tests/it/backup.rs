//! `syndic backup FILE` while the daemon polls: a consistent copy that opens and passes
//! `integrity_check`, and no silent overwrite.

use crate::support::{Env, FixtureServer, Route, RunningDaemon, get, rss_feed, source, wait_until};

#[test]
fn a_backup_taken_while_polling_is_consistent_and_never_overwrites_by_accident() {
    let server = FixtureServer::start();
    let mut sources = String::new();
    for s in 0..30 {
        let items: Vec<(String, String, String)> = (0..20)
            .map(|j| {
                (
                    format!("b{s}-{j}"),
                    format!("Bureau {s} dispatch {j} on topic {}", s * 100 + j),
                    format!("https://b{s}.example/{j}"),
                )
            })
            .collect();
        server.set(
            &format!("/b{s}.xml"),
            Route::rss(rss_feed("Bureau", &items)),
        );
        sources += &source(
            &format!("Bureau {s}"),
            &server.url(&format!("/b{s}.xml")),
            &["world"],
        );
        sources += "dedupe = false\n";
    }
    let env = Env::with_poll(&sources, "schedule = \"* * * * * *\"\ntimeout_secs = 5");
    let mut daemon = RunningDaemon::spawn(&env.config_path());
    wait_until("stories to be served", || {
        get(daemon.addr, "/feeds/all.rss").1.contains("Bureau")
    });

    let copy = env.path("copy.db");
    let out = env.ok(&["backup", copy.to_str().unwrap()]);
    assert!(out.contains("consistent copy"), "{out}");
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let stories: i64 = conn
        .query_row("SELECT COUNT(*) FROM stories", [], |r| r.get(0))
        .unwrap();
    assert!(stories > 0);
    drop(conn);

    let again = env.syndic(&["backup", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    env.ok(&["backup", "--force", copy.to_str().unwrap()]);

    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
}
