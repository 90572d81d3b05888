//! Runs folders of feed documents through syndic's real path and reports what happened.
//!
//! `cargo run --release --example corpus -- DIR... [--json] [--limit-secs N]`
//!
//! Every file under the folders (not `.html`, `.jsonl`, `.md`, `.htaccess`, nor files without an
//! extension) is read, parsed, normalized, stored in a scratch SQLite database and republished as RSS,
//! Atom and JSON where each output must parse back with the same entries. Each document gets a time
//! limit (default 10 s); panics are caught and counted. Where a folder (given, or below one) holds an `expectations.jsonl`
//! (feedparser's corpus), the checks that name a feed or entry title, link, id, author or date are
//! compared with syndic's normalized values (dates as instants, HTML as text, URLs after syndic's
//! canonicalization), per group (the first two folders below it).
//!
//! With `--json`, exactly one JSON object: `{"documents", "ok", "errors", "panics", "timeouts",
//! "conformance": {group: {"checked", "passed"}}}`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use syndic::eval::corpus::{Conformance, Outcome, Runner, documents, expectations, group_of};
use syndic::store::Store;

fn main() {
    if let Err(e) = run() {
        eprintln!("corpus: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut dirs = Vec::new();
    let mut json = false;
    let mut limit = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--limit-secs" => {
                limit = Duration::from_secs(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|s| *s > 0)
                        .ok_or("--limit-secs wants a positive number")?,
                );
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    if dirs.is_empty() {
        return Err("usage: corpus DIR... [--json] [--limit-secs N]".into());
    }
    for d in &dirs {
        if !d.exists() {
            return Err(format!("{}: no such folder", d.display()));
        }
    }
    // Panics are counted and reported; the default hook would print each to stderr as well.
    std::panic::set_hook(Box::new(|_| {}));

    let scratch = std::env::temp_dir().join(format!("syndic-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let store = Store::open(&scratch.join("corpus.db")).map_err(|e| e.to_string())?;
    let runner = Runner::new(store, limit);

    let started = Instant::now();
    let mut conformance = Conformance::default();
    let (mut documents_n, mut ok, mut errors) = (0usize, 0usize, 0usize);
    let mut panics: Vec<String> = Vec::new();
    let mut timeouts: Vec<String> = Vec::new();
    let mut by_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut error_kinds: BTreeMap<String, usize> = BTreeMap::new();
    // Every outcome by path, for the expectations found anywhere below the folders.
    let mut outcomes: BTreeMap<PathBuf, Outcome> = BTreeMap::new();
    for dir in &dirs {
        let docs = documents(std::slice::from_ref(dir));
        for path in &docs {
            let outcome = runner.run(path);
            documents_n += 1;
            let g = by_group.entry(group_of(dir, path)).or_default();
            g.0 += 1;
            match &outcome {
                Outcome::Ok { .. } => {
                    ok += 1;
                    g.1 += 1;
                }
                Outcome::Error(e) => {
                    errors += 1;
                    let kind: String = e.split(':').take(2).collect::<Vec<_>>().join(":");
                    *error_kinds.entry(kind).or_default() += 1;
                }
                Outcome::Panic(m) => panics.push(format!("{}: {m}", path.display())),
                Outcome::Timeout => timeouts.push(path.display().to_string()),
            }
            outcomes.insert(path.clone(), outcome);
        }
    }
    // A folder holding an `expectations.jsonl` (the one given, or one below it) is checked against it,
    // its documents keyed by their path relative to it.
    for root in expectation_roots(&dirs) {
        if let Some(checks) = expectations(&root) {
            let refs: BTreeMap<String, &Outcome> = outcomes
                .iter()
                .filter_map(|(p, o)| {
                    let rel = p.strip_prefix(&root).ok()?;
                    Some((rel.to_string_lossy().into_owned(), o))
                })
                .collect();
            conformance.add(&checks, &refs);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    if json {
        let groups: serde_json::Map<String, serde_json::Value> = conformance
            .groups
            .iter()
            .map(|(g, (checked, passed))| {
                (
                    g.clone(),
                    serde_json::json!({"checked": checked, "passed": passed}),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "documents": documents_n,
                "ok": ok,
                "errors": errors,
                "panics": panics.len(),
                "timeouts": timeouts.len(),
                "conformance": groups,
            })
        );
        return Ok(());
    }

    println!(
        "{documents_n} documents in {:.1} s: {ok} ok, {errors} errors, {} panics, {} timeouts",
        started.elapsed().as_secs_f64(),
        panics.len(),
        timeouts.len()
    );
    for p in panics.iter().chain(&timeouts) {
        println!("  BUG {p}");
    }
    println!("\naccepted per group:");
    for (g, (n, k)) in &by_group {
        println!(
            "  {g:<32} {k:>5} / {n:<5} ({:.1}%)",
            100.0 * *k as f64 / (*n).max(1) as f64
        );
    }
    let mut kinds: Vec<_> = error_kinds.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    println!("\nmost common errors:");
    for (k, n) in kinds.iter().take(8) {
        println!("  {n:>5}  {k}");
    }
    if !conformance.groups.is_empty() {
        println!("\nconformance (title, link, id, author, dates against expectations.jsonl):");
        for (g, (checked, passed)) in &conformance.groups {
            println!(
                "  {g:<32} {passed:>4} / {checked:<4} ({:.1}%)",
                100.0 * *passed as f64 / (*checked).max(1) as f64
            );
        }
        let mut causes: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
        for (g, field, file, why) in &conformance.failures {
            causes
                .entry((g.clone(), field.clone()))
                .or_default()
                .push((file.clone(), why.clone()));
        }
        let mut causes: Vec<_> = causes.into_iter().collect();
        causes.sort_by_key(|c| std::cmp::Reverse(c.1.len()));
        println!("\nmain causes of failure (group, field: count, examples):");
        let show: usize = std::env::var("SYNDIC_CORPUS_SHOW")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        for ((g, field), fails) in causes.iter().take(15.max(show)) {
            println!("  {g} {field}: {}", fails.len());
            for (file, why) in fails.iter().take(show) {
                println!("      {file}: {why}");
            }
        }
    }
    Ok(())
}

/// The folders at or below `dirs` that hold an `expectations.jsonl`.
fn expectation_roots(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().filter(|d| d.is_dir()).cloned().collect();
    while let Some(d) = stack.pop() {
        if d.join("expectations.jsonl").is_file() {
            roots.push(d.clone());
        }
        if let Ok(entries) = std::fs::read_dir(&d) {
            stack.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    roots.sort();
    roots
}
