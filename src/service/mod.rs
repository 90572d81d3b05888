//! The service: what runs the stages together.
//!
//! - [`daemon`]: start-up steps, scheduler loop, SIGHUP reload, graceful shutdown, watchdog.
//! - [`retrain`]: trains the learned tagger on stored stories whose sections are certain; the daemon
//!   starts it on the counts refreshes report.
//! - [`startup`]: the named start-up steps of each config generation (sources, tagger, retagging).
//! - [`notify`]: the `sd_notify` protocol over `$NOTIFY_SOCKET` (nothing without it).

pub mod daemon;
pub mod notify;
pub mod retrain;
pub mod startup;
