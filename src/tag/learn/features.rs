//! Hashed features of a story's text: words of the title and summary, title words apart, and word
//! pairs, each hashed into `2^bits` buckets with a stable hash (models survive restarts and upgrades).

pub(super) const TITLE_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

pub(super) const PAIR_SEED: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// Hashed features of one text, as (bucket, count) sorted by bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Everything: words, adjacent pairs, title words. Read by the regression.
    pub all: Vec<(u32, f32)>,
    /// Words and title words, without pairs (which would count the same evidence twice in a model
    /// that assumes independence). Read by naive Bayes.
    pub words: Vec<(u32, f32)>,
}

/// The features of a title and summary in a space of `2^bits` buckets.
pub fn features(title: &str, summary: &str, bits: u32) -> Features {
    let mut all = Vec::with_capacity(96);
    let mut words = Vec::with_capacity(48);
    for (text, in_title) in [(title, true), (summary, false)] {
        let mut prev: Option<u64> = None;
        hash_words(text, |h| {
            words.push(h);
            if in_title {
                words.push(h ^ TITLE_SEED);
            }
            if let Some(p) = prev {
                all.push(p.rotate_left(17) ^ h ^ PAIR_SEED);
            }
            prev = Some(h);
        });
    }
    all.extend_from_slice(&words);
    Features {
        all: buckets(&all, bits),
        words: buckets(&words, bits),
    }
}

/// Hashes → (bucket, count), sorted by bucket.
pub(super) fn buckets(hashes: &[u64], bits: u32) -> Vec<(u32, f32)> {
    let mask = (1u64 << bits) - 1;
    let mut idx: Vec<u32> = hashes.iter().map(|h| (mix(*h) & mask) as u32).collect();
    idx.sort_unstable();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(idx.len());
    for i in idx {
        match out.last_mut() {
            Some((j, c)) if *j == i => *c += 1.0,
            _ => out.push((i, 1.0)),
        }
    }
    out
}

/// Calls `emit` with the hash of every word of two or more letters or digits, lower-cased. An
/// apostrophe ends a word ("Bush's" → "bush"; the "s" is too short to count).
pub(super) fn hash_words(text: &str, mut emit: impl FnMut(u64)) {
    for word in crate::text::words(text) {
        let mut h = FNV_OFFSET;
        let mut len = 0usize;
        for c in word.chars() {
            for l in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for b in l.encode_utf8(&mut buf).bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
                len += 1;
            }
        }
        if len >= 2 {
            emit(h);
        }
    }
}

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

pub(super) const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// A stable 64-bit hash of a string (FNV-1a, mixed): the same on every machine and every release, for
/// deterministic splits.
pub fn stable_hash(s: &str) -> u64 {
    let mut h = FNV_OFFSET;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    mix(h)
}

/// Spreads FNV's low bits (a murmur3 finaliser).
pub(super) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Word counts only (the baseline's features).
pub(super) fn words_only(title: &str, summary: &str, bits: u32) -> Vec<(u32, f32)> {
    let mut hashes = Vec::new();
    for text in [title, summary] {
        hash_words(text, |h| hashes.push(h));
    }
    buckets(&hashes, bits)
}
