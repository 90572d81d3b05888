//! Integration tests: the real binary and library against a fixture HTTP server on loopback and a
//! temp SQLite file. No test touches the outside network.

mod backlog;
mod backup;
mod browser;
mod check;
mod clusters;
mod corpus;
mod crash;
mod daemon;
mod feedparser;
mod fetch;
mod hostile;
mod http;
mod learned;
mod nodes;
mod pg;
mod pins;
mod pipeline;
mod polite;
mod publish;
mod readers;
mod retention;
mod router;
mod support;
mod tagging;
mod thumbnails;
