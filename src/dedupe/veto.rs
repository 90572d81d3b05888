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

use hashbrown::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use super::title::{MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS};
use crate::text::fold;

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

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            VetoKind::Places => "different places",
            VetoKind::Names => "different names",
            VetoKind::Numbers => "different figures",
            VetoKind::Calendar => "different days",
        };
        write!(f, "{what}: {} / {}", self.ours, self.theirs)
    }
}

/// Irregular country forms: (form, country). Regular demonyms ("Chilean", "Kenyan", "Japanese") meet
/// their country through [`same_name_p`]'s shared-stem test.
const PLACE_FORMS: &[(&str, &str)] = &[
    ("american", "us"),
    ("americans", "us"),
    ("america", "us"),
    ("usa", "us"),
    ("britain", "uk"),
    ("british", "uk"),
    ("england", "uk"),
    ("english", "uk"),
    ("scotland", "uk"),
    ("scottish", "uk"),
    ("wales", "uk"),
    ("welsh", "uk"),
    ("france", "france"),
    ("french", "france"),
    ("netherlands", "netherlands"),
    ("dutch", "netherlands"),
    ("holland", "netherlands"),
    ("switzerland", "switzerland"),
    ("swiss", "switzerland"),
    ("philippines", "philippines"),
    ("filipino", "philippines"),
    ("philippine", "philippines"),
    ("spain", "spain"),
    ("spanish", "spain"),
    ("poland", "poland"),
    ("polish", "poland"),
    ("ireland", "ireland"),
    ("irish", "ireland"),
    ("denmark", "denmark"),
    ("danish", "denmark"),
    ("danes", "denmark"),
    ("finland", "finland"),
    ("finnish", "finland"),
    ("sweden", "sweden"),
    ("swedish", "sweden"),
    ("turkey", "turkey"),
    ("turkish", "turkey"),
    ("greece", "greece"),
    ("greek", "greece"),
    ("china", "china"),
    ("chinese", "china"),
    ("beijing", "china"),
    ("japan", "japan"),
    ("japanese", "japan"),
    ("tokyo", "japan"),
    ("vietnam", "vietnam"),
    ("vietnamese", "vietnam"),
    ("portugal", "portugal"),
    ("portuguese", "portugal"),
    ("thailand", "thailand"),
    ("thai", "thailand"),
    ("new zealand", "new zealand"),
    ("zealand", "new zealand"),
    ("kiwi", "new zealand"),
    ("south korea", "south korea"),
    ("seoul", "south korea"),
    ("north korea", "north korea"),
    ("pyongyang", "north korea"),
    ("saudi", "saudi arabia"),
    ("saudis", "saudi arabia"),
    ("uae", "uae"),
    ("emirati", "uae"),
    ("emirates", "uae"),
    ("iraq", "iraq"),
    ("iraqi", "iraq"),
    ("iran", "iran"),
    ("iranian", "iran"),
    ("israel", "israel"),
    ("israeli", "israel"),
    ("pakistan", "pakistan"),
    ("pakistani", "pakistan"),
    ("afghanistan", "afghanistan"),
    ("afghan", "afghanistan"),
    ("bangladesh", "bangladesh"),
    ("bangladeshi", "bangladesh"),
    ("yemen", "yemen"),
    ("yemeni", "yemen"),
    ("kuwait", "kuwait"),
    ("kuwaiti", "kuwait"),
    ("qatar", "qatar"),
    ("qatari", "qatar"),
    ("somalia", "somalia"),
    ("somali", "somalia"),
    ("peru", "peru"),
    ("peruvian", "peru"),
    ("chile", "chile"),
    ("chilean", "chile"),
    ("argentina", "argentina"),
    ("argentine", "argentina"),
    ("argentinian", "argentina"),
    ("brazil", "brazil"),
    ("brazilian", "brazil"),
    ("mexico", "mexico"),
    ("mexican", "mexico"),
    ("canada", "canada"),
    ("canadian", "canada"),
    ("cuba", "cuba"),
    ("cuban", "cuba"),
    ("venezuela", "venezuela"),
    ("venezuelan", "venezuela"),
    ("colombia", "colombia"),
    ("colombian", "colombia"),
    ("ecuador", "ecuador"),
    ("ecuadorian", "ecuador"),
    ("bolivia", "bolivia"),
    ("bolivian", "bolivia"),
    ("haiti", "haiti"),
    ("haitian", "haiti"),
    ("germany", "germany"),
    ("german", "germany"),
    ("berlin", "germany"),
    ("italy", "italy"),
    ("italian", "italy"),
    ("russia", "russia"),
    ("russian", "russia"),
    ("moscow", "russia"),
    ("kremlin", "russia"),
    ("ukraine", "ukraine"),
    ("ukrainian", "ukraine"),
    ("kiev", "ukraine"),
    ("kyiv", "ukraine"),
    ("crimea", "ukraine"),
    ("belgium", "belgium"),
    ("belgian", "belgium"),
    ("austria", "austria"),
    ("austrian", "austria"),
    ("norway", "norway"),
    ("norwegian", "norway"),
    ("hungary", "hungary"),
    ("hungarian", "hungary"),
    ("romania", "romania"),
    ("romanian", "romania"),
    ("serbia", "serbia"),
    ("serbian", "serbia"),
    ("croatia", "croatia"),
    ("croatian", "croatia"),
    ("czech", "czech republic"),
    ("india", "india"),
    ("indian", "india"),
    ("delhi", "india"),
    ("indonesia", "indonesia"),
    ("indonesian", "indonesia"),
    ("malaysia", "malaysia"),
    ("malaysian", "malaysia"),
    ("singapore", "singapore"),
    ("singaporean", "singapore"),
    ("taiwan", "taiwan"),
    ("taiwanese", "taiwan"),
    ("myanmar", "myanmar"),
    ("burma", "myanmar"),
    ("burmese", "myanmar"),
    ("cambodia", "cambodia"),
    ("cambodian", "cambodia"),
    ("nepal", "nepal"),
    ("nepalese", "nepal"),
    ("sri lanka", "sri lanka"),
    ("lanka", "sri lanka"),
    ("australia", "australia"),
    ("australian", "australia"),
    ("egypt", "egypt"),
    ("egyptian", "egypt"),
    ("syria", "syria"),
    ("syrian", "syria"),
    ("lebanon", "lebanon"),
    ("lebanese", "lebanon"),
    ("jordan", "jordan"),
    ("jordanian", "jordan"),
    ("libya", "libya"),
    ("libyan", "libya"),
    ("tunisia", "tunisia"),
    ("tunisian", "tunisia"),
    ("algeria", "algeria"),
    ("algerian", "algeria"),
    ("morocco", "morocco"),
    ("moroccan", "morocco"),
    ("nigeria", "nigeria"),
    ("nigerian", "nigeria"),
    ("kenya", "kenya"),
    ("kenyan", "kenya"),
    ("ethiopia", "ethiopia"),
    ("ethiopian", "ethiopia"),
    ("sudan", "sudan"),
    ("sudanese", "sudan"),
    ("ghana", "ghana"),
    ("ghanaian", "ghana"),
    ("uganda", "uganda"),
    ("ugandan", "uganda"),
    ("tanzania", "tanzania"),
    ("tanzanian", "tanzania"),
    ("congo", "congo"),
    ("congolese", "congo"),
    ("zimbabwe", "zimbabwe"),
    ("zimbabwean", "zimbabwe"),
    ("south africa", "south africa"),
    ("mali", "mali"),
    ("malian", "mali"),
    ("rwanda", "rwanda"),
    ("rwandan", "rwanda"),
    // More countries, capitals and large cities (a city stands for its country: "Tokyo" meets
    // "Japan"), US states and large US cities (each its own place).
    ("estonia", "estonia"),
    ("estonian", "estonia"),
    ("latvia", "latvia"),
    ("latvian", "latvia"),
    ("lithuania", "lithuania"),
    ("lithuanian", "lithuania"),
    ("slovakia", "slovakia"),
    ("slovak", "slovakia"),
    ("slovenia", "slovenia"),
    ("slovenian", "slovenia"),
    ("bulgaria", "bulgaria"),
    ("bulgarian", "bulgaria"),
    ("albania", "albania"),
    ("albanian", "albania"),
    ("kosovo", "kosovo"),
    ("kosovar", "kosovo"),
    ("armenia", "armenia"),
    ("armenian", "armenia"),
    ("azerbaijan", "azerbaijan"),
    ("azerbaijani", "azerbaijan"),
    ("kazakhstan", "kazakhstan"),
    ("kazakh", "kazakhstan"),
    ("uzbekistan", "uzbekistan"),
    ("uzbek", "uzbekistan"),
    ("mongolia", "mongolia"),
    ("mongolian", "mongolia"),
    ("laos", "laos"),
    ("laotian", "laos"),
    ("fiji", "fiji"),
    ("fijian", "fiji"),
    ("senegal", "senegal"),
    ("senegalese", "senegal"),
    ("cameroon", "cameroon"),
    ("cameroonian", "cameroon"),
    ("angola", "angola"),
    ("angolan", "angola"),
    ("mozambique", "mozambique"),
    ("mozambican", "mozambique"),
    ("zambia", "zambia"),
    ("zambian", "zambia"),
    ("malawi", "malawi"),
    ("malawian", "malawi"),
    ("namibia", "namibia"),
    ("namibian", "namibia"),
    ("botswana", "botswana"),
    ("madagascar", "madagascar"),
    ("malagasy", "madagascar"),
    ("niger", "niger"),
    ("nigerien", "niger"),
    ("liberia", "liberia"),
    ("liberian", "liberia"),
    ("eritrea", "eritrea"),
    ("eritrean", "eritrea"),
    ("oman", "oman"),
    ("omani", "oman"),
    ("bahrain", "bahrain"),
    ("bahraini", "bahrain"),
    ("panama", "panama"),
    ("panamanian", "panama"),
    ("nicaragua", "nicaragua"),
    ("nicaraguan", "nicaragua"),
    ("honduras", "honduras"),
    ("honduran", "honduras"),
    ("guatemala", "guatemala"),
    ("guatemalan", "guatemala"),
    ("paraguay", "paraguay"),
    ("paraguayan", "paraguay"),
    ("uruguay", "uruguay"),
    ("uruguayan", "uruguay"),
    ("iceland", "iceland"),
    ("icelandic", "iceland"),
    ("luxembourg", "luxembourg"),
    ("malta", "malta"),
    ("maltese", "malta"),
    ("cyprus", "cyprus"),
    ("cypriot", "cyprus"),
    ("moldova", "moldova"),
    ("moldovan", "moldova"),
    ("belarus", "belarus"),
    ("belarusian", "belarus"),
    ("bosnia", "bosnia"),
    ("bosnian", "bosnia"),
    ("montenegro", "montenegro"),
    ("macedonia", "macedonia"),
    ("macedonian", "macedonia"),
    ("jamaica", "jamaica"),
    ("jamaican", "jamaica"),
    ("brunei", "brunei"),
    ("bhutan", "bhutan"),
    ("maldives", "maldives"),
    ("tajikistan", "tajikistan"),
    ("tajik", "tajikistan"),
    ("kyrgyzstan", "kyrgyzstan"),
    ("kyrgyz", "kyrgyzstan"),
    ("turkmenistan", "turkmenistan"),
    ("turkmen", "turkmenistan"),
    ("georgia", "georgia"),
    ("burundi", "burundi"),
    ("gabon", "gabon"),
    ("benin", "benin"),
    ("togo", "togo"),
    ("gambia", "gambia"),
    ("mauritania", "mauritania"),
    ("mauritius", "mauritius"),
    ("seychelles", "seychelles"),
    ("bahamas", "bahamas"),
    ("barbados", "barbados"),
    ("trinidad", "trinidad"),
    ("belize", "belize"),
    ("suriname", "suriname"),
    ("guyana", "guyana"),
    ("greenland", "greenland"),
    ("palestine", "palestine"),
    ("palestinian", "palestine"),
    ("gaza", "gaza"),
    ("west bank", "palestine"),
    ("london", "uk"),
    ("paris", "france"),
    ("rome", "italy"),
    ("madrid", "spain"),
    ("lisbon", "portugal"),
    ("athens", "greece"),
    ("vienna", "austria"),
    ("warsaw", "poland"),
    ("prague", "czech republic"),
    ("budapest", "hungary"),
    ("brussels", "belgium"),
    ("amsterdam", "netherlands"),
    ("stockholm", "sweden"),
    ("oslo", "norway"),
    ("copenhagen", "denmark"),
    ("helsinki", "finland"),
    ("dublin", "ireland"),
    ("istanbul", "turkey"),
    ("ankara", "turkey"),
    ("cairo", "egypt"),
    ("tehran", "iran"),
    ("baghdad", "iraq"),
    ("damascus", "syria"),
    ("beirut", "lebanon"),
    ("jerusalem", "israel"),
    ("riyadh", "saudi arabia"),
    ("dubai", "uae"),
    ("kabul", "afghanistan"),
    ("islamabad", "pakistan"),
    ("karachi", "pakistan"),
    ("mumbai", "india"),
    ("kolkata", "india"),
    ("dhaka", "bangladesh"),
    ("bangkok", "thailand"),
    ("jakarta", "indonesia"),
    ("manila", "philippines"),
    ("hanoi", "vietnam"),
    ("shanghai", "china"),
    ("hong kong", "hong kong"),
    ("sydney", "australia"),
    ("melbourne", "australia"),
    ("toronto", "canada"),
    ("ottawa", "canada"),
    ("montreal", "canada"),
    ("vancouver", "canada"),
    ("nairobi", "kenya"),
    ("lagos", "nigeria"),
    ("johannesburg", "south africa"),
    ("addis ababa", "ethiopia"),
    ("caracas", "venezuela"),
    ("bogota", "colombia"),
    ("lima", "peru"),
    ("santiago", "chile"),
    ("buenos aires", "argentina"),
    ("sao paulo", "brazil"),
    ("havana", "cuba"),
    ("osaka", "japan"),
    ("kyoto", "japan"),
    ("taipei", "taiwan"),
    ("singapore", "singapore"),
    ("alabama", "alabama"),
    ("alaska", "alaska"),
    ("arizona", "arizona"),
    ("arkansas", "arkansas"),
    ("california", "california"),
    ("colorado", "colorado"),
    ("connecticut", "connecticut"),
    ("delaware", "delaware"),
    ("florida", "florida"),
    ("hawaii", "hawaii"),
    ("idaho", "idaho"),
    ("illinois", "illinois"),
    ("indiana", "indiana"),
    ("iowa", "iowa"),
    ("kansas", "kansas"),
    ("kentucky", "kentucky"),
    ("louisiana", "louisiana"),
    ("maine", "maine"),
    ("maryland", "maryland"),
    ("massachusetts", "massachusetts"),
    ("michigan", "michigan"),
    ("minnesota", "minnesota"),
    ("mississippi", "mississippi"),
    ("missouri", "missouri"),
    ("montana", "montana"),
    ("nebraska", "nebraska"),
    ("nevada", "nevada"),
    ("new hampshire", "new hampshire"),
    ("new jersey", "new jersey"),
    ("new mexico", "new mexico"),
    ("new york", "new york"),
    ("north carolina", "north carolina"),
    ("north dakota", "north dakota"),
    ("ohio", "ohio"),
    ("oklahoma", "oklahoma"),
    ("oregon", "oregon"),
    ("pennsylvania", "pennsylvania"),
    ("rhode island", "rhode island"),
    ("south carolina", "south carolina"),
    ("south dakota", "south dakota"),
    ("tennessee", "tennessee"),
    ("texas", "texas"),
    ("utah", "utah"),
    ("vermont", "vermont"),
    ("virginia", "virginia"),
    ("washington state", "washington state"),
    ("west virginia", "west virginia"),
    ("wisconsin", "wisconsin"),
    ("wyoming", "wyoming"),
    ("chicago", "chicago"),
    ("los angeles", "los angeles"),
    ("san francisco", "san francisco"),
    ("houston", "houston"),
    ("boston", "boston"),
    ("seattle", "seattle"),
    ("atlanta", "atlanta"),
    ("miami", "miami"),
    ("dallas", "dallas"),
    ("detroit", "detroit"),
    ("philadelphia", "philadelphia"),
    ("denver", "denver"),
];

/// Number words that stand for figures.
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fifteen", "15"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("fifty", "50"),
    ("hundred", "100"),
    ("dozen", "12"),
];

/// Capitalised words that are not names: headline vocabulary often capitalised mid-sentence (and the
/// months and weekdays of [`super::title`]).
const NOT_NAMES: &[&str] = &[
    "i",
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "by",
    "with",
    "from",
    "as",
    "is",
    "are",
    "was",
    "be",
    "it",
    "its",
    "this",
    "that",
    "new",
    "update",
    "updated",
    "video",
    "photos",
    "live",
    "breaking",
    "exclusive",
    "report",
    "news",
    "ceo",
    "tv",
    "pm",
    "am",
    "vs",
    "st",
    "mr",
    "mrs",
    "ms",
    "dr",
    "jr",
    "sr",
    "inc",
    "co",
    "corp",
    "ltd",
    "plc",
    "llc",
    "may",
    "today",
    "q1",
    "q2",
    "q3",
    "q4",
    "mar",
];

/// Words of the frame two titles may differ in, besides the features, for the names and numbers rules
/// to apply: beyond it the titles are paraphrases that happen to give different details, not one frame
/// with another name or figure in it.
const FRAME_SLACK: usize = 2;

/// What a title names, as the veto reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TitleFeatures {
    /// Every word, folded (to see whether the other title mentions a name in any case).
    words: Vec<String>,
    places: Vec<String>,
    /// Capitalised non-initial words of a sentence-case title (folded).
    names: Vec<String>,
    numbers: Vec<String>,
    weekdays: Vec<String>,
    /// Content words (folded, no stop words or single letters): the frame.
    content: Vec<String>,
    /// The place each of `words` and `content` names, if any (looked up once: comparisons are pairwise).
    word_places: Vec<Option<&'static str>>,
    content_places: Vec<Option<&'static str>>,
}

/// Splits a title into words with their original case: letters, digits and inner `.`/`,` of figures.
fn raw_words(title: &str) -> Vec<(usize, &str)> {
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
fn clause_starts(title: &str) -> Vec<usize> {
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

fn capital(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// A headline's words as the veto reads them.
struct Scan<'a> {
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
            if folded.chars().count() > 1 && !super::is_stop_word(folded) {
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
    fn mentions(&self, name: &str) -> bool {
        let place = place_of(name);
        self.words
            .iter()
            .zip(&self.word_places)
            .any(|(w, &wp)| same_name_p(w, wp, name, place))
            || place.is_some_and(|p| self.places.iter().any(|x| x == p))
            || self.acronym_of(name)
    }

    /// Content words of this title that the other lacks and that are not among `features`.
    fn frame_difference(&self, other: &TitleFeatures, features: &[&[String]]) -> usize {
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
    fn acronym_of(&self, name: &str) -> bool {
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

fn push_once(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// A figure as written ("6.1", "1,600" → "1600") or a number word ("nine" → "9").
fn number_of(word: &str) -> Option<String> {
    if !word.starts_with(|c: char| c.is_ascii_digit()) {
        return NUMBER_WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|&(_, n)| n.to_string());
    }
    let numeric = word
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    numeric.then(|| word.chars().filter(|&c| c != ',').collect())
}

/// [`NOT_NAMES`] as a set: read for every word of every headline learned from.
static NOT_NAMES_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    [NOT_NAMES, MONTHS, MONTH_ABBREVIATIONS, WEEKDAYS]
        .iter()
        .flat_map(|list| list.iter().copied())
        .collect()
});

fn not_name(folded: &str) -> bool {
    NOT_NAMES_SET.contains(folded)
}

/// [`PLACE_FORMS`] by form: a lookup per word of every title the veto reads.
static PLACES: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| PLACE_FORMS.iter().copied().collect());

/// First words of the two-word forms in [`PLACE_FORMS`].
const PAIR_STARTS: &[&str] = &[
    "addis",
    "buenos",
    "hong",
    "los",
    "new",
    "north",
    "rhode",
    "san",
    "sao",
    "south",
    "sri",
    "washington",
    "west",
];

/// The country a word names, if any.
fn place_of(word: &str) -> Option<&'static str> {
    PLACES.get(word).copied()
}

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
mod tests {
    use super::*;

    fn v(a: &str, b: &str) -> Option<VetoKind> {
        veto(&TitleFeatures::of(a), &TitleFeatures::of(b), VetoRules::ALL).map(|v| v.kind)
    }

    #[test]
    fn different_places_people_and_days_are_vetoed() {
        assert_eq!(
            v(
                "Strong earthquake strikes off coast of Ecuador",
                "Strong earthquake strikes off coast of Indonesia"
            ),
            Some(VetoKind::Places)
        );
        assert_eq!(
            v(
                "Senator Warren backs the new tariff bill",
                "Senator Cruz backs the new tariff bill"
            ),
            Some(VetoKind::Names)
        );
        assert_eq!(
            v("How the Dow fared Monday", "How the Dow fared Friday"),
            Some(VetoKind::Calendar)
        );
        assert_eq!(
            v(
                "Ferry carrying 300 sinks off the coast",
                "Ferry carrying 45 sinks off the coast"
            ),
            Some(VetoKind::Numbers)
        );
    }

    #[test]
    fn paraphrases_of_one_event_pass() {
        // A demonym and its country, an acronym and its words, a name only one side gives.
        assert_eq!(
            v(
                "Ecuadorian quake kills dozens",
                "Quake in Ecuador kills dozens"
            ),
            None
        );
        assert_eq!(
            v(
                "GM recalls more cars over ignition switch",
                "General Motors recalls more cars over ignition switch"
            ),
            None
        );
        assert_eq!(
            v(
                "Fed's Plosser sees high bar for change in tapering",
                "Fed official sees high bar for change in tapering"
            ),
            None
        );
        // An updated toll that repeats the earlier figure is the same event.
        assert_eq!(
            v(
                "Bus crash kills 9, 12 injured",
                "Bus crash toll rises to 14, 12 injured"
            ),
            None
        );
        // Title Case capitals are not names.
        assert_eq!(
            v(
                "Apple Unveils Faster Chips At Annual Event",
                "Apple unveils faster chips at annual event"
            ),
            None
        );
    }

    #[test]
    fn title_case_headlines_name_what_sentence_case_ones_taught() {
        let (a, b) = (
            "Senator Warren Backs New Tariff Bill",
            "Senator Cruz Backs New Tariff Bill",
        );
        // Title Case alone: capitals say nothing.
        assert_eq!(v(a, b), None);
        let mut names = NameLexicon::default();
        for t in [
            "Tariff bill wins backing of Warren and Cruz",
            "What Warren said about the budget",
            "The senate vote is a win for Cruz",
            "Markets shrug as the senate votes",
        ] {
            names.learn(t);
        }
        // Title Case headlines teach nothing; a word seen in lower case is no name.
        names.learn("Senator Warren Backs New Tariff Bill");
        assert!(names.is_name("warren") && names.is_name("cruz"));
        assert!(!names.is_name("senate") && !names.is_name("backs"));
        let f = |t| TitleFeatures::with_names(t, &names);
        assert_eq!(
            veto(&f(a), &f(b), VetoRules::ALL).map(|v| v.kind),
            Some(VetoKind::Names)
        );
    }

    #[test]
    fn figures_keep_their_decimal_point() {
        let f = TitleFeatures::of("Magnitude 6.1 quake; 1,600 homes hit");
        assert_eq!(f.numbers, vec!["6.1".to_string(), "1600".to_string()]);
    }
}
