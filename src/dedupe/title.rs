//! Titles as compared: normalization, content tokens, fingerprints, URL keys.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use crate::text::fold;

/// A title fingerprint needs this many words to be trusted: "Live updates" or "Letters" recur daily.
const MIN_FINGERPRINT_WORDS: usize = 3;

/// Similarity needs this many content tokens in the incoming title: two words match too much.
pub(super) const MIN_SIMILAR_TOKENS: usize = 2;

/// Weight factor of numbers and calendar words.
pub(super) const CALENDAR_WEIGHT: f32 = 0.5;

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

/// Month names (not "may", a stop word). Dates recur across unrelated stories of one day: these and
/// the lists below weigh less, and the look-alike veto never takes them for names.
pub(super) const MONTHS: &[&str] = &[
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
];

/// Month abbreviations (not "mar": "Mar" is also a word and a name).
pub(super) const MONTH_ABBREVIATIONS: &[&str] = &[
    "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];

pub(super) const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const RELATIVE_DAYS: &[&str] = &["today", "tonight", "yesterday", "tomorrow"];

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
    for w in crate::text::words(segment) {
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
    crate::text::words(&joined).map(str::to_string).collect()
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

pub(super) fn is_calendar(token: &str) -> bool {
    token.chars().all(|c| c.is_ascii_digit())
        || [MONTHS, MONTH_ABBREVIATIONS, WEEKDAYS, RELATIVE_DAYS]
            .iter()
            .any(|list| list.contains(&token))
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

/// Version of [`title_fingerprint`]'s normalization, stored with each item's fingerprint. Raise it with
/// any change to how titles are normalized: the store then re-fingerprints stored items when it opens, so
/// exact-title joins keep meeting old items.
pub const FINGERPRINT_VERSION: i64 = 1;
