//! A story's representative titles: which are admitted (up to [`MAX_REPS`], each adding what the
//! others lack), edited in place, or released, with the postings they hold.

use crate::dedupe::title::MIN_SIMILAR_TOKENS;

use super::entry::{Entry, REP_HEADER, split_id};
use super::{MAX_REPS, REP_ADMISSION, TitleIndex, ln_stories, ochiai};

impl TitleIndex {
    /// Whether [`TitleIndex::offer_rep`] would keep this title (read-only, for use inside a transaction).
    ///
    /// A title whose tokens two representatives from other sources already have is not kept: it would
    /// match nothing they do not (a lookup skips only its own source's titles), and wire copy repeated
    /// verbatim would otherwise fill a story's representatives with one headline.
    pub fn would_admit(
        &self,
        story_id: i64,
        source_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        if entry.reps().count() >= MAX_REPS || tokens.len() < MIN_SIMILAR_TOKENS {
            return false;
        }
        let n = ln_stories(self.live);
        let (known, total) = self.weigh(tokens, n);
        if known.len() == tokens.len() {
            let mut twin_source = None;
            for rep in entry.reps() {
                let twin = rep.tokens.len() == known.len()
                    && rep.tokens.iter().zip(&known).all(|(a, b)| *a == b.0);
                if !twin {
                    continue;
                }
                match twin_source {
                    Some(s) if s != rep.source_id => return false,
                    _ => twin_source = Some(rep.source_id),
                }
            }
            if twin_source == Some(source_id) {
                return false;
            }
        }
        let (shared, lead_total) = self.overlap(&known, entry.lead().tokens, n);
        ochiai(shared, total, lead_total) >= REP_ADMISSION * threshold
    }

    /// Whether an edited title still belongs with its story: true for the story's first title (the story
    /// follows it), else whether it resembles that first title. `None` when the story is not held.
    pub fn edit_fits(
        &self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> Option<bool> {
        let entry = self.entry(story_id)?;
        Some(
            entry.lead().item_id == item_id
                || self.similarity_to_lead(entry, tokens) >= REP_ADMISSION * threshold,
        )
    }

    /// Whether [`TitleIndex::edit_rep`] would keep an edited representative (read-only).
    pub fn edit_keeps(
        &self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        match entry.position(item_id) {
            Some(0) => true,
            Some(_) => self.similarity_to_lead(entry, tokens) >= REP_ADMISSION * threshold,
            None => false,
        }
    }

    /// Offers a member's title as a representative of its story: kept if the story has room and the title
    /// is similar to the story's first title (at [`REP_ADMISSION`] × `threshold`). Returns whether it
    /// was kept.
    pub fn offer_rep(
        &mut self,
        story_id: i64,
        item_id: i64,
        source_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        if entry.position(item_id).is_some()
            || !self.would_admit(story_id, source_id, tokens, threshold)
        {
            return false;
        }
        self.restore_rep(story_id, item_id, source_id, tokens);
        true
    }

    /// Restores a representative as stored (rebuilding after a restart): no admission test, so the
    /// rebuilt index holds exactly what the running one held.
    pub fn restore_rep(&mut self, story_id: i64, item_id: i64, source_id: i64, tokens: &[String]) {
        let Some(&slot) = self.by_story.get(&story_id) else {
            return;
        };
        let Some(entry) = self.entry(story_id) else {
            return;
        };
        let count = entry.reps().count();
        if count < MAX_REPS && entry.position(item_id).is_none() {
            self.place_rep(slot, count, item_id, source_id, tokens);
        }
    }

    /// A representative's title was edited in place. The first title follows the edit (it is what the
    /// story is); another representative follows it if it still resembles the first title, else it stops
    /// being one, so an edit can never pull a second story's readers in. Returns whether the item is still
    /// a representative.
    pub fn edit_rep(
        &mut self,
        story_id: i64,
        item_id: i64,
        tokens: &[String],
        threshold: f64,
    ) -> bool {
        let Some(&slot) = self.by_story.get(&story_id) else {
            return false;
        };
        let Some(entry) = self.entry(story_id) else {
            return false;
        };
        let Some(pos) = entry.position(item_id) else {
            return false;
        };
        let keep = self.edit_keeps(story_id, item_id, tokens, threshold);
        let source_id = self.take_rep(slot, pos);
        if keep {
            self.place_rep(slot, pos, item_id, source_id, tokens);
        }
        keep
    }

    /// Similarity of a title to a story's first representative.
    pub(super) fn similarity_to_lead(&self, entry: &Entry, tokens: &[String]) -> f64 {
        let n = ln_stories(self.live);
        let (known, total) = self.weigh(tokens, n);
        let (shared, lead_total) = self.overlap(&known, entry.lead().tokens, n);
        ochiai(shared, total, lead_total)
    }

    /// Inserts a representative at `pos`, posting the tokens the story did not use yet.
    pub(super) fn place_rep(
        &mut self,
        slot: u32,
        pos: usize,
        item_id: i64,
        source_id: i64,
        tokens: &[String],
    ) {
        let mut ids: Vec<u32> = tokens.iter().map(|t| self.intern(t)).collect();
        ids.sort_unstable();
        ids.dedup();
        let e = self.entry_mut(slot);
        let new_vocab: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| !e.uses(id, None))
            .collect();
        let at = e.offset(pos);
        let [s0, s1] = split_id(source_id);
        let [i0, i1] = split_id(item_id);
        let mut packed = Vec::with_capacity(e.reps.len() + REP_HEADER + ids.len());
        packed.extend_from_slice(&e.reps[..at]);
        packed.extend_from_slice(&[ids.len() as u32, s0, s1, i0, i1]);
        packed.extend_from_slice(&ids);
        packed.extend_from_slice(&e.reps[at..]);
        e.reps = packed.into_boxed_slice();
        for id in new_vocab {
            self.add_posting(id, slot);
        }
    }

    /// Removes the representative at `pos`, releasing tokens no other representative of the story uses;
    /// returns its source.
    pub(super) fn take_rep(&mut self, slot: u32, pos: usize) -> i64 {
        let e = self.entry_mut(slot);
        let rep = e.reps().nth(pos).expect("representative");
        let source_id = rep.source_id;
        let gone: Vec<u32> = rep
            .tokens
            .iter()
            .copied()
            .filter(|&id| !e.uses(id, Some(pos)))
            .collect();
        let at = e.offset(pos);
        let end = at + REP_HEADER + rep.tokens.len();
        let mut packed = Vec::with_capacity(e.reps.len() - (end - at));
        packed.extend_from_slice(&e.reps[..at]);
        packed.extend_from_slice(&e.reps[end..]);
        e.reps = packed.into_boxed_slice();
        for id in gone {
            self.drop_posting(id, slot);
        }
        source_id
    }
}
