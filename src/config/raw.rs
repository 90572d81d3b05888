//! The file as written: serde structs that mirror the TOML exactly (`deny_unknown_fields`), with
//! spans for error positions and the documented defaults.

use serde::Deserialize;
use toml::Spanned;

use super::{
    DEFAULT_DECAY_HOURS, DEFAULT_MAX_ENTRIES, DEFAULT_MIN_CONFIDENCE, DEFAULT_TITLE_THRESHOLD,
    LearnApply, Tagging,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) storage: RawStorage,
    #[serde(default)]
    pub(super) poll: RawPoll,
    #[serde(default)]
    pub(super) dedupe: RawDedupe,
    #[serde(default)]
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) tagging: RawTagging,
    #[serde(default, rename = "section")]
    pub(super) sections: Vec<Spanned<RawSection>>,
    #[serde(default, rename = "source")]
    pub(super) sources: Vec<Spanned<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub(super) listen: Spanned<String>,
    pub(super) base_url: Option<Spanned<String>>,
    pub(super) metrics: Spanned<String>,
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
pub(super) struct RawStorage {
    pub(super) database: String,
    pub(super) url: Option<Spanned<String>>,
    pub(super) keep_days: Spanned<u64>,
    pub(super) tombstone_days: Spanned<u64>,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            database: "syndic.db".into(),
            url: None,
            keep_days: Spanned::new(0..0, 30),
            tombstone_days: Spanned::new(0..0, 90),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPoll {
    pub(super) schedule: Spanned<String>,
    pub(super) timeout_secs: Spanned<u64>,
    pub(super) max_bytes: Spanned<u64>,
    pub(super) max_entries: Spanned<usize>,
    pub(super) concurrency: Spanned<usize>,
    pub(super) per_host: Spanned<usize>,
    pub(super) lease_secs: Option<Spanned<u64>>,
    pub(super) user_agent: String,
    pub(super) honor_feed_hints: bool,
    pub(super) allow_private_redirects: bool,
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
            lease_secs: None,
            user_agent: concat!("syndic/", env!("CARGO_PKG_VERSION")).into(),
            honor_feed_hints: true,
            allow_private_redirects: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDedupe {
    pub(super) title_threshold: Spanned<f64>,
    pub(super) decay_hours: Spanned<f64>,
    pub(super) window_hours: Spanned<u64>,
    pub(super) similarity: bool,
    pub(super) veto: Option<Vec<Spanned<String>>>,
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
pub(super) struct RawOutput {
    pub(super) title: String,
    pub(super) max_items: Spanned<usize>,
    pub(super) websub_hub: Option<Spanned<String>>,
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
pub(super) struct RawTagging {
    pub(super) learn: bool,
    pub(super) min_confidence: Spanned<f64>,
    pub(super) apply: LearnApply,
    pub(super) retrain_hours: Spanned<u64>,
    pub(super) retrain_after: Spanned<u64>,
    pub(super) min_stories: Spanned<u64>,
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
pub(super) struct RawSection {
    pub(super) id: Spanned<String>,
    pub(super) title: String,
    #[serde(default)]
    pub(super) keywords: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) categories: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) paths: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) regex: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    pub(super) learn: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) name: Spanned<String>,
    pub(super) url: Spanned<String>,
    #[serde(default)]
    pub(super) sections: Vec<Spanned<String>>,
    pub(super) schedule: Option<Spanned<String>>,
    pub(super) dedupe: Option<bool>,
    #[serde(default)]
    pub(super) tagging: Tagging,
}

// ---- validation ----
