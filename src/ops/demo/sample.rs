//! The demo's sample lake and runbook tables: seeded and deterministic (the same seed and
//! crate versions give the same Parquet bytes), written to a temp name and renamed into
//! place. The dev fixtures (`dev::fixtures`) build their random and benchmark lakes from
//! the same helpers.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeBinaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};

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

pub fn uuid_bytes(n: u64) -> [u8; 16] {
    crate::domain::scan::probe::parse_uuid(&uuid_of(n)).unwrap_or([0; 16])
}

pub fn uuid_field(name: &str, nullable: bool) -> Field {
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

pub fn batch(cols: Vec<(Field, ArrayRef)>) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .unwrap_or_else(|e| panic!("fixture batch: {e}"))
}

pub fn props() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder().set_created_by("vouch fixtures".into())
}

/// A file a team adds to `support_tickets` after the demo's first two nights, with a new
/// column named like personal data and no change filed for it: the last night's schema
/// check names it. Its people have no delete request. Written once.
pub fn contact_email_column(dir: &Path) -> io::Result<()> {
    let p = dir.join("lake/support_tickets/part-1.parquet");
    if p.exists() {
        return Ok(());
    }
    let b = batch(vec![
        (
            Field::new("user_id", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["1500", "1501"])) as ArrayRef,
        ),
        (
            Field::new("subject", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["refund"; 2])),
        ),
        (
            Field::new("contact_email", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![Some("a@example.com"), None])),
        ),
    ]);
    write_parquet(
        &p,
        &[b],
        props()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .build(),
    )
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
        "dataset,retention_days,legal_hold_flag,hold_reason,hold_reviewer,hold_set_at\n\
         events,400,false,,,\n\
         profiles,3650,false,,,\n\
         payments,3650,false,,,\n\
         support_tickets,730,true,litigation 2026-044,Legal (A. Reviewer),2026-10-01T00:00:00Z\n",
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
