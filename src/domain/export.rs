//! DSAR export bundles: every row of the subjects, zipped, age-encrypted and hashed.
//!
//! One pass, one code path with `vouch scan`: [`crate::domain::scan::scan_locating`] finds the
//! matching rows (same discovery, identifier columns, pruning, matching); only the row
//! groups holding them are read with all columns, selecting just those rows. Members are
//! streamed into a zip, the zip into an age encryptor, the ciphertext through SHA-256 into
//! a temp file beside the output: the plaintext never touches disk and memory stays
//! bounded by one record batch. The temp file is fsynced and renamed into place only when
//! everything succeeded; on any failure it is removed. Zip entries have a fixed order,
//! timestamp and permissions, so the same input gives the same plaintext.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::hashpipe::HashPipe;
use crate::domain::report::Verdict;
use crate::domain::scan::{FileMatches, Progress, ScanRequest, scan_locating};
use crate::domain::subjects::hex;
use crate::io::store::{Store, StoreChunkReader};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Usage(String),
    /// A secret file (the passphrase) that could not be read, named.
    #[error(transparent)]
    Secret(crate::io::fsio::FileError),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// The errors (`path: problem`, one each) are for the caller to show first.
    #[error("the lake could not be read completely; no bundle was written")]
    Incomplete { errors: Vec<String> },
}

fn file_err(path: &Path, message: impl Into<String>) -> ExportError {
    ExportError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// How each table's rows are written inside the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Json,
    Csv,
    Parquet,
}

impl DataFormat {
    fn extension(self) -> &'static str {
        match self {
            DataFormat::Json => "json",
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
        }
    }
}

/// Who can open the bundle.
pub enum Encryption {
    /// age recipients: X25519 (`age1…`), `ssh-ed25519`, `ssh-rsa`.
    Recipients(Vec<Box<dyn age::Recipient + Send>>),
    /// A passphrase (scrypt, work factor [`SCRYPT_WORK_FACTOR`]).
    Passphrase(SecretString),
}

/// scrypt log2(N) for passphrase bundles: fixed rather than timed (the age crate times
/// the machine, which is weak in unoptimised builds), and within what the `age` CLI accepts.
pub const SCRYPT_WORK_FACTOR: u8 = 18;

/// Parses one recipient as the `age` CLI would: `age1…` or an SSH public key line.
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>, String> {
    let s = s.trim();
    if let Ok(r) = s.parse::<age::x25519::Recipient>() {
        return Ok(Box::new(r));
    }
    if s.starts_with("ssh-") {
        return match s.parse::<age::ssh::Recipient>() {
            Ok(r) => Ok(Box::new(r)),
            Err(_) => {
                Err("unsupported or malformed SSH public key (ssh-ed25519 and ssh-rsa work)".into())
            }
        };
    }
    let shown: String = s.chars().take(12).collect();
    Err(format!(
        "{shown:?}… is not an age recipient (age1…) or an SSH public key"
    ))
}

/// Reads a recipients file as the `age` CLI does: one recipient a line, `#` comments and
/// blank lines ignored.
pub fn read_recipients_file(
    path: &Path,
) -> Result<Vec<Box<dyn age::Recipient + Send>>, ExportError> {
    let text = crate::io::fsio::read_to_string_or_stdin(path)
        .map_err(|e| file_err(path, crate::io::store::io_message(&e)))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(parse_recipient(l).map_err(|e| file_err(path, format!("line {}: {e}", i + 1)))?);
    }
    if out.is_empty() {
        return Err(file_err(path, "holds no recipients"));
    }
    Ok(out)
}

/// Reads a passphrase: the file's first line, without its line ending. Never echoed.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString, ExportError> {
    let line =
        crate::io::secret::read_first_line(path, "passphrase").map_err(ExportError::Secret)?;
    let text = std::str::from_utf8(&line)
        .map_err(|_| file_err(path, "the passphrase is not UTF-8 text"))?;
    Ok(SecretString::from(text.to_string()))
}

/// Everything an export needs, passed in by the caller.
pub struct ExportRequest<'a> {
    /// The scan that finds the rows (its `collect_rows` is set by [`export`]).
    pub scan: ScanRequest<'a>,
    pub request_id: Option<String>,
    pub format: DataFormat,
    pub encryption: Encryption,
    /// "Now", as RFC 3339, written into the manifest.
    pub generated_at: String,
    pub out: PathBuf,
    pub force: bool,
}

/// What was written (`vouch export` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub schema_version: u32,
    pub request_id: Option<String>,
    pub out: String,
    /// SHA-256 of the encrypted file, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
    pub tables: Vec<TableCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    pub table: String,
    /// Rows in the current objects.
    pub rows: u64,
    /// Rows still held in older object versions (exported with `--include-versions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_rows: Option<u64>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    schema_version: u32,
    kind: &'static str,
    request_id: Option<&'a str>,
    generated_at: &'a str,
    tool: String,
    data_format: DataFormat,
    subjects: Vec<String>,
    rows: u64,
    tables: Vec<ManifestTable>,
    members: Vec<ManifestMember>,
}

#[derive(Serialize)]
struct ManifestTable {
    table: String,
    member: Option<String>,
    rows: u64,
    source_files: Vec<String>,
    /// Rows of older object versions, in their own member (`noncurrent/`), so that a row
    /// kept in both the current object and an old version is not mistaken for two.
    #[serde(skip_serializing_if = "Option::is_none")]
    noncurrent: Option<ManifestVersions>,
}

#[derive(Serialize)]
struct ManifestVersions {
    member: Option<String>,
    rows: u64,
    source_versions: Vec<SourceVersion>,
}

#[derive(Serialize)]
struct SourceVersion {
    file: String,
    version_id: Option<String>,
}

#[derive(Serialize)]
struct ManifestMember {
    name: String,
    bytes: u64,
    sha256: String,
}

/// Writes the bundle. On error nothing is left at `req.out` (nor a temp file).
pub fn export(
    mut req: ExportRequest<'_>,
    progress: &dyn Progress,
) -> Result<ExportSummary, ExportError> {
    let out =
        crate::io::fsio::regular_target(&req.out).map_err(|e| ExportError::Usage(e.into()))?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(file_err(&dir, "the output directory does not exist"));
    }
    if !req.force && out.exists() {
        return Err(file_err(&out, "already exists (use --force to overwrite)"));
    }
    let sums = sha256_path(&out);
    if !req.force && sums.exists() {
        return Err(file_err(&sums, "already exists (use --force to overwrite)"));
    }
    req.scan.collect_rows = true;
    let (report, located) = scan_locating(&req.scan, progress, None);
    if report.verdict == Verdict::Incomplete {
        return Err(ExportError::Incomplete {
            errors: crate::domain::report::error_lines(&report.lake, &report.errors),
        });
    }
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("bundle")
        .to_string();
    let (tmp, file) = crate::io::fsio::TempFile::create(&out, false).map_err(|e| {
        file_err(
            &crate::io::fsio::temp_path(&out),
            crate::io::store::io_message(&e),
        )
    })?;
    let (sha256, bytes, tables) = write_bundle(
        &req,
        &report
            .tables
            .iter()
            .map(|t| t.table.clone())
            .collect::<Vec<_>>(),
        &located,
        file,
        tmp.path(),
    )?;
    tmp.commit(&out)
        .map_err(|e| file_err(&out, crate::io::store::io_message(&e)))?;
    let line = format!("{sha256}  {name}\n");
    if let Err(e) = crate::io::fsio::write_atomic(&sums, line.as_bytes(), true) {
        // A bundle without its recorded hash is not a finished export.
        crate::io::fsio::remove_written(&out);
        return Err(ExportError::Usage(e.into()));
    }
    Ok(ExportSummary {
        schema_version: 1,
        request_id: req.request_id.clone(),
        out: out.display().to_string(),
        sha256,
        bytes,
        rows: tables
            .iter()
            .map(|t| t.rows + t.noncurrent_rows.unwrap_or(0))
            .sum(),
        tables,
    })
}

/// `FILE.sha256` beside `FILE`.
pub fn sha256_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

type Zip<W> = zip::ZipWriter<zip::write::StreamWriter<W>>;

fn zip_err(path: &Path) -> impl Fn(zip::result::ZipError) -> ExportError + '_ {
    move |e| file_err(path, format!("cannot write the bundle: {e}"))
}

/// The encrypting, hashing writer every bundle goes through: plaintext in, age v1
/// ciphertext out to `sink`, SHA-256 of the ciphertext computed on the way.
pub struct Sealer<W: Write + Send + 'static> {
    inner: age::stream::StreamWriter<HashPipe<W>>,
}

impl<W: Write + Send + 'static> Sealer<W> {
    /// Starts encrypting to `sink` (the age header is written at once).
    pub fn new(encryption: &Encryption, sink: W) -> Result<Sealer<W>, ExportError> {
        Sealer::start(encryptor(encryption)?, sink)
            .map_err(|e| ExportError::Usage(format!("cannot start encryption: {e}")))
    }

    fn start(encryptor: age::Encryptor, sink: W) -> io::Result<Sealer<W>> {
        Ok(Sealer {
            inner: encryptor.wrap_output(HashPipe::new(sink))?,
        })
    }

    /// Ends the age stream (the last chunk and its tag); returns the ciphertext's SHA-256
    /// (lowercase hex), its length and the sink. Without this the output is truncated.
    pub fn finish(self) -> io::Result<(String, u64, W)> {
        let (sha, bytes, sink) = self.inner.finish()?.finish()?;
        Ok((hex(&sha.finalize()), bytes, sink))
    }
}

impl<W: Write + Send + 'static> Write for Sealer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn encryptor(encryption: &Encryption) -> Result<age::Encryptor, ExportError> {
    match encryption {
        Encryption::Recipients(rs) => {
            age::Encryptor::with_recipients(rs.iter().map(|r| r.as_ref() as &dyn age::Recipient))
                .map_err(|e| ExportError::Usage(format!("cannot encrypt to these recipients: {e}")))
        }
        Encryption::Passphrase(p) => {
            let mut r = age::scrypt::Recipient::new(p.clone());
            r.set_work_factor(SCRYPT_WORK_FACTOR);
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| ExportError::Usage(format!("cannot encrypt with the passphrase: {e}")))
        }
    }
}

/// Writes the encrypted bundle to a new temp file and fsyncs it.
fn write_bundle(
    req: &ExportRequest<'_>,
    tables: &[String],
    located: &[FileMatches],
    file: crate::io::fsio::File,
    tmp: &Path,
) -> Result<(String, u64, Vec<TableCount>), ExportError> {
    let io_err = |e: io::Error| file_err(tmp, crate::io::store::io_message(&e));
    let (sha, bytes, counts, sink) = write_bundle_to(
        req,
        tables,
        located,
        io::BufWriter::with_capacity(1 << 20, file),
        tmp,
    )?;
    let file = sink.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    Ok((sha, bytes, counts))
}

/// Writes the encrypted bundle to any sink (`shown` names it in errors).
pub fn write_bundle_to<W: Write + Send + 'static>(
    req: &ExportRequest<'_>,
    tables: &[String],
    located: &[FileMatches],
    sink: W,
    shown: &Path,
) -> Result<(String, u64, Vec<TableCount>, W), ExportError> {
    let tmp = shown;
    let io_err = |e: io::Error| file_err(tmp, crate::io::store::io_message(&e));
    let sealed = Sealer::start(encryptor(&req.encryption)?, sink).map_err(io_err)?;
    let mut zip: Zip<_> = zip::ZipWriter::new_stream(sealed);

    let mut by_table: BTreeMap<&str, Vec<&FileMatches>> = BTreeMap::new();
    for f in located {
        by_table.entry(f.table.as_str()).or_default().push(f);
    }
    let mut manifest_tables = Vec::new();
    let mut members = Vec::new();
    let mut counts = Vec::new();
    for table in tables {
        let (old, files): (Vec<&FileMatches>, Vec<&FileMatches>) = by_table
            .get(table.as_str())
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .partition(|f| f.file.noncurrent());
        let member = format!("tables/{table}.{}", req.format.extension());
        let (rows, written) = write_table(&mut zip, req, &member, &files, tmp)?;
        members.extend(written);
        let noncurrent = if req.scan.include_versions {
            let member = format!("noncurrent/{table}.{}", req.format.extension());
            let (rows, written) = if old.is_empty() {
                (0, None)
            } else {
                write_table(&mut zip, req, &member, &old, tmp)?
            };
            members.extend(written);
            Some(ManifestVersions {
                member: (rows > 0).then_some(member),
                rows,
                source_versions: old
                    .iter()
                    .map(|f| SourceVersion {
                        file: f.file.path.clone(),
                        version_id: f.file.version_id().map(str::to_string),
                    })
                    .collect(),
            })
        } else {
            None
        };
        counts.push(TableCount {
            table: table.clone(),
            rows,
            noncurrent_rows: noncurrent.as_ref().map(|n| n.rows),
        });
        manifest_tables.push(ManifestTable {
            table: table.clone(),
            member: (rows > 0 || req.format != DataFormat::Parquet).then(|| member.clone()),
            rows,
            source_files: files.iter().map(|f| f.file.path.clone()).collect(),
            noncurrent,
        });
    }
    let rows: u64 = counts
        .iter()
        .map(|c| c.rows + c.noncurrent_rows.unwrap_or(0))
        .sum();
    let readme = readme_text(req, &counts, rows);
    members.push(add_member(&mut zip, "README.txt", readme.as_bytes(), tmp)?);
    let manifest = Manifest {
        schema_version: 1,
        kind: "vouch-dsar-export",
        request_id: req.request_id.as_deref(),
        generated_at: &req.generated_at,
        tool: format!("vouch {}", env!("CARGO_PKG_VERSION")),
        data_format: req.format,
        subjects: req.scan.subjects.iter().map(|s| s.to_string()).collect(),
        rows,
        tables: manifest_tables,
        members,
    };
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Usage(e.to_string()))?;
    add_member(&mut zip, "manifest.json", &json, tmp)?;
    let sealed = zip.finish().map_err(zip_err(tmp))?.into_inner();
    let (sha, bytes, sink) = sealed.finish().map_err(io_err)?;
    Ok((sha, bytes, counts, sink))
}

fn member_options(format_is_compressed: bool) -> zip::write::SimpleFileOptions {
    let method = if format_is_compressed {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .compression_level(if format_is_compressed { None } else { Some(1) })
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(true)
}

fn add_member<W: Write>(
    zip: &mut Zip<W>,
    name: &str,
    data: &[u8],
    tmp: &Path,
) -> Result<ManifestMember, ExportError> {
    zip.start_file(name, member_options(false))
        .map_err(zip_err(tmp))?;
    zip.write_all(data)
        .map_err(|e| file_err(tmp, crate::io::store::io_message(&e)))?;
    Ok(ManifestMember {
        name: name.into(),
        bytes: data.len() as u64,
        sha256: hex(&Sha256::digest(data)),
    })
}

/// A zip member being written, hashed as it goes.
struct MemberWriter<'z, W: Write> {
    zip: &'z mut Zip<W>,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for MemberWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.zip.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.zip.flush()
    }
}

fn write_table<W: Write + Send>(
    zip: &mut Zip<W>,
    req: &ExportRequest<'_>,
    member: &str,
    files: &[&FileMatches],
    tmp: &Path,
) -> Result<(u64, Option<ManifestMember>), ExportError> {
    let io_err = |e: io::Error| file_err(tmp, crate::io::store::io_message(&e));
    if req.format == DataFormat::Parquet && files.is_empty() {
        return Ok((0, None));
    }
    zip.start_file(member, member_options(req.format == DataFormat::Parquet))
        .map_err(zip_err(tmp))?;
    let mut w = MemberWriter {
        zip,
        sha: Sha256::new(),
        bytes: 0,
    };
    let mut rows = 0u64;
    let store = req.scan.store;
    if req.format == DataFormat::Parquet {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            // Row groups are buffered until written: keep them small so memory stays
            // bounded whatever the subject's row count.
            .set_max_row_group_row_count(Some(64 << 10))
            .build();
        // Non-empty: a table without rows gets no Parquet member.
        let schema = file_schema(store, files[0])?;
        let mut pw = parquet::arrow::ArrowWriter::try_new(&mut w, schema.clone(), Some(props))
            .map_err(|e| {
                ExportError::Usage(format!("table {member}: cannot write Parquet: {e}"))
            })?;
        for f in files {
            for_each_batch(store, f, |batch| {
                rows += batch.num_rows() as u64;
                let fail = |m: String| ExportError::Usage(format!("{}: {m}", f.file.path));
                if batch.schema() != schema {
                    return Err(fail(
                        "its columns differ from the table's other files; use --data-format json"
                            .into(),
                    ));
                }
                pw.write(batch)
                    .map_err(|e| fail(format!("cannot write Parquet: {e}")))
            })?;
        }
        pw.close().map_err(|e| {
            ExportError::Usage(format!("table {member}: cannot write Parquet: {e}"))
        })?;
    } else {
        let mut sink = match req.format {
            DataFormat::Csv => Sink::Csv { schema: None },
            _ => Sink::Json { first: true },
        };
        for f in files {
            for_each_batch(store, f, |batch| {
                rows += batch.num_rows() as u64;
                sink.write(&mut w, batch, &f.file.path)
            })?;
        }
        sink.finish(&mut w).map_err(io_err)?;
    }
    let done = ManifestMember {
        name: member.into(),
        bytes: w.bytes,
        sha256: hex(&w.sha.finalize()),
    };
    Ok((rows, Some(done)))
}

/// The per-table writer of the text formats.
enum Sink {
    Json {
        first: bool,
    },
    Csv {
        schema: Option<arrow::datatypes::SchemaRef>,
    },
}

impl Sink {
    fn write<W: Write>(
        &mut self,
        w: &mut MemberWriter<'_, W>,
        batch: &RecordBatch,
        file: &str,
    ) -> Result<(), ExportError> {
        let fail = |m: String| ExportError::Usage(format!("{file}: {m}"));
        match self {
            Sink::Json { first } => {
                let mut buf = Vec::new();
                {
                    let mut jw = arrow::json::WriterBuilder::new()
                        .with_explicit_nulls(true)
                        .build::<_, arrow::json::writer::LineDelimited>(&mut buf);
                    jw.write(batch)
                        .map_err(|e| fail(format!("cannot write JSON: {e}")))?;
                    jw.finish()
                        .map_err(|e| fail(format!("cannot write JSON: {e}")))?;
                }
                for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let sep: &[u8] = if *first { b"[\n" } else { b",\n" };
                    *first = false;
                    w.write_all(sep)
                        .and_then(|_| w.write_all(line))
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            Sink::Csv { schema } => {
                let header = match schema {
                    None => {
                        *schema = Some(batch.schema());
                        true
                    }
                    Some(s) if *s != batch.schema() => {
                        return Err(fail("its columns differ from the table's other files; use --data-format json".into()));
                    }
                    Some(_) => false,
                };
                let mut cw = arrow::csv::WriterBuilder::new()
                    .with_header(header)
                    .build(&mut *w);
                cw.write(batch).map_err(|e| {
                    fail(format!(
                        "cannot write CSV: {e} (nested columns need --data-format json)"
                    ))
                })?;
            }
        }
        Ok(())
    }

    fn finish<W: Write>(self, w: &mut MemberWriter<'_, W>) -> io::Result<()> {
        match self {
            Sink::Json { first: true } => w.write_all(b"[]\n"),
            Sink::Json { first: false } => w.write_all(b"\n]\n"),
            Sink::Csv { .. } => Ok(()),
        }
    }
}

/// Row selectors choosing exactly `rows` (ascending) of a row group of `total` rows.
fn selection(rows: &[u32], total: usize) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0usize;
    for &r in rows {
        let r = r as usize;
        if r > at {
            selectors.push(RowSelector::skip(r - at));
        }
        selectors.push(RowSelector::select(1));
        at = r + 1;
    }
    if total > at {
        selectors.push(RowSelector::skip(total - at));
    }
    RowSelection::from(selectors)
}

/// The Arrow schema of one file.
fn file_schema(
    store: &dyn Store,
    f: &FileMatches,
) -> Result<arrow::datatypes::SchemaRef, ExportError> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let fail = |m: String| ExportError::File {
        path: f.file.path.clone(),
        message: m,
    };
    let reader = StoreChunkReader::open(store, &f.file).map_err(|e| fail(e.message))?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new())
    }))
    .map_err(|_| fail("the Parquet decoder failed on this file (internal panic)".into()))?
    .map(|m| with_partition_fields(m.schema(), &partitions_of(f)))
    .map_err(|e| fail(e.to_string()))
}

/// The Hive partitions of a matched file that are not columns of it (`dt=2026-01-03/`):
/// engines show them as columns of every row, so they are part of the subject's rows.
fn partitions_of(f: &FileMatches) -> Vec<(String, Option<String>)> {
    crate::domain::lake::partition_values(&f.table_path, &f.file.path)
        .into_iter()
        .map(|(k, v)| (k, (v != "__HIVE_DEFAULT_PARTITION__").then_some(v)))
        .collect()
}

/// `schema` with a nullable UTF-8 column for each partition it does not already have.
fn with_partition_fields(
    schema: &arrow::datatypes::SchemaRef,
    partitions: &[(String, Option<String>)],
) -> arrow::datatypes::SchemaRef {
    let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
    for (k, _) in partitions {
        if !fields.iter().any(|f| f.name().eq_ignore_ascii_case(k)) {
            fields.push(Arc::new(arrow::datatypes::Field::new(
                k,
                arrow::datatypes::DataType::Utf8,
                true,
            )));
        }
    }
    Arc::new(arrow::datatypes::Schema::new(fields))
}

/// `batch` with the partition values as columns (see [`with_partition_fields`]).
fn with_partition_columns(
    batch: &RecordBatch,
    partitions: &[(String, Option<String>)],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = with_partition_fields(&batch.schema(), partitions);
    if schema.fields().len() == batch.num_columns() {
        return Ok(batch.clone());
    }
    let mut columns = batch.columns().to_vec();
    for f in &schema.fields()[batch.num_columns()..] {
        let value = partitions
            .iter()
            .find(|(k, _)| k == f.name())
            .and_then(|(_, v)| v.as_deref());
        columns.push(Arc::new(arrow::array::StringArray::from(vec![
            value;
            batch
                .num_rows(
                )
        ])));
    }
    RecordBatch::try_new(schema, columns)
}

/// Reads exactly the matching rows of one file, all columns, batch by batch.
fn for_each_batch(
    store: &dyn Store,
    f: &FileMatches,
    mut each: impl FnMut(&RecordBatch) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let path = f.file.path.clone();
    let partitions = partitions_of(f);
    let fail = |m: String| ExportError::File {
        path: path.clone(),
        message: m,
    };
    let reader = StoreChunkReader::open(store, &f.file).map_err(|e| fail(e.message))?;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<(), ExportError> {
            let meta = ArrowReaderMetadata::load(
                &reader,
                ArrowReaderOptions::new()
                    .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional),
            )
            .map_err(|e| fail(e.to_string()))?;
            for (rg, rows) in &f.row_groups {
                let Some(group) = meta.metadata().row_groups().get(*rg) else {
                    return Err(fail(format!(
                        "row group {rg} is gone: the file changed during the export"
                    )));
                };
                let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    reader.clone(),
                    meta.clone(),
                )
                .with_row_groups(vec![*rg])
                .with_row_selection(selection(rows, group.num_rows() as usize))
                .with_batch_size(8192)
                .build()
                .map_err(|e| fail(e.to_string()))?;
                let mut got = 0usize;
                for batch in batches {
                    let batch = batch.map_err(|e| fail(format!("cannot decode: {e}")))?;
                    got += batch.num_rows();
                    let batch = with_partition_columns(&batch, &partitions)
                        .map_err(|e| fail(format!("cannot add its partition columns: {e}")))?;
                    each(&batch)?;
                }
                if got != rows.len() {
                    return Err(fail(format!(
                        "row group {rg}: read {got} rows, the scan found {}",
                        rows.len()
                    )));
                }
            }
            Ok(())
        },
    ));
    match caught {
        Ok(r) => r,
        Err(_) => Err(fail(
            "the Parquet decoder failed on this file (internal panic)".into(),
        )),
    }
}

fn readme_text(req: &ExportRequest<'_>, counts: &[TableCount], rows: u64) -> String {
    let mut s = String::new();
    s.push_str("Your personal data: access request export\n");
    s.push_str("=========================================\n\n");
    if let Some(r) = &req.request_id {
        s.push_str(&format!("Request: {r}\n"));
    }
    s.push_str(&format!("Prepared: {}\n\n", req.generated_at));
    if rows == 0 {
        s.push_str("We searched every table listed below and hold no rows about you.\n\n");
    } else {
        s.push_str(&format!(
            "We found {rows} row(s) about you. Each table's rows are in tables/.\n\n"
        ));
    }
    for c in counts {
        s.push_str(&format!("  {:<32} {} row(s)", c.table, c.rows));
        if let Some(n) = c.noncurrent_rows.filter(|n| *n > 0) {
            s.push_str(&format!(", and {n} in older versions"));
        }
        s.push('\n');
    }
    if counts.iter().any(|c| c.noncurrent_rows.unwrap_or(0) > 0) {
        s.push_str(
            "\nOlder versions of our files, kept by our storage, still hold some rows about\n\
             you; they are in noncurrent/, one file per table. A row may appear both there\n\
             and in tables/ when it did not change between versions.\n",
        );
    }
    let fmt = match req.format {
        DataFormat::Json => {
            "JSON arrays: one object per row, column names as keys, times in ISO 8601 (UTC)."
        }
        DataFormat::Csv => "CSV with a header row.",
        DataFormat::Parquet => {
            "Apache Parquet files (open with any data tool, e.g. DuckDB or pandas)."
        }
    };
    s.push_str(&format!("\nFormat: {fmt}\n"));
    s.push_str("manifest.json lists every file here with its SHA-256 checksum, so you can check\n");
    s.push_str("that nothing was changed (sha256sum on Linux, shasum -a 256 on macOS).\n");
    s
}
