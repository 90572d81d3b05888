//! Section rules end to end: a general wire polled over loopback HTTP in RSS, Atom and JSON Feed, whose
//! stories land in sections by the sources' own categories (RSS category and dc:subject, Atom, JSON Feed), URL paths, keywords (capitals-only ones
//! too), exclusions and regexes, with `--explain` saying why.

use crate::support::{Env, FixtureServer, Route};

const SECTIONS: &str = r#"
[[section]]
id = "asia"
title = "Asia"
categories = ["Asia Pacific"]
paths = ["/world/asia*"]
keywords = ["Korea"]

[[section]]
id = "world"
title = "World"
keywords = ["UN", "ceasefire"]

[[section]]
id = "business"
title = "Business"
categories = ["Economy", "Business"]
regex = ['(?i)\bq[1-4] results\b']

[[section]]
id = "lifestyle"
title = "Lifestyle"
keywords = ["food"]
exclude = ["food prices"]
"#;

fn rss() -> String {
    let item = |guid: &str, title: &str, link: &str, extra: &str| {
        format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link><description>Report.</description>{extra}<pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>\n"
        )
    };
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Wire</title><link>https://wire.example/</link><description>all news</description>\n",
    );
    s += &item(
        "r1",
        "Parliament debates budget",
        "https://wire.example/politics/budget",
        "<category>News/Business</category>",
    );
    s += &item(
        "r2",
        "Typhoon nears the coast",
        "https://wire.example/World/Asia-Pacific/typhoon",
        "",
    );
    s += &item(
        "r3",
        "Kim Jong Un inspects missile site",
        "https://wire.example/politics/kim",
        "",
    );
    s += &item(
        "r4",
        "UN envoy arrives for talks",
        "https://wire.example/politics/envoy",
        "",
    );
    s += &item(
        "r5",
        "Food prices climb again",
        "https://wire.example/politics/prices",
        "",
    );
    s += &item(
        "r6",
        "Street food festival opens",
        "https://wire.example/culture/festival",
        "",
    );
    s += &item(
        "r7",
        "Acme Q3 results beat forecasts",
        "https://wire.example/companies/acme",
        "",
    );
    s += &item(
        "r8",
        "Harvest festival draws crowds",
        "https://wire.example/culture/harvest",
        "<category>asia pacific</category>",
    );
    s += &item(
        "r9",
        "Ministers review the tariff plan",
        "https://wire.example/politics/tariffs",
        "<dc:subject>Economy</dc:subject>",
    );
    s + "</channel></rss>\n"
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire Atom</title><id>urn:wire</id>
<updated>2026-11-27T10:00:00Z</updated>
<entry><id>urn:a1</id><title>Central planners meet</title><link href="https://wire.example/a/planners"/>
<updated>2026-11-27T10:00:00Z</updated><category term="economy" label="The economy"/><summary>Text.</summary></entry>
</feed>
"#;

const JSON: &str = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Wire JSON",
 "items": [{"id": "j1", "url": "https://wire.example/j/lanterns", "title": "Lantern night lights up old town",
            "content_text": "Text.", "date_published": "2026-11-27T10:00:00Z", "tags": ["asia pacific"]}]}"#;

fn route(body: &str, content_type: &str) -> Route {
    Route::Feed {
        body: body.as_bytes().to_vec(),
        content_type: content_type.into(),
        etag: None,
    }
}

fn config(server: &FixtureServer) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndatabase = \"test.db\"\n\n[poll]\ntimeout_secs = 5\n{SECTIONS}
[[source]]\nname = \"Wire\"\nurl = \"{}\"\nsections = [\"world\"]\ntagging = \"rules\"\n
[[source]]\nname = \"Wire Atom\"\nurl = \"{}\"\ntagging = \"rules\"\n
[[source]]\nname = \"Wire JSON\"\nurl = \"{}\"\n",
        server.url("/wire.rss"),
        server.url("/wire.atom"),
        server.url("/wire.json"),
    )
}

/// (title of the lead item, sections, origins) of every story.
fn tagged(env: &Env) -> Vec<(String, Vec<String>, Vec<String>)> {
    env.stories("all")
        .iter()
        .map(|s| {
            (
                s["items"][0]["title"].as_str().unwrap().to_string(),
                serde_json::from_value(s["sections"].clone()).unwrap(),
                serde_json::from_value(s["section_origins"].clone()).unwrap(),
            )
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The wire in three formats on a fixture server, and a config polling it.
fn wire() -> (FixtureServer, Env) {
    let server = FixtureServer::start();
    server.set("/wire.rss", route(&rss(), "application/rss+xml"));
    server.set("/wire.atom", route(ATOM, "application/atom+xml"));
    server.set("/wire.json", route(JSON, "application/feed+json"));
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(env.config_path(), config(&server)).unwrap();
    (server, env)
}

#[test]
fn a_general_wire_lands_in_sections_by_rules_in_every_format() {
    let (_server, env) = wire();
    env.ok(&["check"]);
    let out = env.ok(&["poll"]);
    assert!(out.contains("0 errors"), "{out}");

    let got = tagged(&env);
    let of = |title: &str| {
        got.iter()
            .find(|(t, _, _)| t == title)
            .unwrap_or_else(|| panic!("{title} not stored: {got:#?}"))
            .clone()
    };
    let expect: &[(&str, &[&str], &[&str])] = &[
        // A hierarchical RSS category; the source's own "world" does not apply (tagging = "rules").
        (
            "Parliament debates budget",
            &["business"],
            &["category:Business"],
        ),
        // A path glob, case-insensitive.
        ("Typhoon nears the coast", &["asia"], &["path:/world/asia*"]),
        // "Un" is not "UN".
        ("Kim Jong Un inspects missile site", &[], &[]),
        ("UN envoy arrives for talks", &["world"], &["keyword:UN"]),
        // The exclusion vetoes "food".
        ("Food prices climb again", &[], &[]),
        (
            "Street food festival opens",
            &["lifestyle"],
            &["keyword:food"],
        ),
        (
            "Acme Q3 results beat forecasts",
            &["business"],
            &[r"regex:(?i)\bq[1-4] results\b"],
        ),
        // A Dublin Core subject.
        (
            "Ministers review the tariff plan",
            &["business"],
            &["category:Economy"],
        ),
        // An RSS category in other letters, an Atom category term and a JSON Feed tag.
        (
            "Harvest festival draws crowds",
            &["asia"],
            &["category:Asia Pacific"],
        ),
        (
            "Central planners meet",
            &["business"],
            &["category:Economy"],
        ),
        (
            "Lantern night lights up old town",
            &["asia"],
            &["category:Asia Pacific"],
        ),
    ];
    for (title, sections, origins) in expect {
        let (_, s, o) = of(title);
        assert_eq!((s, o), (strings(sections), strings(origins)), "{title}");
    }

    let explain = env.ok(&["stories", "--explain", "--limit", "50"]);
    for line in [
        "section business: the source's own category \"Business\"",
        "section asia: article URL path rule \"/world/asia*\"",
        "section world: keyword rule \"UN\"",
        r"section business: regex rule /(?i)\bq[1-4] results\b/",
    ] {
        assert!(explain.contains(line), "missing {line:?} in:\n{explain}");
    }
}

#[test]
fn a_rule_change_retags_stored_stories_on_the_next_run() {
    let (server, env) = wire();
    env.ok(&["poll"]);
    // The desk decides the Wire's own "world" default applies after all, and that "Kim" is Asia news.
    let edited = config(&server)
        .replacen("tagging = \"rules\"\n", "tagging = \"both\"\n", 1)
        .replace(
            "keywords = [\"Korea\"]",
            "keywords = [\"Korea\", \"Kim Jong Un\"]",
        );
    std::fs::write(env.config_path(), edited).unwrap();
    // Nothing new to fetch: the stored stories are retagged when the poll starts.
    env.ok(&["poll"]);
    let got = tagged(&env);
    let (_, sections, origins) = got
        .iter()
        .find(|(t, _, _)| t == "Kim Jong Un inspects missile site")
        .unwrap();
    assert_eq!(sections, &["asia", "world"]);
    assert_eq!(origins, &["keyword:Kim Jong Un", "source:Wire"]);
}
