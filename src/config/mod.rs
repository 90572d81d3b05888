//! `feeds.toml` → a validated [`Config`].
//!
//! Two steps, as in ripgrep: serde reads the file into `Raw*` structs that mirror the TOML exactly
//! (`deny_unknown_fields`, so a typo'd key is an error, not a silent default), then [`Config::from_toml`]
//! checks every value and builds typed settings. Every problem is collected with its line and column, so
//! `syndic check` can report all of them at once.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

mod raw;
pub mod schedule;
mod validate;

use raw::RawConfig;
use schedule::Schedule;
use validate::Validator;

/// Longest dedupe window accepted, in hours (ten years).
const MAX_WINDOW_HOURS: u64 = 10 * 366 * 24;

/// Default `[dedupe].title_threshold`, chosen from the dev-set measurements (see README, "Story
/// clusters").
pub const DEFAULT_TITLE_THRESHOLD: f64 = 0.5;

/// Default `[dedupe].decay_hours`: a story idle this long needs a similarity e≈2.7 times higher.
pub const DEFAULT_DECAY_HOURS: f64 = 24.0;

/// Id of the merged "everything" feed; reserved, a section may not use it.
pub const ALL_SECTION: &str = "all";

/// The feeds of editors' pins (`syndic pin`): /feeds/must-reads.rss, .atom, .json.
pub const MUST_READS: &str = "must-reads";

/// The validated configuration. Cheap to share behind an `Arc`; swapped whole on reload.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    /// Absolute path of the SQLite database.
    pub database: PathBuf,
    /// `[storage] url`: a PostgreSQL database (`postgres://...`) used instead of the SQLite file.
    pub database_url: Option<String>,
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
    /// On PostgreSQL, how long a node's claim on a due source lasts unless renewed (a node renews the
    /// claims of its running refreshes; a node that dies loses them to the others this long after).
    pub lease: Duration,
    pub user_agent: String,
    /// Feed hints (`<ttl>`, `sy:updatePeriod`, `Cache-Control: max-age`, `Expires`) may stretch a source's
    /// interval (never shorten it), up to [`MAX_HINT`].
    pub honor_feed_hints: bool,
    /// Follow redirects from a public address to a loopback, private or link-local one (off: refused).
    pub allow_private_redirects: bool,
}

/// Default `[poll].lease_secs`: the fetch timeout plus this.
pub const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(60);

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

/// Default `[tagging].min_confidence`: chosen on labelled news so that applied learned tags are at least
/// 0.95 precise (`tag_eval` on AG News over nine splits, `--seed` "" and a-h: 0.9529-0.9721 precise,
/// 53-58% of stories covered; at 0.925 one split fell to 0.9486, at 0.9 to 0.9468).
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.95;

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
#[derive(Debug, Clone, PartialEq)]
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
    /// Whether the learned tagger may put stories here (`learn = false`: a desk that tags by hand; the
    /// tagger neither learns nor applies this section).
    pub learn: bool,
}

impl Default for SectionConfig {
    /// No rules; the learned tagger may apply it (as `[[section]]` without `learn` says).
    fn default() -> Self {
        SectionConfig {
            id: String::new(),
            title: String::new(),
            keywords: Vec::new(),
            exclude: Vec::new(),
            categories: Vec::new(),
            paths: Vec::new(),
            regex: Vec::new(),
            learn: true,
        }
    }
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

impl SourceConfig {
    /// A source at `url` with the defaults of a `[[source]]` that gives only its name and URL: no
    /// sections of its own, the global schedule, title dedupe on, the default tagging.
    pub fn at(name: &str, url: Url) -> SourceConfig {
        SourceConfig {
            name: name.to_string(),
            url,
            sections: vec![],
            schedule: None,
            dedupe: true,
            tagging: Default::default(),
        }
    }
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

    /// The store as messages name it: the PostgreSQL URL (password hidden) or the SQLite file.
    pub fn storage_name(&self) -> String {
        match &self.database_url {
            Some(url) => crate::text::redacted_url(url),
            None => self.database.display().to_string(),
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
        if section == MUST_READS {
            return Some(format!("{}: Must-reads", self.output.title));
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
mod tests;
