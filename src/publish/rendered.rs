//! A feed or page rendered from the store, with the response headers that do not depend on the
//! request (ETag of the bytes, Last-Modified, Cache-Control, Link), and the story query behind it.
//! Used by the HTTP cache and by `syndic render --out`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{ALL_SECTION, Config, MUST_READS};
use crate::publish::render::{self, FeedMeta, Format, View};
use crate::store::{Store, StoreError, TopQuery};
use crate::text::hex;

/// How long a rendered top view is served before it is rendered again.
pub const TOP_TTL: Duration = Duration::from_secs(60);

/// One rendered feed, ready to serve.
#[derive(Debug)]
pub struct Rendered {
    /// Shared, so serving a cached feed copies no bytes.
    pub body: Bytes,
    pub gzip: Bytes,
    /// Strong ETag of the identity body (quoted).
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    /// Whether an older archive page follows (the body links `rel="next"`).
    pub has_next: bool,
    /// The response headers that do not depend on the request, built once.
    pub(super) headers: Headers,
}

#[derive(Debug)]
pub(super) struct Headers {
    pub(super) etag: HeaderValue,
    pub(super) gzip_etag: HeaderValue,
    pub(super) last_modified: HeaderValue,
    /// `public, max-age=N`, N the poll interval (one to sixty minutes): a reader or cache need not ask
    /// again before syndic could have anything new.
    pub(super) cache_control: HeaderValue,
    /// `<self URL>; rel="self"`, and the paging and hub links.
    pub(super) link: HeaderValue,
    pub(super) content_type: HeaderValue,
}

impl Rendered {
    /// Renders a section's feed from the store; `None` for an unknown section.
    pub fn build(
        config: &Config,
        store: &Store,
        section: &str,
        format: Format,
        view: View,
    ) -> Result<Option<Rendered>, StoreError> {
        let Some(meta) = FeedMeta::new(config, section, format) else {
            return Ok(None);
        };
        let (stories, more) = if section == MUST_READS {
            // The pins' feed has one view: the live pins, newest first (no pages, no ranking).
            if view != View::Latest {
                return Ok(None);
            }
            let pinned = store.pinned_stories(Utc::now(), config.output.max_items)?;
            (pinned.into_iter().map(|(s, _)| s).collect(), false)
        } else {
            stories_for(store, Some(section), config.output.max_items, view)?
        };
        if stories.is_empty() && matches!(view, View::Page { .. }) {
            return Ok(None);
        }
        let mut meta = meta.with_view(view);
        match view {
            View::Latest => meta = meta.with_paging(1, more),
            View::Page { page } => meta = meta.with_paging(page, more),
            View::Top { .. } => {}
        }
        let body = render::render(format, &meta, &stories);
        let max_age = config
            .poll
            .schedule
            .interval(Utc::now())
            .num_seconds()
            .clamp(60, 3600);
        Ok(Some(Rendered {
            has_next: meta.paging.next.is_some(),
            ..Rendered::finish(
                body,
                &view.query(),
                format.content_type(),
                render::last_updated(&stories),
                max_age,
                &link_header(&meta),
            )
        }))
    }

    /// Renders the HTML page of a section (`all`: the front page); `None` for an unknown section.
    pub fn page(
        config: &Config,
        store: &Store,
        section: &str,
    ) -> Result<Option<Rendered>, StoreError> {
        let Some(meta) = render::html::PageMeta::new(config, section) else {
            return Ok(None);
        };
        let now = Utc::now();
        let (stories, _) =
            stories_for(store, Some(section), config.output.max_items, View::Latest)?;
        // Enough of the ranking to fill the box with stories of two sources or more.
        let top = TopQuery {
            now,
            hours: View::TOP_HOURS,
        };
        let popular = store.stories_by(Some(section), 4 * render::html::POPULAR, Some(top))?;
        // "Weekly best": the same ranking over a week (the `?sort=top&hours=168` view).
        let week = TopQuery {
            now,
            hours: View::WEEK_HOURS,
        };
        let weekly = store.stories_by(Some(section), 4 * render::html::POPULAR, Some(week))?;
        // "Must-reads" on the front page: the live pins, newest first, with the editors' notes.
        let must_reads = if section == ALL_SECTION {
            store.pinned_stories(now, render::html::MUST_READS_BOX)?
        } else {
            Vec::new()
        };
        let boxes = render::html::Boxes {
            must_reads: &must_reads,
            popular: &popular,
            weekly: &weekly,
        };
        let body = render::html::render(&meta, &stories, &boxes, now);
        let path = if section == ALL_SECTION { "" } else { section };
        Ok(Some(Rendered::finish(
            body,
            "html",
            "text/html; charset=utf-8",
            render::last_updated(&stories),
            // The page shows relative times ("5 min ago"): a minute, like its place in the cache.
            TOP_TTL.as_secs() as i64,
            &page_links(&config.server.base_url, path, section),
        )))
    }

    /// The servable form of a body: its ETag (of `salt` and the bytes), gzip form and headers.
    fn finish(
        body: Vec<u8>,
        salt: &str,
        content_type: &'static str,
        last_modified: DateTime<Utc>,
        max_age: i64,
        link: &str,
    ) -> Rendered {
        // The view is part of the tag: a top list that happens to equal the plain feed still has its own.
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update(b"\0");
        h.update(&body);
        let etag = format!("\"{}\"", hex(&h.finalize()[..12]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&body).expect("writing to a Vec cannot fail");
        let gzip = gz.finish().expect("writing to a Vec cannot fail");
        let gzip_etag = format!("{}-gz\"", etag.trim_end_matches('"'));
        let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
        let headers = Headers {
            etag: value(&etag),
            gzip_etag: value(&gzip_etag),
            last_modified: value(&httpdate::fmt_http_date(SystemTime::from(last_modified))),
            cache_control: value(&format!("public, max-age={max_age}")),
            link: value(link),
            content_type: HeaderValue::from_static(content_type),
        };
        Rendered {
            body: body.into(),
            gzip: gzip.into(),
            etag,
            last_modified,
            has_next: false,
            headers,
        }
    }

    pub(super) fn gzip_etag(&self) -> &str {
        self.headers.gzip_etag.to_str().unwrap_or("")
    }
}

/// The stories a view of a section lists (at most `limit`), and whether older ones follow (paging).
pub fn stories_for(
    store: &Store,
    section: Option<&str>,
    limit: usize,
    view: View,
) -> Result<(Vec<crate::store::Story>, bool), StoreError> {
    let mut stories = match view {
        View::Latest => store.stories_page(section, limit + 1, 0)?,
        View::Page { page } => {
            let offset = (page as usize - 1).saturating_mul(limit);
            store.stories_page(section, limit + 1, offset)?
        }
        View::Top { hours } => {
            let top = TopQuery {
                now: Utc::now(),
                hours,
            };
            return Ok((store.stories_by(section, limit, Some(top))?, false));
        }
    };
    let more = stories.len() > limit;
    stories.truncate(limit);
    Ok((stories, more))
}

/// The `Link` header of an HTML page: itself and its section's feeds (autodiscovery over HTTP).
fn page_links(base: &str, path: &str, section: &str) -> String {
    let mut links = vec![format!("<{base}/{path}>; rel=\"self\"")];
    for f in Format::ALL {
        let mime = f.content_type().split(';').next().unwrap_or_default();
        links.push(format!(
            "<{base}/feeds/{section}.{}>; rel=\"alternate\"; type=\"{mime}\"",
            f.extension()
        ));
    }
    links.join(", ")
}

/// The `Link` header of a feed: itself, its pages, its hub.
fn link_header(meta: &FeedMeta) -> String {
    let mut links = vec![format!("<{}>; rel=\"self\"", meta.self_url)];
    for (rel, url) in meta.paging.links() {
        links.push(format!("<{url}>; rel=\"{rel}\""));
    }
    if let Some(hub) = &meta.hub {
        links.push(format!("<{hub}>; rel=\"hub\""));
    }
    links.join(", ")
}
