//! What each table of a Glue database is to vouch: where its files are, which format it
//! has, and why a table the catalog lists cannot be checked. Pure: it works on what
//! `io::glue` read from the catalog.
//!
//! - `table_type = ICEBERG` (a table parameter, any case): an Iceberg table whose current
//!   metadata is `metadata_location`; the table's root is the directory holding its
//!   `metadata/` directory.
//! - `table_type = DELTA` or `spark.sql.sources.provider = delta`: a Delta table at the
//!   SerDe's `path` (Spark keeps it there) or the storage location.
//! - Otherwise a Hive table at its storage location. Its partitions are what the catalog
//!   lists (a partition without a location is at the Hive default, `key=value` below the
//!   table); each is read under the path `key=value/...` named by the catalog's values,
//!   wherever its files lie. A table stored as something other than Parquet is a problem
//!   of that table, never a silent pass.
//! - Views hold no rows of their own and are not tables to check.

use crate::io::glue::CatalogTable;

/// One table of the catalog as vouch reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub name: String,
    /// `delta`, `iceberg`, `parquet`; None: known by the files at the location (an
    /// unpartitioned Hive table is read as its directory would be).
    pub format: Option<String>,
    /// The table's root, an `s3://` URI without a trailing `/`.
    pub root: String,
    /// An Iceberg table's current metadata file, relative to the root.
    pub metadata_location: Option<String>,
    /// The partitions of a partitioned Hive table.
    pub partitions: Vec<CatalogDir>,
}

/// A partition: the directory it is read under below the table (`dt=2026-01-03/region=eu`,
/// values escaped as Hive escapes them) and where its files really are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogDir {
    pub dir: String,
    pub location: String,
}

/// A table the catalog lists that cannot be checked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProblem {
    pub name: String,
    pub problem: String,
}

/// The tables of a database: those vouch reads, those it cannot (each an error of that
/// table), and the views it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogLake {
    pub tables: Vec<CatalogEntry>,
    pub problems: Vec<CatalogProblem>,
    pub views: Vec<String>,
}

/// An `s3://`, `s3a://` or `s3n://` location as an `s3://` URI without a trailing `/`.
pub fn s3_uri(location: &str) -> Option<String> {
    let rest = ["s3://", "s3a://", "s3n://"]
        .iter()
        .find_map(|s| location.strip_prefix(s))?;
    let rest = rest.trim_end_matches('/');
    let bucket = rest.split('/').next().unwrap_or("");
    (!bucket.is_empty()).then(|| format!("s3://{rest}"))
}

/// Hive's escaping of a partition name or value in a path (`FileUtils.escapePathName`).
pub fn escape_path_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let escaped = matches!(
            c,
            '\u{1}'
                ..='\u{1f}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7f}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if escaped {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn lower(t: &CatalogTable, key: &str) -> Option<String> {
    t.parameters
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.to_lowercase())
}

/// Whether a storage format names something other than Parquet (text, ORC, Avro, JSON,
/// CSV, Ion, Hudi...). An absent format says nothing: the files are then known by their
/// contents, as in a directory lake.
fn not_parquet(format: Option<&str>) -> Option<String> {
    let f = format?;
    (!f.to_lowercase().contains("parquet")).then(|| f.to_string())
}

/// Decides every table of the database.
pub fn resolve(tables: &[CatalogTable]) -> CatalogLake {
    let mut lake = CatalogLake::default();
    for t in tables {
        match entry(t) {
            Ok(Some(e)) => lake.tables.push(e),
            Ok(None) => lake.views.push(t.name.clone()),
            Err(problem) => lake.problems.push(CatalogProblem {
                name: t.name.clone(),
                problem,
            }),
        }
    }
    lake
}

fn entry(t: &CatalogTable) -> Result<Option<CatalogEntry>, String> {
    let kind = t.table_type.as_deref().unwrap_or("").to_uppercase();
    if kind == "VIRTUAL_VIEW" || kind == "MATERIALIZED_VIEW" {
        return Ok(None);
    }
    let table_type = lower(t, "table_type");
    let provider = lower(t, "spark.sql.sources.provider");
    let location = |what: &str, loc: Option<&str>| -> Result<String, String> {
        let loc = loc.ok_or_else(|| format!("the catalog gives no {what}"))?;
        s3_uri(loc).ok_or_else(|| format!("its {what} {loc} is not an s3:// location"))
    };
    if table_type.as_deref() == Some("iceberg") {
        let meta = t
            .parameters
            .get("metadata_location")
            .ok_or("an Iceberg table (table_type = ICEBERG) without metadata_location")?;
        let uri = location("metadata_location", Some(meta))?;
        let (dir, file) = uri.rsplit_once('/').unwrap_or(("", &uri));
        let root = dir
            .strip_suffix("/metadata")
            .filter(|r| r.len() > "s3://".len());
        let Some(root) = root else {
            return Err(format!(
                "its metadata_location {meta} is not in a metadata/ directory below the \
                 table, so vouch cannot tell which files are the table's"
            ));
        };
        return Ok(Some(CatalogEntry {
            name: t.name.clone(),
            format: Some("iceberg".into()),
            root: root.to_string(),
            metadata_location: Some(format!("metadata/{file}")),
            partitions: Vec::new(),
        }));
    }
    if table_type.as_deref() == Some("delta") || provider.as_deref() == Some("delta") {
        let path = t
            .serde_parameters
            .get("path")
            .filter(|p| s3_uri(p).is_some())
            .map(String::as_str)
            .or(t.location.as_deref());
        return Ok(Some(CatalogEntry {
            name: t.name.clone(),
            format: Some("delta".into()),
            root: location("location", path)?,
            metadata_location: None,
            partitions: Vec::new(),
        }));
    }
    if let Some(other) = table_type.as_deref().or(provider.as_deref())
        && other != "hive"
        && other != "parquet"
        && !other.is_empty()
    {
        return Err(format!(
            "a {other} table, which vouch does not read (it reads Hive tables of Parquet \
             files, Iceberg and Delta tables)"
        ));
    }
    if let Some(f) =
        not_parquet(t.input_format.as_deref()).or_else(|| not_parquet(t.serde_library.as_deref()))
    {
        return Err(format!(
            "stored as {f}; vouch reads Parquet files, so this table was not checked"
        ));
    }
    let root = location("location", t.location.as_deref())?;
    if t.partition_keys.is_empty() {
        return Ok(Some(CatalogEntry {
            name: t.name.clone(),
            format: None,
            root,
            metadata_location: None,
            partitions: Vec::new(),
        }));
    }
    let listed = t
        .partitions
        .as_ref()
        .map_err(|e| format!("its partitions could not be listed: {e}"))?;
    // Partitions are named by their place in the catalog's listing, not their values: a
    // table partitioned by an identifier column would put a subject's ID in the error.
    let mut partitions = Vec::with_capacity(listed.len());
    for (n, p) in listed.iter().enumerate() {
        let n = n + 1;
        if p.values.len() != t.partition_keys.len() {
            return Err(format!(
                "partition {n} of the catalog's listing has {} values for {} partition keys ({})",
                p.values.len(),
                t.partition_keys.len(),
                t.partition_keys.join(", ")
            ));
        }
        let dir = t
            .partition_keys
            .iter()
            .zip(&p.values)
            .map(|(k, v)| format!("{}={}", escape_path_name(k), escape_path_name(v)))
            .collect::<Vec<_>>()
            .join("/");
        if let Some(f) = not_parquet(p.input_format.as_deref()) {
            return Err(format!(
                "partition {n} of the catalog's listing is stored as {f}; vouch reads Parquet \
                 files, so this table was not checked"
            ));
        }
        let location = match &p.location {
            Some(l) => s3_uri(l).ok_or_else(|| {
                format!(
                    "partition {n} of the catalog's listing: its location is not an s3:// \
                     location"
                )
            })?,
            None => format!("{root}/{dir}"),
        };
        partitions.push(CatalogDir { dir, location });
    }
    partitions.sort_by(|a, b| a.dir.cmp(&b.dir));
    if partitions.windows(2).any(|w| w[0].dir == w[1].dir) {
        return Err("the catalog lists one partition's values twice".into());
    }
    Ok(Some(CatalogEntry {
        name: t.name.clone(),
        format: Some("parquet".into()),
        root,
        metadata_location: None,
        partitions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::glue::CatalogPartition;

    fn hive(name: &str, loc: &str) -> CatalogTable {
        CatalogTable {
            name: name.into(),
            table_type: Some("EXTERNAL_TABLE".into()),
            location: Some(loc.into()),
            input_format: Some(
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat".into(),
            ),
            partitions: Ok(vec![]),
            ..Default::default()
        }
    }

    #[test]
    fn hive_partitions_are_read_under_their_catalog_values() {
        let mut t = hive("events", "s3a://lake/events/");
        t.partition_keys = vec!["dt".into(), "region".into()];
        t.partitions = Ok(vec![
            CatalogPartition {
                values: vec!["2026-01-03".into(), "eu/west".into()],
                location: Some("s3://archive/old/events-2026-01-03/".into()),
                input_format: None,
            },
            CatalogPartition {
                values: vec!["2026-01-04".into(), "us".into()],
                location: None,
                input_format: None,
            },
        ]);
        let lake = resolve(&[t]);
        assert_eq!(lake.problems, vec![]);
        let e = &lake.tables[0];
        assert_eq!(e.root, "s3://lake/events");
        assert_eq!(e.format.as_deref(), Some("parquet"));
        assert_eq!(
            e.partitions,
            vec![
                CatalogDir {
                    dir: "dt=2026-01-03/region=eu%2Fwest".into(),
                    location: "s3://archive/old/events-2026-01-03".into()
                },
                CatalogDir {
                    dir: "dt=2026-01-04/region=us".into(),
                    location: "s3://lake/events/dt=2026-01-04/region=us".into()
                },
            ]
        );
    }

    #[test]
    fn formats_come_from_the_table_parameters() {
        let mut ice = hive("orders", "s3://lake/orders");
        ice.parameters.insert("table_type".into(), "ICEBERG".into());
        ice.parameters.insert(
            "metadata_location".into(),
            "s3://lake/wh/orders/metadata/00002-ab.metadata.json".into(),
        );
        let mut delta = hive("profiles", "s3://lake/placeholder");
        delta
            .parameters
            .insert("spark.sql.sources.provider".into(), "DELTA".into());
        delta
            .serde_parameters
            .insert("path".into(), "s3a://lake/profiles".into());
        let mut view = hive("v", "s3://lake/v");
        view.table_type = Some("VIRTUAL_VIEW".into());
        let lake = resolve(&[ice, delta, view]);
        assert_eq!(lake.problems, vec![]);
        assert_eq!(lake.views, vec!["v".to_string()]);
        assert_eq!(lake.tables[0].root, "s3://lake/wh/orders");
        assert_eq!(
            lake.tables[0].metadata_location.as_deref(),
            Some("metadata/00002-ab.metadata.json")
        );
        assert_eq!(lake.tables[1].root, "s3://lake/profiles");
        assert_eq!(lake.tables[1].format.as_deref(), Some("delta"));
    }

    #[test]
    fn tables_vouch_cannot_read_are_problems() {
        let mut csv = hive("csv", "s3://lake/csv");
        csv.input_format = Some("org.apache.hadoop.mapred.TextInputFormat".into());
        let mut hudi = hive("hudi", "s3://lake/hudi");
        hudi.parameters.insert("table_type".into(), "HUDI".into());
        let mut ice = hive("ice", "s3://lake/ice");
        ice.parameters.insert("table_type".into(), "iceberg".into());
        let mut odd = hive("odd", "s3://lake/odd");
        odd.parameters.insert("table_type".into(), "ICEBERG".into());
        odd.parameters.insert(
            "metadata_location".into(),
            "s3://lake/odd/v1.metadata.json".into(),
        );
        let hdfs = hive("hdfs", "hdfs://nn/x");
        let mut parts = hive("parts", "s3://lake/parts");
        parts.partition_keys = vec!["dt".into()];
        parts.partitions = Err("Glue GetPartitions failed: AccessDeniedException".into());
        let mut twice = hive("twice", "s3://lake/twice");
        twice.partition_keys = vec!["dt".into()];
        let p = CatalogPartition {
            values: vec!["1".into()],
            location: None,
            input_format: None,
        };
        twice.partitions = Ok(vec![p.clone(), p]);
        let lake = resolve(&[csv, hudi, ice, odd, hdfs, parts, twice]);
        assert_eq!(lake.tables, vec![]);
        let why: Vec<(&str, &str)> = lake
            .problems
            .iter()
            .map(|p| (p.name.as_str(), p.problem.as_str()))
            .collect();
        assert!(why[0].1.contains("TextInputFormat"), "{why:?}");
        assert!(why[1].1.contains("hudi table"), "{why:?}");
        assert!(why[2].1.contains("without metadata_location"), "{why:?}");
        assert!(why[3].1.contains("not in a metadata/ directory"), "{why:?}");
        assert!(why[4].1.contains("not an s3:// location"), "{why:?}");
        assert!(why[5].1.contains("AccessDeniedException"), "{why:?}");
        assert!(why[6].1.contains("twice"), "{why:?}");
    }

    #[test]
    fn partition_names_are_escaped_as_hive_does() {
        assert_eq!(escape_path_name("a=b/c:d%"), "a%3Db%2Fc%3Ad%25");
        assert_eq!(escape_path_name("2026-01-03 10"), "2026-01-03 10");
    }
}
