//! The commands that print what the store holds: `stories` (with `--explain`), `explain`, `sources`.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::config::{ALL_SECTION, Config};
use crate::store::{FetchStatus, HealthState};

use super::{UsageError, open_store};

pub(super) fn stories(
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
        // `#ID`: what `syndic pin` takes.
        writeln!(
            out,
            "{}  [{}]  {}{sources}  #{}",
            short_time(s.first_seen),
            s.sections.join(", "),
            lead.title,
            s.id
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
                writeln!(out, "      section {section}: {}", origin)?;
            }
        }
    }
    if stories.is_empty() {
        writeln!(out, "no stories yet: run `syndic poll` first")?;
    }
    Ok(())
}

/// `syndic explain`: the decision for two titles, with its evidence.
pub(super) fn explain_pair(
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
pub(super) fn explain_join(item: &crate::store::StoryItem) -> String {
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
pub(super) fn explain_refusal(item: &crate::store::StoryItem) -> Option<String> {
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

pub(super) fn sources(config: Config, json: bool) -> anyhow::Result<()> {
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
        if let (Some(node), Some(until)) = (&h.lease_node, h.lease_until) {
            writeln!(
                out,
                "    leased to node {node} until {} (a refresh runs there now)",
                opt_time(Some(until))
            )?;
        }
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

pub(super) fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

pub(super) fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}
