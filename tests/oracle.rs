//! vouch's counts checked against DuckDB, an independent engine, on generated lakes.

mod common;
use common::*;

fn config_for(lake: &vouch::fixtures::RandomLake) -> String {
    let mut s = String::from("[lake]\nid_columns = [\"user_id\"]\n");
    for t in &lake.tables {
        let cols: Vec<String> = t.id_columns.iter().map(|c| format!("{c:?}")).collect();
        s.push_str(&format!(
            "\n[[lake.tables]]\nname = {:?}\nid_columns = [{}]\n",
            t.name,
            cols.join(", ")
        ));
    }
    s
}

#[test]
fn residual_counts_match_duckdb_on_random_lakes() {
    for seed in 1..=16u64 {
        let dir = tempfile::tempdir().unwrap();
        let lake_dir = dir.path().join("lake");
        let lake = vouch::fixtures::random_lake(&lake_dir, seed).unwrap();
        std::fs::write(dir.path().join("vouch.toml"), config_for(&lake)).unwrap();
        std::fs::write(dir.path().join("ids.txt"), lake.ids.join("\n")).unwrap();
        let tables: Vec<serde_json::Value> = lake
            .tables
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "id_sql": t.id_sql}))
            .collect();
        let want = oracle(
            "duckdb_counts.py",
            &serde_json::json!({"lake": lake_dir, "ids": lake.ids, "tables": tables}),
        );
        // Every decision path: pruning and the fast decoder, then the generic decoder alone.
        for flags in [
            &[][..],
            &["--no-statistics", "--no-bloom-filters", "--no-dictionaries"][..],
        ] {
            let r = run(vouch()
                .args(["scan", "--format", "json", "-q", "--lake"])
                .arg(&lake_dir)
                .arg("--config")
                .arg(dir.path().join("vouch.toml"))
                .arg("--ids")
                .arg(dir.path().join("ids.txt"))
                .args(flags));
            let got = r.json();
            assert!(
                got["errors"].as_array().unwrap().is_empty(),
                "seed {seed} {flags:?}: {r:?}"
            );
            for t in got["tables"].as_array().unwrap() {
                let name = t["table"].as_str().unwrap();
                assert_eq!(
                    t["rows_scanned"], want[name]["rows"],
                    "seed {seed} {flags:?} table {name} rows"
                );
                assert_eq!(
                    t["residual_rows"], want[name]["residual_rows"],
                    "seed {seed} {flags:?} table {name} residual rows\n{r:?}"
                );
            }
            let total: u64 = lake
                .tables
                .iter()
                .map(|t| want[&t.name]["residual_rows"].as_u64().unwrap())
                .sum();
            let expect_code = if total > 0 { 1 } else { 0 };
            assert_eq!(r.code, expect_code, "seed {seed}: {r:?}");
        }
    }
}
