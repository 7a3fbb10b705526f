//! A bounded reader for Parquet page headers (Thrift compact protocol).
//!
//! The scan walks every page header of an identifier column chunk itself so that it can
//! check declared sizes *before* anything is allocated or decompressed, and skip data pages
//! whose dictionary cannot match without decompressing them. Only the fields the scan needs
//! are kept; everything else (statistics, unknown fields) is skipped. This module never
//! allocates in proportion to a size read from the input and never recurses deeper than
//! [`MAX_DEPTH`].

use std::fmt;

/// Nesting limit for skipped structs, lists and maps: page headers nest three deep.
const MAX_DEPTH: u32 = 16;

/// A malformed page header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThriftError(pub &'static str);

impl fmt::Display for ThriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Page types from `parquet.thrift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageType {
    DataPage,
    IndexPage,
    DictionaryPage,
    DataPageV2,
    Other(i32),
}

/// The fields of a page header the scan uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageHeader {
    pub page_type: Option<PageType>,
    pub uncompressed_size: i32,
    pub compressed_size: i32,
    pub crc: Option<u32>,
    /// Number of values (v1 data page, v2 data page or dictionary page), nulls included.
    pub num_values: i32,
    /// Value encoding (Parquet `Encoding` number).
    pub encoding: i32,
    /// v1 only: definition level encoding.
    pub def_encoding: i32,
    /// v2 only.
    pub num_nulls: i32,
    pub num_rows: i32,
    pub def_levels_len: i32,
    pub rep_levels_len: i32,
    pub is_compressed: bool,
}

impl Default for PageType {
    fn default() -> Self {
        PageType::Other(-1)
    }
}

/// A struct reader's callback: `(cursor, field id, field type, depth)`.
type FieldVisitor<'f, C> = dyn FnMut(&mut C, i16, u8, u32) -> Result<(), ThriftError> + 'f;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

// Compact protocol type ids.
const T_STOP: u8 = 0;
const T_TRUE: u8 = 1;
const T_FALSE: u8 = 2;
const T_BYTE: u8 = 3;
const T_I16: u8 = 4;
const T_I32: u8 = 5;
const T_I64: u8 = 6;
const T_DOUBLE: u8 = 7;
const T_BINARY: u8 = 8;
const T_LIST: u8 = 9;
const T_SET: u8 = 10;
const T_MAP: u8 = 11;
const T_STRUCT: u8 = 12;

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8, ThriftError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(ThriftError("page header is truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(ThriftError("page header has an oversized integer"));
            }
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(ThriftError("page header has an oversized integer"))
    }

    fn zigzag(&mut self) -> Result<i64, ThriftError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, ThriftError> {
        i32::try_from(self.zigzag()?).map_err(|_| ThriftError("page header integer out of range"))
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), ThriftError> {
        let n = usize::try_from(n).map_err(|_| ThriftError("page header is truncated"))?;
        if self.buf.len() - self.pos < n {
            return Err(ThriftError("page header is truncated"));
        }
        self.pos += n;
        Ok(())
    }

    fn skip(&mut self, ty: u8, depth: u32) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError("page header nests too deeply"));
        }
        match ty {
            T_TRUE | T_FALSE => Ok(()),
            T_BYTE => self.byte().map(|_| ()),
            T_I16 | T_I32 | T_I64 => self.varint().map(|_| ()),
            T_DOUBLE => self.skip_bytes(8),
            T_BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            T_LIST | T_SET => {
                let head = self.byte()?;
                let elem = head & 0x0f;
                let mut n = u64::from(head >> 4);
                if n == 15 {
                    n = self.varint()?;
                }
                // Every element takes at least one byte (booleans in lists take one too).
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(ThriftError("page header list is longer than the header"));
                }
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
                Ok(())
            }
            T_MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(ThriftError("page header map is longer than the header"));
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.skip(kv >> 4, depth + 1)?;
                    self.skip(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            T_STRUCT => self.read_struct(depth + 1, &mut |c, _, ty, d| c.skip(ty, d)),
            _ => Err(ThriftError("page header has an unknown field type")),
        }
    }

    /// Reads a struct, calling `field(cursor, id, type, depth)` for each field.
    fn read_struct(
        &mut self,
        depth: u32,
        field: &mut FieldVisitor<'_, Self>,
    ) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError("page header nests too deeply"));
        }
        let mut last_id: i16 = 0;
        loop {
            let head = self.byte()?;
            let ty = head & 0x0f;
            if ty == T_STOP {
                return Ok(());
            }
            let delta = head >> 4;
            let id = if delta == 0 {
                i16::try_from(self.zigzag()?)
                    .map_err(|_| ThriftError("page header field id out of range"))?
            } else {
                last_id
                    .checked_add(i16::from(delta))
                    .ok_or(ThriftError("page header field id out of range"))?
            };
            last_id = id;
            field(self, id, ty, depth)?;
        }
    }

    fn bool_field(ty: u8) -> Result<bool, ThriftError> {
        match ty {
            T_TRUE => Ok(true),
            T_FALSE => Ok(false),
            _ => Err(ThriftError("page header boolean field has the wrong type")),
        }
    }

    fn expect_i32(&mut self, ty: u8) -> Result<i32, ThriftError> {
        if ty != T_I32 {
            return Err(ThriftError("page header integer field has the wrong type"));
        }
        self.i32()
    }
}

/// Parses one page header from the start of `buf`; returns it with its encoded length.
pub fn read_page_header(buf: &[u8]) -> Result<(PageHeader, usize), ThriftError> {
    let mut c = Cursor { buf, pos: 0 };
    let mut h = PageHeader {
        is_compressed: true,
        ..PageHeader::default()
    };
    let mut seen_sizes = 0u8;
    c.read_struct(0, &mut |c, id, ty, depth| {
        match id {
            1 => {
                h.page_type = Some(match c.expect_i32(ty)? {
                    0 => PageType::DataPage,
                    1 => PageType::IndexPage,
                    2 => PageType::DictionaryPage,
                    3 => PageType::DataPageV2,
                    other => PageType::Other(other),
                })
            }
            2 => {
                h.uncompressed_size = c.expect_i32(ty)?;
                seen_sizes |= 1;
            }
            3 => {
                h.compressed_size = c.expect_i32(ty)?;
                seen_sizes |= 2;
            }
            4 => h.crc = Some(c.expect_i32(ty)? as u32),
            5 if ty == T_STRUCT => c.read_struct(depth + 1, &mut |c, id, ty, d| {
                match id {
                    1 => h.num_values = c.expect_i32(ty)?,
                    2 => h.encoding = c.expect_i32(ty)?,
                    3 => h.def_encoding = c.expect_i32(ty)?,
                    _ => c.skip(ty, d)?,
                }
                Ok(())
            })?,
            7 if ty == T_STRUCT => c.read_struct(depth + 1, &mut |c, id, ty, d| {
                match id {
                    1 => h.num_values = c.expect_i32(ty)?,
                    2 => h.encoding = c.expect_i32(ty)?,
                    _ => c.skip(ty, d)?,
                }
                Ok(())
            })?,
            8 if ty == T_STRUCT => c.read_struct(depth + 1, &mut |c, id, ty, d| {
                match id {
                    1 => h.num_values = c.expect_i32(ty)?,
                    2 => h.num_nulls = c.expect_i32(ty)?,
                    3 => h.num_rows = c.expect_i32(ty)?,
                    4 => h.encoding = c.expect_i32(ty)?,
                    5 => h.def_levels_len = c.expect_i32(ty)?,
                    6 => h.rep_levels_len = c.expect_i32(ty)?,
                    7 => h.is_compressed = Cursor::bool_field(ty)?,
                    _ => c.skip(ty, d)?,
                }
                Ok(())
            })?,
            // The typed headers must be structs: the parquet crate's decoder (which reads
            // the pages vouch hands it) parses these ids as structs whatever their type,
            // and a list misread as a struct can declare billions of elements.
            5..=8 if ty != T_STRUCT => {
                return Err(ThriftError("page header field has the wrong type"));
            }
            _ => c.skip(ty, depth)?,
        }
        Ok(())
    })?;
    if h.page_type.is_none() || seen_sizes != 3 {
        return Err(ThriftError("page header lacks a required field"));
    }
    if h.uncompressed_size < 0 || h.compressed_size < 0 || h.num_values < 0 {
        return Err(ThriftError("page header has a negative size or count"));
    }
    Ok((h, c.pos))
}

/// Parses a bloom filter header (`BloomFilterHeader`): returns the bitset's length and the
/// header's encoded length. Only the split-block / xxHash / uncompressed filter exists; a
/// header naming anything else is refused rather than misread.
pub fn read_bloom_header(buf: &[u8]) -> Result<(u32, usize), ThriftError> {
    let mut c = Cursor { buf, pos: 0 };
    let mut num_bytes = None;
    let mut unions = 0u8;
    c.read_struct(0, &mut |c, id, ty, depth| {
        match id {
            1 => num_bytes = Some(c.expect_i32(ty)?),
            2..=4 if ty == T_STRUCT => {
                // Each is a union whose only defined member is field 1 (an empty struct).
                let mut member = None;
                c.read_struct(depth + 1, &mut |c, id, ty, d| {
                    member = Some(id);
                    c.skip(ty, d)
                })?;
                if member != Some(1) {
                    return Err(ThriftError(
                        "bloom filter uses an unknown algorithm, hash or compression",
                    ));
                }
                unions |= 1 << (id - 2);
            }
            _ => c.skip(ty, depth)?,
        }
        Ok(())
    })?;
    let n = num_bytes.ok_or(ThriftError("bloom filter header lacks its size"))?;
    if unions != 0b111 {
        return Err(ThriftError("bloom filter header lacks a required field"));
    }
    if n < 32 || n % 32 != 0 {
        return Err(ThriftError(
            "bloom filter size is not a positive multiple of 32 bytes",
        ));
    }
    Ok((n as u32, c.pos))
}

/// Walks one Thrift struct (a Parquet footer's `FileMetaData`) without keeping anything:
/// nesting, list and map lengths and field types are checked against the bytes there are,
/// so the work is bounded by the input. The parquet crate's footer decoder spends seconds
/// on a few kilobytes that declare huge collections; this refuses those first.
pub fn check_struct(buf: &[u8]) -> Result<(), ThriftError> {
    let mut c = Cursor { buf, pos: 0 };
    c.read_struct(0, &mut |c, _, ty, depth| c.skip(ty, depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a minimal v1 data page header the way parquet writers do.
    fn v1_header(uncompressed: i32, compressed: i32, num_values: i32, encoding: i32) -> Vec<u8> {
        fn zz(v: i64) -> Vec<u8> {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = vec![];
            loop {
                let b = (u & 0x7f) as u8;
                u >>= 7;
                if u == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        }
        let mut b = vec![0x15];
        b.extend(zz(0));
        b.push(0x15);
        b.extend(zz(uncompressed.into()));
        b.push(0x15);
        b.extend(zz(compressed.into()));
        b.push(0x2c); // field 5 (delta 2), struct
        b.push(0x15);
        b.extend(zz(num_values.into()));
        b.push(0x15);
        b.extend(zz(encoding.into()));
        b.push(0x15);
        b.extend(zz(3));
        b.push(0x15);
        b.extend(zz(3));
        b.push(0);
        b.push(0);
        b
    }

    #[test]
    fn reads_a_v1_header() {
        let bytes = v1_header(1000, 400, 77, 8);
        let (h, len) = read_page_header(&bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(h.page_type, Some(PageType::DataPage));
        assert_eq!(
            (
                h.uncompressed_size,
                h.compressed_size,
                h.num_values,
                h.encoding
            ),
            (1000, 400, 77, 8)
        );
        assert_eq!(h.crc, None);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = v1_header(1000, 400, 77, 8);
        for cut in 0..bytes.len() {
            assert!(read_page_header(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn negative_sizes_are_refused() {
        let bytes = v1_header(-5, 400, 77, 8);
        assert_eq!(
            read_page_header(&bytes).unwrap_err().0,
            "page header has a negative size or count"
        );
    }

    #[test]
    fn a_footer_declaring_more_than_it_holds_is_refused_at_once() {
        // FileMetaData with field 4 (row_groups) a list claiming 2^31 empty structs.
        let mut footer = vec![0x15, 0x02, 0x19, 0x0c, 0x16, 0x04, 0x49, 0xfc];
        footer.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
        footer.extend_from_slice(&[0; 64]);
        let t = std::time::Instant::now();
        assert!(check_struct(&footer).is_err());
        assert!(t.elapsed().as_millis() < 100);
        // A well-formed footer passes: the fixture lake's.
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/lake/payments/part-0.parquet"
        ))
        .unwrap();
        let n = file.len();
        let len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
        assert!(check_struct(&file[n - 8 - len..n - 8]).is_ok());
    }

    #[test]
    fn deep_nesting_and_huge_lists_are_refused() {
        // field 9 as a struct, nested far past the limit.
        let deep = vec![0x1c; 40];
        assert!(read_page_header(&deep).is_err());
        // field 9 as a list claiming 2^40 elements.
        let huge = [0x99, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        assert!(read_page_header(&huge).is_err());
    }
}
