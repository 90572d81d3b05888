use chrono::{DateTime, Utc};

use super::atom::draft_atom_namespace;
use super::*;

fn terms(feed: &Feed) -> Vec<Vec<String>> {
    feed.entries
        .iter()
        .map(|e| e.categories.iter().map(|c| c.term.clone()).collect())
        .collect()
}

fn title(t: &Option<feed_rs::model::Text>) -> &str {
    t.as_ref().map_or("", |t| t.content.as_str())
}

#[test]
fn atom_drafts_base64_and_odd_types_are_read() {
    // A pre-0.3 namespace with version="0.3", inline markup in a 0.3 title, base64 in 0.3 and 1.0.
    let drafts = br#"<feed version="0.3" xmlns="http://purl.org/echo/"><title>Example <b>Atom</b></title>
        <entry><title mode="base64">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title><id>e1</id></entry></feed>"#;
    let feed = parse_feed(drafts, None, None).unwrap();
    assert!(
        title(&feed.title).contains("<b>Atom</b>"),
        "{:?}",
        feed.title
    );
    assert_eq!(title(&feed.entries[0].title), "Example <b>Atom</b>");
    let atom10 =
        br#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="application/octet-stream">
        RXhhbXBsZSA8Yj5BdG9tPC9iPg==
        </title><entry><title type="">evil</title><id>e</id></entry></feed>"#;
    let feed = parse_feed(atom10, None, None).unwrap();
    assert_eq!(title(&feed.title), "Example <b>Atom</b>");
    assert_eq!(title(&feed.entries[0].title), "evil");
    // Not Atom at all: untouched.
    assert!(draft_atom_namespace("<rss version=\"0.3\"/>").is_none());
}

#[test]
fn rss_090_and_linkless_rss_1_items_are_kept_with_their_about_ids() {
    let rss090 = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
        <channel><title>Example title</title></channel><item><title>Item title</title></item></rdf:RDF>"#;
    let feed = parse_feed(rss090, None, None).unwrap();
    assert_eq!(title(&feed.title), "Example title");
    assert_eq!(title(&feed.entries[0].title), "Item title");
    let rss1 = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel rdf:about="http://example.com/"><title>t</title></channel>
        <item rdf:about="http://example.org/1"><title>One</title></item>
        <item rdf:about="http://example.org/2"><title>Two</title><link>http://example.org/two</link></item></rdf:RDF>"#;
    let feed = parse_feed(rss1, None, None).unwrap();
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(feed.entries[0].id, "http://example.org/1");
    assert_eq!(feed.entries[0].links[0].href, "http://example.org/1");
    assert_eq!(feed.entries[1].links[0].href, "http://example.org/two");
}

#[test]
fn dublin_core_titles_authors_and_dates_fill_what_rss_lacks() {
    let doc = br#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">
        <channel><dc:title>Channel</dc:title><dc:date>2003-12-31T10:14:55Z</dc:date>
        <item><dc:title>Item</dc:title><dc:author>Ed</dc:author><dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued>
        <dcterms:modified>2004-01-01T00:00:00Z</dcterms:modified></item>
        <item><title>Own</title><dc:title>Ignored</dc:title></item></channel></rss>"#;
    let feed = parse_feed(doc, None, None).unwrap();
    assert_eq!(title(&feed.title), "Channel");
    assert!(feed.updated.is_some());
    let e = &feed.entries[0];
    assert_eq!(title(&e.title), "Item");
    assert_eq!(e.authors[0].name.as_deref(), Some("Ed"));
    assert_eq!(
        e.published.unwrap().to_rfc3339(),
        "2003-12-31T10:14:55+00:00"
    );
    assert_eq!(e.updated.unwrap().to_rfc3339(), "2004-01-01T00:00:00+00:00");
    assert_eq!(title(&feed.entries[1].title), "Own");
}

#[test]
fn dublin_core_subjects_become_categories_in_rss_2_and_1() {
    let rss2 = br#"<?xml version="1.0"?><rss version="2.0" xmlns:d="http://purl.org/dc/elements/1.1/"><channel><title>t</title><link>http://x/</link><description>d</description>
<d:subject>Channel level</d:subject>
<item><title>a</title><link>http://x/a</link><d:subject>Business &amp; Economy</d:subject><category>Markets</category><d:subject><![CDATA[Asia]]></d:subject></item>
<item><title>b</title><link>http://x/b</link><subject>not Dublin Core</subject></item>
<item><title>c</title><link>http://x/c</link><d:subject> Markets </d:subject></item>
</channel></rss>"#;
    let feed = parse_feed(rss2, None, None).unwrap();
    assert_eq!(
        terms(&feed),
        [
            vec!["Markets", "Business & Economy", "Asia"],
            vec![],
            vec!["Markets"]
        ]
    );
    let rss1 = br#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://x/"><title>t</title><link>http://x/</link><description>d</description></channel>
<item rdf:about="http://x/1"><title>one</title><link>http://x/1</link><dc:subject>World</dc:subject></item>
</rdf:RDF>"#;
    assert_eq!(
        terms(&parse_feed(rss1, None, None).unwrap()),
        [vec!["World"]]
    );
}

#[test]
fn xml_declarations_are_dropped_not_a_crash() {
    // Found by fuzzing: quick-xml panicked switching encodings at a declaration mid-document.
    let doc = br#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><?xml version="1.0" encoding="ISO-8859-1"?><?xml-stylesheet href="s.xsl"?>
<item><title>a</title><link>http://x/a</link></item></channel></rss>"#;
    let feed = parse_feed(doc, None, None).unwrap();
    assert_eq!(feed.entries.len(), 1);
    // A declaration cut short by another one, in another encoding.
    let doc = "<?xml version=\"1.\u{feff}<?xml version=\"1.0\" encoding=\"us-ascii\"?>\
<rss version=\"2.0\"><channel><title>t</title><item><title>b</title><link>http://x/b</link></item></channel></rss>";
    assert_eq!(
        parse_feed(doc.as_bytes(), None, None)
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_eq!(
        &*without_declarations(b"  <?xml version='1.0'?><rss/>"),
        b"<rss/>"
    );
    for name in ["feed-late-declaration.xml", "feed-broken-declaration.xml"] {
        let crash = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions")
            .join(name);
        if let Err(e) = parse_feed(&std::fs::read(crash).unwrap(), None, None) {
            assert!(!e.to_string().contains("parser failed"), "{name}: {e}");
        }
    }
}

#[test]
fn an_address_touching_a_multibyte_character_is_no_crash() {
    // Found by fuzzing: feed-rs sliced inside the character next to an author's address.
    let doc = "<rss version=\"2.0\"><channel><title>t</title><managingEditor>\u{81}me@example.com)</managingEditor>\
<item><title>a</title><link>http://x/a</link><author>jane@example.com（Jane）</author></item></channel></rss>";
    let feed = parse_feed(doc.as_bytes(), None, None).unwrap();
    assert_eq!(feed.entries.len(), 1);
    let crash = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions/feed-address-next-to-multibyte.xml");
    if let Err(e) = parse_feed(&std::fs::read(crash).unwrap(), None, None) {
        assert!(!e.to_string().contains("parser failed"), "{e}");
    }
}

#[test]
fn atom_0_3_is_read_as_atom_1_0() {
    let doc = br#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title type="text/html" mode="escaped">Example &lt;b&gt;Atom&lt;/b&gt;</title>
<tagline>Sub</tagline><link rel="alternate" type="text/html" href="http://example.com/"/>
<entry><title>One</title><link rel="alternate" type="text/html" href="http://example.com/1"/><id>urn:1</id>
<issued>2004-01-01T19:48:21Z</issued><modified>2004-01-02T19:48:21Z</modified></entry></feed>"#;
    let feed = parse_feed(doc, None, None).unwrap();
    assert_eq!(feed.title.unwrap().content, "Example <b>Atom</b>");
    assert_eq!(feed.description.unwrap().content, "Sub");
    assert_eq!(feed.links[0].href, "http://example.com/");
    let e = &feed.entries[0];
    assert_eq!(e.links[0].href, "http://example.com/1");
    assert_eq!(
        e.published.unwrap().to_rfc3339(),
        "2004-01-01T19:48:21+00:00"
    );
    assert_eq!(e.updated.unwrap().to_rfc3339(), "2004-01-02T19:48:21+00:00");
}

#[test]
fn parses_the_three_families() {
    let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description><item><title>a</title><link>http://x/a</link></item></channel></rss>"#;
    assert_eq!(parse_feed(rss, None, None).unwrap().entries.len(), 1);
    let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2026-11-27T10:00:00Z</updated><entry><id>urn:e</id><title>e</title><updated>2026-11-27T10:00:00Z</updated></entry></feed>"#;
    assert_eq!(parse_feed(atom, None, None).unwrap().entries[0].id, "urn:e");
    let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","title":"j","url":"http://x/j"}]}"#;
    assert_eq!(parse_feed(json, None, None).unwrap().entries.len(), 1);
}

#[test]
fn entries_without_guid_keep_an_empty_id() {
    let rss = br#"<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>"#;
    assert_eq!(parse_feed(rss, None, None).unwrap().entries[0].id, "");
}

#[test]
fn repairs_bare_ampersands_controls_and_odd_versions() {
    let rss = "<rss version=\"2.01\"><channel><title>A & B\u{1}</title><item><title>Q&A &amp; more</title></item></channel></rss>";
    let feed = parse_feed(rss.as_bytes(), None, None).unwrap();
    assert_eq!(feed.title.unwrap().content, "A & B");
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Q&A & more"
    );
}

#[test]
fn garbage_is_a_clear_error() {
    let e = parse_feed(b"<html><body>hello</body></html>", None, None).unwrap_err();
    assert!(e.to_string().starts_with("not a feed"), "{e}");
    assert!(parse_feed(b"\x00\x01binary", None, None).is_err());
    assert!(parse_feed(b"", None, None).is_err());
}

#[test]
fn transcodes_to_utf8() {
    let doc = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss version=\"2.0\"><channel><title>Café</title></channel></rss>";
    let mut le = vec![0xff, 0xfe];
    le.extend(doc.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(
        parse_feed(&le, None, None).unwrap().title.unwrap().content,
        "Café"
    );
    let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(
        parse_feed(&be, None, None).unwrap().title.unwrap().content,
        "Café"
    );

    // Declared Latin-1, undeclared Latin-1, and a charset only in the HTTP header.
    let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Caf\xe9</title></channel></rss>";
    assert_eq!(
        parse_feed(latin, None, None)
            .unwrap()
            .title
            .unwrap()
            .content,
        "Café"
    );
    let bare = b"<rss version=\"2.0\"><channel><title>Caf\xe9</title></channel></rss>";
    assert_eq!(
        parse_feed(bare, None, None).unwrap().title.unwrap().content,
        "Café"
    );
    let koi8 =
        b"<rss version=\"2.0\"><channel><title>\xf0\xd2\xc9\xd7\xc5\xd4</title></channel></rss>";
    assert_eq!(
        parse_feed(koi8, None, Some("koi8-r"))
            .unwrap()
            .title
            .unwrap()
            .content,
        "Привет"
    );
    assert_eq!(charset_of("text/xml; Charset=\"KOI8-R\""), Some("KOI8-R"));
    assert_eq!(charset_of("application/rss+xml"), None);
}

#[test]
fn dates() {
    let want = "2026-11-02T09:30:00Z".parse::<DateTime<Utc>>().unwrap();
    for s in [
        "2026-11-02T09:30:00Z",
        "Mon, 02 Nov 2026 09:30:00 +0000",
        "Mon, 02 Nov 2026 09:30:00 GMT",
        "02 Nov 2026 09:30:00 UT",
        "2026-11-02 09:30:00",
        "2026-11-02T10:30:00+01:00",
    ] {
        assert_eq!(parse_date(s), Some(want), "{s}");
    }
    assert_eq!(parse_date("yesterday"), None);
}

#[test]
fn feed_hints_from_ttl_and_syndication_module() {
    assert_eq!(
        feed_hint(b"", Some(120)),
        Some(std::time::Duration::from_secs(7200))
    );
    let sy = br#"<rss xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
        <sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"#;
    assert_eq!(
        feed_hint(sy, None),
        Some(std::time::Duration::from_secs(21_600))
    );
    let hourly = b"<channel><syn:updatePeriod> hourly </syn:updatePeriod>";
    assert_eq!(
        feed_hint(hourly, None),
        Some(std::time::Duration::from_secs(3600))
    );
    assert_eq!(feed_hint(b"<rss><channel><title>x</title>", None), None);
    assert_eq!(
        feed_hint(b"<sy:updatePeriod>sometimes</sy:updatePeriod>", None),
        None
    );
}

#[test]
fn html_pages_announce_their_feeds() {
    let base = url::Url::parse("https://news.example/world/").unwrap();
    let page = br#"<!DOCTYPE html><html><head>
        <link rel="stylesheet" href="/s.css">
        <link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">
        <LINK REL='alternate' TYPE='application/atom+xml' HREF='atom.xml?a=1&amp;b=2'>
        <link rel="alternate" hreflang="fr" href="/fr/">
        <link type="application/feed+json" rel="alternate" href="https://news.example/feed.json" />
        <link rel="alternate" type="application/rss+xml" href="/world/rss.xml">
        </head><body></body></html>"#;
    assert!(looks_like_html(page, None));
    let found: Vec<String> = announced_feeds(page, &base)
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(
        found,
        [
            "https://news.example/world/rss.xml",
            "https://news.example/world/atom.xml?a=1&b=2",
            "https://news.example/feed.json"
        ]
    );
    assert!(announced_feeds(b"<html><head></head></html>", &base).is_empty());
    assert!(!looks_like_html(b"<?xml version=\"1.0\"?><rss>", None));
    assert!(looks_like_html(b"oops", Some("text/html; charset=utf-8")));
}
