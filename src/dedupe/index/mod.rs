//! The title-similarity index: stories within the window, their representative titles, and an
//! inverted index from content tokens to stories.

mod entry;
mod lookup;
mod reps;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use hashbrown::{HashMap, HashTable};

use crate::dedupe::title::{CALENDAR_WEIGHT, is_calendar};

use entry::Entry;

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
    /// The item's event time (see [`crate::dedupe::event_times`]).
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
    names: crate::dedupe::veto::NameLexicon,
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
    pub fn names(&self) -> &crate::dedupe::veto::NameLexicon {
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
