//! The start-up steps of every config generation (the daemon's start and each reload, and the CLI
//! commands that poll or train), each a named step, then the refresh [`Context`] built from them:
//!
//! 1. [`register_sources`]: the config's sources into the store (ids by name);
//! 2. [`prepare_tagger`]: the section rules compiled, the stored learned model installed;
//! 3. [`retag_recent`]: the stories within the dedupe window retagged (the rules may have changed; on
//!    a reload, only when they did: [`tagging_changed`]).

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

/// Runs the start-up steps in order and builds the refresh context.
pub async fn prepare(config: Arc<Config>, store: Store) -> anyhow::Result<Started> {
    prepare_after(config, store, None).await
}

/// [`prepare`] for a reload, `running` the config replaced: the recent stories are retagged only when
/// what tags them changed ([`tagging_changed`]). A reload that adds nothing to tagging (a schedule, a
/// source's URL) then does not rewrite the window's sections, which holds every node's applies off
/// while it runs.
pub async fn prepare_reload(
    config: Arc<Config>,
    store: Store,
    running: &Config,
) -> anyhow::Result<Started> {
    prepare_after(config, store, Some(running)).await
}

async fn prepare_after(
    config: Arc<Config>,
    store: Store,
    running: Option<&Config>,
) -> anyhow::Result<Started> {
    let source_ids = register_sources(&config, &store).await?;
    let (tagger, model_trained) = prepare_tagger(&config, &store).await?;
    if running.is_none_or(|r| tagging_changed(r, &config)) {
        retag_recent(&config, &store, &tagger).await?;
    }
    let ctx = Context::new(config, store, source_ids, tagger)?;
    Ok(Started { ctx, model_trained })
}

/// Whether stories may be tagged differently under `new` than under `old`: the sections and their
/// rules, the learned tagger's settings, or a source's name, default sections or tagging mode differ
/// (a new or removed source counts). A model another node trained is not a change here: that node
/// retags, and the others install it when told.
pub fn tagging_changed(old: &Config, new: &Config) -> bool {
    let sources = |c: &Config| -> Vec<(String, Vec<String>, crate::config::Tagging)> {
        c.sources
            .iter()
            .map(|s| (s.name.clone(), s.sections.clone(), s.tagging))
            .collect()
    };
    old.sections != new.sections || old.tagging != new.tagging || sources(old) != sources(new)
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
/// stories with learned sections.
pub async fn retag_recent(
    config: &Config,
    store: &Store,
    tagger: &Arc<Tagger>,
) -> anyhow::Result<()> {
    let since = Utc::now() - config.dedupe.window;
    let t = tagger.clone();
    // And the stories the learned tagger tagged, whatever their age: the model or `learn` may have
    // changed.
    let retagged = store
        .call(move |s| s.retag_since_and_learned(since, &t))
        .await?;
    if !retagged.is_empty() {
        tracing::info!(sections = ?retagged, "section rules changed: recent stories retagged");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tagging_changed;
    use crate::config::Config;

    const BASE: &str = "[[section]]\nid = \"world\"\ntitle = \"World\"\nkeywords = [\"war\"]\n\n\
                        [[source]]\nname = \"Wire\"\nurl = \"http://a.invalid/\"\nsections = [\"world\"]\n";

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        Config::from_toml(&dir.path().join("feeds.toml"), text).unwrap()
    }

    #[test]
    fn a_reload_retags_only_when_what_tags_stories_changed() {
        let base = config(BASE);
        let unchanged = [
            BASE.to_string(),
            BASE.replace("http://a.invalid/", "http://b.invalid/feed"),
            format!("[poll]\nschedule = \"@hourly\"\n\n{BASE}"),
            BASE.to_string() + "schedule = \"@daily\"\n",
        ];
        for text in &unchanged {
            assert!(!tagging_changed(&base, &config(text)), "{text}");
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
            assert!(tagging_changed(&base, &config(text)), "{text}");
        }
    }
}
