//! The configured sources as OPML 2.0 (<http://opml.org/spec2.opml>), for moving a subscription list
//! to a feed reader or another aggregator: one `rss` outline per source, with its sections as OPML
//! categories.

use crate::config::Config;

pub fn render(config: &Config) -> Vec<u8> {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!(
        "  <head>\n    <title>{} sources</title>\n    <ownerName>syndic</ownerName>\n  </head>\n  <body>\n",
        esc(&config.output.title)
    ));
    for s in &config.sources {
        let category = s
            .sections
            .iter()
            .map(|c| format!("/{c}"))
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{n}\" title=\"{n}\" xmlUrl=\"{u}\"{c}/>\n",
            n = esc(&s.name),
            u = esc(s.url.as_str()),
            c = if category.is_empty() {
                String::new()
            } else {
                format!(" category=\"{}\"", esc(&category))
            }
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    super::x(&out).into_bytes()
}

/// Escapes text for an XML attribute or element.
fn esc(s: &str) -> String {
    super::escape(s).replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_source_is_an_outline_with_its_sections() {
        let text = r#"
[[section]]
id = "asia"
title = "Asia"
[[source]]
name = "Tom & Jerry's \"Desk\""
url = "https://a.example/feed?x=1&y=2"
sections = ["asia"]
[[source]]
name = "Plain"
url = "https://b.example/rss"
"#;
        let config =
            crate::config::Config::from_toml(std::path::Path::new("/tmp/f.toml"), text).unwrap();
        let out = String::from_utf8(super::render(&config)).unwrap();
        assert!(out.contains(r#"<opml version="2.0">"#), "{out}");
        assert!(
            out.contains(r#"text="Tom &amp; Jerry&apos;s &quot;Desk&quot;""#),
            "{out}"
        );
        assert!(
            out.contains(r#"xmlUrl="https://a.example/feed?x=1&amp;y=2" category="/asia"/>"#),
            "{out}"
        );
        assert!(out.contains(r#"xmlUrl="https://b.example/rss"/>"#), "{out}");
    }
}
