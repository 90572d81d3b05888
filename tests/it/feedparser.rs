//! The outputs parse with an independent parser: Python's feedparser (installed by `.ci/run`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::pipeline::{two_desks, two_desks_sections};
use crate::support::{feedparser_python, missing_tool};

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
    let Some(python) = feedparser_python() else {
        if missing_tool("Python feedparser") {
            return;
        }
        unreachable!();
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
    let mut child = Command::new(&python)
        .args(["-c", CHECK])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "feedparser found problems:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}
