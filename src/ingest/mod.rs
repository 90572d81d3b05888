//! Ingest: one source's document from the network to the store.
//!
//! - [`fetch`]: HTTP GET (or `file://` read) with conditional headers, timeouts and a size cap.
//! - [`parse`]: bytes → feed-rs model, with a repair-and-retry pass.
//! - [`normalize`]: feed-rs model → [`crate::model::Item`]: stable keys, canonical URLs, clean text.
//! - [`refresh`]: one source's refresh as a script (fetch → parse → normalize → store), under global
//!   and per-host limits; it reports what changed and never calls publishing.

pub mod fetch;
pub mod normalize;
pub mod parse;
pub mod refresh;
