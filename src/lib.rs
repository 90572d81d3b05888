//! syndic: polls source feeds, folds their entries into story clusters in SQLite, tags stories with
//! sections, and republishes one merged RSS 2.0 / Atom 1.0 / JSON Feed 1.1 feed per section, and HTML
//! pages, over HTTP.
//!
//! # Layout
//!
//! ```text
//! feeds.toml ─▶ config ─▶ daemon ─┬─▶ scheduler ─▶ refresh(source) ───────────────────────────────┐
//!                                 │      fetch ─▶ parse ─▶ normalize ─▶ dedupe ─▶ sections ─▶ store │
//!                                 │                                                    (one txn)   │
//!                                 └─▶ http ◀── render (RSS / Atom / JSON / HTML / OPML) ◀──────────┘
//! ```
//!
//! - [`config`]: `feeds.toml` → validated [`config::Config`]; every error with line and column.
//! - [`schedule`]: cron expressions (standard 5-field crontab) → next due time, with jitter.
//! - [`refresh`]: one source's refresh as a script, under global and per-host limits.
//! - [`fetch`]: HTTP GET (or `file://` read) with conditional headers, timeouts and a size cap.
//! - [`parse`]: bytes → feed-rs model, with a repair-and-retry pass.
//! - [`normalize`]: feed-rs model → [`normalize::Item`]: stable keys, canonical URLs, clean text.
//! - [`dedupe`]: pure story identity (a folder: title keys, similarity index, event time, look-alike
//!   veto, the one `decide` function, explanations); no SQL.
//! - [`sections`]: pure tagging: source sections and keyword rules, with origins.
//! - [`learn`]: the learned tagger: hashed features, logistic regression with naive Bayes, calibrated.
//! - [`retrain`]: trains it on the stored stories whose sections are certain; stores and installs it.
//! - [`store`]: SQLite (WAL, versioned migrations): sources, items, stories, story sections.
//! - [`render`]: stories → RSS / Atom / JSON Feed bytes, the HTML pages, OPML; pure.
//! - [`http`]: axum router over a render cache with ETag, Last-Modified, 304 and gzip.
//! - [`websub`]: WebSub publish pings to the configured hub when feeds change, off the refresh path.
//! - [`import`]: OPML subscription lists appended to feeds.toml (`syndic import-opml`).
//! - [`metrics`]: `/metrics` in the Prometheus text format.
//! - [`daemon`]: scheduler loop, SIGHUP reload, graceful shutdown, systemd notifications and watchdog.
//! - [`notify`]: the `sd_notify` protocol over `$NOTIFY_SOCKET` (nothing without it).
//! - [`text`]: helpers several stages share (folding, hex, XML-illegal characters); imports nothing.
//! - [`evaluate`]: story-cluster evaluation through the real paths (`dedupe_eval`, tests).
//! - [`cli`]: the `syndic` commands.
//! - [`corpus`]: folders of feed documents through the real path, with conformance to expectations.
//!
//! Data model: a *source* yields *items* (one per entry); items reporting the same news share a *story*.
//! Output feeds list stories, newest first by the time syndic first saw them, with the earliest item as
//! the representative and the other sources as "also reported by".

pub mod cli;
pub mod config;
pub mod corpus;
pub mod daemon;
pub mod dedupe;
pub mod evaluate;
pub mod fetch;
pub mod http;
pub mod import;
pub mod learn;
pub mod metrics;
pub mod normalize;
pub mod notify;
pub mod parse;
pub mod refresh;
pub mod render;
pub mod retrain;
pub mod schedule;
pub mod sections;
pub mod store;
pub mod text;
pub mod websub;
