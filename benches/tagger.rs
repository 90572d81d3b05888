//! `cargo bench --bench tagger`: the learned tagger at scale.
//!
//! Trains on 100,000 stories made from the labelled items of `../shared/data/sections/agnews.tsv`
//! (every item repeated with a number appended to its summary, so no two are identical), then tags
//! 100,000 of them. Printed: training time, tagging time per story, and the size of the stored model.
//! `SYNDIC_BENCH_STORIES=N` changes the number of stories. Without `../shared/data` it says so and skips.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use syndic::tag::learn::{Example, Model, TrainOptions};

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sections/agnews.tsv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("tagger bench: {} not found; skipped", path.display());
        return;
    };
    let n: usize = std::env::var("SYNDIC_BENCH_STORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows: Vec<(String, String, usize)> = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        let next = labels.len();
        let l = *labels.entry(f[3].to_string()).or_insert(next);
        rows.push((f[1].to_string(), f[2].to_string(), l));
    }
    let summaries: Vec<String> = (0..n)
        .map(|i| format!("{} {}", rows[i % rows.len()].1, i / rows.len()))
        .collect();
    let examples: Vec<Example<'_>> = (0..n)
        .map(|i| Example {
            title: &rows[i % rows.len()].0,
            summary: &summaries[i],
            label: rows[i % rows.len()].2,
            also: &[],
        })
        .collect();
    let mut names: Vec<(String, usize)> = labels.into_iter().collect();
    names.sort_by_key(|(_, i)| *i);
    let names: Vec<String> = names.into_iter().map(|(s, _)| s).collect();

    let started = Instant::now();
    let (model, report) =
        Model::train(&names, &examples, &TrainOptions::default()).expect("training");
    let train = started.elapsed();
    let started = Instant::now();
    let mut sum = 0f32;
    for e in &examples {
        sum += model.predict(e.title, e.summary)[0];
    }
    let tag = started.elapsed();
    let bytes = model.to_bytes().len();
    println!(
        "tagger: trained on {n} stories in {:.2} s (held-out accuracy {:.3}); tagging {:.2} µs per story; \
         stored model {:.1} MB (checksum {:.1})",
        train.as_secs_f64(),
        report.holdout_accuracy,
        tag.as_secs_f64() * 1e6 / n as f64,
        bytes as f64 / 1e6,
        sum
    );
}
