//! What the veto reads in a headline: its places, names (capitalised non-initial words of sentence-case
//! titles, or words a learned lexicon knows as names) and figures.

use hashbrown::HashMap;

use crate::dedupe::title::WEEKDAYS;
use crate::text::fold;

use super::same_name_p;
use super::words::{PAIR_STARTS, not_name, number_of, place_of};

/// What a title names, as the veto reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TitleFeatures {
    /// Every word, folded (to see whether the other title mentions a name in any case).
    pub(super) words: Vec<String>,
    pub(super) places: Vec<String>,
    /// Capitalised non-initial words of a sentence-case title (folded).
    pub(super) names: Vec<String>,
    pub(super) numbers: Vec<String>,
    pub(super) weekdays: Vec<String>,
    /// Content words (folded, no stop words or single letters): the frame.
    pub(super) content: Vec<String>,
    /// The place each of `words` and `content` names, if any (looked up once: comparisons are pairwise).
    pub(super) word_places: Vec<Option<&'static str>>,
    pub(super) content_places: Vec<Option<&'static str>>,
}

/// Splits a title into words with their original case and positions: letters, digits and inner `.`/`,`
/// of figures. Unlike [`crate::text::words`] it keeps figures whole ("1.5", "10,000") and where each
/// word stands (the veto compares figures and reads names by position).
pub(super) fn raw_words(title: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::with_capacity(16);
    let mut start = None;
    let mut prev = ' ';
    let mut chars = title.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner_mark = (c == '.' || c == ',')
            && start.is_some()
            && prev.is_ascii_digit()
            && chars.peek().is_some_and(|&(_, n)| n.is_ascii_digit());
        if c.is_alphanumeric() || inner_mark {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push((s, &title[s..i]));
        }
        prev = c;
    }
    if let Some(s) = start {
        out.push((s, &title[s..]));
    }
    out
}

/// Starts of clauses in a headline: its beginning and after `:`, ` - `, `|`, `"` or `'`: a word there is
/// capitalised by grammar, not because it is a name.
pub(super) fn clause_starts(title: &str) -> Vec<usize> {
    let mut starts = vec![0];
    for (i, c) in title.char_indices() {
        if matches!(
            c,
            ':' | '|' | '"' | '\u{201C}' | '\u{2018}' | '?' | '!' | ';'
        ) || (c == '-' && title[i + 1..].starts_with(' '))
        {
            starts.push(i + c.len_utf8());
        }
        if c == '\'' && (i == 0 || title[..i].ends_with(' ')) {
            starts.push(i + 1);
        }
    }
    starts
}

pub(super) fn capital(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// A headline's words as the veto reads them.
pub(super) struct Scan<'a> {
    /// (byte offset, word as written)
    raw: Vec<(usize, &'a str)>,
    /// The same words, folded.
    words: Vec<String>,
    /// Whether capitals carry information (not Title Case, not ALL CAPS).
    sentence_case: bool,
    /// Per word: at the start of a clause (capitalised by grammar).
    clause_start: Vec<bool>,
}

impl Scan<'_> {
    fn of(title: &str) -> Scan<'_> {
        let raw = raw_words(title);
        let words: Vec<String> = raw
            .iter()
            .map(|(_, w)| {
                if w.is_ascii() {
                    w.to_ascii_lowercase()
                } else {
                    fold(w)
                }
            })
            .collect();
        let alpha: Vec<(&str, &String)> = raw
            .iter()
            .zip(&words)
            .map(|((_, w), f)| (*w, f))
            .filter(|(w, f)| w.chars().next().is_some_and(char::is_alphabetic) && !not_name(f))
            .collect();
        let capitalised = alpha.iter().filter(|(w, _)| capital(w)).count();
        let sentence_case = alpha.len() < 3 || capitalised * 10 < alpha.len() * 6;
        let starts = clause_starts(title);
        let clause_start = raw
            .iter()
            .map(|(at, _)| {
                starts
                    .iter()
                    .any(|&s| s <= *at && title[s..*at].trim().is_empty())
            })
            .collect();
        Scan {
            raw,
            words,
            sentence_case,
            clause_start,
        }
    }

    /// Whether the `k`th word could be a name by its position and form (a capital is not required).
    fn name_slot(&self, k: usize) -> bool {
        let folded = &self.words[k];
        !self.clause_start[k]
            && folded.chars().count() > 1
            && self.raw[k]
                .1
                .chars()
                .next()
                .is_some_and(char::is_alphabetic)
            && !not_name(folded)
    }
}

/// Which words are names, learned from the headlines syndic stores: a word written with a capital in
/// the middle of sentence-case headlines (not at a clause's start) at least twice, and at least four
/// times as often as in lower case, is a name. A Title Case headline, whose capitals say nothing, then
/// names it. Bounded: once it holds [`NameLexicon::MAX_WORDS`] words it only counts those.
#[derive(Debug, Default, Clone)]
pub struct NameLexicon {
    counts: HashMap<String, [u32; 2]>,
}

impl NameLexicon {
    pub const MAX_WORDS: usize = 200_000;

    /// Counts the capitals of a sentence-case headline (others teach nothing).
    pub fn learn(&mut self, title: &str) {
        self.record(NameLexicon::observe(title));
    }

    /// What a headline teaches: its words in name positions (folded), and whether each was written
    /// with a capital; nothing for a Title Case or ALL CAPS headline. Pure, so the store reads it
    /// before it takes its lock and [`NameLexicon::record`]s it after the commit.
    pub fn observe(title: &str) -> Vec<(String, bool)> {
        // One pass, allocating only for what it returns: it runs for every new headline. A Title Case
        // headline (most words capitalised) is told apart first, without allocating at all.
        let (mut words, mut caps) = (0usize, 0usize);
        for w in title.split_whitespace() {
            if let Some(c) = w.chars().next().filter(|c| c.is_alphabetic()) {
                words += 1;
                caps += usize::from(c.is_uppercase());
            }
        }
        if words >= 4 && caps * 10 >= words * 8 {
            return Vec::new();
        }
        let mut candidates: Vec<(&str, bool)> = Vec::with_capacity(16);
        let (mut alpha, mut capitalised) = (0usize, 0usize);
        let mut prev_end = 0;
        let mut buf = [0u8; 32];
        for (n, (at, w)) in raw_words(title).into_iter().enumerate() {
            let gap = &title[prev_end..at];
            prev_end = at + w.len();
            let clause = n == 0
                || gap.contains([':', '|', '"', '\u{201C}', '\u{2018}', '?', '!', ';'])
                || gap.contains("- ")
                || gap.contains(" '");
            if !w.chars().next().is_some_and(char::is_alphabetic) {
                continue;
            }
            let folded: std::borrow::Cow<'_, str> = if w.is_ascii() && w.len() <= buf.len() {
                let b = &mut buf[..w.len()];
                b.copy_from_slice(w.as_bytes());
                b.make_ascii_lowercase();
                std::borrow::Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default())
            } else {
                std::borrow::Cow::Owned(fold(w))
            };
            if not_name(&folded) {
                continue;
            }
            let cap = capital(w);
            alpha += 1;
            capitalised += usize::from(cap);
            if !clause && w.chars().count() > 1 {
                candidates.push((w, cap));
            }
        }
        let sentence_case = alpha < 3 || capitalised * 10 < alpha * 6;
        if !sentence_case {
            return Vec::new();
        }
        candidates
            .into_iter()
            .map(|(w, cap)| (fold(w), cap))
            .collect()
    }

    /// Counts the observations of one headline.
    pub fn record(&mut self, observed: Vec<(String, bool)>) {
        for (word, capitalised) in observed {
            let i = usize::from(!capitalised);
            let room = self.counts.len() < Self::MAX_WORDS;
            match self.counts.get_mut(&word) {
                Some(c) => c[i] = c[i].saturating_add(1),
                None if room => {
                    let mut c = [0, 0];
                    c[i] = 1;
                    self.counts.insert(word, c);
                }
                None => {}
            }
        }
    }

    /// Whether a folded word is known as a name.
    pub fn is_name(&self, folded: &str) -> bool {
        self.counts
            .get(folded)
            .is_some_and(|&[cap, lower]| cap >= 2 && cap >= lower.saturating_mul(4))
    }
}

impl TitleFeatures {
    /// Reads a headline's features (a Title Case headline names nothing but places).
    pub fn of(title: &str) -> TitleFeatures {
        TitleFeatures::with_names(title, &NameLexicon::default())
    }

    /// Reads a headline's features; in a Title Case headline, the words the lexicon knows as names are
    /// its names.
    pub fn with_names(title: &str, lexicon: &NameLexicon) -> TitleFeatures {
        let scan = Scan::of(title);
        let Scan {
            raw,
            words,
            sentence_case,
            ..
        } = &scan;
        let sentence_case = *sentence_case;
        let mut f = TitleFeatures::default();
        for (k, (_, w)) in raw.iter().enumerate() {
            let folded = &words[k];
            // Two-word places first ("new zealand", "south korea").
            if let Some(next) = words.get(k + 1)
                && PAIR_STARTS.contains(&folded.as_str())
                && let Some(country) = place_of(&format!("{folded} {next}"))
            {
                push_once(&mut f.places, country);
            }
            if let Some(country) = place_of(folded) {
                // "Jordan" and "Turkey" are also a name and a bird: only capitalised.
                if capital(w) {
                    push_once(&mut f.places, country);
                }
            }
            if let Some(n) = number_of(w) {
                push_once(&mut f.numbers, &n);
            }
            if WEEKDAYS.contains(&folded.as_str()) {
                push_once(&mut f.weekdays, folded);
            }
            if folded.chars().count() > 1 && !crate::dedupe::is_stop_word(folded) {
                push_once(&mut f.content, folded);
            }
            let named = if sentence_case {
                capital(w)
            } else {
                lexicon.is_name(folded)
            };
            if named && scan.name_slot(k) {
                push_once(&mut f.names, folded);
            }
        }
        f.word_places = scan.words.iter().map(|w| place_of(w)).collect();
        f.content_places = f.content.iter().map(|w| place_of(w)).collect();
        f.words = scan.words;
        f
    }

    /// Does this title mention the name, in any case, form or as an acronym?
    pub(super) fn mentions(&self, name: &str) -> bool {
        let place = place_of(name);
        self.words
            .iter()
            .zip(&self.word_places)
            .any(|(w, &wp)| same_name_p(w, wp, name, place))
            || place.is_some_and(|p| self.places.iter().any(|x| x == p))
            || self.acronym_of(name)
    }

    /// Content words of this title that the other lacks and that are not among `features`.
    pub(super) fn frame_difference(&self, other: &TitleFeatures, features: &[&[String]]) -> usize {
        self.content
            .iter()
            .zip(&self.content_places)
            .filter(|&(w, wp)| {
                !other
                    .content
                    .iter()
                    .zip(&other.content_places)
                    .any(|(o, &op)| same_name_p(o, op, w, *wp))
            })
            .filter(|&(w, wp)| {
                !features
                    .iter()
                    .any(|f| f.iter().any(|x| x == w || *wp == Some(x.as_str())))
            })
            .filter(|(w, _)| number_of(w).is_none_or(|n| !self.numbers.contains(&n)))
            .count()
    }

    /// Whether `name` is an acronym of consecutive words of this title ("GM": "General Motors").
    pub(super) fn acronym_of(&self, name: &str) -> bool {
        let n = name.chars().count();
        if !(2..=5).contains(&n) || !name.chars().all(|c| c.is_alphabetic()) {
            return false;
        }
        self.words.windows(n).any(|ws| {
            ws.iter()
                .zip(name.chars())
                .all(|(w, c)| w.starts_with(c) && w.len() > 1)
        })
    }
}

pub(super) fn push_once(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}
