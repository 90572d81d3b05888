//! The HTTP side: an axum router serving cached feed bytes with `ETag`, `Last-Modified`, `304` and gzip.
//!
//! Rendered feeds are cached per (section, format, view) together with their gzip form, so a request
//! costs a hash-map lookup. A refresh that changes a section marks that section's entries out of date
//! (see [`AppState::invalidate`]); the next request is served the cached bytes and starts one
//! background render (at most one per feed at a time, and not more often than every 200 ms), so readers
//! never wait for the store while a poll cycle writes to it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::{ALL_SECTION, Config, MUST_READS};
use crate::publish::render::{Format, View};
use crate::publish::rendered::{Rendered, TOP_TTL};
use crate::store::{MAX_TOP_HOURS, Store, StoreError};

/// Shortest time between two renders of the same feed: while a poll cycle changes a section every few
/// milliseconds, readers get the last rendering (at most this old plus one render) instead of a render
/// each.
const MIN_RERENDER: Duration = Duration::from_millis(200);

/// What serving needs of a config generation: the config (sections, titles, output settings) and the
/// store to render from.
#[derive(Clone)]
pub struct Site {
    pub config: Arc<Config>,
    pub store: Store,
}

/// Shared state of the HTTP server.
pub struct AppState {
    site: RwLock<Site>,
    cache: RwLock<Cache>,
    pub metrics: crate::publish::metrics::Metrics,
    /// Sections changed since the last WebSub pings (collected only when a hub is configured).
    pub websub: crate::publish::websub::Pending,
}

/// What is cached: a feed in a format, or the HTML page (always [`View::Latest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Feed(Format),
    Page,
}

type FeedKey = (String, Kind, View);

/// Rendered feeds and pages by section, then by (kind, view): a request looks its section up by `&str`
/// (no allocation) under a read lock, so concurrent readers do not queue behind one another.
#[derive(Default)]
struct Cache {
    sections: HashMap<String, HashMap<(Kind, View), Entry>>,
}

impl Cache {
    fn get(&self, section: &str, variant: (Kind, View)) -> Option<&Entry> {
        self.sections.get(section)?.get(&variant)
    }

    fn get_mut(&mut self, section: &str, variant: (Kind, View)) -> Option<&mut Entry> {
        self.sections.get_mut(section)?.get_mut(&variant)
    }
}

/// A cached rendering. A changed section marks its entries dirty: they are still served while one
/// background render (per entry) replaces them, so readers never queue behind the store.
struct Entry {
    rendered: Arc<Rendered>,
    at: Instant,
    dirty: bool,
    rendering: bool,
}

impl Entry {
    /// Whether this request should start a new rendering: the entry changed (or, for top lists, pages
    /// with relative times and the pins' feeds, which the command line changes and time expires, aged),
    /// none is running, and the last one is not too recent.
    fn due(&self, section: &str, kind: Kind, view: View) -> bool {
        let ages = view != View::Latest || kind == Kind::Page || section == MUST_READS;
        if !(self.dirty || ages) || self.rendering {
            return false;
        }
        let age = self.at.elapsed();
        (self.dirty || age >= TOP_TTL) && age >= MIN_RERENDER
    }
}

impl AppState {
    pub fn new(config: Arc<Config>, store: Store) -> Arc<AppState> {
        Arc::new(AppState {
            site: RwLock::new(Site { config, store }),
            cache: RwLock::new(Cache::default()),
            metrics: crate::publish::metrics::Metrics::new(),
            websub: crate::publish::websub::Pending::default(),
        })
    }

    /// The config and store serving uses now.
    pub fn site(&self) -> Site {
        self.site.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in a reloaded config; every cached feed is dropped (titles or sections may have changed).
    pub fn replace_config(&self, config: Arc<Config>) {
        self.site.write().unwrap_or_else(|e| e.into_inner()).config = config;
        self.write_cache().sections.clear();
    }

    /// Marks the cached feeds of these sections as out of date (and due for a WebSub ping).
    pub fn invalidate<'a>(&self, sections: impl IntoIterator<Item = &'a str>) {
        let sections: Vec<&str> = sections.into_iter().collect();
        let hub = self
            .site
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .output
            .websub_hub
            .is_some();
        if hub {
            self.websub.add(sections.iter().copied());
        }
        self.mark_out_of_date(sections);
    }

    /// Marks the cached feeds of these sections as out of date, without a WebSub ping (another node
    /// stored the change and pings for it).
    pub fn mark_out_of_date<'a>(&self, sections: impl IntoIterator<Item = &'a str>) {
        let mut cache = self.write_cache();
        for s in sections {
            if let Some(entries) = cache.sections.get_mut(s) {
                for e in entries.values_mut() {
                    e.dirty = true;
                }
            }
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }

    async fn feed(
        self: &Arc<Self>,
        section: &str,
        kind: Kind,
        view: View,
    ) -> Result<Option<Arc<Rendered>>, StoreError> {
        if let View::Page { .. } = view {
            // Archive pages are rare reads: rendered each time, so a crawler cannot fill the cache.
            let key = (section.to_string(), kind, view);
            return Ok(self.render(&key).await?.map(Arc::new));
        }
        // The common case: a current rendering, served under the read lock.
        if let Some(e) = self.read_cache().get(section, (kind, view))
            && !e.due(section, kind, view)
        {
            return Ok(Some(e.rendered.clone()));
        }
        {
            let mut cache = self.write_cache();
            if let Some(e) = cache.get_mut(section, (kind, view)) {
                if e.due(section, kind, view) {
                    // Serve what there is; render the new one in the background.
                    e.rendering = true;
                    e.dirty = false;
                    let state = self.clone();
                    let key = (section.to_string(), kind, view);
                    tokio::spawn(async move {
                        let result = state.render(&key).await;
                        let (section, kind, view) = &key;
                        let mut cache = state.write_cache();
                        let Some(e) = cache.get_mut(section, (*kind, *view)) else {
                            return;
                        };
                        e.rendering = false;
                        match result {
                            Ok(Some(r)) => {
                                e.rendered = Arc::new(r);
                                e.at = Instant::now();
                            }
                            Ok(None) => {
                                if let Some(m) = cache.sections.get_mut(section) {
                                    m.remove(&(*kind, *view));
                                }
                            }
                            Err(err) => {
                                e.dirty = true;
                                tracing::error!(error = %err, "cannot render feed");
                            }
                        }
                    });
                }
                return Ok(Some(e.rendered.clone()));
            }
        }
        // Not cached yet: render now (a reload or the first request).
        let key = (section.to_string(), kind, view);
        let Some(r) = self.render(&key).await? else {
            return Ok(None);
        };
        let r = Arc::new(r);
        self.write_cache()
            .sections
            .entry(key.0)
            .or_default()
            .entry((kind, view))
            .or_insert_with(|| Entry {
                rendered: r.clone(),
                at: Instant::now(),
                dirty: false,
                rendering: false,
            });
        Ok(Some(r))
    }

    async fn render(&self, key: &FeedKey) -> Result<Option<Rendered>, StoreError> {
        let site = self.site();
        let (section, kind, view) = key.clone();
        site.store
            .call(move |s| match kind {
                Kind::Feed(format) => Rendered::build(&site.config, s, &section, format, view),
                Kind::Page => Rendered::page(&site.config, s, &section),
            })
            .await
    }
}

/// The router, built as a function so it can be served or embedded on its own.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/", get(index))
        .route("/feeds/{file}", get(feed))
        .route("/healthz", get(healthz))
        .route("/sources.opml", get(opml))
        .route("/{section}", get(section_page));
    let metrics_path = state.site().config.server.metrics.clone();
    if let Some(path) = &metrics_path {
        router = router.route(path, get(metrics));
    }
    router
        .fallback(|| async { not_found("not found") })
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), metrics_path.map(Arc::<str>::from)),
            count_requests,
        ))
        .with_state(state)
}

/// Counts every request by route (the pattern, not the path: feed names stay out of the labels) and
/// status.
async fn count_requests(
    State((state, metrics_path)): State<(Arc<AppState>, Option<Arc<str>>)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let route = match path {
        "/" => "/",
        "/healthz" => "/healthz",
        "/sources.opml" => "/sources.opml",
        p if p.starts_with("/feeds/") => "/feeds/{file}",
        p if metrics_path.as_deref() == Some(p) => "metrics",
        p if p[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            "/{section}"
        }
        _ => "other",
    };
    let resp = next.run(req).await;
    state.metrics.request(route, resp.status().as_u16());
    resp
}

async fn opml(State(state): State<Arc<AppState>>) -> Response {
    let body = crate::publish::render::opml::render(&state.site().config);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/x-opml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let store = state.site().store;
    let read = store
        .call(|s| Ok((s.counts()?, s.source_health()?, s.tags_by_origin()?)))
        .await
        .and_then(|(counts, health, tags)| state.metrics.render(counts, &health, &tags));
    match read {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // No Nagle delay: a response is written whole, and a reader waiting for its last segment should
    // not wait for an acknowledgement of the first.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The view a feed request's query selects: `sort=top` (with `hours=N`, 1..=MAX_TOP_HOURS, default 24)
/// or `sort=latest`/nothing. Other parameters (cache busters) are ignored.
pub fn parse_view(query: &HashMap<String, String>) -> Result<View, String> {
    let hours = match query.get("hours") {
        None => None,
        Some(h) => match h.parse::<u32>() {
            Ok(n) if (1..=MAX_TOP_HOURS).contains(&n) => Some(n),
            _ => {
                return Err(format!(
                    "hours must be a whole number from 1 to {MAX_TOP_HOURS}, not \"{h}\""
                ));
            }
        },
    };
    if let Some(p) = query.get("page") {
        let page = match p.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(format!("page must be a whole number from 1, not \"{p}\"")),
        };
        if hours.is_some() || query.get("sort").is_some_and(|s| s != "latest") {
            return Err("page applies to the latest stories, not to sort=top".into());
        }
        return Ok(if page == 1 {
            View::Latest
        } else {
            View::Page { page }
        });
    }
    match query.get("sort").map(String::as_str) {
        Some("top") => Ok(View::Top {
            hours: hours.unwrap_or(View::TOP_HOURS),
        }),
        Some("latest") | None if hours.is_none() => Ok(View::Latest),
        Some("latest") | None => Err("hours only applies to sort=top".into()),
        Some(other) => Err(format!(
            "sort must be \"top\" or \"latest\", not \"{other}\""
        )),
    }
}

async fn feed(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    // The request itself, not a `HeaderMap` extractor: that would copy every header of every request.
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers();
    let Some((section, ext)) = file.rsplit_once('.') else {
        return not_found("no such feed");
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found("no such feed format (use .rss, .atom or .json)");
    };
    let view = match parse_view(&query) {
        Ok(v) => v,
        Err(msg) => return (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response(),
    };
    match state.feed(section, Kind::Feed(format), view).await {
        Ok(Some(r)) => respond(&r, headers),
        Ok(None) => match view {
            View::Page { page } if state.site().config.feed_title(section).is_some() => not_found(
                &format!("no page {page} of \"{section}\": it has fewer stories"),
            ),
            _ => not_found(&format!("unknown section \"{section}\"")),
        },
        Err(e) => {
            tracing::error!(error = %e, section, "cannot render feed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

fn respond(r: &Rendered, req: &HeaderMap) -> Response {
    let gzip = accepts_gzip(req);
    let etag = if gzip {
        r.headers.gzip_etag.clone()
    } else {
        r.headers.etag.clone()
    };
    let not_modified = match req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => etag_matches(inm, &[&r.etag, r.gzip_etag()]),
        None => req
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| {
                let lm = SystemTime::from(r.last_modified);
                // HTTP dates have whole seconds.
                lm.duration_since(since).unwrap_or_default() < Duration::from_secs(1)
            }),
    };
    let mut builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::LAST_MODIFIED, r.headers.last_modified.clone())
        .header(header::CACHE_CONTROL, r.headers.cache_control.clone())
        .header(header::LINK, r.headers.link.clone())
        .header(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    builder = builder.header(header::CONTENT_TYPE, r.headers.content_type.clone());
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r.gzip.clone()
    } else {
        r.body.clone()
    };
    builder.body(Body::from(body)).unwrap_or_default()
}

/// `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding == "gzip" || coding == "x-gzip" || coding == "*") && !q_zero
        })
}

/// `If-None-Match` (a list, weak tags allowed, or `*`) against our tags.
fn etag_matches(header: &str, ours: &[&str]) -> bool {
    header.split(',').map(str::trim).any(|t| {
        t == "*" || {
            let t = t.strip_prefix("W/").unwrap_or(t);
            ours.contains(&t)
        }
    })
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let store = state.site().store;
    match store.call(|s| s.ping()).await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")).into_response(),
    }
}

/// The front page ("Latest").
async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    page(&state, ALL_SECTION, &headers).await
}

/// The page of one section.
async fn section_page(
    State(state): State<Arc<AppState>>,
    Path(section): Path<String>,
    headers: HeaderMap,
) -> Response {
    if section == ALL_SECTION {
        // One address per page: /all is the front page.
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, "./")
            .body(Body::empty())
            .unwrap_or_default();
    }
    page(&state, &section, &headers).await
}

async fn page(state: &Arc<AppState>, section: &str, headers: &HeaderMap) -> Response {
    match state.feed(section, Kind::Page, View::Latest).await {
        Ok(Some(r)) => respond(&r, headers),
        Ok(None) => not_found(&format!("unknown section \"{section}\"")),
        Err(e) => {
            tracing::error!(error = %e, section, "cannot render page");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

fn not_found(msg: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, identity"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn page_queries() {
        let q = |pairs: &[(&str, &str)]| {
            parse_view(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(q(&[("page", "1")]), Ok(View::Latest));
        assert_eq!(q(&[("page", "3")]), Ok(View::Page { page: 3 }));
        assert_eq!(
            q(&[("page", "2"), ("sort", "latest")]),
            Ok(View::Page { page: 2 })
        );
        assert!(q(&[("page", "0")]).is_err());
        assert!(q(&[("page", "2"), ("sort", "top")]).is_err());
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        assert!(etag_matches("\"a\", W/\"b\"", &["\"b\""]));
        assert!(etag_matches("*", &["\"b\""]));
        assert!(!etag_matches("\"c\"", &["\"a\"", "\"b\""]));
    }
}
