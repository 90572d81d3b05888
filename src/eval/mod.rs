//! Evaluations through the real paths, shared by the examples and the tests.
//!
//! - [`clusters`]: story-cluster evaluation on labelled headlines (`dedupe_eval`).
//! - [`corpus`]: folders of feed documents through the real path, with conformance to expectations.

pub mod clusters;
pub mod corpus;
