//! syndic: polls source feeds, folds their entries into story clusters in SQLite, tags stories with
//! sections, and republishes one merged RSS 2.0 / Atom 1.0 / JSON Feed 1.1 feed per section, and HTML
//! pages, over HTTP.
//!
//! # Layout
//!
//! One folder per stage; each imports only the folders listed below it here, never one above.
//!
//! ```text
//! feeds.toml ─▶ config ─▶ service::daemon ─┬─▶ ingest::refresh(source) ─────────────────────────────┐
//!                                          │   fetch ─▶ parse ─▶ normalize ─▶ store.apply(dedupe, tag)│
//!                                          │                                          (one txn)       │
//!                                          │   RefreshReport (changed sections, counts) ◀─────────────┘
//!                                          └─▶ publish::http ◀── publish::render ◀── store (stories)
//! ```
//!
//! - [`cli`]: the `syndic` commands (and OPML import into feeds.toml).
//! - [`service`]: the daemon's start-up steps, scheduler loop, reload and shutdown; retraining;
//!   systemd notifications. The only place that drives both ingest and publish.
//! - [`eval`]: evaluations through the real paths (`dedupe_eval`, `corpus`, tests).
//! - [`publish`]: render (RSS / Atom / JSON Feed / HTML / OPML), the HTTP server and its cache,
//!   WebSub pings, metrics. Never imports `ingest`.
//! - [`ingest`]: fetch, parse, normalize and the one-source refresh script. Never imports `publish`.
//! - [`store`]: SQLite (WAL, versioned migrations): sources, items, stories, story sections, models.
//! - [`tag`]: pure section tagging (rules) and the learned tagger.
//! - [`dedupe`]: pure story identity (title keys, similarity index, event time, look-alike veto, the one
//!   `decide` function, explanations); no SQL.
//! - [`config`]: `feeds.toml` → validated [`config::Config`]; every error with line and column; cron
//!   schedules.
//! - [`model`]: the domain types every stage shares (items, enclosures, feed info, fetch validators).
//! - [`text`]: helpers several stages share (folding, words, hex, XML-illegal characters, error
//!   chains); imports nothing.
//!
//! Data model: a *source* yields *items* (one per entry); items reporting the same news share a *story*.
//! Output feeds list stories, newest first by the time syndic first saw them, with the earliest item as
//! the representative and the other sources as "also reported by".

pub mod cli;
pub mod config;
pub mod dedupe;
pub mod eval;
pub mod ingest;
pub mod model;
pub mod publish;
pub mod service;
pub mod store;
pub mod tag;
pub mod text;
