//! Entry points for the fuzz targets in `fuzz/` (cargo fuzz, nightly) and for
//! `tests/fuzz_corpus.rs`, which replays the committed corpus and every crash found on
//! stable: one function per parser of untrusted input, taking raw bytes.
//!
//! vouch contains the parquet crate's panics per file (they become errors); a panic in
//! vouch's own code is a bug, so [`abort_on_own_panics`] makes those abort under the fuzzer.

use std::path::PathBuf;
use std::sync::OnceLock;

/// A scratch directory per process for inputs the APIs read from files.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("vouch-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(d.join("lake/t"));
        d
    })
}

fn write(rel: &str, data: &[u8]) -> PathBuf {
    let p = scratch().join(rel);
    let _ = std::fs::write(&p, data);
    p
}

/// Whether a panic comes from vouch's own source rather than a dependency.
pub fn is_own_panic(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| {
        let f = l.file();
        !f.contains(".cargo/registry") && !f.contains("/rustc/") && f.contains("src/")
    })
}

/// Replaces the fuzzer's panic hook (which aborts on every panic) with one that aborts
/// only on panics from vouch's own source: a dependency's panic is caught by the scan and
/// becomes an error for that file, as in `vouch scan`.
pub fn abort_on_own_panics() {
    let fuzzer = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_own_panic(info) {
            fuzzer(info);
            std::process::abort();
        }
    }));
}

/// One Parquet file scanned for a few IDs in `user_id` (and `id`), as `vouch scan` would.
pub fn scan_file(data: &[u8]) {
    write("lake/t/f.parquet", data);
    let Ok(store) = crate::io::local::LocalStore::open(&scratch().join("lake")) else {
        return;
    };
    let subjects =
        crate::domain::subjects::SubjectList::of(["1", "42", "hostile-subject-0001", "user-00001"])
            .unwrap_or_default();
    let req = crate::domain::scan::ScanRequest {
        store: &store,
        lake: "lake".into(),
        tables: vec![crate::domain::lake::Table {
            name: "t".into(),
            path: "t".into(),
            id_columns: vec!["user_id".into(), "id".into()],
            side_files: vec![],
            format: None,
            metadata_location: None,
        }],
        subjects: &subjects,
        holds: Default::default(),
        labeler: crate::domain::subjects::SubjectLabeler::plain(),
        options: Default::default(),
        prior_errors: vec![],
        collect_rows: false,
        include_versions: false,
        index: None,
        recall: None,
        prescan: None,
    };
    let _ = crate::domain::scan::scan(&req, &crate::domain::scan::NoProgress);
}

/// An evidence bundle checked by `vouch evidence verify` (against a key that did not sign
/// it, and without keys).
pub fn evidence_verify(data: &[u8]) {
    static KEY: OnceLock<Option<crate::domain::keys::VerifyingKey>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let prefix = scratch().join("signing");
        crate::domain::keys::keygen(&prefix, None, true).ok()?;
        let public = PathBuf::from(format!("{}.pub", prefix.display()));
        crate::domain::keys::VerifyingKey::from_public_key_file(&public).ok()
    });
    let p = write("bundle.zip", data);
    let _ = crate::domain::evidence::verify(&p, key.as_slice());
    let _ = crate::domain::evidence::verify(&p, &[]);
}

/// An ID list (`--ids FILE`).
pub fn id_list(data: &[u8]) {
    let Ok(ids) = crate::domain::subjects::parse_id_list(&String::from_utf8_lossy(data)) else {
        return;
    };
    for kind in [
        crate::domain::scan::probe::IdKind::Bytes,
        crate::domain::scan::probe::IdKind::Int64 { signed: true },
        crate::domain::scan::probe::IdKind::Fixed {
            len: 16,
            uuid: true,
        },
    ] {
        let _ = crate::domain::scan::probe::Probe::new(kind, &ids);
    }
}

/// A `vouch.toml`.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cfg) = crate::domain::config::Config::parse(text)
    {
        let _ = cfg.subject_key(None);
    }
}

/// A CSV side table: a retention policy, a DSAR register (as the metrics read it), a
/// holiday list; and the ISO 8601 time parser on its own.
pub fn csv_table(data: &[u8]) {
    let p = write("table.csv", data);
    let _ = crate::io::tables::legal_holds(&p);
    let _ = crate::domain::metrics::input::load(
        &p,
        &crate::io::s3::S3Options::default(),
        &crate::domain::metrics::input::DSAR,
    );
    let _ = crate::domain::metrics::read_holidays(&p);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::domain::metrics::input::parse_time(s);
    }
}
