//! Tagging: which sections a story belongs to.
//!
//! - [`rules`]: pure tagging by source sections, the source's categories and URL paths, and keyword
//!   rules, with the origin of each tag.
//! - [`learn`]: the learned tagger: hashed features, logistic regression with naive Bayes, calibrated.

pub mod learn;
pub mod rules;
