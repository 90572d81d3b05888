//! The start-up steps of every config generation (the daemon's start and each reload, and the CLI
//! commands that poll or train), each a named step, then the refresh [`Context`] built from them:
//!
//! 1. [`register_sources`]: the config's sources into the store (ids by name);
//! 2. [`prepare_tagger`]: the section rules compiled, the stored learned model installed;
//! 3. [`retag_recent`]: the stories within the dedupe window retagged when what tags them changed
//!    since their last retag ([`tagging_fingerprint`]).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::ingest::refresh::Context;
use crate::service::retrain;
use crate::store::Store;
use crate::tag::rules::Tagger;

/// A prepared config generation: the refresh context, and when the installed learned model was
/// trained with the newest story id then (for the retraining schedule).
pub struct Started {
    pub ctx: Context,
    pub model_trained: Option<(DateTime<Utc>, i64)>,
}

/// Runs the start-up steps in order and builds the refresh context (at the daemon's start, at each
/// reload, and for the CLI commands that poll or train).
pub async fn prepare(config: Arc<Config>, store: Store) -> anyhow::Result<Started> {
    let source_ids = register_sources(&config, &store).await?;
    let (tagger, model_trained) = prepare_tagger(&config, &store).await?;
    retag_recent(&config, &store, &tagger).await?;
    let ctx = Context::new(config, store, source_ids, tagger)?;
    Ok(Started { ctx, model_trained })
}

/// Everything that decides a story's sections, as one number: the sections and their rules, the
/// learned tagger's settings, each source's name, default sections and tagging mode, the installed
/// model (when it was trained, with the newest story id then) and this syndic's version (its tagging
/// code). The recent stories are retagged only when it differs from the one they were last retagged
/// for ([`retag_recent`]): a restart, a reload or a `syndic poll` that changes none of this rewrites
/// no sections, which on PostgreSQL would hold every node's applies off while it ran.
pub fn tagging_fingerprint(config: &Config, model_trained: Option<(DateTime<Utc>, i64)>) -> i64 {
    use sha2::Digest;
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|s| (&s.name, &s.sections, s.tagging))
        .collect();
    // Debug text: every part is made of plain values and vectors, so the text is the same in every
    // process (no hash-map order).
    let text = format!(
        "{}\n{:?}\n{:?}\n{sources:?}\n{model_trained:?}",
        env!("CARGO_PKG_VERSION"),
        config.sections,
        config.tagging,
    );
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Step 1: registers the config's sources in the store; returns their ids by name.
pub async fn register_sources(
    config: &Config,
    store: &Store,
) -> anyhow::Result<HashMap<String, i64>> {
    let sources = config.sources.clone();
    Ok(store.call(move |s| s.sync_sources(&sources)).await?)
}

/// Step 2: compiles the section rules and installs the stored learned model (when `[tagging].learn`
/// is on); returns the tagger and when its model was trained.
pub async fn prepare_tagger(
    config: &Arc<Config>,
    store: &Store,
) -> anyhow::Result<(Arc<Tagger>, Option<(DateTime<Utc>, i64)>)> {
    let tagger = Arc::new(Tagger::new(&config.sections, &config.sources));
    let (t, c) = (tagger.clone(), config.clone());
    let trained = store.call(move |s| retrain::load_stored(s, &c, &t)).await?;
    Ok((tagger, trained))
}

/// Step 3: re-applies the section rules to the stories within the dedupe window, and re-scores the
/// stories with learned sections, unless they were last retagged for the tagger's fingerprint
/// ([`tagging_fingerprint`], set with its model by `retrain::load_stored`).
pub async fn retag_recent(
    config: &Config,
    store: &Store,
    tagger: &Arc<Tagger>,
) -> anyhow::Result<()> {
    let since = Utc::now() - config.dedupe.window;
    let fingerprint = tagger.fingerprint();
    let t = tagger.clone();
    // And the stories the learned tagger tagged, whatever their age: the model or `learn` may have
    // changed.
    let retagged = store
        .call(move |s| s.retag_unless_tagged_by(since, &t, fingerprint))
        .await?;
    match retagged {
        None => tracing::debug!("tagging unchanged since the last retag: stories not retagged"),
        Some(sections) if !sections.is_empty() => {
            tracing::info!(sections = ?sections, "section rules changed: recent stories retagged")
        }
        Some(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{prepare, tagging_fingerprint};
    use crate::config::Config;
    use crate::store::{RefreshInput, Store};
    use crate::tag::rules::Tagger;

    const BASE: &str = "[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [\"war\"]\n\n\
                        [[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\nsections = [\"world\"]\n";

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        Config::from_toml(&dir.path().join("feeds.toml"), text).unwrap()
    }

    #[test]
    fn the_tagging_fingerprint_changes_only_with_what_tags_stories() {
        let base = tagging_fingerprint(&config(BASE), None);
        let unchanged = [
            BASE.to_string(),
            BASE.replace("http://a.invalid/", "http://b.invalid/feed"),
            format!("[poll]\nschedule = \"@hourly\"\n\n{BASE}"),
            BASE.to_string() + "schedule = \"@daily\"\n",
        ];
        for text in &unchanged {
            assert_eq!(tagging_fingerprint(&config(text), None), base, "{text}");
        }
        let changed = [
            BASE.replace("[\"war\"]", "[\"war\", \"election\"]"),
            BASE.replace("sections = [\"world\"]\n", "sections = []\n"),
            BASE.to_string() + "tagging = \"rules\"\n",
            BASE.to_string() + "\n[[source]]\nname = \"Desk\"\nurl = \"http://c.invalid/\"\n",
            BASE.replace("name = \"Wire\"", "name = \"Agency\""),
            format!("[tagging]\nlearn = true\n\n{BASE}"),
        ];
        for text in &changed {
            assert_ne!(tagging_fingerprint(&config(text), None), base, "{text}");
        }
        let model = Some((chrono::Utc::now(), 42));
        assert_ne!(
            tagging_fingerprint(&config(BASE), model),
            base,
            "a new model"
        );
    }

    /// A start (or reload) with the tagging the stories were last retagged for leaves their sections
    /// alone; one with other rules retags them, and so does the next one after a refresh was stored by
    /// a tagger with other rules.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_start_retags_only_when_what_tags_stories_changed() {
        let rules = |keywords: &str| {
            Arc::new(config(&format!(
                "[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [{keywords}]\n\n\
                 [[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\n"
            )))
        };
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_with_window(&dir.path().join("s.db"), chrono::Duration::hours(48)).unwrap();
        let (war, strike, election) = (
            rules("\"war\""),
            rules("\"war\", \"strike\""),
            rules("\"election\""),
        );
        prepare(war.clone(), store.clone()).await.unwrap();
        let ids = store.sync_sources(&war.sources).unwrap();
        // Stores a story tagged by the election rules (which put it in World), by a tagger that
        // says it tags by `fingerprint`.
        let store_one = |key: &str, fingerprint: i64| {
            let tagger = Tagger::new(&election.sections, &election.sources);
            tagger.set_fingerprint(fingerprint);
            let now = chrono::Utc::now();
            let url = Some(format!("https://example.org/{key}"));
            let title = format!("Election day in the capital ({key})");
            let item = crate::model::Item::headline(key, &title, url, Some(now));
            let input = RefreshInput::for_test(ids["Wire"], vec![item], now, Arc::new(tagger));
            store.apply_refresh(&input).unwrap();
        };
        let in_world = || store.stories(Some("world"), 10).unwrap().len();
        store_one("e1", tagging_fingerprint(&war, None));
        assert_eq!(in_world(), 1);
        // The same tagging as the last retag: nothing is rewritten (a retag would take the story out).
        prepare(war.clone(), store.clone()).await.unwrap();
        assert_eq!(in_world(), 1, "retagged although nothing changed");
        // Other rules: the stories are retagged by them.
        prepare(strike.clone(), store.clone()).await.unwrap();
        assert_eq!(in_world(), 0, "not retagged by the new rules");
        // A story stored by a tagger with other rules (a node not yet reloaded): the next start retags.
        store_one("e2", 0);
        assert_eq!(in_world(), 1);
        prepare(strike.clone(), store.clone()).await.unwrap();
        assert_eq!(in_world(), 0, "not retagged after a story tagged otherwise");
    }
}
