//! The learned section tagger: a small text classifier over a story's title and summary that scores
//! each section on its own, so a story can get any subset of the sections ("Tokyo stocks close at a
//! record high" is Asia *and* Business).
//!
//! Features are hashed (no vocabulary to store or grow): every word of two or more letters or digits,
//! every pair of adjacent words, and the title's words once more under their own hash, so a word in
//! the headline counts apart from the same word in the lead. Two models read them:
//!
//! - one logistic regression per section against the rest (one-vs-rest; an example counts as positive
//!   for each section it has) over sublinear, IDF-weighted, L2-normalised features, trained together
//!   by SGD with L2 regularisation, each section's positives and negatives weighted to equal totals;
//! - a complement naive Bayes over the raw word counts (each section's weights estimated from the
//!   other sections' text, which keeps small sections steady), with no priors.
//!
//! Neither model has a bias or prior, so a text with no known word scores every section alike, and the
//! calibration maps that score to each section's low base rate.
//!
//! A story's score for a section is the regression's logit plus a weight times the naive Bayes score
//! (naive Bayes is strong on few examples, the regression on many, and each corrects the other's
//! typical errors on short texts). Each section's score is then calibrated on its own (Platt scaling:
//! a logistic curve fitted to whether held-out stories have the section), so the reported confidence
//! is the probability that the section is right, whatever the others say. The naive Bayes weight and
//! smoothing and the regularisation strength are chosen by that calibrated log loss on predictions for
//! examples the model did not see: five-fold cross-validation below 20,000 examples, a held-out tenth
//! above. The model is then refitted on all of the examples.
//!
//! Everything is deterministic: the same examples give the same model, byte for byte.

mod baseline;
mod bytes;
mod features;
mod fit;

use std::fmt;

use bytes::{FORMAT, Reader, put_f32, put_u32};
use fit::{CV_BELOW, CV_FOLDS, Prepared, fit_model, fit_nb, fit_platt, sigmoid, weigh};

pub use baseline::NaiveBayes;
pub use features::{Features, features, stable_hash};
pub use fit::argmax;

/// Width of the feature space: 2^18 hashed buckets.
pub const DEFAULT_BITS: u32 = 18;

/// One labelled example: a story's title and summary, the index of its label, and of any other labels
/// it has (a story can belong to several sections).
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub label: usize,
    pub also: &'a [usize],
}

impl Example<'_> {
    /// All of the example's labels, its first label first, each once.
    pub fn labels(&self) -> Vec<usize> {
        let mut out = vec![self.label];
        for l in self.also {
            if !out.contains(l) {
                out.push(*l);
            }
        }
        out
    }
}

/// Why a model could not be trained or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnError {
    /// Fewer than two labels have examples.
    TooFewLabels,
    /// A label index out of range, or no examples at all.
    BadExamples(String),
    /// Stored bytes that are not a model of this format.
    Corrupt(&'static str),
}

impl fmt::Display for LearnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LearnError::TooFewLabels => write!(f, "at least two sections need examples"),
            LearnError::BadExamples(m) => write!(f, "bad training examples: {m}"),
            LearnError::Corrupt(m) => write!(f, "stored model unreadable: {m}"),
        }
    }
}

impl std::error::Error for LearnError {}

/// A trained classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    labels: Vec<String>,
    bits: u32,
    /// Inverse document frequency per bucket.
    idf: Vec<f32>,
    /// Regression weights, bucket-major: `w[f * k + c]`.
    w: Vec<f32>,
    /// Naive Bayes log-likelihoods, bucket-major like `w`.
    nb: Vec<f32>,
    nb_weight: f32,
    /// Each label's calibration `(a, b)`: probability `sigmoid(a · score + b)`.
    calibration: Vec<(f32, f32)>,
    /// Examples the model was trained on.
    pub trained_on: usize,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub bits: u32,
    pub epochs: usize,
    /// Candidate L2 strengths (per example); chosen on the held-out tenth.
    pub lambdas: Vec<f32>,
    /// Candidate naive Bayes weights; chosen on the held-out tenth.
    pub nb_weights: Vec<f32>,
    /// Candidate naive Bayes smoothing strengths; chosen on the held-out tenth.
    pub nb_alphas: Vec<f32>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            bits: DEFAULT_BITS,
            epochs: 8,
            lambdas: vec![1e-5],
            nb_weights: vec![0.0, 0.1, 0.2, 0.35, 0.5, 1.0],
            nb_alphas: vec![0.1, 0.3, 1.0],
        }
    }
}

/// What training chose, for the log and the evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub lambda: f32,
    pub nb_alpha: f32,
    pub nb_weight: f32,
    /// Each label's calibration `(a, b)` (see [`Model::predict`]).
    pub calibration: Vec<(f32, f32)>,
    /// Share of held-out examples whose most likely label is one of theirs, before the final refit.
    pub holdout_accuracy: f32,
}

/// One held-out example's scores: (regression logits, naive Bayes scores, its labels).
type Scored = (Vec<f32>, Vec<f32>, Vec<usize>);

/// Examples a model can be trained on: some, each labelled within `k`, with at least two labels.
fn check_examples(k: usize, examples: &[Example<'_>]) -> Result<(), LearnError> {
    if examples.is_empty() {
        return Err(LearnError::BadExamples("no examples".into()));
    }
    if let Some(l) = examples
        .iter()
        .flat_map(|e| std::iter::once(&e.label).chain(e.also))
        .find(|l| **l >= k)
    {
        return Err(LearnError::BadExamples(format!("label {l} of {k}")));
    }
    let mut present = vec![false; k];
    for e in examples {
        present[e.label] = true;
        for l in e.also {
            present[*l] = true;
        }
    }
    if present.iter().filter(|p| **p).count() < 2 {
        return Err(LearnError::TooFewLabels);
    }
    Ok(())
}

/// The (fit, held-out) splits settings are chosen on: predictions for examples the model did not see,
/// from five folds when there are few examples (one held-out tenth would be a handful of stories, and
/// its choice noise), from every tenth example otherwise. Folds follow the caller's order, which is
/// arbitrary but fixed.
fn folds(n: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let split = |held: &dyn Fn(usize) -> bool| {
        let (hold, fit): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| held(i));
        (fit, hold)
    };
    if n < CV_BELOW {
        (0..CV_FOLDS)
            .map(|p| split(&|i| i % CV_FOLDS == p))
            .collect()
    } else {
        vec![split(&|i| i % 10 == 9)]
    }
}

/// The settings (regularization, naive Bayes smoothing and weight) with the lowest held-out log loss
/// over `folds`, summed over the labels, each calibrated on its own; and those calibrations.
fn choose_settings(
    labels: &[String],
    all: &Prepared,
    folds: &[(Vec<usize>, Vec<usize>)],
    held_out: usize,
    opts: &TrainOptions,
) -> Option<TrainReport> {
    let k = labels.len();
    let mut best: Option<(f64, TrainReport)> = None;
    for &lambda in &opts.lambdas {
        // Out-of-fold (regression, naive Bayes) scores per smoothing strength.
        let mut scored: Vec<Vec<Scored>> = vec![Vec::with_capacity(held_out); opts.nb_alphas.len()];
        for (fit, hold) in folds {
            let mut m = fit_model(labels, all, fit, lambda, opts);
            for (a, &alpha) in opts.nb_alphas.iter().enumerate() {
                m.nb = fit_nb(all, fit, k, opts.bits, alpha);
                scored[a].extend(hold.iter().map(|&i| {
                    let (lr, nb) = m.parts(&all.feats[i]);
                    (lr, nb, all.labels[i].clone())
                }));
            }
        }
        for (a, &alpha) in opts.nb_alphas.iter().enumerate() {
            for &nbw in &opts.nb_weights {
                let mut loss = 0.0;
                let mut calibration = Vec::with_capacity(k);
                for c in 0..k {
                    let pairs: Vec<(f32, bool)> = scored[a]
                        .iter()
                        .map(|(lr, nb, ys)| (lr[c] + nbw * nb[c], ys.contains(&c)))
                        .collect();
                    let (ab, l) = fit_platt(&pairs);
                    calibration.push(ab);
                    loss += l;
                }
                let correct = scored[a]
                    .iter()
                    .filter(|(lr, nb, ys)| {
                        let p: Vec<f32> = (0..k)
                            .map(|c| {
                                let (ca, cb) = calibration[c];
                                sigmoid(ca * (lr[c] + nbw * nb[c]) + cb)
                            })
                            .collect();
                        ys.contains(&argmax(&p))
                    })
                    .count();
                let report = TrainReport {
                    lambda,
                    nb_alpha: alpha,
                    nb_weight: nbw,
                    calibration,
                    holdout_accuracy: correct as f32 / scored[a].len().max(1) as f32,
                };
                if best.as_ref().is_none_or(|(l, _)| loss < *l) {
                    best = Some((loss, report));
                }
            }
        }
    }
    best.map(|(_, r)| r)
}

impl Model {
    /// Trains on `examples` whose labels index `labels`.
    pub fn train(
        labels: &[String],
        examples: &[Example<'_>],
        opts: &TrainOptions,
    ) -> Result<(Model, TrainReport), LearnError> {
        let k = labels.len();
        check_examples(k, examples)?;
        let all = Prepared {
            feats: examples
                .iter()
                .map(|e| features(e.title, e.summary, opts.bits))
                .collect(),
            labels: examples.iter().map(Example::labels).collect(),
        };
        let folds = folds(examples.len());
        let held_out: usize = folds.iter().map(|(_, h)| h.len()).sum();
        let best = if held_out >= k.max(10) {
            choose_settings(labels, &all, &folds, held_out, opts)
        } else {
            None
        };
        let report = best.unwrap_or(TrainReport {
            lambda: opts.lambdas.first().copied().unwrap_or(1e-5),
            nb_alpha: 1.0,
            nb_weight: 0.5,
            // Too few examples to calibrate on: a plain logistic curve, centred below one half.
            calibration: vec![(1.0, -1.0); k],
            holdout_accuracy: f32::NAN,
        });
        let every: Vec<usize> = (0..examples.len()).collect();
        let mut m = fit_model(labels, &all, &every, report.lambda, opts);
        if report.nb_alpha != 1.0 {
            m.nb = fit_nb(&all, &every, k, opts.bits, report.nb_alpha);
        }
        m.nb_weight = report.nb_weight;
        m.calibration.clone_from(&report.calibration);
        Ok((m, report))
    }

    /// The labels, in the order of [`Model::predict`]'s probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// For each label, the calibrated probability that a story with this title and summary has it,
    /// each on its own (they need not sum to one: a story may have several labels, or none).
    pub fn predict(&self, title: &str, summary: &str) -> Vec<f32> {
        let (lr, nb) = self.parts(&features(title, summary, self.bits));
        lr.iter()
            .zip(&nb)
            .zip(&self.calibration)
            .map(|((l, n), (a, b))| sigmoid(a * (l + self.nb_weight * n) + b))
            .collect()
    }

    /// The regression's logits and the naive Bayes log-likelihoods.
    fn parts(&self, feats: &Features) -> (Vec<f32>, Vec<f32>) {
        let k = self.labels.len();
        let x = weigh(&self.idf, &feats.all);
        let mut lr = vec![0f32; k];
        for (f, v) in &x {
            let row = &self.w[*f as usize * k..][..k];
            for c in 0..k {
                lr[c] += row[c] * v;
            }
        }
        let mut nb = vec![0f32; k];
        for (f, n) in &feats.words {
            let row = &self.nb[*f as usize * k..][..k];
            for c in 0..k {
                nb[c] += row[c] * n;
            }
        }
        (lr, nb)
    }

    /// The model as bytes, for the store.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + (self.w.len() * 2 + self.idf.len()) * 4);
        out.extend_from_slice(FORMAT);
        put_u32(&mut out, self.bits);
        put_u32(&mut out, self.labels.len() as u32);
        put_u32(&mut out, self.trained_on as u32);
        for l in &self.labels {
            put_u32(&mut out, l.len() as u32);
            out.extend_from_slice(l.as_bytes());
        }
        put_f32(&mut out, self.nb_weight);
        for (a, b) in &self.calibration {
            put_f32(&mut out, *a);
            put_f32(&mut out, *b);
        }
        for v in [&self.idf, &self.w, &self.nb] {
            for x in v.iter() {
                put_f32(&mut out, *x);
            }
        }
        out
    }

    /// Reads a model written by [`Model::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, LearnError> {
        let mut r = Reader { b: bytes };
        if r.take(8)? != FORMAT {
            return Err(LearnError::Corrupt(
                "not a syndic model (or an older format)",
            ));
        }
        let bits = r.u32()?;
        if !(8..=24).contains(&bits) {
            return Err(LearnError::Corrupt("feature width out of range"));
        }
        let k = r.u32()? as usize;
        if !(2..=1024).contains(&k) {
            return Err(LearnError::Corrupt("label count out of range"));
        }
        let trained_on = r.u32()? as usize;
        let mut labels = Vec::with_capacity(k);
        for _ in 0..k {
            let n = r.u32()? as usize;
            let s = std::str::from_utf8(r.take(n)?).map_err(|_| LearnError::Corrupt("label"))?;
            labels.push(s.to_string());
        }
        let nb_weight = r.f32()?;
        let mut calibration = Vec::with_capacity(k);
        for _ in 0..k {
            let (a, b) = (r.f32()?, r.f32()?);
            if !(a.is_finite() && b.is_finite()) {
                return Err(LearnError::Corrupt("calibration"));
            }
            calibration.push((a, b));
        }
        let d = 1usize << bits;
        let idf = r.f32s(d)?;
        let w = r.f32s(d * k)?;
        let nb = r.f32s(d * k)?;
        if !r.b.is_empty() {
            return Err(LearnError::Corrupt("trailing bytes"));
        }
        Ok(Model {
            labels,
            bits,
            idf,
            w,
            nb,
            nb_weight,
            calibration,
            trained_on,
        })
    }
}

#[cfg(test)]
mod tests;
