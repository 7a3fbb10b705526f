//! Lake layout: which tables a location holds, which files belong to each, and the Hive
//! partitions of each file.
//!
//! Conventions (docs/scan.md), which are what the engines do: each immediate child directory
//! of the location is a table (`_backup` too; `.` names are not); every file below it at
//! any depth is one of its data files, whatever its name (Athena and Trino write files
//! without an extension, Hive `000000_0`), except names the engines skip ([`is_hidden`]:
//! `_` and `.` names, but `_key=value` partition directories are read) and known side
//! files by name ([`DEFAULT_SIDE_FILES`], plus `[lake] side_files`). A data file is Parquet
//! by content or an error of the scan. `key=value` path segments are partitions. A file
//! lying in the location itself belongs to no table and is an error, never skipped. A file
//! reached by two paths (symbolic or hard links) is listed once; the other path is an
//! [`Alias`]. `[[lake.tables]]` entries rename tables, point them at other paths and set
//! their identifier columns. Listing goes through [`Store`]; of file contents this module
//! reads only the last four bytes of files named like side files (a Parquet file so named
//! is data: an engine reads it).

use std::collections::HashMap;

use crate::domain::config::LakeConfig;
use crate::io::store::{ObjectMeta, Store, StoreError};

/// Side files that hold no rows, known by name, unless they end with a Parquet magic (a
/// pattern without `/` matches the file
/// name, one with `/` the path below the table; `*` matches within one name): checksums,
/// Athena's UNLOAD manifests, EMR's `$folder$` markers, Delta deletion vectors (row
/// positions only) and the metadata of an Iceberg table.
pub const DEFAULT_SIDE_FILES: &[&str] = &[
    "*.crc",
    "*-manifest.csv",
    "*_$folder$",
    "deletion_vector_*.bin",
    "metadata/*.metadata.json",
    "metadata/*.avro",
    "metadata/*.puffin",
    "metadata/version-hint.text",
];

/// One table of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Relative path of the table's directory in the store.
    pub path: String,
    pub id_columns: Vec<String>,
    /// Patterns of side files beyond [`DEFAULT_SIDE_FILES`] (`[lake] side_files`).
    pub side_files: Vec<String>,
    /// The configured format (`delta`, `iceberg`, `parquet`); None: known by its files.
    pub format: Option<String>,
    /// An Iceberg table's current metadata file below the table (a catalog's pointer):
    /// read instead of the newest one its `metadata/` directory holds.
    pub metadata_location: Option<String>,
}

/// A path that leads to a file already listed (in this table or another): read once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alias {
    pub file: String,
    /// The path the file was listed and read under.
    pub same_as: String,
    /// The table of `same_as` when it is another table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as_table: Option<String>,
}

/// A table with its files, as listed.
#[derive(Debug, Clone)]
pub struct TableFiles {
    pub table: Table,
    pub files: Vec<ObjectMeta>,
    pub errors: Vec<StoreError>,
    pub aliases: Vec<Alias>,
    /// The table's format (a Delta log, Iceberg metadata), when it has one: what each
    /// file is to it.
    pub view: Option<Box<crate::domain::format::TableView>>,
    /// The format and version a plan recorded for the table (a merge has the plan, not
    /// the view); None when `view` says it or the table has no format.
    pub planned_format: Option<(String, u64)>,
    /// Where the table's files really are, when its paths are not their places (a
    /// catalog's table): (directory, location), see [`Store::locations`].
    pub locations: Vec<(String, String)>,
}

/// The tables of a lake, and what in its location belongs to no table.
#[derive(Debug, Clone, Default)]
pub struct Lake {
    pub tables: Vec<Table>,
    /// Files lying in the location itself, entries that cannot be followed or named.
    pub errors: Vec<StoreError>,
}

/// Finds the tables of the lake: configured ones, then undeclared child directories.
/// An error means the location itself could not be listed.
pub fn discover_tables(store: &dyn Store, cfg: &LakeConfig) -> Result<Lake, StoreError> {
    let root = store.root_entries()?;
    let mut tables: Vec<Table> = Vec::new();
    let mut claimed = std::collections::HashSet::new();
    for t in &cfg.tables {
        let path = t
            .path
            .clone()
            .unwrap_or_else(|| t.name.clone())
            .trim_matches('/')
            .to_string();
        claimed.insert(path.clone());
        tables.push(Table {
            name: t.name.clone(),
            path,
            id_columns: t
                .id_columns
                .clone()
                .unwrap_or_else(|| cfg.id_columns.clone()),
            side_files: cfg.side_files.clone(),
            format: t.format.clone(),
            metadata_location: t.metadata_location.clone(),
        });
    }
    for d in root.dirs {
        if !claimed.contains(&d) {
            tables.push(Table {
                name: d.clone(),
                path: d,
                id_columns: cfg.id_columns.clone(),
                side_files: cfg.side_files.clone(),
                format: None,
                metadata_location: None,
            });
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut errors = root.errors;
    for f in root.files {
        if claimed.contains(&f)
            || crate::io::store::is_hidden(&f)
            || is_side_file(&f, &cfg.side_files)
        {
            continue;
        }
        errors.push(StoreError::new(
            f,
            "a file in the lake location itself belongs to no table, so it was not checked: \
             move it into a table directory (or add its name to [lake] side_files if it holds no rows)",
        ));
    }
    Ok(Lake { tables, errors })
}

/// Whether `rel` (a path below a table) is a side file by name.
pub fn is_side_file(rel: &str, extra: &[String]) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    DEFAULT_SIDE_FILES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|p| {
            if p.contains('/') {
                glob_match(p, rel)
            } else {
                glob_match(p, name)
            }
        })
}

/// `*` matches any run of bytes other than `/`, `?` one such byte. Byte-wise and without
/// allocating: it runs for every listed file.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] || (p[pi] == b'?' && t[ti] != b'/')) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star
            && t[st] != b'/'
        {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Lists the data files of a table; with `versions`, every stored version of each. A file
/// reached by a second path within the table is listed once (see [`list_tables`] for
/// files shared between tables).
pub fn list_table(store: &dyn Store, table: &Table, versions: bool) -> TableFiles {
    let mut listed = [list_paths(store, table, versions)];
    read_each_file_once(&mut listed);
    let [one] = listed;
    one
}

/// A table's data files by every path they are reached through.
fn list_paths(store: &dyn Store, table: &Table, versions: bool) -> TableFiles {
    use crate::domain::{delta, iceberg};
    let want = table.format.as_deref();
    let (may_be_delta, may_be_iceberg) = (
        matches!(want, None | Some("delta")),
        matches!(want, None | Some("iceberg")),
    );
    let list_files = || {
        if versions {
            store.list_versions(&table.path)
        } else {
            store.list(&table.path)
        }
    };
    // On a remote store each listing is a round trip or more: the table's `_delta_log/`
    // and `metadata/` (what tells its format) are listed while its files are, not after.
    let (listing, delta_log, metadata) = if store.is_remote() {
        std::thread::scope(|s| {
            let log = may_be_delta
                .then(|| s.spawn(|| store.list_if_present(&delta::log_dir(&table.path))));
            let meta = may_be_iceberg
                .then(|| s.spawn(|| store.list_if_present(&iceberg::metadata_dir(&table.path))));
            let listing = list_files();
            let joined = |h: std::thread::ScopedJoinHandle<'_, crate::io::store::Listing>| {
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            (listing, log.map(joined), meta.map(joined))
        })
    } else {
        (list_files(), None, None)
    };
    fn below<'p>(table: &str, p: &'p str) -> &'p str {
        p.strip_prefix(table).unwrap_or(p).trim_start_matches('/')
    }
    let mut errors = listing.errors;
    // The listing's own list becomes the table's files, side files taken out in place:
    // a second list of a million files would double what the listing holds.
    let mut files = listing.objects;
    // A name is not proof: a Parquet file named like a side file is read by the engines
    // as data, so it is data here too. Each is known by its last bytes: one read each,
    // side by side on a remote store (an Iceberg table's metadata files are many).
    let named: Vec<usize> = (0..files.len())
        .filter(|&i| is_side_file(below(&table.path, &files[i].path), &table.side_files))
        .collect();
    let at_once = if store.is_remote() {
        store.parallelism()
    } else {
        1
    };
    let mut tails = side_by_side(&named, at_once, |&i| parquet_by_tail(store, &files[i]))
        .into_iter()
        .zip(named.iter().copied())
        .peekable();
    let mut side = Vec::new();
    let mut i = 0;
    files.retain(|o| {
        let at = i;
        i += 1;
        let Some((tail, _)) = tails.next_if(|&(_, n)| n == at) else {
            return true;
        };
        match tail {
            Ok(true) => true,
            Ok(false) => {
                side.push(o.clone());
                false
            }
            Err(e) => {
                errors.push(e);
                false
            }
        }
    });
    use crate::domain::format::TableView;
    let delta = match (may_be_delta, delta_log) {
        (true, Some(log)) => delta::open_listed(store, &table.path, log),
        (true, None) => delta::open(store, &table.path),
        (false, _) => None,
    };
    if want == Some("delta") && delta.is_none() {
        errors.push(StoreError::new(
            table.path.clone(),
            "configured as a Delta table (format = \"delta\"), and it has no _delta_log/",
        ));
    }
    let view = match delta {
        Some(Err(e)) => {
            errors.push(StoreError::new(e.file, e.problem));
            None
        }
        Some(Ok(snapshot)) => Some(Box::new(TableView::Delta(delta_view(
            store,
            table,
            snapshot,
            side,
            &mut files,
            &mut errors,
            versions,
        )))),
        None if want == Some("parquet") || want == Some("delta") => None,
        None => iceberg_view(
            store,
            table,
            side,
            &mut files,
            &mut errors,
            want == Some("iceberg"),
            metadata,
        )
        .map(|v| Box::new(TableView::Iceberg(v))),
    };
    TableFiles {
        table: table.clone(),
        files,
        errors,
        aliases: Vec::new(),
        view,
        planned_format: None,
        locations: store.locations(&table.path),
    }
}

/// An Iceberg table's view, when the table has Iceberg metadata: its position-delete and
/// Puffin files leave the files to read (they hold no identifier values); a file of the
/// current snapshot storage lacks is an error.
fn iceberg_view(
    store: &dyn Store,
    table: &Table,
    side: Vec<ObjectMeta>,
    files: &mut Vec<ObjectMeta>,
    errors: &mut Vec<StoreError>,
    required: bool,
    metadata: Option<crate::io::store::Listing>,
) -> Option<crate::domain::iceberg::IcebergView> {
    use crate::domain::iceberg;
    let pinned = table.metadata_location.as_deref();
    let opened = match metadata {
        Some(listing) => iceberg::open_listed(store, &table.path, pinned, listing),
        None => iceberg::open(store, &table.path, pinned),
    };
    let Some(opened) = opened else {
        if required {
            errors.push(StoreError::new(
                table.path.clone(),
                "configured as an Iceberg table (format = \"iceberg\"), and it has no \
                 metadata/*.metadata.json",
            ));
        }
        return None;
    };
    let t = match opened {
        Ok(t) => t,
        Err(e) => {
            errors.push(StoreError::new(e.file, e.problem));
            return None;
        }
    };
    match crate::domain::iceberg::view(store, &table.path, t, files, &side, &table.id_columns) {
        Err(e) => {
            errors.push(StoreError::new(e.file, e.problem));
            None
        }
        Ok(v) => {
            files.retain(|o| !v.is_side(&o.path));
            errors.extend(v.missing(files));
            Some(v)
        }
    }
}

/// A Delta table's view: its change data files join the files to read (they hold rows
/// a change wrote); a live file storage lacks and an identifier column the table keeps in
/// its partition values (not in the files) are errors.
#[allow(clippy::too_many_arguments)]
fn delta_view(
    store: &dyn Store,
    table: &Table,
    snapshot: crate::domain::delta::Snapshot,
    side: Vec<ObjectMeta>,
    files: &mut Vec<ObjectMeta>,
    errors: &mut Vec<StoreError>,
    versions: bool,
) -> crate::domain::delta::DeltaView {
    let cdc_dir = format!("{}/_change_data", table.path);
    let cdc = if versions {
        store.list_versions(&cdc_dir)
    } else {
        store.list_if_present(&cdc_dir)
    };
    errors.extend(cdc.errors);
    // Side files by name (checksums) unless they are Parquet by content, as below the
    // table itself.
    let mut cdc_files = Vec::new();
    for o in cdc.objects {
        let name = o.path.rsplit('/').next().unwrap_or(&o.path).to_string();
        if !is_side_file(&name, &table.side_files) {
            cdc_files.push(o);
            continue;
        }
        match parquet_by_tail(store, &o) {
            Ok(true) => cdc_files.push(o),
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
    }
    let change_data = cdc_files.iter().map(|o| o.path.clone()).collect();
    files.extend(cdc_files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let view = crate::domain::delta::DeltaView {
        snapshot,
        table_path: table.path.clone(),
        dv_files: side.into_iter().map(|o| (o.path.clone(), o)).collect(),
        change_data,
    };
    errors.extend(view.missing(files));
    view
}

/// Whether a file ends with a Parquet magic (`PAR1`, or `PARE` when encrypted): its last
/// four bytes, the only contents this module reads.
fn parquet_by_tail(store: &dyn Store, o: &ObjectMeta) -> Result<bool, StoreError> {
    if o.size < 12 {
        return Ok(false); // too short for a magic, a footer length and a magic
    }
    let mut tail = Vec::with_capacity(4);
    store.open(o)?.read_into(o.size - 4, 4, &mut tail)?;
    Ok(tail == b"PAR1" || tail == b"PARE")
}

/// Lists every table; a file that two tables reach (a link from one into the other) is
/// read in one table only, and the other records where.
/// Tables are listed side by side, as many at a time as the store reads in parallel: a
/// table's listing is a few round trips one after another (its files, then `_delta_log/`
/// and `metadata/`), so on S3 a lake's tables took each other's round trips in turn.
pub fn list_tables(store: &dyn Store, tables: &[Table], versions: bool) -> Vec<TableFiles> {
    let mut listed = side_by_side(tables, store.parallelism(), |t| {
        list_paths(store, t, versions)
    });
    read_each_file_once(&mut listed);
    listed
}

/// `f` of each item, in order, worked out on at most `n` threads of their own (not
/// rayon's: what they wait on is the store, and the caller may be on rayon's pool). A
/// panic in `f` is the caller's, as it would be called in turn.
fn side_by_side<T: Sync, R: Send>(items: &[T], n: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = n.min(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Keeps one path per file (by device and inode) and makes the others [`Alias`]es. The
/// path kept is the first, in table and path order, that passes through no symbolic
/// link (the file's own place), else the first.
fn read_each_file_once(listed: &mut [TableFiles]) {
    let identity = |o: &ObjectMeta| Some((o.device()?, o.stat()?.inode));
    // The identities more than one path leads to, found by sorting them all (16 bytes a
    // file, where a map of every file took about 80): usually none (or no identity: S3).
    let shared: std::collections::HashSet<(u64, u64)> = {
        let mut ids: Vec<(u64, u64)> = listed
            .iter()
            .flat_map(|l| l.files.iter().filter_map(identity))
            .collect();
        ids.sort_unstable();
        ids.windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect()
    };
    if shared.is_empty() {
        return; // every file has one path
    }
    // (device, inode) -> the (table, file) read, and whether its path passes a link.
    let mut owner: HashMap<(u64, u64), (usize, usize, bool)> = HashMap::new();
    for (ti, lt) in listed.iter().enumerate() {
        for (fi, o) in lt.files.iter().enumerate() {
            if let Some(id) = identity(o).filter(|id| shared.contains(id)) {
                let e = owner.entry(id).or_insert((ti, fi, o.via_link()));
                if e.2 && !o.via_link() {
                    *e = (ti, fi, false);
                }
            }
        }
    }
    // Which files are another's path: (table, file) -> the path and table read instead.
    let mut aliased: HashMap<(usize, usize), Alias> = HashMap::new();
    for (ti, lt) in listed.iter().enumerate() {
        for (fi, o) in lt.files.iter().enumerate() {
            if let Some(&(t, f, _)) = identity(o).and_then(|id| owner.get(&id))
                && (t, f) != (ti, fi)
            {
                aliased.insert(
                    (ti, fi),
                    Alias {
                        file: o.path.clone(),
                        same_as: listed[t].files[f].path.clone(),
                        same_as_table: (t != ti).then(|| listed[t].table.name.clone()),
                    },
                );
            }
        }
    }
    for (ti, lt) in listed.iter_mut().enumerate() {
        let files = std::mem::take(&mut lt.files);
        for (fi, o) in files.into_iter().enumerate() {
            match aliased.remove(&(ti, fi)) {
                Some(a) => lt.aliases.push(a),
                None => lt.files.push(o),
            }
        }
        lt.aliases.sort_by(|a, b| a.file.cmp(&b.file));
    }
}

/// The `key=value` directory segments of a file's path below its table, joined by `/`
/// (`dt=2026-01-03/region=eu`), or None when unpartitioned.
pub fn partition_of(table_path: &str, file_path: &str) -> Option<String> {
    let rest = file_path.strip_prefix(table_path)?.trim_start_matches('/');
    let segs: Vec<&str> = rest.split('/').collect();
    let dirs = &segs[..segs.len().saturating_sub(1)];
    let parts: Vec<&str> = dirs.iter().copied().filter(|s| s.contains('=')).collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// The `key=value` partitions of a file's path below its table, values unescaped the way
/// Hive and Spark escape them (`%3D` is `=`), in path order.
pub fn partition_values(table_path: &str, file_path: &str) -> Vec<(String, String)> {
    let Some(rest) = file_path.strip_prefix(table_path) else {
        return Vec::new();
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    segs[..segs.len().saturating_sub(1)]
        .iter()
        .filter_map(|s| s.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

/// `path` as kept evidence shows it: with a subject key, the value of a partition named
/// like an identifier column (`user_id=42/`) is replaced by its keyed hash, so that
/// reports and certificates never hold a raw subject ID, whoever's it is.
pub fn label_path(
    path: &str,
    id_columns: &[String],
    labeler: &crate::domain::subjects::SubjectLabeler,
) -> String {
    if !labeler.is_keyed() || !path.contains('=') {
        return path.to_string();
    }
    let segs: Vec<&str> = path.split('/').collect();
    let last = segs.len().saturating_sub(1);
    segs.iter()
        .enumerate()
        .map(|(i, seg)| match seg.split_once('=') {
            Some((k, v))
                if i < last
                    && id_columns
                        .iter()
                        .any(|c| c.to_lowercase() == unescape(k).to_lowercase()) =>
            {
                format!("{k}={}", labeler.label(&unescape(v)))
            }
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Undoes Hive's `%XX` escaping of partition names and values.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Side by side, every item once, the results in the items' order, whatever the
    /// number of threads against the number of items.
    #[test]
    fn side_by_side_keeps_order_and_does_each_item_once() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        for (items, n) in [
            (0usize, 4usize),
            (1, 16),
            (3, 16),
            (100, 2),
            (100, 16),
            (7, 1),
        ] {
            calls.store(0, std::sync::atomic::Ordering::Relaxed);
            let v: Vec<usize> = (0..items).collect();
            let got = side_by_side(&v, n, |&x| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                x * 3
            });
            assert_eq!(got, v.iter().map(|x| x * 3).collect::<Vec<_>>());
            assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), items);
        }
    }

    #[test]
    fn side_files_are_known_by_name() {
        for side in [
            "part-0.parquet.crc",
            "20260101_x-manifest.csv",
            "dt=1_$folder$",
            "deletion_vector_0b1c.bin",
            "metadata/v3.metadata.json",
            "metadata/snap-1-1-x.avro",
        ] {
            assert!(is_side_file(side, &[]), "{side}");
        }
        for data in [
            "000000_0",
            "20260101_101010_00007_x8k2q_5b9e",
            "part-0.PARQUET",
            "part-0.parq",
            "dt=1/part-0.parquet.snappy",
            "dt=1/metadata/v3.metadata.json",
            "x.avro",
            "crc",
        ] {
            assert!(!is_side_file(data, &[]), "{data}");
        }
        assert!(is_side_file("dt=1/README.md", &["README*".into()]));
        assert!(is_side_file("notes/a.json", &["notes/*.json".into()]));
        assert!(!is_side_file("notes/x/a.json", &["notes/*.json".into()]));
    }

    #[test]
    fn identifier_partitions_are_labelled_in_kept_paths() {
        let l = crate::domain::subjects::SubjectLabeler::keyed(b"0123456789abcdef").unwrap();
        let ids = vec!["user_id".to_string()];
        let p = label_path("t/USER_ID=4%32/dt=1/user_id=9", &ids, &l);
        assert_eq!(
            p,
            format!("t/USER_ID={}/dt=1/user_id=9", l.label("42")),
            "the file name itself is not a partition"
        );
        assert!(!p.contains("=42"));
        let plain = crate::domain::subjects::SubjectLabeler::plain();
        assert_eq!(label_path("t/user_id=42/f", &ids, &plain), "t/user_id=42/f");
    }

    #[test]
    fn partition_values_are_unescaped() {
        assert_eq!(
            partition_values("t", "t/user_id=a%3Db/_dt=2026/f"),
            vec![
                ("user_id".to_string(), "a=b".to_string()),
                ("_dt".to_string(), "2026".to_string())
            ]
        );
        assert_eq!(partition_values("t", "t/f"), vec![]);
        assert_eq!(
            partition_values("t", "t/k=%zz%4/f"),
            vec![("k".to_string(), "%zz%4".to_string())]
        );
    }

    #[test]
    fn partitions_come_from_key_value_segments() {
        assert_eq!(
            partition_of("events", "events/dt=2026-01-03/part-0.parquet").as_deref(),
            Some("dt=2026-01-03")
        );
        assert_eq!(
            partition_of("events", "events/dt=2026-01-03/x/region=eu/p.parquet").as_deref(),
            Some("dt=2026-01-03/region=eu")
        );
        assert_eq!(partition_of("events", "events/part-0.parquet"), None);
        assert_eq!(
            partition_of("a/b", "a/b/k=v/f.parquet").as_deref(),
            Some("k=v")
        );
    }
}
