//! Fitting: tf-idf weighting, one-vs-rest logistic regressions, complement naive Bayes, and each
//! section's calibration (Platt scaling) on held-out folds.

use super::{Features, Model, TrainOptions};

/// Below this many examples, settings are chosen by cross-validation over [`CV_FOLDS`] folds.
pub(super) const CV_BELOW: usize = 20_000;

pub(super) const CV_FOLDS: usize = 5;

/// Examples turned into features once.
pub(super) struct Prepared {
    /// Features per example.
    pub(super) feats: Vec<Features>,
    /// Each example's labels (at least one).
    pub(super) labels: Vec<Vec<usize>>,
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
        calibration: vec![(1.0, 0.0); k],
        trained_on: n,
    }
}

/// Each class's (positive, negative) example weights in its one-vs-rest regression: its examples and
/// the others each carry half of the total, so a small section is not drowned by the rest.
fn class_weights(all: &Prepared, rows: &[usize], k: usize) -> Vec<(f32, f32)> {
    let n = rows.len() as f32;
    let mut per_class = vec![0usize; k];
    for &i in rows {
        for &c in &all.labels[i] {
            per_class[c] += 1;
        }
    }
    per_class
        .iter()
        .map(|&c| {
            let pos = if c == 0 { 0.0 } else { n / (2.0 * c as f32) };
            let rest = n - c as f32;
            let neg = if rest <= 0.0 { 0.0 } else { n / (2.0 * rest) };
            (pos, neg)
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

/// The regressions' weights (bucket-major): one logistic regression per class against the rest (an
/// example is positive for each of its labels), fitted together by SGD on the weighted log loss with
/// L2, in a fixed shuffled order per epoch, weights kept as `scale · w` so the shrink costs one
/// multiplication.
fn sgd(
    all: &Prepared,
    rows: &[usize],
    idf: &[f32],
    class_weight: &[(f32, f32)],
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
    let ys: Vec<&[usize]> = rows.iter().map(|&i| all.labels[i].as_slice()).collect();
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
            z.fill(0.0);
            for (f, v) in x {
                let row = &w[*f as usize * k..][..k];
                for c in 0..k {
                    z[c] += (f64::from(row[c]) * scale) as f32 * v;
                }
            }
            // Shrink first (every weight, through the scale), then step on this example's features.
            scale *= 1.0 - eta * f64::from(lambda);
            if scale < 1e-6 {
                for v in &mut w {
                    *v = (f64::from(*v) * scale) as f32;
                }
                scale = 1.0;
            }
            for c in 0..k {
                let positive = ys[i].contains(&c);
                let (pos_w, neg_w) = class_weight[c];
                let g = if positive {
                    pos_w * (sigmoid(z[c]) - 1.0)
                } else {
                    neg_w * sigmoid(z[c])
                };
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

pub(super) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
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
        for &c in &all.labels[i] {
            for (f, cnt) in &all.feats[i].words {
                nb[*f as usize * k + c] += cnt;
                totals[c] += f64::from(*cnt);
            }
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

/// Platt scaling of one class's scores: the `(a, b)` of `P = sigmoid(a · score + b)` that minimise the
/// log loss over `(score, positive)` pairs (Newton's method, with Platt's smoothed targets, which keep
/// a perfectly separated class from scaling to certainty); and that loss per pair.
pub(super) fn fit_platt(scored: &[(f32, bool)]) -> ((f32, f32), f64) {
    let pos = scored.iter().filter(|(_, y)| *y).count() as f64;
    let neg = scored.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let target = |y: bool| if y { hi } else { lo };
    let (mut a, mut b) = (1.0f64, ((pos + 1.0) / (neg + 1.0)).ln());
    let loss = |a: f64, b: f64| -> f64 {
        scored
            .iter()
            .map(|(s, y)| {
                let z = a * f64::from(*s) + b;
                let t = target(*y);
                // log(1 + e^z) - t z, computed stably.
                let softplus = if z > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                };
                softplus - t * z
            })
            .sum::<f64>()
            / scored.len().max(1) as f64
    };
    let mut current = loss(a, b);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0f64, 0f64, 1e-9f64, 0f64, 1e-9f64);
        for (s, y) in scored {
            let s = f64::from(*s);
            let p = 1.0 / (1.0 + (-(a * s + b)).exp());
            let r = p - target(*y);
            let w = (p * (1.0 - p)).max(1e-12);
            ga += r * s;
            gb += r;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        // Halve the step until the loss does not rise.
        let mut step = 1.0;
        let mut next = loss(a - da, b - db);
        while next > current && step > 1e-4 {
            step /= 2.0;
            next = loss(a - step * da, b - step * db);
        }
        if next > current {
            break;
        }
        a -= step * da;
        b -= step * db;
        let done = current - next < 1e-10;
        current = next;
        if done {
            break;
        }
    }
    ((a as f32, b as f32), current)
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
