//! Which sections a story belongs to, and why.
//!
//! Pure. A story is in a section when one of its items puts it there, through:
//! - its source: the source's default `sections` (unless the source has `tagging = "rules"`);
//! - the section's rules (unless the source has `tagging = "source"`), first match wins, in this order:
//!   `categories` (the item's own `<category>`, `<dc:subject>`, Atom category or JSON Feed tag), `paths`
//!   (the article URL's path: a prefix, or a glob with `*` and `?`), `keywords` (whole words or phrases,
//!   case- and accent-insensitive; one written in capitals, like `UN`, only in capitals) and `regex` (over
//!   the title, then the summary).
//!
//! A section's `exclude` words or phrases in an item's title or summary veto that section's rules for
//! the item (never a source's default: the operator chose those). Each tag records its origin, so
//! `syndic stories --explain` can say why a story is where it is.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::config::{LearnApply, SectionConfig, SourceConfig, Tagging};
use crate::tag::learn::Model;

/// Why a story is in a section.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A source of the story lists the section.
    Source(String),
    /// One of the item's own categories is mapped to the section (as written in the config).
    Category(String),
    /// The article URL's path matched (the rule as written).
    Path(String),
    /// A keyword rule matched (as written).
    Keyword(String),
    /// A regular expression matched (the pattern).
    Regex(String),
    /// The learned tagger, with its calibrated confidence as written ("0.93").
    Learned(String),
}

impl Origin {
    /// Compact form stored in SQLite: `source:NAME`, `category:NAME`, `path:RULE`, `keyword:WORDS`,
    /// `regex:PATTERN` or `learned:CONFIDENCE`.
    pub fn encode(&self) -> String {
        match self {
            Origin::Source(s) => format!("source:{s}"),
            Origin::Category(c) => format!("category:{c}"),
            Origin::Path(p) => format!("path:{p}"),
            Origin::Keyword(k) => format!("keyword:{k}"),
            Origin::Regex(r) => format!("regex:{r}"),
            Origin::Learned(c) => format!("learned:{c}"),
        }
    }

    /// The stored form read back (see [`Origin::encode`]); `None` for a form this version does not
    /// know.
    pub fn decode(encoded: &str) -> Option<Origin> {
        let (kind, value) = encoded.split_once(':')?;
        let value = value.to_string();
        Some(match kind {
            "source" => Origin::Source(value),
            "category" => Origin::Category(value),
            "path" => Origin::Path(value),
            "keyword" => Origin::Keyword(value),
            "regex" => Origin::Regex(value),
            "learned" => Origin::Learned(value),
            _ => return None,
        })
    }

    /// The stored forms' prefixes, for an error naming what is known.
    pub const KINDS: &'static str = "source:, category:, path:, keyword:, regex:, learned:";

    /// Whether it is the learned tagger's (the weakest origin: any other replaces it, and it is never
    /// trained on).
    pub fn is_learned(&self) -> bool {
        matches!(self, Origin::Learned(_))
    }

    /// Whether it is a source default (the strongest origin: it replaces a rule's).
    pub fn is_source(&self) -> bool {
        matches!(self, Origin::Source(_))
    }
}

impl fmt::Display for Origin {
    /// The origin in words, as `syndic stories --explain` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Source(name) => write!(f, "default section of source \"{name}\""),
            Origin::Keyword(words) => write!(f, "keyword rule \"{words}\""),
            Origin::Category(name) => write!(f, "the source's own category \"{name}\""),
            Origin::Path(rule) => write!(f, "article URL path rule \"{rule}\""),
            Origin::Regex(pattern) => write!(f, "regex rule /{pattern}/"),
            Origin::Learned(confidence) => write!(f, "learned tagger, confidence {confidence}"),
        }
    }
}

impl serde::Serialize for Origin {
    /// As stored (`"source:Wire"`), which is what `--json` output has always carried.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

/// Compiled section rules, each configured source's default sections and tagging mode, and the learned
/// tagger's current model (shared by clones, replaced after a retrain).
#[derive(Debug, Clone, Default)]
pub struct Tagger {
    sections: Vec<SectionRules>,
    sources: HashMap<String, SourceTags>,
    learned: Arc<RwLock<Option<Arc<Learned>>>>,
    /// The tagging fingerprint this tagger tags by (`service::startup::tagging_fingerprint`), once
    /// set; 0 when unknown (never set, or a model installed since).
    fingerprint: Arc<AtomicI64>,
    /// What the rules read, so that an item is only prepared for those: words as written (a keyword
    /// or exclusion in capitals), the URL path, the categories.
    reads: Reads,
}

/// A trained model and how to apply it.
#[derive(Debug)]
pub struct Learned {
    pub model: Model,
    pub min_confidence: f32,
    pub apply: LearnApply,
    /// For each of the model's labels, whether it is still a configured section the tagger may apply.
    configured: Vec<bool>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Reads {
    capitals: bool,
    paths: bool,
    categories: bool,
}

#[derive(Debug, Clone)]
struct SourceTags {
    sections: Vec<String>,
    tagging: Tagging,
}

#[derive(Debug, Clone)]
struct SectionRules {
    id: String,
    keywords: Vec<Phrase>,
    exclude: Vec<Phrase>,
    /// Folded category names, with the name as written.
    categories: Vec<(String, String)>,
    paths: Vec<PathRule>,
    regex: Vec<Regex>,
    /// Whether the learned tagger may apply this section.
    learn: bool,
}

/// A keyword or exclusion: its words, folded (or, for one written in capitals, as written).
#[derive(Debug, Clone)]
struct Phrase {
    written: String,
    words: Vec<String>,
    capitals: bool,
}

impl Phrase {
    fn new(written: &str) -> Option<Phrase> {
        let capitals = is_capitals(written);
        let words = if capitals {
            raw_words(written)
        } else {
            folded_words(written)
        };
        (!words.is_empty()).then(|| Phrase {
            written: written.to_string(),
            words,
            capitals,
        })
    }

    fn found_in(&self, text: &Words) -> bool {
        let words = if self.capitals {
            &text.raw
        } else {
            &text.folded
        };
        contains_phrase(words, &self.words)
    }
}

#[derive(Debug, Clone)]
struct PathRule {
    written: String,
    /// Lower-cased.
    pattern: String,
    glob: bool,
}

impl PathRule {
    fn new(written: &str) -> PathRule {
        PathRule {
            written: written.to_string(),
            pattern: written.to_lowercase(),
            glob: written.contains(['*', '?']),
        }
    }

    /// `path` is lower-cased.
    fn matches(&self, path: &str) -> bool {
        if self.glob {
            glob_match(self.pattern.as_bytes(), path.as_bytes())
        } else {
            path.starts_with(&self.pattern)
        }
    }
}

/// What the tagger needs to know about one item of a story.
pub struct ItemText<'a> {
    pub source_name: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub url: Option<&'a str>,
    pub categories: &'a [String],
}

/// An item's words, folded and as written, title and summary apart.
struct Words {
    folded: Vec<String>,
    raw: Vec<String>,
}

impl Words {
    /// `raw`: also the words as written (for capitals-only phrases).
    fn of(title: &str, summary: &str, raw: bool) -> Words {
        // An empty word between title and summary: a phrase never spans the two.
        let join = |mut a: Vec<String>, b: Vec<String>| {
            a.push(String::new());
            a.extend(b);
            a
        };
        Words {
            folded: join(folded_words(title), folded_words(summary)),
            raw: if raw {
                join(raw_words(title), raw_words(summary))
            } else {
                Vec::new()
            },
        }
    }
}

impl Tagger {
    /// Compiles the rules. Patterns were validated with the config; one that does not compile here is
    /// left out.
    pub fn new(sections: &[SectionConfig], sources: &[SourceConfig]) -> Tagger {
        let sections: Vec<SectionRules> = sections
            .iter()
            .map(|s| SectionRules {
                id: s.id.clone(),
                keywords: s.keywords.iter().filter_map(|k| Phrase::new(k)).collect(),
                exclude: s.exclude.iter().filter_map(|k| Phrase::new(k)).collect(),
                categories: s
                    .categories
                    .iter()
                    .map(|c| (fold(c.trim()), c.clone()))
                    .filter(|(f, _)| !f.is_empty())
                    .collect(),
                paths: s.paths.iter().map(|p| PathRule::new(p)).collect(),
                regex: s.regex.iter().filter_map(|r| Regex::new(r).ok()).collect(),
                learn: s.learn,
            })
            .collect();
        let sources = sources
            .iter()
            .map(|s| {
                let tags = SourceTags {
                    sections: s.sections.clone(),
                    tagging: s.tagging,
                };
                (s.name.clone(), tags)
            })
            .collect();
        let reads = Reads {
            capitals: sections
                .iter()
                .flat_map(|s| s.keywords.iter().chain(&s.exclude))
                .any(|p| p.capitals),
            paths: sections.iter().any(|s| !s.paths.is_empty()),
            categories: sections.iter().any(|s| !s.categories.is_empty()),
        };
        Tagger {
            sections,
            sources,
            learned: Arc::default(),
            fingerprint: Arc::default(),
            reads,
        }
    }

    /// The tagging fingerprint this tagger tags by (0: unknown). A refresh applied by a tagger whose
    /// fingerprint is not the one the stored stories were last retagged for clears that mark, so the
    /// next start or reload retags them (`Store::retag_unless_tagged_by`).
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint.load(Ordering::Relaxed)
    }

    /// Records the tagging fingerprint of this tagger with its model as now installed.
    pub fn set_fingerprint(&self, fingerprint: i64) {
        self.fingerprint.store(fingerprint, Ordering::Relaxed);
    }

    /// Installs (or with `None` removes) the learned tagger's model. Labels that are not configured
    /// sections, or whose section says `learn = false`, are never applied.
    pub fn set_model(&self, model: Option<Model>, min_confidence: f64, apply: LearnApply) {
        let learned = model.map(|model| {
            let configured = model
                .labels()
                .iter()
                .map(|l| self.sections.iter().any(|s| s.id == *l && s.learn))
                .collect();
            Arc::new(Learned {
                model,
                min_confidence: min_confidence as f32,
                apply,
                configured,
            })
        });
        *self.learned.write().unwrap_or_else(|e| e.into_inner()) = learned;
        // Another model tags otherwise than the fingerprint worked out with the one before.
        self.fingerprint.store(0, Ordering::Relaxed);
    }

    /// The learned tagger, when a model is installed.
    pub fn learned(&self) -> Option<Arc<Learned>> {
        self.learned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sections of a story made of `items`, each with its first origin (source defaults, then rules,
    /// then the learned tagger).
    pub fn tag(&self, items: &[ItemText<'_>]) -> BTreeMap<String, Origin> {
        self.tag_story(items, false)
    }

    /// As [`Tagger::tag`], for items joining a story that `has_sections` already (from a source or a
    /// rule): the learned tagger, when it only tags untagged stories, leaves them alone.
    pub fn tag_story(
        &self,
        items: &[ItemText<'_>],
        has_sections: bool,
    ) -> BTreeMap<String, Origin> {
        let mut out: BTreeMap<String, Origin> = BTreeMap::new();
        for it in items {
            let Some(src) = self.sources.get(it.source_name) else {
                continue;
            };
            if src.tagging == Tagging::Rules {
                continue;
            }
            for s in &src.sections {
                out.entry(s.clone())
                    .or_insert_with(|| Origin::Source(it.source_name.to_string()));
            }
        }
        for it in items {
            let tagging = self
                .sources
                .get(it.source_name)
                .map_or(Tagging::Both, |s| s.tagging);
            if tagging == Tagging::Source {
                continue;
            }
            let text = Words::of(it.title, it.summary, self.reads.capitals);
            let path = it.url.filter(|_| self.reads.paths).and_then(url_path);
            let categories: Vec<Vec<String>> = if self.reads.categories {
                it.categories.iter().map(|c| category_forms(c)).collect()
            } else {
                Vec::new()
            };
            for rules in &self.sections {
                if out.contains_key(&rules.id) || rules.exclude.iter().any(|e| e.found_in(&text)) {
                    continue;
                }
                if let Some(origin) = rules.first_match(&text, path.as_deref(), &categories, it) {
                    out.insert(rules.id.clone(), origin);
                }
            }
        }
        if let Some(learned) = self.learned() {
            let untagged = out.is_empty() && !has_sections;
            if learned.apply == LearnApply::All || untagged {
                self.add_learned(&learned, items, &mut out);
            }
        }
        out
    }

    /// Sections the model gives the story's lead item (the first whose source lets rules tag it) at
    /// or above the threshold.
    fn add_learned(
        &self,
        learned: &Learned,
        items: &[ItemText<'_>],
        out: &mut BTreeMap<String, Origin>,
    ) {
        let Some(lead) = items.iter().find(|it| {
            self.sources
                .get(it.source_name)
                .is_none_or(|s| s.tagging != Tagging::Source)
        }) else {
            return;
        };
        let probs = learned.model.predict(lead.title, lead.summary);
        for (i, p) in probs.iter().enumerate() {
            let label = &learned.model.labels()[i];
            if *p >= learned.min_confidence && learned.configured[i] && !out.contains_key(label) {
                out.insert(label.clone(), Origin::Learned(format!("{p:.2}")));
            }
        }
    }
}

impl SectionRules {
    fn first_match(
        &self,
        text: &Words,
        path: Option<&str>,
        categories: &[Vec<String>],
        item: &ItemText<'_>,
    ) -> Option<Origin> {
        if let Some((_, written)) = self
            .categories
            .iter()
            .find(|(c, _)| categories.iter().any(|forms| forms.contains(c)))
        {
            return Some(Origin::Category(written.clone()));
        }
        if let Some(rule) = path.and_then(|p| self.paths.iter().find(|r| r.matches(p))) {
            return Some(Origin::Path(rule.written.clone()));
        }
        if let Some(k) = self.keywords.iter().find(|k| k.found_in(text)) {
            return Some(Origin::Keyword(k.written.clone()));
        }
        self.regex
            .iter()
            .find(|r| r.is_match(item.title) || r.is_match(item.summary))
            .map(|r| Origin::Regex(r.as_str().to_string()))
    }
}

/// The forms of a source's category that a rule may name: the whole (folded), and for a hierarchical
/// one ("News/World/Asia", "Business > Markets") each part.
fn category_forms(category: &str) -> Vec<String> {
    let whole = fold(category.trim());
    let mut forms: Vec<String> = category
        .split(['/', '>', '|', ':'])
        .map(|p| fold(p.trim()))
        .filter(|p| !p.is_empty() && *p != whole)
        .collect();
    forms.push(whole);
    forms
}

/// The lower-cased path of an absolute URL.
fn url_path(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|u| u.path().to_lowercase())
}

/// Lower case without accents: "Café" → "cafe", "Straße" → "strasse" (headline matching's fold, after
/// the accents are gone).
fn fold(s: &str) -> String {
    crate::text::fold(&strip_accents(s))
}

fn strip_accents(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    s.nfd().filter(|c| !is_combining_mark(*c)).nfc().collect()
}

/// Whether a keyword is written in capitals ("UN", "EU", "G7"): at least two letters, none lower-case.
fn is_capitals(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2 && letters.iter().all(|c| !c.is_lowercase())
}

/// Folded words of letters and digits.
fn folded_words(s: &str) -> Vec<String> {
    split_words(&fold(s))
}

/// Words of letters and digits as written (accents removed).
fn raw_words(s: &str) -> Vec<String> {
    split_words(&strip_accents(s))
}

fn split_words(s: &str) -> Vec<String> {
    crate::text::words(s).map(str::to_string).collect()
}

fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

/// Glob over bytes: `*` any run (also across `/`), `?` one byte, anything else itself.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;
