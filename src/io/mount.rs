//! A lake assembled from places that need not share a prefix: each table of a catalog is
//! a directory of this store, backed by the store at the table's own location, and each
//! partition of a partitioned table is the directory `key=value/...` the catalog's values
//! name, backed by wherever the catalog says its files are (below the table, or any other
//! prefix or bucket).
//!
//! Paths handed out are `<table>/<path below the table>`; a partition's files are
//! `<table>/<partition dir>/<path below the partition's location>`. A partition below the
//! table's location is served from the table's listing (one listing, not two); a file
//! below the table's location that lies in no partition is one of the table's files too
//! (a crawler or `MSCK REPAIR TABLE` would make it visible), unless its path would be taken
//! for a partition's that the catalog puts elsewhere: that is an error naming it. Listing
//! errors name the real location; read errors the path handed out.

use crate::io::store::{Listing, ObjectMeta, RangeRead, RootListing, Store, StoreError};

/// Where one partition's files are.
pub enum PartitionPlace {
    /// Below the table's location, at this path.
    Below(String),
    /// Elsewhere: its own store.
    Own(Box<dyn Store>),
}

pub struct MountedPartition {
    /// The directory below the table it is read under (`dt=2026-01-03`).
    pub dir: String,
    pub place: PartitionPlace,
}

/// One table: its location's store and its partitions, or why it cannot be read.
pub struct MountedTable {
    pub name: String,
    pub content: Result<(Box<dyn Store>, Vec<MountedPartition>), String>,
}

pub struct MountStore {
    name: String,
    tables: Vec<MountedTable>,
}

impl MountStore {
    /// A store named `name` (`glue://silver_private`) of these tables.
    pub fn new(name: String, mut tables: Vec<MountedTable>) -> MountStore {
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut tables {
            if let Ok((_, parts)) = &mut t.content {
                parts.sort_by(|a, b| a.dir.cmp(&b.dir));
            }
        }
        MountStore { name, tables }
    }

    fn table(&self, path: &str) -> Option<(&MountedTable, String)> {
        let path = path.trim_matches('/');
        let (t, rest) = path.split_once('/').unwrap_or((path, ""));
        self.tables
            .iter()
            .find(|m| m.name == t)
            .map(|m| (m, rest.to_string()))
    }
}

/// `root/path` of a store, for errors naming the real place.
fn real(store: &dyn Store, path: &str) -> String {
    if path.is_empty() {
        store.root()
    } else {
        format!("{}/{}", store.root().trim_end_matches('/'), path)
    }
}

fn below<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    path.strip_prefix(dir)?.strip_prefix('/')
}

#[derive(Clone, Copy)]
enum Mode {
    List,
    IfPresent,
    Versions,
}

fn list_in(store: &dyn Store, prefix: &str, mode: Mode) -> Listing {
    match mode {
        Mode::List => store.list(prefix),
        Mode::IfPresent => store.list_if_present(prefix),
        Mode::Versions => store.list_versions(prefix),
    }
}

impl MountStore {
    fn list_mode(&self, prefix: &str, mode: Mode) -> Listing {
        let mut out = Listing::default();
        let Some((t, sub)) = self.table(prefix) else {
            if !matches!(mode, Mode::IfPresent) {
                out.errors.push(StoreError::new(prefix, "not found"));
            }
            return out;
        };
        let (store, parts) = match &t.content {
            Ok(c) => c,
            Err(problem) => {
                if sub.is_empty() {
                    out.errors.push(StoreError::new(&t.name, problem.clone()));
                }
                return out;
            }
        };
        let store = store.as_ref();
        let named = |p: &str| format!("{}/{p}", t.name);
        let fail = |out: &mut Listing, s: &dyn Store, e: StoreError| {
            out.errors
                .push(StoreError::new(real(s, &e.path), e.message));
        };
        if parts.is_empty() || !sub.is_empty() {
            let l = list_in(store, &sub, mode);
            out.objects = l
                .objects
                .into_iter()
                .map(|mut o| {
                    o.path = named(&o.path);
                    o
                })
                .collect();
            for e in l.errors {
                fail(&mut out, store, e);
            }
            return out;
        }
        // A partitioned table: the table's listing serves the partitions below it.
        let root_mode = if matches!(mode, Mode::List) {
            Mode::IfPresent
        } else {
            mode
        };
        let l = list_in(store, "", root_mode);
        for e in l.errors {
            fail(&mut out, store, e);
        }
        for mut o in l.objects {
            // The partition whose location holds the file most closely.
            let served = parts
                .iter()
                .filter_map(|p| match &p.place {
                    PartitionPlace::Below(at) => {
                        below(&o.path, at).map(|rest| (at.len(), p, rest.to_string()))
                    }
                    PartitionPlace::Own(_) => None,
                })
                .max_by_key(|(len, _, _)| *len)
                .map(|(_, p, rest)| (p, rest));
            match served {
                Some((p, rest)) => o.path = named(&format!("{}/{rest}", p.dir)),
                None => {
                    if parts.iter().any(|p| below(&o.path, &p.dir).is_some()) {
                        out.errors.push(StoreError::new(
                            real(store, &o.path),
                            "lies in the directory named by a partition the catalog puts \
                             elsewhere, so it cannot be told apart from that partition's \
                             files and was not checked",
                        ));
                        continue;
                    }
                    o.path = named(&o.path);
                }
            }
            out.objects.push(o);
        }
        for p in parts {
            if let PartitionPlace::Own(s) = &p.place {
                let l = list_in(s.as_ref(), "", root_mode);
                for e in l.errors {
                    fail(&mut out, s.as_ref(), e);
                }
                out.objects.extend(l.objects.into_iter().map(|mut o| {
                    o.path = named(&format!("{}/{}", p.dir, o.path));
                    o
                }));
            }
        }
        out.objects.sort_by(|a, b| {
            (a.path.as_str(), a.noncurrent()).cmp(&(b.path.as_str(), b.noncurrent()))
        });
        out
    }
}

impl Store for MountStore {
    fn root(&self) -> String {
        self.name.clone()
    }

    fn root_entries(&self) -> Result<RootListing, StoreError> {
        Ok(RootListing {
            dirs: self.tables.iter().map(|t| t.name.clone()).collect(),
            files: Vec::new(),
            errors: Vec::new(),
        })
    }

    fn list(&self, prefix: &str) -> Listing {
        self.list_mode(prefix, Mode::List)
    }

    fn list_if_present(&self, prefix: &str) -> Listing {
        self.list_mode(prefix, Mode::IfPresent)
    }

    fn list_versions(&self, prefix: &str) -> Listing {
        self.list_mode(prefix, Mode::Versions)
    }

    fn parallelism(&self) -> usize {
        self.tables
            .iter()
            .filter_map(|t| t.content.as_ref().ok())
            .map(|(s, _)| s.parallelism())
            .max()
            .unwrap_or(2)
    }

    fn is_remote(&self) -> bool {
        self.tables
            .iter()
            .filter_map(|t| t.content.as_ref().ok())
            .any(|(s, _)| s.is_remote())
    }

    fn locations(&self, table: &str) -> Vec<(String, String)> {
        let Some((t, _)) = self.table(table) else {
            return Vec::new();
        };
        let Ok((store, parts)) = &t.content else {
            return Vec::new();
        };
        let mut out = vec![(t.name.clone(), store.root())];
        for p in parts {
            let at = match &p.place {
                PartitionPlace::Below(at) => real(store.as_ref(), at),
                PartitionPlace::Own(s) => s.root(),
            };
            out.push((format!("{}/{}", t.name, p.dir), at));
        }
        out
    }

    fn open(&self, object: &ObjectMeta) -> Result<Box<dyn RangeRead>, StoreError> {
        let missing = || StoreError::new(&object.path, "not in this lake's catalog");
        let (t, rest) = self.table(&object.path).ok_or_else(missing)?;
        let (store, parts) = t
            .content
            .as_ref()
            .map_err(|p| StoreError::new(&object.path, p.clone()))?;
        let part = parts
            .iter()
            .rev()
            .find_map(|p| below(&rest, &p.dir).map(|r| (p, r.to_string())));
        let (store, path): (&dyn Store, String) = match part {
            Some((p, r)) => match &p.place {
                PartitionPlace::Below(at) => (store.as_ref(), format!("{at}/{r}")),
                PartitionPlace::Own(s) => (s.as_ref(), r),
            },
            None => (store.as_ref(), rest),
        };
        let inner = store
            .open(&ObjectMeta {
                path,
                ..object.clone()
            })
            .map_err(|e| StoreError::new(&object.path, e.message))?;
        Ok(Box::new(Named {
            inner,
            path: object.path.clone(),
        }))
    }
}

/// Reads of a mounted object; errors name the path handed out.
struct Named {
    inner: Box<dyn RangeRead>,
    path: String,
}

impl RangeRead for Named {
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        self.inner
            .read_into(offset, len, buf)
            .map_err(|e| StoreError::new(&self.path, e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::local::LocalStore;

    fn write(root: &std::path::Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn paths(l: &Listing) -> Vec<&str> {
        l.objects.iter().map(|o| o.path.as_str()).collect()
    }

    #[test]
    fn partitions_are_read_under_their_values_wherever_they_are() {
        let d = tempfile::tempdir().unwrap();
        let (t, other) = (d.path().join("t"), d.path().join("elsewhere"));
        write(&t, "dt=1/a", b"one");
        write(&t, "2026/02/b", b"two");
        write(&t, "stray/c", b"three");
        write(&t, "dt=3/d", b"shadowed");
        write(&other, "e", b"four");
        let store = MountStore::new(
            "glue://db".into(),
            vec![
                MountedTable {
                    name: "events".into(),
                    content: Ok((
                        Box::new(LocalStore::open(&t).unwrap()),
                        vec![
                            MountedPartition {
                                dir: "dt=1".into(),
                                place: PartitionPlace::Below("dt=1".into()),
                            },
                            MountedPartition {
                                dir: "dt=2".into(),
                                place: PartitionPlace::Below("2026/02".into()),
                            },
                            MountedPartition {
                                dir: "dt=3".into(),
                                place: PartitionPlace::Own(Box::new(
                                    LocalStore::open(&other).unwrap(),
                                )),
                            },
                        ],
                    )),
                },
                MountedTable {
                    name: "broken".into(),
                    content: Err("stored as TextInputFormat".into()),
                },
            ],
        );
        assert_eq!(store.root_entries().unwrap().dirs, vec!["broken", "events"]);
        let places = store.locations("events");
        assert_eq!(places[0].0, "events");
        assert_eq!(places[2].0, "events/dt=2");
        assert!(places[2].1.ends_with("/t/2026/02"), "{places:?}");
        assert!(places[3].1.ends_with("/elsewhere"), "{places:?}");
        let l = store.list("events");
        assert_eq!(
            paths(&l),
            vec![
                "events/dt=1/a",
                "events/dt=2/b",
                "events/dt=3/e",
                "events/stray/c"
            ]
        );
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(l.errors[0].path.ends_with("t/dt=3/d"), "{:?}", l.errors);
        let mut buf = Vec::new();
        for (o, want) in l
            .objects
            .iter()
            .zip([&b"one"[..], b"two", b"four", b"three"])
        {
            store
                .open(o)
                .unwrap()
                .read_into(0, o.size, &mut buf)
                .unwrap();
            assert_eq!(buf, want, "{}", o.path);
        }
        let gone = ObjectMeta {
            size: 99,
            ..l.objects[0].clone()
        };
        let e = store.open(&gone).and_then(|r| r.read_into(0, 99, &mut buf));
        assert_eq!(e.unwrap_err().path, "events/dt=1/a");
        let b = store.list("broken");
        assert_eq!(
            b.errors,
            vec![StoreError::new("broken", "stored as TextInputFormat")]
        );
        assert!(store.list_if_present("broken/_delta_log").errors.is_empty());
        assert!(store.list_if_present("nope/_delta_log").errors.is_empty());
        assert_eq!(store.list("nope").errors[0].message, "not found");
    }
}
