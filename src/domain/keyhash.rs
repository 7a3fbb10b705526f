//! Fast non-cryptographic hashing of keys the operator gives (subject IDs, probe keys):
//! the tables hold at most the subject list, so flooding is not a concern. Pure.

use std::hash::Hasher;

/// Multiplies in each 8-byte word of the key; finish with [`mix64`] (see [`key_hash`]).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

/// The golden-ratio multiplier.
pub const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(K);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A key's hash, finished with murmur3's mixer so that every bit of it reaches the bits
/// a hash table indexes by.
#[inline]
pub fn key_hash(v: &[u8]) -> u64 {
    let mut h = KeyHasher(v.len() as u64);
    h.write(v);
    mix64(h.finish())
}

/// murmur3's 64-bit finaliser (xorf mixes its keys with it too).
#[inline]
pub fn mix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// A seeded xorshift64 for tests that try many inputs: the same sequence everywhere.
#[cfg(test)]
pub(crate) fn test_rng(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
