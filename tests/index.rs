//! The subject index: with and without it, the same answer, on random lakes and random ID
//! sets, before and after files are added, replaced and deleted; a stale or damaged index
//! is never trusted.

use std::path::Path;

use crate::common::*;
use vouch::dev::fixtures::Rng;
use vouch::domain::index::{IndexKey, KeptCheck, LakeIndex};
use vouch::domain::scan::{NoProgress, Prescan, ScanOptions, ScanRequest};
use vouch::domain::subjects::SubjectList;
use vouch::io::local::LocalStore;

/// (table, file, subject, rows) of every residual, and per table (rows scanned, residual).
type Answer = (Vec<(String, String, String, u64)>, Vec<(String, u64, u64)>);

fn scan(
    lake: &Path,
    cfg: &vouch::domain::config::Config,
    ids: &[String],
    index: Option<&LakeIndex>,
) -> (Answer, vouch::domain::report::ScanReport) {
    scan_recalling(lake, cfg, ids, index, None)
}

/// The same, with the recall of earlier nights (and this scan's outcomes kept in it).
fn scan_recalling(
    lake: &Path,
    cfg: &vouch::domain::config::Config,
    ids: &[String],
    index: Option<&LakeIndex>,
    recall: Option<&vouch::domain::index::Recall>,
) -> (Answer, vouch::domain::report::ScanReport) {
    let subjects = SubjectList::of(ids.iter().map(String::as_str)).unwrap();
    scan_of(lake, cfg, &subjects, index, recall, None)
}

/// A scan of `subjects` with everything a night can give it.
fn scan_of(
    lake: &Path,
    cfg: &vouch::domain::config::Config,
    subjects: &SubjectList,
    index: Option<&LakeIndex>,
    recall: Option<&vouch::domain::index::Recall>,
    prescan: Option<&Prescan<'_>>,
) -> (Answer, vouch::domain::report::ScanReport) {
    let store = LocalStore::open(lake).unwrap();
    let tables = vouch::domain::lake::discover_tables(&store, &cfg.lake)
        .unwrap()
        .tables;
    let req = ScanRequest {
        store: &store,
        lake: lake.display().to_string(),
        tables,
        subjects,
        holds: Default::default(),
        labeler: vouch::domain::subjects::SubjectLabeler::plain(),
        options: ScanOptions::default(),
        prior_errors: vec![],
        collect_rows: false,
        include_versions: false,
        index,
        recall,
        prescan,
    };
    let r = vouch::domain::scan::scan(&req, &NoProgress);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let residuals = r
        .residuals
        .iter()
        .map(|x| (x.table.clone(), x.file.clone(), x.subject.clone(), x.rows))
        .collect();
    let tables = r
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows_scanned, t.residual_rows))
        .collect();
    ((residuals, tables), r)
}

fn build(
    lake: &Path,
    cfg: &vouch::domain::config::Config,
    key: &IndexKey,
    dir: &Path,
) -> vouch::domain::index::BuildSummary {
    build_checking(lake, cfg, key, dir, KeptCheck::Head)
}

fn build_checking(
    lake: &Path,
    cfg: &vouch::domain::config::Config,
    key: &IndexKey,
    dir: &Path,
    check: KeptCheck,
) -> vouch::domain::index::BuildSummary {
    let store = LocalStore::open(lake).unwrap();
    let tables = vouch::domain::lake::discover_tables(&store, &cfg.lake)
        .unwrap()
        .tables;
    let listed = vouch::domain::lake::list_tables(&store, &tables, false);
    vouch::ops::index::build(
        &store,
        &listed,
        key,
        dir,
        &ScanOptions::default(),
        vouch::ops::index::Upkeep {
            check,
            prescan: None,
            progress: &NoProgress,
        },
    )
    .unwrap()
}

/// For `n` random ID sets (seed `seed`), the scan through `ix` answers as the raw scan, and
/// the index speaks for every file.
fn answers_are_the_raw_scans(
    lake_dir: &Path,
    cfg: &vouch::domain::config::Config,
    ix: &LakeIndex,
    ids: &[String],
    seed: u64,
    n: usize,
) {
    let mut rng = Rng::new(seed);
    for ids in id_sets(ids, &mut rng, n) {
        let (plain, _) = scan(lake_dir, cfg, &ids, None);
        let (indexed, r) = scan(lake_dir, cfg, &ids, Some(ix));
        assert_eq!(plain, indexed);
        assert_eq!(r.index.unwrap().files_without_index, 0);
    }
}

/// Random subsets of the lake's IDs, with IDs that occur nowhere mixed in.
fn id_sets(ids: &[String], rng: &mut Rng, n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|_| {
            let mut set: Vec<String> = ids.iter().filter(|_| rng.chance(0.05)).cloned().collect();
            for _ in 0..rng.below(20) {
                set.push(format!("{}", 100_000 + rng.below(1000)));
            }
            set
        })
        .collect()
}

/// A random lake of `seed` in a new temporary directory (`DIR/lake`), and its config.
fn random_lake_in_temp(
    seed: u64,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    vouch::dev::fixtures::RandomLake,
    vouch::domain::config::Config,
) {
    let t = tempfile::tempdir().unwrap();
    let lake_dir = t.path().join("lake");
    let lake = vouch::dev::fixtures::random_lake(&lake_dir, seed).unwrap();
    let cfg = vouch::domain::config::Config::parse(&config_for(&lake)).unwrap();
    (t, lake_dir, lake, cfg)
}

fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|e| e == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn the_index_never_changes_the_answer() {
    let key = IndexKey::new(b"differential-test-key");
    let mut rng = Rng::new(42);
    let mut sets_checked = 0;
    let mut ruled_out = 0u64;
    for seed in 1..=4u64 {
        let (t, lake_dir, lake, cfg) = random_lake_in_temp(seed);
        let ix_dir = t.path().join("index");
        let s = build(&lake_dir, &cfg, &key, &ix_dir);
        assert_eq!(s.indexed, s.files, "{s:?}");
        assert!(s.errors.is_empty(), "{s:?}");
        let check = |sets: &[Vec<String>], ix: &LakeIndex, stale: bool| -> u64 {
            let mut skipped = 0;
            for ids in sets {
                let (plain, _) = scan(&lake_dir, &cfg, ids, None);
                let (indexed, r) = scan(&lake_dir, &cfg, ids, Some(ix));
                assert_eq!(plain, indexed, "seed {seed}, ids {ids:?}");
                let use_ = r.index.unwrap();
                assert_eq!(use_.fingerprint, ix.fingerprint);
                if !stale {
                    assert_eq!(use_.files_without_index, 0);
                }
                skipped += r.row_groups.skipped_by_index;
            }
            skipped
        };
        let sets = id_sets(&lake.ids, &mut rng, 13);
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        ruled_out += check(&sets, &ix, false);
        sets_checked += sets.len();

        // Add a file, replace one, delete one.
        let files = parquet_files(&lake_dir);
        let table_dir = files[0].parent().unwrap().to_path_buf();
        let same_table: Vec<_> = files
            .iter()
            .filter(|f| f.parent() == Some(&table_dir))
            .collect();
        std::fs::copy(same_table[0], table_dir.join("added.parquet")).unwrap();
        if same_table.len() > 1 {
            std::fs::copy(same_table[0], same_table[1]).unwrap();
        }
        let last = files.last().unwrap();
        let last_dir = last.parent().unwrap();
        if parquet_files(last_dir).len() > 1 {
            std::fs::remove_file(last).unwrap();
        }
        // The stale index is still right: changed files are read in full.
        let sets = id_sets(&lake.ids, &mut rng, 6);
        let (_, r) = scan(&lake_dir, &cfg, &sets[0], Some(&ix));
        assert!(r.index.unwrap().files_without_index >= 1);
        check(&sets, &ix, true);
        sets_checked += sets.len();
        // An incremental rebuild reads only what changed.
        let s2 = build(&lake_dir, &cfg, &key, &ix_dir);
        assert!(s2.indexed >= 1 && s2.indexed <= 2, "{s2:?}");
        assert_eq!(s2.indexed + s2.reused, s2.files, "{s2:?}");
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        let sets = id_sets(&lake.ids, &mut rng, 6);
        ruled_out += check(&sets, &ix, false);
        sets_checked += sets.len();
    }
    assert!(sets_checked >= 100, "{sets_checked}");
    assert!(ruled_out > 0, "the index never ruled anything out");
}

/// The entry files of an index.
fn entry_files(ix_dir: &Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    std::fs::read_dir(ix_dir.join("files"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Generations: the layers of the lake set say which builds' files may hold a value, so a
/// subject whose rows only recent files hold is never looked for in the rest of the lake
/// (no false positive there, no entry opened), and night after night (layers merged,
/// files rewritten or removed) the answer stays the raw scan's.
#[test]
fn a_subject_only_in_new_files_is_looked_for_only_there() {
    let key = IndexKey::new(b"generations-test-key");
    let t = tempfile::tempdir().unwrap();
    let lake_dir = t.path().join("lake");
    let table = lake_dir.join("events");
    std::fs::create_dir_all(&table).unwrap();
    let cfg = vouch::domain::config::Config::parse(
        "[lake]\nid_columns = [\"user_id\"]\n\n[[lake.tables]]\nname = \"events\"\n",
    )
    .unwrap();
    // 300 distinct values a file: fuse filters, not exact lists.
    let file_of = |ids: Vec<String>| -> Vec<(&str, Vec<String>)> {
        let n = ids.len();
        vec![
            ("user_id", ids),
            ("amount", (0..n).map(|i| i.to_string()).collect()),
        ]
    };
    let mut everyone: Vec<String> = Vec::new();
    for f in 0..16 {
        let ids: Vec<String> = (0..300).map(|i| format!("old-{f}-{i}")).collect();
        everyone.extend(ids.iter().cloned());
        text_table(&table.join(format!("part-{f}.parquet")), file_of(ids));
    }
    let ix_dir = t.path().join("index");
    build(&lake_dir, &cfg, &key, &ix_dir);
    // The first build's entries (its layer, 4,800 values, outweighs ten nights of 100:
    // it is never merged with theirs).
    let first = entry_files(&ix_dir);
    let mut rng = Rng::new(77);
    for night in 1..=10 {
        let before = entry_files(&ix_dir);
        let fresh: Vec<String> = (0..100).map(|i| format!("night-{night}-{i}")).collect();
        everyone.extend(fresh.iter().cloned());
        text_table(
            &table.join(format!("night-{night}.parquet")),
            file_of(fresh.clone()),
        );
        // Now and then an old file rewritten with a new value, or one removed.
        if night % 3 == 0 {
            let mut ids: Vec<String> = (0..300).map(|i| format!("old-{night}-{i}")).collect();
            ids.push(format!("moved-{night}"));
            everyone.push(format!("moved-{night}"));
            text_table(&table.join(format!("part-{night}.parquet")), file_of(ids));
        }
        if night % 4 == 0 {
            std::fs::remove_file(table.join(format!("part-{}.parquet", night + 1))).unwrap();
        }
        let s = build(&lake_dir, &cfg, &key, &ix_dir);
        assert!(s.errors.is_empty(), "{s:?}");
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        // Tonight's subjects, past ones, rewritten ones and absent ones: the raw answer.
        let mut ids: Vec<String> = fresh.iter().take(5).cloned().collect();
        ids.extend(everyone.iter().filter(|_| rng.chance(0.01)).cloned());
        ids.push(format!("moved-{night}"));
        ids.push("nobody".into());
        let (plain, _) = scan(&lake_dir, &cfg, &ids, None);
        let (indexed, r) = scan(&lake_dir, &cfg, &ids, Some(&ix));
        assert_eq!(plain, indexed, "night {night}");
        assert_eq!(r.index.unwrap().files_without_index, 0, "night {night}");
        // Tonight's subjects alone, with the first build's entries gone (on the first
        // night, every entry but tonight's): none of them is opened (a missing one
        // would be read in full).
        let copy = t.path().join("index-copy");
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(&ix_dir, &copy);
        let tonight: Vec<_> = entry_files(&ix_dir).difference(&before).cloned().collect();
        assert!(!tonight.is_empty(), "night {night}");
        let name_in = |set: &std::collections::BTreeSet<std::path::PathBuf>, e: &Path| {
            set.iter().any(|n| n.file_name() == e.file_name())
        };
        for e in entry_files(&copy) {
            let kept = if night == 1 {
                tonight.iter().any(|n| n.file_name() == e.file_name())
            } else {
                !name_in(&first, &e)
            };
            if !kept {
                std::fs::remove_file(e).unwrap();
            }
        }
        let only_new: Vec<String> = fresh.iter().take(5).cloned().collect();
        let ix = LakeIndex::load(&copy, &key).unwrap();
        let (plain, _) = scan(&lake_dir, &cfg, &only_new, None);
        let (indexed, r) = scan(&lake_dir, &cfg, &only_new, Some(&ix));
        assert_eq!(plain, indexed, "night {night}");
        assert_eq!(plain.0.len(), 5, "night {night}: each of the 5 has its row");
        assert_eq!(r.index.unwrap().files_without_index, 0, "night {night}");
        if night == 1 {
            assert_eq!(
                r.row_groups.decoded + r.row_groups.skipped_by_dictionary,
                1,
                "night 1: only tonight's file is read: {:?}",
                r.row_groups
            );
        }
    }
}

/// Rewrites every file of the index in `ix_dir` as format 4 (magic `VOUCHIX4`, the
/// format whose values were hashed with SipHash), sealed again by hand from the layout
/// `sealed.rs` documents, not by vouch's code: `MAGIC | key id | u32 head length | head |
/// u64 body length | SHA-256 of the body | one 16-byte tag per 1 KiB block | HMAC-SHA256
/// of all before | body`. Every file is then one that an earlier vouch wrote and would
/// accept, MAC and all.
fn reseal_as_format_4(ix_dir: &Path, subject_key: &[u8]) -> usize {
    use hmac::{Hmac, Mac};
    let hmac = |key: &[u8], msg: &[u8]| -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    };
    use sha2::Sha256;
    let mac_key = hmac(subject_key, b"vouch-index-v1 file mac key");
    let mut paths = vec![ix_dir.join("lake.vix")];
    for sub in ["sets", "files"] {
        paths.extend(
            std::fs::read_dir(ix_dir.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path()),
        );
    }
    for path in &paths {
        let mut b = std::fs::read(path).unwrap();
        assert_eq!(&b[..8], b"VOUCHIX5", "{}", path.display());
        let at = 8 + 16;
        let head_len = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let body_at = at + 4 + head_len;
        let body_len = u64::from_le_bytes(b[body_at..body_at + 8].try_into().unwrap()) as usize;
        let prefix = body_at + 8 + 32 + 16 * body_len.div_ceil(1024);
        assert_eq!(b.len(), prefix + 32 + body_len, "{}", path.display());
        b[..8].copy_from_slice(b"VOUCHIX4");
        let tag = hmac(&mac_key, &b[..prefix]);
        b[prefix..prefix + 32].copy_from_slice(&tag);
        std::fs::write(path, b).unwrap();
    }
    paths.len()
}

/// An index of the previous format (values hashed with SipHash, not AES) is never read
/// with this format's hash, where every lookup would miss: though each of its files is
/// sealed with the right key, it is refused whole, saying which format it is, and the
/// next build indexes every file again. Every answer is the raw scan's.
#[test]
fn an_index_of_the_previous_format_is_refused_whole_and_rebuilt() {
    let subject_key = b"format-test-key-0123";
    let key = IndexKey::new(subject_key);
    let (t, lake_dir, lake, cfg) = random_lake_in_temp(23);
    let ix_dir = t.path().join("index");
    let first = build(&lake_dir, &cfg, &key, &ix_dir);
    assert!(reseal_as_format_4(&ix_dir, subject_key) > 2);
    let e = LakeIndex::load(&ix_dir, &key)
        .err()
        .expect("a format 4 index is refused");
    let message = e.to_string();
    assert!(
        message.contains("format 4") && message.contains("vouch index build"),
        "{message}"
    );
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(s.indexed, s.files, "every file is indexed again: {s:?}");
    assert_eq!(s.files, first.files);
    let ix = LakeIndex::load(&ix_dir, &key).unwrap();
    answers_are_the_raw_scans(&lake_dir, &cfg, &ix, &lake.ids, 9, 5);
}

/// A table of many files, their values gathered while they are read: every entry and
/// value is kept, and the answers are the raw scan's.
#[test]
fn a_table_of_many_files_is_indexed_whole() {
    let key = IndexKey::new(b"many-files-test-key");
    let (t, lake_dir, lake, cfg) = random_lake_in_temp(31);
    let files = parquet_files(&lake_dir.join(&lake.tables[0].name));
    for k in 0..300 {
        let src = &files[k % files.len()];
        std::fs::copy(src, src.with_file_name(format!("copy-{k:04}.parquet"))).unwrap();
    }
    let ix_dir = t.path().join("index");
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert!(s.files > 300, "{s:?}");
    assert_eq!(s.indexed, s.files, "{s:?}");
    assert_eq!(entry_files(&ix_dir).len() as u64, s.files);
    let ix = LakeIndex::load(&ix_dir, &key).unwrap();
    answers_are_the_raw_scans(&lake_dir, &cfg, &ix, &lake.ids, 4, 2);
}

/// The files of the lake set's layers.
fn layer_files(ix_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(ix_dir.join("sets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn the_lake_set_grows_in_layers_and_never_loses_a_value() {
    let key = IndexKey::new(b"layered-set-test-key");
    let (t, lake_dir, lake, cfg) = random_lake_in_temp(11);
    let ix_dir = t.path().join("index");
    build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(
        layer_files(&ix_dir).len(),
        1,
        "a build from scratch: one layer"
    );
    let files = parquet_files(&lake_dir);
    let mut rng = Rng::new(5);
    let mut most = 1;
    for night in 0..12 {
        // A night's new file: a copy of an old one under a new name.
        let src = &files[night % files.len()];
        std::fs::copy(src, src.with_file_name(format!("night-{night}.parquet"))).unwrap();
        let s = build(&lake_dir, &cfg, &key, &ix_dir);
        assert_eq!(
            s.indexed, 1,
            "night {night}: only the new file is read: {s:?}"
        );
        let layers = layer_files(&ix_dir);
        most = most.max(layers.len());
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        // Every value of the lake is in the set, whichever layer holds it.
        let all: Vec<String> = lake.ids.clone();
        let (plain, _) = scan(&lake_dir, &cfg, &all, None);
        let (indexed, r) = scan(&lake_dir, &cfg, &all, Some(&ix));
        assert_eq!(plain, indexed, "night {night}");
        assert_eq!(r.index.unwrap().files_without_index, 0);
        for ids in id_sets(&lake.ids, &mut rng, 2) {
            assert_eq!(
                scan(&lake_dir, &cfg, &ids, None).0,
                scan(&lake_dir, &cfg, &ids, Some(&ix)).0
            );
        }
    }
    assert!(most >= 2, "new values go to a layer of their own");
    // A rerun with nothing new rewrites nothing.
    let before = std::fs::read(ix_dir.join("lake.vix")).unwrap();
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(s.indexed, 0);
    assert_eq!(std::fs::read(ix_dir.join("lake.vix")).unwrap(), before);
    // A damaged layer body: blocks that fail count as "may be present", never absent.
    let ids: Vec<String> = lake.ids.iter().take(30).cloned().collect();
    let (want, _) = scan(&lake_dir, &cfg, &ids, None);
    for layer in layer_files(&ix_dir) {
        let original = std::fs::read(&layer).unwrap();
        let mut b = original.clone();
        let n = b.len();
        for x in &mut b[n.saturating_sub(4096)..] {
            *x ^= 0x21;
        }
        std::fs::write(&layer, &b).unwrap();
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        assert_eq!(scan(&lake_dir, &cfg, &ids, Some(&ix)).0, want);
        std::fs::write(&layer, original).unwrap();
    }
    // A missing or altered layer head: the index is not loaded, the next build starts
    // again from scratch.
    let layers = layer_files(&ix_dir);
    let mut b = std::fs::read(&layers[0]).unwrap();
    b[40] ^= 1;
    std::fs::write(&layers[0], &b).unwrap();
    assert!(LakeIndex::load(&ix_dir, &key).is_err());
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(s.indexed, s.files, "{s:?}");
    assert_eq!(layer_files(&ix_dir).len(), 1, "the old layers are gone");
    std::fs::remove_file(&layer_files(&ix_dir)[0]).unwrap();
    assert!(LakeIndex::load(&ix_dir, &key).is_err());
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(s.indexed, s.files, "{s:?}");
    let ix = LakeIndex::load(&ix_dir, &key).unwrap();
    assert_eq!(scan(&lake_dir, &cfg, &ids, Some(&ix)).0, want);
}

/// Outcomes recalled from an earlier night are the answers a decode gives: for the same
/// subjects, for other subjects, and for a file rewritten since (which is read again).
#[test]
fn recalled_outcomes_give_the_answer_a_decode_gives() {
    use vouch::domain::index::Recall;
    let key = IndexKey::new(b"recall-differential-key");
    let settings = vouch::domain::scan::recall_settings(&ScanOptions::default());
    let mut rng = Rng::new(77);
    let mut recalled = 0;
    for seed in [2u64, 5, 9] {
        let (t, lake_dir, lake, cfg) = random_lake_in_temp(seed);
        let ix_dir = t.path().join("index");
        build(&lake_dir, &cfg, &key, &ix_dir);
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        let sets = id_sets(&lake.ids, &mut rng, 4);
        let night = |as_of: i64| Recall::load(&ix_dir, &key, as_of, settings.clone());
        let check = |sets: &[Vec<String>], recall: &Recall, ix: &LakeIndex| -> u64 {
            let mut n = 0;
            for ids in sets {
                let (plain, _) = scan(&lake_dir, &cfg, ids, None);
                let (got, r) = scan_recalling(&lake_dir, &cfg, ids, Some(ix), Some(recall));
                assert_eq!(plain, got, "seed {seed}, ids {ids:?}");
                n += r.row_groups.recalled_by_index;
            }
            n
        };
        // Night 1 decodes and keeps what it decoded (not for a row group with more than
        // a few candidates, as with every ID of the lake: still the right answer).
        let first = night(100);
        check(std::slice::from_ref(&lake.ids), &first, &ix);
        assert_eq!(check(&sets[3..], &first, &ix), 0, "nothing kept yet");
        first.save(&ix_dir, &key, &|e| ix.lists_entry(e)).unwrap();
        // The same night again recalls nothing (a rerun decides as the first run did).
        assert_eq!(check(&sets[3..], &night(100), &ix), 0);
        // A later night: the same subjects are recalled, others decoded; all right.
        let later = night(200);
        let n = check(&sets[3..], &later, &ix);
        recalled += n;
        check(&sets[..3], &later, &ix);
        // Every file rewritten since (each with another file's rows of its table):
        // the index no longer speaks for them, so nothing of them is recalled.
        let files = parquet_files(&lake_dir);
        for pair in files.windows(2) {
            if pair[0].parent() == pair[1].parent() {
                std::fs::copy(&pair[1], &pair[0]).unwrap();
            }
        }
        for f in &files {
            std::fs::copy(f, f.with_extension("tmp")).unwrap();
            std::fs::rename(f.with_extension("tmp"), f).unwrap();
        }
        let after = night(300);
        assert_eq!(check(&sets[3..], &after, &ix), 0, "seed {seed}");
        check(&sets[..3], &after, &ix);
    }
    assert!(recalled > 0, "no outcome was ever recalled");
}

/// An outcome recalled for a value names every subject whose ID is that value: a night
/// that adds "007" to last night's "7" (one integer, so the same candidates) credits both.
#[test]
fn a_recalled_outcome_credits_every_subject_of_its_value() {
    use vouch::domain::index::Recall;
    let t = tempfile::tempdir().unwrap();
    let lake_dir = t.path().join("lake");
    oracle(
        "write_lake.py",
        &serde_json::json!({"files": [
            {"path": lake_dir.join("t/part-0.parquet"), "columns": {"user_id": [7, 8, 7, 9]}},
        ]}),
    );
    let cfg = vouch::domain::config::Config::parse(
        "[lake]\nid_columns = [\"user_id\"]\n\n[[lake.tables]]\nname = \"t\"\n",
    )
    .unwrap();
    let key = IndexKey::new(b"recall-alias-test-key");
    let ix_dir = t.path().join("index");
    build(&lake_dir, &cfg, &key, &ix_dir);
    let ix = LakeIndex::load(&ix_dir, &key).unwrap();
    let settings = vouch::domain::scan::recall_settings(&ScanOptions::default());
    let night = |as_of: i64| Recall::load(&ix_dir, &key, as_of, settings.clone());
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let first = night(100);
    scan_recalling(&lake_dir, &cfg, &ids(&["7"]), Some(&ix), Some(&first));
    first.save(&ix_dir, &key, &|e| ix.lists_entry(e)).unwrap();
    let both = ids(&["7", "007"]);
    let (got, r) = scan_recalling(&lake_dir, &cfg, &both, Some(&ix), Some(&night(200)));
    assert_eq!(r.row_groups.recalled_by_index, 1, "{:?}", r.row_groups);
    assert_eq!(got, scan(&lake_dir, &cfg, &both, None).0);
    let rows: Vec<(String, u64)> = got.0.iter().map(|x| (x.2.clone(), x.3)).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|x| x.1 == 2), "{rows:?}");
}

/// The index upkeep's one pass (new files probed for the subjects as they are indexed)
/// gives the scan the report it would write reading those files itself: the same
/// residuals, row group decisions and bytes read, as a rerun with the index current.
#[test]
fn the_upkeeps_one_pass_gives_the_report_a_scan_of_its_own_writes() {
    let key = IndexKey::new(b"one-pass-differential-key");
    let mut rng = Rng::new(91);
    let mut taken = 0;
    for seed in [3u64, 6, 13] {
        let (t, lake_dir, lake, cfg) = random_lake_in_temp(seed);
        let store = LocalStore::open(&lake_dir).unwrap();
        let tables = vouch::domain::lake::discover_tables(&store, &cfg.lake)
            .unwrap()
            .tables;
        for (n, ids) in id_sets(&lake.ids, &mut rng, 5).iter().enumerate() {
            let ix_dir = t.path().join(format!("index-{n}"));
            let subjects = SubjectList::of(ids.iter().map(String::as_str)).unwrap();
            let prescan = Prescan::new(&subjects);
            let options = ScanOptions::default();
            let listed = vouch::domain::lake::list_tables(&store, &tables, false);
            let errors = vouch::ops::index::keep_current(
                &store,
                &listed,
                &key,
                &ix_dir,
                &options,
                &prescan,
                &NoProgress,
            )
            .unwrap();
            assert!(errors.is_empty(), "{errors:?}");
            let ix = LakeIndex::load(&ix_dir, &key).unwrap();
            let kept = prescan.files();
            let (one_pass, a) =
                scan_of(&lake_dir, &cfg, &subjects, Some(&ix), None, Some(&prescan));
            assert_eq!(
                prescan.files(),
                0,
                "the scan took every file the upkeep decoded"
            );
            let (own, b) = scan_of(&lake_dir, &cfg, &subjects, Some(&ix), None, None);
            let (plain, _) = scan_of(&lake_dir, &cfg, &subjects, None, None, None);
            assert_eq!(one_pass, plain, "seed {seed}");
            assert_eq!(own, plain, "seed {seed}");
            assert_eq!(
                serde_json::to_value(&a).unwrap(),
                serde_json::to_value(&b).unwrap(),
                "seed {seed}, ids {ids:?}"
            );
            taken += kept;
        }
    }
    assert!(taken > 0, "no file was ever decided by the upkeep's decode");
    // A file rewritten between the upkeep and the scan (the same bytes, a new inode) is
    // not the file the upkeep read: the scan reads it itself.
    let t = tempfile::tempdir().unwrap();
    let lake_dir = t.path().join("lake");
    // (Seed 6 writes PLAIN and dictionary pages, which the one pass reads; seed 3's
    // DELTA_BYTE_ARRAY pages are indexed by the generic reader and read again by the scan.)
    let lake = vouch::dev::fixtures::random_lake(&lake_dir, 6).unwrap();
    let cfg = vouch::domain::config::Config::parse(&config_for(&lake)).unwrap();
    let store = LocalStore::open(&lake_dir).unwrap();
    let tables = vouch::domain::lake::discover_tables(&store, &cfg.lake)
        .unwrap()
        .tables;
    let subjects = SubjectList::of(lake.ids.iter().map(String::as_str)).unwrap();
    let prescan = Prescan::new(&subjects);
    let ix_dir = t.path().join("index");
    vouch::ops::index::keep_current(
        &store,
        &vouch::domain::lake::list_tables(&store, &tables, false),
        &key,
        &ix_dir,
        &ScanOptions::default(),
        &prescan,
        &NoProgress,
    )
    .unwrap();
    assert!(prescan.files() > 0);
    // Each file rewritten with another file's rows (of its table when it has another).
    let files = parquet_files(&lake_dir);
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for (i, f) in files.iter().enumerate() {
        let other = files
            .iter()
            .enumerate()
            .position(|(j, g)| j != i && g.parent() == f.parent())
            .unwrap_or((i + 1) % files.len());
        std::fs::write(f.with_extension("tmp"), &bytes[other]).unwrap();
        std::fs::rename(f.with_extension("tmp"), f).unwrap();
    }
    let ix = LakeIndex::load(&ix_dir, &key).unwrap();
    let (got, _) = scan_of(&lake_dir, &cfg, &subjects, Some(&ix), None, Some(&prescan));
    assert_eq!(got, scan_of(&lake_dir, &cfg, &subjects, None, None, None).0);
}

#[test]
fn a_damaged_or_foreign_index_is_not_trusted() {
    let (t, lake_dir, lake, cfg) = random_lake_in_temp(7);
    let key = IndexKey::new(b"damage-test-key-0123");
    let ix_dir = t.path().join("index");
    build(&lake_dir, &cfg, &key, &ix_dir);
    let ids: Vec<String> = lake.ids.iter().take(40).cloned().collect();
    let (want, _) = scan(&lake_dir, &cfg, &ids, None);
    // Damage to one entry: its head (checked when opened), or every byte of its filters
    // (each block checked when read): that file is read in full, the answer holds.
    let entries: Vec<_> = std::fs::read_dir(ix_dir.join("files"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for damage in ["head", "filters"] {
        let original = std::fs::read(&entries[0]).unwrap();
        let mut b = original.clone();
        match damage {
            "head" => b[30] ^= 0x40,
            _ => {
                // The filters are the file's tail (its body), after magic, key id, head
                // and the body's length.
                let head = u32::from_le_bytes(b[24..28].try_into().unwrap()) as usize;
                let at = 28 + head;
                let body = u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
                let n = b.len();
                for x in &mut b[n - body..] {
                    *x ^= 0x40;
                }
            }
        }
        std::fs::write(&entries[0], &b).unwrap();
        let ix = LakeIndex::load(&ix_dir, &key).unwrap();
        let (got, r) = scan(&lake_dir, &cfg, &ids, Some(&ix));
        assert_eq!(got, want, "{damage}");
        // With no subject present the entry is not even opened; here some are.
        assert_eq!(r.index.unwrap().files_without_index, 1, "{damage}");
        // The rebuild redoes it: a damaged head at once, a damaged body when asked to
        // check every byte (until then scans read that file in full, as above).
        if damage == "filters" {
            let s = build(&lake_dir, &cfg, &key, &ix_dir);
            assert_eq!(s.indexed, 0, "{damage}: {s:?}");
            let s = build_checking(&lake_dir, &cfg, &key, &ix_dir, KeptCheck::Whole);
            assert_eq!(s.indexed, 1, "{damage}: {s:?}");
            // Or: the scan that found it damaged lets it go (as `--update-index` and
            // nightly do), and the next build, checking heads only, redoes it.
            std::fs::write(&entries[0], &b).unwrap();
            let s = build(&lake_dir, &cfg, &key, &ix_dir);
            assert_eq!(s.indexed, 0, "{damage}: {s:?}");
            let ix = LakeIndex::load(&ix_dir, &key).unwrap();
            let (got, _) = scan(&lake_dir, &cfg, &ids, Some(&ix));
            assert_eq!(got, want);
            assert_eq!(ix.forget_broken(), 1);
            let s = build(&lake_dir, &cfg, &key, &ix_dir);
            assert_eq!(s.indexed, 1, "{damage}: {s:?}");
        } else {
            let s = build(&lake_dir, &cfg, &key, &ix_dir);
            assert_eq!(s.indexed, 1, "{damage}: {s:?}");
        }
        std::fs::write(&entries[0], original).unwrap();
    }
    // Another key, or a damaged top file: not loaded at all.
    assert!(LakeIndex::load(&ix_dir, &IndexKey::new(b"another-key-of-16-bytes")).is_err());
    let top = ix_dir.join("lake.vix");
    let mut b = std::fs::read(&top).unwrap();
    b.truncate(b.len() - 3);
    std::fs::write(&top, b).unwrap();
    assert!(LakeIndex::load(&ix_dir, &key).is_err());
    let s = build(&lake_dir, &cfg, &key, &ix_dir);
    assert_eq!(s.indexed, s.files, "an unreadable index is rebuilt: {s:?}");
}

/// `vouch index build` of the fixture config in `p`, into `p/ix`.
fn index_build_cmd(p: &std::path::Path) -> std::process::Command {
    let mut c = vouch();
    c.current_dir(p)
        .args("index build --config vouch.toml --index ix".split(' '));
    c
}

#[test]
fn the_cli_builds_and_uses_the_index_and_needs_the_key() {
    let dir = fixture_copy();
    let p = dir.path();
    let build = |key: Option<&str>| {
        let mut c = index_build_cmd(p);
        c.args(["--format", "json"]);
        if let Some(k) = key {
            c.env("VOUCH_SUBJECT_KEY", k);
        }
        run(&mut c)
    };
    let r = build(None);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("needs a subject key"), "{r:?}");
    let r = build(Some("0123456789abcdef-key"));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["indexed"], 7);
    let r = build(Some("0123456789abcdef-key"));
    assert_eq!(r.json()["reused"], 7, "nothing changed: nothing read again");
    let scan = |extra: &[&str]| fixture_scan(p, "0123456789abcdef-key", extra);
    let with = scan(&["--index", "ix"]);
    let without = scan(&[]);
    assert_eq!(with.code, 1);
    let (w, wo) = (with.json(), without.json());
    assert_eq!(w["residuals"], wo["residuals"]);
    assert_eq!(w["tables"], wo["tables"]);
    assert!(
        w["row_groups"]["skipped_by_index"].as_u64().unwrap() > 0,
        "{w}"
    );
    assert_eq!(w["index"]["files_without_index"], 0);
    // --update-index keeps the index current in the same run: a new file is indexed
    // before the scan, and a later run recalls what this one decoded.
    std::fs::copy(
        p.join("lake/events/dt=2026-01-01/part-0.parquet"),
        p.join("lake/events/dt=2026-01-01/part-new.parquet"),
    )
    .unwrap();
    let first = scan(&["--index", "ix", "--update-index"]);
    let again = scan(&["--index", "ix", "--update-index"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let later = scan(&["--index", "ix", "--update-index"]);
    let plain = scan(&[]);
    for r in [&first, &again, &later] {
        assert_eq!(r.code, 1, "{r:?}");
        let j = r.json();
        assert_eq!(j["index"]["files_without_index"], 0, "{j}");
        assert_eq!(j["residuals"], plain.json()["residuals"]);
        assert_eq!(j["tables"], plain.json()["tables"]);
    }
    assert!(
        first.json()["row_groups"]
            .get("recalled_by_index")
            .is_none()
    );
    assert!(
        later.json()["row_groups"]["recalled_by_index"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        later.json()
    );
    let r = scan(&["--update-index"]);
    assert_eq!(r.code, 2, "--update-index needs --index: {r:?}");
    std::fs::remove_file(p.join("lake/events/dt=2026-01-01/part-new.parquet")).unwrap();
    // An index built with another key is not used; the scan says so and still answers.
    let other = fixture_scan(p, "another-key-0123456789", &["--index", "ix"]);
    assert_eq!(other.code, 1, "{other:?}");
    assert!(other.stderr.contains("another subject key"), "{other:?}");
    assert_eq!(other.json()["residual_rows"], wo["residual_rows"]);
}

#[test]
fn concurrent_builds_leave_a_usable_index() {
    let dir = fixture_copy();
    let p = dir.path();
    let key = "0123456789abcdef-concurrent";
    let spawn = || {
        index_build_cmd(p)
            .env("VOUCH_SUBJECT_KEY", key)
            .arg("-q")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(p.join("ix"));
        let builds: Vec<_> = (0..3).map(|_| spawn()).collect();
        for b in builds {
            let out = b.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ix = LakeIndex::load(&p.join("ix"), &IndexKey::new(key.as_bytes())).unwrap();
        assert_eq!(ix.files(), 7);
        let r = fixture_scan(p, key, &["--index", "ix"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert_eq!(r.json()["index"]["files_without_index"], 0);
        assert_eq!(r.json()["residual_rows"], 4);
        // No temp file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(p.join("ix/files"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
