use crate::ingest::parse::parse_feed;
use crate::model::Enclosure;

use super::html::{sanitize_by_parser, text_by_parser};
use super::*;

fn base() -> Url {
    Url::parse("https://news.example.com/feeds/world.xml").unwrap()
}

fn rss(items: &str) -> Feed {
    let doc = format!(
        "<rss version=\"2.0\"><channel><title>t</title><link>https://n.example/</link><description>d</description>{items}</channel></rss>"
    );
    parse_feed(doc.as_bytes(), None, None).unwrap()
}

#[test]
fn thin_entries_are_read_but_marked_and_author_forms_are_names() {
    let feed = rss(concat!(
        "<item><author>me@example.com (Example editor)</author><pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>",
        "<item xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><title>T</title><dc:creator>Ed Itor (ed@example.com)</dc:creator></item>",
    ));
    let (_, items) = normalize(&feed, &base());
    assert_eq!(items.len(), 2);
    assert!(items[0].is_thin());
    assert_eq!(items[0].author.as_deref(), Some("Example editor"));
    assert!(items[0].published.is_some());
    assert!(!items[1].is_thin());
    assert_eq!(items[1].author.as_deref(), Some("Ed Itor"));
}

#[test]
fn enclosures_are_absolute_typed_and_deduplicated() {
    let feed = rss(concat!(
        r#"<item xmlns:media="http://search.yahoo.com/mrss/"><title>Pod</title><link>https://n.example/p</link>"#,
        r#"<enclosure url="/audio/ep1.mp3" length="42" type=""/>"#,
        r#"<media:content url="https://user:pw@cdn.example/a.JPG?w=600" medium="image"/>"#,
        r#"<media:content url="javascript:alert(1)" type="image/png"/>"#,
        "</item>"
    ));
    let (_, items) = normalize(&feed, &base());
    assert_eq!(
        items[0].enclosures,
        vec![
            Enclosure {
                url: "https://news.example.com/audio/ep1.mp3".into(),
                mime_type: "audio/mpeg".into(),
                length: Some(42),
            },
            Enclosure {
                url: "https://cdn.example/a.JPG?w=600".into(),
                mime_type: "image/jpeg".into(),
                length: None,
            },
        ]
    );
    let atom = parse_feed(
        br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id><updated>2026-11-27T10:00:00Z</updated>
        <entry><id>e</id><title>E</title><updated>2026-11-27T10:00:00Z</updated>
        <link href="https://n.example/e"/><link rel="enclosure" href="https://n.example/e.ogg#t=3"/>
        <link rel="enclosure" href="https://n.example/e.ogg" length="7"/></entry></feed>"#,
        None,
        None,
    )
    .unwrap();
    let (_, items) = normalize(&atom, &base());
    assert_eq!(items[0].url.as_deref(), Some("https://n.example/e"));
    assert_eq!(items[0].enclosures.len(), 1, "{:?}", items[0].enclosures);
    assert_eq!(items[0].enclosures[0].mime_type, "audio/ogg");
    assert_eq!(items[0].enclosures[0].length, Some(7));
}

#[test]
fn a_capped_document_keeps_its_newest_entries_in_document_order() {
    let feed = rss(concat!(
        "<item><title>undated</title><link>https://n.example/u</link></item>",
        "<item><title>old</title><link>https://n.example/o</link><pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate></item>",
        "<item><title>new</title><link>https://n.example/n</link><pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>",
        "<item><title>mid</title><link>https://n.example/m</link><pubDate>Sun, 15 Nov 2026 10:00:00 +0000</pubDate></item>",
    ));
    let (_, items, left_out) = normalize_limited(&feed, &base(), 2);
    let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!((titles, left_out), (vec!["new", "mid"], 2));
    let (_, items, left_out) = normalize_limited(&feed, &base(), 10);
    assert_eq!((items.len(), left_out), (4, 0));
}

#[test]
fn hostile_fields_are_cut_stripped_or_dropped() {
    let long = "word ".repeat(1000);
    let feed = rss(&format!(
        "<item><title>{long}</title><link>https://u:p@n.example/a</link><author>{long}</author><pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>"
    ));
    let (_, items) = normalize(&feed, &base());
    let it = &items[0];
    assert!(it.title.chars().count() <= TITLE_CHARS + 1 && it.title.ends_with("word…"));
    assert_eq!(it.url.as_deref(), Some("https://n.example/a"));
    assert_eq!(it.published, None);
    assert!(it.author.as_ref().unwrap().chars().count() <= NAME_CHARS + 1);
    assert_eq!(
        canonical_url("https://user@n.example/x", None).unwrap(),
        "https://n.example/x"
    );
    assert_eq!(canonical_url("javascript:alert(1)", None), None);
    assert_eq!(
        canonical_url(&format!("https://n.example/{}", "a".repeat(5000)), None),
        None
    );
    assert_eq!(cut_bytes("héllo", 2), "h");
}

#[test]
fn canonical_urls() {
    let c = |s| canonical_url(s, Some(&base()));
    assert_eq!(
        c("HTTPS://News.Example.COM:443/a/b?utm_source=x&id=3&fbclid=zz#frag").as_deref(),
        Some("https://news.example.com/a/b?id=3")
    );
    assert_eq!(
        c("/story/1?utm_medium=rss").as_deref(),
        Some("https://news.example.com/story/1")
    );
    assert_eq!(c("../x").as_deref(), Some("https://news.example.com/x"));
    assert_eq!(
        c("http://h.example:80/p?gclid=1&mc_cid=2&mc_eid=3").as_deref(),
        Some("http://h.example/p")
    );
    assert_eq!(c("mailto:x@example.com"), None);
    assert_eq!(c("javascript:alert(1)"), None);
}

#[test]
fn titles_become_plain_text() {
    assert_eq!(
        html_to_text("  Tom &amp; Jerry <b>return</b>\n\t again "),
        "Tom & Jerry return again"
    );
    assert_eq!(
        html_to_text("Caf&eacute; &mdash; &#8220;open&#8221;&nbsp;now"),
        "Café — “open” now"
    );
    assert_eq!(html_to_text("a<script>alert(1)</script>b"), "ab");
    assert_eq!(html_to_text("x < y and y > z"), "x < y and y > z");
    assert_eq!(html_to_text("bell\u{7}char"), "bell char");
}

/// `count` strings of fewer than `max_pieces` pieces drawn from `alphabet` (xorshift from `seed`).
fn random_strings<'a>(
    alphabet: &'a [&'a str],
    seed: u64,
    count: usize,
    max_pieces: u64,
) -> impl Iterator<Item = String> + 'a {
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..count).map(move |_| {
        let len = next() % max_pieces;
        (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    })
}

/// Plain text skips the sanitizer and comes out as the sanitizer would write it.
#[test]
fn plain_text_sanitizes_like_the_parser() {
    let base = base();
    let alphabet = [
        "a", "Z", " ", "  ", "\n", "\t", ">", "\"", "'", "=", "/", "é", "日本", "\u{a0}", "\u{7}",
        "\u{1b}", "\u{fffe}", "\u{feff}", "\u{200b}", "🙂", "\u{85}", "\u{2028}",
    ];
    for s in random_strings(&alphabet, 0x2545_f491_4f6c_dd1d, 5_000, 10) {
        assert_eq!(
            sanitize_html(&s, &base),
            sanitize_by_parser(&s, &base),
            "{s:?}"
        );
    }
}

/// The shortcuts `html_to_text` takes for text without tags give what the HTML parser gives, on
/// every short string over an alphabet of entity pieces, bare ampersands and odd characters.
#[test]
fn text_shortcuts_agree_with_the_html_parser() {
    let alphabet = [
        "&", "#", "x", "X", ";", "amp", "lt", "gt", "quot", "apos", "nbsp", "copy", "eacute", "a",
        "Q", " ", "1", "3", "9", "12", "128", "x41", "xD800", "0", "\u{a0}", "é", "\r\n", "\t",
        "\u{7}", "\u{0}", ">", "\"", "'", "\u{feff}", "\u{85}",
    ];
    for s in [
        "&#128;",
        "&#x80;",
        "&#150; x",
        "&#159;",
        "&#160;",
        "&#0;",
        "&#xD800;",
        "&#1114112;",
        "&amp",
        "&copy 2024",
        "AT&T",
        "Q&A",
        "a & b",
        "&#",
        "&#;",
        "&#x;",
        "&;",
        "&&amp;",
        "&#65",
        "&#x41;&#X42;",
        "&nbsp;&nbsp;x",
        "1 &lt; 2",
    ] {
        assert_eq!(html_to_text(s), text_by_parser(s), "{s:?}");
    }
    for s in random_strings(&alphabet, 0x9e37_79b9_7f4a_7c15, 20_000, 9) {
        assert_eq!(html_to_text(&s), text_by_parser(&s), "{s:?}");
    }
}

#[test]
fn sanitizes_content_and_absolutizes_links() {
    let h = sanitize_html(
        r#"<p onclick="x()">Hi <a href="/a">a</a><img src="i.png"><script>bad()</script></p>"#,
        &base(),
    );
    assert!(!h.contains("script") && !h.contains("onclick"), "{h}");
    assert!(h.contains(r#"href="https://news.example.com/a""#), "{h}");
    assert!(
        h.contains(r#"src="https://news.example.com/feeds/i.png""#),
        "{h}"
    );
}

#[test]
fn keys_are_stable_and_fall_back() {
    let rss = br#"<rss version="2.0"><channel><title>t</title>
        <item><guid>abc</guid><title>One</title><link>/1?utm_source=a</link></item>
        <item><title>Two</title><link>https://news.example.com/2#top</link></item>
        <item><title>Three</title><description>only text</description></item>
    </channel></rss>"#;
    let feed = parse_feed(rss, None, None).unwrap();
    let (_, a) = normalize(&feed, &base());
    let (_, b) = normalize(&parse_feed(rss, None, None).unwrap(), &base());
    assert_eq!(a, b, "same document, same items");
    assert_eq!(a[0].key, item_key(Some("abc"), None, "", None));
    assert_eq!(a[0].url.as_deref(), Some("https://news.example.com/1"));
    assert_eq!(
        a[1].key,
        item_key(None, Some("https://news.example.com/2"), "", None)
    );
    assert_eq!(a[2].key, item_key(None, None, "Three", Some("only text")));
    // Editing the title of an entry with a guid keeps its key.
    let edited = String::from_utf8_lossy(rss).replace("One", "One, updated");
    let (_, c) = normalize(&parse_feed(edited.as_bytes(), None, None).unwrap(), &base());
    assert_eq!(c[0].key, a[0].key);
    assert_eq!(c[0].title, "One, updated");
}

#[test]
fn summary_falls_back_to_content_and_is_truncated() {
    let long = "word ".repeat(400);
    let atom = format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id><updated>2026-11-27T10:00:00Z</updated>
        <entry><id>urn:1</id><title type="html">&lt;i&gt;Big&lt;/i&gt; news</title><updated>2026-11-27T10:00:00Z</updated>
        <content type="html">&lt;p&gt;{long}&lt;/p&gt;</content><link href="/n/1"/><category term="asia" label="Asia"/></entry></feed>"#
    );
    let (_, items) = normalize(&parse_feed(atom.as_bytes(), None, None).unwrap(), &base());
    let it = &items[0];
    assert_eq!(it.title, "Big news");
    assert!(it.summary.ends_with('…') && it.summary.chars().count() <= SUMMARY_CHARS + 1);
    assert_eq!(it.categories, vec!["Asia"]);
    assert_eq!(it.url.as_deref(), Some("https://news.example.com/n/1"));
    assert!(it.published.is_some());
}
