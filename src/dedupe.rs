//! Story identity: which stored story (if any) a new item belongs to.
//!
//! Pure code only; the store supplies candidates, holds the [`TitleIndex`] and applies the decision.
//! Layers, tried in order:
//! 1. the same source already has this item (same key) → [`Decision::SameItem`];
//! 2. an item with the same URL key exists (any source) → join its story ([`MatchReason::Url`]);
//! 3. an item from a *different* source with the same title fingerprint, in a story first seen within the
//!    window → join its story ([`MatchReason::Title`]);
//! 4. a story whose representative titles are similar enough ([`TitleIndex::best_match`], score at or
//!    above `[dedupe].title_threshold`) → join it ([`MatchReason::Similar`]).
//!
//! ## Title similarity
//! Titles are normalized ([`normalize_title`]: NFKC, case folding, publisher tags and decorations such as
//! "UPDATE 2-" or "| BBC News" removed, quotes and dashes unified), then cut into content tokens
//! ([`title_tokens`]: stop words dropped, light suffix stemming so "files"/"filed"/"filing" meet, numbers
//! kept). Two token sets are compared with a weighted Ochiai (cosine) coefficient,
//! `Σ w(shared) / sqrt(Σ w(a) · Σ w(b))`, on a 0..1 scale: 1 means the same content words. A token's
//! weight is its inverse *story* frequency within the window, `ln((N+1)/(df+1)) + 1` where N is the
//! number of stories held and df the number of those stories using the token, so names, places and
//! companies outweigh "stocks" or "says"; counting stories rather than items keeps a story's own name
//! heavy however many outlets repeat it. Numbers and calendar words (dates recur across unrelated
//! stories of the same day) weigh half.
//!
//! ## Chaining guard
//! A story is compared through at most [`MAX_REPS`] representative titles, never through every member.
//! The first item is always one; a later member becomes one only if it is itself similar to that first
//! title (at [`REP_ADMISSION`] × the threshold). Any member is at most two similar steps from the lead,
//! so a drift A~B~C~D cannot pull unrelated news into a story, and stories are never merged with each
//! other: an item bridging two stories joins the better one. Titles of the same source never match each
//! other by similarity (a daily "Business Highlights" is not one story).

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use hashbrown::{HashMap, HashTable};
use unicode_normalization::UnicodeNormalization;

/// A title fingerprint needs this many words to be trusted: "Live updates" or "Letters" recur daily.
const MIN_FINGERPRINT_WORDS: usize = 3;

/// Similarity needs this many content tokens in the incoming title: two words match too much.
const MIN_SIMILAR_TOKENS: usize = 2;

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

/// Weight factor of numbers and calendar words.
const CALENDAR_WEIGHT: f32 = 0.5;

/// Words that carry no story identity in a headline.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "against", "all", "am", "amid", "among", "an", "and", "any", "are",
    "as", "at", "be", "been", "before", "being", "between", "but", "by", "can", "could", "did",
    "do", "does", "during", "for", "from", "get", "gets", "got", "had", "has", "have", "he", "her",
    "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "may", "me",
    "might", "more", "most", "must", "my", "new", "no", "nor", "not", "now", "of", "off", "on",
    "onto", "or", "our", "out", "over", "per", "photos", "said", "say", "says", "shall", "she",
    "should", "so", "some", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "under", "up", "update", "updated", "via", "video",
    "vs", "was", "watch", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your",
];

/// Dates recur across unrelated stories of one day: these weigh less.
const CALENDAR_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "tonight",
    "yesterday",
    "tomorrow",
];

/// Words that make up decorations around a headline ("VIDEO:", "(Update 2)", "LIVE -").
const DECORATION_WORDS: &[&str] = &[
    "update",
    "updated",
    "updates",
    "video",
    "videos",
    "live",
    "watch",
    "breaking",
    "exclusive",
    "photos",
    "photo",
    "pictures",
    "pics",
    "gallery",
    "audio",
    "podcast",
    "corrected",
    "refile",
    "analysis",
    "factbox",
    "interview",
    "opinion",
    "poll",
    "new",
    "st",
    "nd",
    "rd",
    "th",
    "and",
];

fn is_decoration(segment: &str) -> bool {
    let mut words = 0;
    for w in segment
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let lw = w.to_lowercase();
        let ordinal = lw.trim_start_matches(|c: char| c.is_ascii_digit());
        if !(ordinal.is_empty() || DECORATION_WORDS.contains(&ordinal)) {
            return false;
        }
        words += 1;
    }
    words > 0
}

/// Unifies quote, dash and ellipsis styles.
fn unify_punctuation(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        c if c.is_whitespace() => ' ',
        c => c,
    }
}

/// The title with its decorations removed, in its original case; and whether it was cut short ("…").
fn strip_decorations(title: &str) -> (String, bool) {
    // ASCII is its own NFKC form: most headlines skip the normalizer.
    let mut t: String = if title.is_ascii() {
        title.chars().map(unify_punctuation).collect()
    } else {
        title.nfkc().map(unify_punctuation).collect()
    };
    // NFKC turns "…" into "...".
    let mut truncated = false;
    loop {
        let trimmed = t.trim_end();
        let before = trimmed.len();
        let trimmed = trimmed.trim_end_matches('.').trim_end();
        if trimmed.len() + 2 <= before {
            truncated = true;
        }
        let mut s = trimmed.to_string();
        // Trailing bracketed decorations: "(Update)", "[VIDEO]", "(+photos)".
        if let Some(open) = s.rfind(['(', '['])
            && s.ends_with([')', ']'])
            && is_decoration(&s[open..])
            && open > 0
        {
            s.truncate(open);
        }
        // A trailing publisher tag or decoration after " | ", " - ", " -- ": a short capitalized tail.
        for sep in [" | ", " -- ", " - ", " :: "] {
            if let Some(pos) = s.rfind(sep) {
                let (head, tail) = (&s[..pos], &s[pos + sep.len()..]);
                let tail_words: Vec<&str> = tail.split_whitespace().collect();
                let head_words = head.split_whitespace().count();
                let capitalized = tail_words.iter().all(|w| {
                    w.chars()
                        .next()
                        .is_some_and(|c| !c.is_lowercase() || !c.is_alphabetic())
                });
                let publisher = sep == " | " || capitalized;
                if head_words >= 3
                    && !tail_words.is_empty()
                    && tail_words.len() <= 4
                    && tail.len() <= 40
                    && (publisher || is_decoration(tail))
                {
                    s.truncate(pos);
                    break;
                }
            }
        }
        // Leading decorations: "VIDEO: ", "LIVE - ", "UPDATE 2-", Reuters' "GLOBAL MARKETS-".
        let lead_end = s.find([':', '-']).filter(|&p| p > 0 && p + 1 < s.len());
        if let Some(p) = lead_end {
            let head = &s[..p];
            let rest = s[p + 1..].trim_start();
            let glued =
                s.as_bytes()[p] == b'-' && !head.ends_with(' ') && !s[p + 1..].starts_with(' ');
            let all_caps = head.chars().any(char::is_alphabetic)
                && !head.chars().any(char::is_lowercase)
                && head.split_whitespace().count() <= 4;
            if rest.split_whitespace().count() >= 2 && (is_decoration(head) || (glued && all_caps))
            {
                s = rest.to_string();
            }
        }
        if s.len() == t.len() {
            break;
        }
        t = s;
    }
    (t.trim().to_string(), truncated)
}

/// Lower case for matching: Unicode lower-casing, plus the one common fold it misses.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase().replace('ß', "ss")
}

/// A title as compared: NFKC, case-folded, decorations and publisher tags removed, quotes and dashes
/// unified, whitespace collapsed. "UPDATE 2-Mt. Gox files for bankruptcy - Reuters" →
/// "mt. gox files for bankruptcy".
pub fn normalize_title(title: &str) -> String {
    let (t, _) = strip_decorations(title);
    fold(&t).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Words of a normalized title: letters and digits; "u.s." and "u.k." kept whole.
fn words(normalized: &str) -> Vec<String> {
    let joined = if normalized.contains("u.") {
        Cow::Owned(
            normalized
                .replace("u.s.", "us")
                .replace("u.k.", "uk")
                .replace("u.n.", "un"),
        )
    } else {
        Cow::Borrowed(normalized)
    };
    joined
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Light suffix stemming: "files"/"filed"/"filing" → "fil", enough for headline inflections.
fn stem(w: &str) -> String {
    if w.chars().any(|c| c.is_ascii_digit()) {
        return w.to_string();
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 3
            && let Some(stripped) = w.strip_suffix(suffix)
        {
            return stripped.to_string();
        }
    }
    w.to_string()
}

/// The content tokens of a title, in order, each once: stop words and one-letter words dropped, stemmed,
/// numbers kept. A truncated title ("…") loses its last word, which may be cut.
pub fn title_tokens(title: &str) -> Vec<String> {
    title_keys(title).1
}

/// Both keys of a title from one normalization: its [`title_fingerprint`] and its [`title_tokens`].
pub fn title_keys(title: &str) -> (String, Vec<String>) {
    let (t, truncated) = strip_decorations(title);
    let ws = words(&fold(&t));
    let fingerprint = fingerprint_of(&ws);
    let content = if truncated {
        &ws[..ws.len().saturating_sub(1)]
    } else {
        &ws[..]
    };
    let mut out: Vec<String> = Vec::with_capacity(content.len());
    for w in content {
        let single_letter = w.chars().count() == 1 && !w.chars().all(|c| c.is_ascii_digit());
        if single_letter || STOP_WORDS.contains(&w.as_str()) {
            continue;
        }
        let s = stem(w);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (fingerprint, out)
}

/// Whether a lower-cased word is one of the stop words title similarity ignores.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

fn is_calendar(token: &str) -> bool {
    token.chars().all(|c| c.is_ascii_digit()) || CALENDAR_WORDS.contains(&token)
}

/// Key for "same article": the canonical URL without scheme, `www.` and a trailing slash, so
/// `http://www.x.com/a/` and `https://x.com/a` meet.
pub fn url_key(canonical_url: &str) -> String {
    let rest = canonical_url
        .split_once("://")
        .map_or(canonical_url, |(_, r)| r);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    match rest.split_once('?') {
        Some((path, q)) => format!("{}?{q}", path.trim_end_matches('/')),
        None => rest.trim_end_matches('/').to_string(),
    }
}

/// Exact-title key: the words of the normalized title, single spaces. Empty when the title is too short
/// to identify a story.
pub fn title_fingerprint(title: &str) -> String {
    let (t, _) = strip_decorations(title);
    fingerprint_of(&words(&fold(&t)))
}

fn fingerprint_of(words: &[String]) -> String {
    if words.len() < MIN_FINGERPRINT_WORDS {
        return String::new();
    }
    words.join(" ")
}

/// A stored item that might report the same story as a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub item_id: i64,
    pub story_id: i64,
    pub source_id: i64,
    pub url_key: Option<String>,
    pub title_fp: String,
    pub story_first_seen: DateTime<Utc>,
}

/// What to do with an incoming item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The source already has it (in this story): update it in place.
    SameItem(i64),
    /// Another item reports the same news: join that story.
    JoinStory(i64),
    /// A story of its own.
    New,
}

/// Why an item joined a story (stored with the item, for `syndic stories --explain` and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchReason {
    /// The same article URL.
    Url,
    /// The same normalized title, from another source.
    Title,
    /// A similar title (the score is stored beside it).
    Similar,
}

impl MatchReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Url => "url",
            MatchReason::Title => "title",
            MatchReason::Similar => "similar",
        }
    }
}

/// The incoming item's identity, as the matcher sees it.
pub struct Probe<'a> {
    pub source_id: i64,
    pub url_key: Option<&'a str>,
    pub title_fp: &'a str,
    pub now: DateTime<Utc>,
}

/// An exact match: the story, the stored item that matched, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryMatch {
    pub story_id: i64,
    pub item_id: i64,
    pub reason: MatchReason,
}

/// Chooses the story for a new item among candidates (those sharing its URL key or fingerprint).
pub fn match_story(
    probe: &Probe<'_>,
    candidates: &[Candidate],
    window: chrono::Duration,
) -> Option<StoryMatch> {
    // The earliest story wins when several match, so clusters converge on one id.
    let earliest = |it: &mut dyn Iterator<Item = &Candidate>| {
        it.min_by_key(|c| (c.story_first_seen, c.story_id, c.item_id))
            .map(|c| (c.story_id, c.item_id))
    };
    if let Some(key) = probe.url_key {
        let mut by_url = candidates
            .iter()
            .filter(|c| c.url_key.as_deref() == Some(key));
        if let Some((story_id, item_id)) = earliest(&mut by_url) {
            return Some(StoryMatch {
                story_id,
                item_id,
                reason: MatchReason::Url,
            });
        }
    }
    if !probe.title_fp.is_empty() {
        let mut by_title = candidates.iter().filter(|c| {
            c.source_id != probe.source_id
                && c.title_fp == probe.title_fp
                && probe.now - c.story_first_seen <= window
        });
        if let Some((story_id, item_id)) = earliest(&mut by_title) {
            return Some(StoryMatch {
                story_id,
                item_id,
                reason: MatchReason::Title,
            });
        }
    }
    None
}

/// Words before a representative's tokens in [`Entry::reps`]: token count, source id, item id (ids in
/// two words each, low word first).
const REP_HEADER: usize = 5;

/// A story held by the [`TitleIndex`].
#[derive(Debug)]
struct Entry {
    story_id: i64,
    first_seen_ms: i64,
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
struct Token {
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
    pub now: DateTime<Utc>,
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
    ids: HashTable<u32>,
    tokens: Vec<Token>,
    /// Per token id: ln(df + 1) and the weight factor (1, or [`CALENDAR_WEIGHT`]), dense and apart from
    /// [`Token`] so that scoring reads a small array that stays in cache.
    weights: Vec<[f32; 2]>,
    free: Vec<u32>,
    /// Story slots; slot `base + i` is `slots[i]`; a `None` is a removed story.
    slots: VecDeque<Option<Entry>>,
    /// Per slot (as `slots`): when an item last joined the story, in seconds since the epoch (its first
    /// item, else the latest join); 0 for a removed story.
    last_seen: VecDeque<u32>,
    base: u32,
    by_story: HashMap<i64, u32>,
    live: usize,
    /// Scores decay with the time since a story was last reported, `exp(-idle / decay_hours)`; 0 = off.
    decay_hours: f64,
    /// The decay after each whole minute idle, down to [`DECAY_FLOOR`]: an upper bound of the exact
    /// decay that orders candidates without an `exp` each.
    decay_minutes: Vec<f32>,
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

    /// An upper bound of [`TitleIndex::decay`] (1 when the decay is off).
    fn decay_bound(&self, last_seen: u32, now: u32) -> f32 {
        let Some(&last) = self.decay_minutes.last() else {
            return 1.0;
        };
        let minute = (now.saturating_sub(last_seen) / 60) as usize;
        self.decay_minutes.get(minute).copied().unwrap_or(last)
    }

    /// Records that an item joined the story at `at` (keeps the story fresh for the decay).
    pub fn touch(&mut self, story_id: i64, at: DateTime<Utc>) {
        if let Some(&slot) = self.by_story.get(&story_id) {
            let seen = &mut self.last_seen[(slot - self.base) as usize];
            *seen = (*seen).max(seconds(at));
        }
    }

    /// The factor a story's scores are multiplied by, given how long it has been idle.
    fn decay(&self, last_seen: u32, now: u32) -> f64 {
        if self.decay_hours <= 0.0 {
            return 1.0;
        }
        let idle_hours = f64::from(now.saturating_sub(last_seen)) / 3600.0;
        (-idle_hours / self.decay_hours).exp()
    }

    /// Stories last seen before this (seconds) score below `threshold` whatever the title; 0 = none.
    fn dead_before(&self, threshold: f64, now: u32) -> u32 {
        if self.decay_hours <= 0.0 || threshold <= 0.0 {
            return 0;
        }
        // decay < threshold <=> idle > decay_hours · ln(1 / threshold); a second of slack for rounding.
        let idle = self.decay_hours * 3600.0 * (1.0 / threshold).ln() + 1.0;
        (f64::from(now) - idle).max(0.0) as u32
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
            + self.last_seen.capacity() * 4
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

    /// The story (first seen within `window` of `probe.now`) whose representative titles best match the
    /// probe, if its score reaches `threshold`. Titles of the probe's own source are not compared; ties
    /// go to the earlier story.
    pub fn best_match(
        &self,
        probe: &TitleProbe<'_>,
        threshold: f64,
        window: chrono::Duration,
    ) -> Option<SimilarMatch> {
        if probe.tokens.len() < MIN_SIMILAR_TOKENS || self.live == 0 {
            return None;
        }
        let n = ln_stories(self.live);
        let since = (probe.now - window).timestamp_millis();
        let now = seconds(probe.now);
        let dead_before = self.dead_before(threshold, now);
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
                if self.last_seen[i as usize] < dead_before {
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
            let d = self.decay_bound(self.last_seen[i as usize], now);
            if a * d * d >= floor {
                // Non-negative floats order as their bits do.
                cands.push((a.to_bits(), Reverse(i)));
            }
        }
        drop(scratch);
        // Most promising first (a heap, so only the stories actually scored are ordered): once a story's
        // bound falls below the threshold or the best score so far, no later story can do better.
        let mut cands = BinaryHeap::from(cands);

        let mut best: Option<(SimilarMatch, i64)> = None;
        let mut scored = 0;
        while let Some((a, Reverse(i))) = cands.pop() {
            let bound = f64::from(f32::from_bits(a) / total).sqrt();
            if bound < threshold || best.as_ref().is_some_and(|(b, _)| bound < b.score) {
                break;
            }
            // A story idle too long for this bound is skipped without reading it.
            let last_seen = self.last_seen[i as usize];
            let d = f64::from(self.decay_bound(last_seen, now));
            if bound * d < threshold || best.as_ref().is_some_and(|(b, _)| bound * d < b.score) {
                continue;
            }
            scored += 1;
            if scored > MAX_SCORED_STORIES {
                break;
            }
            let decay = self.decay(last_seen, now);
            let Some(Some(entry)) = self.slots.get(i as usize) else {
                continue;
            };
            if entry.first_seen_ms < since {
                continue;
            }
            for rep in entry.reps() {
                if rep.source_id == probe.source_id {
                    continue;
                }
                let (shared, rep_total) = self.overlap(&probe_ids, rep.tokens, n);
                let score = ochiai(shared, total, rep_total) * decay;
                if score < threshold {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((b, first_seen)) => {
                        score > b.score
                            || (score == b.score
                                && (entry.first_seen_ms, entry.story_id)
                                    < (*first_seen, b.story_id))
                    }
                };
                if better {
                    let m = SimilarMatch {
                        story_id: entry.story_id,
                        item_id: rep.item_id,
                        score,
                    };
                    best = Some((m, entry.first_seen_ms));
                }
            }
        }
        best.map(|(m, _)| m)
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
            first_seen_ms: first_seen.timestamp_millis(),
            reps: Box::default(),
        }));
        self.last_seen.push_back(seconds(first_seen));
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
        let cutoff = cutoff.timestamp_millis();
        // Slots are (nearly) in first-seen order; a story added out of order waits for its predecessors.
        while let Some(front) = self.slots.front() {
            match front {
                Some(e) if e.first_seen_ms >= cutoff => break,
                Some(e) => {
                    let story_id = e.story_id;
                    self.remove_story(story_id);
                    self.slots.pop_front();
                    self.last_seen.pop_front();
                    self.base += 1;
                }
                None => {
                    self.slots.pop_front();
                    self.last_seen.pop_front();
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
        self.last_seen[i] = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(story: i64, source: i64, url: Option<&str>, title: &str, age_h: i64) -> Candidate {
        Candidate {
            item_id: story * 100 + source,
            story_id: story,
            source_id: source,
            url_key: url.map(url_key),
            title_fp: title_fingerprint(title),
            story_first_seen: now() - chrono::Duration::hours(age_h),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn url_keys_ignore_scheme_www_and_trailing_slash() {
        assert_eq!(url_key("https://www.x.com/a/"), url_key("http://x.com/a"));
        assert_eq!(url_key("https://x.com/a/?id=1"), "x.com/a?id=1");
        assert_ne!(url_key("https://x.com/a"), url_key("https://x.com/b"));
    }

    #[test]
    fn fingerprints_ignore_case_and_punctuation() {
        assert_eq!(
            title_fingerprint("Japan's PM: 'No deal' — yet"),
            title_fingerprint("japan s pm no deal yet")
        );
        assert_eq!(title_fingerprint("Live updates"), "");
    }

    #[test]
    fn url_match_beats_title_match_and_earliest_wins() {
        let cands = vec![
            cand(
                7,
                2,
                Some("https://b.com/x"),
                "Quake hits northern Japan coast",
                1,
            ),
            cand(
                3,
                3,
                Some("https://a.com/x"),
                "Something else entirely here",
                5,
            ),
            cand(
                2,
                4,
                Some("https://a.com/x"),
                "Other words entirely here",
                9,
            ),
        ];
        let fp = title_fingerprint("Quake hits northern Japan coast");
        let uk = url_key("https://a.com/x");
        let probe = Probe {
            source_id: 1,
            url_key: Some(&uk),
            title_fp: &fp,
            now: now(),
        };
        assert_eq!(
            match_story(&probe, &cands, chrono::Duration::hours(72)),
            Some(StoryMatch {
                story_id: 2,
                item_id: 204,
                reason: MatchReason::Url
            })
        );
        let probe = Probe {
            source_id: 1,
            url_key: None,
            title_fp: &fp,
            now: now(),
        };
        assert_eq!(
            match_story(&probe, &cands, chrono::Duration::hours(72)),
            Some(StoryMatch {
                story_id: 7,
                item_id: 702,
                reason: MatchReason::Title
            })
        );
    }

    #[test]
    fn title_matches_need_another_source_and_the_window() {
        let title = "Quake hits northern Japan coast";
        let fp = title_fingerprint(title);
        let probe = Probe {
            source_id: 1,
            url_key: None,
            title_fp: &fp,
            now: now(),
        };
        let same_source = vec![cand(1, 1, None, title, 1)];
        assert_eq!(
            match_story(&probe, &same_source, chrono::Duration::hours(72)),
            None
        );
        let too_old = vec![cand(1, 2, None, title, 100)];
        assert_eq!(
            match_story(&probe, &too_old, chrono::Duration::hours(72)),
            None
        );
        let short = Probe {
            source_id: 1,
            url_key: None,
            title_fp: "",
            now: now(),
        };
        assert_eq!(
            match_story(
                &short,
                &[cand(1, 2, None, "", 1)],
                chrono::Duration::hours(72)
            ),
            None
        );
    }

    // ---- normalization ----

    #[test]
    fn normalization_strips_publisher_tags_and_decorations() {
        let n = normalize_title;
        assert_eq!(
            n("UPDATE 2-Mt. Gox files for bankruptcy - Reuters"),
            "mt. gox files for bankruptcy"
        );
        assert_eq!(n("VIDEO: Storm hits the coast"), "storm hits the coast");
        assert_eq!(n("LIVE: Election night results"), "election night results");
        assert_eq!(
            n("Election night results as they come in | BBC News"),
            "election night results as they come in"
        );
        assert_eq!(
            n("GLOBAL MARKETS-World stocks dip after weak China data"),
            "world stocks dip after weak china data"
        );
        assert_eq!(
            n("Bitcoin exchange files for bankruptcy (Update)"),
            "bitcoin exchange files for bankruptcy"
        );
        assert_eq!(
            n("Fed\u{2019}s Plosser sees \u{201C}high bar\u{201D} \u{2014} for now\u{2026}"),
            "fed's plosser sees \"high bar\" - for now"
        );
        // NFKC and case folding: full-width letters, ligatures, sharp s.
        assert_eq!(n("ＴＯＫＹＯ Stocks Rise"), "tokyo stocks rise");
        assert_eq!(n("Straße \u{FB01}nal"), "strasse final");
        // Content is not a decoration: a colon after a name stays, a lower-case tail stays.
        assert_eq!(
            n("NASA: Mars rover finds water"),
            "nasa: mars rover finds water"
        );
        assert_eq!(
            n("Stocks fall - but not for long"),
            "stocks fall - but not for long"
        );
    }

    #[test]
    fn tokens_drop_stop_words_stem_and_keep_numbers() {
        assert_eq!(
            title_tokens("Sbarro files for Chapter 11, again"),
            vec!["sbarro", "file", "chapter", "11", "again"]
        );
        assert_eq!(
            title_tokens("U.S. stocks rise"),
            title_tokens("US stock rises")
        );
        // A truncated title loses its possibly cut last word.
        assert_eq!(
            title_tokens("Juan Pablo Galavis picks Nikki Ferrell; Was It  ..."),
            vec!["juan", "pablo", "galavi", "pick", "nikki", "ferrell"]
        );
    }

    // ---- similarity index ----

    fn t0() -> DateTime<Utc> {
        "2014-03-10T12:00:00Z".parse().unwrap()
    }

    /// Real headlines of other stories of the same days (dev set), so that token weights are realistic.
    const BACKGROUND: &[&str] = &[
        "Fed official says weak data caused by weather, should not slow taper",
        "US stocks dip on weak data from China, Japan",
        "Titanfall review roundup",
        "Cosmos: A Spacetime Odyssey premieres to big ratings",
        "GM forms recall probe team",
        "Snowden speaks at South By Southwest festival",
        "Bachelor finale: Juan Pablo makes his decision",
        "Crude prices slip as Libya port reopens",
        "Ukraine crisis weighs on European shares",
        "Malaysia Airlines search widens as families wait",
        "Herbalife shares jump after Ackman presentation",
        "Apple to release iOS 7.1 update with CarPlay",
    ];

    fn background(ix: &mut TitleIndex) {
        for (i, t) in BACKGROUND.iter().enumerate() {
            let id = 1000 + i as i64;
            ix.insert_story(id, t0(), id, id, &title_tokens(t));
        }
    }

    fn probe(source_id: i64, tokens: &[String]) -> TitleProbe<'_> {
        TitleProbe {
            source_id,
            tokens,
            now: t0() + chrono::Duration::hours(1),
        }
    }

    const T: f64 = crate::config::DEFAULT_TITLE_THRESHOLD;

    fn window() -> chrono::Duration {
        chrono::Duration::hours(72)
    }

    /// Real same-story pairs from the dev set, each way round.
    const SAME: &[(&str, &str)] = &[
        (
            "Mt. Gox files for US bankruptcy",
            "Mt Gox files US bankruptcy, opponents call it a ruse",
        ),
        (
            "Sbarro again files for Ch. 11 reorganization",
            "Sbarro Files For Chapter 11 Reorganization Again",
        ),
        (
            "Oil falls to around $101 after China data",
            "Oil falls to around $101 after China, Japan data",
        ),
        (
            "Bitcoin exchange Mt. Gox files for bankruptcy protection in US",
            "Mt. Gox files for U.S. bankruptcy protection",
        ),
    ];

    /// Real pairs of different stories that share words (dev set).
    const DIFFERENT: &[(&str, &str)] = &[
        (
            "Sbarro files for bankruptcy protection for the second time",
            "Bitcoin exchange Mt. Gox files for bankruptcy protection",
        ),
        (
            "Why the Five-Year Anniversary of the Stock Market Crash This Week Has  ...",
            "Happy 5th birthday, bull market",
        ),
        (
            "Asia stocks rise",
            "Stocks slip on discouraging news from Asia",
        ),
        (
            "Business Highlights",
            "Pershing Square presents information on Herbalife business",
        ),
    ];

    fn pair_score(a: &str, b: &str) -> Option<SimilarMatch> {
        let mut ix = TitleIndex::new();
        background(&mut ix);
        ix.insert_story(1, t0(), 1, 1, &title_tokens(a));
        let tokens = title_tokens(b);
        ix.best_match(&probe(2, &tokens), T, window())
    }

    #[test]
    fn real_near_duplicates_match_both_ways() {
        for (a, b) in SAME {
            for (x, y) in [(a, b), (b, a)] {
                let m = pair_score(x, y);
                assert_eq!(m.map(|m| m.story_id), Some(1), "{x:?} ~ {y:?}: {m:?}");
            }
        }
    }

    #[test]
    fn real_different_stories_do_not_match_either_way() {
        for (a, b) in DIFFERENT {
            for (x, y) in [(a, b), (b, a)] {
                let m = pair_score(x, y);
                assert_eq!(m, None, "{x:?} !~ {y:?}");
            }
        }
    }

    #[test]
    fn rare_words_outweigh_common_ones() {
        let mut ix = TitleIndex::new();
        for i in 0..50 {
            let t = format!("stocks fall on word{i} worries today");
            ix.insert_story(i, t0(), i, i, &title_tokens(&t));
        }
        let common = ix.similarity(
            &title_tokens("stocks fall worries"),
            &title_tokens("stocks fall worries word1"),
        );
        let rare = ix.similarity(
            &title_tokens("word1 word2 word3"),
            &title_tokens("word1 word2 word3 stocks"),
        );
        assert!(rare > common, "rare {rare} common {common}");
    }

    #[test]
    fn chaining_is_bounded_by_the_first_title() {
        let mut ix = TitleIndex::new();
        background(&mut ix);
        let a = title_tokens("Iceland volcano: flights grounded");
        let b =
            title_tokens("Iceland volcano: flights grounded as ash cloud reaches Norway, Sweden");
        let c = title_tokens("Ash cloud reaches Norway, Sweden; volcano shuts airports");
        let d = title_tokens("Unions shut airports in Norway, Sweden");
        ix.insert_story(1, t0(), 1, 1, &a);
        // D resembles C (a chain A~B~C~D), and nothing earlier.
        assert!(
            ix.similarity(&c, &d) >= T && ix.similarity(&b, &d) < T && ix.similarity(&a, &c) < T
        );
        // B resembles A: it joins and represents the story.
        let m = ix
            .best_match(&probe(2, &b), T, window())
            .expect("B joins A");
        assert_eq!(m.story_id, 1);
        assert!(ix.offer_rep(1, 2, 2, &b, T));
        // C resembles B, not A: it joins through B but does not become a representative.
        assert!(ix.similarity(&c, &a) < T);
        let m = ix
            .best_match(&probe(3, &c), T, window())
            .expect("C joins via B");
        assert_eq!((m.story_id, m.item_id), (1, 2));
        assert!(!ix.offer_rep(1, 3, 3, &c, T));
        // D resembles only C: no chain pulls it in.
        assert_eq!(ix.best_match(&probe(4, &d), T, window()), None);
        assert_eq!(ix.representatives(1), vec![1, 2]);
    }

    #[test]
    fn an_item_never_matches_itself_or_its_own_source() {
        let mut ix = TitleIndex::new();
        background(&mut ix);
        let t = title_tokens("Daily business highlights for investors and markets");
        ix.insert_story(1, t0(), 10, 7, &t);
        // The same title from the same source (the item itself, or a recurring column) matches nothing.
        assert_eq!(ix.best_match(&probe(7, &t), T, window()), None);
        // From another source it matches with the full score.
        let m = ix.best_match(&probe(8, &t), T, window()).unwrap();
        assert_eq!((m.story_id, m.item_id), (1, 10));
        assert!((m.score - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_headline_repeated_verbatim_represents_a_story_at_most_twice() {
        let mut ix = TitleIndex::new();
        background(&mut ix);
        let t = title_tokens("Malaysia Airlines jet missing with 239 aboard");
        let reworded = title_tokens("Malaysia Airlines jet with 239 aboard goes missing over sea");
        ix.insert_story(1, t0(), 1, 1, &t);
        // The same words from the same source add nothing.
        assert!(!ix.offer_rep(1, 2, 1, &t, T));
        // From a second source they are kept: a later title of source 1 can still match through them.
        assert!(ix.offer_rep(1, 3, 2, &t, T));
        // A third copy would match nothing the two do not.
        assert!(!ix.offer_rep(1, 4, 3, &t, T));
        // Other words still have room.
        assert!(ix.offer_rep(1, 5, 3, &reworded, T));
        assert_eq!(ix.representatives(1), vec![1, 3, 5]);
        let m = ix.best_match(&probe(1, &t), T, window()).unwrap();
        assert_eq!((m.story_id, m.item_id), (1, 3));
    }

    #[test]
    fn an_edited_headline_neither_splits_nor_chains() {
        let mut ix = TitleIndex::new();
        background(&mut ix);
        let lead = title_tokens("Ferry sinks off Korean island, hundreds rescued");
        let member = title_tokens("Hundreds rescued as ferry sinks off Korean island");
        ix.insert_story(1, t0(), 1, 1, &lead);
        assert!(ix.offer_rep(1, 2, 2, &member, T));
        // The lead's headline is refined: the story keeps following it.
        let refined = title_tokens("Ferry sinks off Korean island, 300 rescued, 12 missing");
        assert!(ix.edit_keeps(1, 1, &refined, T));
        assert!(ix.edit_rep(1, 1, &refined, T));
        let m = ix.best_match(&probe(3, &refined), T, window()).unwrap();
        assert_eq!(m.story_id, 1);
        // The member is rewritten into different news: it stops representing the story, so that news
        // cannot join this story through it.
        let other = title_tokens("Parliament passes budget after all-night session");
        assert!(!ix.edit_keeps(1, 2, &other, T));
        assert!(!ix.edit_rep(1, 2, &other, T));
        assert_eq!(ix.representatives(1), vec![1]);
        assert_eq!(ix.best_match(&probe(3, &other), T, window()), None);
    }

    #[test]
    fn the_decay_table_never_understates_the_decay() {
        // Candidates are skipped by the table's bound; it must never be below the exact decay, or a
        // story that would match could be passed over.
        for hours in [0.5, 6.0, 24.0, 100.0] {
            let mut ix = TitleIndex::new();
            ix.set_decay_hours(hours);
            let now = 2_000_000_000u32;
            for idle in (0..(hours * 3600.0 * 12.0) as u32).step_by(37) {
                let seen = now - idle;
                assert!(
                    f64::from(ix.decay_bound(seen, now)) >= ix.decay(seen, now),
                    "{hours} h, idle {idle} s"
                );
            }
            // The scan's cut-off skips only stories whose decay is below the threshold, and not many more
            // than that.
            let dead = ix.dead_before(0.5, now);
            assert!(ix.decay(dead - 1, now) < 0.5);
            assert!(ix.decay(dead + 2, now) >= 0.5);
        }
    }

    #[test]
    fn stories_leave_with_the_window() {
        let mut ix = TitleIndex::new();
        let t = title_tokens("Quake shakes northern Japan coast");
        ix.insert_story(1, t0(), 1, 1, &t);
        ix.insert_story(
            2,
            t0() + chrono::Duration::hours(10),
            2,
            2,
            &title_tokens("Other news entirely here"),
        );
        let late = TitleProbe {
            source_id: 9,
            tokens: &t,
            now: t0() + chrono::Duration::hours(73),
        };
        // Outside the window even before pruning; and gone after it.
        assert_eq!(ix.best_match(&late, T, window()), None);
        ix.prune(t0() + chrono::Duration::hours(1));
        assert_eq!(ix.len(), 1);
        assert!(!ix.contains(1));
        assert!(ix.contains(2));
        ix.prune(t0() + chrono::Duration::hours(11));
        assert!(ix.is_empty());
        // Token ids were released and are reused.
        assert!(ix.ids.is_empty());
        let before = ix.tokens.len();
        ix.insert_story(3, t0(), 3, 3, &t);
        assert_eq!(ix.tokens.len(), before);
    }

    #[test]
    fn scores_decay_with_a_storys_idle_time_and_joins_keep_it_fresh() {
        let mut ix = TitleIndex::new();
        ix.set_decay_hours(24.0);
        background(&mut ix);
        let a = title_tokens("Mt. Gox files for US bankruptcy");
        let b = title_tokens("Mt Gox files US bankruptcy, opponents call it a ruse");
        ix.insert_story(1, t0(), 1, 1, &a);
        let at = |h: i64| TitleProbe {
            source_id: 2,
            tokens: &b,
            now: t0() + chrono::Duration::hours(h),
        };
        let fresh = ix
            .best_match(&at(0), T, window())
            .expect("joins while fresh");
        // A day later the same words describe a new development more often than the same news.
        assert_eq!(ix.best_match(&at(24), T, window()), None);
        // A story that keeps being reported stays joinable.
        ix.touch(1, t0() + chrono::Duration::hours(23));
        let later = ix.best_match(&at(24), T, window()).expect("fresh again");
        assert!(later.score < fresh.score && later.score >= T);
        // Off, the idle time does not matter.
        ix.set_decay_hours(0.0);
        assert_eq!(
            ix.best_match(&at(60), T, window()).map(|m| m.score),
            Some(fresh.score)
        );
    }
}
