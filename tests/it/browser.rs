//! The HTML front page in a real browser: headless Chromium (Debian `chromium`, installed by
//! `.ci/setup`) loads the page the daemon serves, and its DOM after load shows the sections and
//! headlines, while no hostile headline ran as script.

use std::path::Path;
use std::process::Command;

use crate::support::{
    Env, FixtureServer, InProcessDaemon, Route, have, missing_tool, rss_feed, source,
};

/// Headlines that would run script if a page put them into HTML unescaped.
const HOSTILE: [&str; 3] = [
    // Escaped twice: titles are read as HTML, so these are stored as the text `<script>…</script> …`.
    "&amp;lt;script&amp;gt;document.title='pwned'&amp;lt;/script&amp;gt; Harbour strike ends after talks",
    "&amp;lt;img src=x onerror=&amp;quot;document.body.setAttribute('data-pwned','1')&amp;quot;&amp;gt; Rail fares rise",
    "\"&gt;&lt;svg onload=document.body.setAttribute('data-pwned','2')&gt; Glacier retreat speeds up",
];

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// `(rel, type, href)` of each `<link rel="alternate">` in a serialized DOM.
fn alternate_links(dom: &str) -> Vec<(String, String)> {
    dom.split("<link ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            let attr = |name: &str| {
                let v = tag.split(&format!("{name}=\"")).nth(1)?;
                Some(v[..v.find('"')?].to_string())
            };
            (attr("rel")? == "alternate").then(|| Some((attr("type")?, attr("href")?)))?
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_page_renders_in_chromium_without_running_hostile_titles() {
    if !have("chromium") && missing_tool("chromium") {
        return;
    }
    let server = FixtureServer::start();
    let mut a: Vec<(String, String, String)> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                format!("h{i}"),
                t.to_string(),
                format!("https://a.example/{i}"),
            )
        })
        .collect();
    a.push((
        "k1".into(),
        "Japan and Korea sign fisheries pact".into(),
        "https://a.example/k1".into(),
    ));
    let b = vec![(
        "k1".to_string(),
        "Japan and Korea sign fisheries pact".to_string(),
        "https://b.example/k1".to_string(),
    )];
    server.set("/a.xml", Route::rss(rss_feed("A", &a)));
    server.set("/b.xml", Route::rss(rss_feed("B", &b)));
    let mut sources = source("Harbour Times", &server.url("/a.xml"), &["world"]);
    sources.push_str(&source("Wire <Desk>", &server.url("/b.xml"), &["asia"]));
    let env = Env::new(&sources);
    env.ok(&["poll"]);
    // The test means something only if the stored titles hold markup-like text.
    let stored = env.ok(&["stories", "--json"]);
    assert!(stored.contains("<script>document.title"), "{stored}");
    assert!(stored.contains("<img src=x onerror"), "{stored}");
    // An editor pins the pact story, with a note that is markup too.
    let stories: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let pact = stories
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["items"][0]["title"] == "Japan and Korea sign fisheries pact")
        .unwrap()["id"]
        .to_string();
    env.ok(&["pin", &pact, "--note", "Read <b>this</b> first"]);

    let daemon = InProcessDaemon::start(&env).await;
    let base = format!("http://{}/", daemon.addr);
    let profile = tempfile::tempdir().unwrap();
    let out = chromium(&["--dump-dom", &base], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed: {}\n{dom}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Sections as tabs, headlines, sources, the popular box.
    for want in [
        "<title>Test News</title>",
        "aria-current=\"page\">Latest</a>",
        ">Asia</a>",
        ">World</a>",
        ">Business</a>",
        ">Debate</a>",
        ">Lifestyle</a>",
        "Japan and Korea sign fisheries pact",
        "Harbour strike ends after talks",
        "Also reported by:",
        "Wire &lt;Desk&gt;",
        "Popular now",
        "Weekly best",
        "Must-reads",
        "Read &lt;b&gt;this&lt;/b&gt; first",
        "href=\"feeds/must-reads.rss\"",
    ] {
        assert!(dom.contains(want), "the DOM lacks {want:?}:\n{dom}");
    }
    // No hostile headline ran or became an element.
    assert!(!dom.contains("pwned</title>"), "{dom}");
    // A script that ran would have set the attribute on <body>.
    assert!(dom.contains("<body>"), "{dom}");
    assert!(!dom.contains("data-pwned=\""), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(!dom.contains("<svg"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'"),
        "{dom}"
    );
    assert!(dom.contains("&lt;img src=x onerror="), "{dom}");

    // The autodiscovery links resolve, against the page, to feeds that answer 200.
    let links = alternate_links(&dom);
    assert_eq!(links.len(), 3, "{links:?}");
    let client = reqwest::Client::new();
    let page = url::Url::parse(&base).unwrap();
    for (mime, href) in &links {
        let url = page.join(href).unwrap();
        let resp = client.get(url.clone()).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(mime.as_str()), "{url}: {ct} is not {mime}");
    }

    // The HTTP Link header names the same feeds.
    let link = client.get(&base).send().await.unwrap().headers()["link"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        link.contains(
            "<http://feeds.test/feeds/all.atom>; rel=\"alternate\"; type=\"application/atom+xml\""
        ),
        "{link}"
    );

    // A section page: its tab is current and it lists only its stories.
    let out = chromium(&["--dump-dom", &format!("{base}asia")], profile.path());
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("aria-current=\"page\">Asia</a>"), "{dom}");
    assert!(dom.contains("Japan and Korea sign fisheries pact"), "{dom}");
    assert!(!dom.contains("Harbour strike"), "{dom}");
    // Section pages have the rankings but not the pins.
    assert!(dom.contains("Weekly best"), "{dom}");
    assert!(!dom.contains("Must-reads"), "{dom}");

    // Phone and desktop screenshots render.
    for size in ["390,844", "1280,900"] {
        let png = profile.path().join(format!("shot-{size}.png"));
        let out = chromium(
            &[
                &format!("--window-size={size}"),
                &format!("--screenshot={}", png.display()),
                &base,
            ],
            profile.path(),
        );
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "no screenshot at {size}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    daemon.stop().await;
}
