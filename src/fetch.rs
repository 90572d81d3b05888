//! One HTTP GET (or file read) per refresh, with conditional headers, timeouts and a streamed size cap.
//!
//! The outcome is typed so the scheduler can match on it: a body, "not modified", or a [`FetchError`]
//! saying what went wrong (timeout, HTTP status with an optional Retry-After, too large, network).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::config::PollConfig;

/// Cache validators remembered per source, sent back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    Fresh {
        body: Vec<u8>,
        validators: Validators,
        /// The URL after redirects: relative links resolve against it.
        final_url: Url,
        content_type: Option<String>,
    },
    NotModified,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("body larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("network error: {0}")]
    Network(String),
    #[error("cannot read file: {0}")]
    File(String),
}

impl FetchError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The HTTP client, shared by all refreshes (it pools connections).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: u64,
}

impl Fetcher {
    pub fn new(poll: &PollConfig) -> Result<Fetcher, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            ),
        );
        let client = reqwest::Client::builder()
            .user_agent(poll.user_agent.clone())
            .default_headers(headers)
            .timeout(poll.timeout)
            .connect_timeout(poll.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(Fetcher {
            client,
            timeout: poll.timeout,
            max_bytes: poll.max_bytes,
        })
    }

    pub async fn fetch(&self, url: &Url, known: &Validators) -> Result<FetchOutcome, FetchError> {
        if url.scheme() == "file" {
            return self.read_file(url).await;
        }
        let mut req = self.client.get(url.clone());
        if let Some(etag) = &known.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &known.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
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
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            // The cause chain carries the useful part ("connection refused", "dns error").
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            FetchError::Network(msg)
        }
    }
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
}
