//! Fitting: tf-idf weighting, logistic regression over naive Bayes log-count ratios, and temperature
//! calibration on held-out folds.

use super::{Features, Model, TrainOptions};

/// Below this many examples, settings are chosen by cross-validation over [`CV_FOLDS`] folds.
pub(super) const CV_BELOW: usize = 20_000;

pub(super) const CV_FOLDS: usize = 5;

/// Examples turned into features once.
pub(super) struct Prepared {
    /// Features per example.
    pub(super) feats: Vec<Features>,
    pub(super) labels: Vec<usize>,
}

/// Sublinear term frequency times IDF, L2-normalised.
pub(super) fn weigh(idf: &[f32], counts: &[(u32, f32)]) -> Vec<(u32, f32)> {
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
pub(super) fn fit_model(
    labels: &[String],
    all: &Prepared,
    rows: &[usize],
    lambda: f32,
    opts: &TrainOptions,
) -> Model {
    let k = labels.len();
    let d = 1usize << opts.bits;
    let n = rows.len();
    let class_weight = class_weights(all, rows, k);
    let idf = idf(all, rows, d);
    let nb = fit_nb(all, rows, k, opts.bits, 1.0);
    let w = sgd(all, rows, &idf, &class_weight, lambda, k, opts);
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

/// Class weights: each present class carries the same total weight.
fn class_weights(all: &Prepared, rows: &[usize], k: usize) -> Vec<f32> {
    let n = rows.len();
    let mut per_class = vec![0usize; k];
    for &i in rows {
        per_class[all.labels[i]] += 1;
    }
    let present = per_class.iter().filter(|c| **c > 0).count().max(1);
    per_class
        .iter()
        .map(|c| {
            if *c == 0 {
                0.0
            } else {
                n as f32 / (present as f32 * *c as f32)
            }
        })
        .collect()
}

/// IDF per bucket over `rows` (smoothed, as in the usual tf-idf).
fn idf(all: &Prepared, rows: &[usize], d: usize) -> Vec<f32> {
    let n = rows.len();
    let mut df = vec![0u32; d];
    for &i in rows {
        for (f, _) in &all.feats[i].all {
            df[*f as usize] += 1;
        }
    }
    df.iter()
        .map(|c| ((1.0 + n as f32) / (1.0 + *c as f32)).ln() + 1.0)
        .collect()
}

/// The regression's weights (bucket-major): SGD on the softmax log loss with L2, in a fixed shuffled
/// order per epoch, weights kept as `scale · w` so the shrink costs one multiplication.
fn sgd(
    all: &Prepared,
    rows: &[usize],
    idf: &[f32],
    class_weight: &[f32],
    lambda: f32,
    k: usize,
    opts: &TrainOptions,
) -> Vec<f32> {
    let d = 1usize << opts.bits;
    let n = rows.len();
    let xs: Vec<Vec<(u32, f32)>> = rows
        .iter()
        .map(|&i| weigh(idf, &all.feats[i].all))
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
    w
}

/// Complement naive Bayes weights per class (bucket-major), smoothed by `alpha`: a word scores for a
/// class by how unlikely it is in the *other* classes' text, as in Rennie et al. (2003). Estimated
/// from every class but one, the weights of a small class rest on far more text than its own, which
/// makes them steadier than plain naive Bayes when sections are few stories or uneven. Each bucket's
/// weights are centred (they sum to zero over the classes), so a word only shifts the classes
/// against one another; a bucket no example had scores every class alike. No priors: classes are
/// balanced.
pub(super) fn fit_nb(all: &Prepared, rows: &[usize], k: usize, bits: u32, alpha: f32) -> Vec<f32> {
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
pub(super) fn fit_temperature(scored: &[(Vec<f32>, usize)]) -> (f32, f64) {
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

pub(super) fn softmax(z: &[f32]) -> Vec<f32> {
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
