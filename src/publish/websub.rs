//! WebSub publishing (W3C Recommendation, 2018): when a section's feeds change, tell the configured hub
//! (`[output].websub_hub`) with `hub.mode=publish` and `hub.url=<feed URL>`, one POST per changed feed.
//!
//! Changes are collected in a set and sent by one background task once half a second passes without a
//! new one (at most five seconds), so a burst of refreshes that all change "Latest" sends one ping per
//! feed, not one per source. A failing hub
//! is retried a bounded number of times; a hanging one times out. Neither ever delays a refresh: the
//! refresh only adds section ids to the set.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Config;
use crate::publish::render::Format;

/// How long the publisher waits after a change for more changes before pinging.
pub const QUIET: Duration = Duration::from_millis(500);
/// Attempts per ping, and the pause before each retry (doubling).
const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// Time limit of one POST to the hub.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The sections changed since the last pings.
#[derive(Default)]
pub struct Pending {
    sections: Mutex<BTreeSet<String>>,
    wake: Notify,
}

impl Pending {
    pub fn add<'a>(&self, sections: impl IntoIterator<Item = &'a str>) {
        let mut set = self.sections.lock().unwrap_or_else(|e| e.into_inner());
        let before = set.len();
        set.extend(sections.into_iter().map(str::to_string));
        if set.len() > before {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.sections.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits for a change, then for `quiet` without a new one (at most ten quiet periods in all), and
    /// returns the changed sections.
    pub async fn next_batch(&self, quiet: Duration) -> BTreeSet<String> {
        self.wake.notified().await;
        for _ in 0..10 {
            if tokio::time::timeout(quiet, self.wake.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        self.take()
    }
}

/// The feed URLs a hub is told about for these sections: each known section in every format.
pub fn feed_urls(config: &Config, sections: &BTreeSet<String>) -> Vec<String> {
    let base = &config.server.base_url;
    sections
        .iter()
        .filter(|s| config.feed_title(s).is_some())
        .flat_map(|s| {
            Format::ALL
                .into_iter()
                .map(move |f| format!("{base}/feeds/{s}.{}", f.extension()))
        })
        .collect()
}

/// Sends publish pings for `urls` to `hub`, concurrently, each retried on failure. Returns how many the
/// hub accepted (any 2xx).
pub async fn publish(client: &reqwest::Client, hub: &url::Url, urls: &[String]) -> usize {
    let pings = urls.iter().map(|u| ping(client, hub, u));
    futures_util::future::join_all(pings)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count()
}

async fn ping(client: &reqwest::Client, hub: &url::Url, feed: &str) -> bool {
    let mut pause = RETRY_PAUSE;
    for attempt in 1..=ATTEMPTS {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", feed)
            .finish();
        let sent = client
            .post(hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(TIMEOUT)
            .send()
            .await;
        let error = match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => format!("hub answered {}", r.status()),
            Err(e) => crate::text::error_chain(&e),
        };
        if attempt == ATTEMPTS {
            tracing::warn!(hub = %hub, feed, error, "websub: publish ping failed; giving up");
        } else {
            tracing::info!(hub = %hub, feed, error, attempt, "websub: publish ping failed; retrying");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    false
}

/// The HTTP client of the pings (no redirects: a hub that moves is a configuration matter).
pub fn client(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT)
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_changes_is_one_batch_of_distinct_sections() {
        let pending = std::sync::Arc::new(Pending::default());
        let p = pending.clone();
        let adder = tokio::spawn(async move {
            for _ in 0..5 {
                p.add(["all", "world"]);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            p.add(["asia"]);
        });
        let batch = pending.next_batch(Duration::from_millis(200)).await;
        adder.await.unwrap();
        assert_eq!(
            batch.into_iter().collect::<Vec<_>>(),
            vec!["all", "asia", "world"]
        );
        // Nothing pending afterwards.
        assert!(pending.take().is_empty());
    }

    #[test]
    fn every_format_of_known_sections_only() {
        let config = crate::config::Config::from_toml(
            std::path::Path::new("/tmp/f.toml"),
            "[server]\nbase_url = \"https://news.example\"\n[[section]]\nid = \"asia\"\ntitle = \"Asia\"\n",
        )
        .unwrap();
        let sections: BTreeSet<String> = ["asia", "gone"].map(String::from).into();
        assert_eq!(
            feed_urls(&config, &sections),
            vec![
                "https://news.example/feeds/asia.rss",
                "https://news.example/feeds/asia.atom",
                "https://news.example/feeds/asia.json",
            ]
        );
    }
}
