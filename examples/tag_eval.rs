//! Learned-tagger evaluation on labelled news items.
//!
//! `cargo run --release --example tag_eval -- PATH [--seed WORD] [--subset N] [--min-confidence P]
//! [--json]`
//!
//! PATH is a tab-separated file (no quoting) with a header naming at least `story_id`, `title`, `summary`
//! and `category`; other columns are ignored and the summary may be empty. A story in several
//! sections lists them all in `category`, separated by `|` (the first is its main one). Items are
//! split 70/30 by a stable hash of `story_id` (no story in both halves); syndic's learned tagger is
//! trained on the 70% and measured on the 30%, beside a plain multinomial naive Bayes over title and
//! summary words trained on the same 70%. Printed: accuracy, macro-F1, F1 per label, the confusion
//! matrix, training time and tagging time per item (the most likely label of each item against its
//! main one, or any of its labels when it is one of them), and what the tagger applies at
//! `--min-confidence` (default: syndic's `[tagging].min_confidence` default): every label whose
//! calibrated confidence reaches it. `--seed` salts the split's hash, to see how much the figures move
//! with the split. `--subset N` first keeps N items, chosen by another hash of `story_id` (salted by
//! the seed too), to see how the tagger does with few examples. A table of precision and coverage
//! over thresholds goes to stderr. With `--json`, exactly one JSON object on stdout:
//! `{"accuracy", "macro_f1", "per_class": {label: f1}, "train_ms", "tag_us_per_item",
//! "baseline_nb": {"accuracy", "macro_f1"}, "at_confidence": {"threshold", "precision", "coverage",
//! "per_class": {label: {"precision", "coverage"}}}}`. At the threshold, precision is the share of
//! applied labels that are right (null when none is applied) and coverage the share of test items that
//! get at least one; per label, precision is the share of its applications that are right and coverage
//! the share of the test items that have the label and get it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use syndic::config::DEFAULT_MIN_CONFIDENCE;
use syndic::tag::learn::{Example, Model, NaiveBayes, TrainOptions, argmax, stable_hash};

struct Row {
    id: String,
    title: String,
    summary: String,
    /// The main label first.
    labels: Vec<usize>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tag_eval: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut path = None;
    let mut json = false;
    let mut seed = String::new();
    let mut subset = None;
    let mut threshold = DEFAULT_MIN_CONFIDENCE as f32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--seed" => seed = args.next().ok_or("--seed wants a word")?,
            "--min-confidence" => {
                let p = args.next().ok_or("--min-confidence wants a probability")?;
                threshold = p
                    .parse::<f32>()
                    .ok()
                    .filter(|p| *p > 0.0 && *p <= 1.0)
                    .ok_or(format!(
                        "--min-confidence wants a probability in (0, 1], not {p:?}"
                    ))?;
            }
            "--subset" => {
                let n = args.next().ok_or("--subset wants a number of items")?;
                subset = Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("--subset wants a number of items, not {n:?}"))?,
                );
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path
        .ok_or("usage: tag_eval PATH [--seed WORD] [--subset N] [--min-confidence P] [--json]")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (labels, mut rows) = read(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(n) = subset {
        // The n items with the smallest subset hash, kept in file order.
        let mut keys: Vec<u64> = rows
            .iter()
            .map(|r| stable_hash(&format!("subset:{seed}:{}", r.id)))
            .collect();
        keys.sort_unstable();
        if n == 0 {
            rows.clear();
        } else if let Some(&cut) = keys.get(n - 1).or(keys.last()) {
            rows.retain(|r| stable_hash(&format!("subset:{seed}:{}", r.id)) <= cut);
        }
    }

    let (mut train, mut test) = (Vec::new(), Vec::new());
    for r in &rows {
        let e = Example {
            title: &r.title,
            summary: &r.summary,
            label: r.labels[0],
            also: &r.labels[1..],
        };
        if stable_hash(&format!("{seed}{}", r.id)) % 100 < 70 {
            train.push(e);
        } else {
            test.push(e);
        }
    }
    if train.is_empty() || test.is_empty() {
        return Err(format!(
            "{} items: too few to split 70/30 into training and test",
            rows.len()
        ));
    }

    let started = Instant::now();
    let (model, report) =
        Model::train(&labels, &train, &TrainOptions::default()).map_err(|e| e.to_string())?;
    let train_ms = started.elapsed().as_secs_f64() * 1000.0;

    let started = Instant::now();
    let probs: Vec<Vec<f32>> = test
        .iter()
        .map(|e| model.predict(e.title, e.summary))
        .collect();
    let tag_us = started.elapsed().as_secs_f64() * 1e6 / test.len() as f64;
    let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let test_labels: Vec<Vec<usize>> = test.iter().map(Example::labels).collect();
    let applied = |t: f32| Applied::of(labels.len(), &probs, &test_labels, t);
    let at = applied(threshold);
    eprintln!("learned tags applied at each confidence threshold (test half):");
    eprintln!("{:>9} {:>10} {:>10}", "threshold", "precision", "coverage");
    for t in [
        0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99,
    ] {
        let a = applied(t);
        eprintln!(
            "{t:>9} {:>10} {:>10.4}",
            a.precision().map_or("-".to_string(), |p| format!("{p:.4}")),
            a.coverage()
        );
    }

    let nb = NaiveBayes::train(labels.len(), &train);
    let nb_predicted: Vec<usize> = test
        .iter()
        .map(|e| nb.predict(e.title, e.summary))
        .collect();

    // The main label, or the predicted one when it is among the item's labels.
    let truth: Vec<usize> = test_labels
        .iter()
        .zip(&predicted)
        .map(|(ls, p)| if ls.contains(p) { *p } else { ls[0] })
        .collect();
    let ours = Scores::of(labels.len(), &truth, &predicted);
    let base = Scores::of(labels.len(), &truth, &nb_predicted);

    if json {
        let per_class: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .zip(&ours.f1)
            .map(|(l, f)| (l.clone(), serde_json::json!(round(*f))))
            .collect();
        let out = serde_json::json!({
            "accuracy": round(ours.accuracy),
            "macro_f1": round(ours.macro_f1),
            "per_class": per_class,
            "train_ms": (train_ms * 10.0).round() / 10.0,
            "tag_us_per_item": (tag_us * 100.0).round() / 100.0,
            "baseline_nb": {"accuracy": round(base.accuracy), "macro_f1": round(base.macro_f1)},
            "at_confidence": at.json(&labels, threshold),
        });
        println!("{out}");
        return Ok(());
    }

    println!(
        "{}: {} items, {} labels; train {} / test {} (split by hash of story_id)",
        path.display(),
        rows.len(),
        labels.len(),
        train.len(),
        test.len()
    );
    println!(
        "learned tagger: chose lambda {:e}, naive Bayes weight {} (held-out accuracy {:.4})",
        report.lambda, report.nb_weight, report.holdout_accuracy
    );
    println!();
    println!("{:<24} {:>10} {:>10}", "", "learned", "naive Bayes");
    println!(
        "{:<24} {:>10.4} {:>10.4}",
        "accuracy", ours.accuracy, base.accuracy
    );
    println!(
        "{:<24} {:>10.4} {:>10.4}",
        "macro-F1", ours.macro_f1, base.macro_f1
    );
    for (i, l) in labels.iter().enumerate() {
        println!(
            "{:<24} {:>10.4} {:>10.4}",
            format!("F1 {l}"),
            ours.f1[i],
            base.f1[i]
        );
    }
    println!();
    println!("confusion matrix of the learned tagger (rows: true label, columns: predicted):");
    print!("{:<16}", "");
    for l in &labels {
        print!(" {:>10}", clip(l));
    }
    println!();
    for (i, l) in labels.iter().enumerate() {
        print!("{:<16}", clip(l));
        for j in 0..labels.len() {
            print!(" {:>10}", ours.confusion[i][j]);
        }
        println!();
    }
    println!();
    println!(
        "at confidence {threshold}: precision {}, coverage {:.4}",
        at.precision()
            .map_or("- (nothing applied)".to_string(), |p| format!("{p:.4}")),
        at.coverage()
    );
    for (i, l) in labels.iter().enumerate() {
        println!(
            "  {:<22} precision {}, coverage {:.4}",
            l,
            at.class_precision(i)
                .map_or("-".to_string(), |p| format!("{p:.4}")),
            at.class_coverage(i)
        );
    }
    println!();
    println!(
        "training: {train_ms:.0} ms for {} items; tagging: {tag_us:.2} µs per item",
        train.len()
    );
    Ok(())
}

fn clip(s: &str) -> String {
    s.chars().take(10).collect()
}

fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Labels in order of first appearance, and the rows.
fn read(text: &str) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(format!("no `{name}` column in the header"))
    };
    let (id, title, summary, category) = (
        col("story_id")?,
        col("title")?,
        col("summary")?,
        col("category")?,
    );
    let mut labels: Vec<String> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        let mut ls = Vec::new();
        for label in get(category)
            .split('|')
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let l = *index.entry(label.to_string()).or_insert_with(|| {
                labels.push(label.to_string());
                labels.len() - 1
            });
            if !ls.contains(&l) {
                ls.push(l);
            }
        }
        if ls.is_empty() || get(id).is_empty() {
            return Err(format!("line {}: no story_id or category", n + 2));
        }
        rows.push(Row {
            id: get(id).to_string(),
            title: get(title).to_string(),
            summary: get(summary).to_string(),
            labels: ls,
        });
    }
    if labels.len() < 2 {
        return Err("fewer than two labels".into());
    }
    Ok((labels, rows))
}

struct Scores {
    accuracy: f64,
    macro_f1: f64,
    f1: Vec<f64>,
    confusion: Vec<Vec<usize>>,
}

impl Scores {
    fn of(k: usize, truth: &[usize], predicted: &[usize]) -> Scores {
        let mut confusion = vec![vec![0usize; k]; k];
        for (t, p) in truth.iter().zip(predicted) {
            confusion[*t][*p] += 1;
        }
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let f1: Vec<f64> = (0..k)
            .map(|i| {
                let tp = confusion[i][i] as f64;
                let fp: f64 = (0..k).map(|j| confusion[j][i] as f64).sum::<f64>() - tp;
                let fn_: f64 = confusion[i].iter().sum::<usize>() as f64 - tp;
                if tp == 0.0 {
                    0.0
                } else {
                    2.0 * tp / (2.0 * tp + fp + fn_)
                }
            })
            .collect();
        // Macro-F1 over the labels present in the test half.
        let present: Vec<usize> = (0..k)
            .filter(|i| confusion[*i].iter().sum::<usize>() > 0)
            .collect();
        let macro_f1 = present.iter().map(|i| f1[*i]).sum::<f64>() / present.len().max(1) as f64;
        Scores {
            accuracy: correct as f64 / truth.len().max(1) as f64,
            macro_f1,
            f1,
            confusion,
        }
    }
}

/// What the tagger applies at one threshold: every label whose confidence reaches it.
struct Applied {
    items: usize,
    /// Items that got at least one label.
    covered: usize,
    /// Per label: applications, right ones, test items that have it, and those of them that got it.
    applied: Vec<usize>,
    right: Vec<usize>,
    having: Vec<usize>,
    found: Vec<usize>,
}

impl Applied {
    fn of(k: usize, probs: &[Vec<f32>], truth: &[Vec<usize>], t: f32) -> Applied {
        let mut a = Applied {
            items: probs.len(),
            covered: 0,
            applied: vec![0; k],
            right: vec![0; k],
            having: vec![0; k],
            found: vec![0; k],
        };
        for (p, ls) in probs.iter().zip(truth) {
            let mut any = false;
            for (c, v) in p.iter().enumerate() {
                let has = ls.contains(&c);
                a.having[c] += usize::from(has);
                if *v >= t {
                    any = true;
                    a.applied[c] += 1;
                    a.right[c] += usize::from(has);
                    a.found[c] += usize::from(has);
                }
            }
            a.covered += usize::from(any);
        }
        a
    }

    fn precision(&self) -> Option<f64> {
        let applied: usize = self.applied.iter().sum();
        (applied > 0).then(|| self.right.iter().sum::<usize>() as f64 / applied as f64)
    }

    fn coverage(&self) -> f64 {
        self.covered as f64 / self.items.max(1) as f64
    }

    fn class_precision(&self, c: usize) -> Option<f64> {
        (self.applied[c] > 0).then(|| self.right[c] as f64 / self.applied[c] as f64)
    }

    fn class_coverage(&self, c: usize) -> f64 {
        self.found[c] as f64 / self.having[c].max(1) as f64
    }

    fn json(&self, labels: &[String], threshold: f32) -> serde_json::Value {
        let per_class: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .enumerate()
            .map(|(c, l)| {
                (
                    l.clone(),
                    serde_json::json!({
                        "precision": self.class_precision(c).map(round),
                        "coverage": round(self.class_coverage(c)),
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "threshold": round(f64::from(threshold)),
            "precision": self.precision().map(round),
            "coverage": round(self.coverage()),
            "per_class": per_class,
        })
    }
}
