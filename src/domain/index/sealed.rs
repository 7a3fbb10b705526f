//! Index files that are read in part, and never trusted unchecked.
//!
//! A verification touches a few bytes of each row group's filter, so reading and
//! authenticating whole index files (46 MB at the benchmark's default scale) cost more
//! than the lookups. Each file is therefore sealed in two levels:
//!
//! `MAGIC | key id | u32 head length | head | u64 body length | SHA-256 of the body |
//!  one 16-byte tag per 1 KiB block of the body | HMAC-SHA256 of all before | body`
//!
//! Opening a file checks the HMAC of everything before the body (head, block tags) and
//! the file's exact length; each body block is checked against its tag when it is read:
//! `tag = HMAC(key, "vouch-index-block" | body SHA-256 | block number | block)[..16]`.
//! The tags name the body's digest, so blocks cannot be moved between files or
//! positions. A torn, truncated, corrupted, foreign or deliberately altered file fails
//! one of these checks when it or the part of it read is used: the caller then reads the
//! lake file in full (the index decides what is not read; a forged entry could otherwise
//! hide rows).

use crate::io::fsio::File;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{IndexError, IndexKey};

/// Magic and version at the front of every index file. Format 5 hashes values with
/// AES-128 (format 4, SipHash-2-4): a file of another format is refused, never read with
/// the wrong hash, where lookups would find nothing.
const MAGIC: &[u8; 8] = b"VOUCHIX5";
/// Body block size: small, so that a lookup authenticates little beyond what it reads.
pub const BLOCK: u64 = 1024;
const TAG: usize = 16;
/// From this many blocks (256 KiB) a body's tags are computed side by side.
const PARALLEL_TAGS: usize = 256;

fn block_tag(mac: &Hmac<Sha256>, digest: &[u8; 32], i: u64, block: &[u8]) -> Hmac<Sha256> {
    let mut m = mac.clone();
    m.update(b"vouch-index-block");
    m.update(digest);
    m.update(&i.to_le_bytes());
    m.update(block);
    m
}

/// Seals `head` and `body`; returns the file's bytes and its name (from its MAC, so a
/// file's name commits to its contents).
pub fn seal(key: &IndexKey, head: &[u8], body: &[u8]) -> (Vec<u8>, String) {
    let mac = key.mac();
    let digest: [u8; 32] = Sha256::digest(body).into();
    let blocks = body.len().div_ceil(BLOCK as usize);
    let mut out = Vec::with_capacity(body.len() + head.len() + blocks * TAG + 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.id.as_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(head);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest);
    // One tag per block, side by side for a large body (a lake set layer: megabytes).
    let tag_of = |(i, b): (usize, &[u8])| {
        let t = block_tag(&mac, &digest, i as u64, b)
            .finalize()
            .into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&t[..TAG]);
        tag
    };
    let tags: Vec<[u8; TAG]> = if blocks >= PARALLEL_TAGS {
        use rayon::prelude::*;
        body.par_chunks(BLOCK as usize)
            .enumerate()
            .map(tag_of)
            .collect()
    } else {
        body.chunks(BLOCK as usize)
            .enumerate()
            .map(tag_of)
            .collect()
    };
    for t in &tags {
        out.extend_from_slice(t);
    }
    let mut m = mac.clone();
    m.update(&out);
    let tag: [u8; 32] = m.finalize().into_bytes().into();
    out.extend_from_slice(&tag);
    out.extend_from_slice(body);
    let name = format!("{}.vix", crate::domain::subjects::hex(&tag[..16]));
    (out, name)
}

/// The public fingerprint of a sealed file: the SHA-256 (hex) of everything before its
/// body, which commits to the body by the body's SHA-256.
pub fn prefix_sha256(prefix: &[u8]) -> String {
    crate::domain::subjects::hex(&Sha256::digest(prefix))
}

/// An open sealed file: head checked, body blocks checked as they are read.
pub struct Sealed {
    file: File,
    pub head: Vec<u8>,
    /// The name the file's contents commit to (see [`seal`]).
    pub name: String,
    /// SHA-256 (hex) of everything before the body (which commits to the body by its
    /// SHA-256): a public fingerprint of the whole file, computed without reading it all.
    pub prefix_sha256: String,
    body_at: u64,
    body_len: u64,
    digest: [u8; 32],
    tags: Vec<[u8; TAG]>,
    mac: Hmac<Sha256>,
    cache: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed").field("name", &self.name).finish()
    }
}

fn read_exact_at(file: &File, at: u64, len: usize) -> Result<Vec<u8>, IndexError> {
    let mut b = vec![0u8; len];
    file.read_exact_at(&mut b, at).map_err(IndexError::from)?;
    Ok(b)
}

impl Sealed {
    /// Opens and checks the head of a sealed file. Errors are one phrase, without the path.
    pub fn open(path: &Path, key: &IndexKey) -> Result<Sealed, IndexError> {
        let file = crate::io::fsio::open(path).map_err(IndexError::from)?;
        let size = file.metadata().map_err(IndexError::from)?.len();
        let not_index = || IndexError::NotAnIndex;
        let fixed = (MAGIC.len() + key.id.len() + 4) as u64;
        if size < fixed + 8 + 32 + 32 {
            return Err(not_index());
        }
        let mut pre = read_exact_at(&file, 0, size.min(16 << 10) as usize)?;
        if &pre[..MAGIC.len()] != MAGIC {
            return Err(match pre[..MAGIC.len()].strip_prefix(b"VOUCHIX") {
                // Escaped: the message stays one line whatever the byte is.
                Some(v) => IndexError::OtherFormat(v.escape_ascii().to_string()),
                None => not_index(),
            });
        }
        if &pre[MAGIC.len()..MAGIC.len() + key.id.len()] != key.id.as_bytes() {
            return Err(IndexError::OtherKey);
        }
        let at = fixed as usize;
        let head_len = u32::from_le_bytes(pre[at - 4..at].try_into().map_err(|_| not_index())?);
        let lens_end = fixed + u64::from(head_len) + 8;
        if lens_end > size {
            return Err(not_index());
        }
        if (pre.len() as u64) < lens_end {
            pre = read_exact_at(&file, 0, lens_end as usize)?;
        }
        let body_len = u64::from_le_bytes(
            pre[lens_end as usize - 8..lens_end as usize]
                .try_into()
                .map_err(|_| not_index())?,
        );
        let blocks = body_len.div_ceil(BLOCK);
        let prefix = blocks
            .checked_mul(TAG as u64)
            .and_then(|t| t.checked_add(lens_end + 32))
            .ok_or_else(not_index)?;
        // The exact length: a truncated or extended file is refused at once.
        if prefix.checked_add(32).and_then(|p| p.checked_add(body_len)) != Some(size) {
            return Err(IndexError::Truncated);
        }
        if (pre.len() as u64) < prefix + 32 {
            pre = read_exact_at(&file, 0, (prefix + 32) as usize)?;
        }
        let mac = key.mac();
        let mut m = mac.clone();
        m.update(&pre[..prefix as usize]);
        let tag = &pre[prefix as usize..prefix as usize + 32];
        if m.verify_slice(tag).is_err() {
            return Err(IndexError::Altered);
        }
        let head = pre[fixed as usize..fixed as usize + head_len as usize].to_vec();
        let digest: [u8; 32] = pre[lens_end as usize..lens_end as usize + 32]
            .try_into()
            .map_err(|_| not_index())?;
        let tags = pre[lens_end as usize + 32..prefix as usize]
            .chunks_exact(TAG)
            .map(|c| c.try_into().unwrap_or([0; TAG]))
            .collect();
        Ok(Sealed {
            file,
            head,
            name: format!("{}.vix", crate::domain::subjects::hex(&tag[..16])),
            prefix_sha256: prefix_sha256(&pre[..prefix as usize + 32]),
            body_at: prefix + 32,
            body_len,
            digest,
            tags,
            mac,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    fn check(&self, i: u64, block: &[u8]) -> Result<(), IndexError> {
        let t = self
            .tags
            .get(i as usize)
            .ok_or(IndexError::BlockOutOfRange)?;
        block_tag(&self.mac, &self.digest, i, block)
            .verify_truncated_left(t)
            .map_err(|_| IndexError::AlteredBlock(i))
    }

    fn block(&self, i: u64) -> Result<Arc<Vec<u8>>, IndexError> {
        if let Some(b) = self.cache.lock().ok().and_then(|c| c.get(&i).cloned()) {
            return Ok(b);
        }
        let start = i * BLOCK;
        if start >= self.body_len {
            return Err(IndexError::PastEnd);
        }
        let len = BLOCK.min(self.body_len - start) as usize;
        let b = read_exact_at(&self.file, self.body_at + start, len)?;
        self.check(i, &b)?;
        let b = Arc::new(b);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(i, b.clone());
        }
        Ok(b)
    }

    /// `len` bytes of the body from `at`, each block checked.
    pub fn read(&self, at: u64, len: u64) -> Result<Vec<u8>, IndexError> {
        let end = at
            .checked_add(len)
            .filter(|&e| e <= self.body_len)
            .ok_or(IndexError::PastEnd)?;
        let mut out = Vec::with_capacity(len as usize);
        let mut pos = at;
        while pos < end {
            let b = self.block(pos / BLOCK)?;
            let from = (pos % BLOCK) as usize;
            let to = ((end - pos / BLOCK * BLOCK).min(BLOCK)) as usize;
            out.extend_from_slice(&b[from..to]);
            pos = pos / BLOCK * BLOCK + to as u64;
        }
        Ok(out)
    }

    pub fn byte(&self, at: u64) -> Result<u8, IndexError> {
        let b = self.block(at / BLOCK)?;
        b.get((at % BLOCK) as usize)
            .copied()
            .ok_or(IndexError::PastEnd)
    }

    /// The whole body, checked whole (one read, not cached): against the SHA-256 the
    /// sealed head holds, one hash of the body where a tag per block is one HMAC a block.
    /// A body that fails is then checked block by block, to name the first bad block.
    pub fn read_all(&self) -> Result<Vec<u8>, IndexError> {
        let b = read_exact_at(&self.file, self.body_at, self.body_len as usize)?;
        if Sha256::digest(&b)[..] == self.digest[..] {
            return Ok(b);
        }
        for (i, block) in b.chunks(BLOCK as usize).enumerate() {
            self.check(i as u64, block)?;
        }
        // Every block matches its tag, yet not the whole: the head and body disagree.
        Err(IndexError::Altered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of another format (or a hostile byte where the format number goes) is
    /// refused, naming the format on one line.
    #[test]
    fn another_format_is_refused_by_name_on_one_line() {
        let key = IndexKey::new(b"0123456789abcdef");
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.vix");
        let (sealed, _) = seal(&key, b"head", b"body");
        for (byte, shown) in [(b'4', "format 4"), (b'\n', "format \\n")] {
            let mut b = sealed.clone();
            b[7] = byte;
            std::fs::write(&p, &b).unwrap();
            let e = Sealed::open(&p, &key).err().unwrap().to_string();
            assert!(e.contains(shown) && !e.contains('\n'), "{e}");
        }
    }

    /// A large body's tags, computed side by side, are the block-by-block tags, and its
    /// blocks are checked as any other's.
    #[test]
    fn a_large_body_is_sealed_block_by_block() {
        let key = IndexKey::new(b"0123456789abcdef");
        let body: Vec<u8> = (0..600_000u32).map(|i| (i * 13 % 251) as u8).collect();
        let blocks = body.len().div_ceil(BLOCK as usize);
        assert!(blocks >= PARALLEL_TAGS);
        let (bytes, _) = seal(&key, b"head", &body);
        let digest: [u8; 32] = Sha256::digest(&body).into();
        let tags_at = MAGIC.len() + key.id.len() + 4 + 4 + 8 + 32;
        for (i, b) in body.chunks(BLOCK as usize).enumerate() {
            let t = block_tag(&key.mac(), &digest, i as u64, b)
                .finalize()
                .into_bytes();
            assert_eq!(
                bytes[tags_at + i * TAG..tags_at + (i + 1) * TAG],
                t[..TAG],
                "block {i}"
            );
        }
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.vix");
        let body_at = bytes.len() - body.len();
        let mut bad = bytes.clone();
        bad[body_at + 400 * 1024 + 5] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        let s = Sealed::open(&p, &key).unwrap();
        assert_eq!(
            s.read(399 * 1024, 1024).unwrap(),
            body[399 * 1024..400 * 1024]
        );
        assert!(s.read(400 * 1024, 1).is_err());
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(Sealed::open(&p, &key).unwrap().read_all().unwrap(), body);
    }

    #[test]
    fn sealed_files_are_checked_where_they_are_read() {
        let key = IndexKey::new(b"0123456789abcdef");
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.vix");
        let body: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (bytes, name) = seal(&key, b"head", &body);
        std::fs::write(&p, &bytes).unwrap();
        let s = Sealed::open(&p, &key).unwrap();
        assert_eq!(s.name, name);
        assert_eq!(s.head, b"head");
        assert_eq!(s.read_all().unwrap(), body);
        for (at, len) in [
            (0, 0),
            (0, 1),
            (1000, 100),
            (1023, 2),
            (4000, 1000),
            (0, 5000),
        ] {
            assert_eq!(
                s.read(at, len).unwrap(),
                body[at as usize..(at + len) as usize]
            );
        }
        assert_eq!(s.byte(4999).unwrap(), body[4999]);
        assert!(s.read(4999, 2).is_err() && s.byte(5000).is_err());
        // A flipped body byte fails its block only, when read.
        let body_at = bytes.len() - body.len();
        let mut bad = bytes.clone();
        bad[body_at + 2100] ^= 1;
        std::fs::write(&p, &bad).unwrap();
        let s = Sealed::open(&p, &key).unwrap();
        assert_eq!(s.read(0, 2048).unwrap(), body[..2048]);
        assert!(
            s.read(2048, 10)
                .unwrap_err()
                .to_string()
                .contains("block 2")
        );
        assert!(s.read_all().is_err());
        // Head, tags, length, key: refused at open.
        for at in [10, 30, body_at - 40, body_at - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            std::fs::write(&p, &bad).unwrap();
            assert!(Sealed::open(&p, &key).is_err(), "byte {at}");
        }
        for len in [0, 20, body_at, bytes.len() - 1] {
            std::fs::write(&p, &bytes[..len]).unwrap();
            assert!(Sealed::open(&p, &key).is_err(), "length {len}");
        }
        std::fs::write(&p, &bytes).unwrap();
        let other = IndexKey::new(b"another key of 16+ bytes");
        assert!(
            Sealed::open(&p, &other)
                .unwrap_err()
                .to_string()
                .contains("another subject key")
        );
        // Blocks of another file, under the same key, do not pass.
        let (other_bytes, _) = seal(&key, b"head", &vec![9u8; 5000]);
        let mut spliced = bytes.clone();
        spliced[body_at..body_at + 1024].copy_from_slice(&other_bytes[body_at..body_at + 1024]);
        std::fs::write(&p, &spliced).unwrap();
        let s = Sealed::open(&p, &key).unwrap();
        assert!(s.read(0, 1).is_err() && s.read(1024, 1).is_ok());
    }
}
