//! Training the learned tagger on syndic's own stories, storing the model, and installing it.
//!
//! Examples are the newest stories whose sections are certain: a rule put them there (category, path,
//! keyword, regex), or a source that is dedicated to one section (exactly one default section and
//! not `tagging = "rules"`). The learned tagger's own tags are never trained on. A section needs
//! [`MIN_PER_SECTION`] examples to be learned; the tagger needs `[tagging].min_stories` examples over at
//! least two such sections, or it stays off and says why.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::{Config, Tagging};
use crate::service::startup::tagging_fingerprint;
use crate::store::{Store, StoreError, TaggedStory};
use crate::tag::learn::{Example, Model, TrainOptions, TrainReport};
use crate::tag::rules::{Origin, Tagger};

/// The model's name in the store.
pub const MODEL_NAME: &str = "sections";
/// Fewest examples for a section to be learned.
pub const MIN_PER_SECTION: usize = 20;
/// Newest stories read for training (bounds time and memory: 100,000 train in a few seconds).
pub const MAX_EXAMPLES: usize = 100_000;

/// What a training attempt did.
#[derive(Debug)]
pub enum Trained {
    /// A new model was stored and installed.
    Model(TrainSummary),
    /// Too little data: the tagger stays as it was (off, or its older model), for this reason.
    NotEnough(String),
}

#[derive(Debug)]
pub struct TrainSummary {
    /// Examples per learned section.
    pub per_section: BTreeMap<String, usize>,
    /// Sections left out for too few examples (with their count).
    pub left_out: BTreeMap<String, usize>,
    pub report: TrainReport,
    pub elapsed: Duration,
    /// Sections whose feeds changed when recent stories were re-scored.
    pub retagged: BTreeSet<String>,
}

/// The certain (story index, section) pairs among stored stories.
fn certain_examples(config: &Config, stories: &[TaggedStory]) -> Vec<(usize, String)> {
    let dedicated: BTreeSet<&str> = config
        .sources
        .iter()
        .filter(|s| s.sections.len() == 1 && s.tagging != Tagging::Rules)
        .map(|s| s.name.as_str())
        .collect();
    // Sections with `learn = false` are neither learned nor applied.
    let configured: BTreeSet<&str> = config
        .sections
        .iter()
        .filter(|s| s.learn)
        .map(|s| s.id.as_str())
        .collect();
    let mut out = Vec::new();
    for (i, st) in stories.iter().enumerate() {
        if st.title.trim().is_empty() && st.summary.trim().is_empty() {
            continue;
        }
        for (section, origin) in &st.sections {
            let certain = match origin {
                Origin::Source(name) => dedicated.contains(name.as_str()),
                Origin::Category(_) | Origin::Path(_) | Origin::Keyword(_) | Origin::Regex(_) => {
                    true
                }
                Origin::Learned(_) => false,
            };
            if certain && configured.contains(section.as_str()) {
                out.push((i, section.clone()));
            }
        }
    }
    out
}

/// Trains a model from the store (blocking; run it off the async runtime), stores it and installs it in
/// `tagger`, then re-scores the stories within the dedupe window.
pub fn train_now(store: &Store, config: &Config, tagger: &Tagger) -> Result<Trained, StoreError> {
    let started = Instant::now();
    let stories_at = store.last_story_id()?;
    let stories = store.tagged_stories(MAX_EXAMPLES)?;
    let picked = certain_examples(config, &stories);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, s) in &picked {
        *counts.entry(s.clone()).or_default() += 1;
    }
    let (per_section, left_out): (BTreeMap<_, _>, BTreeMap<_, _>) =
        counts.into_iter().partition(|(_, n)| *n >= MIN_PER_SECTION);
    let total: usize = per_section.values().sum();
    let min = config.tagging.min_stories as usize;
    if per_section.len() < 2 || total < min {
        return Ok(Trained::NotEnough(format!(
            "{total} stories with certain sections in {} section(s) with at least {MIN_PER_SECTION} \
             each; the learned tagger needs {min} (tagging.min_stories) over two or more sections",
            per_section.len()
        )));
    }
    let labels: Vec<String> = per_section.keys().cloned().collect();
    // One example per story, with every certain section it has (a story can be in several).
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, s) in &picked {
        let Some(label) = labels.iter().position(|l| l == s) else {
            continue;
        };
        match groups.last_mut() {
            Some((story, ls)) if story == i => {
                if !ls.contains(&label) {
                    ls.push(label);
                }
            }
            _ => groups.push((*i, vec![label])),
        }
    }
    let examples: Vec<Example<'_>> = groups
        .iter()
        .map(|(i, ls)| Example {
            title: &stories[*i].title,
            summary: &stories[*i].summary,
            label: ls[0],
            also: &ls[1..],
        })
        .collect();
    let (model, report) = match Model::train(&labels, &examples, &TrainOptions::default()) {
        Ok(m) => m,
        Err(e) => return Ok(Trained::NotEnough(e.to_string())),
    };
    // Stored to the millisecond: the time read back by `load_stored` names the same model.
    let trained_at = crate::store::from_ms(crate::store::to_ms(Utc::now()));
    store.save_model(
        MODEL_NAME,
        trained_at,
        examples.len(),
        stories_at,
        &model.to_bytes(),
    )?;
    tagger.set_model(
        Some(model),
        config.tagging.min_confidence,
        config.tagging.apply,
    );
    let fingerprint = tagging_fingerprint(config, Some((trained_at, stories_at)));
    tagger.set_fingerprint(fingerprint);
    // The recent stories (any may gain a section), and every story an older model tagged; marked as
    // tagged by the new model, so the next start or reload does not retag them again.
    let since = Utc::now() - config.dedupe.window;
    let retagged = store
        .retag_unless_tagged_by(since, tagger, fingerprint)?
        .unwrap_or_default();
    Ok(Trained::Model(TrainSummary {
        per_section,
        left_out,
        report,
        elapsed: started.elapsed(),
        retagged,
    }))
}

/// Installs the stored model in `tagger` when `[tagging].learn` is on (and removes it when off), with
/// the tagging fingerprint it then tags by ([`tagging_fingerprint`]). Returns when the stored model
/// was trained and the newest story id then, for [`Due`].
pub fn load_stored(
    store: &Store,
    config: &Config,
    tagger: &Tagger,
) -> Result<Option<(DateTime<Utc>, i64)>, StoreError> {
    let trained = install_stored(store, config, tagger)?;
    if trained.is_some() || tagger.learned().is_none() {
        tagger.set_fingerprint(tagging_fingerprint(config, trained));
    }
    Ok(trained)
}

fn install_stored(
    store: &Store,
    config: &Config,
    tagger: &Tagger,
) -> Result<Option<(DateTime<Utc>, i64)>, StoreError> {
    if !config.tagging.learn {
        tagger.set_model(None, 1.0, config.tagging.apply);
        return Ok(None);
    }
    let Some(stored) = store.load_model(MODEL_NAME)? else {
        return Ok(None);
    };
    match Model::from_bytes(&stored.data) {
        Ok(model) => {
            tracing::info!(
                trained_at = %stored.trained_at,
                examples = stored.examples,
                sections = ?model.labels(),
                "learned tagger loaded"
            );
            tagger.set_model(
                Some(model),
                config.tagging.min_confidence,
                config.tagging.apply,
            );
            Ok(Some((stored.trained_at, stored.stories_at)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "stored tagger model ignored; it will be retrained");
            Ok(None)
        }
    }
}

/// When the next training is due: after `[tagging].retrain_hours`, or once `[tagging].retrain_after`
/// stories were stored since the last attempt (an attempt without enough data counts, so a store that
/// is too small is not re-read on every pass).
#[derive(Debug, Clone, Copy, Default)]
pub struct Due {
    last: Option<(DateTime<Utc>, i64)>,
}

impl Due {
    pub fn new(last: Option<(DateTime<Utc>, i64)>) -> Due {
        Due { last }
    }

    pub fn is_due(&self, config: &Config, now: DateTime<Utc>, stories: i64) -> bool {
        if !config.tagging.learn {
            return false;
        }
        match self.last {
            None => true,
            Some((at, count)) => {
                now - at >= config.tagging.retrain_every
                    || stories - count >= config.tagging.retrain_after as i64
            }
        }
    }

    pub fn attempted(&mut self, now: DateTime<Utc>, stories: i64) {
        self.last = Some((now, stories));
    }
}

/// Logs a training outcome.
pub fn log(outcome: &Trained) {
    match outcome {
        Trained::Model(s) => tracing::info!(
            sections = ?s.per_section,
            left_out = ?s.left_out,
            holdout_accuracy = format!("{:.3}", s.report.holdout_accuracy),
            elapsed_ms = s.elapsed.as_millis() as u64,
            retagged = ?s.retagged,
            "learned tagger retrained"
        ),
        Trained::NotEnough(why) => tracing::info!("learned tagger off: {why}"),
    }
}
