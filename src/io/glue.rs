//! The AWS Glue Data Catalog as the source of a lake's tables: every table of a database
//! (GetTables) and, for partitioned tables, every partition (GetPartitions), each page in
//! turn, through `aws-sdk-glue` with the standard AWS configuration chain (environment,
//! profiles, SSO, instance roles; `AWS_ENDPOINT_URL_GLUE` or `AWS_ENDPOINT_URL` for other
//! servers). What the catalog says is returned as plain values; what a table is to vouch
//! is decided by `domain::catalog`.

use aws_sdk_glue::Client;
use std::collections::BTreeMap;

use crate::io::store::StoreError;

/// One table as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTable {
    pub name: String,
    /// `EXTERNAL_TABLE`, `MANAGED_TABLE`, `VIRTUAL_VIEW`, ...
    pub table_type: Option<String>,
    /// The table's parameters (`table_type = ICEBERG`, `metadata_location`,
    /// `spark.sql.sources.provider`, `classification`, ...).
    pub parameters: BTreeMap<String, String>,
    /// The storage descriptor's location (`s3://bucket/prefix/`).
    pub location: Option<String>,
    pub input_format: Option<String>,
    pub serde_library: Option<String>,
    /// The SerDe's parameters (Spark keeps a Delta table's `path` there).
    pub serde_parameters: BTreeMap<String, String>,
    pub partition_keys: Vec<String>,
    /// The table's partitions (listed only for a table with partition keys), or why they
    /// could not be listed.
    pub partitions: Result<Vec<CatalogPartition>, String>,
}

impl Default for CatalogTable {
    fn default() -> Self {
        CatalogTable {
            name: String::new(),
            table_type: None,
            parameters: BTreeMap::new(),
            location: None,
            input_format: None,
            serde_library: None,
            serde_parameters: BTreeMap::new(),
            partition_keys: Vec::new(),
            partitions: Ok(Vec::new()),
        }
    }
}

/// One partition: its values in the order of the table's partition keys, and where its
/// files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPartition {
    pub values: Vec<String>,
    pub location: Option<String>,
    pub input_format: Option<String>,
}

/// A connection to the catalog of the configured account and region.
pub struct GlueCatalog {
    client: Client,
    rt: tokio::runtime::Runtime,
}

fn glue_error<E, R>(op: &str, e: aws_sdk_glue::error::SdkError<E, R>) -> String
where
    E: aws_sdk_glue::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    crate::io::s3::aws_error("Glue", op, e)
}

fn map(m: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Every page of a paginated call: `fetch` takes the page token and gives the page's items
/// and the next token. A page that repeats its token ends in an error, not a loop.
fn all_pages<T>(
    op: &str,
    mut fetch: impl FnMut(Option<String>) -> Result<(Vec<T>, Option<String>), String>,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (items, next) = fetch(token.clone())?;
        out.extend(items);
        let next = next.filter(|t| !t.is_empty());
        if next.is_some() && next == token {
            return Err(format!("Glue {op} returned the same page token twice"));
        }
        token = next;
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn table_of(t: &aws_sdk_glue::types::Table) -> CatalogTable {
    let sd = t.storage_descriptor();
    let serde = sd.and_then(|s| s.serde_info());
    CatalogTable {
        name: t.name().to_string(),
        table_type: t.table_type().map(str::to_string),
        parameters: map(t.parameters()),
        location: sd.and_then(|s| s.location()).map(str::to_string),
        input_format: sd.and_then(|s| s.input_format()).map(str::to_string),
        serde_library: serde
            .and_then(|s| s.serialization_library())
            .map(str::to_string),
        serde_parameters: map(serde.and_then(|s| s.parameters())),
        partition_keys: t
            .partition_keys()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        partitions: Ok(Vec::new()),
    }
}

fn partition_of(p: &aws_sdk_glue::types::Partition) -> CatalogPartition {
    let sd = p.storage_descriptor();
    CatalogPartition {
        values: p.values().to_vec(),
        location: sd.and_then(|s| s.location()).map(str::to_string),
        input_format: sd.and_then(|s| s.input_format()).map(str::to_string),
    }
}

impl GlueCatalog {
    /// Connects (nothing is requested yet).
    pub fn connect(opts: &crate::io::s3::S3Options) -> Result<GlueCatalog, StoreError> {
        let (rt, shared) =
            crate::io::s3::aws_config_chain(opts).map_err(|e| StoreError::new("glue", e))?;
        Ok(GlueCatalog {
            client: Client::new(&shared),
            rt,
        })
    }

    /// Every table of `database`, sorted by name, with the partitions of each partitioned
    /// table. An error means the database's tables could not be listed; a table whose
    /// partitions could not be listed carries the error itself.
    pub fn tables(&self, database: &str) -> Result<Vec<CatalogTable>, StoreError> {
        let mut out = all_pages("GetTables", |token| {
            let page = self
                .rt
                .block_on(
                    self.client
                        .get_tables()
                        .database_name(database)
                        .set_next_token(token)
                        .send(),
                )
                .map_err(|e| glue_error("GetTables", e))?;
            let items = page.table_list().iter().map(table_of).collect();
            Ok((items, page.next_token().map(str::to_string)))
        })
        .map_err(|e| StoreError::new(format!("glue://{database}"), e))?;
        for t in &mut out {
            if !t.partition_keys.is_empty() {
                t.partitions = all_pages("GetPartitions", |token| {
                    let page = self
                        .rt
                        .block_on(
                            self.client
                                .get_partitions()
                                .database_name(database)
                                .table_name(&t.name)
                                .set_next_token(token)
                                .send(),
                        )
                        .map_err(|e| glue_error("GetPartitions", e))?;
                    let items = page.partitions().iter().map(partition_of).collect();
                    Ok((items, page.next_token().map(str::to_string)))
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_are_followed_and_a_repeated_token_is_an_error() {
        let mut calls = 0;
        let got = super::all_pages("GetTables", |t| {
            calls += 1;
            Ok(match t.as_deref() {
                None => (vec![1], Some("a".to_string())),
                Some("a") => (vec![2], Some(String::new())),
                _ => unreachable!(),
            })
        });
        assert_eq!((got, calls), (Ok(vec![1, 2]), 2));
        let stuck = super::all_pages("GetPartitions", |_| Ok((vec![0], Some("x".to_string()))));
        assert_eq!(
            stuck,
            Err("Glue GetPartitions returned the same page token twice".to_string())
        );
    }
}
