//! Construction of binary fuse filters with 8-bit fingerprints: the filter xorf 0.13's
//! `BinaryFuse8::try_from` builds for the same keys (same layout, seeds and retries, so
//! the same bytes: a unit test compares them), with its working arrays taken from a pool
//! instead of allocated for every filter.
//!
//! Why: xorf allocates about 22 bytes a key of zeroed working memory per filter. Fresh
//! from the kernel, each page is mapped to the zero page on its first read and copied on
//! its first write, with a TLB shootdown across the process's threads each time; on a
//! night's upkeep that was two thirds of the filter build's time, spent in the kernel.
//! Here the arrays are reused, and zeroed by writing, filter after filter. The pool is
//! emptied when a build ends ([`release`]), so the memory is not held past it.

use std::sync::Mutex;

use libm::{floor, fmax, log, round};
use xorf::{BinaryFuse8, Descriptor, splitmix64};

use crate::domain::keyhash::mix64;

/// The working arrays of one construction.
#[derive(Default)]
struct Scratch {
    alone: Vec<u32>,
    t2count: Vec<u8>,
    t2hash: Vec<u64>,
    reverse_h: Vec<u8>,
    reverse_order: Vec<u64>,
    start_pos: Vec<usize>,
}

/// Scratch arrays between constructions (at most one per thread that built at once).
static POOL: Mutex<Vec<Scratch>> = Mutex::new(Vec::new());

/// Frees the pooled working arrays (called when an index build ends).
pub fn release() {
    if let Ok(mut p) = POOL.lock() {
        p.clear();
    }
}

/// `v` as `n` zeros, its allocation reused.
fn zeroed<T: Copy + Default>(v: &mut Vec<T>, n: usize) {
    v.clear();
    v.resize(n, T::default());
}

fn segment_length(size: u32) -> u32 {
    if size == 0 {
        return 4;
    }
    1 << (floor(log(f64::from(size)) / log(3.33_f64) + 2.25) as u32)
}

fn size_factor(size: u32) -> f64 {
    fmax(
        1.125_f64,
        0.875 + 0.25 * log(1_000_000_f64) / log(f64::from(size)),
    )
}

/// The three positions of a key's mixed hash (xorf's `hash_of_hash`); below
/// `count_len + 2 * len`, which a filter read from disk is checked to cover.
#[inline]
pub(super) fn positions(hash: u64, len: u32, mask: u32, count_len: u32) -> [u32; 3] {
    let h0 = ((u128::from(hash) * u128::from(count_len)) >> 64) as u32;
    // Wrapping only for a descriptor that fails that check (reads are bounds-checked).
    let h1 = h0.wrapping_add(len) ^ (((hash >> 18) as u32) & mask);
    let h2 = h0.wrapping_add(len.wrapping_mul(2)) ^ ((hash as u32) & mask);
    [h0, h1, h2]
}

/// Adds a key's mixed hash at its three positions, or takes it back: each count moves by
/// 4 and has the position's slot (0, 1, 2) XORed into its low bits; the hash is XORed in.
#[inline]
fn toggle(t2count: &mut [u8], t2hash: &mut [u64], at: [usize; 3], hash: u64, add: bool) {
    for (slot, &i) in at.iter().enumerate() {
        let moved = if add {
            t2count[i].wrapping_add(4)
        } else {
            t2count[i].wrapping_sub(4)
        };
        t2count[i] = moved ^ slot as u8;
        t2hash[i] ^= hash;
    }
}

#[inline]
fn mod3(x: u8) -> u8 {
    if x > 2 { x - 3 } else { x }
}

/// Builds the filter of `keys`, which must be distinct (xorf's precondition too).
pub fn build(keys: &[u64]) -> Result<BinaryFuse8, &'static str> {
    let mut scratch = POOL
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_default();
    let r = build_with(keys, &mut scratch);
    if let Ok(mut p) = POOL.lock() {
        p.push(scratch);
    }
    r
}

fn build_with(keys: &[u64], s: &mut Scratch) -> Result<BinaryFuse8, &'static str> {
    const ARITY: u32 = 3;
    const MAX_ITER: u32 = 1_000;
    let size = keys.len();
    let size32 = u32::try_from(size).map_err(|_| "too many keys for a binary fuse filter")?;
    let mut segment_length = segment_length(size32).min(262_144);
    let mut segment_length_mask = segment_length - 1;
    let capacity = if size > 1 {
        round(f64::from(size32) * size_factor(size32)) as u32
    } else {
        0
    };
    let init_segment_count = capacity.div_ceil(segment_length);
    let (fp_array_len, mut segment_count) = {
        let array_len = init_segment_count * segment_length;
        let proposed = array_len.div_ceil(segment_length);
        let segment_count = if proposed < ARITY {
            1
        } else {
            proposed - (ARITY - 1)
        };
        (
            ((segment_count + ARITY - 1) * segment_length) as usize,
            segment_count,
        )
    };
    let mut segment_count_length = segment_count * segment_length;
    let mut fingerprints = vec![0u8; fp_array_len];
    let mut rng = 1u64;
    let mut seed = splitmix64(&mut rng);
    let capacity = fp_array_len;
    zeroed(&mut s.alone, capacity);
    zeroed(&mut s.t2count, capacity);
    zeroed(&mut s.t2hash, capacity);
    zeroed(&mut s.reverse_h, size);
    zeroed(&mut s.reverse_order, size + 1);
    s.reverse_order[size] = 1;
    // Every fourth try keeps the capacity and halves the segment length (xorf's retry).
    let try_smaller_segment = size > 4 && size < 1_000_000;
    let start_pos_cap = {
        let max_segment_count = if try_smaller_segment {
            segment_count.saturating_mul(2).saturating_add(2)
        } else {
            segment_count
        };
        let mut block_bits = 1;
        while (1u64 << block_bits) < u64::from(max_segment_count) {
            block_bits += 1;
        }
        1usize << block_bits
    };
    zeroed(&mut s.start_pos, start_pos_cap);
    let Scratch {
        alone,
        t2count,
        t2hash,
        reverse_h,
        reverse_order,
        start_pos,
    } = s;
    let mut done = false;
    let mut ultimate_size = 0;
    for iter in 0..MAX_ITER {
        if try_smaller_segment {
            match (iter + 1) % 4 {
                2 => {
                    segment_length /= 2;
                    segment_length_mask = segment_length - 1;
                    segment_count = segment_count * 2 + 2;
                    segment_count_length = segment_count * segment_length;
                }
                3 => {
                    segment_length *= 2;
                    segment_length_mask = segment_length - 1;
                    segment_count = segment_count / 2 - 1;
                    segment_count_length = segment_count * segment_length;
                }
                _ => {}
            }
        }
        let mut block_bits = 1;
        while (1u64 << block_bits) < u64::from(segment_count) {
            block_bits += 1;
        }
        let start_pos_len = 1usize << block_bits;
        for (i, p) in start_pos[..start_pos_len].iter_mut().enumerate() {
            *p = ((i as u64 * size as u64) >> block_bits) as usize;
        }
        for &key in keys {
            let hash = mix64(key.wrapping_add(seed));
            let mut segment_index = (hash >> (64 - block_bits)) as usize;
            while reverse_order[start_pos[segment_index]] != 0 {
                segment_index += 1;
                segment_index &= (1 << block_bits) - 1;
            }
            reverse_order[start_pos[segment_index]] = hash;
            start_pos[segment_index] += 1;
        }
        let mut error = false;
        let mut duplicates = 0;
        for &hash in &reverse_order[..size] {
            let [i1, i2, i3] = positions(
                hash,
                segment_length,
                segment_length_mask,
                segment_count_length,
            )
            .map(|i| i as usize);
            toggle(t2count, t2hash, [i1, i2, i3], hash, true);
            if t2hash[i1] & t2hash[i2] & t2hash[i3] == 0
                && ((t2hash[i1] == 0 && t2count[i1] == 8)
                    || (t2hash[i2] == 0 && t2count[i2] == 8)
                    || (t2hash[i3] == 0 && t2count[i3] == 8))
            {
                duplicates += 1;
                toggle(t2count, t2hash, [i1, i2, i3], hash, false);
            }
            error = t2count[i1] < 4 || t2count[i2] < 4 || t2count[i3] < 4;
        }
        if !error {
            let mut qsize = 0;
            for (i, &count) in t2count.iter().enumerate() {
                alone[qsize] = i as u32;
                if (count >> 2) == 1 {
                    qsize += 1;
                }
            }
            let mut stack_size = 0;
            let mut h012 = [0u32; 6];
            while qsize > 0 {
                qsize -= 1;
                let index = alone[qsize] as usize;
                if (t2count[index] >> 2) == 1 {
                    let hash = t2hash[index];
                    let found = t2count[index] & 3;
                    reverse_h[stack_size] = found;
                    reverse_order[stack_size] = hash;
                    stack_size += 1;
                    let [i1, i2, i3] = positions(
                        hash,
                        segment_length,
                        segment_length_mask,
                        segment_count_length,
                    );
                    h012[1] = i2;
                    h012[2] = i3;
                    h012[3] = i1;
                    h012[4] = h012[1];
                    for k in 1..=2u8 {
                        let other = h012[usize::from(found + k)] as usize;
                        alone[qsize] = other as u32;
                        if (t2count[other] >> 2) == 2 {
                            qsize += 1;
                        }
                        t2count[other] = t2count[other].wrapping_sub(4) ^ mod3(found + k);
                        t2hash[other] ^= hash;
                    }
                }
            }
            if stack_size + duplicates == size {
                ultimate_size = stack_size;
                done = true;
                break;
            }
        }
        // Failed: reset for a retry with the next seed.
        reverse_order[..size].fill(0);
        t2count.fill(0);
        t2hash.fill(0);
        seed = splitmix64(&mut rng);
    }
    if !done {
        return Err("Failed to construct binary fuse filter.");
    }
    for i in (0..ultimate_size).rev() {
        let hash = reverse_order[i];
        let xor2 = (hash ^ (hash >> 32)) as u8;
        let [i1, i2, i3] = positions(
            hash,
            segment_length,
            segment_length_mask,
            segment_count_length,
        );
        let h012 = [i1, i2, i3, i1, i2];
        let found = usize::from(reverse_h[i]);
        fingerprints[h012[found] as usize] =
            xor2 ^ fingerprints[h012[found + 1] as usize] ^ fingerprints[h012[found + 2] as usize];
    }
    Ok(BinaryFuse8 {
        descriptor: Descriptor {
            seed,
            segment_length,
            segment_length_mask,
            segment_count_length,
        },
        fingerprints: fingerprints.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xorf::Filter;

    /// The same bytes as xorf's own construction, for sizes across every branch (tiny,
    /// the retry with shorter segments, past a million keys) and keys of any pattern.
    #[test]
    fn builds_the_filter_xorf_builds() {
        let mut rng = crate::domain::keyhash::test_rng(0x5eed_f00d);
        let mut sizes: Vec<usize> = (0..=70).collect();
        sizes.extend([
            100, 255, 256, 1000, 4095, 4096, 65_536, 122_880, 345_000, 1_000_001,
        ]);
        for _ in 0..40 {
            sizes.push((rng() % 200_000) as usize);
        }
        for (n, &size) in sizes.iter().enumerate() {
            let mut keys: Vec<u64> = match n % 3 {
                0 => (0..size).map(|_| rng()).collect(),
                1 => (0..size as u64).collect(),
                _ => (0..size as u64).map(|i| i << 40).collect(),
            };
            keys.sort_unstable();
            keys.dedup();
            let ours = build(&keys).unwrap();
            let theirs = BinaryFuse8::try_from(&keys).unwrap();
            assert_eq!(ours.descriptor, theirs.descriptor, "{size} keys");
            assert_eq!(ours.fingerprints, theirs.fingerprints, "{size} keys");
            assert!(keys.iter().all(|k| ours.contains(k)), "{size} keys");
        }
        release();
        assert!(POOL.lock().unwrap().is_empty());
    }
}
