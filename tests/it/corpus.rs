//! A sweep over real-world feed documents (`../shared/data/feeds`: feedparser's and the W3C validator's
//! test suites, ~4,400 files, many deliberately broken) through the same code as the `corpus` tool:
//! syndic must never panic or hang, and everything it accepts it stores and republishes well-formed,
//! with the same entries, in every format.

use std::path::Path;
use std::time::Duration;

use std::collections::BTreeMap;

use syndic::eval::corpus::{Conformance, Outcome, Runner, documents, expectations, group_of};
use syndic::store::Store;

#[test]
fn real_world_documents_never_panic_and_republish_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/feeds");
    if !root.is_dir() {
        // A clone elsewhere has no shared data: skip, saying so (CI runs beside it).
        eprintln!(
            "SKIPPED: {} is absent: the corpus sweep needs the shared test data",
            root.display()
        );
        return;
    }
    let all = documents(std::slice::from_ref(&root));
    assert!(
        all.len() > 4000,
        "expected the whole corpus, found {} files",
        all.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new(
        Store::open(&dir.path().join("sweep.db")).unwrap(),
        Duration::from_secs(60),
    );
    let mut problems = Vec::new();
    let mut groups: Vec<(String, usize, usize)> = Vec::new();
    // Outcomes of feedparser's documents, for the conformance check below.
    let feedparser = root.join("feedparser");
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for path in &all {
        let group = group_of(&root, path);
        if groups.last().is_none_or(|(g, _, _)| *g != group) {
            groups.push((group, 0, 0));
        }
        let tally = groups.last_mut().unwrap();
        tally.1 += 1;
        let outcome = runner.run(path);
        match &outcome {
            Outcome::Ok { .. } => tally.2 += 1,
            Outcome::Error(e) if e.starts_with("render:") || e.starts_with("store:") => {
                problems.push(format!("{}: {e}", path.display()));
            }
            Outcome::Error(_) => {}
            Outcome::Panic(m) => problems.push(format!("{}: PANIC {m}", path.display())),
            Outcome::Timeout => problems.push(format!("{}: TIMEOUT", path.display())),
        }
        if let Ok(rel) = path.strip_prefix(&feedparser) {
            outcomes.insert(rel.to_string_lossy().into_owned(), outcome);
        }
    }
    // Conformance with feedparser's expectations: at least 95% in the four core groups.
    if let Some(checks) = expectations(&feedparser) {
        let mut conformance = Conformance::default();
        let refs: BTreeMap<String, &Outcome> =
            outcomes.iter().map(|(k, v)| (k.clone(), v)).collect();
        conformance.add(&checks, &refs);
        for group in [
            "wellformed/rss",
            "wellformed/atom",
            "wellformed/atom10",
            "wellformed/rdf",
        ] {
            let (checked, passed) = conformance.groups.get(group).copied().unwrap_or_default();
            assert!(
                checked > 0 && passed * 100 >= checked * 95,
                "conformance of {group}: {passed} / {checked} is under 95%"
            );
        }
    }
    for (group, files, ok) in &groups {
        eprintln!(
            "corpus {group:<28} {files:>5} files, {ok:>5} accepted ({:>5.1}%)",
            100.0 * *ok as f64 / (*files).max(1) as f64
        );
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
