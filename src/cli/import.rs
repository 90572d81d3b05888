//! `syndic import-opml`: a reader's subscription list (OPML 1.0/2.0) appended to feeds.toml as
//! `[[source]]` tables, with `toml_edit` so the operator's comments, order and layout stay as they are.
//!
//! Feeds are the outlines with an `xmlUrl`, at any depth. A feed's sections are the configured ones its
//! OPML `category` attribute or its enclosing folders name (by id or title, any case), plus
//! `--section`. URLs already configured, repeated in the file, or not http(s) are skipped and reported.
//! The new text is validated exactly like `syndic check` before anything is written.

use std::collections::HashSet;
use std::path::Path;

use quick_xml::events::Event;
use toml_edit::{Array, DocumentMut, Item, Table, value};
use url::Url;

use crate::config::Config;

/// One feed of an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub name: String,
    pub url: String,
    /// Category paths and enclosing folder names, as written.
    pub labels: Vec<String>,
}

/// Reads the feeds of an OPML document.
pub fn parse_opml(bytes: &[u8]) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    // Folder names of the enclosing outlines (None for an outline that is itself a feed).
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        let (start, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.local_name().as_ref() == "outline" {
                    folders.pop();
                }
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        match start.local_name().as_ref() {
            "opml" => saw_opml = true,
            "outline" => {
                let attr = |name: &str| crate::ingest::parse::attribute(start, name);
                let text = attr("title").or_else(|| attr("text"));
                let folder = match attr("xmlUrl") {
                    Some(url) => {
                        let mut labels: Vec<String> = attr("category")
                            .map(|c| c.split(',').map(|p| p.trim().to_string()).collect())
                            .unwrap_or_default();
                        labels.extend(folders.iter().flatten().cloned());
                        feeds.push(OpmlFeed {
                            name: text.unwrap_or_default(),
                            url,
                            labels,
                        });
                        None
                    }
                    None => text,
                };
                if !empty {
                    folders.push(folder);
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_opml {
        return Err("not an OPML document (no <opml> element)".into());
    }
    Ok(feeds)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    /// `(name, url, sections)` of each source added.
    pub added: Vec<(String, String, Vec<String>)>,
    /// `(url, why)` of each feed left out.
    pub skipped: Vec<(String, String)>,
}

/// Appends `feeds` to the config text `text` (the file `path`, whose loaded form is `config`) and
/// returns the new text, validated, with what was added and skipped.
pub fn append_sources(
    path: &Path,
    text: &str,
    config: &Config,
    feeds: &[OpmlFeed],
    section: Option<&str>,
) -> Result<(String, Report), String> {
    let doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut known_urls: HashSet<String> =
        config.sources.iter().map(|s| s.url.to_string()).collect();
    let mut names: HashSet<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let mut report = Report::default();
    let mut tables = Vec::new();
    for feed in feeds {
        let url = match Url::parse(&feed.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            Ok(u) => {
                report.skipped.push((
                    feed.url.clone(),
                    format!(
                        "scheme \"{}\" is not imported (http and https only)",
                        u.scheme()
                    ),
                ));
                continue;
            }
            Err(e) => {
                report
                    .skipped
                    .push((feed.url.clone(), format!("not a URL: {e}")));
                continue;
            }
        };
        if !known_urls.insert(url.to_string()) {
            report
                .skipped
                .push((feed.url.clone(), "already configured".into()));
            continue;
        }
        let name = unique_name(&feed.name, &url, &mut names);
        let mut sections: Vec<String> = feed
            .labels
            .iter()
            .filter_map(|l| section_of(config, l))
            .chain(section.map(str::to_string))
            .collect();
        sections.sort();
        sections.dedup();
        let mut t = Table::new();
        t.insert("name", value(name.clone()));
        t.insert("url", value(url.as_str()));
        if !sections.is_empty() {
            t.insert("sections", value(sections.iter().collect::<Array>()));
        }
        tables.push(t);
        report.added.push((name, url.to_string(), sections));
    }
    if tables.is_empty() {
        return Ok((text.to_string(), report));
    }
    if doc.get("source").is_some_and(|s| !s.is_array_of_tables()) {
        return Err(
            "feeds.toml: `source` is not written as [[source]] tables; cannot append".into(),
        );
    }
    // The new tables are written by toml_edit and appended after the file's last byte, so everything
    // already there (comments after the last table included) stays exactly as it was.
    let mut added = DocumentMut::new();
    let mut list = toml_edit::ArrayOfTables::new();
    for t in tables {
        list.push(t);
    }
    added.insert("source", Item::ArrayOfTables(list));
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&added.to_string());
    Config::from_toml(path, &out)
        .map_err(|e| format!("the imported config would not load: {e}"))?;
    Ok((out, report))
}

/// The configured section an OPML label names: its last path segment (`/News/Asia` → `Asia`) as a
/// section id or title, any case.
fn section_of(config: &Config, label: &str) -> Option<String> {
    let last = label.trim_matches('/').rsplit('/').next()?.trim();
    config
        .sections
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(last) || s.title.eq_ignore_ascii_case(last))
        .map(|s| s.id.clone())
}

/// The feed's name, or its host when it has none, made unique among the configured names.
fn unique_name(name: &str, url: &Url, names: &mut HashSet<String>) -> String {
    let base = crate::ingest::normalize::clean_text(name);
    let base = if base.is_empty() {
        url.host_str().unwrap_or("feed").to_string()
    } else {
        crate::ingest::normalize::truncate_chars(&base, 200)
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while !names.insert(candidate.clone()) {
        candidate = format!("{base} ({n})");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPML: &str = r#"<?xml version="1.0"?>
<opml version="1.0"><head><title>My feeds</title></head><body>
  <outline text="Asia">
    <outline type="rss" text="Tokyo Desk" xmlUrl="https://tokyo.example/rss"/>
    <outline type="rss" title="Seoul &amp; Busan" text="ignored" xmlUrl="https://seoul.example/atom"/>
  </outline>
  <outline type="rss" text="Money" xmlUrl="https://money.example/feed" category="/business,/nowhere"/>
  <outline type="rss" text="" xmlUrl="https://nameless.example/feed"/>
  <outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/>
  <outline type="rss" text="Again" xmlUrl="https://tokyo.example/rss"/>
</body></opml>"#;

    const CONFIG: &str = r#"# the newsroom
[[section]]
id = "asia"
title = "Asia"   # keep me

[[section]]
id = "business"
title = "Business"

[[source]]
name = "Money"
url = "https://old.example/rss"
"#;

    #[test]
    fn reads_feeds_at_any_depth_with_their_folders() {
        let feeds = parse_opml(OPML.as_bytes()).unwrap();
        assert_eq!(feeds.len(), 6);
        assert_eq!(feeds[0].name, "Tokyo Desk");
        assert_eq!(feeds[0].labels, vec!["Asia"]);
        assert_eq!(feeds[1].name, "Seoul & Busan");
        assert_eq!(feeds[2].labels, vec!["/business", "/nowhere"]);
        assert!(parse_opml(b"<rss/>").is_err());
        assert!(parse_opml(b"<opml><body><outline").is_err());
    }

    #[test]
    fn appends_sources_keeping_the_file_and_skipping_known_urls() {
        let path = Path::new("/tmp/feeds.toml");
        let config = Config::from_toml(path, CONFIG).unwrap();
        let feeds = parse_opml(OPML.as_bytes()).unwrap();
        let (out, report) = append_sources(path, CONFIG, &config, &feeds, None).unwrap();
        assert!(out.starts_with(CONFIG), "{out}");
        assert!(out.contains("title = \"Asia\"   # keep me"));
        let names: Vec<&str> = report.added.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "Tokyo Desk",
                "Seoul & Busan",
                "Money (2)",
                "nameless.example"
            ]
        );
        assert_eq!(report.added[0].2, vec!["asia"]);
        assert_eq!(report.added[2].2, vec!["business"]);
        assert_eq!(report.skipped.len(), 2, "{:?}", report.skipped);
        let loaded = Config::from_toml(path, &out).unwrap();
        assert_eq!(loaded.sources.len(), 5);

        // Importing the same file into the result adds nothing.
        let (again, report) = append_sources(path, &out, &loaded, &feeds, None).unwrap();
        assert_eq!(again, out);
        assert!(report.added.is_empty());

        // --section applies to every added source; an unknown one fails validation.
        let (_, report) = append_sources(path, CONFIG, &config, &feeds, Some("business")).unwrap();
        assert_eq!(report.added[0].2, vec!["asia", "business"]);
        let e = append_sources(path, CONFIG, &config, &feeds, Some("sport")).unwrap_err();
        assert!(e.contains("sport"), "{e}");
    }
}
