//! Seeded, deterministic sample lakes: the committed fixture lake, random lakes for the
//! differential tests and the benchmarks (the demo's sample lake is `ops::demo::sample`).
//!
//! Everything here is a pure function of its seed: the same seed and crate versions give
//! the same Parquet bytes. Files are written to a temp name and renamed into place.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeBinaryArray, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, TimeUnit};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterVersion};

pub use crate::ops::demo::sample::{
    Rng, SampleLake, batch, props, sample_lake, uuid_bytes, uuid_field, uuid_of, write_parquet,
};
/// The shape of one table in a random lake.
#[derive(Debug, Clone)]
pub struct RandomTable {
    pub name: String,
    pub id_columns: Vec<String>,
    /// DuckDB predicate per id column (`ids` is a one-column VARCHAR table), for the oracle.
    pub id_sql: Vec<String>,
}

/// A random lake for differential tests.
#[derive(Debug, Clone)]
pub struct RandomLake {
    pub tables: Vec<RandomTable>,
    /// Subject IDs to scan for (text, including UUID forms).
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum ColKind {
    Utf8,
    LargeUtf8,
    Utf8View,
    DictUtf8,
    Int64,
    Int32,
    UInt32,
    Uuid,
}

/// Writes a random lake under `dir`: 2–4 tables, random id column types, nulls, row
/// groups, page sizes, encodings (dictionary, plain, delta), codecs, page versions and
/// bloom filters. IDs come from a universe of 400 subject numbers.
pub fn random_lake(dir: &Path, seed: u64) -> io::Result<RandomLake> {
    let mut rng = Rng::new(seed);
    let universe = 400u64;
    let mut tables = Vec::new();
    let ntables = 2 + rng.below(3);
    for t in 0..ntables {
        let name = format!("t{t}");
        let two_cols = rng.chance(0.3);
        let kinds: Vec<ColKind> = (0..if two_cols { 2 } else { 1 })
            .map(|_| {
                *rng.pick(&[
                    ColKind::Utf8,
                    ColKind::LargeUtf8,
                    ColKind::Utf8View,
                    ColKind::DictUtf8,
                    ColKind::Int64,
                    ColKind::Int32,
                    ColKind::UInt32,
                    ColKind::Uuid,
                ])
            })
            .collect();
        let names: Vec<String> = (0..kinds.len())
            .map(|i| {
                if i == 0 {
                    "user_id".into()
                } else {
                    format!("id{i}")
                }
            })
            .collect();
        let null_rate = *rng.pick(&[0.0, 0.0, 0.05, 0.5]);
        let nfiles = 1 + rng.below(3);
        for f in 0..nfiles {
            let rows = 1 + rng.below(5000) as usize;
            let mut fields = Vec::new();
            for (k, n) in kinds.iter().zip(&names) {
                let nullable = null_rate > 0.0;
                let vals: Vec<Option<u64>> = (0..rows)
                    .map(|_| {
                        if nullable && rng.chance(null_rate) {
                            None
                        } else {
                            Some(rng.below(universe))
                        }
                    })
                    .collect();
                let (field, arr): (Field, ArrayRef) = match k {
                    ColKind::Utf8 => (
                        Field::new(n, DataType::Utf8, nullable),
                        Arc::new(StringArray::from(
                            vals.iter()
                                .map(|v| v.map(|x| x.to_string()))
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    ColKind::LargeUtf8 | ColKind::Utf8View | ColKind::DictUtf8 => {
                        let text: Vec<Option<String>> =
                            vals.iter().map(|v| v.map(|x| x.to_string())).collect();
                        let arr: ArrayRef = match k {
                            ColKind::LargeUtf8 => Arc::new(arrow::array::LargeStringArray::from(text)),
                            ColKind::Utf8View => Arc::new(arrow::array::StringViewArray::from(text)),
                            _ => Arc::new(
                                text.iter()
                                    .map(|t| t.as_deref())
                                    .collect::<arrow::array::DictionaryArray<arrow::datatypes::Int32Type>>(),
                            ),
                        };
                        (Field::new(n, arr.data_type().clone(), nullable), arr)
                    }
                    ColKind::Int64 => (
                        Field::new(n, DataType::Int64, nullable),
                        Arc::new(Int64Array::from(
                            vals.iter()
                                .map(|v| v.map(|x| x as i64 - 50))
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    ColKind::Int32 => (
                        Field::new(n, DataType::Int32, nullable),
                        Arc::new(Int32Array::from(
                            vals.iter()
                                .map(|v| v.map(|x| x as i32 - 50))
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    ColKind::UInt32 => (
                        Field::new(n, DataType::UInt32, nullable),
                        Arc::new(UInt32Array::from(
                            vals.iter()
                                .map(|v| v.map(|x| (x as u32).wrapping_add(4_294_967_000)))
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    ColKind::Uuid => {
                        let bytes: Vec<Option<[u8; 16]>> =
                            vals.iter().map(|v| v.map(uuid_bytes)).collect();
                        let arr = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                            bytes.into_iter(),
                            16,
                        )
                        .map_err(io::Error::other)?;
                        (uuid_field(n, nullable), Arc::new(arr))
                    }
                };
                fields.push((field, arr));
            }
            let payload: Vec<i64> = (0..rows).map(|_| rng.next_u64() as i64).collect();
            fields.push((
                Field::new("payload", DataType::Int64, false),
                Arc::new(Int64Array::from(payload)),
            ));
            let b = batch(fields);
            let mut p = props()
                .set_max_row_group_row_count(Some(1 + rng.below(2000) as usize))
                .set_data_page_row_count_limit(*rng.pick(&[50usize, 500, 20_000]))
                .set_write_batch_size(*rng.pick(&[37usize, 1024]))
                .set_dictionary_enabled(rng.chance(0.6))
                .set_compression(*rng.pick(&[
                    Compression::UNCOMPRESSED,
                    Compression::SNAPPY,
                    Compression::ZSTD(ZstdLevel::default()),
                    Compression::GZIP(Default::default()),
                    Compression::LZ4_RAW,
                    Compression::BROTLI(Default::default()),
                ]))
                .set_writer_version(
                    *rng.pick(&[WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0]),
                )
                .set_statistics_enabled(*rng.pick(&[
                    EnabledStatistics::None,
                    EnabledStatistics::Chunk,
                    EnabledStatistics::Page,
                ]))
                .set_bloom_filter_enabled(rng.chance(0.3));
            if rng.chance(0.25) {
                // Delta encodings exercise the generic decoder.
                for (k, n) in kinds.iter().zip(&names) {
                    let enc = match k {
                        ColKind::Utf8
                        | ColKind::LargeUtf8
                        | ColKind::Utf8View
                        | ColKind::DictUtf8 => Encoding::DELTA_BYTE_ARRAY,
                        ColKind::Uuid => Encoding::PLAIN,
                        _ => Encoding::DELTA_BINARY_PACKED,
                    };
                    p = p
                        .set_column_dictionary_enabled(
                            parquet::schema::types::ColumnPath::from(n.as_str()),
                            false,
                        )
                        .set_column_encoding(
                            parquet::schema::types::ColumnPath::from(n.as_str()),
                            enc,
                        );
                }
            }
            let part = if rng.chance(0.5) {
                format!("{name}/dt=2026-0{}-01/part-{f}.parquet", 1 + f)
            } else {
                format!("{name}/part-{f}.parquet")
            };
            write_parquet(&dir.join(part), &[b], p.build())?;
        }
        let id_sql = kinds
            .iter()
            .zip(&names)
            .map(|(k, n)| match k {
                ColKind::Utf8 | ColKind::LargeUtf8 | ColKind::Utf8View | ColKind::DictUtf8 => {
                    format!("\"{n}\" IN (SELECT id FROM ids)")
                }
                ColKind::Uuid => format!("\"{n}\" IN (SELECT TRY_CAST(id AS UUID) FROM ids)"),
                _ => format!("\"{n}\" IN (SELECT TRY_CAST(id AS HUGEINT) FROM ids)"),
            })
            .collect();
        tables.push(RandomTable {
            name,
            id_columns: names,
            id_sql,
        });
    }
    // About a quarter of the universe, as text and as the UUID form, plus IDs of other
    // shapes (negative, too large, non-numeric) that must match nothing wrongly.
    let mut ids: Vec<String> = Vec::new();
    for n in 0..universe {
        if rng.chance(0.25) {
            ids.push(n.to_string());
            ids.push((n as i64 - 50).to_string());
            ids.push(((n as u32).wrapping_add(4_294_967_000)).to_string());
            ids.push(uuid_of(n));
            if n % 3 == 0 {
                // Leading zeros: the same number to an integer column, another string.
                ids.push(format!("00{n}"));
            }
        }
    }
    ids.extend([
        "not-a-number".to_string(),
        "99999999999999999999".into(),
        "-0".into(),
    ]);
    ids.sort();
    ids.dedup();
    Ok(RandomLake { tables, ids })
}

/// What [`bench_lake`] wrote.
#[derive(Debug, Clone)]
pub struct BenchLake {
    /// The lake without bloom filters and the same data with well-sized bloom filters.
    pub plain: PathBuf,
    pub bloom: PathBuf,
    pub rows: u64,
    /// 1,000 deleted subject IDs; `present` of them still have a few rows.
    pub ids: Vec<String>,
    pub present: usize,
    pub residual_rows: u64,
}

/// The benchmark lake: three tables (`events`, `pageviews`, `orders`) partitioned by day
/// (8 days, 4 files a day), a UUID-text `user_id` of about `rows / 40` live users in
/// random order, zstd, written twice: without bloom filters and with bloom filters sized
/// for a 1e-5 false-positive rate. Row groups of up to 1 Mi rows; the writer's default
/// 1 MB dictionary limit makes `user_id` fall back to PLAIN pages, as real writers do.
/// The 1,000 IDs are deleted subjects (not live users); 5 of them were missed by the
/// purge and keep 1–3 rows each in one file.
pub fn bench_lake(dir: &Path, rows: u64, seed: u64) -> io::Result<BenchLake> {
    use rayon::prelude::*;
    let users = (rows / 40).max(1000);
    let tables = [("events", 50u64), ("pageviews", 30), ("orders", 20)];
    let (days, parts) = (8u64, 4u64);
    let mut jobs = Vec::new();
    for (t, share) in tables {
        let per_file = (rows * share / 100 / (days * parts)).max(4);
        for d in 0..days {
            for p in 0..parts {
                jobs.push((t, d, p, per_file));
            }
        }
    }
    let ids: Vec<String> = (0..1000u64)
        .map(|i| uuid_of(5_000_000_000 + i * 7919))
        .collect();
    let present = 5;
    // (file, row, subject) of the rows the purge missed.
    let mut rng = Rng::new(seed ^ 0xdead_beef);
    let mut planted: Vec<(usize, usize, usize)> = Vec::new();
    for (k, _) in ids.iter().enumerate().take(present) {
        let file = rng.below(jobs.len() as u64) as usize;
        for _ in 0..1 + rng.below(3) {
            planted.push((file, rng.below(jobs[file].3) as usize, k));
        }
    }
    planted.sort();
    planted.dedup_by_key(|p| (p.0, p.1));
    let plain = dir.join("lake-plain");
    let bloom = dir.join("lake-bloom");
    let events = [
        "login",
        "logout",
        "view",
        "click",
        "scroll",
        "search",
        "add_to_cart",
        "purchase",
        "refund",
        "share",
    ];
    jobs.par_iter()
        .enumerate()
        .try_for_each(|(i, &(t, d, p, n))| -> io::Result<()> {
            let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let n = n as usize;
            let mut user: Vec<String> = (0..n)
                .map(|_| uuid_of(1_000_000_000 + rng.below(users)))
                .collect();
            for &(_, row, k) in planted.iter().filter(|x| x.0 == i) {
                user[row] = ids[k].clone();
            }
            let ts0 = 1_767_225_600_000_000i64 + d as i64 * 86_400_000_000;
            let ts: Vec<i64> = (0..n)
                .map(|_| ts0 + rng.below(86_400_000_000) as i64)
                .collect();
            let ev: Vec<&str> = (0..n).map(|_| *rng.pick(&events)).collect();
            let session: Vec<String> = (0..n).map(|_| format!("{:016x}", rng.next_u64())).collect();
            let value: Vec<f64> = (0..n)
                .map(|_| (rng.below(1_000_000) as f64) / 100.0)
                .collect();
            let b = batch(vec![
                (
                    Field::new("user_id", DataType::Utf8, false),
                    Arc::new(StringArray::from(user)) as ArrayRef,
                ),
                (
                    Field::new(
                        "ts",
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                        false,
                    ),
                    Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
                ),
                (
                    Field::new("event", DataType::Utf8, false),
                    Arc::new(StringArray::from(ev)),
                ),
                (
                    Field::new("session_id", DataType::Utf8, false),
                    Arc::new(StringArray::from(session)),
                ),
                (
                    Field::new("value", DataType::Float64, false),
                    Arc::new(arrow::array::Float64Array::from(value)),
                ),
            ]);
            let rel = format!("{t}/dt=2026-01-{:02}/part-{p}.parquet", d + 1);
            let base = props().set_compression(Compression::ZSTD(ZstdLevel::default()));
            write_parquet(
                &plain.join(&rel),
                std::slice::from_ref(&b),
                base.clone().build(),
            )?;
            let col = parquet::schema::types::ColumnPath::from("user_id");
            let with_bloom = base
                .set_column_bloom_filter_enabled(col.clone(), true)
                .set_column_bloom_filter_fpp(col.clone(), 1e-5)
                .set_column_bloom_filter_max_ndv(col, (n as u64).min(1 << 20))
                .build();
            write_parquet(&bloom.join(&rel), &[b], with_bloom)
        })?;
    Ok(BenchLake {
        plain,
        bloom,
        rows: jobs.iter().map(|j| j.3).sum(),
        ids,
        present,
        residual_rows: planted.len() as u64,
    })
}
