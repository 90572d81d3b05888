//! Command-line interface: clap definitions and the commands behind them.

mod act;
pub mod import;
mod pins;
mod show;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

use act::{import_opml, migrate, poll, render, train};
use pins::{pin, pins, unpin};
use show::{explain_pair, sources, stories};

#[derive(Debug, Parser)]
#[command(
    name = "syndic",
    version,
    about = "Feed syndication daemon: many source feeds in, one clean feed per section out"
)]
pub struct Cli {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "SYNDIC_CONFIG",
        default_value = "feeds.toml"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll on schedule and serve feeds over HTTP until SIGTERM/SIGINT (SIGHUP reloads).
    Run,
    /// Refresh every source once now, print a summary line per source, and exit.
    Poll {
        /// Only this source (by name).
        #[arg(long)]
        source: Option<String>,
        /// Also poll sources that are held (Retry-After, backing off after failures, or gone).
        #[arg(long)]
        force: bool,
    },
    /// Validate the config: exit 0, or print each error with line and column and exit 2.
    Check,
    /// Write every feed as static files into DIR (each file replaced atomically).
    Render {
        #[arg(long)]
        out: PathBuf,
    },
    /// List stored stories, newest first, with their sources.
    Stories {
        /// Only stories of this section (`all` for everything).
        #[arg(long)]
        section: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// `latest` (newest first) or `top` ("Popular now": most sources first, last --hours).
        #[arg(long, value_enum, default_value_t = Sort::Latest)]
        sort: Sort,
        /// The period of `--sort top`, in hours (168 = "Weekly best").
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::store::MAX_TOP_HOURS)))]
        hours: u32,
        /// Say why each item joined its story and why each section applies.
        #[arg(long)]
        explain: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Say whether an item titled FIRST would join a story titled SECOND (from another source) under
    /// the config's `[dedupe]` settings: the decision, the score, the shared and distinctive words and any
    /// look-alike veto. Token weights come from the stored stories of the window, when there are any.
    Explain {
        first: String,
        second: String,
        /// FIRST's date (RFC 3339, e.g. 2026-03-10T09:00:00Z; default: now).
        #[arg(long)]
        first_date: Option<String>,
        /// SECOND's date (default: FIRST's).
        #[arg(long)]
        second_date: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Copy the database to FILE, consistently, even while the daemon runs (SQLite's backup API).
    Backup {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Copy the SQLite database into a PostgreSQL database (`postgres://user[:password]@host[:port]/db`):
    /// its schema first, then every table in one transaction. Safe to run again: rows already copied
    /// are kept or updated, none doubled. Prints the server's version, the schema state and the rows
    /// per table.
    Migrate {
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Train the learned tagger now on the stored stories (`[tagging].learn` must be on), store the
    /// model, re-score recent stories, and print what it learned.
    Train,
    /// Append the feeds of an OPML subscription list to the config as [[source]] entries, keeping its
    /// comments and layout; URLs already configured are skipped. The result is validated before it is
    /// written (atomically). A running daemon picks the new sources up on reload (SIGHUP).
    ImportOpml {
        file: PathBuf,
        /// Put every imported source in this section (besides the sections its OPML categories or
        /// folders name).
        #[arg(long)]
        section: Option<String>,
    },
    /// Pin a story to the "Must-reads" list and feeds (/feeds/must-reads.rss, .atom, .json), newest pin
    /// first; retention keeps it while the pin holds. STORY: its number (`#12` in `syndic stories`, `id`
    /// in `--json`) or its uid. Pinning it again replaces the pin.
    Pin {
        story: String,
        /// When the pin expires: a date (2026-12-31, the end of that day UTC) or an RFC 3339 time
        /// (default: until `syndic unpin`).
        #[arg(long)]
        until: Option<String>,
        /// The editor's line shown beside it on the front page.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Remove a story's pin.
    Unpin { story: String },
    /// List the pins, newest first, live and expired.
    Pins {
        #[arg(long)]
        json: bool,
    },
    /// Show each source's health: last fetch, status, next due, error streak, item count.
    Sources {
        #[arg(long)]
        json: bool,
        /// Print the configured sources as OPML 2.0 (for a feed reader) instead.
        #[arg(long, conflicts_with = "json")]
        opml: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    Latest,
    Top,
}

/// Bad usage (exit code 2), as opposed to a runtime failure (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs a parsed command line: one match arm per command, each a call to the function behind it (a
/// dispatch table kept in one place, so its length follows the number of commands).
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Check => {
            let database = match &config.database_url {
                Some(url) => postgres_state(url)?,
                None => config.database.display().to_string(),
            };
            println!(
                "{}: ok ({} sections, {} sources, database {database})",
                cli.config.display(),
                config.sections.len(),
                config.sources.len(),
            );
            Ok(())
        }
        Command::Run => {
            crate::service::daemon::run(config, crate::service::daemon::shutdown_signal(), |addr| {
                eprintln!("syndic: serving http://{addr}/ (feeds under /feeds/)");
            })
            .await
        }
        Command::Poll { source, force } => poll(config, source.as_deref(), force).await,
        Command::Render { out } => render(config, &out).await,
        Command::Stories {
            section,
            limit,
            sort,
            hours,
            explain,
            json,
        } => {
            let view = match sort {
                Sort::Latest => crate::publish::render::View::Latest,
                Sort::Top => crate::publish::render::View::Top { hours },
            };
            stories(config, section.as_deref(), limit, view, explain, json)
        }
        Command::Sources {
            json: _,
            opml: true,
        } => {
            std::io::stdout().write_all(&crate::publish::render::opml::render(&config))?;
            Ok(())
        }
        Command::Sources { json, opml: false } => sources(config, json),
        Command::Train => train(config).await,
        Command::Pin { story, until, note } => pin(config, &story, until.as_deref(), &note),
        Command::Unpin { story } => unpin(config, &story),
        Command::Pins { json } => pins(config, json),
        Command::Migrate { to } => migrate(config, to).await,
        Command::Explain {
            first,
            second,
            first_date,
            second_date,
            json,
        } => explain_pair(
            config,
            [&first, &second],
            [first_date.as_deref(), second_date.as_deref()],
            json,
        ),
        Command::ImportOpml { file, section } => import_opml(&cli.config, &config, &file, section),
        Command::Backup { file, force } => {
            if config.database_url.is_some() {
                return Err(UsageError(
                    "storage.url is a PostgreSQL database: back it up with pg_dump".into(),
                )
                .into());
            }
            if file.exists() && !force {
                return Err(UsageError(format!(
                    "{} exists; pass --force to replace it",
                    file.display()
                ))
                .into());
            }
            if !config.database.exists() {
                anyhow::bail!(
                    "{}: no database yet (run `syndic poll` first)",
                    config.database.display()
                );
            }
            let pages = crate::store::backup(&config.database, &file).with_context(|| {
                format!(
                    "backing up {} to {}",
                    config.database.display(),
                    file.display()
                )
            })?;
            println!(
                "{}: consistent copy of {} ({pages} pages)",
                file.display(),
                config.database.display()
            );
            Ok(())
        }
    }
}

/// `syndic check` of a `[storage] url`: connects (a clear error when it cannot) and says the server's
/// version and how far the schema is (syndic applies what is missing when it starts).
fn postgres_state(url: &str) -> anyhow::Result<String> {
    let pg = crate::store::pg::Pg::connect(url)?;
    let state = pg.state()?;
    let schema = match state.applied {
        n if n == state.known => "schema up to date".to_string(),
        0 => "empty (syndic creates the schema when it starts)".to_string(),
        n if n < state.known => format!(
            "schema {n} of {} (syndic migrates it when it starts)",
            state.known
        ),
        n => format!(
            "schema {n}, newer than this syndic ({}): upgrade syndic",
            state.known
        ),
    };
    Ok(format!(
        "{}: PostgreSQL {}, {schema}",
        crate::text::redacted_url(url),
        state.server_version
    ))
}

pub(super) fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open_configured(
        &config.database,
        config.database_url.as_deref(),
        config.dedupe.window,
    )
    .with_context(|| format!("opening {}", config.storage_name()))
}
