//! `feeds.toml` → a validated [`Config`].
//!
//! Two steps, as in ripgrep: serde reads the file into `Raw*` structs that mirror the TOML exactly
//! (`deny_unknown_fields`, so a typo'd key is an error, not a silent default), then [`Config::from_toml`]
//! checks every value and builds typed settings. Every problem is collected with its line and column, so
//! `syndic check` can report all of them at once.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

pub mod schedule;

use schedule::Schedule;

/// Longest dedupe window accepted, in hours (ten years).
const MAX_WINDOW_HOURS: u64 = 10 * 366 * 24;

/// Default `[dedupe].title_threshold`, chosen from the dev-set measurements (see README, "Story
/// clusters").
pub const DEFAULT_TITLE_THRESHOLD: f64 = 0.5;

/// Default `[dedupe].decay_hours`: a story idle this long needs a similarity e≈2.7 times higher.
pub const DEFAULT_DECAY_HOURS: f64 = 24.0;

/// Id of the merged "everything" feed; reserved, a section may not use it.
pub const ALL_SECTION: &str = "all";

/// The validated configuration. Cheap to share behind an `Arc`; swapped whole on reload.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    /// Absolute path of the SQLite database.
    pub database: PathBuf,
    /// `[storage].keep_days`: stories whose newest item is older are deleted (`None`: kept forever).
    pub keep: Option<chrono::Duration>,
    /// `[storage].tombstone_days`: how long a deleted item's tombstone keeps it from coming back.
    pub tombstones_for: chrono::Duration,
    pub poll: PollConfig,
    pub dedupe: DedupeConfig,
    pub output: OutputConfig,
    pub tagging: TaggingConfig,
    pub sections: Vec<SectionConfig>,
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public URL without a trailing slash, used for self links.
    pub base_url: String,
    /// Where the Prometheus metrics are served (`None`: not served).
    pub metrics: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PollConfig {
    pub schedule: Schedule,
    pub timeout: Duration,
    pub max_bytes: u64,
    /// Most entries taken from one document (the newest); the rest are left out, and the refresh says so.
    pub max_entries: usize,
    pub concurrency: usize,
    pub per_host: usize,
    pub user_agent: String,
    /// Feed hints (`<ttl>`, `sy:updatePeriod`, `Cache-Control: max-age`, `Expires`) may stretch a source's
    /// interval (never shorten it), up to [`MAX_HINT`].
    pub honor_feed_hints: bool,
    /// Follow redirects from a public address to a loopback, private or link-local one (off: refused).
    pub allow_private_redirects: bool,
}

/// Default `[poll].max_entries`.
pub const DEFAULT_MAX_ENTRIES: usize = 1000;

/// The longest a feed hint may stretch a source's interval, and the longest backoff.
pub const MAX_HINT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct DedupeConfig {
    pub title_threshold: f64,
    /// Title similarity decays with the hours since a story was last reported (0 = no decay).
    pub decay_hours: f64,
    /// Title similarity on (default); off, stories join only by URL or identical normalized headline.
    pub similarity: bool,
    /// A story's items span at most this much event time (their own credible dates, else when first
    /// seen); the index holds the stories first seen this recently (chrono, as the store compares it with
    /// timestamps).
    pub window: chrono::Duration,
    /// `[dedupe].veto`: the look-alike rules that refuse a similar-title join (default: all).
    pub veto: crate::dedupe::VetoRules,
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub title: String,
    pub max_items: usize,
    /// `websub_hub`: the WebSub hub feeds advertise and syndic notifies when a feed changes.
    pub websub_hub: Option<Url>,
}

/// `[tagging]`: the learned tagger (see [`crate::tag::learn`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TaggingConfig {
    /// Train a text classifier on the stories whose sections are certain, and let it tag.
    pub learn: bool,
    /// A learned section is applied only at or above this calibrated probability.
    pub min_confidence: f64,
    /// Which stories the learned tagger may tag: only those the rules left without a section, or all.
    pub apply: LearnApply,
    /// Retrain when the model is this old...
    pub retrain_every: chrono::Duration,
    /// ...or when this many stories were stored since it was trained.
    pub retrain_after: u64,
    /// Fewest stories with certain sections to train on (below it the tagger stays off and says so).
    pub min_stories: u64,
}

impl Default for TaggingConfig {
    fn default() -> Self {
        TaggingConfig {
            learn: false,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            apply: LearnApply::Untagged,
            retrain_every: chrono::Duration::hours(24),
            retrain_after: 1000,
            min_stories: 200,
        }
    }
}

/// Default `[tagging].min_confidence`.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.8;

/// `[tagging].apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LearnApply {
    /// Only stories that neither a source default nor a rule put in any section (the default).
    #[default]
    Untagged,
    /// Every story may gain sections above the threshold.
    All,
}

/// A section and the rules that put stories in it (see [`crate::tag::rules`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SectionConfig {
    pub id: String,
    pub title: String,
    /// Whole words or phrases; case- and accent-insensitive, except one written in capitals ("UN").
    pub keywords: Vec<String>,
    /// Words or phrases that veto this section's rules for an item.
    pub exclude: Vec<String>,
    /// The sources' own category names that map to this section.
    pub categories: Vec<String>,
    /// Article URL path prefixes, or globs with `*` and `?`.
    pub paths: Vec<String>,
    /// Regular expressions over the title and the summary (validated when the config is loaded).
    pub regex: Vec<String>,
}

/// How a source's items get their sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tagging {
    /// Only the source's default `sections`.
    Source,
    /// Only the sections' rules.
    Rules,
    /// Both (the default).
    #[default]
    Both,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub url: Url,
    pub sections: Vec<String>,
    pub schedule: Option<Schedule>,
    /// `dedupe = false`: never merge this source's items with others by title (URL identity still
    /// applies).
    pub dedupe: bool,
    /// `tagging`: whether its default sections, the sections' rules, or both tag its items.
    pub tagging: Tagging,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            problems: vec![Problem {
                line: 0,
                column: 0,
                message: format!("cannot read config: {e}"),
            }],
        })?;
        Config::from_toml(path, &text)
    }

    /// Validates TOML text; `path` names the file in messages and anchors relative paths.
    pub fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut v = Validator {
            text,
            problems: Vec::new(),
        };
        let raw: RawConfig = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                v.push(e.span(), e.message().trim().to_string());
                return Err(v.into_error(path));
            }
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let config = v.build(raw, path, &dir);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(v.into_error(path))
        }
    }

    pub fn section(&self, id: &str) -> Option<&SectionConfig> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// Title of a feed: the section's title, "Latest" for `all`.
    pub fn feed_title(&self, section: &str) -> Option<String> {
        if section == ALL_SECTION {
            return Some(format!("{}: Latest", self.output.title));
        }
        self.section(section)
            .map(|s| format!("{}: {}", self.output.title, s.title))
    }

    /// The schedule a source runs on.
    pub fn schedule_of<'a>(&'a self, source: &'a SourceConfig) -> &'a Schedule {
        source.schedule.as_ref().unwrap_or(&self.poll.schedule)
    }
}

/// One or more problems in a config file, each with its position.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based; 0 when the problem has no position (e.g. the file is unreadable).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.path.display(), p.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {}",
                    self.path.display(),
                    p.line,
                    p.column,
                    p.message
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---- raw, as written in the file ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    dedupe: RawDedupe,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    tagging: RawTagging,
    #[serde(default, rename = "section")]
    sections: Vec<Spanned<RawSection>>,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: Spanned<String>,
    base_url: Option<Spanned<String>>,
    metrics: Spanned<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: Spanned::new(0..0, "127.0.0.1:8080".into()),
            base_url: None,
            metrics: Spanned::new(0..0, "/metrics".into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorage {
    database: String,
    keep_days: Spanned<u64>,
    tombstone_days: Spanned<u64>,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            database: "syndic.db".into(),
            keep_days: Spanned::new(0..0, 30),
            tombstone_days: Spanned::new(0..0, 90),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPoll {
    schedule: Spanned<String>,
    timeout_secs: Spanned<u64>,
    max_bytes: Spanned<u64>,
    max_entries: Spanned<usize>,
    concurrency: Spanned<usize>,
    per_host: Spanned<usize>,
    user_agent: String,
    honor_feed_hints: bool,
    allow_private_redirects: bool,
}

impl Default for RawPoll {
    fn default() -> Self {
        RawPoll {
            schedule: Spanned::new(0..0, "*/15 * * * *".into()),
            timeout_secs: Spanned::new(0..0, 20),
            max_bytes: Spanned::new(0..0, 10 * 1024 * 1024),
            max_entries: Spanned::new(0..0, DEFAULT_MAX_ENTRIES),
            concurrency: Spanned::new(0..0, 8),
            per_host: Spanned::new(0..0, 2),
            user_agent: concat!("syndic/", env!("CARGO_PKG_VERSION")).into(),
            honor_feed_hints: true,
            allow_private_redirects: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDedupe {
    title_threshold: Spanned<f64>,
    decay_hours: Spanned<f64>,
    window_hours: Spanned<u64>,
    similarity: bool,
    veto: Option<Vec<Spanned<String>>>,
}

impl Default for RawDedupe {
    fn default() -> Self {
        RawDedupe {
            title_threshold: Spanned::new(0..0, DEFAULT_TITLE_THRESHOLD),
            decay_hours: Spanned::new(0..0, DEFAULT_DECAY_HOURS),
            window_hours: Spanned::new(0..0, 72),
            similarity: true,
            veto: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutput {
    title: String,
    max_items: Spanned<usize>,
    websub_hub: Option<Spanned<String>>,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            title: "syndic".into(),
            max_items: Spanned::new(0..0, 50),
            websub_hub: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTagging {
    learn: bool,
    min_confidence: Spanned<f64>,
    apply: LearnApply,
    retrain_hours: Spanned<u64>,
    retrain_after: Spanned<u64>,
    min_stories: Spanned<u64>,
}

impl Default for RawTagging {
    fn default() -> Self {
        RawTagging {
            learn: false,
            min_confidence: Spanned::new(0..0, DEFAULT_MIN_CONFIDENCE),
            apply: LearnApply::Untagged,
            retrain_hours: Spanned::new(0..0, 24),
            retrain_after: Spanned::new(0..0, 1000),
            min_stories: Spanned::new(0..0, 200),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    regex: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    sections: Vec<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    dedupe: Option<bool>,
    #[serde(default)]
    tagging: Tagging,
}

// ---- validation ----

/// A regex error in one line: the regex crate's message without its drawing of the pattern.
fn regex_problem(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.lines().next().unwrap_or("syntax error"))
            .to_string(),
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled pattern is larger than {limit} bytes")
        }
        _ => e.to_string(),
    }
}

struct Validator<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn push(&mut self, span: Option<Range<usize>>, message: String) {
        let (line, column) = match span {
            Some(r) => line_col(self.text, r.start),
            None => (0, 0),
        };
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    /// The trimmed non-empty entries of a rule list; an empty one is an error.
    fn rule_list(&mut self, list: &[Spanned<String>], empty: &str) -> Vec<String> {
        let mut out = Vec::new();
        for k in list {
            if k.get_ref().trim().is_empty() {
                self.err(k, empty.to_string());
            } else {
                out.push(k.get_ref().trim().to_string());
            }
        }
        out
    }

    /// `[dedupe].veto`: the named look-alike rules (all when the key is absent; `[]` turns them off).
    fn veto_rules(&mut self, list: Option<&[Spanned<String>]>) -> crate::dedupe::VetoRules {
        use crate::dedupe::VetoRules;
        let Some(list) = list else {
            return VetoRules::ALL;
        };
        let mut rules = VetoRules::NONE;
        for name in list {
            if !rules.enable(name.get_ref().trim()) {
                self.err(
                    name,
                    format!(
                        "dedupe.veto: unknown rule \"{}\" (known: {})",
                        name.get_ref(),
                        VetoRules::NAMES.join(", ")
                    ),
                );
            }
        }
        rules
    }

    fn err<T>(&mut self, spanned: &Spanned<T>, message: String) {
        let span = spanned.span();
        // Defaults carry an empty 0..0 span: they cannot be wrong, but say so without a bogus position.
        let span = (span != (0..0)).then_some(span);
        self.push(span, message);
    }

    /// The problems in file order (those without a position first).
    fn into_error(mut self, path: &Path) -> ConfigError {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigError {
            path: path.to_path_buf(),
            problems: self.problems,
        }
    }

    fn build(&mut self, raw: RawConfig, path: &Path, dir: &Path) -> Config {
        let listen = match raw.server.listen.get_ref().parse::<SocketAddr>() {
            Ok(a) => a,
            Err(e) => {
                let msg = format!("server.listen: {e} (want host:port, e.g. \"127.0.0.1:8080\")");
                self.err(&raw.server.listen, msg);
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        let base_url = match &raw.server.base_url {
            Some(b) => match Url::parse(b.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    u.as_str().trim_end_matches('/').to_string()
                }
                Ok(_) => {
                    self.err(b, "server.base_url: must be an http or https URL".into());
                    String::new()
                }
                Err(e) => {
                    self.err(b, format!("server.base_url: {e}"));
                    String::new()
                }
            },
            None => format!("http://{listen}"),
        };

        let websub_hub = match &raw.output.websub_hub {
            Some(h) => match Url::parse(h.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(u)
                }
                Ok(_) => {
                    self.err(h, "output.websub_hub: must be an http or https URL".into());
                    None
                }
                Err(e) => {
                    self.err(h, format!("output.websub_hub: {e}"));
                    None
                }
            },
            None => None,
        };

        let database = dir.join(&raw.storage.database);
        let metrics = raw.server.metrics.get_ref().trim();
        if !metrics.is_empty()
            && (!metrics.starts_with('/')
                || metrics.starts_with("/feeds/")
                || metrics == "/"
                || metrics == "/healthz"
                || metrics == "/sources.opml")
        {
            self.err(
                &raw.server.metrics,
                format!(
                    "server.metrics: \"{metrics}\" must be a path starting with / other than /, /healthz, /sources.opml and /feeds/... (\"\" turns metrics off)"
                ),
            );
        }
        let keep_days = *raw.storage.keep_days.get_ref();
        if keep_days > 0 && keep_days.saturating_mul(24) < *raw.dedupe.window_hours.get_ref() {
            self.err(
                &raw.storage.keep_days,
                format!(
                    "storage.keep_days: {keep_days} days is shorter than dedupe.window_hours ({} h): stories still being merged would be deleted",
                    raw.dedupe.window_hours.get_ref()
                ),
            );
        }
        if keep_days > 36_500 || *raw.storage.tombstone_days.get_ref() > 36_500 {
            self.err(
                &raw.storage.keep_days,
                "storage.keep_days and storage.tombstone_days: at most 36500 (0 keeps forever)"
                    .into(),
            );
        }

        let schedule = self.schedule(&raw.poll.schedule, "poll.schedule");
        let p = &raw.poll;
        if *p.timeout_secs.get_ref() == 0 {
            self.err(
                &p.timeout_secs,
                "poll.timeout_secs: must be at least 1".into(),
            );
        }
        if *p.max_bytes.get_ref() < 1024 {
            self.err(&p.max_bytes, "poll.max_bytes: must be at least 1024".into());
        }
        if *p.max_entries.get_ref() == 0 {
            self.err(
                &p.max_entries,
                "poll.max_entries: must be at least 1".into(),
            );
        }
        if *p.concurrency.get_ref() == 0 {
            self.err(
                &p.concurrency,
                "poll.concurrency: must be at least 1".into(),
            );
        }
        if *p.per_host.get_ref() == 0 {
            self.err(&p.per_host, "poll.per_host: must be at least 1".into());
        }
        let threshold = *raw.dedupe.title_threshold.get_ref();
        if !(0.0..=1.0).contains(&threshold) {
            self.err(
                &raw.dedupe.title_threshold,
                "dedupe.title_threshold: must be between 0 and 1".into(),
            );
        }
        let decay = *raw.dedupe.decay_hours.get_ref();
        if !(0.0..=MAX_WINDOW_HOURS as f64).contains(&decay) {
            self.err(
                &raw.dedupe.decay_hours,
                format!("dedupe.decay_hours: must be between 0 (off) and {MAX_WINDOW_HOURS}"),
            );
        }
        if *raw.dedupe.window_hours.get_ref() > MAX_WINDOW_HOURS {
            self.err(
                &raw.dedupe.window_hours,
                format!("dedupe.window_hours: at most {MAX_WINDOW_HOURS} (ten years)"),
            );
        }
        let veto = self.veto_rules(raw.dedupe.veto.as_deref());
        let t = &raw.tagging;
        let min_confidence = *t.min_confidence.get_ref();
        if !(min_confidence > 0.0 && min_confidence <= 1.0) {
            self.err(
                &t.min_confidence,
                "tagging.min_confidence: must be a probability above 0 and at most 1".into(),
            );
        }
        if *t.retrain_hours.get_ref() == 0 || *t.retrain_hours.get_ref() > 24 * 365 {
            self.err(
                &t.retrain_hours,
                "tagging.retrain_hours: must be between 1 and 8760".into(),
            );
        }
        if *t.min_stories.get_ref() < 20 {
            self.err(
                &t.min_stories,
                "tagging.min_stories: must be at least 20 (a classifier needs examples)".into(),
            );
        }
        if *raw.output.max_items.get_ref() == 0 {
            self.err(
                &raw.output.max_items,
                "output.max_items: must be at least 1".into(),
            );
        }

        let mut sections = Vec::new();
        let mut seen = HashSet::new();
        for s in raw.sections {
            let s = s.into_inner();
            let id = s.id.get_ref();
            if id == ALL_SECTION {
                self.err(
                    &s.id,
                    format!("section id \"{id}\" is reserved for the merged feed"),
                );
            } else if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                self.err(
                    &s.id,
                    format!("section id \"{id}\": use only a-z, 0-9 and -"),
                );
            } else if id == "feeds" || id == "healthz" || metrics == format!("/{id}") {
                self.err(
                    &s.id,
                    format!("section id \"{id}\" is taken by a path syndic serves (/{id})"),
                );
            } else if !seen.insert(id.clone()) {
                self.err(&s.id, format!("section id \"{id}\" is defined twice"));
            }
            let keywords = self.rule_list(&s.keywords, &format!("section \"{id}\": empty keyword"));
            let exclude = self.rule_list(&s.exclude, &format!("section \"{id}\": empty exclusion"));
            let categories =
                self.rule_list(&s.categories, &format!("section \"{id}\": empty category"));
            let paths = self.rule_list(&s.paths, &format!("section \"{id}\": empty path"));
            for p in &s.paths {
                let path = p.get_ref().trim();
                if !path.is_empty() && !path.starts_with(['/', '*']) {
                    self.err(
                        p,
                        format!(
                            "section \"{id}\": path \"{path}\" must start with / (a URL path such as \"/asia/\") or *"
                        ),
                    );
                }
            }
            let mut regex = Vec::new();
            for r in &s.regex {
                match regex::Regex::new(r.get_ref()) {
                    Ok(_) => regex.push(r.get_ref().clone()),
                    Err(e) => self.err(
                        r,
                        format!("section \"{id}\": invalid regex: {}", regex_problem(&e)),
                    ),
                }
            }
            sections.push(SectionConfig {
                id: id.clone(),
                title: s.title,
                keywords,
                exclude,
                categories,
                paths,
                regex,
            });
        }

        let mut sources = Vec::new();
        let mut names = HashSet::new();
        for s in raw.sources {
            let s = s.into_inner();
            let name = s.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.err(&s.name, "source name must not be empty".into());
            } else if !names.insert(name.clone()) {
                self.err(&s.name, format!("source name \"{name}\" is used twice"));
            }
            let url = match parse_source_url(s.url.get_ref(), dir) {
                Ok(u) => Some(u),
                Err(msg) => {
                    self.err(&s.url, format!("source \"{name}\": {msg}"));
                    None
                }
            };
            for sec in &s.sections {
                if !seen.contains(sec.get_ref()) {
                    self.err(
                        sec,
                        format!(
                            "source \"{name}\": section \"{}\" is not defined (add a [[section]] with this id)",
                            sec.get_ref()
                        ),
                    );
                }
            }
            let schedule = s
                .schedule
                .as_ref()
                .and_then(|sc| self.schedule(sc, &format!("source \"{name}\": schedule")));
            if let Some(url) = url {
                sources.push(SourceConfig {
                    name,
                    url,
                    sections: s.sections.iter().map(|x| x.get_ref().clone()).collect(),
                    schedule,
                    dedupe: s.dedupe.unwrap_or(true),
                    tagging: s.tagging,
                });
            }
        }

        Config {
            path: path.to_path_buf(),
            server: ServerConfig {
                listen,
                base_url,
                metrics: Some(raw.server.metrics.get_ref().trim().to_string())
                    .filter(|m| !m.is_empty()),
            },
            database,
            keep: (keep_days > 0).then(|| chrono::Duration::days(keep_days.min(36_500) as i64)),
            tombstones_for: chrono::Duration::days(
                (*raw.storage.tombstone_days.get_ref()).min(36_500) as i64,
            ),
            poll: PollConfig {
                schedule: schedule.unwrap_or_else(Schedule::default_every_15_minutes),
                timeout: Duration::from_secs(*p.timeout_secs.get_ref()),
                max_bytes: *p.max_bytes.get_ref(),
                max_entries: (*p.max_entries.get_ref()).max(1),
                concurrency: *p.concurrency.get_ref(),
                per_host: *p.per_host.get_ref(),
                user_agent: p.user_agent.clone(),
                honor_feed_hints: p.honor_feed_hints,
                allow_private_redirects: p.allow_private_redirects,
            },
            dedupe: DedupeConfig {
                title_threshold: threshold,
                decay_hours: if decay.is_finite() {
                    decay.max(0.0)
                } else {
                    0.0
                },
                window: chrono::Duration::hours(
                    (*raw.dedupe.window_hours.get_ref()).min(MAX_WINDOW_HOURS) as i64,
                ),
                similarity: raw.dedupe.similarity,
                veto,
            },
            output: OutputConfig {
                title: raw.output.title,
                max_items: *raw.output.max_items.get_ref(),
                websub_hub,
            },
            tagging: TaggingConfig {
                learn: raw.tagging.learn,
                min_confidence: min_confidence.clamp(f64::MIN_POSITIVE, 1.0),
                apply: raw.tagging.apply,
                retrain_every: chrono::Duration::hours(
                    (*raw.tagging.retrain_hours.get_ref()).clamp(1, 24 * 365) as i64,
                ),
                retrain_after: (*raw.tagging.retrain_after.get_ref()).max(1),
                min_stories: *raw.tagging.min_stories.get_ref(),
            },
            sections,
            sources,
        }
    }

    fn schedule(&mut self, s: &Spanned<String>, what: &str) -> Option<Schedule> {
        match Schedule::parse(s.get_ref()) {
            Ok(sc) => Some(sc),
            Err(e) => {
                self.err(s, format!("{what}: {e}"));
                None
            }
        }
    }
}

/// Source URLs: `http(s)://…`, `file:///abs/path`, or `file:rel/path` (relative to the config's folder).
fn parse_source_url(s: &str, dir: &Path) -> Result<Url, String> {
    if let Some(rest) = s.strip_prefix("file:")
        && !rest.starts_with("//")
    {
        let full = std::path::absolute(dir.join(rest)).map_err(|e| e.to_string())?;
        return Url::from_file_path(&full)
            .map_err(|()| format!("bad file path {}", full.display()));
    }
    let url = Url::parse(s).map_err(|e| format!("url \"{s}\": {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "file" => Ok(url),
        other => Err(format!(
            "url \"{s}\": scheme \"{other}\" is not supported (use http, https or file)"
        )),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"

[storage]
database = "data/s.db"

[[section]]
id = "asia"
title = "Asia"
keywords = ["Korea"]

[[source]]
name = "A"
url = "https://example.com/a.xml"
sections = ["asia"]
"#;

    #[test]
    fn good_config_resolves_database_against_its_folder() {
        let c = Config::from_toml(Path::new("/etc/syndic/feeds.toml"), GOOD).unwrap();
        assert_eq!(c.database, PathBuf::from("/etc/syndic/data/s.db"));
        assert_eq!(c.server.base_url, "http://127.0.0.1:9000");
        assert_eq!(c.sources[0].sections, vec!["asia"]);
        assert_eq!(c.poll.timeout, Duration::from_secs(20));
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let text = GOOD.replace("sections = [\"asia\"]", "sectons = [\"asia\"]");
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert_eq!(e.problems[0].line, 16);
        assert_eq!(e.problems[0].column, 1);
        assert!(e.problems[0].message.contains("sectons"), "{e}");
    }

    #[test]
    fn undefined_section_reports_its_position() {
        let text = GOOD.replace("sections = [\"asia\"]", "sections = [\"asai\"]");
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert_eq!((e.problems[0].line, e.problems[0].column), (16, 13));
        assert!(
            e.to_string()
                .starts_with("f.toml:16:13: source \"A\": section \"asai\"")
        );
    }

    #[test]
    fn section_rules_and_tagging_mode_load() {
        let text = GOOD
            .replace(
                "keywords = [\"Korea\"]",
                "keywords = [\"Korea\", \"UN\"]\nexclude = [\"K-pop\"]\ncategories = [\"Asia Pacific\"]\npaths = [\"/asia/\", \"/world/asia*\"]\nregex = ['\\bSeoul\\b']",
            )
            .replace("sections = [\"asia\"]", "sections = [\"asia\"]\ntagging = \"rules\"");
        let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
        let asia = &c.sections[0];
        assert_eq!(asia.keywords, vec!["Korea", "UN"]);
        assert_eq!(asia.exclude, vec!["K-pop"]);
        assert_eq!(asia.categories, vec!["Asia Pacific"]);
        assert_eq!(asia.paths, vec!["/asia/", "/world/asia*"]);
        assert_eq!(asia.regex, vec![r"\bSeoul\b"]);
        assert_eq!(c.sources[0].tagging, Tagging::Rules);
        assert_eq!(
            Config::from_toml(Path::new("f.toml"), GOOD)
                .unwrap()
                .sources[0]
                .tagging,
            Tagging::Both
        );
    }

    #[test]
    fn an_invalid_regex_or_path_is_reported_at_its_position() {
        let text = GOOD.replace(
            "keywords = [\"Korea\"]",
            "keywords = [\"Korea\"]\nregex = [\"ok\", \"(unclosed\"]\npaths = [\"asia/\"]",
        );
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("f.toml:12:16: section \"asia\": invalid regex: unclosed group"),
            "{msg}"
        );
        assert!(
            msg.contains("f.toml:13:10: section \"asia\": path \"asia/\" must start with /"),
            "{msg}"
        );
        let text = GOOD.replace("sections = [\"asia\"]", "tagging = \"sometimes\"");
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert!(e.to_string().contains("f.toml:16:"), "{e}");
    }

    #[test]
    fn the_tagging_table_loads_and_bad_values_are_errors() {
        let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
        assert_eq!(c.tagging, TaggingConfig::default());
        let text = format!(
            "{GOOD}\n[tagging]\nlearn = true\nmin_confidence = 0.9\napply = \"all\"\nretrain_hours = 6\nretrain_after = 50\nmin_stories = 40\n"
        );
        let t = Config::from_toml(Path::new("f.toml"), &text)
            .unwrap()
            .tagging;
        assert!(t.learn && t.min_confidence == 0.9 && t.apply == LearnApply::All);
        assert_eq!(t.retrain_every, chrono::Duration::hours(6));
        assert_eq!((t.retrain_after, t.min_stories), (50, 40));
        for (bad, says) in [
            (
                "min_confidence = 1.5",
                "tagging.min_confidence: must be a probability",
            ),
            (
                "min_confidence = 0",
                "tagging.min_confidence: must be a probability",
            ),
            (
                "retrain_hours = 0",
                "tagging.retrain_hours: must be between 1 and 8760",
            ),
            (
                "min_stories = 3",
                "tagging.min_stories: must be at least 20",
            ),
            ("apply = \"some\"", "unknown variant"),
        ] {
            let text = format!("{GOOD}\n[tagging]\n{bad}\n");
            let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn retention_settings_load_and_must_cover_the_dedupe_window() {
        let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
        assert_eq!(c.keep, Some(chrono::Duration::days(30)));
        assert_eq!(c.tombstones_for, chrono::Duration::days(90));
        let text = GOOD.replace("[storage]", "[storage]\nkeep_days = 0\ntombstone_days = 7");
        let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
        assert_eq!(
            (c.keep, c.tombstones_for),
            (None, chrono::Duration::days(7))
        );
        let text = GOOD.replace("[storage]", "[storage]\nkeep_days = 2");
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert!(
            e.to_string().contains("shorter than dedupe.window_hours"),
            "{e}"
        );
    }

    #[test]
    fn the_websub_hub_must_be_an_http_url() {
        let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
        assert_eq!(c.output.websub_hub, None);
        let with = |hub: &str| format!("{GOOD}\n[output]\nwebsub_hub = \"{hub}\"\n");
        let c = Config::from_toml(Path::new("f.toml"), &with("https://hub.example/")).unwrap();
        assert_eq!(
            c.output.websub_hub.map(|u| u.to_string()).as_deref(),
            Some("https://hub.example/")
        );
        for bad in ["ftp://hub.example/", "not a url"] {
            let e = Config::from_toml(Path::new("f.toml"), &with(bad)).unwrap_err();
            assert!(e.to_string().contains("output.websub_hub"), "{e}");
        }
    }

    #[test]
    fn the_metrics_path_is_configurable_or_off() {
        let c = Config::from_toml(Path::new("f.toml"), GOOD).unwrap();
        assert_eq!(c.server.metrics.as_deref(), Some("/metrics"));
        for (value, want) in [("\"/stats\"", Some("/stats")), ("\"\"", None)] {
            let text = GOOD.replace(
                "listen = \"127.0.0.1:9000\"",
                &format!("listen = \"127.0.0.1:9000\"\nmetrics = {value}"),
            );
            let c = Config::from_toml(Path::new("f.toml"), &text).unwrap();
            assert_eq!(c.server.metrics.as_deref(), want);
        }
        let text = GOOD.replace(
            "listen = \"127.0.0.1:9000\"",
            "listen = \"127.0.0.1:9000\"\nmetrics = \"/feeds/m\"",
        );
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        assert!(e.to_string().contains("server.metrics"), "{e}");
    }

    #[test]
    fn collects_several_problems() {
        let text = format!(
            "{GOOD}\n[[source]]\nname = \"A\"\nurl = \"ftp://x/y\"\n[[section]]\nid = \"all\"\ntitle = \"x\"\n"
        );
        let e = Config::from_toml(Path::new("f.toml"), &text).unwrap_err();
        let msgs: Vec<_> = e.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
    }

    #[test]
    fn relative_file_urls_resolve_against_config_folder() {
        let u = parse_source_url("file:feeds/a.xml", Path::new("/srv/x")).unwrap();
        assert_eq!(u.as_str(), "file:///srv/x/feeds/a.xml");
        assert!(parse_source_url("file:///abs/a.xml", Path::new("/srv")).is_ok());
        assert!(parse_source_url("gopher://x", Path::new("/srv")).is_err());
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
