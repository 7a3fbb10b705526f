//! Seeded, deterministic sample lakes: the committed fixture lake, random lakes for the
//! differential tests, and (later) the demo.
//!
//! Everything here is a pure function of its seed: the same seed and crate versions give
//! the same Parquet bytes. Files are written to a temp name and renamed into place.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// The canonical UUID text the fixtures use for subject number `n`: a version-4-shaped
/// UUID whose bits are a hash of `n`, so that UUIDs of nearby numbers are unordered, as
/// random UUIDs are (min/max statistics cannot prune them).
pub fn uuid_of(n: u64) -> String {
    let mut r = Rng::new(n);
    let (a, b) = (r.next_u64(), r.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 | (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn uuid_bytes(n: u64) -> [u8; 16] {
    crate::scan::probe::parse_uuid(&uuid_of(n)).unwrap_or([0; 16])
}

fn uuid_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::FixedSizeBinary(16), nullable).with_metadata(
        std::collections::HashMap::from([(
            "ARROW:extension:name".to_string(),
            "arrow.uuid".to_string(),
        )]),
    )
}

/// Writes one Parquet file atomically (temp file in the same directory, then rename).
pub fn write_parquet(
    path: &Path,
    batches: &[RecordBatch],
    props: WriterProperties,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("part")
    ));
    let file = std::fs::File::create(&tmp)?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| io::Error::other("no batches"))?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).map_err(io::Error::other)?;
    for b in batches {
        w.write(b).map_err(io::Error::other)?;
    }
    w.close().map_err(io::Error::other)?;
    std::fs::rename(&tmp, path)
}

fn batch(cols: Vec<(Field, ArrayRef)>) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .unwrap_or_else(|e| panic!("fixture batch: {e}"))
}

fn props() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder().set_created_by("vouch fixtures".into())
}

/// What the committed sample lake holds (see `fixtures/README.md`).
pub struct SampleLake {
    pub root: PathBuf,
    /// Deleted subjects checked by the fixture scan.
    pub deleted: Vec<String>,
}

/// Writes the sample lake under `dir`: `lake/` with five tables, `tables/
/// data_retention_policy.csv`, `deleted_ids.txt` and `vouch.toml`.
///
/// Expected scan of `deleted_ids.txt`: residual 4 rows (events 2 in `dt=2026-01-03`,
/// payments 2), 3 rows held in `support_tickets`, everything else clean.
pub fn sample_lake(dir: &Path) -> io::Result<SampleLake> {
    let lake = dir.join("lake");
    let mut rng = Rng::new(20260101);
    // Live users are 1000..2000; deleted subjects are 5000.. and were purged, except where
    // noted below.
    let deleted: Vec<String> = (5000..5010)
        .map(|n: u64| n.to_string())
        .chain([uuid_of(5003)])
        .collect();
    let ts0 = 1_767_225_600_000_000i64; // 2026-01-01T00:00:00Z
    for (day, dt) in ["2026-01-01", "2026-01-02", "2026-01-03"]
        .iter()
        .enumerate()
    {
        let n = 3000usize;
        let mut users: Vec<Option<String>> = (0..n)
            .map(|i| {
                if i % 97 == 0 {
                    None
                } else {
                    Some((1000 + rng.below(1000)).to_string())
                }
            })
            .collect();
        if day == 2 {
            // The pipeline missed two rows of subject 5002.
            users[1234] = Some("5002".into());
            users[2345] = Some("5002".into());
        }
        let events: Vec<&str> = (0..n)
            .map(|_| *rng.pick(&["login", "view", "click", "purchase"]))
            .collect();
        let ts: Vec<i64> = (0..n as i64)
            .map(|i| ts0 + day as i64 * 86_400_000_000 + i * 1_000_000)
            .collect();
        let b = batch(vec![
            (
                Field::new("user_id", DataType::Utf8, true),
                Arc::new(StringArray::from(users)) as ArrayRef,
            ),
            (
                Field::new("event", DataType::Utf8, false),
                Arc::new(StringArray::from(events)),
            ),
            (
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    false,
                ),
                Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
            ),
        ]);
        let p = props()
            .set_max_row_group_row_count(Some(1000))
            .set_bloom_filter_enabled(true)
            .set_bloom_filter_fpp(0.001)
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        write_parquet(
            &lake.join(format!("events/dt={dt}/part-0.parquet")),
            &[b],
            p,
        )?;
    }
    // profiles: integer ids, PLAIN encoded, statistics only.
    let ids: Vec<i64> = (1000..2000).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("name-{i}")).collect();
    let b = batch(vec![
        (
            Field::new("user_id", DataType::Int64, false),
            Arc::new(Int64Array::from(ids)) as ArrayRef,
        ),
        (
            Field::new("display_name", DataType::Utf8, false),
            Arc::new(StringArray::from(names)),
        ),
    ]);
    let p = props()
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(250))
        .set_compression(Compression::SNAPPY)
        .build();
    write_parquet(&lake.join("profiles/part-0.parquet"), &[b], p)?;
    // payments: user_id (text) and buyer_id (integer); rows naming 5007 remain.
    let n = 500;
    let mut user: Vec<String> = (0..n)
        .map(|_| (1000 + rng.below(1000)).to_string())
        .collect();
    let mut buyer: Vec<i64> = (0..n).map(|_| 1000 + rng.below(1000) as i64).collect();
    buyer[10] = 5007; // as buyer only
    user[20] = "5007".into(); // as both: one row, not two
    buyer[20] = 5007;
    let amount: Vec<i64> = (0..n).map(|_| rng.below(100_000) as i64).collect();
    let b = batch(vec![
        (
            Field::new("user_id", DataType::Utf8, false),
            Arc::new(StringArray::from(user)) as ArrayRef,
        ),
        (
            Field::new("buyer_id", DataType::Int64, false),
            Arc::new(Int64Array::from(buyer)),
        ),
        (
            Field::new("amount_cents", DataType::Int64, false),
            Arc::new(Int64Array::from(amount)),
        ),
    ]);
    write_parquet(
        &lake.join("payments/part-0.parquet"),
        &[b],
        props().set_max_row_group_row_count(Some(200)).build(),
    )?;
    // devices: UUID owners; the deleted UUID subject is gone.
    let owners: Vec<[u8; 16]> = (0..400)
        .map(|_| uuid_bytes(1000 + rng.below(1000)))
        .collect();
    let b = batch(vec![
        (
            uuid_field("owner_uuid", false),
            Arc::new(FixedSizeBinaryArray::try_from_iter(owners.iter()).map_err(io::Error::other)?)
                as ArrayRef,
        ),
        (
            Field::new("model", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["phone"; 400])),
        ),
    ]);
    write_parquet(&lake.join("devices/part-0.parquet"), &[b], props().build())?;
    // support_tickets: under legal hold, still holds three rows of 5005.
    let mut user: Vec<String> = (0..300)
        .map(|_| (1000 + rng.below(1000)).to_string())
        .collect();
    for i in [5, 50, 250] {
        user[i] = "5005".into();
    }
    let b = batch(vec![
        (
            Field::new("user_id", DataType::Utf8, false),
            Arc::new(StringArray::from(user)) as ArrayRef,
        ),
        (
            Field::new("subject", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["refund"; 300])),
        ),
    ]);
    write_parquet(
        &lake.join("support_tickets/part-0.parquet"),
        &[b],
        props()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .build(),
    )?;
    // Files the lake conventions ignore.
    std::fs::write(lake.join("events/_SUCCESS"), b"")?;
    std::fs::write(
        lake.join("events/dt=2026-01-01/.part-0.parquet.crc"),
        b"not parquet",
    )?;

    std::fs::create_dir_all(dir.join("tables"))?;
    std::fs::write(
        dir.join("tables/data_retention_policy.csv"),
        "dataset,retention_days,legal_hold_flag,hold_reason,hold_reviewer\n\
         events,400,false,,\n\
         profiles,3650,false,,\n\
         payments,3650,false,,\n\
         support_tickets,730,true,litigation 2026-044,Legal (A. Reviewer)\n",
    )?;
    let mut ids = String::from("# Subjects whose delete requests completed; one ID a line.\n");
    for d in &deleted {
        ids.push_str(d);
        ids.push('\n');
    }
    std::fs::write(dir.join("deleted_ids.txt"), ids)?;
    std::fs::write(
        dir.join("vouch.toml"),
        "# The fixture lake's configuration (paths are relative to this file).\n\
         [lake]\n\
         location = \"lake\"\n\
         id_columns = [\"user_id\"]\n\n\
         [[lake.tables]]\n\
         name = \"payments\"\n\
         path = \"payments\"\n\
         id_columns = [\"user_id\", \"buyer_id\"]\n\n\
         [[lake.tables]]\n\
         name = \"devices\"\n\
         id_columns = [\"owner_uuid\"]\n\n\
         [tables]\n\
         data_retention_policy = \"tables/data_retention_policy.csv\"\n",
    )?;
    Ok(SampleLake {
        root: lake,
        deleted,
    })
}

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
