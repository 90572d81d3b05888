//! Story-cluster evaluation on labelled headlines.
//!
//! `cargo run --release --example dedupe_eval -- PATH [--replay time|poll] [--shift-days N]
//! [--threshold T] [--veto places,names,numbers,calendar|none] [--decay-hours D] [--window-hours H]
//! [--json]`
//!
//! PATH is a tab-separated file with a header naming at least `story_id`, `title`, `url`, `publisher` and
//! `timestamp` (milliseconds since the epoch); other columns are ignored. `--replay time` (the default)
//! sends the headlines in timestamp order through syndic's real store, one source per publisher, one
//! refresh per headline polled at its timestamp. `--replay poll` writes one RSS document per publisher
//! (the timestamps as `pubDate`) and a `feeds.toml`, and runs one first poll of all of them through the
//! refresh path of `syndic poll`. `--shift-days N` adds the set once more, N days later, as distinct
//! stories on distinct pages: recurring headlines weeks apart must stay apart (`cross_shift_joins`).
//!
//! Printed: B-cubed and pairwise precision/recall and the number of stories, the same for two baselines
//! (exact titles: the normalized title within the window in the time replay, syndic's own poll with
//! similarity off in the poll replay; and an online token Jaccard ≥ 0.5), and a table over thresholds.
//! With `--json`, exactly one JSON object for the chosen threshold.

use std::collections::HashSet;
use std::path::PathBuf;

use syndic::config::{DEFAULT_DECAY_HOURS, DEFAULT_TITLE_THRESHOLD};
use syndic::dedupe::VetoRules;
use syndic::eval::clusters::{self, Replay, Row, Scores, Settings};

fn main() {
    if let Err(e) = run() {
        eprintln!("dedupe_eval: {e}");
        std::process::exit(2);
    }
}

const USAGE: &str = "usage: dedupe_eval PATH [--replay time|poll] [--shift-days N] [--threshold T] \
                     [--veto RULES|none] [--decay-hours D] [--window-hours H] [--json]";

fn run() -> Result<(), String> {
    let mut path = None;
    let mut threshold = DEFAULT_TITLE_THRESHOLD;
    let mut window_hours: i64 = 72;
    let mut decay_hours = DEFAULT_DECAY_HOURS;
    let mut replay = Replay::Time;
    let mut shift_days: i64 = 0;
    let mut json = false;
    let mut veto = VetoRules::ALL;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--threshold" => {
                threshold = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|t: &f64| (0.0..=1.0).contains(t))
                    .ok_or("--threshold wants a number between 0 and 1")?;
            }
            "--decay-hours" => {
                decay_hours = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|h: &f64| *h >= 0.0)
                    .ok_or("--decay-hours wants a number of hours (0 = off)")?;
            }
            "--window-hours" => {
                window_hours = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|h: &i64| *h > 0)
                    .ok_or("--window-hours wants a positive number")?;
            }
            "--replay" => {
                replay = args
                    .next()
                    .and_then(|v| Replay::parse(&v))
                    .ok_or("--replay wants time or poll")?;
            }
            "--shift-days" => {
                shift_days = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|d: &i64| *d >= 0)
                    .ok_or("--shift-days wants a whole number of days (0 = no shifted copy)")?;
            }
            "--veto" => {
                let list = args.next().ok_or("--veto wants a list of rules, or none")?;
                veto = VetoRules::NONE;
                for name in list.split(',').filter(|n| !n.is_empty() && *n != "none") {
                    if !veto.enable(name) {
                        return Err(format!(
                            "--veto: unknown rule {name} (known: {})",
                            VetoRules::NAMES.join(", ")
                        ));
                    }
                }
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.ok_or(USAGE)?;
    let mut rows = clusters::read_rows(&path)?;
    if rows.is_empty() {
        return Err(format!("{}: no headlines", path.display()));
    }
    if shift_days > 0 {
        rows = clusters::shifted(&rows, shift_days);
    }
    let window = chrono::Duration::hours(window_hours);
    let labels: Vec<&str> = rows.iter().map(|r| r.story.as_str()).collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let settings = |threshold: f64, decay_hours: f64, similarity: bool| Settings {
        threshold,
        decay_hours,
        window,
        similarity,
        veto,
    };
    let run = |s: Settings| clusters::clusters(&rows, replay, s, dir.path());

    let pred = run(settings(threshold, decay_hours, true))?;
    let syndic = clusters::score(&labels, &pred);
    let cross = clusters::cross_shift_joins(&rows, &pred);
    let exact = match replay {
        Replay::Time => clusters::score(&labels, &clusters::exact_baseline(&rows, window)),
        Replay::Poll => clusters::score(&labels, &run(settings(threshold, decay_hours, false))?),
    };
    let jaccard = clusters::score(&labels, &clusters::jaccard_baseline(&rows, window));

    if json {
        let mut out = syndic.to_json();
        out["threshold"] = serde_json::json!(threshold);
        out["baseline_exact"] = exact.to_json();
        out["baseline_jaccard"] = jaccard.to_json();
        out["replay"] = serde_json::json!(replay.as_str());
        out["shift_days"] = serde_json::json!(shift_days);
        out["cross_shift_joins"] = serde_json::json!(cross);
        println!("{out}");
        return Ok(());
    }

    print_header(&path, &rows, window_hours, decay_hours, replay, shift_days);
    println!("                      B3 P    B3 R    B3 F1   pair P  pair R  stories");
    let line = |name: &str, s: &Scores| {
        println!(
            "{name:<20}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {}",
            s.b3_precision, s.b3_recall, s.b3_f1, s.pair_precision, s.pair_recall, s.stories
        )
    };
    line(&format!("syndic @ {threshold:.2}"), &syndic);
    if decay_hours > 0.0 {
        let flat = clusters::score(&labels, &run(settings(threshold, 0.0, true))?);
        line("  same, no decay", &flat);
    }
    line("exact title", &exact);
    line("token Jaccard >= 0.5", &jaccard);
    if shift_days > 0 {
        println!("stories mixing the two copies (cross-shift joins): {cross}");
    }
    println!();
    println!("threshold table (syndic):");
    println!("  threshold  B3 P    B3 R    B3 F1   pair P  pair R  stories  cross-shift");
    for t in [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9] {
        let pred = run(settings(t, decay_hours, true))?;
        let s = clusters::score(&labels, &pred);
        println!(
            "  {t:.2}       {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:<7}  {}",
            s.b3_precision,
            s.b3_recall,
            s.b3_f1,
            s.pair_precision,
            s.pair_recall,
            s.stories,
            clusters::cross_shift_joins(&rows, &pred)
        );
    }
    Ok(())
}

fn print_header(
    path: &std::path::Path,
    rows: &[Row],
    window_hours: i64,
    decay_hours: f64,
    replay: Replay,
    shift_days: i64,
) {
    let stories: HashSet<&str> = rows.iter().map(|r| r.story.as_str()).collect();
    let publishers: HashSet<&str> = rows.iter().map(|r| r.publisher.as_str()).collect();
    println!(
        "{}: {} headlines, {} labelled stories, {} publishers, window {window_hours} h, decay {decay_hours} h, \
         replay {}{}",
        path.display(),
        rows.len(),
        stories.len(),
        publishers.len(),
        replay.as_str(),
        if shift_days > 0 {
            format!(", shifted copy {shift_days} days later")
        } else {
            String::new()
        }
    );
    println!();
}
