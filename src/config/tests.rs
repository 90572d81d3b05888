use super::validate::parse_source_url;
use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"

[storage]
database = "data/s.db"

[[section]]
id = "asia"
title = "Asia"
keywords = ["Korea"]

[[source]]
name = "A"
url = "https://example.com/a.xml"
sections = ["asia"]
"#;

#[test]
fn good_config_resolves_database_against_its_folder() {
    let c = Config::from_toml(Path::new("/etc/syndic/feeds.toml"), GOOD).unwrap();
    assert_eq!(c.database, PathBuf::from("/etc/syndic/data/s.db"));
    assert_eq!(c.server.base_url, "http://127.0.0.1:9000");
    assert_eq!(c.sources[0].sections, vec!["asia"]);
    assert_eq!(c.poll.timeout, Duration::from_secs(20));
}

#[test]
fn unknown_key_reports_line_and_column() {
    let text = GOOD.replace("sections = [\"asia\"]", "sectons = [\"asia\"]");
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].line, 16);
    assert_eq!(e.problems[0].column, 1);
    assert!(e.problems[0].message.contains("sectons"), "{e}");
}

#[test]
fn undefined_section_reports_its_position() {
    let text = GOOD.replace("sections = [\"asia\"]", "sections = [\"asai\"]");
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    assert_eq!((e.problems[0].line, e.problems[0].column), (16, 13));
    assert!(
        e.to_string()
            .starts_with("f.toml:16:13: source \"A\": section \"asai\"")
    );
}

#[test]
fn section_rules_and_tagging_mode_load() {
    let text = GOOD
        .replace(
            "keywords = [\"Korea\"]",
            "keywords = [\"Korea\", \"UN\"]\nexclude = [\"K-pop\"]\ncategories = [\"Asia Pacific\"]\npaths = [\"/asia/\", \"/world/asia*\"]\nregex = ['\\bSeoul\\b']",
        )
        .replace("sections = [\"asia\"]", "sections = [\"asia\"]\ntagging = \"rules\"");
    let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
    let asia = &c.sections[0];
    assert_eq!(asia.keywords, vec!["Korea", "UN"]);
    assert_eq!(asia.exclude, vec!["K-pop"]);
    assert_eq!(asia.categories, vec!["Asia Pacific"]);
    assert_eq!(asia.paths, vec!["/asia/", "/world/asia*"]);
    assert_eq!(asia.regex, vec![r"\bSeoul\b"]);
    assert_eq!(c.sources[0].tagging, Tagging::Rules);
    assert_eq!(
        Config::from_toml(Path::new("f.toml"), GOOD)
            .unwrap()
            .sources[0]
            .tagging,
        Tagging::Both
    );
}

#[test]
fn an_invalid_regex_or_path_is_reported_at_its_position() {
    let text = GOOD.replace(
        "keywords = [\"Korea\"]",
        "keywords = [\"Korea\"]\nregex = [\"ok\", \"(unclosed\"]\npaths = [\"asia/\"]",
    );
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("f.toml:12:16: section \"asia\": invalid regex: unclosed group"),
        "{msg}"
    );
    assert!(
        msg.contains("f.toml:13:10: section \"asia\": path \"asia/\" must start with /"),
        "{msg}"
    );
    let text = GOOD.replace("sections = [\"asia\"]", "tagging = \"sometimes\"");
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    assert!(e.to_string().contains("f.toml:16:"), "{e}");
}

#[test]
fn the_tagging_table_loads_and_bad_values_are_errors() {
    let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
    assert_eq!(c.tagging, TaggingConfig::default());
    let text = format!(
        "{GOOD}\n[tagging]\nlearn = true\nmin_confidence = 0.9\napply = \"all\"\nretrain_hours = 6\nretrain_after = 50\nmin_stories = 40\n"
    );
    let t = Config::from_toml(Path::new("f.toml"), &text)
        .unwrap()
        .tagging;
    assert!(t.learn && t.min_confidence == 0.9 && t.apply == LearnApply::All);
    assert_eq!(t.retrain_every, chrono::Duration::hours(6));
    assert_eq!((t.retrain_after, t.min_stories), (50, 40));
    for (bad, says) in [
        (
            "min_confidence = 1.5",
            "tagging.min_confidence: must be a probability",
        ),
        (
            "min_confidence = 0",
            "tagging.min_confidence: must be a probability",
        ),
        (
            "retrain_hours = 0",
            "tagging.retrain_hours: must be between 1 and 8760",
        ),
        (
            "min_stories = 3",
            "tagging.min_stories: must be at least 20",
        ),
        ("apply = \"some\"", "unknown variant"),
    ] {
        let text = format!("{GOOD}\n[tagging]\n{bad}\n");
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
    }
}

#[test]
fn retention_settings_load_and_must_cover_the_dedupe_window() {
    let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
    assert_eq!(c.keep, Some(chrono::Duration::days(30)));
    assert_eq!(c.tombstones_for, chrono::Duration::days(90));
    let text = GOOD.replace("[storage]", "[storage]\nkeep_days = 0\ntombstone_days = 7");
    let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
    assert_eq!(
        (c.keep, c.tombstones_for),
        (None, chrono::Duration::days(7))
    );
    let text = GOOD.replace("[storage]", "[storage]\nkeep_days = 2");
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    assert!(
        e.to_string().contains("shorter than dedupe.window_hours"),
        "{e}"
    );
}

#[test]
fn the_websub_hub_must_be_an_http_url() {
    let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
    assert_eq!(c.output.websub_hub, None);
    let with = |hub: &str| format!("{GOOD}\n[output]\nwebsub_hub = \"{hub}\"\n");
    let c = Config::from_toml(Path::new("f.toml"), &with("https://hub.example/")).unwrap();
    assert_eq!(
        c.output.websub_hub.map(|u| u.to_string()).as_deref(),
        Some("https://hub.example/")
    );
    for bad in ["ftp://hub.example/", "not a url"] {
        let e = Config::from_toml(Path::new("f.toml"), &with(bad)).unwrap_err();
        assert!(e.to_string().contains("output.websub_hub"), "{e}");
    }
}

#[test]
fn the_metrics_path_is_configurable_or_off() {
    let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
    assert_eq!(c.server.metrics.as_deref(), Some("/metrics"));
    for (value, want) in [("\"/stats\"", Some("/stats")), ("\"\"", None)] {
        let text = GOOD.replace(
            "listen = \"127.0.0.1:9000\"",
            &format!("listen = \"127.0.0.1:9000\"\nmetrics = {value}"),
        );
        let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
        assert_eq!(c.server.metrics.as_deref(), want);
    }
    let text = GOOD.replace(
        "listen = \"127.0.0.1:9000\"",
        "listen = \"127.0.0.1:9000\"\nmetrics = \"/feeds/m\"",
    );
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    assert!(e.to_string().contains("server.metrics"), "{e}");
}

#[test]
fn collects_several_problems() {
    let text = format!(
        "{GOOD}\n[[source]]\nname = \"A\"\nurl = \"ftp://x/y\"\n[[section]]\nid = \"all\"\ntitle = \"x\"\n"
    );
    let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
    let msgs: Vec<_> = e.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
}

#[test]
fn relative_file_urls_resolve_against_config_folder() {
    let u = parse_source_url("file:feeds/a.xml", Path::new("/srv/x")).unwrap();
    assert_eq!(u.as_str(), "file:///srv/x/feeds/a.xml");
    assert!(parse_source_url("file:///abs/a.xml", Path::new("/srv")).is_ok());
    assert!(parse_source_url("gopher://x", Path::new("/srv")).is_err());
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncé d", 7), (2, 4));
}
