//! Story identity: which stored story (if any) a new item belongs to.
//!
//! Pure functions only; the store supplies candidates and applies the decision. Layers, tried in order:
//! 1. the same source already has this item (same key) → [`Decision::SameItem`];
//! 2. an item with the same URL key exists (any source) → join its story;
//! 3. an item from a *different* source with the same title fingerprint, in a story first seen within the
//!    window → join its story.
//!
//! Title *similarity* (near-identical wording) slots in as a further layer behind [`match_story`]:
//! candidates already carry the fingerprint and first-seen time it needs.

use chrono::{DateTime, Utc};

/// A title fingerprint needs this many words to be trusted: "Live updates" or "Letters" recur daily.
const MIN_FINGERPRINT_WORDS: usize = 3;

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

/// Normalized title: lower case, words of letters and digits only, single spaces. Empty when the title is
/// too short to identify a story.
pub fn title_fingerprint(title: &str) -> String {
    let lowered = title.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < MIN_FINGERPRINT_WORDS {
        return String::new();
    }
    words.join(" ")
}

/// A stored item that might report the same story as a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
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

/// Why an item joined a story (kept for explanations and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchReason {
    Url,
    Title,
}

/// The incoming item's identity, as the matcher sees it.
pub struct Probe<'a> {
    pub source_id: i64,
    pub url_key: Option<&'a str>,
    pub title_fp: &'a str,
    pub now: DateTime<Utc>,
}

/// Chooses the story for a new item among candidates (those sharing its URL key or fingerprint).
pub fn match_story(
    probe: &Probe<'_>,
    candidates: &[Candidate],
    window: chrono::Duration,
) -> Option<(i64, MatchReason)> {
    // The earliest story wins when several match, so clusters converge on one id.
    let earliest = |it: &mut dyn Iterator<Item = &Candidate>| {
        it.min_by_key(|c| (c.story_first_seen, c.story_id))
            .map(|c| c.story_id)
    };
    if let Some(key) = probe.url_key {
        let mut by_url = candidates
            .iter()
            .filter(|c| c.url_key.as_deref() == Some(key));
        if let Some(id) = earliest(&mut by_url) {
            return Some((id, MatchReason::Url));
        }
    }
    if !probe.title_fp.is_empty() {
        let mut by_title = candidates.iter().filter(|c| {
            c.source_id != probe.source_id
                && c.title_fp == probe.title_fp
                && probe.now - c.story_first_seen <= window
        });
        if let Some(id) = earliest(&mut by_title) {
            return Some((id, MatchReason::Title));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(story: i64, source: i64, url: Option<&str>, title: &str, age_h: i64) -> Candidate {
        Candidate {
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
            Some((2, MatchReason::Url))
        );
        let probe = Probe {
            source_id: 1,
            url_key: None,
            title_fp: &fp,
            now: now(),
        };
        assert_eq!(
            match_story(&probe, &cands, chrono::Duration::hours(72)),
            Some((7, MatchReason::Title))
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
}
