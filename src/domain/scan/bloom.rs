//! Parquet split-block bloom filters, checked in place.
//!
//! The filter's bitset is read into a reused buffer and probed there with hashes computed
//! once per scan, instead of being copied into a new structure per column chunk. The
//! algorithm is the one `parquet.thrift` specifies (xxHash64 with seed 0, 32-byte blocks of
//! eight 32-bit words, eight salted bits a block); the `parquet` crate's `Sbbf` is the
//! reference the tests compare against. Pure.

const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// The hash a bloom filter uses for a value's physical bytes (little-endian integers).
pub fn hash(bytes: &[u8]) -> u64 {
    twox_hash::XxHash64::oneshot(0, bytes)
}

/// False when the value with this hash is certainly not in the filter. `bitset` must be a
/// whole number of 32-byte blocks (the header check guarantees it); an empty one proves
/// nothing.
#[inline]
pub fn may_contain(bitset: &[u8], hash: u64) -> bool {
    let blocks = (bitset.len() / 32) as u64;
    if blocks == 0 {
        return true;
    }
    let block = (((hash >> 32) * blocks) >> 32) as usize;
    let words = &bitset[block * 32..block * 32 + 32];
    let key = hash as u32;
    for (i, salt) in SALT.iter().enumerate() {
        let bit = key.wrapping_mul(*salt) >> 27;
        let w = u32::from_le_bytes([
            words[4 * i],
            words[4 * i + 1],
            words[4 * i + 2],
            words[4 * i + 3],
        ]);
        if w & (1 << bit) == 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::bloom_filter::Sbbf;

    #[test]
    fn agrees_with_the_parquet_crate() {
        let mut sbbf = Sbbf::new_with_ndv_fpp(1000, 0.01).unwrap();
        for i in 0..1000u32 {
            sbbf.insert(format!("user-{i}").as_str());
        }
        let mut bytes = Vec::new();
        sbbf.write(&mut bytes).unwrap();
        let (n, hlen) = crate::domain::scan::thrift::read_bloom_header(&bytes).unwrap();
        let bitset = &bytes[hlen..];
        assert_eq!(bitset.len(), n as usize);
        for i in 0..5000u32 {
            let v = format!("user-{i}");
            assert_eq!(
                may_contain(bitset, hash(v.as_bytes())),
                sbbf.check(v.as_str()),
                "{v}"
            );
        }
        for i in 0..1000u32 {
            assert!(may_contain(bitset, hash(format!("user-{i}").as_bytes())));
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(crate::domain::scan::thrift::read_bloom_header(&[]).is_err());
        // num_bytes = 5, then the three unions.
        let bad = [
            0x15, 0x0a, 0x1c, 0x1c, 0x00, 0x00, 0x1c, 0x1c, 0x00, 0x00, 0x1c, 0x1c, 0x00, 0x00,
            0x00,
        ];
        assert!(crate::domain::scan::thrift::read_bloom_header(&bad).is_err());
        assert!(may_contain(&[], 42));
    }
}
