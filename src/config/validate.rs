//! Validation: the raw file's values checked one table at a time, each a step of [`Validator::build`]
//! that records every problem with its position and still returns a usable value, so one pass reports
//! all problems.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::raw::{
    RawConfig, RawDedupe, RawOutput, RawPoll, RawSection, RawServer, RawSource, RawStorage,
    RawTagging,
};
use super::schedule::Schedule;
use super::{
    ALL_SECTION, Config, ConfigError, DEFAULT_LEASE_MARGIN, DedupeConfig, MAX_WINDOW_HOURS,
    MUST_READS, OutputConfig, PollConfig, Problem, SectionConfig, ServerConfig, SourceConfig,
    TaggingConfig, line_col,
};

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

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl Validator<'_> {
    pub(super) fn push(&mut self, span: Option<Range<usize>>, message: String) {
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
    pub(super) fn into_error(mut self, path: &Path) -> ConfigError {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigError {
            path: path.to_path_buf(),
            problems: self.problems,
        }
    }

    /// The whole config: each table checked by its own step, sections before the sources that name
    /// them.
    pub(super) fn build(&mut self, raw: RawConfig, path: &Path, dir: &Path) -> Config {
        let server = self.server(&raw.server);
        let output = self.output(raw.output);
        let database_url = self.database_url(raw.storage.url.as_ref());
        let (database, keep, tombstones_for) =
            self.storage(&raw.storage, &raw.dedupe.window_hours, dir);
        let poll = self.poll(raw.poll);
        let dedupe = self.dedupe(&raw.dedupe);
        let tagging = self.tagging(raw.tagging);
        let metrics = server.metrics.clone().unwrap_or_default();
        let sections = self.sections(raw.sections, &metrics);
        let ids: HashSet<&str> = sections.iter().map(|s| s.id.as_str()).collect();
        let sources = self.sources(raw.sources, &ids, dir);
        Config {
            path: path.to_path_buf(),
            server,
            database,
            database_url,
            keep,
            tombstones_for,
            poll,
            dedupe,
            output,
            tagging,
            sections,
            sources,
        }
    }

    /// `[server]`: the listening address, the public base URL, the metrics path.
    fn server(&mut self, raw: &RawServer) -> ServerConfig {
        let listen = match raw.listen.get_ref().parse::<SocketAddr>() {
            Ok(a) => a,
            Err(e) => {
                let msg = format!("server.listen: {e} (want host:port, e.g. \"127.0.0.1:8080\")");
                self.err(&raw.listen, msg);
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        let base_url = match &raw.base_url {
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
        let metrics = raw.metrics.get_ref().trim();
        if !metrics.is_empty()
            && (!metrics.starts_with('/')
                || metrics.starts_with("/feeds/")
                || metrics == "/"
                || metrics == "/healthz"
                || metrics == "/sources.opml")
        {
            self.err(
                &raw.metrics,
                format!(
                    "server.metrics: \"{metrics}\" must be a path starting with / other than /, /healthz, /sources.opml and /feeds/... (\"\" turns metrics off)"
                ),
            );
        }
        ServerConfig {
            listen,
            base_url,
            metrics: Some(raw.metrics.get_ref().trim().to_string()).filter(|m| !m.is_empty()),
        }
    }

    /// `[output]`: the merged feed's title, the items per feed, the WebSub hub.
    fn output(&mut self, raw: RawOutput) -> OutputConfig {
        let websub_hub = match &raw.websub_hub {
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
        if *raw.max_items.get_ref() == 0 {
            self.err(
                &raw.max_items,
                "output.max_items: must be at least 1".into(),
            );
        }

        OutputConfig {
            title: raw.title,
            max_items: *raw.max_items.get_ref(),
            websub_hub,
        }
    }

    /// `[storage]`: the database (relative to the config's folder) and how long stories and
    /// tombstones are kept (never shorter than the dedupe window).
    fn storage(
        &mut self,
        raw: &RawStorage,
        window_hours: &Spanned<u64>,
        dir: &Path,
    ) -> (PathBuf, Option<chrono::Duration>, chrono::Duration) {
        let database = dir.join(&raw.database);
        let keep_days = *raw.keep_days.get_ref();
        if keep_days > 0 && keep_days.saturating_mul(24) < *window_hours.get_ref() {
            self.err(
                &raw.keep_days,
                format!(
                    "storage.keep_days: {keep_days} days is shorter than dedupe.window_hours ({} h): stories still being merged would be deleted",
                    window_hours.get_ref()
                ),
            );
        }
        if keep_days > 36_500 || *raw.tombstone_days.get_ref() > 36_500 {
            self.err(
                &raw.keep_days,
                "storage.keep_days and storage.tombstone_days: at most 36500 (0 keeps forever)"
                    .into(),
            );
        }

        let keep = (keep_days > 0).then(|| chrono::Duration::days(keep_days.min(36_500) as i64));
        let tombstones_for =
            chrono::Duration::days((*raw.tombstone_days.get_ref()).min(36_500) as i64);
        (database, keep, tombstones_for)
    }

    /// `[storage] url`: a `postgres://` (or `postgresql://`) URL with a host and a database.
    fn database_url(&mut self, url: Option<&Spanned<String>>) -> Option<String> {
        let url = url?;
        let text = url.get_ref().trim();
        match Url::parse(text) {
            Ok(u)
                if matches!(u.scheme(), "postgres" | "postgresql")
                    && u.host_str().is_some_and(|h| !h.is_empty())
                    && u.path().len() > 1 =>
            {
                Some(text.to_string())
            }
            Ok(_) => {
                self.err(
                    url,
                    "storage.url: want postgres://user[:password]@host[:port]/database".into(),
                );
                None
            }
            Err(e) => {
                self.err(url, format!("storage.url: {e}"));
                None
            }
        }
    }

    /// `[poll]`: the schedule and the fetch limits.
    fn poll(&mut self, p: RawPoll) -> PollConfig {
        let schedule = self.schedule(&p.schedule, "poll.schedule");
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
        let lease = match &p.lease_secs {
            Some(l) if *l.get_ref() < 2 => {
                self.err(l, "poll.lease_secs: must be at least 2".into());
                DEFAULT_LEASE_MARGIN
            }
            Some(l) => Duration::from_secs(*l.get_ref()),
            None => Duration::from_secs(*p.timeout_secs.get_ref()) + DEFAULT_LEASE_MARGIN,
        };
        PollConfig {
            schedule: schedule.unwrap_or_else(Schedule::default_every_15_minutes),
            timeout: Duration::from_secs(*p.timeout_secs.get_ref()),
            lease,
            max_bytes: *p.max_bytes.get_ref(),
            max_entries: (*p.max_entries.get_ref()).max(1),
            concurrency: *p.concurrency.get_ref(),
            per_host: *p.per_host.get_ref(),
            user_agent: p.user_agent.clone(),
            honor_feed_hints: p.honor_feed_hints,
            allow_private_redirects: p.allow_private_redirects,
        }
    }

    /// `[dedupe]`: the similarity threshold, decay, window and look-alike rules.
    fn dedupe(&mut self, raw: &RawDedupe) -> DedupeConfig {
        let threshold = *raw.title_threshold.get_ref();
        if !(0.0..=1.0).contains(&threshold) {
            self.err(
                &raw.title_threshold,
                "dedupe.title_threshold: must be between 0 and 1".into(),
            );
        }
        let decay = *raw.decay_hours.get_ref();
        if !(0.0..=MAX_WINDOW_HOURS as f64).contains(&decay) {
            self.err(
                &raw.decay_hours,
                format!("dedupe.decay_hours: must be between 0 (off) and {MAX_WINDOW_HOURS}"),
            );
        }
        if *raw.window_hours.get_ref() > MAX_WINDOW_HOURS {
            self.err(
                &raw.window_hours,
                format!("dedupe.window_hours: at most {MAX_WINDOW_HOURS} (ten years)"),
            );
        }
        let veto = self.veto_rules(raw.veto.as_deref());
        DedupeConfig {
            title_threshold: threshold,
            decay_hours: if decay.is_finite() {
                decay.max(0.0)
            } else {
                0.0
            },
            window: chrono::Duration::hours(
                (*raw.window_hours.get_ref()).min(MAX_WINDOW_HOURS) as i64
            ),
            similarity: raw.similarity,
            veto,
        }
    }

    /// `[tagging]`: the learned tagger's settings.
    fn tagging(&mut self, t: RawTagging) -> TaggingConfig {
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
        TaggingConfig {
            learn: t.learn,
            min_confidence: min_confidence.clamp(f64::MIN_POSITIVE, 1.0),
            apply: t.apply,
            retrain_every: chrono::Duration::hours(
                (*t.retrain_hours.get_ref()).clamp(1, 24 * 365) as i64
            ),
            retrain_after: (*t.retrain_after.get_ref()).max(1),
            min_stories: *t.min_stories.get_ref(),
        }
    }

    /// The `[[section]]` tables; each id once.
    fn sections(&mut self, raw: Vec<Spanned<RawSection>>, metrics: &str) -> Vec<SectionConfig> {
        let mut seen = HashSet::new();
        raw.into_iter()
            .map(|s| self.section(s.into_inner(), metrics, &mut seen))
            .collect()
    }

    /// One `[[section]]`: its id (not reserved, not taken by a served path, not repeated) and rules.
    fn section(
        &mut self,
        s: RawSection,
        metrics: &str,
        seen: &mut HashSet<String>,
    ) -> SectionConfig {
        let id = s.id.get_ref();
        if id == ALL_SECTION || id == MUST_READS {
            self.err(
                &s.id,
                format!("section id \"{id}\" is reserved for the merged feed and the pins' feed"),
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
        SectionConfig {
            id: id.clone(),
            title: s.title,
            keywords,
            exclude,
            categories,
            paths,
            regex,
            learn: s.learn,
        }
    }

    /// The `[[source]]` tables; names unique, sections defined. A source whose URL is wrong is left
    /// out (its problem is reported).
    fn sources(
        &mut self,
        raw: Vec<Spanned<RawSource>>,
        sections: &HashSet<&str>,
        dir: &Path,
    ) -> Vec<SourceConfig> {
        let mut names = HashSet::new();
        raw.into_iter()
            .filter_map(|s| self.source(s.into_inner(), sections, &mut names, dir))
            .collect()
    }

    /// One `[[source]]`.
    fn source(
        &mut self,
        s: RawSource,
        sections: &HashSet<&str>,
        names: &mut HashSet<String>,
        dir: &Path,
    ) -> Option<SourceConfig> {
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
            if !sections.contains(sec.get_ref().as_str()) {
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
        url.map(|url| SourceConfig {
            name,
            url,
            sections: s.sections.iter().map(|x| x.get_ref().clone()).collect(),
            schedule,
            dedupe: s.dedupe.unwrap_or(true),
            tagging: s.tagging,
        })
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
pub(super) fn parse_source_url(s: &str, dir: &Path) -> Result<Url, String> {
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
