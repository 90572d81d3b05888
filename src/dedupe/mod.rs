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

mod decide;
mod explain;
mod index;
#[cfg(test)]
mod tests;
mod time;
mod title;
mod veto;

pub use decide::*;
pub use explain::*;
pub use index::*;
pub use time::*;
pub use title::*;
pub use veto::*;
