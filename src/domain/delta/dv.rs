//! Delta deletion vectors: the row positions of a data file that a logical file masks.
//!
//! A descriptor (`add.deletionVector`) says where the bitmap is: inline in the log
//! (`storageType = 'i'`, Z85 text), in a file beside the data named by a UUID (`'u'`:
//! an optional random prefix, then the UUID's 20 Z85 characters), or at an absolute path
//! (`'p'`). A stored bitmap is `dataSize` (4 bytes, big-endian), the bitmap, and a CRC-32
//! of it (big-endian), at the descriptor's offset. The bitmap is a magic number
//! (1681511377, little-endian) and a 64-bit RoaringBitmap in the portable format. Every
//! size is checked before anything is allocated, and the decoded set must hold exactly
//! the descriptor's cardinality.

use roaring::RoaringTreemap;
use serde::{Deserialize, Serialize};

/// The magic number that starts a serialized deletion vector.
const MAGIC: u32 = 1_681_511_377;

/// Largest deletion vector read (a bitmap of every row of a billion-row file is ~130 MB
/// in the worst container mix; real ones are kilobytes).
pub const MAX_DV_BYTES: u64 = 256 << 20;

/// `add.deletionVector` / `remove.deletionVector` as the log writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub storage_type: String,
    pub path_or_inline_dv: String,
    #[serde(default)]
    pub offset: Option<i64>,
    pub size_in_bytes: i64,
    pub cardinality: i64,
}

/// Where a descriptor's bitmap is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Inline: the bitmap's bytes.
    Inline(Vec<u8>),
    /// A file relative to the table's directory, read at this offset.
    File { path: String, offset: u64 },
}

impl Descriptor {
    /// The descriptor's identity in the log: a logical file is (path, this).
    pub fn unique_id(&self) -> String {
        match self.offset {
            Some(o) => format!("{}{}@{o}", self.storage_type, self.path_or_inline_dv),
            None => format!("{}{}", self.storage_type, self.path_or_inline_dv),
        }
    }

    /// Where the bitmap is, or why it cannot be found.
    pub fn location(&self) -> Result<Location, String> {
        if self.size_in_bytes < 0 || self.size_in_bytes as u64 > MAX_DV_BYTES {
            return Err(format!(
                "deletion vector of {} bytes (at most {MAX_DV_BYTES} are read)",
                self.size_in_bytes
            ));
        }
        if self.cardinality < 0 {
            return Err(format!(
                "deletion vector with cardinality {}",
                self.cardinality
            ));
        }
        match self.storage_type.as_str() {
            "i" => {
                let bytes = z85::decode(&self.path_or_inline_dv)
                    .map_err(|e| format!("inline deletion vector is not Z85: {e}"))?;
                if bytes.len() < self.size_in_bytes as usize {
                    return Err(format!(
                        "inline deletion vector holds {} bytes, its descriptor says {}",
                        bytes.len(),
                        self.size_in_bytes
                    ));
                }
                Ok(Location::Inline(
                    bytes[..self.size_in_bytes as usize].to_vec(),
                ))
            }
            "u" => {
                let s = &self.path_or_inline_dv;
                if s.len() < 20 || !s.is_char_boundary(s.len() - 20) {
                    return Err(format!("deletion vector reference {s:?} is not a UUID"));
                }
                let (prefix, encoded) = s.split_at(s.len() - 20);
                let raw = z85::decode(encoded)
                    .ok()
                    .filter(|b| b.len() == 16)
                    .ok_or_else(|| format!("deletion vector reference {s:?} is not a UUID"))?;
                let uuid = uuid_text(&raw);
                let name = format!("deletion_vector_{uuid}.bin");
                let path = if prefix.is_empty() {
                    name
                } else {
                    crate::domain::delta::relative_path(prefix)
                        .map(|p| format!("{p}/{name}"))
                        .ok_or_else(|| {
                            format!("deletion vector prefix {prefix:?} leaves the table")
                        })?
                };
                let offset = self.offset.unwrap_or(1);
                if offset < 0 {
                    return Err(format!("deletion vector at offset {offset}"));
                }
                Ok(Location::File {
                    path,
                    offset: offset as u64,
                })
            }
            "p" => Err(format!(
                "deletion vector at an absolute path ({}): not supported",
                self.path_or_inline_dv
            )),
            other => Err(format!(
                "deletion vector storage type {other:?} is not known"
            )),
        }
    }
}

/// A UUID's 16 bytes in its usual text form.
pub(crate) fn uuid_text(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The stored form around a bitmap in a deletion vector file: checks `dataSize` and the
/// CRC-32 and returns the bitmap's bytes. `stored` is the descriptor's `sizeInBytes` + 8
/// bytes read at its offset.
pub fn unwrap_stored(stored: &[u8], size_in_bytes: usize) -> Result<&[u8], String> {
    if stored.len() != size_in_bytes + 8 {
        return Err(format!(
            "deletion vector needs {} bytes at its offset, {} were read",
            size_in_bytes + 8,
            stored.len()
        ));
    }
    let size = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]) as usize;
    if size != size_in_bytes {
        return Err(format!(
            "deletion vector says {size} bytes, its descriptor {size_in_bytes}"
        ));
    }
    let data = &stored[4..4 + size];
    let want = u32::from_be_bytes([
        stored[4 + size],
        stored[5 + size],
        stored[6 + size],
        stored[7 + size],
    ]);
    if crc32fast::hash(data) != want {
        return Err("deletion vector checksum mismatch (CRC-32)".into());
    }
    Ok(data)
}

/// The row positions of a serialized bitmap (magic + portable 64-bit RoaringBitmap),
/// checked against the descriptor's cardinality.
pub fn decode(bitmap: &[u8], cardinality: i64) -> Result<RoaringTreemap, String> {
    if bitmap.len() < 4 {
        return Err("deletion vector is too short".into());
    }
    let magic = u32::from_le_bytes([bitmap[0], bitmap[1], bitmap[2], bitmap[3]]);
    if magic != MAGIC {
        return Err(format!(
            "deletion vector has magic number {magic}, not {MAGIC}"
        ));
    }
    let body = &bitmap[4..];
    // The bucket count comes first: each bucket takes at least 12 bytes, so a count the
    // bytes cannot hold is refused before the library allocates for it.
    if body.len() >= 8 {
        let buckets = u64::from_le_bytes(body[..8].try_into().unwrap_or([0; 8]));
        if buckets > (body.len() as u64) / 12 {
            return Err(format!(
                "deletion vector declares {buckets} buckets in {} bytes",
                body.len()
            ));
        }
    }
    let set = RoaringTreemap::deserialize_from(body)
        .map_err(|e| format!("deletion vector is malformed: {e}"))?;
    if set.len() != cardinality as u64 {
        return Err(format!(
            "deletion vector holds {} rows, its descriptor says {cardinality}",
            set.len()
        ));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored deletion vector of the corpus table `table-with-dv-small` (rows 0 and 9).
    const STORED: [u8; 44] = [
        0x00, 0x00, 0x00, 0x24, 0xd1, 0xd3, 0x39, 0x64, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x2a, 0x67, 0x18, 0x46,
    ];

    #[test]
    fn a_stored_vector_decodes_to_its_rows() {
        let data = unwrap_stored(&STORED, 36).unwrap();
        let set = decode(data, 2).unwrap();
        assert_eq!(set.iter().collect::<Vec<u64>>(), vec![0, 9]);
        let d = Descriptor {
            storage_type: "u".into(),
            path_or_inline_dv: "vBn[lx{q8@P<9BNH/isA".into(),
            offset: Some(1),
            size_in_bytes: 36,
            cardinality: 2,
        };
        assert_eq!(
            d.location().unwrap(),
            Location::File {
                path: "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin".into(),
                offset: 1
            }
        );
        let prefixed = Descriptor {
            path_or_inline_dv: "ab vBn[lx{q8@P<9BNH/isA".replace(' ', ""),
            ..d.clone()
        };
        assert!(
            matches!(prefixed.location().unwrap(), Location::File { path, .. } if path.starts_with("ab/deletion_vector_"))
        );
    }

    #[test]
    fn damaged_vectors_are_errors() {
        let mut bad = STORED;
        bad[10] ^= 1;
        assert!(unwrap_stored(&bad, 36).unwrap_err().contains("checksum"));
        assert!(unwrap_stored(&STORED, 35).is_err());
        assert!(unwrap_stored(&STORED[..40], 36).is_err());
        let data = unwrap_stored(&STORED, 36).unwrap();
        assert!(decode(data, 3).unwrap_err().contains("holds 2 rows"));
        let mut magic = data.to_vec();
        magic[0] ^= 1;
        assert!(decode(&magic, 2).unwrap_err().contains("magic"));
        // A bucket count the bytes cannot hold.
        let mut huge = data.to_vec();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 2).unwrap_err().contains("buckets"));
        for cut in 0..data.len() {
            assert!(decode(&data[..cut], 2).is_err(), "cut at {cut}");
        }
        let d = Descriptor {
            storage_type: "u".into(),
            path_or_inline_dv: "short".into(),
            offset: Some(1),
            size_in_bytes: 36,
            cardinality: 2,
        };
        assert!(d.location().is_err());
        for (t, size) in [("p", 36), ("x", 36), ("u", -1), ("u", i64::MAX)] {
            let d = Descriptor {
                storage_type: t.into(),
                path_or_inline_dv: "vBn[lx{q8@P<9BNH/isA".into(),
                size_in_bytes: size,
                ..d.clone()
            };
            assert!(d.location().is_err(), "{t} {size}");
        }
    }

    #[test]
    fn inline_vectors_decode() {
        let data = unwrap_stored(&STORED, 36).unwrap();
        // Z85 needs a multiple of 4 bytes; writers pad the inline bitmap.
        let mut padded = data.to_vec();
        while !padded.len().is_multiple_of(4) {
            padded.push(0);
        }
        let d = Descriptor {
            storage_type: "i".into(),
            path_or_inline_dv: z85::encode(&padded),
            offset: None,
            size_in_bytes: 36,
            cardinality: 2,
        };
        let Location::Inline(bytes) = d.location().unwrap() else {
            panic!("not inline");
        };
        assert_eq!(decode(&bytes, 2).unwrap().len(), 2);
    }
}
