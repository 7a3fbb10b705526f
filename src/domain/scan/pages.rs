//! The scan's own decoder for one identifier column chunk.
//!
//! Given the bytes of a column chunk, it walks every page header (checking declared sizes
//! and CRCs before anything is allocated or decompressed), decodes the dictionary page and
//! probes it once, skips dictionary-encoded data pages without decompressing them when the
//! dictionary holds no subject, and otherwise decodes PLAIN values or dictionary indices
//! straight from the page bytes into probe lookups — no Arrow arrays, no per-value
//! allocation. Encodings or codecs it does not handle are reported as
//! [`ChunkError::Unsupported`] so the caller can hand the chunk to the generic decoder.
//! Pure: bytes in, matches out.

use parquet::basic::Compression;

use super::error::Corrupt;
use super::probe::{IdKind, Probe};
use super::thrift::{PageHeader, PageType, read_page_header};

/// Sizes the decoder refuses to go past, whatever a file declares.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest uncompressed page accepted.
    pub max_page_bytes: usize,
    /// Largest footer accepted.
    pub max_footer_bytes: usize,
    /// Largest column chunk read into memory at once.
    pub max_chunk_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_bytes: 256 << 20,
            max_footer_bytes: 64 << 20,
            max_chunk_bytes: 1 << 30,
        }
    }
}

/// What one column chunk holds for the subject list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChunkScan {
    /// Rows covered by the chunk's data pages (checked against the footer by the caller).
    pub rows: u64,
    /// (row index within the row group, subject number), in row order.
    pub matches: Vec<(u32, u32)>,
    pub pages_decoded: u32,
    pub pages_skipped: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Valid Parquet this decoder does not handle; use the generic decoder.
    #[error("{0}")]
    Unsupported(String),
    /// The chunk is malformed.
    #[error("{0}")]
    Corrupt(String),
}

fn corrupt<T>(msg: impl Into<String>) -> Result<T, ChunkError> {
    Err(ChunkError::Corrupt(msg.into()))
}

// Parquet `Encoding` numbers.
const PLAIN: i32 = 0;
const PLAIN_DICTIONARY: i32 = 2;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;

/// How to decode one chunk.
pub struct ChunkSpec<'a> {
    pub probe: &'a Probe,
    pub codec: Compression,
    pub max_def: i16,
    pub limits: Limits,
    pub verify_crc: bool,
    /// Rows the footer declares for the row group; pages may not hold more.
    pub expected_rows: u64,
}

/// Walks the page headers of `chunk` only, checking sizes and counts: what the generic
/// decoder is allowed to see. Data pages may not hold more than `max_rows` values in all
/// (the row group's rows: identifier columns are flat), and a dictionary page no more
/// entries than its bytes can hold, so the generic decoder never sizes a buffer by an
/// implausible count. Returns the total of the data pages' value counts.
pub fn check_page_headers(
    chunk: &[u8],
    limits: &Limits,
    max_rows: u64,
    min_value_bytes: usize,
) -> Result<u64, ChunkError> {
    let mut pos = 0;
    let mut rows = 0u64;
    while pos < chunk.len() {
        let at = pos;
        let (h, _) = next_page(chunk, &mut pos, limits)?;
        match h.page_type {
            Some(PageType::DataPage | PageType::DataPageV2) => {
                rows += h.num_values as u64;
                if rows > max_rows {
                    return corrupt(format!(
                        "pages hold more than the {max_rows} rows the footer declares"
                    ));
                }
            }
            Some(PageType::DictionaryPage)
                if h.num_values as usize
                    > h.uncompressed_size as usize / min_value_bytes.max(1) =>
            {
                return corrupt(format!(
                    "dictionary page at byte {at} declares {} entries in {} bytes",
                    h.num_values, h.uncompressed_size
                ));
            }
            _ => {}
        }
    }
    Ok(rows)
}

/// The fewest bytes one PLAIN value of this kind takes (a byte array's length prefix).
pub fn min_plain_bytes(kind: IdKind) -> usize {
    match kind {
        IdKind::Bytes | IdKind::Int32 { .. } => 4,
        IdKind::Int64 { .. } => 8,
        IdKind::Fixed { len, .. } => len.max(1),
    }
}

fn next_page<'c>(
    chunk: &'c [u8],
    pos: &mut usize,
    limits: &Limits,
) -> Result<(PageHeader, &'c [u8]), ChunkError> {
    let (h, hlen) = read_page_header(&chunk[*pos..])
        .map_err(|e| ChunkError::Corrupt(format!("{e} at byte {} of the column chunk", *pos)))?;
    let start = *pos + hlen;
    let len = h.compressed_size as usize;
    if len > chunk.len() - start {
        return corrupt(format!(
            "page at byte {} declares {len} bytes but the column chunk has {} left",
            *pos,
            chunk.len() - start
        ));
    }
    if h.uncompressed_size as usize > limits.max_page_bytes {
        return corrupt(format!(
            "page at byte {} declares {} uncompressed bytes, over the {} byte limit",
            *pos, h.uncompressed_size, limits.max_page_bytes
        ));
    }
    *pos = start + len;
    Ok((h, &chunk[start..start + len]))
}

/// Decodes the chunk and probes every value.
pub fn scan_chunk(
    chunk: &[u8],
    spec: &ChunkSpec<'_>,
    scratch: &mut Vec<u8>,
) -> Result<ChunkScan, ChunkError> {
    scan_chunk_visiting(chunk, spec, scratch, None)
}

/// The same, and (the index's one pass) every value the chunk can hold is also given to
/// `visit`: the dictionary's entries and the PLAIN pages' values (a dictionary-encoded
/// page holds only dictionary entries, so it need not be decoded for that). On an error,
/// `visit` may have seen part of the chunk.
pub fn scan_chunk_visiting(
    chunk: &[u8],
    spec: &ChunkSpec<'_>,
    scratch: &mut Vec<u8>,
    mut visit: Option<&mut dyn FnMut(super::Value<'_>)>,
) -> Result<ChunkScan, ChunkError> {
    let kind = spec.probe.kind();
    let mut out = ChunkScan::default();
    let mut pos = 0;
    // Dictionary index -> subject number (u32::MAX for no subject); None until a
    // dictionary page is seen, Some(empty) when it holds no subject.
    let mut dict: Option<Vec<u32>> = None;
    let mut dict_len = 0usize;
    let mut page_matches: Vec<(u32, u32)> = Vec::new();
    while pos < chunk.len() {
        let page_start = pos;
        let (h, body) = next_page(chunk, &mut pos, &spec.limits)?;
        if spec.verify_crc
            && let Some(crc) = h.crc
            && crc32fast::hash(body) != crc
        {
            return corrupt(format!("page at byte {page_start} fails its CRC checksum"));
        }
        match h.page_type {
            Some(PageType::DictionaryPage) => {
                if dict.is_some() {
                    return corrupt("column chunk has a second dictionary page");
                }
                if h.encoding != PLAIN && h.encoding != PLAIN_DICTIONARY {
                    return Err(ChunkError::Unsupported(format!(
                        "dictionary encoding {}",
                        h.encoding
                    )));
                }
                let data = decompress(spec.codec, body, h.uncompressed_size as usize, 0, scratch)?;
                let (map, any) = probe_dictionary(data, h.num_values as usize, spec.probe)?;
                if let Some(v) = visit.as_mut() {
                    visit_plain(data, Some(h.num_values.max(0) as usize), kind, *v)
                        .map_err(|e| ChunkError::Corrupt(format!("dictionary page: {e}")))?;
                }
                dict_len = h.num_values as usize;
                dict = Some(if any { map } else { Vec::new() });
            }
            Some(PageType::DataPage | PageType::DataPageV2) => {
                let v2 = h.page_type == Some(PageType::DataPageV2);
                let num_values = h.num_values as usize;
                let first_row = out.rows;
                out.rows += num_values as u64;
                if out.rows > spec.expected_rows {
                    return corrupt(format!(
                        "pages hold more than the {} rows the footer declares",
                        spec.expected_rows
                    ));
                }
                if v2 && h.num_rows != h.num_values {
                    return corrupt(format!(
                        "page at byte {page_start} has {} rows but {} values",
                        h.num_rows, h.num_values
                    ));
                }
                let dict_encoded = h.encoding == RLE_DICTIONARY || h.encoding == PLAIN_DICTIONARY;
                if dict_encoded {
                    match &dict {
                        None => {
                            return corrupt(format!(
                                "dictionary-encoded page at byte {page_start} has no dictionary"
                            ));
                        }
                        Some(d) if d.is_empty() => {
                            out.pages_skipped += 1;
                            continue;
                        }
                        Some(_) => {}
                    }
                } else if h.encoding != PLAIN {
                    return Err(ChunkError::Unsupported(format!(
                        "data page encoding {}",
                        h.encoding
                    )));
                }
                out.pages_decoded += 1;
                // Split levels from values.
                let (levels, values) = if v2 {
                    let lv = (h.def_levels_len as usize).saturating_add(h.rep_levels_len as usize);
                    if h.def_levels_len < 0
                        || h.rep_levels_len < 0
                        || lv > body.len()
                        || lv > h.uncompressed_size as usize
                    {
                        return corrupt(format!(
                            "page at byte {page_start} declares implausible level lengths"
                        ));
                    }
                    if h.rep_levels_len != 0 {
                        return corrupt(format!(
                            "page at byte {page_start} has repetition levels in a flat column"
                        ));
                    }
                    let values = if h.is_compressed {
                        decompress(
                            spec.codec,
                            &body[lv..],
                            h.uncompressed_size as usize - lv,
                            0,
                            scratch,
                        )?
                    } else {
                        &body[lv..]
                    };
                    (
                        if spec.max_def > 0 {
                            LevelSource::V2(&body[..lv])
                        } else {
                            LevelSource::None
                        },
                        values,
                    )
                } else {
                    let data =
                        decompress(spec.codec, body, h.uncompressed_size as usize, 0, scratch)?;
                    if spec.max_def > 0 {
                        if h.def_encoding != RLE {
                            return Err(ChunkError::Unsupported(format!(
                                "definition level encoding {}",
                                h.def_encoding
                            )));
                        }
                        if data.len() < 4 {
                            return corrupt(format!(
                                "page at byte {page_start} is too short for its levels"
                            ));
                        }
                        let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
                        if n > data.len() - 4 {
                            return corrupt(format!(
                                "page at byte {page_start} declares more level bytes than it holds"
                            ));
                        }
                        (LevelSource::V1(&data[4..4 + n]), &data[4 + n..])
                    } else {
                        (LevelSource::None, data)
                    }
                };
                let bw = bit_width(spec.max_def);
                let non_null = match levels {
                    LevelSource::None => num_values,
                    LevelSource::V1(l) | LevelSource::V2(l) => {
                        let n =
                            count_equal(l, bw, num_values, spec.max_def as u32).map_err(|e| {
                                ChunkError::Corrupt(format!(
                                    "definition levels of page at byte {page_start}: {e}"
                                ))
                            })?;
                        if v2 && n != num_values - (h.num_nulls.max(0) as usize).min(num_values) {
                            return corrupt(format!(
                                "page at byte {page_start}: null count disagrees with its levels"
                            ));
                        }
                        n
                    }
                };
                page_matches.clear();
                if dict_encoded {
                    let map = dict.as_deref().unwrap_or(&[]);
                    if values.is_empty() {
                        if non_null > 0 {
                            return corrupt(format!(
                                "page at byte {page_start} has no dictionary indices"
                            ));
                        }
                    } else {
                        let bw = u32::from(values[0]);
                        if bw > 32 {
                            return corrupt(format!(
                                "page at byte {page_start} has index bit width {bw}"
                            ));
                        }
                        probe_indices(&values[1..], bw, non_null, map, dict_len, &mut page_matches)
                            .map_err(|e| {
                                ChunkError::Corrupt(format!(
                                    "dictionary indices of page at byte {page_start}: {e}"
                                ))
                            })?;
                    }
                } else {
                    probe_plain(values, non_null, spec.probe, &mut page_matches).map_err(|e| {
                        ChunkError::Corrupt(format!("values of page at byte {page_start}: {e}"))
                    })?;
                    if let Some(v) = visit.as_mut() {
                        // As many as fill the page, as the index's own reader takes them.
                        visit_plain(values, None, kind, *v).map_err(|e| {
                            ChunkError::Corrupt(format!("values of page at byte {page_start}: {e}"))
                        })?;
                    }
                }
                if !page_matches.is_empty() {
                    // Value positions count non-null values only; turn them into rows.
                    match levels {
                        LevelSource::V1(l) | LevelSource::V2(l) if non_null != num_values => {
                            values_to_rows(
                                l,
                                bw,
                                num_values,
                                spec.max_def as u32,
                                &mut page_matches,
                            )
                            .map_err(|e| ChunkError::Corrupt(format!("definition levels: {e}")))?;
                            out.matches.extend(
                                page_matches.iter().map(|(r, s)| (first_row as u32 + r, *s)),
                            );
                        }
                        _ => out
                            .matches
                            .extend(page_matches.iter().map(|(v, s)| (first_row as u32 + v, *s))),
                    }
                }
            }
            Some(PageType::IndexPage) | Some(PageType::Other(_)) | None => {}
        }
    }
    Ok(out)
}

thread_local! {
    /// One zstd decompression context per thread, reused across pages.
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

enum LevelSource<'a> {
    None,
    V1(&'a [u8]),
    V2(&'a [u8]),
}

fn bit_width(max: i16) -> u32 {
    32 - (max.max(0) as u32).leading_zeros()
}

/// Decompresses `input` into `scratch` (or borrows it when uncompressed) and checks that it
/// inflates to exactly `expected` bytes — never more.
fn decompress<'a>(
    codec: Compression,
    input: &'a [u8],
    expected: usize,
    _reserved: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], ChunkError> {
    let wrong_size = |got: usize| {
        ChunkError::Corrupt(format!(
            "page inflates to {got} bytes, its header says {expected}"
        ))
    };
    match codec {
        Compression::UNCOMPRESSED => {
            if input.len() != expected {
                return Err(wrong_size(input.len()));
            }
            return Ok(input);
        }
        _ if expected == 0 => {
            scratch.clear();
            return Ok(&scratch[..]);
        }
        Compression::SNAPPY => {
            let n = snap::raw::decompress_len(input)
                .map_err(|e| ChunkError::Corrupt(format!("snappy: {e}")))?;
            if n != expected {
                return Err(wrong_size(n));
            }
            scratch.clear();
            scratch.resize(expected, 0);
            let got = snap::raw::Decoder::new()
                .decompress(input, scratch)
                .map_err(|e| ChunkError::Corrupt(format!("snappy: {e}")))?;
            if got != expected {
                return Err(wrong_size(got));
            }
        }
        Compression::ZSTD(_) => {
            scratch.clear();
            scratch.reserve_exact(expected);
            let got = ZSTD.with(|d| -> Result<usize, ChunkError> {
                let mut d = d.borrow_mut();
                if d.is_none() {
                    *d = Some(
                        zstd::bulk::Decompressor::new()
                            .map_err(|e| ChunkError::Corrupt(format!("zstd: {e}")))?,
                    );
                }
                let d = d
                    .as_mut()
                    .ok_or_else(|| ChunkError::Corrupt("zstd: no context".into()))?;
                d.decompress_to_buffer(input, scratch)
                    .map_err(|e| ChunkError::Corrupt(format!("zstd: {e}")))
            })?;
            if got != expected {
                return Err(wrong_size(got));
            }
        }
        Compression::LZ4_RAW => {
            scratch.clear();
            scratch.resize(expected, 0);
            let got = lz4_flex::block::decompress_into(input, scratch)
                .map_err(|e| ChunkError::Corrupt(format!("lz4: {e}")))?;
            if got != expected {
                return Err(wrong_size(got));
            }
            scratch.truncate(got);
        }
        Compression::GZIP(_) => {
            use std::io::Read;
            scratch.clear();
            let mut r = flate2::read::MultiGzDecoder::new(input).take(expected as u64 + 1);
            r.read_to_end(scratch)
                .map_err(|e| ChunkError::Corrupt(format!("gzip: {e}")))?;
            if scratch.len() != expected {
                return Err(wrong_size(scratch.len()));
            }
        }
        other => return Err(ChunkError::Unsupported(format!("codec {other:?}"))),
    }
    Ok(&scratch[..])
}

/// Decodes a PLAIN dictionary page and maps each entry to its subject.
/// Returns the map and whether any entry matched.
fn probe_dictionary(data: &[u8], n: usize, probe: &Probe) -> Result<(Vec<u32>, bool), ChunkError> {
    let mut any = false;
    // Refuse counts the page cannot hold before allocating for them.
    if n > data.len() / min_plain_bytes(probe.kind()) {
        return corrupt(format!(
            "dictionary declares {n} entries in {} bytes",
            data.len()
        ));
    }
    let mut map = Vec::with_capacity(n);
    let mut matches = Vec::new();
    let used = probe_plain(data, n, probe, &mut matches)
        .map_err(|e| ChunkError::Corrupt(format!("dictionary page: {e}")))?;
    // A dictionary rules values out only when it is all there is: bytes past its declared
    // entries could be entries its header hides (the header is outside the page's CRC).
    if used != data.len() {
        return corrupt(format!(
            "dictionary page: {n} entries use {used} of its {} bytes",
            data.len()
        ));
    }
    map.resize(n, u32::MAX);
    for (i, s) in matches {
        map[i as usize] = s;
        any = true;
    }
    Ok((map, any))
}

/// Probes `n` PLAIN-encoded values; pushes (value index, subject) for each match.
/// Returns the bytes the values take.
fn probe_plain(
    data: &[u8],
    n: usize,
    probe: &Probe,
    out: &mut Vec<(u32, u32)>,
) -> Result<usize, Corrupt> {
    match probe.kind() {
        IdKind::Bytes => {
            let mut pos = 0usize;
            for i in 0..n {
                let Some(len_bytes) = data.get(pos..pos + 4) else {
                    return Err(format!("ends after {i} of {n} values").into());
                };
                let len =
                    u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]])
                        as usize;
                pos += 4;
                let Some(v) = data.get(pos..pos.saturating_add(len)) else {
                    return Err(format!("value {i} runs past the end of the page").into());
                };
                pos += len;
                if let Some(s) = probe.bytes(v) {
                    out.push((i as u32, s));
                }
            }
            return Ok(pos);
        }
        IdKind::Fixed { len, .. } => {
            if len == 0 || data.len() / len < n {
                return Err(format!("holds fewer than {n} values of {len} bytes").into());
            }
            for (i, v) in data.chunks_exact(len).take(n).enumerate() {
                if let Some(s) = probe.bytes(v) {
                    out.push((i as u32, s));
                }
            }
        }
        IdKind::Int32 { .. } => {
            if data.len() / 4 < n {
                return Err(format!("holds fewer than {n} 32-bit values").into());
            }
            for (i, v) in data.chunks_exact(4).take(n).enumerate() {
                if let Some(s) = probe.int32(i32::from_le_bytes([v[0], v[1], v[2], v[3]])) {
                    out.push((i as u32, s));
                }
            }
        }
        IdKind::Int64 { .. } => {
            if data.len() / 8 < n {
                return Err(format!("holds fewer than {n} 64-bit values").into());
            }
            for (i, v) in data.chunks_exact(8).take(n).enumerate() {
                let v = i64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
                if let Some(s) = probe.int64(v) {
                    out.push((i as u32, s));
                }
            }
        }
    }
    let width = match probe.kind() {
        IdKind::Fixed { len, .. } => len,
        IdKind::Int32 { .. } => 4,
        _ => 8,
    };
    Ok(n * width)
}

/// One run of the RLE / bit-packing hybrid encoding.
enum Run<'a> {
    Repeat { value: u32, len: usize },
    Packed { bytes: &'a [u8], len: usize },
}

struct RleRuns<'a> {
    data: &'a [u8],
    pos: usize,
    bw: u32,
}

impl<'a> RleRuns<'a> {
    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.pos).ok_or("run header is truncated")?;
            self.pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("run header is too long".into())
    }

    fn next(&mut self) -> Result<Option<Run<'a>>, Corrupt> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let header = self.varint()?;
        let count = usize::try_from(header >> 1).map_err(|_| "run is too long")?;
        if header & 1 == 0 {
            let nbytes = self.bw.div_ceil(8) as usize;
            let b = self
                .data
                .get(self.pos..self.pos + nbytes)
                .ok_or("repeated run is truncated")?;
            self.pos += nbytes;
            let mut v = [0u8; 4];
            v[..nbytes].copy_from_slice(b);
            let value = u32::from_le_bytes(v);
            if self.bw < 32 && value >> self.bw != 0 {
                return Err("repeated value is wider than its bit width".into());
            }
            Ok(Some(Run::Repeat { value, len: count }))
        } else {
            // `count` groups of 8 values; writers may cut the last run short.
            let want = count
                .checked_mul(self.bw as usize)
                .ok_or("run is too long")?;
            let have = want.min(self.data.len() - self.pos);
            let bytes = &self.data[self.pos..self.pos + have];
            self.pos += have;
            let len = if self.bw == 0 {
                count.saturating_mul(8)
            } else {
                have * 8 / self.bw as usize
            };
            Ok(Some(Run::Packed { bytes, len }))
        }
    }
}

#[inline]
fn unpack(bytes: &[u8], bw: u32, i: usize) -> u32 {
    if bw == 0 {
        return 0;
    }
    let bit = i * bw as usize;
    let byte = bit / 8;
    let mut w = [0u8; 8];
    let end = (byte + 8).min(bytes.len());
    w[..end - byte].copy_from_slice(&bytes[byte..end]);
    let v = u64::from_le_bytes(w) >> (bit % 8);
    (v & ((1u64 << bw) - 1)) as u32
}

/// Visits the runs covering the first `n` values of an RLE / bit-packed hybrid stream,
/// each clipped to what is left of `n`, without materialising the values: a run of a
/// million equal values costs one call. A stream that ends early is an error.
fn for_each_run(
    data: &[u8],
    bw: u32,
    n: usize,
    mut f: impl FnMut(Run<'_>) -> Result<(), Corrupt>,
) -> Result<(), Corrupt> {
    if bw > 32 {
        return Err(format!("bit width {bw}").into());
    }
    let mut runs = RleRuns { data, pos: 0, bw };
    let mut got = 0usize;
    while got < n {
        let left = n - got;
        let run = match runs.next()? {
            None => return Err(format!("holds {got} of {n} values").into()),
            Some(Run::Repeat { value, len }) => Run::Repeat {
                value,
                len: len.min(left),
            },
            Some(Run::Packed { bytes, len }) => Run::Packed {
                bytes,
                len: len.min(left),
            },
        };
        got += match run {
            Run::Repeat { len, .. } | Run::Packed { len, .. } => len,
        };
        f(run)?;
    }
    Ok(())
}

/// Decodes the first `n` values of an RLE / bit-packed hybrid stream, appending to `out`.
#[cfg(test)]
fn decode_rle(data: &[u8], bw: u32, n: usize, out: &mut Vec<u32>) -> Result<(), Corrupt> {
    for_each_run(data, bw, n, |run| {
        match run {
            Run::Repeat { value, len } => out.extend(std::iter::repeat_n(value, len)),
            Run::Packed { bytes, len } => out.extend((0..len).map(|i| unpack(bytes, bw, i))),
        }
        Ok(())
    })
}

/// Counts how many of the first `n` values of an RLE / bit-packed hybrid stream equal `target`.
fn count_equal(data: &[u8], bw: u32, n: usize, target: u32) -> Result<usize, Corrupt> {
    let mut hits = 0usize;
    for_each_run(data, bw, n, |run| {
        match run {
            Run::Repeat { value, len } => hits += if value == target { len } else { 0 },
            Run::Packed { bytes, len } => {
                hits += (0..len).filter(|&i| unpack(bytes, bw, i) == target).count()
            }
        }
        Ok(())
    })?;
    Ok(hits)
}

/// Probes `n` dictionary indices against `map` (index -> subject or u32::MAX); pushes
/// (value index, subject) for each match.
fn probe_indices(
    data: &[u8],
    bw: u32,
    n: usize,
    map: &[u32],
    dict_len: usize,
    out: &mut Vec<(u32, u32)>,
) -> Result<(), Corrupt> {
    let mut i = 0u32;
    let past = || "an index points past the dictionary".to_string();
    for_each_run(data, bw, n, |run| {
        match run {
            Run::Repeat { value, len } => {
                let s = *map
                    .get(value as usize)
                    .filter(|_| (value as usize) < dict_len)
                    .ok_or_else(past)?;
                if s != u32::MAX {
                    out.extend((0..len as u32).map(|k| (i + k, s)));
                }
                i += len as u32;
            }
            Run::Packed { bytes, len } => {
                for k in 0..len {
                    let v = unpack(bytes, bw, k) as usize;
                    if v >= dict_len {
                        return Err(past().into());
                    }
                    let s = map[v];
                    if s != u32::MAX {
                        out.push((i, s));
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    })
}

/// Rewrites value positions (the k-th non-null value, ascending) of `matches` into row
/// positions within the page, walking the definition levels once.
fn values_to_rows(
    levels: &[u8],
    bw: u32,
    n: usize,
    max_def: u32,
    matches: &mut [(u32, u32)],
) -> Result<(), Corrupt> {
    let (mut row, mut nn, mut m) = (0u32, 0u32, 0usize);
    for_each_run(levels, bw, n, |run| {
        match run {
            Run::Repeat { value, len } => {
                let len = len as u32;
                if value == max_def {
                    while m < matches.len() && matches[m].0 < nn + len {
                        matches[m].0 = row + (matches[m].0 - nn);
                        m += 1;
                    }
                    nn += len;
                }
                row += len;
            }
            Run::Packed { bytes, len } => {
                for k in 0..len {
                    if unpack(bytes, bw, k) == max_def {
                        while m < matches.len() && matches[m].0 == nn {
                            matches[m].0 = row;
                            m += 1;
                        }
                        nn += 1;
                    }
                    row += 1;
                }
            }
        }
        Ok(())
    })?;
    if m != matches.len() {
        return Err("fewer non-null levels than values".into());
    }
    Ok(())
}

/// The index build's fast path: every value a chunk can hold, without the generic
/// reader. The dictionary page's entries (every dictionary-encoded value is one of them)
/// and the values of PLAIN data pages (what writers fall back to when a dictionary grows
/// too large) are visited, ints in the probe's form; dictionary-encoded pages are skipped
/// undecompressed. A value may be visited more than once. Ok(false) when a page uses
/// another encoding: the caller decodes the chunk generically instead.
#[allow(clippy::too_many_arguments)]
pub fn chunk_values_fast(
    chunk: &[u8],
    codec: Compression,
    limits: &Limits,
    kind: IdKind,
    max_def: i16,
    verify_crc: bool,
    scratch: &mut Vec<u8>,
    visit: &mut dyn FnMut(super::Value<'_>),
) -> Result<bool, ChunkError> {
    // Pass 1: only encodings this path reads, before anything is visited.
    let mut pos = 0;
    let mut seen_dictionary = false;
    while pos < chunk.len() {
        let page_start = pos;
        let (h, body) = next_page(chunk, &mut pos, limits)?;
        if verify_crc
            && let Some(crc) = h.crc
            && crc32fast::hash(body) != crc
        {
            return corrupt(format!("page at byte {page_start} fails its CRC checksum"));
        }
        match h.page_type {
            Some(PageType::DictionaryPage) => {
                if seen_dictionary {
                    return corrupt("column chunk has a second dictionary page");
                }
                seen_dictionary = true;
                if h.encoding != PLAIN && h.encoding != PLAIN_DICTIONARY {
                    return Ok(false);
                }
            }
            Some(PageType::DataPage | PageType::DataPageV2) => {
                let dict = h.encoding == RLE_DICTIONARY || h.encoding == PLAIN_DICTIONARY;
                if (dict && !seen_dictionary) || (!dict && h.encoding != PLAIN) {
                    return Ok(false);
                }
                if h.page_type == Some(PageType::DataPageV2) && h.rep_levels_len != 0 {
                    return Ok(false);
                }
                if h.page_type == Some(PageType::DataPage) && max_def > 0 && h.def_encoding != RLE {
                    return Ok(false);
                }
            }
            _ => {}
        }
    }
    // Pass 2: visit.
    let mut pos = 0;
    while pos < chunk.len() {
        let page_start = pos;
        let (h, body) = next_page(chunk, &mut pos, limits)?;
        let values: &[u8] = match h.page_type {
            Some(PageType::DictionaryPage) => {
                let data = decompress(codec, body, h.uncompressed_size as usize, 0, scratch)?;
                let n = h.num_values.max(0) as usize;
                if n > data.len() / min_plain_bytes(kind) {
                    return corrupt(format!(
                        "dictionary declares {n} entries in {} bytes",
                        data.len()
                    ));
                }
                // Exactly n entries: bytes left over could hide entries.
                visit_plain(data, Some(n), kind, visit)
                    .map_err(|e| ChunkError::Corrupt(format!("dictionary page: {e}")))?;
                continue;
            }
            Some(PageType::DataPage) if h.encoding == PLAIN => {
                let data = decompress(codec, body, h.uncompressed_size as usize, 0, scratch)?;
                if max_def > 0 {
                    let n = data
                        .get(..4)
                        .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
                        .filter(|n| *n <= data.len() - 4)
                        .ok_or_else(|| {
                            ChunkError::Corrupt(format!(
                                "page at byte {page_start}: malformed definition levels"
                            ))
                        })?;
                    &data[4 + n..]
                } else {
                    data
                }
            }
            Some(PageType::DataPageV2) if h.encoding == PLAIN => {
                let lv = (h.def_levels_len.max(0) as usize)
                    .saturating_add(h.rep_levels_len.max(0) as usize);
                if lv > body.len() || lv > h.uncompressed_size.max(0) as usize {
                    return corrupt(format!(
                        "page at byte {page_start} declares implausible level lengths"
                    ));
                }
                if h.is_compressed {
                    decompress(
                        codec,
                        &body[lv..],
                        h.uncompressed_size as usize - lv,
                        0,
                        scratch,
                    )?
                } else {
                    &body[lv..]
                }
            }
            _ => continue,
        };
        visit_plain(values, None, kind, visit)
            .map_err(|e| ChunkError::Corrupt(format!("page at byte {page_start}: {e}")))?;
    }
    Ok(true)
}

/// Visits PLAIN values: `n` of them filling `data` exactly, or (None) as many as fill it.
fn visit_plain(
    data: &[u8],
    n: Option<usize>,
    kind: IdKind,
    visit: &mut dyn FnMut(super::Value<'_>),
) -> Result<(), Corrupt> {
    let width = match kind {
        IdKind::Bytes => 0,
        IdKind::Fixed { len, .. } => len,
        IdKind::Int32 { .. } => 4,
        IdKind::Int64 { .. } => 8,
    };
    if width == 0 {
        let mut p = 0usize;
        let mut i = 0usize;
        while n.map_or(p < data.len(), |n| i < n) {
            let l = data.get(p..p + 4).ok_or("ends inside a value")?;
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            p += 4;
            let v = data
                .get(p..p.saturating_add(len))
                .ok_or("a value runs past the end")?;
            p += len;
            i += 1;
            visit(super::Value::Bytes(v));
        }
        if p != data.len() {
            return Err(format!("{i} values use {p} of its {} bytes", data.len()).into());
        }
        return Ok(());
    }
    let count = match n {
        Some(n) if data.len() / width < n => {
            return Err(format!("holds fewer than {n} values").into());
        }
        Some(n) if data.len() != n * width => {
            return Err(format!("{n} values use {} of its {} bytes", n * width, data.len()).into());
        }
        Some(n) => n,
        None if !data.len().is_multiple_of(width) => {
            return Err("a partial value at the end".into());
        }
        None => data.len() / width,
    };
    for v in data.chunks_exact(width).take(count) {
        visit(match kind {
            IdKind::Int32 { signed } => {
                let x = i32::from_le_bytes([v[0], v[1], v[2], v[3]]);
                super::Value::Int(if signed {
                    i64::from(x)
                } else {
                    i64::from(x as u32)
                })
            }
            IdKind::Int64 { .. } => super::Value::Int(i64::from_le_bytes([
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
            ])),
            _ => super::Value::Bytes(v),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_runs_and_bit_packing_decode() {
        // Repeat 5 x value 3 (bw 2), then one packed group of 8 values 0..8 (bw 3).
        let mut out = vec![];
        decode_rle(&[10, 3], 2, 5, &mut out).unwrap();
        assert_eq!(out, vec![3; 5]);
        // values 0..8 at 3 bits: 0b10001000, 0b11000110, 0b11111010
        out.clear();
        decode_rle(&[3, 0x88, 0xc6, 0xfa], 3, 8, &mut out).unwrap();
        assert_eq!(out, (0..8).collect::<Vec<_>>());
        assert_eq!(count_equal(&[3, 0x88, 0xc6, 0xfa], 3, 8, 7).unwrap(), 1);
        assert_eq!(count_equal(&[10, 1], 1, 5, 1).unwrap(), 5);
    }

    #[test]
    fn value_positions_become_row_positions() {
        // Levels (bw 1): 0,1,1,0,1,0,0,1 as one packed group -> non-null rows 1,2,4,7.
        let levels = [3, 0b1001_0110];
        let mut m = vec![(0, 9), (2, 8), (3, 7)];
        values_to_rows(&levels, 1, 8, 1, &mut m).unwrap();
        assert_eq!(m, vec![(1, 9), (4, 8), (7, 7)]);
        // A run of 3 nulls then 4 values.
        let levels = [6, 0, 8, 1];
        let mut m = vec![(1, 0), (3, 0)];
        values_to_rows(&levels, 1, 7, 1, &mut m).unwrap();
        assert_eq!(m, vec![(4, 0), (6, 0)]);
        let mut m = vec![(4, 0)];
        assert!(values_to_rows(&levels, 1, 7, 1, &mut m).is_err());
    }

    #[test]
    fn dictionary_indices_probe_by_run() {
        let map = [u32::MAX, 5, u32::MAX];
        let mut out = vec![];
        // RLE run of 1_000_000 x index 1, then a packed group (bw 2) of 0,1,2,0,...
        let mut data = vec![];
        let mut h = 2_000_000u32;
        while h >= 0x80 {
            data.push((h as u8 & 0x7f) | 0x80);
            h >>= 7;
        }
        data.push(h as u8);
        data.push(1);
        data.extend([3, 0b0010_0100, 0, 0]);
        probe_indices(&data, 2, 1_000_008, &map, 3, &mut out).unwrap();
        assert_eq!(out.len(), 1_000_001);
        assert_eq!(out.last(), Some(&(1_000_001, 5)));
        assert!(probe_indices(&data, 2, 1_000_008, &map, 1, &mut out).is_err());
    }

    #[test]
    fn short_streams_are_errors_not_zeroes() {
        let mut out = vec![];
        assert!(decode_rle(&[10, 3], 2, 6, &mut out).is_err());
        assert!(count_equal(&[], 1, 1, 1).is_err());
        assert!(decode_rle(&[10], 2, 1, &mut out).is_err());
        // A repeated value wider than the bit width is corrupt.
        assert!(decode_rle(&[2, 0xff], 2, 1, &mut out).is_err());
    }

    #[test]
    fn plain_values_probe_and_bounds_check() {
        let probe = Probe::new(
            IdKind::Bytes,
            &crate::domain::subjects::SubjectList::of(["bb"]).unwrap(),
        );
        let mut page = vec![];
        for v in ["a", "bb", "ccc", "bb"] {
            page.extend((v.len() as u32).to_le_bytes());
            page.extend(v.as_bytes());
        }
        let mut out = vec![];
        probe_plain(&page, 4, &probe, &mut out).unwrap();
        assert_eq!(out, vec![(1, 0), (3, 0)]);
        assert!(probe_plain(&page[..page.len() - 1], 4, &probe, &mut out).is_err());
        assert!(probe_plain(&page, 5, &probe, &mut out).is_err());
    }
}
