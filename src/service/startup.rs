//! The start-up steps of every config generation (the daemon's start and each reload, and the CLI
//! commands that poll or train), each a named step, then the refresh [`Context`] built from them:
//!
//! 1. [`register_sources`]: the config's sources into the store (ids by name);
//! 2. [`prepare_tagger`]: the section rules compiled, the stored learned model installed;
//! 3. [`retag_recent`]: the stories within the dedupe window retagged (the rules may have changed).

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
    let source_ids = register_sources(&config, &store).await?;
    let (tagger, model_trained) = prepare_tagger(&config, &store).await?;
    retag_recent(&config, &store, &tagger).await?;
    let ctx = Context::new(config, store, source_ids, tagger)?;
    Ok(Started { ctx, model_trained })
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
