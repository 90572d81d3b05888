//! Which sections a story belongs to, and why.
//!
//! Pure: a story gets the default sections of the sources of its items, plus every section with a
//! keyword (word or phrase) that occurs as whole words, case-insensitively, in an item's title or summary.
//! Each tag records its origin so `syndic stories` (and later an explanation endpoint) can say why.

use std::collections::BTreeMap;

use crate::config::SectionConfig;

/// Why a story is in a section.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A source of the story lists the section.
    Source(String),
    /// A keyword rule matched.
    Keyword(String),
}

impl Origin {
    /// Compact form stored in SQLite: `source:NAME` or `keyword:WORDS`.
    pub fn encode(&self) -> String {
        match self {
            Origin::Source(s) => format!("source:{s}"),
            Origin::Keyword(k) => format!("keyword:{k}"),
        }
    }
}

/// Compiled keyword rules.
#[derive(Debug, Clone)]
pub struct Tagger {
    rules: Vec<SectionRules>,
}

/// A section id and its keywords, each as written and as lower-cased words.
type SectionRules = (String, Vec<(String, Vec<String>)>);

/// What the tagger needs to know about one item of a story.
pub struct ItemText<'a> {
    pub source_name: &'a str,
    pub source_sections: &'a [String],
    pub title: &'a str,
    pub summary: &'a str,
}

impl Tagger {
    pub fn new(sections: &[SectionConfig]) -> Tagger {
        let rules = sections
            .iter()
            .map(|s| {
                let kws = s
                    .keywords
                    .iter()
                    .map(|k| (k.clone(), words(k)))
                    .filter(|(_, w)| !w.is_empty())
                    .collect();
                (s.id.clone(), kws)
            })
            .collect();
        Tagger { rules }
    }

    /// Sections of a story made of `items`, each with its first origin (source tags before keywords).
    pub fn tag(&self, items: &[ItemText<'_>]) -> BTreeMap<String, Origin> {
        let mut out: BTreeMap<String, Origin> = BTreeMap::new();
        for it in items {
            for s in it.source_sections {
                out.entry(s.clone())
                    .or_insert_with(|| Origin::Source(it.source_name.to_string()));
            }
        }
        for it in items {
            let mut text = words(it.title);
            text.push(String::new()); // a boundary: a phrase must not span title and summary
            text.extend(words(it.summary));
            for (section, kws) in &self.rules {
                if out.contains_key(section) {
                    continue;
                }
                if let Some((kw, _)) = kws.iter().find(|(_, kw)| contains_phrase(&text, kw)) {
                    out.insert(section.clone(), Origin::Keyword(kw.clone()));
                }
            }
        }
        out
    }
}

/// Lower-cased words of letters and digits.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagger() -> Tagger {
        Tagger::new(&[
            SectionConfig {
                id: "asia".into(),
                title: "Asia".into(),
                keywords: vec!["Korea".into(), "South China Sea".into()],
            },
            SectionConfig {
                id: "business".into(),
                title: "Business".into(),
                keywords: vec!["stocks".into(), "central bank".into()],
            },
        ])
    }

    fn item<'a>(title: &'a str, summary: &'a str, sections: &'a [String]) -> ItemText<'a> {
        ItemText {
            source_name: "Wire",
            source_sections: sections,
            title,
            summary,
        }
    }

    #[test]
    fn whole_words_case_insensitive_phrases() {
        let t = tagger();
        let none: Vec<String> = vec![];
        let got = t.tag(&[item("KOREA talks resume", "", &none)]);
        assert_eq!(got.get("asia"), Some(&Origin::Keyword("Korea".into())));
        assert!(t.tag(&[item("Koreatown food fair", "", &none)]).is_empty());
        let got = t.tag(&[item("Patrols", "Ships in the south china sea again", &none)]);
        assert!(got.contains_key("asia"));
        assert!(
            t.tag(&[item("South China", "Sea levels rise", &none)])
                .is_empty()
        );
        let got = t.tag(&[item("The Central-Bank raises rates", "", &none)]);
        assert!(got.contains_key("business"));
    }

    #[test]
    fn source_sections_come_first_and_union_over_items() {
        let t = tagger();
        let world = vec!["world".to_string()];
        let asia = vec!["asia".to_string()];
        let got = t.tag(&[
            item("Korea summit", "", &world),
            ItemText {
                source_name: "Desk",
                source_sections: &asia,
                title: "x",
                summary: "",
            },
        ]);
        assert_eq!(got.get("world"), Some(&Origin::Source("Wire".into())));
        assert_eq!(got.get("asia"), Some(&Origin::Source("Desk".into())));
        assert_eq!(got.len(), 2);
    }
}
