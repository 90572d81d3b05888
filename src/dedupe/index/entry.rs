//! One story's slot in the index: its representatives' item ids, sources and token ids, packed in one
//! `u32` array.

/// Words before a representative's tokens in [`Entry::reps`]: token count, source id, item id (ids in
/// two words each, low word first).
pub(super) const REP_HEADER: usize = 5;

/// A story held by the [`TitleIndex`].
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) story_id: i64,
    /// When syndic first saw the story, in seconds: the index keeps a story while this is within the
    /// window (slots are in this order, so pruning pops the front).
    pub(super) first_seen: u32,
    /// Representative titles, first title first, packed into one allocation: per representative
    /// [`REP_HEADER`] words, then its interned token ids, sorted.
    pub(super) reps: Box<[u32]>,
}

/// One representative of an [`Entry`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Rep<'a> {
    pub(super) item_id: i64,
    pub(super) source_id: i64,
    pub(super) tokens: &'a [u32],
}

pub(super) fn split_id(v: i64) -> [u32; 2] {
    [v as u32, (v as u64 >> 32) as u32]
}

pub(super) fn join_id(lo: u32, hi: u32) -> i64 {
    (u64::from(lo) | (u64::from(hi) << 32)) as i64
}

/// Iterates the packed representatives of an entry.
pub(super) struct Reps<'a>(&'a [u32]);

impl<'a> Iterator for Reps<'a> {
    type Item = Rep<'a>;
    fn next(&mut self) -> Option<Rep<'a>> {
        let len = *self.0.first()? as usize;
        let (rep, rest) = self.0.split_at(REP_HEADER + len);
        self.0 = rest;
        Some(Rep {
            source_id: join_id(rep[1], rep[2]),
            item_id: join_id(rep[3], rep[4]),
            tokens: &rep[REP_HEADER..],
        })
    }
}

impl Entry {
    pub(super) fn reps(&self) -> Reps<'_> {
        Reps(&self.reps)
    }

    pub(super) fn lead(&self) -> Rep<'_> {
        self.reps().next().expect("a story has its first title")
    }

    pub(super) fn position(&self, item_id: i64) -> Option<usize> {
        self.reps().position(|r| r.item_id == item_id)
    }

    /// Whether a representative other than the `skip`th uses the token.
    pub(super) fn uses(&self, id: u32, skip: Option<usize>) -> bool {
        self.reps()
            .enumerate()
            .any(|(i, r)| Some(i) != skip && r.tokens.binary_search(&id).is_ok())
    }

    /// Word offset of the `pos`th representative (the end for `pos` = count).
    pub(super) fn offset(&self, pos: usize) -> usize {
        let mut at = 0;
        for _ in 0..pos {
            at += REP_HEADER + self.reps[at] as usize;
        }
        at
    }
}
