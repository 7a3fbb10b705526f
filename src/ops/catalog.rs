//! A Glue database as a lake: the catalog's tables (`io::glue`), what each is to vouch
//! (`domain::catalog`), mounted at their own S3 locations (`io::mount`). The catalog's
//! formats and metadata pointers join the configured tables, whose identifier columns
//! still come from `[[lake.tables]]`.

use crate::domain::catalog::{CatalogEntry, CatalogLake};
use crate::domain::config::{LakeConfig, TableConfig};
use crate::io::mount::{MountStore, MountedPartition, MountedTable, PartitionPlace};
use crate::io::s3::{S3Options, S3Store};
use crate::io::store::{Store, StoreError};
use crate::ops::OpError;

/// Reads the database's tables from the catalog and mounts them.
pub fn open(database: &str, lake: &mut LakeConfig, s3: &S3Options) -> Result<MountStore, OpError> {
    let listed = crate::io::glue::GlueCatalog::connect(s3)?.tables(database)?;
    let resolved = crate::domain::catalog::resolve(&listed);
    mount(database, &resolved, lake, &|uri| S3Store::connect(uri, s3))
}

/// Mounts resolved tables; `connect` opens the first S3 location, the others share its
/// client.
pub fn mount(
    database: &str,
    resolved: &CatalogLake,
    lake: &mut LakeConfig,
    connect: &dyn Fn(&str) -> Result<S3Store, StoreError>,
) -> Result<MountStore, OpError> {
    let mut base: Option<S3Store> = None;
    let mut at = |uri: &str| -> Result<S3Store, StoreError> {
        match &base {
            Some(b) => b.at(uri),
            None => {
                let s = connect(uri)?;
                let again = s.at(uri)?;
                base = Some(s);
                Ok(again)
            }
        }
    };
    let mut tables = Vec::new();
    for e in &resolved.tables {
        tables.push(MountedTable {
            name: e.name.clone(),
            content: mount_one(e, &mut at).map_err(|err| err.to_string()),
        });
    }
    for p in &resolved.problems {
        tables.push(MountedTable {
            name: p.name.clone(),
            content: Err(format!("Glue table {database}.{}: {}", p.name, p.problem)),
        });
    }
    for t in &lake.tables {
        if t.path.is_some() {
            return Err(OpError::Failed(format!(
                "[[lake.tables]] {}: path is for a lake location; with a catalog each table's \
                 location is the catalog's",
                t.name
            )));
        }
        if !tables.iter().any(|m| m.name == t.name) && !resolved.views.contains(&t.name) {
            tables.push(MountedTable {
                name: t.name.clone(),
                content: Err(format!(
                    "configured in [[lake.tables]], and the Glue database {database} has no \
                     such table"
                )),
            });
        }
    }
    // The catalog's formats and metadata pointers; the identifier columns stay configured.
    for e in &resolved.tables {
        match lake.tables.iter_mut().find(|t| t.name == e.name) {
            Some(t) => {
                t.format = t.format.clone().or_else(|| e.format.clone());
                t.metadata_location = t
                    .metadata_location
                    .clone()
                    .or_else(|| e.metadata_location.clone());
            }
            None => lake.tables.push(TableConfig {
                name: e.name.clone(),
                path: None,
                id_columns: None,
                format: e.format.clone(),
                metadata_location: e.metadata_location.clone(),
            }),
        }
    }
    Ok(MountStore::new(format!("glue://{database}"), tables))
}

type Mounted = (Box<dyn Store>, Vec<MountedPartition>);

fn mount_one(
    e: &CatalogEntry,
    at: &mut dyn FnMut(&str) -> Result<S3Store, StoreError>,
) -> Result<Mounted, StoreError> {
    let root = at(&e.root)?;
    let below = format!("{}/", e.root);
    let mut parts = Vec::with_capacity(e.partitions.len());
    for p in &e.partitions {
        let place = match p.location.strip_prefix(&below) {
            Some(rest) if !rest.is_empty() => PartitionPlace::Below(rest.to_string()),
            _ => PartitionPlace::Own(Box::new(at(&p.location)?)),
        };
        parts.push(MountedPartition {
            dir: p.dir.clone(),
            place,
        });
    }
    Ok((Box::new(root), parts))
}
