//! The learned section tagger: a small text classifier over a story's title and summary.
//!
//! Features are hashed (no vocabulary to store or grow): every word of two or more letters or digits,
//! every pair of adjacent words, and the title's words once more under their own hash, so a word in
//! the headline counts apart from the same word in the lead. Two models read them:
//!
//! - a multinomial logistic regression (softmax) over sublinear, IDF-weighted, L2-normalised features,
//!   trained by SGD with L2 regularisation and per-class weights that balance the sections;
//! - a complement naive Bayes over the raw word counts (each section's weights estimated from the
//!   other sections' text, which keeps small sections steady), with no priors (the same balancing).
//!
//! Neither model has a bias or prior: classes are balanced, so a text with no known word scores every
//! section alike and no section is applied to it.
//!
//! A story's score for a section is the regression's logit plus a weight times the naive Bayes score
//! (a product of experts: naive Bayes is strong on few examples, the regression on many, and each
//! corrects the other's typical errors on short texts). The naive Bayes weight and smoothing, the
//! regularisation strength and a softmax temperature are chosen by log loss on predictions for
//! examples the model did not see: five-fold cross-validation below 20,000 examples, a held-out tenth
//! above. The temperature makes the reported confidence a calibrated probability. The model is then
//! refitted on all of the examples.
//!
//! Everything is deterministic: the same examples give the same model, byte for byte.

use std::fmt;

/// Below this many examples, settings are chosen by cross-validation over [`CV_FOLDS`] folds.
const CV_BELOW: usize = 20_000;
const CV_FOLDS: usize = 5;

/// Width of the feature space: 2^18 hashed buckets.
pub const DEFAULT_BITS: u32 = 18;
const FORMAT: &[u8; 8] = b"syndicM1";
const TITLE_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const PAIR_SEED: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// One labelled example: a story's title and summary, and the index of its label.
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub label: usize,
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

/// Hashed features of one text, as (bucket, count) sorted by bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Everything: words, adjacent pairs, title words. Read by the regression.
    pub all: Vec<(u32, f32)>,
    /// Words and title words, without pairs (which would count the same evidence twice in a model
    /// that assumes independence). Read by naive Bayes.
    pub words: Vec<(u32, f32)>,
}

/// The features of a title and summary in a space of `2^bits` buckets.
pub fn features(title: &str, summary: &str, bits: u32) -> Features {
    let mut all = Vec::with_capacity(96);
    let mut words = Vec::with_capacity(48);
    for (text, in_title) in [(title, true), (summary, false)] {
        let mut prev: Option<u64> = None;
        hash_words(text, |h| {
            words.push(h);
            if in_title {
                words.push(h ^ TITLE_SEED);
            }
            if let Some(p) = prev {
                all.push(p.rotate_left(17) ^ h ^ PAIR_SEED);
            }
            prev = Some(h);
        });
    }
    all.extend_from_slice(&words);
    Features {
        all: buckets(&all, bits),
        words: buckets(&words, bits),
    }
}

/// Hashes → (bucket, count), sorted by bucket.
fn buckets(hashes: &[u64], bits: u32) -> Vec<(u32, f32)> {
    let mask = (1u64 << bits) - 1;
    let mut idx: Vec<u32> = hashes.iter().map(|h| (mix(*h) & mask) as u32).collect();
    idx.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(idx.len());
    for i in idx {
        match out.last_mut() {
            Some((j, c)) if *j == i => *c += 1.0,
            _ => out.push((i, 1.0)),
        }
    }
    out
}

/// Calls `emit` with the hash of every word of two or more letters or digits, lower-cased. An
/// apostrophe ends a word ("Bush's" → "bush"; the "s" is too short to count).
fn hash_words(text: &str, mut emit: impl FnMut(u64)) {
    let mut h = FNV_OFFSET;
    let mut len = 0usize;
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for b in l.encode_utf8(&mut buf).bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
                len += 1;
            }
        } else {
            if len >= 2 {
                emit(h);
            }
            h = FNV_OFFSET;
            len = 0;
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// A stable 64-bit hash of a string (FNV-1a, mixed): the same on every machine and every release, for
/// deterministic splits.
pub fn stable_hash(s: &str) -> u64 {
    let mut h = FNV_OFFSET;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    mix(h)
}

/// Spreads FNV's low bits (a murmur3 finaliser).
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

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
    temperature: f32,
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
    pub temperature: f32,
    /// Accuracy on the held-out tenth, before the final refit.
    pub holdout_accuracy: f32,
}

/// One held-out example's scores: (regression logits, naive Bayes scores, true label).
type Scored = (Vec<f32>, Vec<f32>, usize);

/// Examples turned into features once.
struct Prepared {
    /// Features per example.
    feats: Vec<Features>,
    labels: Vec<usize>,
}

impl Model {
    /// Trains on `examples` whose labels index `labels`.
    pub fn train(
        labels: &[String],
        examples: &[Example<'_>],
        opts: &TrainOptions,
    ) -> Result<(Model, TrainReport), LearnError> {
        let k = labels.len();
        if examples.is_empty() {
            return Err(LearnError::BadExamples("no examples".into()));
        }
        if let Some(e) = examples.iter().find(|e| e.label >= k) {
            return Err(LearnError::BadExamples(format!("label {} of {k}", e.label)));
        }
        let mut present = vec![false; k];
        for e in examples {
            present[e.label] = true;
        }
        if present.iter().filter(|p| **p).count() < 2 {
            return Err(LearnError::TooFewLabels);
        }
        let all = Prepared {
            feats: examples
                .iter()
                .map(|e| features(e.title, e.summary, opts.bits))
                .collect(),
            labels: examples.iter().map(|e| e.label).collect(),
        };
        // Settings are chosen on predictions for examples the model did not see: from five folds when
        // there are few examples (one held-out tenth would be a handful of stories, and its choice
        // noise), from every tenth example otherwise. Folds follow the caller's order, which is
        // arbitrary but fixed.
        let n = examples.len();
        let split = |held: &dyn Fn(usize) -> bool| {
            let (hold, fit): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| held(i));
            (fit, hold)
        };
        let folds: Vec<(Vec<usize>, Vec<usize>)> = if n < CV_BELOW {
            (0..CV_FOLDS)
                .map(|p| split(&|i| i % CV_FOLDS == p))
                .collect()
        } else {
            vec![split(&|i| i % 10 == 9)]
        };
        let held_out: usize = folds.iter().map(|(_, h)| h.len()).sum();
        let mut best: Option<(f64, TrainReport)> = None;
        if held_out >= k.max(10) {
            for &lambda in &opts.lambdas {
                // Out-of-fold (regression, naive Bayes) scores per smoothing strength.
                let mut scored: Vec<Vec<Scored>> =
                    vec![Vec::with_capacity(held_out); opts.nb_alphas.len()];
                for (fit, hold) in &folds {
                    let mut m = fit_model(labels, &all, fit, lambda, opts);
                    for (a, &alpha) in opts.nb_alphas.iter().enumerate() {
                        m.nb = fit_nb(&all, fit, k, opts.bits, alpha);
                        scored[a].extend(hold.iter().map(|&i| {
                            let (lr, nb) = m.parts(&all.feats[i]);
                            (lr, nb, all.labels[i])
                        }));
                    }
                }
                for (a, &alpha) in opts.nb_alphas.iter().enumerate() {
                    for &nbw in &opts.nb_weights {
                        let combined: Vec<(Vec<f32>, usize)> = scored[a]
                            .iter()
                            .map(|(lr, nb, y)| {
                                (lr.iter().zip(nb).map(|(a, b)| a + nbw * b).collect(), *y)
                            })
                            .collect();
                        let (t, loss) = fit_temperature(&combined);
                        let correct = combined.iter().filter(|(s, y)| argmax(s) == *y).count();
                        let report = TrainReport {
                            lambda,
                            nb_alpha: alpha,
                            nb_weight: nbw,
                            temperature: t,
                            holdout_accuracy: correct as f32 / combined.len() as f32,
                        };
                        if best.as_ref().is_none_or(|(l, _)| loss < *l) {
                            best = Some((loss, report));
                        }
                    }
                }
            }
        }
        let report = best.map(|(_, r)| r).unwrap_or(TrainReport {
            lambda: opts.lambdas.first().copied().unwrap_or(1e-5),
            nb_alpha: 1.0,
            nb_weight: 0.5,
            temperature: 1.0,
            holdout_accuracy: f32::NAN,
        });
        let every: Vec<usize> = (0..examples.len()).collect();
        let mut m = fit_model(labels, &all, &every, report.lambda, opts);
        if report.nb_alpha != 1.0 {
            m.nb = fit_nb(&all, &every, k, opts.bits, report.nb_alpha);
        }
        m.nb_weight = report.nb_weight;
        m.temperature = report.temperature;
        Ok((m, report))
    }

    /// The labels, in the order of [`Model::predict`]'s probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Calibrated probability of each label for a title and summary.
    pub fn predict(&self, title: &str, summary: &str) -> Vec<f32> {
        let (lr, nb) = self.parts(&features(title, summary, self.bits));
        let scores: Vec<f32> = lr
            .iter()
            .zip(&nb)
            .map(|(a, b)| (a + self.nb_weight * b) / self.temperature)
            .collect();
        softmax(&scores)
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
        put_f32(&mut out, self.temperature);
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
        let temperature = r.f32()?;
        let d = 1usize << bits;
        let idf = r.f32s(d)?;
        let w = r.f32s(d * k)?;
        let nb = r.f32s(d * k)?;
        if !r.b.is_empty() {
            return Err(LearnError::Corrupt("trailing bytes"));
        }
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(LearnError::Corrupt("temperature"));
        }
        Ok(Model {
            labels,
            bits,
            idf,
            w,
            nb,
            nb_weight,
            temperature,
            trained_on,
        })
    }
}

/// Sublinear term frequency times IDF, L2-normalised.
fn weigh(idf: &[f32], counts: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let mut x: Vec<(u32, f32)> = counts
        .iter()
        .map(|(f, n)| (*f, (1.0 + n.ln()) * idf[*f as usize]))
        .collect();
    let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut x {
            *v /= norm;
        }
    }
    x
}

/// Fits IDF, naive Bayes and the regression on the examples `rows` of `all`.
fn fit_model(
    labels: &[String],
    all: &Prepared,
    rows: &[usize],
    lambda: f32,
    opts: &TrainOptions,
) -> Model {
    let k = labels.len();
    let d = 1usize << opts.bits;
    let n = rows.len();
    // Class weights: each present class carries the same total weight.
    let mut per_class = vec![0usize; k];
    for &i in rows {
        per_class[all.labels[i]] += 1;
    }
    let present = per_class.iter().filter(|c| **c > 0).count().max(1);
    let class_weight: Vec<f32> = per_class
        .iter()
        .map(|c| {
            if *c == 0 {
                0.0
            } else {
                n as f32 / (present as f32 * *c as f32)
            }
        })
        .collect();

    // IDF (smoothed, as in the usual tf-idf).
    let mut df = vec![0u32; d];
    for &i in rows {
        for (f, _) in &all.feats[i].all {
            df[*f as usize] += 1;
        }
    }
    let idf: Vec<f32> = df
        .iter()
        .map(|c| ((1.0 + n as f32) / (1.0 + *c as f32)).ln() + 1.0)
        .collect();
    drop(df);

    let nb = fit_nb(all, rows, k, opts.bits, 1.0);

    // Regression: SGD on the softmax log loss with L2, weights kept as scale * w.
    let xs: Vec<Vec<(u32, f32)>> = rows
        .iter()
        .map(|&i| weigh(&idf, &all.feats[i].all))
        .collect();
    let ys: Vec<usize> = rows.iter().map(|&i| all.labels[i]).collect();
    let mut w = vec![0f32; d * k];
    let mut scale = 1f64;
    let eta0 = 0.5f64;
    let mut t = 0f64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut z = vec![0f32; k];
    for _ in 0..opts.epochs {
        for i in (1..order.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let eta = eta0 / (1.0 + eta0 * f64::from(lambda) * t);
            t += 1.0;
            let x = &xs[i];
            let y = ys[i];
            z.fill(0.0);
            for (f, v) in x {
                let row = &w[*f as usize * k..][..k];
                for c in 0..k {
                    z[c] += (f64::from(row[c]) * scale) as f32 * v;
                }
            }
            let p = softmax(&z);
            let cw = class_weight[y];
            // Shrink first (every weight, through the scale), then step on this example's features.
            scale *= 1.0 - eta * f64::from(lambda);
            if scale < 1e-6 {
                for v in &mut w {
                    *v = (f64::from(*v) * scale) as f32;
                }
                scale = 1.0;
            }
            for c in 0..k {
                let g = cw * (p[c] - if c == y { 1.0 } else { 0.0 });
                if g == 0.0 {
                    continue;
                }
                let step = (eta * f64::from(g) / scale) as f32;
                for (f, v) in x {
                    w[*f as usize * k + c] -= step * v;
                }
            }
        }
    }
    for v in &mut w {
        *v = (f64::from(*v) * scale) as f32;
    }
    Model {
        labels: labels.to_vec(),
        bits: opts.bits,
        idf,
        w,
        nb,
        nb_weight: 0.0,
        temperature: 1.0,
        trained_on: n,
    }
}

/// Complement naive Bayes weights per class (bucket-major), smoothed by `alpha`: a word scores for a
/// class by how unlikely it is in the *other* classes' text, as in Rennie et al. (2003). Estimated
/// from every class but one, the weights of a small class rest on far more text than its own, which
/// makes them steadier than plain naive Bayes when sections are few stories or uneven. Each bucket's
/// weights are centred (they sum to zero over the classes), so a word only shifts the classes
/// against one another; a bucket no example had scores every class alike. No priors: classes are
/// balanced.
fn fit_nb(all: &Prepared, rows: &[usize], k: usize, bits: u32, alpha: f32) -> Vec<f32> {
    let d = 1usize << bits;
    let mut nb = vec![0f32; d * k];
    let mut totals = vec![0f64; k];
    for &i in rows {
        let c = all.labels[i];
        for (f, cnt) in &all.feats[i].words {
            nb[*f as usize * k + c] += cnt;
            totals[c] += f64::from(*cnt);
        }
    }
    let used = (0..d)
        .filter(|f| nb[f * k..][..k].iter().any(|v| *v > 0.0))
        .count()
        .max(1) as f64;
    let all_words: f64 = totals.iter().sum();
    // log of the smoothed size of each class's complement.
    let complement: Vec<f32> = totals
        .iter()
        .map(|t| ((all_words - t) + f64::from(alpha) * used).ln() as f32)
        .collect();
    let mut counts = vec![0f32; k];
    for f in 0..d {
        let row = &mut nb[f * k..][..k];
        if row.iter().all(|v| *v == 0.0) {
            continue;
        }
        counts.copy_from_slice(row);
        let sum: f32 = counts.iter().sum();
        for c in 0..k {
            row[c] = complement[c] - (sum - counts[c] + alpha).ln();
        }
        let mean = row.iter().sum::<f32>() / k as f32;
        for v in row.iter_mut() {
            *v -= mean;
        }
    }
    nb
}

/// The temperature minimising log loss of `scores` over a log-spaced grid; and that loss.
fn fit_temperature(scored: &[(Vec<f32>, usize)]) -> (f32, f64) {
    let mut best = (1.0f32, f64::INFINITY);
    for step in 0..=60 {
        let t = 10f32.powf(-1.5 + step as f32 * 0.05);
        let loss: f64 = scored
            .iter()
            .map(|(s, y)| {
                let scaled: Vec<f32> = s.iter().map(|v| v / t).collect();
                -f64::from(softmax(&scaled)[*y].max(1e-12)).ln()
            })
            .sum::<f64>()
            / scored.len().max(1) as f64;
        if loss < best.1 {
            best = (t, loss);
        }
    }
    best
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// A plain multinomial naive Bayes over the words of title and summary (no pairs, no title words,
/// class priors from the data): the baseline the learned tagger is measured against.
pub struct NaiveBayes {
    k: usize,
    bits: u32,
    prior: Vec<f32>,
    loglik: Vec<f32>,
}

impl NaiveBayes {
    pub fn train(k: usize, examples: &[Example<'_>]) -> NaiveBayes {
        let bits = DEFAULT_BITS;
        let d = 1usize << bits;
        let mut counts = vec![0f32; d * k];
        let mut totals = vec![0f64; k];
        let mut docs = vec![0f32; k];
        for e in examples {
            docs[e.label] += 1.0;
            for (f, n) in words_only(e.title, e.summary, bits) {
                counts[f as usize * k + e.label] += n;
                totals[e.label] += f64::from(n);
            }
        }
        let used = (0..d)
            .filter(|f| counts[f * k..][..k].iter().any(|v| *v > 0.0))
            .count()
            .max(1) as f64;
        for f in 0..d {
            for c in 0..k {
                let v = &mut counts[f * k + c];
                *v = ((f64::from(*v) + 1.0) / (totals[c] + used)).ln() as f32;
            }
        }
        let n: f32 = docs.iter().sum();
        NaiveBayes {
            k,
            bits,
            prior: docs
                .iter()
                .map(|c| ((c + 1.0) / (n + k as f32)).ln())
                .collect(),
            loglik: counts,
        }
    }

    pub fn predict(&self, title: &str, summary: &str) -> usize {
        let mut s = self.prior.clone();
        for (f, n) in words_only(title, summary, self.bits) {
            let row = &self.loglik[f as usize * self.k..][..self.k];
            for c in 0..self.k {
                s[c] += row[c] * n;
            }
        }
        argmax(&s)
    }
}

/// Word counts only (the baseline's features).
fn words_only(title: &str, summary: &str, bits: u32) -> Vec<(u32, f32)> {
    let mut hashes = Vec::new();
    for text in [title, summary] {
        hash_words(text, |h| hashes.push(h));
    }
    buckets(&hashes, bits)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LearnError> {
        if self.b.len() < n {
            return Err(LearnError::Corrupt("truncated"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, LearnError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn f32(&mut self) -> Result<f32, LearnError> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, LearnError> {
        let bytes = self.take(n.checked_mul(4).ok_or(LearnError::Corrupt("size"))?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPORT: &[&str] = &[
        "striker",
        "goal",
        "league",
        "coach",
        "match",
        "season",
        "referee",
        "penalty",
        "champions",
        "stadium",
        "midfielder",
        "derby",
    ];
    const MONEY: &[&str] = &[
        "shares",
        "profit",
        "market",
        "investors",
        "bank",
        "earnings",
        "inflation",
        "bonds",
        "merger",
        "dividend",
        "stocks",
        "quarter",
    ];

    /// Deterministic four-word texts from a vocabulary.
    fn texts(words: &[&str], n: usize, salt: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                (0..4)
                    .map(|j| words[(i * 7 + j * 5 + salt) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn trained() -> Model {
        let (sport, money) = (texts(SPORT, 60, 0), texts(MONEY, 30, 3));
        let mut ex: Vec<Example<'_>> = Vec::new();
        for t in &sport {
            ex.push(Example {
                title: t,
                summary: "",
                label: 0,
            });
        }
        for t in &money {
            ex.push(Example {
                title: t,
                summary: "report",
                label: 1,
            });
        }
        let labels = vec!["sports".to_string(), "business".to_string()];
        Model::train(&labels, &ex, &TrainOptions::default())
            .unwrap()
            .0
    }

    #[test]
    fn features_count_words_pairs_and_title_words() {
        let f = features("Goal goal", "late goal", DEFAULT_BITS);
        let total: f32 = f.all.iter().map(|(_, c)| c).sum();
        // words: goal ×3, late, and the title's two again = 6; pairs: (goal goal), (late goal) = 2.
        assert_eq!(total, 8.0);
        assert_eq!(f.words.iter().map(|(_, c)| c).sum::<f32>(), 6.0);
        assert!(f.all.windows(2).all(|w| w[0].0 < w[1].0), "sorted, merged");
        // Case and one-letter words do not count; the possessive ends the word.
        assert_eq!(features("GOAL's a", "", 18), features("goal", "", 18));
    }

    #[test]
    fn it_learns_two_topics_with_calibrated_probabilities() {
        let m = trained();
        let p = m.predict(
            "Striker scores in the derby",
            "The coach praised the referee.",
        );
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        assert!(p[0] > 0.8, "{p:?}");
        let p = m.predict(
            "Bank profit beats forecasts",
            "Investors cheered the dividend.",
        );
        assert!(p[1] > 0.8, "{p:?}");
        // Words it never saw: no confident answer either way (class balancing: 60 vs 30 examples).
        let p = m.predict("Parliament meets on Tuesday", "");
        assert!(p[0] < 0.8 && p[1] < 0.8, "{p:?}");
    }

    #[test]
    fn a_model_round_trips_through_bytes_and_rejects_damage() {
        let m = trained();
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(trained().to_bytes(), bytes, "training is deterministic");
        assert!(Model::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Model::from_bytes(b"not a model at all").is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Model::from_bytes(&extra).is_err());
    }

    #[test]
    fn training_needs_two_labels_with_examples() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let ex = [Example {
            title: "x y",
            summary: "",
            label: 0,
        }];
        assert_eq!(
            Model::train(&labels, &ex, &TrainOptions::default()).unwrap_err(),
            LearnError::TooFewLabels
        );
        let bad = [Example {
            title: "x y",
            summary: "",
            label: 5,
        }];
        assert!(matches!(
            Model::train(&labels, &bad, &TrainOptions::default()),
            Err(LearnError::BadExamples(_))
        ));
        assert!(Model::train(&labels, &[], &TrainOptions::default()).is_err());
    }

    #[test]
    fn naive_bayes_baseline_learns_too() {
        let (sport, money) = (texts(SPORT, 40, 0), texts(MONEY, 40, 1));
        let ex: Vec<Example<'_>> = sport
            .iter()
            .map(|t| Example {
                title: t,
                summary: "",
                label: 0,
            })
            .chain(money.iter().map(|t| Example {
                title: t,
                summary: "",
                label: 1,
            }))
            .collect();
        let nb = NaiveBayes::train(2, &ex);
        assert_eq!(nb.predict("penalty in the derby", ""), 0);
        assert_eq!(nb.predict("bonds and stocks", ""), 1);
    }
}
