//! Lookups: the stories whose representative titles match a probe, best first, read from the postings
//! of the probe's rarer tokens with upper bounds that leave most stories unscored.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::dedupe::title::MIN_SIMILAR_TOKENS;

use super::entry::Entry;
use super::{
    MAX_SCANNED_POSTINGS, MAX_SCORED_STORIES, Scratch, SimilarMatch, TitleIndex, TitleProbe,
    ln_stories, ochiai, seconds,
};

impl TitleIndex {
    /// The story whose representative titles best match the probe, if its score reaches `threshold`
    /// (see [`TitleIndex::best_matches`]).
    pub fn best_match(
        &self,
        probe: &TitleProbe<'_>,
        threshold: f64,
        window: chrono::Duration,
    ) -> Option<SimilarMatch> {
        self.best_matches(probe, threshold, window, 1).pop()
    }

    /// Up to `k` stories, best first, whose representative titles match the probe at `threshold` or
    /// above, each with its best representative. A story is eligible when the probe's event time keeps
    /// its event span within `window` (a chain of joins cannot drift a story across weeks); its score
    /// decays with the distance between the probe's event time and that span. Titles of the probe's own
    /// source are not compared; ties go to the earlier story.
    pub fn best_matches(
        &self,
        probe: &TitleProbe<'_>,
        threshold: f64,
        window: chrono::Duration,
        k: usize,
    ) -> Vec<SimilarMatch> {
        if probe.tokens.len() < MIN_SIMILAR_TOKENS || self.live == 0 || k == 0 {
            return Vec::new();
        }
        let n = ln_stories(self.live);
        // Unseen tokens count in the probe's weight but match nothing.
        let (ids, total) = self.weigh(probe.tokens, n);
        let query = Query {
            source_id: probe.source_id,
            ids,
            total,
            n,
            at: seconds(probe.event),
            window: window.num_seconds().clamp(0, i64::from(u32::MAX)) as u32,
            reach: self.reach(threshold),
            threshold,
            floor: (threshold * threshold) as f32 * total,
            k,
        };
        let cands = self.bounded_candidates(&query);
        self.score_candidates(&query, cands)
    }

    /// Step 1 of a lookup: the stories that could reach the threshold, as a heap by their bound.
    ///
    /// Accumulates, per story, the weight of the probe's tokens it uses: an upper bound of what it shares
    /// with any one of its representatives. A story whose bound plus the exact tail (the common tokens
    /// not scanned) stays below `threshold² · Σ w(probe)` cannot reach the threshold and is never scored.
    /// Tokens too common to scan are not credited: a story must clear that bar on the probe's rarer
    /// words alone.
    fn bounded_candidates(&self, q: &Query) -> BinaryHeap<(u32, Reverse<u32>)> {
        // Stories whose latest item is before this cannot be eligible (a removed story's 0 included).
        let oldest = q.at.saturating_sub(q.window.min(q.reach)).max(1);
        // Common tokens last; drop the tail that cannot reach the threshold on its own.
        let mut known: Vec<(f32, u32)> = q.ids.iter().map(|&(id, w)| (w, id)).collect();
        known.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut tail = 0.0f32;
        let mut scan = known.len();
        while scan > 0 && tail + known[scan - 1].0 < q.floor {
            tail += known[scan - 1].0;
            scan -= 1;
        }
        let mut scratch = self.scratch.borrow_mut();
        let Scratch { acc, touched } = &mut *scratch;
        if acc.len() < self.slots.len() {
            acc.resize(self.slots.len(), 0.0);
        }
        touched.clear();
        for &(w, id) in &known[..scan] {
            let postings = &self.tokens[id as usize].postings;
            if postings.len() > MAX_SCANNED_POSTINGS {
                continue;
            }
            for &slot in postings {
                let Some(i) = slot.checked_sub(self.base) else {
                    continue;
                };
                // A necessary condition only (the full test comes before scoring).
                if self.event_hi[i as usize] < oldest {
                    continue;
                }
                let a = &mut acc[i as usize];
                if *a == 0.0 {
                    touched.push(i);
                }
                *a += w;
            }
        }
        // A story's score is at most `sqrt((a + tail) / Σ w(probe)) · decay`.
        let mut cands: Vec<(u32, Reverse<u32>)> = Vec::with_capacity(touched.len().min(64));
        for &i in touched.iter() {
            let a = std::mem::take(&mut acc[i as usize]) + tail;
            // An upper bound of the decay: the distance is at least the time since the latest item.
            let d = self.decay_bound(q.at.saturating_sub(self.event_hi[i as usize]));
            if a * d * d >= q.floor {
                // Non-negative floats order as their bits do.
                cands.push((a.to_bits(), Reverse(i)));
            }
        }
        BinaryHeap::from(cands)
    }

    /// Step 2 of a lookup: scores the candidates, most promising first (a heap, so only the stories
    /// actually scored are ordered); once a story's bound falls below the threshold or the k-th best
    /// score so far, no later story can do better.
    fn score_candidates(
        &self,
        q: &Query,
        mut cands: BinaryHeap<(u32, Reverse<u32>)>,
    ) -> Vec<SimilarMatch> {
        // (match, the story's earliest event) per story, best first.
        let mut best: Vec<(SimilarMatch, u32)> = Vec::with_capacity(q.k + 1);
        let kth = |best: &Vec<(SimilarMatch, u32)>| {
            if best.len() < q.k {
                q.threshold
            } else {
                best[q.k - 1].0.score.max(q.threshold)
            }
        };
        let mut scored = 0;
        while let Some((a, Reverse(i))) = cands.pop() {
            let bound = f64::from(f32::from_bits(a) / q.total).sqrt();
            if bound < kth(&best) {
                break;
            }
            // A story too far in time for this bound is skipped without reading it.
            let span = [self.event_lo[i as usize], self.event_hi[i as usize]];
            let Some(dist) = q.distance(span) else {
                continue;
            };
            if bound * f64::from(self.decay_bound(dist)) < kth(&best) {
                continue;
            }
            scored += 1;
            if scored > MAX_SCORED_STORIES {
                break;
            }
            let Some(Some(entry)) = self.slots.get(i as usize) else {
                continue;
            };
            let Some(m) = self.best_rep(q, entry, self.decay(dist)) else {
                continue;
            };
            let key = (span[0], entry.story_id);
            let pos = best
                .iter()
                .position(|(b, lo)| {
                    m.score > b.score || (m.score == b.score && key < (*lo, b.story_id))
                })
                .unwrap_or(best.len());
            best.insert(pos, (m, span[0]));
            best.truncate(q.k);
        }
        best.into_iter().map(|(m, _)| m).collect()
    }

    /// A story's best representative for the query (other sources only), if it reaches the threshold.
    fn best_rep(&self, q: &Query, entry: &Entry, decay: f64) -> Option<SimilarMatch> {
        let mut top: Option<SimilarMatch> = None;
        for rep in entry.reps() {
            if rep.source_id == q.source_id {
                continue;
            }
            let (shared, rep_total) = self.overlap(&q.ids, rep.tokens, q.n);
            let score = ochiai(shared, q.total, rep_total) * decay;
            if score >= q.threshold && top.is_none_or(|t| score > t.score) {
                top = Some(SimilarMatch {
                    story_id: entry.story_id,
                    item_id: rep.item_id,
                    score,
                });
            }
        }
        top
    }

    /// Shared weight of sorted probe ids with a representative, and the representative's total weight.
    pub(super) fn overlap(&self, probe: &[(u32, f32)], rep: &[u32], n: f64) -> (f32, f32) {
        let (mut i, mut shared, mut total) = (0, 0.0f32, 0.0f32);
        for &id in rep {
            let w = self.weight(id, n);
            total += w;
            while i < probe.len() && probe[i].0 < id {
                i += 1;
            }
            if i < probe.len() && probe[i].0 == id {
                shared += w;
            }
        }
        (shared, total)
    }
}

/// One similarity lookup, prepared: the probe's weighted token ids and its time limits.
struct Query {
    source_id: i64,
    /// The probe's known token ids with their weights, and its total weight (unseen tokens included).
    ids: Vec<(u32, f32)>,
    total: f32,
    /// ln of the live story count (the idf base).
    n: f64,
    /// The probe's event time, the window and the decay's reach, in seconds.
    at: u32,
    window: u32,
    reach: u32,
    threshold: f64,
    /// `threshold² · Σ w(probe)`: the shared weight a story needs.
    floor: f32,
    k: usize,
}

impl Query {
    /// Whether a story with this event span is eligible and within reach of the decay: its distance
    /// from the probe, or `None`.
    fn distance(&self, [lo, hi]: [u32; 2]) -> Option<u32> {
        if lo == 0
            || hi.saturating_sub(self.window) > self.at
            || self.at.saturating_sub(self.window) > lo
        {
            return None;
        }
        let d = lo.saturating_sub(self.at).max(self.at.saturating_sub(hi));
        (d <= self.reach).then_some(d)
    }
}
