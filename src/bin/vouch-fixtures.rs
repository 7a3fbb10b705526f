//! Developer tool: writes seeded sample lakes.
//!
//! `vouch-fixtures sample DIR` writes the committed fixture set (fixtures/ in the repo);
//! `vouch-fixtures random DIR SEED` writes a random lake and prints its tables and IDs as JSON;
//! `vouch-fixtures bench DIR ROWS` writes the benchmark lakes and `DIR/ids.txt`;
//! `vouch-fixtures parts DIR FILES PARTS` writes a synthetic plan and its parts (merge
//! benchmark), authenticated under `VOUCH_SUBJECT_KEY`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["sample", dir] => vouch::dev::fixtures::sample_lake(std::path::Path::new(dir)).map(|_| ()),
        ["random", dir, seed] => match seed.parse::<u64>() {
            Ok(seed) => vouch::dev::fixtures::random_lake(std::path::Path::new(dir), seed).map(|lake| {
                let tables: Vec<serde_json::Value> = lake
                    .tables
                    .iter()
                    .map(|t| serde_json::json!({"name": t.name, "id_columns": t.id_columns, "id_sql": t.id_sql}))
                    .collect();
                println!("{}", serde_json::json!({"tables": tables, "ids": lake.ids}));
            }),
            Err(_) => Err(std::io::Error::other("SEED must be a number")),
        },
        ["bench", dir, rows] => match rows.parse::<u64>() {
            Ok(rows) => vouch::dev::fixtures::bench_lake(std::path::Path::new(dir), rows, 42).and_then(|lake| {
                std::fs::write(std::path::Path::new(dir).join("ids.txt"), lake.ids.join("\n") + "\n")?;
                println!(
                    "{}",
                    serde_json::json!({"plain": lake.plain, "bloom": lake.bloom, "rows": lake.rows,
                        "present": lake.present, "residual_rows": lake.residual_rows})
                );
                Ok(())
            }),
            Err(_) => Err(std::io::Error::other("ROWS must be a number")),
        },
        ["seal", recipient, input, output] => seal(recipient, input, output),
        ["parts", dir, files, parts] => match (files.parse::<u64>(), parts.parse::<usize>()) {
            (Ok(files), Ok(parts)) if parts > 0 => {
                let key = std::env::var("VOUCH_SUBJECT_KEY").unwrap_or_default();
                vouch::dev::parts::synthetic_parts(std::path::Path::new(dir), files, parts, key.as_bytes())
                    .map(|s| println!("{}", serde_json::to_string(&s).unwrap_or_default()))
            }
            _ => Err(std::io::Error::other("FILES and PARTS must be numbers, PARTS > 0")),
        },
        _ => Err(std::io::Error::other(
            "usage: vouch-fixtures sample DIR | random DIR SEED | bench DIR ROWS | seal RECIPIENT IN OUT \
             | parts DIR FILES PARTS (key in VOUCH_SUBJECT_KEY)",
        )),
    };
    if let Err(e) = result {
        eprintln!("vouch-fixtures: {e}");
        std::process::exit(2);
    }
}

/// Encrypts IN to OUT through the export's hashing age writer, for the throughput
/// benchmark; prints the SHA-256 of the ciphertext and the time taken.
fn seal(recipient: &str, input: &str, output: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let r = vouch::domain::export::parse_recipient(recipient).map_err(std::io::Error::other)?;
    let enc = vouch::domain::export::Encryption::Recipients(vec![r]);
    let started = std::time::Instant::now();
    let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(output)?);
    let mut sealer = vouch::domain::export::Sealer::new(&enc, out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut inp = std::fs::File::open(input)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = inp.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sealer.write_all(&buf[..n])?;
    }
    let (sha, bytes, mut out) = sealer.finish()?;
    out.flush()?;
    println!(
        "{{\"sha256\": \"{sha}\", \"bytes\": {bytes}, \"seconds\": {}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
