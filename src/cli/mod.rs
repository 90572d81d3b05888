//! Command-line interface: clap definitions and the commands behind them.

pub mod import;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::config::{ALL_SECTION, Config};
use crate::ingest::refresh::{self, Outcome};
use crate::publish::files::write_atomically;
use crate::store::{FetchStatus, HealthState, Store};

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

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Check => {
            println!(
                "{}: ok ({} sections, {} sources, database {})",
                cli.config.display(),
                config.sections.len(),
                config.sources.len(),
                config.database.display()
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

fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open_with_window(&config.database, config.dedupe.window)
        .with_context(|| format!("opening {}", config.database.display()))
}

async fn poll(config: Config, only: Option<&str>, force: bool) -> anyhow::Result<()> {
    let selected: Vec<_> = match only {
        Some(name) => vec![config.source(name).cloned().ok_or_else(|| {
            UsageError(format!(
                "no source named \"{name}\" in {}",
                config.path.display()
            ))
        })?],
        None => config.sources.clone(),
    };
    let store = open_store(&config)?;
    let ctx = crate::service::startup::prepare(Arc::new(config), store.clone())
        .await?
        .ctx;
    // Manual polls are polite too: held sources are skipped, each with a line saying why and until when.
    let mut stdout = std::io::stdout();
    let mut held = 0;
    let mut chosen = Vec::with_capacity(selected.len());
    for s in selected {
        match refresh::hold_of(&ctx, &s).await.filter(|_| !force) {
            Some(hold) => {
                held += 1;
                writeln!(stdout, "{}", refresh::held_line(&s.name, &hold))?;
            }
            None => chosen.push(s),
        }
    }
    let selected = chosen;
    // Print each line as its source finishes: on a terminal that is the progress display.
    let seen_at = chrono::Utc::now();
    let mut pending: FuturesUnordered<_> = selected
        .iter()
        .map(|s| refresh::refresh(&ctx, s, seen_at))
        .collect();
    let (mut new_items, mut errors, mut total) = (0, 0, 0);
    let mut moved = 0;
    // On a terminal, a progress line on stderr says how many are still running.
    let progress = std::io::stderr().is_terminal();
    let show = |done: usize| {
        if progress {
            eprint!("\r\x1b[2K{done}/{} sources polled…", selected.len());
        }
    };
    show(0);
    while let Some(report) = pending.next().await {
        total += 1;
        if let Outcome::Updated(s) = &report.outcome {
            new_items += s.new_items;
        }
        errors += usize::from(report.is_error());
        moved += usize::from(report.notice.is_some());
        if progress {
            eprint!("\r\x1b[2K");
        }
        writeln!(stdout, "{report}")?;
        stdout.flush()?;
        if total < selected.len() {
            show(total);
        }
    }
    let (items, stories) = store.call(|s| s.counts()).await?;
    let held = if held > 0 {
        format!(", {held} held (see above; --force polls them)")
    } else {
        String::new()
    };
    println!(
        "polled {total} sources: {new_items} new items, {errors} errors{held}; store holds {items} items in {stories} stories"
    );
    if moved > 0 {
        println!(
            "{moved} source(s) moved permanently: update their url in feeds.toml (see the NOTE lines)"
        );
    }
    Ok(())
}

async fn render(config: Config, out: &Path) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let written = crate::publish::files::render_to(&config, &store, out)?;
    println!("wrote {written} files to {}", out.display());
    Ok(())
}

fn import_opml(
    path: &Path,
    config: &Config,
    file: &Path,
    section: Option<String>,
) -> anyhow::Result<()> {
    if let Some(s) = &section
        && config.section(s).is_none()
    {
        return Err(UsageError(format!("unknown section \"{s}\"")).into());
    }
    let opml = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let feeds = crate::cli::import::parse_opml(&opml)
        .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (out, report) =
        crate::cli::import::append_sources(path, &text, config, &feeds, section.as_deref())
            .map_err(UsageError)?;
    for (url, why) in &report.skipped {
        println!("skipped {url}: {why}");
    }
    for (name, url, sections) in &report.added {
        println!("added {name:?} {url} [{}]", sections.join(", "));
    }
    if !report.added.is_empty() {
        write_atomically(path, out.as_bytes())?;
    }
    println!(
        "{}: {} source(s) added, {} skipped{}",
        path.display(),
        report.added.len(),
        report.skipped.len(),
        if report.added.is_empty() {
            ""
        } else {
            "; reload a running daemon (systemctl reload syndic) to poll them"
        }
    );
    Ok(())
}

fn stories(
    config: Config,
    section: Option<&str>,
    limit: usize,
    view: crate::publish::render::View,
    explain: bool,
    json: bool,
) -> anyhow::Result<()> {
    if let Some(s) = section
        && s != ALL_SECTION
        && config.section(s).is_none()
    {
        return Err(UsageError(format!("unknown section \"{s}\"")).into());
    }
    let store = open_store(&config)?;
    let top = matches!(view, crate::publish::render::View::Top { .. });
    let (stories, _) = crate::publish::rendered::stories_for(&store, section, limit, view)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &stories)?;
        writeln!(out)?;
        return Ok(());
    }
    for s in &stories {
        let lead = s.lead();
        let sources = if top {
            format!("  ({} sources)", s.source_count())
        } else {
            String::new()
        };
        writeln!(
            out,
            "{}  [{}]  {}{sources}",
            short_time(s.first_seen),
            s.sections.join(", "),
            lead.title
        )?;
        for item in &s.items {
            writeln!(
                out,
                "      {}: {}",
                item.source,
                item.url.as_deref().unwrap_or("(no link)")
            )?;
            if explain {
                writeln!(out, "          {}", explain_join(item))?;
                if let Some(refusal) = explain_refusal(item) {
                    writeln!(out, "          {refusal}")?;
                }
            }
        }
        if explain {
            for (section, origin) in s.sections.iter().zip(&s.section_origins) {
                writeln!(out, "      section {section}: {}", explain_origin(origin))?;
            }
        }
    }
    if stories.is_empty() {
        writeln!(out, "no stories yet: run `syndic poll` first")?;
    }
    Ok(())
}

/// `syndic explain`: the decision for two titles, with its evidence.
fn explain_pair(
    config: Config,
    titles: [&str; 2],
    dates: [Option<&str>; 2],
    json: bool,
) -> anyhow::Result<()> {
    let parse = |d: &str| {
        DateTime::parse_from_rfc3339(d)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| UsageError(format!("bad date \"{d}\": {e} (want RFC 3339)")))
    };
    let first_at = dates[0]
        .map(parse)
        .transpose()?
        .unwrap_or_else(chrono::Utc::now);
    let second_at = dates[1].map(parse).transpose()?.unwrap_or(first_at);
    let policy = crate::dedupe::Policy {
        window: config.dedupe.window,
        threshold: config.dedupe.title_threshold,
        title_dedupe: true,
        similarity: config.dedupe.similarity,
        veto: config.dedupe.veto,
    };
    let a = crate::dedupe::PairSide {
        title: titles[0],
        event: first_at,
    };
    let b = crate::dedupe::PairSide {
        title: titles[1],
        event: second_at,
    };
    let decay = config.dedupe.decay_hours;
    let e = if config.database.exists() {
        open_store(&config)?
            .with_index(|ix| crate::dedupe::explain_pair(ix, &a, &b, &policy, decay))
    } else {
        crate::dedupe::explain_pair(&crate::dedupe::TitleIndex::new(), &a, &b, &policy, decay)
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &e)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{}: {}", e.decision, e.reason)?;
    writeln!(
        out,
        "  score {:.3} = similarity {:.3} x decay {:.3} ({:.1} h apart); threshold {}",
        e.score, e.similarity, e.decay, e.hours_apart, e.threshold
    )?;
    writeln!(
        out,
        "  same headline: {}",
        if e.same_fingerprint { "yes" } else { "no" }
    )?;
    writeln!(out, "  shared words:       {}", e.shared.join(" "))?;
    writeln!(out, "  only in the first:  {}", e.only_first.join(" "))?;
    writeln!(out, "  only in the second: {}", e.only_second.join(" "))?;
    writeln!(
        out,
        "  look-alike veto: {}",
        e.veto.as_deref().unwrap_or("none")
    )?;
    Ok(())
}

/// Why an item is in its story, in words.
fn explain_join(item: &crate::store::StoryItem) -> String {
    let Some(j) = &item.joined else {
        return format!("started the story: \"{}\"", item.title);
    };
    let matched = match (&j.matched_source, &j.matched_title) {
        (Some(src), Some(t)) => format!(" \"{t}\" ({src})"),
        _ => String::new(),
    };
    use crate::store::JoinReason;
    match j.reason {
        JoinReason::Url => format!("joined: same article URL as{matched}"),
        JoinReason::Title => format!("joined: same headline as{matched}"),
        JoinReason::Similar => format!(
            "joined: similar title, score {:.2}, to{matched}: \"{}\"",
            j.score.unwrap_or(0.0),
            item.title
        ),
        JoinReason::Joined => "joined (stored before syndic recorded why)".to_string(),
    }
}

/// A similar story an item was kept out of, in words.
fn explain_refusal(item: &crate::store::StoryItem) -> Option<String> {
    let r = item.refused.as_ref()?;
    let matched = match (&r.matched_source, &r.matched_title) {
        (Some(src), Some(t)) => format!(" \"{t}\" ({src})"),
        _ => String::new(),
    };
    Some(format!(
        "kept apart from the look-alike{matched}, score {:.2}: {}",
        r.score.unwrap_or(0.0),
        r.reason
    ))
}

async fn train(config: Config) -> anyhow::Result<()> {
    if !config.tagging.learn {
        return Err(UsageError(
            "the learned tagger is off: set `learn = true` under [tagging] in the config".into(),
        )
        .into());
    }
    let store = open_store(&config)?;
    let ctx = crate::service::startup::prepare(Arc::new(config), store)
        .await?
        .ctx;
    let (config, tagger) = (ctx.config.clone(), ctx.tagger.clone());
    let outcome = ctx
        .store
        .call(move |s| crate::service::retrain::train_now(s, &config, &tagger))
        .await?;
    match outcome {
        crate::service::retrain::Trained::NotEnough(why) => {
            println!("learned tagger not trained: {why}");
        }
        crate::service::retrain::Trained::Model(s) => {
            let per: Vec<String> = s
                .per_section
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            println!(
                "learned tagger trained in {} ms on {} examples ({}); held-out accuracy {:.3}",
                s.elapsed.as_millis(),
                s.per_section.values().sum::<usize>(),
                per.join(", "),
                s.report.holdout_accuracy
            );
            if !s.left_out.is_empty() {
                let left: Vec<String> = s
                    .left_out
                    .iter()
                    .map(|(k, v)| format!("{k} ({v})"))
                    .collect();
                println!(
                    "left out for fewer than {} examples: {}",
                    crate::service::retrain::MIN_PER_SECTION,
                    left.join(", ")
                );
            }
            if !s.retagged.is_empty() {
                let sections: Vec<&str> = s.retagged.iter().map(String::as_str).collect();
                println!(
                    "recent stories re-scored; feeds changed: {}",
                    sections.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// A section tag's origin ("source:NAME", "keyword:WORDS") in words.
fn explain_origin(origin: &str) -> String {
    match origin.split_once(':') {
        Some(("source", name)) => format!("default section of source \"{name}\""),
        Some(("keyword", words)) => format!("keyword rule \"{words}\""),
        Some(("category", name)) => format!("the source's own category \"{name}\""),
        Some(("path", rule)) => format!("article URL path rule \"{rule}\""),
        Some(("regex", pattern)) => format!("regex rule /{pattern}/"),
        Some(("learned", confidence)) => format!("learned tagger, confidence {confidence}"),
        _ => origin.to_string(),
    }
}

fn sources(config: Config, json: bool) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let ctx_ids = store.sync_sources(&config.sources)?;
    let health = store.source_health()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &health)?;
        writeln!(out)?;
        return Ok(());
    }
    for h in &health {
        let status = h.status.map_or("never fetched", FetchStatus::as_str);
        writeln!(
            out,
            "{}{}\n    url: {}\n    state: {}  status: {status}  items: {}  error streak: {}\n    last fetch: {}  last success: {}  next due: {}",
            h.name,
            if ctx_ids.contains_key(&h.name) {
                ""
            } else {
                "  (no longer configured)"
            },
            h.url,
            h.state.as_str(),
            h.items,
            h.error_streak,
            opt_time(h.last_fetch_at),
            opt_time(h.last_success_at),
            opt_time(h.next_check_at),
        )?;
        if let Some(e) = &h.last_error
            && h.status == Some(FetchStatus::Error)
        {
            writeln!(out, "    error: {e}")?;
        }
        match h.state {
            HealthState::Gone => writeln!(
                out,
                "    GONE since {}: the server answered 410; it is not polled again. Remove the source from feeds.toml or give it a new url.",
                opt_time(h.gone_at)
            )?,
            HealthState::RetryAfter => writeln!(
                out,
                "    HELD until {}: the server asked to retry later (Retry-After); nothing to do (`syndic poll --force` overrides).",
                opt_time(h.retry_until)
            )?,
            HealthState::Backoff => writeln!(
                out,
                "    BACKING OFF: {} consecutive failures; next try {} (the wait doubles per failure, up to 24 h). Fix the url or wait; `syndic poll --force` tries now.",
                h.error_streak,
                opt_time(h.next_check_at)
            )?,
            HealthState::Ok | HealthState::New => {}
        }
        if let Some(to) = &h.moved_to {
            writeln!(
                out,
                "    MOVED permanently to {to}: polled there now. Update url in feeds.toml to it."
            )?;
        }
        if let Some(secs) = h.hint_secs {
            writeln!(
                out,
                "    the feed asks to be polled at most every {} min (honoured as a longer interval)",
                secs / 60
            )?;
        }
    }
    Ok(())
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}
