//! The title-similarity index: stories within the window, their representative titles, and an
//! inverted index from content tokens to stories.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use hashbrown::{HashMap, HashTable};

use super::title::{CALENDAR_WEIGHT, MIN_SIMILAR_TOKENS, is_calendar};

/// Representative titles kept per story.
pub const MAX_REPS: usize = 16;

/// A member becomes a representative when similar to the story's first title at this fraction of the
/// threshold.
pub const REP_ADMISSION: f64 = 0.8;

/// Postings longer than this (a token used by this many stories in the window: "stocks", "2014") are
/// not scanned for candidates. Such a token still counts fully in every score; a title can only be found
/// through its less common words, which is what tells stories apart anyway. Keeps a lookup's cost
/// bounded however large the window.
const MAX_SCANNED_POSTINGS: usize = 2048;

/// At most this many stories, those sharing the most weight with the probe (stories too idle to reach
/// the threshold are passed over unread and not counted), are scored in one lookup: a story outside them
/// shares less of the probe's rarer words than dozens of live others, and its best representative would
/// have to beat all of theirs. Bounds the cost of a title made of common words; on the 1M-title bench it
/// costs 0.15% of the joins that 256 finds.
const MAX_SCORED_STORIES: usize = 64;

/// Words before a representative's tokens in [`Entry::reps`]: token count, source id, item id (ids in
/// two words each, low word first).
const REP_HEADER: usize = 5;

/// A story held by the [`TitleIndex`].
#[derive(Debug)]
struct Entry {
    story_id: i64,
    /// When syndic first saw the story, in seconds: the index keeps a story while this is within the
    /// window (slots are in this order, so pruning pops the front).
    first_seen: u32,
    /// Representative titles, first title first, packed into one allocation: per representative
    /// [`REP_HEADER`] words, then its interned token ids, sorted.
    reps: Box<[u32]>,
}

/// One representative of an [`Entry`].
#[derive(Debug, Clone, Copy)]
struct Rep<'a> {
    item_id: i64,
    source_id: i64,
    tokens: &'a [u32],
}

fn split_id(v: i64) -> [u32; 2] {
    [v as u32, (v as u64 >> 32) as u32]
}

fn join_id(lo: u32, hi: u32) -> i64 {
    (u64::from(lo) | (u64::from(hi) << 32)) as i64
}

/// Iterates the packed representatives of an entry.
struct Reps<'a>(&'a [u32]);

impl<'a> Iterator for Reps<'a> {
    type Item = Rep<'a>;
    fn next(&mut self) -> Option<Rep<'a>> {
        let len = *self.0.first()? as usize;
        let (rep, rest) = self.0.split_at(REP_HEADER + len);
        self.0 = rest;
        Some(Rep {
            source_id: join_id(rep[1], rep[2]),
            item_id: join_id(rep[3], rep[4]),
            tokens: &rep[REP_HEADER..],
        })
    }
}

impl Entry {
    fn reps(&self) -> Reps<'_> {
        Reps(&self.reps)
    }

    fn lead(&self) -> Rep<'_> {
        self.reps().next().expect("a story has its first title")
    }

    fn position(&self, item_id: i64) -> Option<usize> {
        self.reps().position(|r| r.item_id == item_id)
    }

    /// Whether a representative other than the `skip`th uses the token.
    fn uses(&self, id: u32, skip: Option<usize>) -> bool {
        self.reps()
            .enumerate()
            .any(|(i, r)| Some(i) != skip && r.tokens.binary_search(&id).is_ok())
    }

    /// Word offset of the `pos`th representative (the end for `pos` = count).
    fn offset(&self, pos: usize) -> usize {
        let mut at = 0;
        for _ in 0..pos {
            at += REP_HEADER + self.reps[at] as usize;
        }
        at
    }
}

#[derive(Debug, Default)]
pub(super) struct Token {
    /// The token's [`token_hash`]: tokens are told apart by a 64-bit hash instead of their text (two
    /// words of a million-word vocabulary collide with a chance of about 3e-8, and would then merely count
    /// as one word), which spares the index a string per token.
    hash: u64,
    /// Slots of the stories held that use this token (their number is the token's story frequency;
    /// none = the id is free).
    postings: VecDeque<u32>,
}

/// A title about to be matched: its tokens and source.
#[derive(Debug, Clone)]
pub struct TitleProbe<'a> {
    pub source_id: i64,
    pub tokens: &'a [String],
    /// The item's event time (see [`super::event_times`]).
    pub event: DateTime<Utc>,
}

/// The best similar story for a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarMatch {
    pub story_id: i64,
    /// The representative item whose title matched.
    pub item_id: i64,
    /// Similarity, 0..1.
    pub score: f64,
}

/// Candidate index for title similarity: stories first seen within the window, each with up to
/// [`MAX_REPS`] representative titles, and an inverted index from content tokens to stories.
///
/// Pure (no SQL): the store rebuilds it from the stories in the window when it opens, adds each new story
/// and representative after its transaction commits, and prunes stories as they leave the window. A
/// lookup only reads the postings of the probe's rarer tokens: a story sharing nothing but tokens whose
/// total weight `s` is below `threshold² · Σ w(probe)` cannot reach the threshold (its score is at most
/// `sqrt(s / Σ w(probe))`), so those postings are never scanned and common words cost nothing. With the
/// decay on, a story idle so long that even an identical title would score below the threshold is skipped
/// as its posting is read, from a dense array of last-seen times.
#[derive(Debug, Default)]
pub struct TitleIndex {
    /// Token ids by [`token_hash`] (kept in [`Token`]).
    pub(super) ids: HashTable<u32>,
    pub(super) tokens: Vec<Token>,
    /// Per token id: ln(df + 1) and the weight factor (1, or [`CALENDAR_WEIGHT`]), dense and apart from
    /// [`Token`] so that scoring reads a small array that stays in cache.
    weights: Vec<[f32; 2]>,
    free: Vec<u32>,
    /// Story slots; slot `base + i` is `slots[i]`; a `None` is a removed story.
    slots: VecDeque<Option<Entry>>,
    /// Per slot (as `slots`): the story's event span, the earliest and latest event time of its items in
    /// seconds since the epoch; `[0, 0]` for a removed story. Dense, so a lookup checks eligibility and
    /// decay as it reads a posting.
    event_lo: VecDeque<u32>,
    /// As `event_lo`, the latest. Apart from it: the postings scan reads only this (a story whose latest
    /// item is too old for the window or the decay is skipped), so its random reads stay as small as a
    /// single `u32` per story; the earliest is read only for the few stories scored.
    event_hi: VecDeque<u32>,
    base: u32,
    by_story: HashMap<i64, u32>,
    live: usize,
    /// Scores decay with the event-time distance between an item and a story's span,
    /// `exp(-distance / decay_hours)`; 0 = off.
    decay_hours: f64,
    /// The decay after each whole minute idle, down to [`DECAY_FLOOR`]: an upper bound of the exact
    /// decay that orders candidates without an `exp` each.
    decay_minutes: Vec<f32>,
    /// Which words are names, learned from the headlines stored (the look-alike veto reads it).
    names: super::veto::NameLexicon,
    /// Per-lookup accumulators, kept between lookups so a lookup allocates nothing.
    scratch: RefCell<Scratch>,
}

/// Shared weight found so far per story slot (offset from `base`), and which slots were touched.
#[derive(Debug, Default)]
struct Scratch {
    acc: Vec<f32>,
    touched: Vec<u32>,
}

fn seconds(at: DateTime<Utc>) -> u32 {
    at.timestamp().clamp(1, i64::from(u32::MAX)) as u32
}

impl TitleIndex {
    pub fn new() -> TitleIndex {
        TitleIndex::default()
    }

    /// Sets the decay of scores with a story's idle time (`[dedupe].decay_hours`; 0 turns it off).
    pub fn set_decay_hours(&mut self, hours: f64) {
        let hours = hours.max(0.0);
        if hours == self.decay_hours && !self.decay_minutes.is_empty() {
            return;
        }
        self.decay_hours = hours;
        self.decay_minutes.clear();
        if hours > 0.0 {
            let minutes = (hours * 60.0 * (1.0 / DECAY_FLOOR).ln()).ceil() as usize;
            self.decay_minutes.extend(
                (0..=minutes.min(MAX_DECAY_MINUTES))
                    .map(|m| ((-(m as f64) / (hours * 60.0)).exp() * (1.0 + 1e-6)) as f32),
            );
        }
    }

    /// An upper bound of [`TitleIndex::decay`] for a distance in seconds (1 when the decay is off).
    pub(super) fn decay_bound(&self, distance: u32) -> f32 {
        let Some(&last) = self.decay_minutes.last() else {
            return 1.0;
        };
        let minute = (distance / 60) as usize;
        self.decay_minutes.get(minute).copied().unwrap_or(last)
    }

    /// Records an item of the story at event time `at`: the story's span grows to include it.
    pub fn extend_span(&mut self, story_id: i64, at: DateTime<Utc>) {
        if let Some(&slot) = self.by_story.get(&story_id) {
            let i = (slot - self.base) as usize;
            let t = seconds(at);
            self.event_lo[i] = self.event_lo[i].min(t);
            self.event_hi[i] = self.event_hi[i].max(t);
        }
    }

    /// The factor a story's scores are multiplied by, given the distance in seconds between the item's
    /// event time and the story's span.
    pub(super) fn decay(&self, distance: u32) -> f64 {
        if self.decay_hours <= 0.0 {
            return 1.0;
        }
        (-f64::from(distance) / 3600.0 / self.decay_hours).exp()
    }

    /// The largest distance (seconds) at which a score can still reach `threshold`.
    pub(super) fn reach(&self, threshold: f64) -> u32 {
        if self.decay_hours <= 0.0 || threshold <= 0.0 {
            return u32::MAX;
        }
        // decay < threshold <=> distance > decay_hours · ln(1 / threshold); a second of slack for rounding.
        (self.decay_hours * 3600.0 * (1.0 / threshold).ln() + 1.0).min(f64::from(u32::MAX)) as u32
    }

    /// The index's heap use in bytes, from its collections' capacities (hash tables at one control byte
    /// per bucket plus their entries); for metrics and the benchmark.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let table = |cap: usize, entry: usize| cap * (entry + 1);
        let postings: usize = self.tokens.iter().map(|t| t.postings.capacity() * 4).sum();
        let reps: usize = self.slots.iter().flatten().map(|e| e.reps.len() * 4).sum();
        table(self.ids.capacity(), size_of::<u32>())
            + self.tokens.capacity() * size_of::<Token>()
            + self.weights.capacity() * 8
            + self.scratch.borrow().acc.capacity() * 4
            + postings
            + self.free.capacity() * 4
            + self.slots.capacity() * size_of::<Option<Entry>>()
            + self.event_lo.capacity() * 4
            + self.event_hi.capacity() * 4
            + reps
            + table(self.by_story.capacity(), size_of::<(i64, u32)>())
    }

    /// Stories held.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Whether the story is held (first seen within the window and not opted out).
    pub fn contains(&self, story_id: i64) -> bool {
        self.by_story.contains_key(&story_id)
    }

    /// Representative item ids of a story, first title first.
    pub fn representatives(&self, story_id: i64) -> Vec<i64> {
        self.entry(story_id)
            .map(|e| e.reps().map(|r| r.item_id).collect())
            .unwrap_or_default()
    }

    /// The name lexicon learned from the headlines stored so far.
    pub fn names(&self) -> &super::veto::NameLexicon {
        &self.names
    }

    /// Learns which words are names from a stored headline.
    pub fn learn_names(&mut self, title: &str) {
        self.names.learn(title);
    }

    /// Learns from a headline already read by [`super::NameLexicon::observe`].
    pub fn record_names(&mut self, observed: Vec<(String, bool)>) {
        self.names.record(observed);
    }

    /// The item whose title is the story's first representative (what the story is about).
    pub fn lead_of(&self, story_id: i64) -> Option<i64> {
        self.entry(story_id).map(|e| e.lead().item_id)
    }

    fn entry(&self, story_id: i64) -> Option<&Entry> {
        let slot = *self.by_story.get(&story_id)?;
        self.slots.get((slot - self.base) as usize)?.as_ref()
    }

    fn token_id(&self, token: &str) -> Option<u32> {
        let hash = token_hash(token);
        self.ids
            .find(hash, |&id| self.tokens[id as usize].hash == hash)
            .copied()
    }

    /// `ln((N+1)/(df+1)) + 1`, with `n` = ln(N+1) (see [`ln_stories`]) and ln(df+1) kept per token.
    fn weight(&self, id: u32, n: f64) -> f32 {
        let [ln_df, factor] = self.weights[id as usize];
        (n as f32 - ln_df + 1.0) * factor
    }

    /// Weight of a token the index has never seen (df 0).
    fn unseen_weight(token: &str, n: f64) -> f32 {
        (n as f32 + 1.0) * weight_factor(token)
    }

    /// Similarity of two token lists under the index's current weights (for explanations and tests).
    pub fn similarity(&self, a: &[String], b: &[String]) -> f64 {
        let n = ln_stories(self.live);
        let w = |t: &String| match self.token_id(t) {
            Some(id) => self.weight(id, n),
            None => Self::unseen_weight(t, n),
        };
        let wa: f32 = a.iter().map(w).sum();
        let wb: f32 = b.iter().map(w).sum();
        let shared: f32 = a.iter().filter(|t| b.contains(*t)).map(w).sum();
        ochiai(shared, wa, wb)
    }

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
        let at = seconds(probe.event);
        let window = window.num_seconds().clamp(0, i64::from(u32::MAX)) as u32;
        let reach = self.reach(threshold);
        // Eligible and within reach of the decay: the distance from the probe to the span, or None.
        let distance = |[lo, hi]: [u32; 2]| -> Option<u32> {
            if lo == 0 || hi.saturating_sub(window) > at || at.saturating_sub(window) > lo {
                return None;
            }
            let d = lo.saturating_sub(at).max(at.saturating_sub(hi));
            (d <= reach).then_some(d)
        };
        // Stories whose latest item is before this cannot be eligible (a removed story's 0 included).
        let oldest = at.saturating_sub(window.min(reach)).max(1);
        // Unseen tokens count in the probe's weight but match nothing.
        let (probe_ids, total) = self.weigh(probe.tokens, n);
        // Common tokens last; drop the tail that cannot reach the threshold on its own.
        let mut known: Vec<(f32, u32)> = probe_ids.iter().map(|&(id, w)| (w, id)).collect();
        known.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let floor = (threshold * threshold) as f32 * total;
        let mut tail = 0.0f32;
        let mut scan = known.len();
        while scan > 0 && tail + known[scan - 1].0 < floor {
            tail += known[scan - 1].0;
            scan -= 1;
        }
        // Accumulate, per story, the weight of the probe's tokens it uses: an upper bound of what it shares
        // with any one of its representatives. A story whose bound plus the exact tail stays below
        // `threshold² · Σ w(probe)` cannot reach the threshold and is never scored. Tokens too common to
        // scan are not credited: a story must clear that bar on the probe's rarer words alone.
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
            let d = self.decay_bound(at.saturating_sub(self.event_hi[i as usize]));
            if a * d * d >= floor {
                // Non-negative floats order as their bits do.
                cands.push((a.to_bits(), Reverse(i)));
            }
        }
        drop(scratch);
        // Most promising first (a heap, so only the stories actually scored are ordered): once a story's
        // bound falls below the threshold or the k-th best score so far, no later story can do better.
        let mut cands = BinaryHeap::from(cands);
        // (match, the story's earliest event) per story, best first.
        let mut best: Vec<(SimilarMatch, u32)> = Vec::with_capacity(k + 1);
        let kth = |best: &Vec<(SimilarMatch, u32)>| {
            if best.len() < k {
                threshold
            } else {
                best[k - 1].0.score.max(threshold)
            }
        };
        let mut scored = 0;
        while let Some((a, Reverse(i))) = cands.pop() {
            let bound = f64::from(f32::from_bits(a) / total).sqrt();
            if bound < kth(&best) {
                break;
            }
            // A story too far in time for this bound is skipped without reading it.
            let span = [self.event_lo[i as usize], self.event_hi[i as usize]];
            let Some(dist) = distance(span) else {
                continue;
            };
            if bound * f64::from(self.decay_bound(dist)) < kth(&best) {
                continue;
            }
            scored += 1;
            if scored > MAX_SCORED_STORIES {
                break;
            }
            let decay = self.decay(dist);
            let Some(Some(entry)) = self.slots.get(i as usize) else {
                continue;
            };
            let mut top: Option<SimilarMatch> = None;
            for rep in entry.reps() {
                if rep.source_id == probe.source_id {
                    continue;
                }
                let (shared, rep_total) = self.overlap(&probe_ids, rep.tokens, n);
                let score = ochiai(shared, total, rep_total) * decay;
                if score >= threshold && top.is_none_or(|t| score > t.score) {
                    top = Some(SimilarMatch {
                        story_id: entry.story_id,
                        item_id: rep.item_id,
                        score,
                    });
                }
            }
            let Some(m) = top else {
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
            best.truncate(k);
        }
        best.into_iter().map(|(m, _)| m).collect()
    }

    /// Shared weight of sorted probe ids with a representative, and the representative's total weight.
    fn overlap(&self, probe: &[(u32, f32)], rep: &[u32], n: f64) -> (f32, f32) {
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

    /// Adds a new story with its first title as representative. Ignored if the story is already held.
    pub fn insert_story(
        &mut self,
        story_id: i64,
        first_seen: DateTime<Utc>,
        span: (DateTime<Utc>, DateTime<Utc>),
        item_id: i64,
        source_id: i64,
        tokens: &[String],
    ) {
        if self.by_story.contains_key(&story_id) {
            return;
        }
        let slot = self.base + self.slots.len() as u32;
        self.slots.push_back(Some(Entry {
            story_id,
            first_seen: seconds(first_seen),
            reps: Box::default(),
        }));
        self.event_lo.push_back(seconds(span.0));
        self.event_hi.push_back(seconds(span.1));
        self.by_story.insert(story_id, slot);
        self.live += 1;
        self.place_rep(slot, 0, item_id, source_id, tokens);
    }

    /// Whether [`TitleIndex::offer_rep`] would keep this title (read-only, for use inside a transaction).
    ///
    /// A title whose tokens two representatives from other sources already have is not kept: it would
    /// match nothing they do not (a lookup skips only its own source's titles), and wire copy repeated
    /// verbatim would otherwise fill a story's representatives with one headline.
    pub fn would_admit(
        &self,
        story_id: i64,
        source_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        if entry.reps().count() >= MAX_REPS || tokens.len() < MIN_SIMILAR_TOKENS {
            return false;
        }
        let n = ln_stories(self.live);
        let (known, total) = self.weigh(tokens, n);
        if known.len() == tokens.len() {
            let mut twin_source = None;
            for rep in entry.reps() {
                let twin = rep.tokens.len() == known.len()
                    && rep.tokens.iter().zip(&known).all(|(a, b)| *a == b.0);
                if !twin {
                    continue;
                }
                match twin_source {
                    Some(s) if s != rep.source_id => return false,
                    _ => twin_source = Some(rep.source_id),
                }
            }
            if twin_source == Some(source_id) {
                return false;
            }
        }
        let (shared, lead_total) = self.overlap(&known, entry.lead().tokens, n);
        ochiai(shared, total, lead_total) >= REP_ADMISSION * threshold
    }

    /// Whether an edited title still belongs with its story: true for the story's first title (the story
    /// follows it), else whether it resembles that first title. `None` when the story is not held.
    pub fn edit_fits(
        &self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> Option<bool> {
        let entry = self.entry(story_id)?;
        Some(
            entry.lead().item_id == item_id
                || self.similarity_to_lead(entry, tokens) >= REP_ADMISSION * threshold,
        )
    }

    /// Whether [`TitleIndex::edit_rep`] would keep an edited representative (read-only).
    pub fn edit_keeps(
        &self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        match entry.position(item_id) {
            Some(0) => true,
            Some(_) => self.similarity_to_lead(entry, tokens) >= REP_ADMISSION * threshold,
            None => false,
        }
    }

    /// Offers a member's title as a representative of its story: kept if the story has room and the title
    /// is similar to the story's first title (at [`REP_ADMISSION`] × `threshold`). Returns whether it
    /// was kept.
    pub fn offer_rep(
        &mut self,
        story_id: i64,
        item_id: i64,
        source_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        if entry.position(item_id).is_some()
            || !self.would_admit(story_id, source_id, tokens, threshold)
        {
            return false;
        }
        self.restore_rep(story_id, item_id, source_id, tokens);
        true
    }

    /// Restores a representative as stored (rebuilding after a restart): no admission test, so the
    /// rebuilt index holds exactly what the running one held.
    pub fn restore_rep(&mut self, story_id: i64, item_id: i64, source_id: i64, tokens: &[String]) {
        let Some(&slot) = self.by_story.get(&story_id) else {
            return;
        };
        let Some(entry) = self.entry(story_id) else {
            return;
        };
        let count = entry.reps().count();
        if count < MAX_REPS && entry.position(item_id).is_none() {
            self.place_rep(slot, count, item_id, source_id, tokens);
        }
    }

    /// A representative's title was edited in place. The first title follows the edit (it is what the
    /// story is); another representative follows it if it still resembles the first title, else it stops
    /// being one, so an edit can never pull a second story's readers in. Returns whether the item is still
    /// a representative.
    pub fn edit_rep(
        &mut self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(&slot) = self.by_story.get(&story_id) else {
            return false;
        };
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        let Some(pos) = entry.position(item_id) else {
            return false;
        };
        let keep = self.edit_keeps(story_id, item_id, tokens, threshold);
        let source_id = self.take_rep(slot, pos);
        if keep {
            self.place_rep(slot, pos, item_id, source_id, tokens);
        }
        keep
    }

    /// Drops stories first seen before `cutoff`.
    pub fn prune(&mut self, cutoff: DateTime<Utc>) {
        let cutoff = seconds(cutoff);
        // Slots are (nearly) in first-seen order; a story added out of order waits for its predecessors.
        while let Some(front) = self.slots.front() {
            match front {
                Some(e) if e.first_seen >= cutoff => break,
                Some(e) => {
                    let story_id = e.story_id;
                    self.remove_story(story_id);
                    self.slots.pop_front();
                    self.event_lo.pop_front();
                    self.event_hi.pop_front();
                    self.base += 1;
                }
                None => {
                    self.slots.pop_front();
                    self.event_lo.pop_front();
                    self.event_hi.pop_front();
                    self.base += 1;
                }
            }
        }
    }

    /// Removes a story (pruned, or deleted from the store).
    pub fn remove_story(&mut self, story_id: i64) {
        let Some(slot) = self.by_story.remove(&story_id) else {
            return;
        };
        let i = (slot - self.base) as usize;
        let Some(entry) = self.slots[i].take() else {
            return;
        };
        self.event_lo[i] = 0;
        self.event_hi[i] = 0;
        self.live -= 1;
        let mut vocab: Vec<u32> = entry
            .reps()
            .flat_map(|r| r.tokens.iter().copied())
            .collect();
        vocab.sort_unstable();
        vocab.dedup();
        for id in vocab {
            self.drop_posting(id, slot);
        }
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        self.slots[(slot - self.base) as usize]
            .as_mut()
            .expect("live slot")
    }

    /// The probe's known tokens as (id, weight) sorted by id, and the weight of all its tokens.
    fn weigh(&self, tokens: &[String], n: f64) -> (Vec<(u32, f32)>, f32) {
        let mut known = Vec::with_capacity(tokens.len());
        let mut total = 0.0f32;
        for t in tokens {
            match self.token_id(t) {
                Some(id) => {
                    let w = self.weight(id, n);
                    total += w;
                    known.push((id, w));
                }
                None => total += Self::unseen_weight(t, n),
            }
        }
        known.sort_unstable_by_key(|p| p.0);
        known.dedup_by_key(|p| p.0);
        (known, total)
    }

    /// Similarity of a title to a story's first representative.
    fn similarity_to_lead(&self, entry: &Entry, tokens: &[String]) -> f64 {
        let n = ln_stories(self.live);
        let (known, total) = self.weigh(tokens, n);
        let (shared, lead_total) = self.overlap(&known, entry.lead().tokens, n);
        ochiai(shared, total, lead_total)
    }

    fn intern(&mut self, token: &str) -> u32 {
        if let Some(id) = self.token_id(token) {
            return id;
        }
        let hash = token_hash(token);
        let t = Token {
            hash,
            postings: VecDeque::new(),
        };
        let factor = weight_factor(token);
        let id = match self.free.pop() {
            Some(id) => {
                self.tokens[id as usize] = t;
                self.weights[id as usize] = [0.0, factor];
                id
            }
            None => {
                self.tokens.push(t);
                self.weights.push([0.0, factor]);
                (self.tokens.len() - 1) as u32
            }
        };
        let tokens = &self.tokens;
        self.ids
            .insert_unique(hash, id, |&id| tokens[id as usize].hash);
        id
    }

    /// Inserts a representative at `pos`, posting the tokens the story did not use yet.
    fn place_rep(
        &mut self,
        slot: u32,
        pos: usize,
        item_id: i64,
        source_id: i64,
        tokens: &[String],
    ) {
        let mut ids: Vec<u32> = tokens.iter().map(|t| self.intern(t)).collect();
        ids.sort_unstable();
        ids.dedup();
        let e = self.entry_mut(slot);
        let new_vocab: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| !e.uses(id, None))
            .collect();
        let at = e.offset(pos);
        let [s0, s1] = split_id(source_id);
        let [i0, i1] = split_id(item_id);
        let mut packed = Vec::with_capacity(e.reps.len() + REP_HEADER + ids.len());
        packed.extend_from_slice(&e.reps[..at]);
        packed.extend_from_slice(&[ids.len() as u32, s0, s1, i0, i1]);
        packed.extend_from_slice(&ids);
        packed.extend_from_slice(&e.reps[at..]);
        e.reps = packed.into_boxed_slice();
        for id in new_vocab {
            self.add_posting(id, slot);
        }
    }

    /// Removes the representative at `pos`, releasing tokens no other representative of the story uses;
    /// returns its source.
    fn take_rep(&mut self, slot: u32, pos: usize) -> i64 {
        let e = self.entry_mut(slot);
        let rep = e.reps().nth(pos).expect("representative");
        let source_id = rep.source_id;
        let gone: Vec<u32> = rep
            .tokens
            .iter()
            .copied()
            .filter(|&id| !e.uses(id, Some(pos)))
            .collect();
        let at = e.offset(pos);
        let end = at + REP_HEADER + rep.tokens.len();
        let mut packed = Vec::with_capacity(e.reps.len() - (end - at));
        packed.extend_from_slice(&e.reps[..at]);
        packed.extend_from_slice(&e.reps[end..]);
        e.reps = packed.into_boxed_slice();
        for id in gone {
            self.drop_posting(id, slot);
        }
        source_id
    }

    fn add_posting(&mut self, id: u32, slot: u32) {
        let t = &mut self.tokens[id as usize];
        t.postings.push_back(slot);
        self.weights[id as usize][0] = (t.postings.len() as f64 + 1.0).ln() as f32;
    }

    fn drop_posting(&mut self, id: u32, slot: u32) {
        let t = &mut self.tokens[id as usize];
        if t.postings.front() == Some(&slot) {
            t.postings.pop_front();
        } else if let Some(p) = t.postings.iter().position(|&s| s == slot) {
            t.postings.remove(p);
        }
        self.weights[id as usize][0] = (t.postings.len() as f64 + 1.0).ln() as f32;
        if t.postings.is_empty() {
            t.postings = VecDeque::new();
            let hash = t.hash;
            if let Ok(found) = self.ids.find_entry(hash, |&x| x == id) {
                found.remove();
            }
            self.free.push(id);
        }
    }
}

/// The hash a token is known by in the [`TitleIndex`] (fixed seed: the same in every run).
fn token_hash(token: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(0x5EED_5EED_5EED_5EED).hash_one(token)
}

/// [`TitleIndex`] keeps a table of the decay per minute idle down to this factor (below it, any
/// threshold worth using is out of reach)...
const DECAY_FLOOR: f64 = 1e-4;
/// ...and at most this many minutes (a year).
const MAX_DECAY_MINUTES: usize = 366 * 24 * 60;

/// A token's weight factor: [`CALENDAR_WEIGHT`] for calendar words and numbers, else 1.
fn weight_factor(token: &str) -> f32 {
    if is_calendar(token) {
        CALENDAR_WEIGHT
    } else {
        1.0
    }
}

/// ln(N + 1) for N stories held: the part of every token weight shared by one lookup.
fn ln_stories(live: usize) -> f64 {
    (live as f64 + 1.0).ln()
}

/// Weighted Ochiai coefficient: shared weight over the geometric mean of both totals.
fn ochiai(shared: f32, a: f32, b: f32) -> f64 {
    if shared <= 0.0 || a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    (f64::from(shared) / (f64::from(a) * f64::from(b)).sqrt()).min(1.0)
}
