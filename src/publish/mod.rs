//! Publish: stored stories out to readers. Never imports [`crate::ingest`]: the service tells it what
//! changed.
//!
//! - [`render`]: stories → RSS / Atom / JSON Feed bytes, the HTML pages, OPML; pure.
//! - [`rendered`]: one feed or page rendered from the store, with its response headers.
//! - [`files`]: `syndic render --out`: the same bytes as static files.
//! - [`http`]: the axum router over a render cache with ETag, Last-Modified, 304 and gzip.
//! - [`websub`]: WebSub publish pings to the configured hub when feeds change.
//! - [`metrics`]: `/metrics` in the Prometheus text format.

pub mod files;
pub mod http;
pub mod metrics;
pub mod render;
pub mod rendered;
pub mod websub;
