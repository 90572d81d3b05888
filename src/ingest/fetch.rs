//! One HTTP GET (or file read) per refresh, with conditional headers, timeouts and a streamed size cap.
//!
//! The outcome is typed so the scheduler can match on it: a body, "not modified", or a [`FetchError`]
//! saying what went wrong (timeout, HTTP status with an optional Retry-After, too large, network).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::config::PollConfig;
use crate::model::Validators;
use crate::text::error_chain;

/// What a response said about the source beyond its body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchMeta {
    /// Where a chain of permanent redirects (301/308) from the requested URL led: the feed moved there.
    pub moved_to: Option<Url>,
    /// How long the server says the response stays fresh (`Cache-Control: max-age`, else `Expires`).
    pub max_age: Option<Duration>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    Fresh {
        body: Vec<u8>,
        validators: Validators,
        /// The URL after redirects: relative links resolve against it.
        final_url: Url,
        content_type: Option<String>,
        meta: FetchMeta,
    },
    NotModified(FetchMeta),
}

/// Redirects followed at most per fetch.
pub const MAX_REDIRECTS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("HTTP 410 Gone: the publisher has removed this feed")]
    Gone,
    #[error("body larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("network error: {0}")]
    Network(String),
    #[error("cannot read file: {0}")]
    File(String),
    #[error("redirect loop: {}", .0.join(" -> "))]
    RedirectLoop(Vec<String>),
    #[error("more than {MAX_REDIRECTS} redirects: {}", .0.join(" -> "))]
    TooManyRedirects(Vec<String>),
    #[error("HTTP {status} redirect without a usable Location header")]
    BadRedirect { status: u16 },
    #[error(
        "refused redirect from {from} (a public address) to {to} ({addr}, a loopback, private or link-local address); set [poll].allow_private_redirects = true if this is intended"
    )]
    PrivateRedirect {
        from: String,
        to: String,
        addr: String,
    },
}

impl FetchError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared (CGNAT),
/// unique-local, unspecified or multicast. IPv4-mapped IPv6 addresses are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A resolver that only returns public addresses, for redirects away from a public origin: the address
/// checked is the address connected to (no second lookup an attacker's DNS could answer differently).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let shown = all.first().map(|a| a.ip().to_string()).unwrap_or_default();
                return Err(format!("{host} resolves to {shown}, not a public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client, shared by all refreshes (it pools connections).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// The same client with the [`PublicOnly`] resolver, for redirects from a public origin.
    guarded: reqwest::Client,
    allow_private_redirects: bool,
    timeout: Duration,
    max_bytes: u64,
}

impl Fetcher {
    pub fn new(poll: &PollConfig) -> Result<Fetcher, FetchError> {
        let build = |guarded: bool| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static(
                    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
                ),
            );
            let mut b = reqwest::Client::builder()
                .user_agent(poll.user_agent.clone())
                .default_headers(headers)
                .timeout(poll.timeout)
                .connect_timeout(poll.timeout.min(Duration::from_secs(10)))
                // Redirects are followed by hand: to count and report them, remember permanent moves
                // and check where each one leads.
                .redirect(reqwest::redirect::Policy::none());
            if guarded {
                b = b.dns_resolver(PublicOnly);
            }
            b.build().map_err(|e| FetchError::Network(e.to_string()))
        };
        Ok(Fetcher {
            client: build(false)?,
            guarded: build(true)?,
            allow_private_redirects: poll.allow_private_redirects,
            timeout: poll.timeout,
            max_bytes: poll.max_bytes,
        })
    }

    pub async fn fetch(&self, url: &Url, known: &Validators) -> Result<FetchOutcome, FetchError> {
        if url.scheme() == "file" {
            return self.read_file(url).await;
        }
        let (resp, meta) = self.follow_redirects(url, known).await?;
        self.read_response(resp, meta).await
    }

    /// GETs `url` with the conditional headers, following redirects (at most [`MAX_REDIRECTS`], no
    /// loops, http(s) only; from a public origin never to a private address unless allowed). Returns the
    /// final response, with `moved_to` set when every hop was permanent.
    async fn follow_redirects(
        &self,
        url: &Url,
        known: &Validators,
    ) -> Result<(reqwest::Response, FetchMeta), FetchError> {
        let mut chain: Vec<Url> = vec![url.clone()];
        let mut meta = FetchMeta::default();
        let mut permanent = true;
        let mut public_origin = false;
        let resp = loop {
            let current = chain.last().expect("chain starts with the URL").clone();
            let guard = public_origin && !self.allow_private_redirects;
            if guard
                && let Some(ip) = literal_ip(&current)
                && !is_public(ip)
            {
                return Err(private_redirect(&chain, ip.to_string()));
            }
            let client = if guard { &self.guarded } else { &self.client };
            let mut req = client.get(current.clone());
            if let Some(etag) = &known.etag {
                req = req.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &known.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            let resp = req.send().await.map_err(|e| {
                let err = self.classify(e);
                match err {
                    FetchError::Network(msg) if guard && msg.contains("not a public address") => {
                        private_redirect(&chain, msg)
                    }
                    other => other,
                }
            })?;
            let addr = resp.remote_addr().map(|a| a.ip());
            if chain.len() == 1 {
                public_origin = addr.is_some_and(is_public);
            } else if guard && let Some(ip) = addr.filter(|ip| !is_public(*ip)) {
                return Err(private_redirect(&chain, ip.to_string()));
            }
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break resp;
            }
            let next = redirect_target(&chain, &current, status, &resp)?;
            let moved = matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            permanent &= moved;
            if permanent {
                meta.moved_to = Some(next.clone());
            }
            chain.push(next);
        };
        Ok((resp, meta))
    }

    /// The final response as an outcome: 304 and 410 and other error statuses typed, the body streamed
    /// under the size cap.
    async fn read_response(
        &self,
        mut resp: reqwest::Response,
        mut meta: FetchMeta,
    ) -> Result<FetchOutcome, FetchError> {
        meta.max_age = max_age(resp.headers());
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified(meta));
        }
        if status == StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: retry_after(resp.headers()),
            });
        }
        if let Some(len) = resp.content_length()
            && len > self.max_bytes
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let header_str = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let final_url = resp.url().clone();
        // Stream the body so a hostile server cannot make us buffer more than the cap (this counts
        // decompressed bytes: reqwest decodes gzip before we see the chunks).
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fresh {
            body,
            validators,
            final_url,
            content_type,
            meta,
        })
    }

    async fn read_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url
            .to_file_path()
            .map_err(|()| FetchError::File(format!("not a local path: {url}")))?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| FetchError::File(format!("{}: {e}", path.display())))?;
        if meta.len() > self.max_bytes {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| FetchError::File(format!("{}: {e}", path.display())))?;
        Ok(FetchOutcome::Fresh {
            body,
            validators: Validators::default(),
            final_url: url.clone(),
            content_type: None,
            meta: FetchMeta::default(),
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Network(error_chain(&e))
        }
    }
}

/// Where a redirect leads (resolved against the current URL, http(s) only), unless it loops back or
/// the chain is already [`MAX_REDIRECTS`] long.
fn redirect_target(
    chain: &[Url],
    current: &Url,
    status: StatusCode,
    resp: &reqwest::Response,
) -> Result<Url, FetchError> {
    let next = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| current.join(loc.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or(FetchError::BadRedirect {
            status: status.as_u16(),
        })?;
    let shown = |chain: &[Url], next: &Url| {
        chain
            .iter()
            .chain(std::iter::once(next))
            .map(Url::to_string)
            .collect::<Vec<_>>()
    };
    if chain.contains(&next) {
        return Err(FetchError::RedirectLoop(shown(chain, &next)));
    }
    if chain.len() > MAX_REDIRECTS {
        return Err(FetchError::TooManyRedirects(shown(chain, &next)));
    }
    Ok(next)
}

/// The host of a URL when it is an IP address literal.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

fn private_redirect(chain: &[Url], addr: String) -> FetchError {
    FetchError::PrivateRedirect {
        from: chain[0].to_string(),
        to: chain.last().map(Url::to_string).unwrap_or_default(),
        addr,
    }
}

/// How long a response stays fresh: `Cache-Control: max-age` (none for `no-cache`/`no-store`), else
/// `Expires` relative to `Date` (or now).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cc) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        let mut age = None;
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return None;
            }
            if let Some(v) = lower.strip_prefix("max-age=") {
                age = v
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
        if age.is_some() {
            return age;
        }
    }
    let date = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    };
    let expires = date(header::EXPIRES)?;
    let now = date(header::DATE).unwrap_or_else(std::time::SystemTime::now);
    expires.duration_since(now).ok()
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn error_messages_are_clear() {
        let e = FetchError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(e.to_string(), "HTTP 429 (retry after 60s)");
        assert_eq!(
            FetchError::TooLarge(1024).to_string(),
            "body larger than the 1024-byte limit"
        );
    }

    #[test]
    fn public_addresses_are_told_from_private_ones() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
    }

    #[tokio::test]
    async fn the_guarded_resolver_refuses_names_of_private_addresses() {
        // "localhost" resolves from the hosts file: no network needed.
        let name: Name = "localhost".parse().unwrap();
        let err = match PublicOnly.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("not a public address"), "{err}");
    }

    #[test]
    fn freshness_from_cache_control_and_expires() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=7200"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(7200)));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, max-age=60"),
        );
        assert_eq!(max_age(&h), None);
        let mut h = HeaderMap::new();
        h.insert(
            header::DATE,
            HeaderValue::from_static("Sat, 28 Nov 2026 10:00:00 GMT"),
        );
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sat, 28 Nov 2026 12:00:00 GMT"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(7200)));
    }
}
