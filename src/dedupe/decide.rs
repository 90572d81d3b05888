//! The decision: which stored story (if any) an incoming item belongs to, and what the similarity index
//! must learn from it. One pure function, [`decide`]; the store gathers its inputs inside the refresh
//! transaction, applies the [`Verdict`] there, and hands the index its [`IndexUpdate`] once it commits.

use chrono::{DateTime, Utc};

use super::index::{SimilarMatch, TitleIndex};
use super::veto::{NameLexicon, TitleFeatures, Veto, VetoRules, veto};

/// Similar stories the decision considers, best first, when the best one is vetoed: the next ones are
/// tried in turn. (The best alone is asked for first: a veto is rare, and ranking more stories costs a
/// lookup more than half its time again.)
pub const SIMILAR_CANDIDATES: usize = 4;

/// A stored item that might report the same story as a new one (same URL key, or same fingerprint).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub item_id: i64,
    pub story_id: i64,
    pub source_id: i64,
    pub url_key: Option<String>,
    pub title_fp: String,
    /// The story's event span: the earliest and latest event time of its items.
    pub story_span: (DateTime<Utc>, DateTime<Utc>),
}

/// A score this high means the same content words (and no decay): no veto can find a difference, so
/// neither the titles nor their features are read.
pub const SAME_WORDS_SCORE: f64 = 0.9999;

/// A similar story found by the [`TitleIndex`], with the titles the look-alike veto reads (empty when
/// its score is [`SAME_WORDS_SCORE`] or more).
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    pub found: SimilarMatch,
    /// The matched representative's title.
    pub title: String,
    /// The story's first title (the one it is about).
    pub lead_title: String,
}

/// Why an item joined a story (stored with the item as text, for `syndic stories --explain` and
/// metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchReason {
    /// The same article URL.
    Url,
    /// The same normalized title, from another source.
    Title,
    /// A similar title, with its score.
    Similar(f64),
}

impl MatchReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Url => "url",
            MatchReason::Title => "title",
            MatchReason::Similar(_) => "similar",
        }
    }

    pub fn score(self) -> Option<f64> {
        match self {
            MatchReason::Similar(s) => Some(s),
            _ => None,
        }
    }
}

/// What to do with an incoming item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The source already has it (in this story): update it in place.
    SameItem { story_id: i64 },
    /// Another item reports the same news: join that story.
    Join {
        story_id: i64,
        /// The stored item it matched.
        item_id: i64,
        reason: MatchReason,
    },
    /// A story of its own.
    New,
}

/// A similar story the item was refused, and why (kept with the item for `--explain`).
#[derive(Debug, Clone, PartialEq)]
pub struct NearMiss {
    pub story_id: i64,
    pub item_id: i64,
    pub score: f64,
    pub veto: Veto,
}

/// What the similarity index must learn once the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexUpdate {
    None,
    /// A new story, this title its first representative.
    NewStory,
    /// The title becomes a representative of the story it joined.
    AddRep,
    /// A representative's title was edited in place.
    EditRep,
}

/// The full outcome for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub near_miss: Option<NearMiss>,
    /// The fingerprint to store: blank when an edit turned the headline into different news, so that
    /// it no longer anchors exact-title joins.
    pub title_fp: String,
    /// Whether the item's title represents its story in the similarity index (kept even with similarity
    /// off, so those stories become candidates once it is on).
    pub title_rep: bool,
    pub index: IndexUpdate,
    /// The story's event span must grow to include the item's event time (every join).
    pub extend_span: bool,
}

/// The incoming item as the decision sees it.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub source_id: i64,
    pub url_key: Option<&'a str>,
    pub title: &'a str,
    /// Its [`super::title_fingerprint`] (empty when too short, or title dedupe is off).
    pub title_fp: &'a str,
    /// Its [`super::title_tokens`] (empty when similarity is off).
    pub tokens: &'a [String],
    /// Its event time (see [`super::event_times`]).
    pub event: DateTime<Utc>,
}

/// The same item as stored before (same source, same key), when it has changed.
#[derive(Debug, Clone, Copy)]
pub struct KnownItem {
    pub item_id: i64,
    pub story_id: i64,
    pub title_rep: bool,
    pub title_changed: bool,
}

/// The settings the decision follows (from `[dedupe]` and the source's `dedupe` flag).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub window: chrono::Duration,
    pub threshold: f64,
    /// False for a source with `dedupe = false`: its items join only by URL.
    pub title_dedupe: bool,
    /// `[dedupe].similarity`.
    pub similarity: bool,
    pub veto: VetoRules,
}

impl Policy {
    fn similar_titles(&self) -> bool {
        self.title_dedupe && self.similarity
    }
}

/// Whether an item at `event` may join a story spanning `span` without the story spanning more than
/// `window`.
pub fn in_window(
    event: DateTime<Utc>,
    span: (DateTime<Utc>, DateTime<Utc>),
    window: chrono::Duration,
) -> bool {
    event >= span.1 - window && event <= span.0 + window
}

/// Chooses the story for an exact match among candidates: the same URL (any source, any time: the same
/// article), else the same fingerprint from another source in a story the item's event time fits. The
/// earliest story wins when several match, so clusters converge on one id.
pub fn exact_match(
    item: &Incoming<'_>,
    candidates: &[Candidate],
    window: chrono::Duration,
) -> Option<(i64, i64, MatchReason)> {
    let earliest = |it: &mut dyn Iterator<Item = &Candidate>| {
        it.min_by_key(|c| (c.story_span.0, c.story_id, c.item_id))
            .map(|c| (c.story_id, c.item_id))
    };
    if let Some(key) = item.url_key {
        let mut by_url = candidates
            .iter()
            .filter(|c| c.url_key.as_deref() == Some(key));
        if let Some((story, it)) = earliest(&mut by_url) {
            return Some((story, it, MatchReason::Url));
        }
    }
    if !item.title_fp.is_empty() {
        let mut by_title = candidates.iter().filter(|c| {
            c.source_id != item.source_id
                && c.title_fp == item.title_fp
                && in_window(item.event, c.story_span, window)
        });
        if let Some((story, it)) = earliest(&mut by_title) {
            return Some((story, it, MatchReason::Title));
        }
    }
    None
}

/// The first similar story that no veto refuses, and the best refused one before it.
pub fn pick_similar(
    title: &str,
    similar: &[Similar],
    rules: VetoRules,
    names: &NameLexicon,
) -> (Option<SimilarMatch>, Option<NearMiss>) {
    if similar.is_empty() {
        return (None, None);
    }
    if rules == VetoRules::NONE {
        return (Some(similar[0].found), None);
    }
    let features = |t: &str| TitleFeatures::with_names(t, names);
    let mut ours = None;
    let mut near_miss = None;
    for s in similar {
        if s.found.score >= SAME_WORDS_SCORE {
            return (Some(s.found), near_miss);
        }
        let ours = ours.get_or_insert_with(|| features(title));
        // The story's first title is what it is about: a place it names that the item contradicts
        // refuses the item too, even when a more generic member matched. (Names and figures are read
        // only against the matched title: a lead's other details are ordinary paraphrase.)
        let lead_rules = VetoRules {
            places: rules.places,
            ..VetoRules::NONE
        };
        let refused = veto(ours, &features(&s.title), rules).or_else(|| {
            (s.lead_title != s.title)
                .then(|| veto(ours, &features(&s.lead_title), lead_rules))
                .flatten()
        });
        match refused {
            None => return (Some(s.found), near_miss),
            Some(v) => {
                near_miss.get_or_insert(NearMiss {
                    story_id: s.found.story_id,
                    item_id: s.found.item_id,
                    score: s.found.score,
                    veto: v,
                });
            }
        }
    }
    (None, near_miss)
}

/// Decides what an incoming item is. `known` is the same item as stored before, if it changed;
/// `candidates` the stored items sharing its URL key or fingerprint; `similar(k)` is asked, only when no
/// exact match decides, for the index's `k` best similar stories with their titles: for the best one,
/// then, if a veto refuses it, for [`SIMILAR_CANDIDATES`].
pub fn decide<E>(
    item: &Incoming<'_>,
    known: Option<KnownItem>,
    candidates: &[Candidate],
    mut similar: impl FnMut(usize) -> Result<Vec<Similar>, E>,
    index: &TitleIndex,
    policy: &Policy,
) -> Result<Verdict, E> {
    if let Some(k) = known {
        return Ok(same_item(item, k, index, policy));
    }
    let similar_titles = policy.similar_titles();
    let fp = if policy.title_dedupe {
        item.title_fp
    } else {
        ""
    };
    let probe = Incoming {
        title_fp: fp,
        ..item.clone()
    };
    let mut near_miss = None;
    let found = match exact_match(&probe, candidates, policy.window) {
        Some(m) => Some(m),
        None if similar_titles => {
            let names = index.names();
            let (mut m, miss) = pick_similar(item.title, &similar(1)?, policy.veto, names);
            if m.is_none() && miss.is_some() {
                let more = similar(SIMILAR_CANDIDATES)?;
                m = pick_similar(item.title, &more, policy.veto, names).0;
            }
            near_miss = miss;
            m.map(|m| (m.story_id, m.item_id, MatchReason::Similar(m.score)))
        }
        None => None,
    };
    Ok(match found {
        Some((story_id, item_id, reason)) => {
            // Same normalized title as a member: nothing the story's titles do not already match.
            let rep = similar_titles
                && reason != MatchReason::Title
                && index.would_admit(story_id, item.source_id, item.tokens, policy.threshold);
            Verdict {
                decision: Decision::Join {
                    story_id,
                    item_id,
                    reason,
                },
                near_miss,
                title_fp: fp.to_string(),
                title_rep: rep,
                index: if rep {
                    IndexUpdate::AddRep
                } else {
                    IndexUpdate::None
                },
                extend_span: true,
            }
        }
        None => Verdict {
            decision: Decision::New,
            near_miss,
            title_fp: fp.to_string(),
            title_rep: policy.title_dedupe,
            index: if similar_titles {
                IndexUpdate::NewStory
            } else {
                IndexUpdate::None
            },
            extend_span: false,
        },
    })
}

/// The verdict for an entry stored already: it keeps its story. A headline edited into different news
/// keeps its story (no split) but no longer anchors exact-title joins, so it cannot pull that other
/// news in; it stays a representative only while its new title still fits the story.
fn same_item(item: &Incoming<'_>, k: KnownItem, index: &TitleIndex, policy: &Policy) -> Verdict {
    let similar_titles = policy.similar_titles();
    // A headline edited into different news keeps its story (no split) but no longer anchors
    // exact-title joins, so it cannot pull that other news in.
    let fits = !k.title_changed
        || item.title_fp.is_empty()
        || index
            .edit_fits(k.story_id, k.item_id, item.tokens, policy.threshold)
            .unwrap_or(true);
    let still_rep = k.title_rep
        && (!k.title_changed
            || !similar_titles
            || index.edit_keeps(k.story_id, k.item_id, item.tokens, policy.threshold));
    Verdict {
        decision: Decision::SameItem {
            story_id: k.story_id,
        },
        near_miss: None,
        title_fp: if fits {
            item.title_fp.to_string()
        } else {
            String::new()
        },
        title_rep: still_rep,
        index: if similar_titles && k.title_rep && k.title_changed {
            IndexUpdate::EditRep
        } else {
            IndexUpdate::None
        },
        extend_span: false,
    }
}
