//! The fuzz corpus (`fuzz/corpus/TARGET/`, grown by `cargo +nightly fuzz run TARGET`) and
//! every input a fuzzer found a crash with (`fuzz/regressions/TARGET/`), replayed on
//! stable through the same entry points the fuzz targets call: none may panic in vouch's
//! own code (the scan contains the parquet crate's panics per file; those are errors).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

static OWN_PANICS: AtomicUsize = AtomicUsize::new(0);
static CONTAINED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn every_corpus_and_regression_input_is_handled() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if vouch::dev::fuzzing::is_own_panic(info) {
            OWN_PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        } else {
            // A dependency's panic, contained by the scan (an error for that file).
            CONTAINED.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 5] = [
        ("scan_file", vouch::dev::fuzzing::scan_file),
        ("evidence_verify", vouch::dev::fuzzing::evidence_verify),
        ("id_list", vouch::dev::fuzzing::id_list),
        ("config", vouch::dev::fuzzing::config),
        ("csv_table", vouch::dev::fuzzing::csv_table),
    ];
    let mut replayed = 0;
    for (name, run) in targets {
        let mut per_target = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let before = OWN_PANICS.load(Ordering::SeqCst);
                let started = std::time::Instant::now();
                let caught = std::panic::catch_unwind(|| run(&data));
                // Found as hangs: each took over 10 s in the fuzzer's build (debug
                // assertions), and 1–3 s in release, for a file of a few kilobytes.
                assert!(
                    started.elapsed().as_secs() < 5,
                    "{name}: {} took {:?}",
                    path.display(),
                    started.elapsed()
                );
                assert!(
                    caught.is_ok() && OWN_PANICS.load(Ordering::SeqCst) == before,
                    "{name}: {} panics",
                    path.display()
                );
                per_target += 1;
            }
        }
        assert!(per_target > 0, "no corpus for {name}");
        replayed += per_target;
    }
    eprintln!(
        "replayed {replayed} inputs; {} panics inside dependencies were contained",
        CONTAINED.load(Ordering::SeqCst)
    );
}
