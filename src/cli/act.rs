//! The commands that do work: `poll`, `render --out`, `import-opml`, `train`, `migrate`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::config::Config;
use crate::ingest::refresh::{self, Outcome};
use crate::publish::files::write_atomically;

use super::{UsageError, open_store};

pub(super) async fn poll(config: Config, only: Option<&str>, force: bool) -> anyhow::Result<()> {
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
    let mut selected = chosen;
    // On a database that nodes poll, a source one of them is fetching is left to it (unless --force),
    // and the ones polled here are leased to this process, so the nodes leave them alone meanwhile.
    let leased = if force {
        None
    } else {
        lease_for_poll(&ctx, &mut selected, &mut held, &mut stdout).await?
    };
    // Print each line as its source finishes: on a terminal that is the progress display.
    let seen_at = chrono::Utc::now();
    let mut pending: FuturesUnordered<_> = selected
        .iter()
        .map(|s| {
            let (ctx, leased) = (&ctx, &leased);
            async move {
                let report = refresh::refresh(ctx, s, seen_at).await;
                if let (Some(node), Some(&id)) = (leased, ctx.source_ids.get(&s.name)) {
                    crate::service::cluster::release(node, ctx, id).await;
                }
                report
            }
        })
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

/// On PostgreSQL, leases the `selected` sources to this process and drops (with a line each, counted
/// in `held`) those another node holds; returns this process's node name when it took leases.
async fn lease_for_poll(
    ctx: &refresh::Context,
    selected: &mut Vec<crate::config::SourceConfig>,
    held: &mut usize,
    out: &mut impl Write,
) -> anyhow::Result<Option<String>> {
    if ctx.store.postgres().is_none() || selected.is_empty() {
        return Ok(None);
    }
    let node = crate::service::cluster::node_name();
    let ids: Vec<i64> = selected
        .iter()
        .filter_map(|s| ctx.source_ids.get(&s.name).copied())
        .collect();
    let lease = chrono::Duration::from_std(ctx.config.poll.lease)?;
    let name = node.clone();
    let (taken, holders) = ctx
        .store
        .call(move |s| {
            let pg = s.postgres().expect("checked above");
            let now = chrono::Utc::now();
            let taken = pg.take_leases(&name, &ids, now + lease, now)?;
            Ok((taken, pg.leases(now)?))
        })
        .await?;
    let holders: std::collections::HashMap<String, Option<String>> = holders.into_iter().collect();
    let mut kept = Vec::with_capacity(selected.len());
    for s in selected.drain(..) {
        let id = ctx.source_ids.get(&s.name).copied();
        if id.is_some_and(|id| taken.contains(&id)) {
            kept.push(s);
            continue;
        }
        *held += 1;
        let by = holders
            .get(&s.name)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "another node".into());
        writeln!(
            out,
            "held     {}: node {by} holds its lease (fetching it now); --force polls it anyway",
            s.name
        )?;
    }
    *selected = kept;
    Ok(Some(node))
}

pub(super) async fn render(config: Config, out: &Path) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let written = crate::publish::files::render_to(&config, &store, out)?;
    println!("wrote {written} files to {}", out.display());
    Ok(())
}

pub(super) fn import_opml(
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

pub(super) async fn train(config: Config) -> anyhow::Result<()> {
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

pub(super) async fn migrate(config: Config, to: String) -> anyhow::Result<()> {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(UsageError(format!(
            "--to {}: want a postgres:// URL (postgres://user[:password]@host[:port]/database)",
            crate::text::redacted_url(&to)
        ))
        .into());
    }
    // The SQLite file of `[storage] database`, even when `url` already names the PostgreSQL target
    // (opened without building the similarity index: a copy decides nothing).
    let store = crate::store::Store::open(&config.database)
        .with_context(|| format!("opening {}", config.database.display()))?;
    // The PostgreSQL client is synchronous (it runs a runtime of its own): off the async workers.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let pg = crate::store::pg::Pg::connect(&to)?;
        let before = pg.state()?;
        println!(
            "{}: PostgreSQL {}, schema {} of {}",
            crate::text::redacted_url(&to),
            before.server_version,
            before.applied,
            before.known
        );
        let counts = store.copy_to(&pg)?;
        let after = pg.state()?;
        for (table, n) in &counts {
            println!("  {table}: {n} rows");
        }
        println!(
            "copied {} into PostgreSQL (schema {} of {})",
            config.database.display(),
            after.applied,
            after.known
        );
        Ok(())
    })
    .await?
}
