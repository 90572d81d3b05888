//! The service: what runs the stages together.
//!
//! - [`daemon`]: the daemon's start (listener, HTTP threads, tasks), the `Service` both stages share,
//!   graceful shutdown.
//! - `scheduler`: the loop that starts due refreshes, retraining and reloads.
//! - `cluster`: several nodes on one PostgreSQL database (leased polling, notices, the leader).
//! - `tasks`: retention, WebSub pings and the systemd watchdog.
//! - `shared`: the `Service` they share (refresh context and HTTP state), and the stop flag.
//! - [`retrain`]: trains the learned tagger on stored stories whose sections are certain; the daemon
//!   starts it on the counts refreshes report.
//! - [`startup`]: the named start-up steps of each config generation (sources, tagger, retagging).
//! - [`notify`]: the `sd_notify` protocol over `$NOTIFY_SOCKET` (nothing without it).

pub mod cluster;
pub mod daemon;
pub mod notify;
pub mod retrain;
mod scheduler;
mod shared;
pub mod startup;
mod tasks;
