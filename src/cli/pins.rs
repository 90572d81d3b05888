//! `syndic pin`, `unpin` and `pins`: editors' "Must-reads". Only the command line changes pins (no
//! HTTP endpoint does: nothing there authenticates a writer); a running daemon shows a change within a
//! minute (its must-reads feeds and pages are rendered again every minute).

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;

use super::show::short_time;
use super::{UsageError, open_store};

/// `--until`: a date (the pin holds through that day, UTC) or an RFC 3339 time.
fn parse_until(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UsageError> {
    let text = text.trim();
    let at = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        day.succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| UsageError(format!("--until {text}: no such day")))?
    } else {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                UsageError(format!(
                    "--until {text:?}: give a date (2026-12-31) or an RFC 3339 time \
                     (2026-12-31T18:00:00Z)"
                ))
            })?
    };
    if at <= now {
        return Err(UsageError(format!(
            "--until {text}: that is already past ({} UTC now)",
            short_time(now)
        )));
    }
    Ok(at)
}

/// The story STORY names (its number or uid): `(id, lead title)`, or a usage error saying how to find it.
fn story(store: &crate::store::Store, key: &str) -> anyhow::Result<(i64, String)> {
    let key = key.trim().trim_start_matches('#');
    match store.find_story(key)? {
        Some((id, _, title)) => Ok((id, title)),
        None => Err(UsageError(format!(
            "no story {key:?}: give its number (#12 in `syndic stories`, \"id\" in --json) or its uid"
        ))
        .into()),
    }
}

pub(super) fn pin(
    config: Config,
    key: &str,
    until: Option<&str>,
    note: &str,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let until = until.map(|u| parse_until(u, now)).transpose()?;
    let store = open_store(&config)?;
    let (id, title) = story(&store, key)?;
    store.pin(id, now, until, note.trim())?;
    let until = until.map_or("until unpinned".to_string(), held_until);
    println!("pinned #{id} {title:?} {until}");
    Ok(())
}

/// When a pin stops, as an editor reads it: "through 2026-12-31 (UTC)" for a pin that ends at
/// midnight (a `--until` date), else "until 2026-12-31 18:00 UTC".
fn held_until(until: DateTime<Utc>) -> String {
    if until.time() == chrono::NaiveTime::MIN {
        let day = until.date_naive().pred_opt().unwrap_or(until.date_naive());
        format!("through {day} (UTC)")
    } else {
        format!("until {} UTC", short_time(until))
    }
}

pub(super) fn unpin(config: Config, key: &str) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let (id, title) = story(&store, key)?;
    if store.unpin(id)? {
        println!("unpinned #{id} {title:?}");
        Ok(())
    } else {
        Err(UsageError(format!("#{id} {title:?} is not pinned")).into())
    }
}

pub(super) fn pins(config: Config, json: bool) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let pins = store.pins()?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<serde_json::Value> = pins
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                v["live"] = p.live(now).into();
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    if pins.is_empty() {
        writeln!(out, "no pins (`syndic pin STORY` adds one)")?;
    }
    for p in &pins {
        let state = match p.until {
            _ if !p.live(now) => "expired".to_string(),
            Some(u) => held_until(u),
            None => "until unpinned".to_string(),
        };
        writeln!(
            out,
            "#{}  pinned {} UTC, {state}  {}",
            p.story_id,
            short_time(p.pinned_at),
            p.title
        )?;
        if !p.note.is_empty() {
            writeln!(out, "      {}", p.note)?;
        }
    }
    Ok(())
}
