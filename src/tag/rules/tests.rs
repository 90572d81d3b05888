use super::*;

fn section(id: &str) -> SectionConfig {
    SectionConfig {
        id: id.into(),
        title: id.into(),
        ..SectionConfig::default()
    }
}

fn source(name: &str, sections: &[&str], tagging: Tagging) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        url: url::Url::parse("https://example.org/feed").unwrap(),
        sections: sections.iter().map(|s| s.to_string()).collect(),
        schedule: None,
        dedupe: true,
        tagging,
    }
}

fn tagger() -> Tagger {
    Tagger::new(
        &[
            SectionConfig {
                keywords: vec!["Korea".into(), "South China Sea".into()],
                ..section("asia")
            },
            SectionConfig {
                keywords: vec!["stocks".into(), "central bank".into()],
                ..section("business")
            },
            SectionConfig {
                keywords: vec!["UN".into(), "ceasefire".into()],
                ..section("world")
            },
            SectionConfig {
                keywords: vec!["food".into(), "café".into()],
                exclude: vec!["prices".into(), "food crisis".into()],
                ..section("lifestyle")
            },
        ],
        &[
            source("Wire", &[], Tagging::Both),
            source("World desk", &["world"], Tagging::Both),
            source("Asia desk", &["asia"], Tagging::Both),
        ],
    )
}

fn item<'a>(title: &'a str, summary: &'a str) -> ItemText<'a> {
    from("Wire", title, summary)
}

fn from<'a>(source: &'a str, title: &'a str, summary: &'a str) -> ItemText<'a> {
    ItemText {
        source_name: source,
        title,
        summary,
        url: None,
        categories: &[],
    }
}

#[test]
fn whole_words_case_insensitive_phrases() {
    let t = tagger();
    let got = t.tag(&[item("KOREA talks resume", "")]);
    assert_eq!(got.get("asia"), Some(&Origin::Keyword("Korea".into())));
    let got = t.tag(&[item("Koreatown food fair", "")]);
    assert!(!got.contains_key("asia"));
    let got = t.tag(&[item("Patrols", "Ships in the south china sea again")]);
    assert!(got.contains_key("asia"));
    assert!(t.tag(&[item("South China", "Sea levels rise")]).is_empty());
    let got = t.tag(&[item("The Central-Bank raises rates", "")]);
    assert!(got.contains_key("business"));
}

#[test]
fn a_keyword_in_capitals_matches_only_in_capitals() {
    let t = tagger();
    let got = t.tag(&[item("UN envoy arrives in Yemen", "")]);
    assert_eq!(got.get("world"), Some(&Origin::Keyword("UN".into())));
    assert!(
        t.tag(&[item("Kim Jong Un inspects missile site", "")])
            .is_empty()
    );
    assert!(t.tag(&[item("Un día en Madrid", "")]).is_empty());
}

#[test]
fn keywords_ignore_accents_both_ways() {
    let t = tagger();
    assert!(
        t.tag(&[item("Best cafe in town", "")])
            .contains_key("lifestyle")
    );
    assert!(
        t.tag(&[item("Le Café de Flore reopens", "")])
            .contains_key("lifestyle")
    );
}

#[test]
fn an_exclusion_vetoes_the_sections_rules_not_its_sources() {
    let t = tagger();
    assert!(
        t.tag(&[item("Street food festival opens", "")])
            .contains_key("lifestyle")
    );
    // "food prices" is economics, not lifestyle.
    assert!(
        t.tag(&[item("Food prices climb for a third month", "")])
            .is_empty()
    );
    assert!(
        t.tag(&[item(
            "Aid agencies warn",
            "The food crisis deepens in the Sahel"
        )])
        .is_empty()
    );
    // Another item of the same story may still bring the section.
    let got = t.tag(&[
        item("Food prices climb", ""),
        item("Where to find the best food this week", ""),
    ]);
    assert!(got.contains_key("lifestyle"));
}

#[test]
fn source_sections_come_first_and_union_over_items() {
    let t = tagger();
    let got = t.tag(&[
        from("World desk", "Korea summit", ""),
        from("Asia desk", "x", ""),
    ]);
    assert_eq!(got.get("world"), Some(&Origin::Source("World desk".into())));
    assert_eq!(got.get("asia"), Some(&Origin::Source("Asia desk".into())));
    assert_eq!(got.len(), 2);
}

#[test]
fn tagging_mode_decides_between_source_and_rules() {
    let sections = [SectionConfig {
        keywords: vec!["stocks".into()],
        ..section("business")
    }];
    let make = |tagging| Tagger::new(&sections, &[source("S", &["world"], tagging)]);
    let it = [from("S", "Stocks rally", "")];
    let keys = |t: &Tagger| t.tag(&it).into_keys().collect::<Vec<_>>();
    assert_eq!(keys(&make(Tagging::Both)), vec!["business", "world"]);
    assert_eq!(keys(&make(Tagging::Source)), vec!["world"]);
    assert_eq!(keys(&make(Tagging::Rules)), vec!["business"]);
}

#[test]
fn categories_map_to_sections_whole_or_by_part() {
    let t = Tagger::new(
        &[SectionConfig {
            categories: vec!["Business".into(), "Économie".into()],
            ..section("business")
        }],
        &[],
    );
    let tag = |cats: &[&str]| {
        let cats: Vec<String> = cats.iter().map(|c| c.to_string()).collect();
        let it = ItemText {
            categories: &cats,
            ..item("Quarterly figures", "")
        };
        t.tag(&[it]).remove("business")
    };
    assert_eq!(
        tag(&["business"]),
        Some(Origin::Category("Business".into()))
    );
    assert_eq!(
        tag(&["News/Business/Markets"]),
        Some(Origin::Category("Business".into()))
    );
    assert_eq!(
        tag(&["economie"]),
        Some(Origin::Category("Économie".into()))
    );
    assert_eq!(tag(&["Business travel tips"]), None);
    assert_eq!(tag(&[]), None);
}

#[test]
fn paths_match_by_prefix_or_glob() {
    let t = Tagger::new(
        &[
            SectionConfig {
                paths: vec!["/asia/".into(), "/world/asia*".into()],
                ..section("asia")
            },
            SectionConfig {
                paths: vec!["/*/opinion/*".into()],
                ..section("debate")
            },
        ],
        &[],
    );
    let tag = |url: &str| {
        let it = ItemText {
            url: Some(url),
            ..item("Headline", "")
        };
        t.tag(&[it]).into_iter().collect::<Vec<_>>()
    };
    assert_eq!(
        tag("https://news.example/asia/china-1"),
        vec![("asia".into(), Origin::Path("/asia/".into()))]
    );
    assert_eq!(
        tag("https://news.example/World/Asia-Pacific/x"),
        vec![("asia".into(), Origin::Path("/world/asia*".into()))]
    );
    assert_eq!(
        tag("https://news.example/2026/opinion/why"),
        vec![("debate".into(), Origin::Path("/*/opinion/*".into()))]
    );
    assert!(tag("https://news.example/asian-games/").is_empty());
    assert!(tag("https://news.example/sport/?q=/asia/").is_empty());
}

#[test]
fn a_regex_matches_title_or_summary() {
    let t = Tagger::new(
        &[SectionConfig {
            regex: vec![r"(?i)\bq[1-4] (results|earnings)\b".into()],
            ..section("business")
        }],
        &[],
    );
    assert!(
        t.tag(&[item("Acme Q3 results beat forecasts", "")])
            .contains_key("business")
    );
    assert!(
        t.tag(&[item("Acme", "Q1 earnings fall")])
            .contains_key("business")
    );
    assert!(t.tag(&[item("Q3 of the match", "")]).is_empty());
}

#[test]
fn globs() {
    assert!(glob_match(b"/a/*", b"/a/b/c"));
    assert!(glob_match(b"*x", b"abcx"));
    assert!(glob_match(b"/a?c", b"/abc"));
    assert!(!glob_match(b"/a?c", b"/ac"));
    assert!(glob_match(b"/world/asia*", b"/world/asia"));
    assert!(!glob_match(b"/world/asia*", b"/world/europe"));
}
