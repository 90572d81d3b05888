//! `syndic check`: exit codes and messages with line and column.

use crate::support::{Env, source};

fn check(env: &Env) -> (i32, String, String) {
    let out = env.syndic(&["check"]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 1-based line number of the first line containing `needle`.
fn line_of(env: &Env, needle: &str) -> usize {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_good_config_passes() {
    let env = Env::new(&source("A", "https://a.example/feed.xml", &["asia"]));
    let (code, out, err) = check(&env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok (5 sections, 1 sources"), "{out}");
}

#[test]
fn a_typod_key_is_an_error_with_line_and_column() {
    let env = Env::new(
        "\n[[source]]\nname = \"A\"\nurl = \"https://a.example/feed.xml\"\nsectons = [\"asia\"]\n",
    );
    let (code, _, err) = check(&env);
    assert_eq!(code, 2, "{err}");
    let line = line_of(&env, "sectons");
    let want = format!("feeds.toml:{line}:1: unknown field `sectons`");
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
}

#[test]
fn an_undefined_section_is_an_error_with_line_and_column() {
    let env = Env::new(&source(
        "A",
        "https://a.example/feed.xml",
        &["asia", "sport"],
    ));
    let (code, _, err) = check(&env);
    assert_eq!(code, 2, "{err}");
    let line = line_of(&env, "\"sport\"");
    let want = format!("feeds.toml:{line}:21: source \"A\": section \"sport\" is not defined");
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
}

#[test]
fn every_command_refuses_a_bad_config_with_exit_2() {
    let env = Env::new("\n[poll]\nschedule = \"every tuesday\"\n");
    // A second [poll] table is itself a TOML error: reported with position, exit 2.
    for cmd in [&["poll"][..], &["stories"], &["run"]] {
        let out = env.syndic(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("feeds.toml:"), "{err}");
    }
}

#[test]
fn a_bad_schedule_and_a_bad_url_are_reported_together() {
    let env = Env::with_poll(
        "\n[[source]]\nname = \"A\"\nurl = \"ftp://a.example/x\"\nschedule = \"61 * * * *\"\n",
        "schedule = \"*/15 * * * *\"",
    );
    let (code, _, err) = check(&env);
    assert_eq!(code, 2);
    assert!(err.contains("scheme \"ftp\" is not supported"), "{err}");
    assert!(
        err.contains("invalid cron expression \"61 * * * *\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn a_missing_config_is_a_clear_error() {
    let out =
        crate::support::syndic_with(std::path::Path::new("/nonexistent/feeds.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config"));
}
