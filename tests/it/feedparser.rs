//! The outputs parse with independent parsers: Python's feedparser (RSS, Atom) and fastfeedparser (JSON
//! Feed), installed by `.ci/setup`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::pipeline::{two_desks, two_desks_sections};
use crate::support::python_or_skip;

const CHECK: &str = r#"
import json, sys, feedparser
cases = json.load(sys.stdin)
problems = []
for case in cases:
    d = feedparser.parse(case["file"])
    name = case["file"].rsplit("/", 1)[-1]
    if d.bozo:
        problems.append(f"{name}: bozo: {d.bozo_exception!r}")
    if d.version != case["version"]:
        problems.append(f"{name}: version {d.version!r}, want {case['version']!r}")
    if not d.feed.get("title"):
        problems.append(f"{name}: no feed title")
    titles = sorted(e.get("title", "") for e in d.entries)
    if titles != sorted(case["titles"]):
        problems.append(f"{name}: titles {titles}, want {sorted(case['titles'])}")
    links = sorted(e.get("link", "") for e in d.entries)
    if links != sorted(case["links"]):
        problems.append(f"{name}: links {links}, want {sorted(case['links'])}")
    ids = [e.get("id") for e in d.entries]
    if len(set(ids)) != len(ids) or not all(ids):
        problems.append(f"{name}: entry ids missing or repeated: {ids}")
    for e in d.entries:
        if not e.get("published_parsed") and not e.get("updated_parsed"):
            problems.append(f"{name}: entry {e.get('title')!r} has no parsable date")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;

#[test]
fn rss_and_atom_outputs_parse_cleanly_with_feedparser() {
    let Some(python) = python_or_skip("Python feedparser") else {
        return;
    };
    let (_server, env) = two_desks();
    env.ok(&["poll"]);
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);

    let mut cases = Vec::new();
    for (section, entries) in &two_desks_sections() {
        for (ext, version) in [("rss", "rss20"), ("atom", "atom10")] {
            cases.push(serde_json::json!({
                "file": out.join(format!("feeds/{section}.{ext}")),
                "version": version,
                "titles": entries.iter().map(|e| e.0).collect::<Vec<_>>(),
                "links": entries.iter().map(|e| e.1).collect::<Vec<_>>(),
            }));
        }
    }
    if let Err(problems) = python_check(&python, CHECK, &serde_json::json!(cases)) {
        panic!("feedparser found problems:\n{problems}");
    }
}

/// Runs a Python check script with `input` as JSON on its stdin: `Err` with its output when it fails.
fn python_check(
    python: &std::path::Path,
    script: &str,
    input: &serde_json::Value,
) -> Result<(), String> {
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let result = child.wait_with_output().unwrap();
    if result.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ))
    }
}

/// An RSS source with everything a newsroom store holds: a podcast enclosure, a Media RSS image, an
/// author, hostile and unusual text.
const REALISTIC_RSS: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">
<channel><title>Harbour Times</title><link>https://harbour.example/</link><description>d</description>
<item><guid>h1</guid><title>Port &amp; rail strike: talks resume 🚢</title>
<link>https://harbour.example/strike</link><dc:creator>Aiko Tanaka</dc:creator>
<description>Unions say ]]&gt; is not a deal &amp; walk out \u{7}again.</description>
<enclosure url=\"https://cdn.harbour.example/pod/strike.mp3\" length=\"1234567\" type=\"audio/mpeg\"/>
<pubDate>Fri, 27 Nov 2026 10:00:00 +0000</pubDate></item>
<item><guid>h2</guid><title>&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Ferry timetable changes</title>
<link>https://harbour.example/ferry</link>
<description><![CDATA[<p>New <b>winter</b> timetable.</p><script>alert(2)</script>]]></description>
<media:content url=\"https://cdn.harbour.example/img/ferry.jpg\" medium=\"image\" type=\"image/jpeg\"/>
<pubDate>Fri, 27 Nov 2026 09:00:00 +0000</pubDate></item>
<item><guid>h3</guid><title>مرحبا بالعالم: Gulf shipping lanes reopen</title>
<link>https://harbour.example/gulf</link><description>שלום — shipping resumes.</description>
<pubDate>Fri, 27 Nov 2026 08:00:00 +0000</pubDate></item>
</channel></rss>
";

/// An Atom source reporting the first story too, with an Atom enclosure.
const REALISTIC_ATOM: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Global Wire</title><id>urn:x:wire</id>
<updated>2026-11-27T10:30:00Z</updated><author><name>Wire staff</name></author>
<entry><id>urn:x:w1</id><title>Port &amp; rail strike: talks resume</title>
<link rel=\"alternate\" href=\"https://wire.example/strike\"/>
<link rel=\"enclosure\" href=\"https://wire.example/strike.m4a\" type=\"audio/mp4\" length=\"999\"/>
<updated>2026-11-27T10:30:00Z</updated><summary>Talks resume.</summary></entry>
<entry><id>urn:x:w2</id><title>Glacier retreat speeds up, study finds</title>
<link href=\"https://wire.example/glacier\"/><updated>2026-11-27T07:00:00Z</updated>
<summary>Ice.</summary></entry>
</feed>
";

const CHECK_REALISTIC: &str = r#"
import json, re, sys, feedparser
case = json.load(sys.stdin)
problems = []
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
stories = case["stories"]
want_titles = sorted(s["title"] for s in stories)
for path, version in case["xml"]:
    d = feedparser.parse(path)
    name = path.rsplit("/", 1)[-1]
    if d.bozo:
        problems.append(f"{name}: bozo: {d.bozo_exception!r}")
    if d.version != version:
        problems.append(f"{name}: version {d.version!r}")
    titles = sorted(e.get("title", "") for e in d.entries)
    if titles != want_titles:
        problems.append(f"{name}: titles {titles}, want {want_titles}")
    for e in d.entries:
        s = next((s for s in stories if s["title"] == e.get("title")), None)
        if s is None:
            continue
        if e.get("link") != s["url"]:
            problems.append(f"{name}: {s['title']!r}: link {e.get('link')!r}, want {s['url']!r}")
        if e.get("author") != s["author"]:
            problems.append(f"{name}: {s['title']!r}: author {e.get('author')!r}, want {s['author']!r}")
        terms = sorted(t["term"] for t in e.get("tags", []))
        if terms != sorted(s["sections"]):
            problems.append(f"{name}: {s['title']!r}: categories {terms}, want {s['sections']}")
        encl = [x.get("href") for x in e.get("enclosures", [])]
        want = s["enclosures"][:1] if version == "rss20" else s["enclosures"]
        if sorted(encl) != sorted(x["url"] for x in want):
            problems.append(f"{name}: {s['title']!r}: enclosures {encl}, want {want}")
        for x in e.get("enclosures", []):
            w = next(w for w in want if w["url"] == x.get("href"))
            if x.get("type") != w["mime_type"]:
                problems.append(f"{name}: enclosure type {x.get('type')!r}, want {w['mime_type']!r}")
            if w.get("length") and str(x.get("length")) != str(w["length"]):
                problems.append(f"{name}: enclosure length {x.get('length')!r}, want {w['length']}")
        if not e.get("published_parsed"):
            problems.append(f"{name}: {s['title']!r}: no published date")
        body = " ".join(c.get("value", "") for c in e.get("content", [])) + e.get("summary", "")
        if "<script" in body:
            problems.append(f"{name}: a script survived: {body!r}")

# JSON Feed 1.1, the rules that can be checked mechanically.
path = case["json"]
feed = json.load(open(path, encoding="utf-8"))
def need(cond, msg):
    if not cond:
        problems.append("json: " + msg)
need(feed.get("version") == "https://jsonfeed.org/version/1.1", "version")
need(isinstance(feed.get("title"), str) and feed["title"], "title is a non-empty string")
for k in ("home_page_url", "feed_url", "next_url", "description", "icon", "favicon", "language"):
    need(k not in feed or isinstance(feed[k], str), f"{k} is a string")
need(feed.get("feed_url", "").startswith("http"), "feed_url is absolute")
for a in feed.get("authors", []):
    need(isinstance(a, dict) and any(k in a for k in ("name", "url", "avatar")), "author has name, url or avatar")
for h in feed.get("hubs", []):
    need(isinstance(h.get("type"), str) and isinstance(h.get("url"), str), "hub has type and url")
items = feed.get("items")
need(isinstance(items, list), "items is an array")
ids = [i.get("id") for i in items]
need(all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids), "item ids unique non-empty strings")
for i in items:
    need("content_html" in i or "content_text" in i, f"{i.get('id')}: content_html or content_text")
    for k in ("url", "external_url", "title", "content_html", "content_text", "summary", "image", "banner_image", "language"):
        need(k not in i or isinstance(i[k], str), f"{i.get('id')}: {k} is a string")
    for k in ("date_published", "date_modified"):
        need(k not in i or RFC3339.match(i[k]), f"{i.get('id')}: {k} {i.get(k)!r} is RFC 3339")
    need(all(isinstance(t, str) for t in i.get("tags", [])), "tags are strings")
    for a in i.get("authors", []):
        need(any(k in a for k in ("name", "url", "avatar")), "item author has name, url or avatar")
    for a in i.get("attachments", []):
        need(isinstance(a.get("url"), str) and isinstance(a.get("mime_type"), str), "attachment has url and mime_type")
        need("size_in_bytes" not in a or isinstance(a["size_in_bytes"], int), "size_in_bytes is a number")
    if "<script" in i.get("content_html", ""):
        problems.append(f"json: a script survived: {i['content_html']!r}")
# And an independent JSON Feed reader: fastfeedparser.
import fastfeedparser
fd = fastfeedparser.parse(open(path, encoding="utf-8").read())
for e in fd["entries"]:
    s = next((s for s in stories if s["title"] == e.get("title")), None)
    if s is None:
        problems.append(f"fastfeedparser: unexpected title {e.get('title')!r}")
        continue
    need(e.get("link") == s["url"], f"fastfeedparser: {s['title']!r}: link {e.get('link')!r}")
    need(sorted(t["term"] for t in e.get("tags", [])) == sorted(s["sections"]), f"fastfeedparser: {s['title']!r}: tags")
    need(sorted(x["url"] for x in e.get("enclosures", [])) == sorted(x["url"] for x in s["enclosures"]),
         f"fastfeedparser: {s['title']!r}: enclosures {e.get('enclosures')}")
need(len(fd["entries"]) == len(stories), "fastfeedparser: entry count")
json_titles = sorted(i.get("title", "") for i in items)
need(json_titles == want_titles, f"titles {json_titles}, want {want_titles}")
for i in items:
    s = next((s for s in stories if s["title"] == i.get("title")), None)
    if s:
        att = sorted(a["url"] for a in i.get("attachments", []))
        need(att == sorted(x["url"] for x in s["enclosures"]), f"{s['title']!r}: attachments {att}")
        need(sorted(i.get("tags", [])) == sorted(s["sections"]), f"{s['title']!r}: tags")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;

#[test]
fn a_realistic_store_parses_cleanly_in_all_three_formats() {
    let Some(python) = python_or_skip("Python feedparser") else {
        return;
    };
    let server = crate::support::FixtureServer::start();
    server.set("/h.xml", crate::support::Route::rss(REALISTIC_RSS));
    server.set(
        "/w.atom",
        crate::support::Route::Feed {
            body: REALISTIC_ATOM.as_bytes().to_vec(),
            content_type: "application/atom+xml".into(),
            etag: None,
        },
    );
    let mut sources = crate::support::source("Harbour Times", &server.url("/h.xml"), &["asia"]);
    sources.push_str(&crate::support::source(
        "Global Wire",
        &server.url("/w.atom"),
        &["world"],
    ));
    let env = crate::support::Env::new(&sources);
    env.ok(&["poll"]);
    let out = env.path("public");
    env.ok(&["render", "--out", out.to_str().unwrap()]);

    // What the store holds is what every format must carry.
    let stored = env.stories("all");
    assert_eq!(stored.len(), 4, "{stored:#?}");
    let stories: Vec<serde_json::Value> = stored
        .iter()
        .map(|s| {
            let lead = &s["items"][0];
            let enclosures = s["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["enclosures"].clone())
                .find(|e| !e.as_array().unwrap().is_empty())
                .unwrap_or(serde_json::json!([]));
            serde_json::json!({
                "title": lead["title"],
                "url": lead["url"],
                "author": lead["author"].as_str().or(lead["source"].as_str()),
                "sections": s["sections"],
                "enclosures": enclosures,
            })
        })
        .collect();
    let text = serde_json::to_string(&stories).unwrap();
    for want in [
        "🚢",
        "مرحبا بالعالم",
        "Port & rail strike",
        "<script>alert(1)</script>",
        "strike.mp3",
        "ferry.jpg",
        "Aiko Tanaka",
    ] {
        assert!(text.contains(want), "the store lacks {want:?}: {text}");
    }
    let rss = std::fs::read_to_string(out.join("feeds/all.rss")).unwrap();
    assert!(rss.contains("]]&gt;"), "{rss}");
    assert!(
        !rss.contains('\u{7}'),
        "a control character reached the output"
    );

    let case = serde_json::json!({
        "stories": stories,
        "xml": [
            [out.join("feeds/all.rss"), "rss20"],
            [out.join("feeds/all.atom"), "atom10"],
        ],
        "json": out.join("feeds/all.json"),
    });
    if let Err(problems) = python_check(&python, CHECK_REALISTIC, &case) {
        panic!("problems:\n{problems}");
    }
}
