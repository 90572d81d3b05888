//! The look-alike veto: two headlines with the same frame about different events ("quake hits northern
//! Chile" / "quake hits southern Japan") score high on shared words, yet name different places, people
//! or organisations, or give different identifying figures. A similar-title join needs them to agree.
//!
//! Features read from the original title (its case matters):
//! - **places**: country names and their demonyms ("Japan", "Japanese"), mapped to one form;
//! - **names**: capitalised words of a sentence-case headline that are not its first word (in a Title
//!   Case or ALL CAPS headline capitals say nothing, and only its places count), plus its places;
//! - **numbers**: figures ("6.1", "12", "nine"), and
//! - **calendar**: weekdays ("How the Dow fared Thursday" is not Tuesday's).
//!
//! A rule vetoes when *each* title has such a feature the other lacks: one title naming a person the
//! other leaves out is ordinary paraphrase; both naming someone the other does not is two events. The
//! rules and what each buys on the shared headline sets are in `docs/design.md` ("Look-alike veto").

mod features;
mod words;

use std::fmt;

pub use features::{NameLexicon, TitleFeatures};

/// The veto rules, each switchable in `[dedupe].veto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VetoRules {
    pub places: bool,
    pub names: bool,
    pub numbers: bool,
    pub calendar: bool,
}

impl Default for VetoRules {
    fn default() -> Self {
        VetoRules::ALL
    }
}

impl VetoRules {
    pub const ALL: VetoRules = VetoRules {
        places: true,
        names: true,
        numbers: true,
        calendar: true,
    };
    pub const NONE: VetoRules = VetoRules {
        places: false,
        names: false,
        numbers: false,
        calendar: false,
    };
    /// The rule names accepted in `[dedupe].veto`.
    pub const NAMES: [&'static str; 4] = ["places", "names", "numbers", "calendar"];

    /// Sets one rule by name; false for an unknown name.
    pub fn enable(&mut self, name: &str) -> bool {
        match name {
            "places" => self.places = true,
            "names" => self.names = true,
            "numbers" => self.numbers = true,
            "calendar" => self.calendar = true,
            _ => return false,
        }
        true
    }
}

/// Why a similar title was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veto {
    pub kind: VetoKind,
    /// What the incoming title names that the other does not, and the reverse.
    pub ours: String,
    pub theirs: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VetoKind {
    Places,
    Names,
    Numbers,
    Calendar,
}

impl VetoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VetoKind::Places => "places",
            VetoKind::Names => "names",
            VetoKind::Numbers => "numbers",
            VetoKind::Calendar => "calendar",
        }
    }

    pub fn parse(s: &str) -> Option<VetoKind> {
        match s {
            "places" => Some(VetoKind::Places),
            "names" => Some(VetoKind::Names),
            "numbers" => Some(VetoKind::Numbers),
            "calendar" => Some(VetoKind::Calendar),
            _ => None,
        }
    }
}

impl VetoKind {
    /// The rule's finding in words, as a stored refusal begins.
    fn finding(self) -> &'static str {
        match self {
            VetoKind::Places => "different places",
            VetoKind::Names => "different names",
            VetoKind::Numbers => "different figures",
            VetoKind::Calendar => "different days",
        }
    }
}

impl Veto {
    /// A refusal as stored (its [`fmt::Display`] form, "different places: chile / japan") read back;
    /// `None` when the text is not one.
    pub fn parse_stored(text: &str) -> Option<Veto> {
        let (finding, words) = text.split_once(": ")?;
        let kind = [
            VetoKind::Places,
            VetoKind::Names,
            VetoKind::Numbers,
            VetoKind::Calendar,
        ]
        .into_iter()
        .find(|k| k.finding() == finding)?;
        let (ours, theirs) = words.split_once(" / ")?;
        Some(Veto {
            kind,
            ours: ours.to_string(),
            theirs: theirs.to_string(),
        })
    }
}

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} / {}",
            self.kind.finding(),
            self.ours,
            self.theirs
        )
    }
}

impl serde::Serialize for Veto {
    /// In words, as stored and as `--json` output has always carried it.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Words of the frame two titles may differ in, besides the features, for the names and numbers rules
/// to apply: beyond it the titles are paraphrases that happen to give different details, not one frame
/// with another name or figure in it.
const FRAME_SLACK: usize = 2;

/// Two folded words name the same thing: equal, the same place, or sharing a stem of at least four
/// letters with at most three more each ("Chile"/"Chilean", "Kenya"/"Kenyans", "Obama"/"Obama's").
/// `pa`, `pb`: the place each word names, looked up by the caller (comparisons are pairwise).
fn same_name_p(a: &str, pa: Option<&str>, b: &str, pb: Option<&str>) -> bool {
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (pa, pb) {
        return x == y;
    }
    if a.is_ascii() && b.is_ascii() {
        let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        return common >= 4 && a.len() <= common + 3 && b.len() <= common + 3;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    common >= 4 && a.chars().count() <= common + 3 && b.chars().count() <= common + 3
}

/// What `a` holds that `b` does not.
fn minus(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

/// The first rule (in the order places, names, numbers, calendar) under which the two titles name
/// different things, each something the other does not.
pub fn veto(ours: &TitleFeatures, theirs: &TitleFeatures, rules: VetoRules) -> Option<Veto> {
    let distinct = |a: &[String], other: &TitleFeatures| -> Vec<String> {
        a.iter().filter(|n| !other.mentions(n)).cloned().collect()
    };
    // Each side's features the other lacks, as a veto when both have some.
    let check = |kind: VetoKind, a: Vec<String>, b: Vec<String>| {
        (!a.is_empty() && !b.is_empty()).then(|| Veto {
            kind,
            ours: a.join(", "),
            theirs: b.join(", "),
        })
    };
    if rules.places
        && let Some(v) = check(
            VetoKind::Places,
            minus(&ours.places, &theirs.places),
            minus(&theirs.places, &ours.places),
        )
    {
        return Some(v);
    }
    // Names and figures veto only a shared frame: each title differs from the other in those and in at
    // most FRAME_SLACK other words.
    let same_frame = |a: &[String], b: &[String]| {
        let features = [
            &ours.names[..],
            &ours.places,
            &theirs.names,
            &theirs.places,
            a,
            b,
        ];
        ours.frame_difference(theirs, &features) <= FRAME_SLACK
            && theirs.frame_difference(ours, &features) <= FRAME_SLACK
    };
    let framed = |kind: VetoKind, a: Vec<String>, b: Vec<String>| {
        (!a.is_empty() && !b.is_empty() && same_frame(&a, &b))
            .then(|| check(kind, a, b))
            .flatten()
    };
    if rules.names {
        let mut a = distinct(&ours.names, theirs);
        a.extend(minus(&ours.places, &theirs.places));
        let mut b = distinct(&theirs.names, ours);
        b.extend(minus(&theirs.places, &ours.places));
        if let Some(v) = framed(VetoKind::Names, a, b) {
            return Some(v);
        }
    }
    // Only when they share no figure at all: "9 dead" / "12 dead, 9 missing" is one toll updated.
    let shared_figure = ours.numbers.iter().any(|n| theirs.numbers.contains(n));
    if rules.numbers
        && !shared_figure
        && let Some(v) = framed(
            VetoKind::Numbers,
            minus(&ours.numbers, &theirs.numbers),
            minus(&theirs.numbers, &ours.numbers),
        )
    {
        return Some(v);
    }
    if rules.calendar {
        return check(
            VetoKind::Calendar,
            minus(&ours.weekdays, &theirs.weekdays),
            minus(&theirs.weekdays, &ours.weekdays),
        );
    }
    None
}

#[cfg(test)]
mod tests;
