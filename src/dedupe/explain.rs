//! Why two headlines would or would not be one story (`syndic explain`).

use chrono::{DateTime, Utc};

use super::decide::{Policy, in_window};
use super::index::TitleIndex;
use super::title::{title_fingerprint, title_keys};
use super::veto::{TitleFeatures, Veto, veto};

/// One side of a pair: its title and event time.
#[derive(Debug, Clone)]
pub struct PairSide<'a> {
    pub title: &'a str,
    pub event: DateTime<Utc>,
}

/// What the decision makes of a pair, with the evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairExplanation {
    /// "join" or "apart".
    pub decision: &'static str,
    /// Why, in words.
    pub reason: String,
    /// Title similarity under the index's current weights, before the time decay.
    pub similarity: f64,
    /// The decay factor for the time between the two (1 when off).
    pub decay: f64,
    /// `similarity × decay`, compared with the threshold.
    pub score: f64,
    pub threshold: f64,
    pub same_fingerprint: bool,
    pub hours_apart: f64,
    pub shared: Vec<String>,
    pub only_first: Vec<String>,
    pub only_second: Vec<String>,
    pub veto: Option<String>,
}

/// Explains whether an item titled `a` would join a story whose title is `b` (from another source),
/// under `policy`, the index's token weights, and a decay of `decay_hours` (0 = off).
pub fn explain_pair(
    index: &TitleIndex,
    a: &PairSide<'_>,
    b: &PairSide<'_>,
    policy: &Policy,
    decay_hours: f64,
) -> PairExplanation {
    let (fa, ta) = title_keys(a.title);
    let (fb, tb) = title_keys(b.title);
    let similarity = index.similarity(&ta, &tb);
    let hours_apart = (a.event - b.event).num_seconds().abs() as f64 / 3600.0;
    let decay = if decay_hours > 0.0 {
        (-hours_apart / decay_hours).exp()
    } else {
        1.0
    };
    let score = similarity * decay;
    let same_fp = !fa.is_empty() && fa == title_fingerprint(b.title) && fa == fb;
    let fits = in_window(a.event, (b.event, b.event), policy.window);
    let vetoed: Option<Veto> = veto(
        &TitleFeatures::with_names(a.title, index.names()),
        &TitleFeatures::with_names(b.title, index.names()),
        policy.veto,
    );
    let (decision, reason) = if !fits {
        (
            "apart",
            format!(
                "{hours_apart:.0} h apart: beyond the {} h window",
                policy.window.num_hours()
            ),
        )
    } else if same_fp && policy.title_dedupe {
        ("join", "the same headline".to_string())
    } else if !policy.similarity || !policy.title_dedupe {
        ("apart", "title similarity is off".to_string())
    } else if score < policy.threshold {
        (
            "apart",
            format!(
                "score {score:.3} is below the threshold {}",
                policy.threshold
            ),
        )
    } else if let Some(v) = &vetoed {
        ("apart", format!("a look-alike: {v}"))
    } else {
        (
            "join",
            format!(
                "similar titles: score {score:.3} reaches the threshold {}",
                policy.threshold
            ),
        )
    };
    PairExplanation {
        decision,
        reason,
        similarity,
        decay,
        score,
        threshold: policy.threshold,
        same_fingerprint: same_fp,
        hours_apart,
        shared: ta.iter().filter(|t| tb.contains(t)).cloned().collect(),
        only_first: ta.iter().filter(|t| !tb.contains(t)).cloned().collect(),
        only_second: tb.iter().filter(|t| !ta.contains(t)).cloned().collect(),
        veto: vetoed.map(|v| v.to_string()),
    }
}
