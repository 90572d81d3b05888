//! The decision: which stored story (if any) a new item belongs to.

use chrono::{DateTime, Utc};

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

