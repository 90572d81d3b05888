//! The naive Bayes baseline the evaluations compare the learned tagger with.

use super::features::words_only;
use super::{DEFAULT_BITS, Example, argmax};

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
