//! Audit evidence bundles: BagIt bags (RFC 8493) in reproducible zips whose tag manifest
//! carries an SSH signature, and their verification.
//!
//! Build: every object of the sources (optionally within a modification-time window) is
//! streamed into the zip under `<bag>/data/`, hashed as it goes; then the manifests, and
//! the SSHSIG over `tagmanifest-sha256.txt`. Entries are sorted, timestamps, permissions
//! and compression choices are functions of the content only, so the same inputs, key
//! and bagging date give the same bytes. The zip goes to a temp file that is fsynced and
//! renamed into place. Verify reads the zip in place — nothing is extracted — refusing
//! unsafe entry names, symlinks, encrypted entries and entries that inflate past their
//! declared size.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::hashpipe::HashPipe;
use crate::domain::keys::{EVIDENCE_NAMESPACE, SigningKey, VerifyingKey};
use crate::domain::subjects::hex;
use crate::io::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

fn file_err(path: impl std::fmt::Display, message: impl Into<String>) -> EvidenceError {
    EvidenceError::File {
        path: path.to_string(),
        message: message.into(),
    }
}

pub const TAG_MANIFEST: &str = "tagmanifest-sha256.txt";
pub const SIGNATURE: &str = "tagmanifest-sha256.txt.sig";
const REQUIRED_TAGS: [&str; 3] = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"];

/// S3 Object Lock retention modes, as `bag-info.txt` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionMode {
    Compliance,
    Governance,
}

impl RetentionMode {
    /// As vouch's JSON and text write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Compliance => "compliance",
            RetentionMode::Governance => "governance",
        }
    }

    /// As S3 and bag-info.txt write it.
    fn label(self) -> &'static str {
        match self {
            RetentionMode::Compliance => "COMPLIANCE",
            RetentionMode::Governance => "GOVERNANCE",
        }
    }
}

pub use crate::domain::retention::retain_until;

/// One evidence source.
pub struct Source {
    /// As given on the command line; recorded in `bag-info.txt`.
    pub location: String,
    pub store: Box<dyn Store>,
}

pub struct BuildRequest<'a> {
    pub sources: Vec<Source>,
    /// Modification-time window, Unix seconds: `from` inclusive, `to` exclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub signing_key: &'a SigningKey,
    pub out: PathBuf,
    pub force: bool,
    pub bagging_date: NaiveDate,
    pub retention_years: u32,
    pub retention_mode: RetentionMode,
    pub legal_hold: bool,
    pub organization: Option<String>,
    /// Bag an empty payload instead of refusing it (a wrong path or window must not pass
    /// as evidence).
    pub allow_empty: bool,
    /// Told of each payload file as it is bagged.
    pub progress: &'a dyn crate::domain::progress::Progress,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    pub schema_version: u32,
    pub out: String,
    pub bag: String,
    pub files: u64,
    pub payload_bytes: u64,
    pub zip_bytes: u64,
    /// SHA-256 of the zip, lowercase hex.
    pub sha256: String,
    pub bagging_date: String,
    pub retain_until: String,
    pub retention_mode: RetentionMode,
    pub legal_hold: bool,
    /// Where `--upload` put it, as read back from S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<crate::io::s3::UploadReceipt>,
}

/// Percent-encodes what RFC 8493 requires in manifest paths (CR, LF, %).
fn manifest_path(p: &str) -> String {
    p.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn decode_manifest_path(p: &str) -> String {
    p.replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%25", "%")
}

type Zip<W> = zip::ZipWriter<zip::write::StreamWriter<HashPipe<W>>>;

/// Entry options: fixed time and mode; stored when `compressible` is false.
fn entry_options(compressible: bool, size: u64) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(if compressible {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        })
        .compression_level(if compressible { Some(1) } else { None })
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= u32::MAX as u64)
}

/// Whether deflate is worth it: the first block must shrink by at least a tenth.
fn compressible(sample: &[u8]) -> bool {
    if sample.len() < 512 {
        return true;
    }
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(sample.len()),
        flate2::Compression::fast(),
    );
    if e.write_all(sample).is_err() {
        return false;
    }
    e.finish()
        .map(|c| c.len() * 10 < sample.len() * 9)
        .unwrap_or(false)
}

struct Payload {
    /// Path inside the bag (`data/...`).
    name: String,
    source: usize,
    object: crate::io::store::ObjectMeta,
}

/// Builds the bag. On error nothing is left at `req.out`.
pub fn build(req: &BuildRequest<'_>) -> Result<BuildSummary, EvidenceError> {
    let shown = req.out.display().to_string();
    let out = &crate::io::fsio::regular_target(&req.out).map_err(|e| EvidenceError::File {
        // A link's target names itself in the message.
        message: if e.path == shown {
            e.message
        } else {
            e.to_string()
        },
        path: shown.clone(),
    })?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(file_err(
            dir.display(),
            "the output directory does not exist",
        ));
    }
    if !req.force && out.exists() {
        return Err(file_err(
            out.display(),
            "already exists (use --force to overwrite)",
        ));
    }
    let file_name = out
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("evidence.zip");
    let bag = file_name
        .strip_suffix(".zip")
        .unwrap_or(file_name)
        .to_string();
    // The payload: every object in the window, named data/<rel> (data/<source>/<rel> for
    // several sources), sorted.
    let mut payload: Vec<Payload> = Vec::new();
    let prefixes = source_prefixes(&req.sources);
    for (i, s) in req.sources.iter().enumerate() {
        let listing = s.store.list("");
        if let Some(e) = listing.errors.first() {
            return Err(file_err(
                format!("{}/{}", s.location.trim_end_matches('/'), e.path),
                &e.message,
            ));
        }
        for o in listing.objects {
            let t = o.modified.unwrap_or(0);
            if req.from.is_some_and(|f| t < f) || req.to.is_some_and(|to| t >= to) {
                continue;
            }
            let name = match &prefixes[i] {
                Some(p) => format!("data/{p}/{}", o.path),
                None => format!("data/{}", o.path),
            };
            payload.push(Payload {
                name,
                source: i,
                object: o,
            });
        }
    }
    payload.sort_by(|a, b| a.name.cmp(&b.name));
    if payload.is_empty() && !req.allow_empty {
        let places: Vec<&str> = req.sources.iter().map(|s| s.location.as_str()).collect();
        let window = match (req.from, req.to) {
            (None, None) => String::new(),
            (f, t) => format!(
                " modified in [{}, {})",
                f.map(crate::io::encode::rfc3339)
                    .unwrap_or_else(|| "…".into()),
                t.map(crate::io::encode::rfc3339)
                    .unwrap_or_else(|| "…".into())
            ),
        };
        return Err(EvidenceError::Usage(format!(
            "{}: no file{window} to bag: a wrong path or window must not pass as evidence \
             (--allow-empty bags an empty payload)",
            places.join(", ")
        )));
    }
    let total: u64 = payload.iter().map(|p| p.object.size).sum();
    let until = retain_until(req.bagging_date, req.retention_years);
    let mut info = String::new();
    info.push_str(&format!(
        "Source-Organization: {}\n",
        req.organization.as_deref().unwrap_or("unspecified")
    ));
    info.push_str(&format!("Bagging-Date: {}\n", req.bagging_date));
    info.push_str(&format!("External-Identifier: {bag}\n"));
    info.push_str(&format!("Payload-Oxum: {total}.{}\n", payload.len()));
    info.push_str("Bag-Count: 1 of 1\n");
    for s in &req.sources {
        info.push_str(&format!("Source-Location: {}\n", s.location));
    }
    if let Some(f) = req.from {
        info.push_str(&format!(
            "Time-Window-From: {}\n",
            crate::domain::report::rfc3339(f)
        ));
    }
    if let Some(t) = req.to {
        info.push_str(&format!(
            "Time-Window-To: {}\n",
            crate::domain::report::rfc3339(t)
        ));
    }
    info.push_str(&format!("Retain-Until: {until}\n"));
    info.push_str(&format!("Retention-Mode: {}\n", req.retention_mode.label()));
    info.push_str(&format!("Legal-Hold: {}\n", req.legal_hold));
    info.push_str(&format!(
        "Bagging-Software: vouch {}\n",
        env!("CARGO_PKG_VERSION")
    ));

    let (tmp, file) = crate::io::fsio::TempFile::create(out, false).map_err(|e| {
        file_err(
            crate::io::fsio::temp_path(out).display(),
            crate::io::store::io_message(&e),
        )
    })?;
    let (sha256, zip_bytes) = write_bag(req, &bag, &info, &payload, file, tmp.path())?;
    tmp.commit(out)
        .map_err(|e| file_err(out.display(), crate::io::store::io_message(&e)))?;
    Ok(BuildSummary {
        schema_version: 1,
        out: out.display().to_string(),
        bag,
        files: payload.len() as u64,
        payload_bytes: total,
        zip_bytes,
        sha256,
        bagging_date: req.bagging_date.to_string(),
        retain_until: until.to_string(),
        retention_mode: req.retention_mode,
        legal_hold: req.legal_hold,
        upload: None,
    })
}

/// With several sources each gets a first path segment: its last path component, made
/// unique.
fn source_prefixes(sources: &[Source]) -> Vec<Option<String>> {
    if sources.len() < 2 {
        return vec![None; sources.len()];
    }
    let mut seen = BTreeSet::new();
    sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let base = s
                .location
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("source")
                .to_string();
            let mut name = if base.is_empty() {
                format!("source-{i}")
            } else {
                base
            };
            if !seen.insert(name.clone()) {
                name = format!("{name}-{i}");
                seen.insert(name.clone());
            }
            Some(name)
        })
        .collect()
}

fn write_bag(
    req: &BuildRequest<'_>,
    bag: &str,
    info: &str,
    payload: &[Payload],
    file: crate::io::fsio::File,
    tmp: &Path,
) -> Result<(String, u64), EvidenceError> {
    let shown = tmp.display().to_string();
    let io_err = |e: io::Error| file_err(&shown, crate::io::store::io_message(&e));
    let zerr = |e: zip::result::ZipError| file_err(&shown, format!("cannot write the zip: {e}"));
    // The zip's own hash and the copy into the file run on a second core.
    let sink = HashPipe::new(file);
    let mut zip: Zip<_> = zip::ZipWriter::new_stream(sink);
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    let put = |zip: &mut Zip<_>, name: &str, data: &[u8]| -> Result<(), EvidenceError> {
        zip.start_file(
            format!("{bag}/{name}"),
            entry_options(true, data.len() as u64),
        )
        .map_err(zerr)?;
        zip.write_all(data).map_err(io_err)
    };
    // Sorted order: bag-info.txt, bagit.txt, data/..., manifest, tag manifest, signature.
    put(&mut zip, "bag-info.txt", info.as_bytes())?;
    put(&mut zip, "bagit.txt", bagit.as_bytes())?;
    let mut manifest = String::new();
    let mut buf = vec![0u8; 1 << 20];
    req.progress.stage("bagging");
    req.progress.start(
        payload.len() as u64,
        payload.iter().map(|p| p.object.size).sum(),
    );
    for p in payload {
        req.progress.file_done(p.object.size);
        let src = &req.sources[p.source];
        let shown_src = format!("{}/{}", src.location.trim_end_matches('/'), p.object.path);
        let reader = src
            .store
            .open(&p.object)
            .map_err(|e| file_err(&shown_src, e.message))?;
        let mut sha = Sha256::new();
        let mut at = 0u64;
        let mut started = false;
        while at < p.object.size || !started {
            let n = (p.object.size - at).min(buf.len() as u64) as usize;
            reader.read_into(at, n as u64, &mut buf).map_err(|e| {
                file_err(
                    &shown_src,
                    format!("{} (did it change while bagging?)", e.message),
                )
            })?;
            if !started {
                zip.start_file(
                    format!("{bag}/{}", p.name),
                    entry_options(compressible(&buf[..n]), p.object.size),
                )
                .map_err(zerr)?;
                started = true;
            }
            sha.update(&buf[..n]);
            zip.write_all(&buf[..n]).map_err(io_err)?;
            at += n as u64;
            buf.resize(1 << 20, 0);
        }
        manifest.push_str(&format!(
            "{}  {}\n",
            hex(&sha.finalize()),
            manifest_path(&p.name)
        ));
    }
    put(&mut zip, "manifest-sha256.txt", manifest.as_bytes())?;
    let mut tags = String::new();
    for (name, data) in [
        ("bag-info.txt", info.as_bytes()),
        ("bagit.txt", bagit.as_bytes()),
        ("manifest-sha256.txt", manifest.as_bytes()),
    ] {
        tags.push_str(&format!("{}  {name}\n", hex(&Sha256::digest(data))));
    }
    put(&mut zip, TAG_MANIFEST, tags.as_bytes())?;
    let sig = req
        .signing_key
        .sign(EVIDENCE_NAMESPACE, tags.as_bytes())
        .map_err(|e| EvidenceError::Usage(e.to_string()))?;
    put(&mut zip, SIGNATURE, sig.as_bytes())?;
    let sink = zip.finish().map_err(zerr)?.into_inner();
    let (sha, bytes, file) = sink.finish().map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok((hex(&sha.finalize()), bytes))
}

/// The outcome of `vouch evidence verify`: `verified`, or `not_verified` (a file, a
/// manifest or the signature does not check out, or the signer is not the one given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyVerdict {
    Verified,
    NotVerified,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub verdict: VerifyVerdict,
    pub bag: Option<String>,
    pub files: u64,
    pub payload_bytes: u64,
    pub retain_until: Option<String>,
    /// `compliance` or `governance`, as bag-info.txt records it (lowercased).
    pub retention_mode: Option<String>,
    /// bag-info.txt's Legal-Hold (absent when the tag is missing or not true/false).
    pub legal_hold: Option<bool>,
    pub signer: Option<String>,
    /// Each failed check, naming the file.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Nothing verified yet: what a check fills in.
    fn not_verified() -> VerifyReport {
        VerifyReport {
            schema_version: 1,
            verdict: VerifyVerdict::NotVerified,
            bag: None,
            files: 0,
            payload_bytes: 0,
            retain_until: None,
            retention_mode: None,
            legal_hold: None,
            signer: None,
            problems: vec![],
        }
    }
}

/// Tag files are small; refuse to hold more than this of one in memory.
const MAX_TAG_FILE: u64 = 256 << 20;

/// Verifies a bundle. `Err` only when it cannot be read at all (exit 2).
pub fn verify(path: &Path, keys: &[VerifyingKey]) -> Result<VerifyReport, EvidenceError> {
    let shown = path.display().to_string();
    let file = crate::io::fsio::open(path)
        .map_err(|e| file_err(&shown, crate::io::store::io_message(&e)))?;
    let (declared, layout) =
        check_layout(&file).map_err(|e| file_err(&shown, format!("not a readable zip: {e}")))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| file_err(&shown, format!("not a readable zip: {e}")))?;
    let mut problems: Vec<String> = layout
        .into_iter()
        .map(|p| format!("zip layout: {p}"))
        .collect();
    // The zip crate keeps one entry per name: more records than entries means duplicates.
    if declared != zip.len() as u64 {
        problems.push(format!(
            "the central directory has {declared} records for {} distinct names: duplicate entry names",
            zip.len()
        ));
    }
    let mut report = VerifyReport::not_verified();
    let (entries, top) = list_entries(&mut zip, &shown, &mut problems)?;
    if top.len() != 1 {
        problems.push(format!(
            "the zip must hold one bag directory, it holds {}",
            top.len()
        ));
        report.problems = problems;
        return Ok(report);
    }
    let bag = top.into_iter().next().unwrap_or_default();
    report.bag = Some(bag.clone());
    let prefix = format!("{bag}/");
    let tag = read_tags(&mut zip, &entries, &prefix, &shown, &mut problems)?;
    let oxum = check_tags(&tag, keys, &entries, &prefix, &mut report, &mut problems);
    // 4. Every payload file is in the manifest with the right hash, and nothing else is there.
    let manifest = tag
        .get("manifest-sha256.txt")
        .map(|m| parse_manifest(m))
        .unwrap_or_default();
    check_payload(
        &mut zip,
        &entries,
        &prefix,
        &manifest,
        &shown,
        &mut report,
        &mut problems,
    )?;
    if let Some(o) = &oxum {
        let want = format!("{}.{}", report.payload_bytes, report.files);
        if *o != want {
            problems.push(format!(
                "{prefix}bag-info.txt: Payload-Oxum {o} but the payload is {want}"
            ));
        }
    } else if tag.contains_key("bag-info.txt") {
        problems.push(format!("{prefix}bag-info.txt: no Payload-Oxum"));
    }
    problems.extend(extra_files(&entries, &prefix));
    report.verdict = if problems.is_empty() {
        VerifyVerdict::Verified
    } else {
        VerifyVerdict::NotVerified
    };
    report.problems = problems;
    Ok(report)
}

/// Entry name to (index, declared size) for the zip's files.
type Entries = BTreeMap<String, (usize, u64)>;

/// Entry names first, from the central directory, before reading any content: the files
/// and the top-level names (one bag directory is expected). Unsafe names, links,
/// encrypted and duplicate entries are problems.
fn list_entries(
    zip: &mut zip::ZipArchive<crate::io::fsio::File>,
    shown: &str,
    problems: &mut Vec<String>,
) -> Result<(Entries, BTreeSet<String>), EvidenceError> {
    let mut entries = Entries::new();
    let mut top: BTreeSet<String> = BTreeSet::new();
    for i in 0..zip.len() {
        let e = zip
            .by_index_raw(i)
            .map_err(|e| file_err(shown, format!("unreadable entry {i}: {e}")))?;
        let name = String::from_utf8_lossy(e.name_raw()).into_owned();
        if let Some(p) = entry_name_problem(&name) {
            problems.push(p);
            continue;
        }
        if e.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            problems.push(format!("{name}: symbolic link entries are not allowed"));
            continue;
        }
        if e.encrypted() {
            problems.push(format!("{name}: encrypted entries are not allowed"));
            continue;
        }
        if e.is_dir() {
            continue;
        }
        if entries.insert(name.clone(), (i, e.size())).is_some() {
            problems.push(format!("{name}: duplicate entry"));
        }
        top.insert(name.split('/').next().unwrap_or("").to_string());
    }
    Ok((entries, top))
}

/// Why an entry name must not be extracted (absolute, `..`, a drive, a NUL), if it must not.
fn entry_name_problem(name: &str) -> Option<String> {
    let unsafe_name = name.starts_with('/')
        || name.contains('\\')
        || name.split('/').any(|s| s == ".." || s == ".")
        || name.get(1..2) == Some(":")
        || name.contains('\0');
    unsafe_name.then(|| format!("{name:?}: unsafe entry name"))
}

/// The tag files, each read whole but refused past its declared size or [`MAX_TAG_FILE`].
fn read_tags(
    zip: &mut zip::ZipArchive<crate::io::fsio::File>,
    entries: &Entries,
    prefix: &str,
    shown: &str,
    problems: &mut Vec<String>,
) -> Result<BTreeMap<&'static str, Vec<u8>>, EvidenceError> {
    let mut tag = BTreeMap::new();
    for t in REQUIRED_TAGS.iter().chain([&TAG_MANIFEST, &SIGNATURE]) {
        let name = format!("{prefix}{t}");
        let Some(&(i, size)) = entries.get(&name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        if size > MAX_TAG_FILE {
            problems.push(format!("{name}: {size} bytes is too large for a tag file"));
            continue;
        }
        let mut f = zip
            .by_index(i)
            .map_err(|e| file_err(shown, format!("{name}: {e}")))?;
        let mut out = Vec::new();
        match (&mut f).take(size + 1).read_to_end(&mut out) {
            Ok(_) if out.len() as u64 > size => {
                problems.push(format!("{name}: inflates past its declared size"))
            }
            Ok(_) if (out.len() as u64) < size => {
                problems.push(format!("{name}: shorter than its declared size"))
            }
            Ok(_) => {
                tag.insert(*t, out);
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    Ok(tag)
}

/// Checks 1–3, on the tag files' bytes alone: the signature over the tag manifest, the
/// tag manifest against the tag files, and the facts of `bag-info.txt` (into `report`).
/// Returns the Payload-Oxum to check against the payload.
fn check_tags(
    tag: &BTreeMap<&'static str, Vec<u8>>,
    keys: &[VerifyingKey],
    entries: &Entries,
    prefix: &str,
    report: &mut VerifyReport,
    problems: &mut Vec<String>,
) -> Option<String> {
    // 1. The signature over the tag manifest.
    if let (Some(tm), Some(sig)) = (tag.get(TAG_MANIFEST), tag.get(SIGNATURE)) {
        let mut last = String::new();
        let ok = keys
            .iter()
            .find(|k| match k.verify(EVIDENCE_NAMESPACE, tm, sig) {
                Ok(()) => true,
                Err(e) => {
                    last = e;
                    false
                }
            });
        match ok {
            Some(k) => report.signer = Some(k.fingerprint()),
            None => problems.push(format!("{prefix}{SIGNATURE}: {last}")),
        }
    }
    // 2. The tag manifest covers the required tag files, and their hashes match.
    if let Some(tm) = tag.get(TAG_MANIFEST) {
        let listed = parse_manifest(tm);
        for t in REQUIRED_TAGS {
            match (listed.get(t), tag.get(t)) {
                (None, _) => problems.push(format!("{prefix}{TAG_MANIFEST}: does not list {t}")),
                (Some(h), Some(data)) if *h != hex(&Sha256::digest(data)) => {
                    problems.push(format!("{prefix}{t}: does not match {TAG_MANIFEST}"))
                }
                _ => {}
            }
        }
        for name in listed.keys() {
            if !REQUIRED_TAGS.contains(&name.as_str())
                && !entries.contains_key(&format!("{prefix}{name}"))
            {
                problems.push(format!(
                    "{prefix}{name}: listed in {TAG_MANIFEST} but missing"
                ));
            }
        }
    }
    // 3. bag-info.txt facts.
    let mut oxum = None;
    if let Some(info) = tag.get("bag-info.txt") {
        for line in String::from_utf8_lossy(info).lines() {
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim().to_string();
                match k.trim() {
                    "Payload-Oxum" => oxum = Some(v),
                    "Retain-Until" => report.retain_until = Some(v),
                    "Retention-Mode" => report.retention_mode = Some(v.to_lowercase()),
                    "Legal-Hold" => report.legal_hold = v.parse().ok(),
                    _ => {}
                }
            }
        }
    }
    oxum
}

/// Every payload file (`data/…`) streamed through SHA-256 against the manifest; files
/// the manifest lists that are not there. Counts files and bytes into `report`.
fn check_payload(
    zip: &mut zip::ZipArchive<crate::io::fsio::File>,
    entries: &Entries,
    prefix: &str,
    manifest: &BTreeMap<String, String>,
    shown: &str,
    report: &mut VerifyReport,
    problems: &mut Vec<String>,
) -> Result<(), EvidenceError> {
    let payload: Vec<(String, usize, u64)> = entries
        .iter()
        .filter_map(|(n, &(i, size))| {
            n.strip_prefix(prefix)
                .filter(|r| r.starts_with("data/"))
                .map(|r| (r.to_string(), i, size))
        })
        .collect();
    let mut buf = vec![0u8; 1 << 20];
    for (name, i, size) in &payload {
        report.files += 1;
        report.payload_bytes += size;
        let Some(want) = manifest.get(name) else {
            problems.push(format!(
                "{prefix}{name}: not in manifest-sha256.txt (an added file)"
            ));
            continue;
        };
        let mut f = zip
            .by_index(*i)
            .map_err(|e| file_err(shown, format!("{name}: {e}")))?;
        let mut sha = Sha256::new();
        let mut got = 0u64;
        let mut limited = (&mut f).take(size + 1);
        let failed = loop {
            match limited.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    got += n as u64;
                    sha.update(&buf[..n]);
                }
                Err(e) => break Some(e.to_string()),
            }
        };
        if let Some(e) = failed {
            problems.push(format!("{prefix}{name}: {e}"));
        } else if got > *size {
            problems.push(format!("{prefix}{name}: inflates past its declared size"));
        } else if hex(&sha.finalize()) != *want {
            problems.push(format!(
                "{prefix}{name}: does not match manifest-sha256.txt"
            ));
        }
    }
    let present: BTreeSet<&str> = payload.iter().map(|(n, _, _)| n.as_str()).collect();
    for name in manifest.keys() {
        if !present.contains(name.as_str()) {
            problems.push(format!(
                "{prefix}{name}: listed in manifest-sha256.txt but missing"
            ));
        }
    }
    Ok(())
}

/// 5. Nothing besides the bag's own files.
fn extra_files(entries: &Entries, prefix: &str) -> Vec<String> {
    entries
        .keys()
        .filter(|name| {
            let rel = name.strip_prefix(prefix).unwrap_or(name);
            let known = rel.starts_with("data/")
                || REQUIRED_TAGS.contains(&rel)
                || rel == TAG_MANIFEST
                || rel == SIGNATURE;
            !known
        })
        .map(|name| format!("{name}: an extra file outside the manifests"))
        .collect()
}

/// Every byte of a zip accounted for: the local entries lie back to back from byte 0 in
/// central-directory order of offsets, each local header naming the file its central
/// record names with the same CRC and sizes (in its data descriptor when it has one),
/// then the central directory, the ZIP64 records if any, and the end record ending the
/// file. `unzip` warns about each way this can fail (bytes prepended, a local name that
/// differs, an entry only local headers know); the zip crate alone reads past them.
/// Returns the number of central-directory records (the zip crate keeps one entry per
/// name, so more records than its entries means duplicate names) and the problems.
fn check_layout(file: &crate::io::fsio::File) -> Result<(u64, Vec<String>), String> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let read = |at: u64, n: usize| -> Result<Vec<u8>, String> {
        let mut b = vec![0u8; n];
        file.read_exact_at(&mut b, at)
            .map_err(|_| format!("a record at byte {at} runs past the end"))?;
        Ok(b)
    };
    let mut problems = Vec::new();
    let dir = end_records(len, &read, &mut problems)?;
    let cd = read(dir.at, dir.size as usize)?;
    let mut records = central_records(&cd, dir.count, dir.shift, &mut problems)?;
    local_entries(len, &read, &mut records, &dir, &mut problems)?;
    Ok((dir.count, problems))
}

/// Little-endian integers of a record.
fn le16(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn le32(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

fn le64(b: &[u8], i: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(x)
}

/// Reads `n` bytes at an offset of the zip.
type ReadAt<'a> = dyn Fn(u64, usize) -> Result<Vec<u8>, String> + 'a;

/// Where the central directory is, as its end records say and as it really lies.
struct Directory {
    count: u64,
    size: u64,
    /// Where it really is: right before its end records.
    at: u64,
    /// Bytes prepended to the archive (every offset is off by as much).
    shift: u64,
}

/// One central-directory record: (local offset, name, crc, compressed, uncompressed).
struct CentralRecord {
    offset: u64,
    name: Vec<u8>,
    crc: u64,
    csize: u64,
    usize_: u64,
}

/// The end record (which must end the file, its comment included) and the ZIP64 end
/// records when the sizes need them.
fn end_records(
    len: u64,
    read: &ReadAt<'_>,
    problems: &mut Vec<String>,
) -> Result<Directory, String> {
    // The end record, which must end the file (its comment included).
    let tail_len = len.min(65_557);
    let tail = read(len - tail_len, tail_len as usize)?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == *b"PK\x05\x06")
        .ok_or("no end of central directory record")?;
    let eocd = len - tail_len + at as u64;
    let comment = le16(&tail, at + 20);
    if eocd + 22 + comment != len {
        problems.push(format!(
            "{} byte(s) follow the end of central directory record",
            len.saturating_sub(eocd + 22 + comment)
        ));
    }
    let (mut count, mut cd_size, mut cd_at) = (
        le16(&tail, at + 10),
        le32(&tail, at + 12),
        le32(&tail, at + 16),
    );
    let mut cd_end_expected = eocd;
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_at == 0xFFFF_FFFF {
        let loc = eocd.checked_sub(20).ok_or("no ZIP64 locator")?;
        let l = read(loc, 20)?;
        if l[..4] != *b"PK\x06\x07" {
            return Err("no ZIP64 locator".into());
        }
        let rec_at = le64(&l, 8);
        let rec = read(rec_at, 56)?;
        if rec[..4] != *b"PK\x06\x06" {
            return Err("bad ZIP64 end of central directory record".into());
        }
        if rec_at.saturating_add(12).saturating_add(le64(&rec, 4)) != loc {
            problems.push("bytes lie between the ZIP64 end records".into());
        }
        count = le64(&rec, 32);
        cd_size = le64(&rec, 40);
        cd_at = le64(&rec, 48);
        cd_end_expected = rec_at;
    }
    // Where the directory really is: right before its end records. Bytes prepended to the
    // archive shift everything by as much.
    let actual_cd = cd_end_expected
        .checked_sub(cd_size)
        .ok_or("the central directory is larger than the file")?;
    let shift = actual_cd.saturating_sub(cd_at);
    if actual_cd > cd_at {
        problems.push(format!("{shift} byte(s) precede the archive"));
    } else if actual_cd < cd_at {
        problems.push("the central directory overlaps its end record".into());
    }
    let cd_at = actual_cd;
    if cd_size > 64 << 20 {
        return Err(format!(
            "a central directory of {cd_size} bytes is too large"
        ));
    }
    Ok(Directory {
        count,
        size: cd_size,
        at: cd_at,
        shift,
    })
}

/// The central directory's records, from its bytes alone (ZIP64 extras applied, offsets
/// moved by `shift`); bytes past the last record are a problem.
fn central_records(
    cd: &[u8],
    count: u64,
    shift: u64,
    problems: &mut Vec<String>,
) -> Result<Vec<CentralRecord>, String> {
    let mut records = Vec::new();
    let mut p = 0usize;
    for _ in 0..count {
        if p + 46 > cd.len() || cd[p..p + 4] != *b"PK\x01\x02" {
            return Err("a central directory record is malformed".into());
        }
        let (crc, mut csize, mut usize_) = (le32(cd, p + 16), le32(cd, p + 20), le32(cd, p + 24));
        let (n, x, c) = (
            le16(cd, p + 28) as usize,
            le16(cd, p + 30) as usize,
            le16(cd, p + 32) as usize,
        );
        let mut offset = le32(cd, p + 42);
        let end = p + 46 + n + x + c;
        if end > cd.len() {
            return Err("a central directory record runs past the directory".into());
        }
        let name = cd[p + 46..p + 46 + n].to_vec();
        // ZIP64 extra: the 8-byte values present for the fields saturated above.
        let mut e = p + 46 + n;
        while e + 4 <= p + 46 + n + x {
            let (id, size) = (le16(cd, e), le16(cd, e + 2) as usize);
            let body = e + 4..(e + 4 + size).min(p + 46 + n + x);
            if id == 1 {
                let mut q = body.start;
                for v in [&mut usize_, &mut csize, &mut offset] {
                    if *v == 0xFFFF_FFFF && q + 8 <= body.end {
                        *v = le64(cd, q);
                        q += 8;
                    }
                }
            }
            e += 4 + size;
        }
        records.push(CentralRecord {
            offset: offset.saturating_add(shift),
            name,
            crc,
            csize,
            usize_,
        });
        p = end;
    }
    if p != cd.len() {
        problems.push("the central directory holds bytes past its records".into());
    }
    Ok(records)
}

/// The local entries, back to back from the first offset, each with the name, CRC and
/// sizes its central record gives, up to the central directory.
fn local_entries(
    len: u64,
    read: &ReadAt<'_>,
    records: &mut [CentralRecord],
    dir: &Directory,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    records.sort_by_key(|r| r.offset);
    let mut at = dir.shift;
    let cd_at = dir.at;
    for r in records.iter() {
        let (offset, name, crc, csize, usize_) = (&r.offset, &r.name, &r.crc, &r.csize, &r.usize_);
        let shown = String::from_utf8_lossy(name);
        if *offset != at {
            problems.push(if *offset > at {
                format!(
                    "{} byte(s) before {shown} belong to no entry of the central directory",
                    offset - at
                )
            } else {
                format!("{shown} overlaps the entry before it")
            });
        }
        let h = read(*offset, 30)?;
        if h[..4] != *b"PK\x03\x04" {
            problems.push(format!(
                "{shown}: no local header where the central directory says"
            ));
            return Ok(());
        }
        let flags = le16(&h, 6);
        let (n, x) = (le16(&h, 26), le16(&h, 28));
        let local_name = read(offset.saturating_add(30), n as usize)?;
        if local_name != *name {
            problems.push(format!(
                "{shown}: its local header names {:?}",
                String::from_utf8_lossy(&local_name)
            ));
        }
        // Sizes come from the file: saturate, a huge one then fails the checks below.
        let data_end = offset.saturating_add(30 + n + x).saturating_add(*csize);
        let (lcrc, lc, lu, mut next) = if flags & 0x8 != 0 {
            // A data descriptor after the data: optional signature, CRC, sizes (4 or 8
            // bytes each: 8 when the entry needs ZIP64). The local header's own CRC and
            // sizes are then zero (APPNOTE 4.4.4); readers ignore them, so a changed byte
            // there would pass unseen.
            if (le32(&h, 14), le32(&h, 18), le32(&h, 22)) != (0, 0, 0) {
                problems.push(format!(
                    "{shown}: its local header carries a CRC or sizes though a data descriptor follows"
                ));
            }
            let wide = *csize >= 0xFFFF_FFFF || *usize_ >= 0xFFFF_FFFF;
            let d = read(data_end, 24.min((len - data_end.min(len)) as usize))?;
            let s = if d.len() >= 4 && d[..4] == *b"PK\x07\x08" {
                4
            } else {
                0
            };
            let need = s + if wide { 20 } else { 12 };
            if d.len() < need {
                problems.push(format!("{shown}: its data descriptor runs past the end"));
                return Ok(());
            }
            if wide {
                (
                    le32(&d, s),
                    le64(&d, s + 4),
                    le64(&d, s + 12),
                    data_end.saturating_add(need as u64),
                )
            } else {
                (
                    le32(&d, s),
                    le32(&d, s + 4),
                    le32(&d, s + 8),
                    data_end.saturating_add(need as u64),
                )
            }
        } else {
            let (mut lc, mut lu) = (le32(&h, 18), le32(&h, 22));
            if lc == 0xFFFF_FFFF || lu == 0xFFFF_FFFF {
                let extra = read(offset.saturating_add(30 + n), x as usize)?;
                let mut e = 0usize;
                while e + 4 <= extra.len() {
                    let (id, size) = (le16(&extra, e), le16(&extra, e + 2) as usize);
                    if id == 1 && e + 4 + 16 <= extra.len() {
                        lu = le64(&extra, e + 4);
                        lc = le64(&extra, e + 12);
                    }
                    e += 4 + size;
                }
            }
            (le32(&h, 14), lc, lu, data_end)
        };
        if (lcrc, lc, lu) != (*crc, *csize, *usize_) {
            problems.push(format!(
                "{shown}: its local header's CRC or sizes differ from the central directory's"
            ));
        }
        if next > cd_at {
            problems.push(format!("{shown} runs into the central directory"));
            next = cd_at;
        }
        at = next;
    }
    if at != cd_at {
        problems.push(format!(
            "{} byte(s) before the central directory belong to no entry of it (an entry only local headers know?)",
            cd_at.saturating_sub(at)
        ));
    }
    Ok(())
}

/// `hash  path` lines into path -> hash (paths decoded).
fn parse_manifest(data: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(data)
        .lines()
        .filter_map(|l| {
            let (h, p) = l.split_once(char::is_whitespace)?;
            Some((decode_manifest_path(p.trim_start()), h.to_ascii_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_central_directory_is_read_from_its_bytes_alone() {
        let mut problems = Vec::new();
        let e = central_records(b"PK\x01\x02 too short", 1, 0, &mut problems).err();
        assert_eq!(
            e.as_deref(),
            Some("a central directory record is malformed")
        );
        assert!(
            central_records(b"xx", 0, 0, &mut problems)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            problems,
            ["the central directory holds bytes past its records"]
        );
        // One record for "a.txt" (crc 7, sizes 3 and 5, local offset 9), moved by a shift.
        let mut cd = b"PK\x01\x02".to_vec();
        cd.extend([0u8; 12]);
        cd.extend(7u32.to_le_bytes());
        cd.extend(3u32.to_le_bytes());
        cd.extend(5u32.to_le_bytes());
        cd.extend(5u16.to_le_bytes());
        cd.extend([0u8; 12]);
        cd.extend(9u32.to_le_bytes());
        cd.extend(b"a.txt");
        let mut problems = Vec::new();
        let r = central_records(&cd, 1, 100, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((r[0].offset, r[0].name.as_slice()), (109, &b"a.txt"[..]));
        assert_eq!((r[0].crc, r[0].csize, r[0].usize_), (7, 3, 5));
    }

    #[test]
    fn verification_steps_decide_without_a_zip() {
        for bad in ["/etc/p", "a/../b", "a\\b", "c:x", "a/./b", "a\0b"] {
            assert!(entry_name_problem(bad).is_some(), "{bad}");
        }
        assert!(entry_name_problem("bag/data/x.log").is_none());
        let entries: Entries = [
            ("bag/data/x.log", (0, 3)),
            ("bag/bagit.txt", (1, 3)),
            ("bag/tagmanifest-sha256.txt.sig", (2, 3)),
            ("bag/notes.txt", (3, 3)),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        assert_eq!(
            extra_files(&entries, "bag/"),
            ["bag/notes.txt: an extra file outside the manifests"]
        );
        // The tag checks on bytes alone: no signature, a tag file the manifest does not
        // list, one whose hash differs, bag-info facts read.
        let mut tag = BTreeMap::new();
        tag.insert("bagit.txt", b"BagIt-Version: 1.0\n".to_vec());
        tag.insert(
            "bag-info.txt",
            b"Payload-Oxum: 3.1\nRetain-Until: 2033-11-27\n".to_vec(),
        );
        tag.insert(
            TAG_MANIFEST,
            format!("{}  bagit.txt\n", "0".repeat(64)).into_bytes(),
        );
        let mut report = VerifyReport::not_verified();
        let mut problems = Vec::new();
        let oxum = check_tags(&tag, &[], &entries, "bag/", &mut report, &mut problems);
        assert_eq!(oxum.as_deref(), Some("3.1"));
        assert_eq!(report.retain_until.as_deref(), Some("2033-11-27"));
        assert_eq!(
            problems,
            [
                "bag/bagit.txt: does not match tagmanifest-sha256.txt",
                "bag/tagmanifest-sha256.txt: does not list bag-info.txt",
                "bag/tagmanifest-sha256.txt: does not list manifest-sha256.txt",
            ]
        );
    }

    #[test]
    fn the_layout_check_survives_any_size_or_offset() {
        // A small zip (stored and deflated entries, one with a data descriptor), then every
        // 4-byte field set to 0xFFFFFFFF in turn: the check errs or reports, never panics.
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let o = zip::write::SimpleFileOptions::default();
            z.start_file("b/a.txt", o).unwrap();
            z.write_all(b"hello").unwrap();
            // ZIP64 extra fields: the 8-byte sizes and offsets an attacker sets too.
            z.start_file(
                "b/c.txt",
                o.compression_method(zip::CompressionMethod::Stored)
                    .large_file(true),
            )
            .unwrap();
            z.write_all(b"world").unwrap();
            z.finish().unwrap();
        }
        let zip = buf.into_inner();
        let dir = std::env::temp_dir().join(format!("vouch-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("z.zip");
        std::fs::write(&path, &zip).unwrap();
        let (count, problems) = check_layout(&crate::io::fsio::open(&path).unwrap()).unwrap();
        assert_eq!((count, problems.len()), (2, 0), "{problems:?}");
        for width in [4, 8] {
            for at in 0..zip.len().saturating_sub(width) {
                let mut bad = zip.clone();
                bad[at..at + width].fill(0xFF);
                std::fs::write(&path, &bad).unwrap();
                let _ = check_layout(&crate::io::fsio::open(&path).unwrap());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_adds_calendar_years() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(retain_until(d(2026, 11, 27), 7), d(2033, 11, 27));
        assert_eq!(retain_until(d(2024, 2, 29), 7), d(2031, 2, 28));
        assert_eq!(retain_until(d(2024, 2, 29), 4), d(2028, 2, 29));
        assert_eq!(retain_until(d(2026, 12, 31), 0), d(2026, 12, 31));
    }

    #[test]
    fn manifest_paths_round_trip() {
        let p = "data/odd%name\nwith\rbreaks";
        assert_eq!(decode_manifest_path(&manifest_path(p)), p);
        let m = parse_manifest(b"ABC  data/a%25b\ndef data/c d\n");
        assert_eq!(m.get("data/a%b").map(String::as_str), Some("abc"));
        assert_eq!(m.get("data/c d").map(String::as_str), Some("def"));
    }
}
