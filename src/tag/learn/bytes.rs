//! The model's byte format: a magic header, then little-endian `u32` and `f32` fields.

use super::LearnError;

/// M2: each label calibrated on its own (one-vs-rest); M1 models (one softmax temperature) are not
/// read, and are retrained.
pub(super) const FORMAT: &[u8; 8] = b"syndicM2";

pub(super) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], LearnError> {
        if self.b.len() < n {
            return Err(LearnError::Corrupt("truncated"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    pub(super) fn u32(&mut self) -> Result<u32, LearnError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(super) fn f32(&mut self) -> Result<f32, LearnError> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(super) fn f32s(&mut self, n: usize) -> Result<Vec<f32>, LearnError> {
        let bytes = self.take(n.checked_mul(4).ok_or(LearnError::Corrupt("size"))?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}
