//! The committed fixtures are exactly what the seeded generator writes.

use crate::common::*;
use sha2::{Digest, Sha256};

fn sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").expect("sha256sum format");
            (p.to_string(), h.to_string())
        })
        .collect()
}

fn sha256_file(p: &std::path::Path) -> String {
    vouch::domain::subjects::hex(&Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn committed_fixtures_match_their_checksums_and_the_generator() {
    let listed = sums(&std::fs::read_to_string(repo().join("fixtures/SHA256SUMS")).unwrap());
    assert!(listed.len() >= 12);
    let fresh = tempfile::tempdir().unwrap();
    vouch::dev::fixtures::sample_lake(fresh.path()).unwrap();
    for (path, hash) in &listed {
        assert_eq!(
            &sha256_file(&repo().join("fixtures").join(path)),
            hash,
            "committed {path} changed"
        );
        assert_eq!(
            &sha256_file(&fresh.path().join(path)),
            hash,
            "generator no longer writes {path} the same"
        );
    }
}
