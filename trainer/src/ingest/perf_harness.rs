//! Throwaway ingest timing and output-digest harness (ignored test; asserts nothing about time).
//!
//! `INGEST_BENCH_DIR=/path/with/attempts.csv cargo test --release -p contactscore-trainer --lib \
//! ingest::perf_harness -- --ignored --nocapture` prints rows/s and a SHA-256 digest of everything
//! ingest produced, for the real files and for a copy whose contacts are rewritten in many
//! spellings (some invalid), so before/after builds can be compared for identical output.
//! `INGEST_BENCH_THREADS=N` ingests with N threads (default 1).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::tests::opts;
use super::*;

/// A digest of every table and the report.
pub(super) fn digest(ing: &Ingested) -> String {
    let mut s = String::new();
    for p in ing.persons.iter() {
        let _ = writeln!(s, "p {p}");
    }
    for c in &ing.contacts {
        let _ = writeln!(s, "c {} {:?} {} {:?}", c.key, c.kind, c.region, c.number);
    }
    for r in &ing.attempts {
        let _ = writeln!(s, "a {r:?} {}", ing.attempt_id(r));
    }
    for k in &ing.known_contacts {
        let _ = writeln!(s, "k {k:?}");
    }
    for v in &ing.validations {
        let _ = writeln!(s, "v {v:?}");
    }
    for p in &ing.person_rows {
        let _ = writeln!(s, "r {p:?}");
    }
    let mut report = ing.report.clone();
    for f in &mut report.files {
        // Temp dir names differ between runs: drop them from paths and examples.
        if let Some(dir) = Path::new(&f.path).parent().map(|d| d.display().to_string())
            && dir.contains(".tmp")
        {
            for e in &mut report.skipped_examples {
                *e = e.replace(&dir, "");
            }
        }
        f.path.clear();
    }
    let _ = writeln!(s, "{:?} {report:?}", ing.person_attrs);
    if let Ok(dump) = std::env::var("INGEST_BENCH_DUMP") {
        let _ = std::fs::write(format!("{dump}.{}", ing.report.files.len()), &s);
    }
    let d = Sha256::digest(s.as_bytes());
    format!("{d:.16x}")
}

/// Many spellings of one contact, chosen by `i`; some are invalid on purpose.
fn respell(raw: &str, i: usize) -> String {
    if raw.contains('@') {
        return match i % 4 {
            0 => raw.to_uppercase(),
            1 => format!(" {raw}\t"),
            2 => raw.replace('@', "@@"),
            _ => raw.to_owned(),
        };
    }
    let plus = raw.starts_with('+');
    let d: String = raw.chars().filter(char::is_ascii_digit).collect();
    let p = if plus { "+" } else { "" };
    let n = d.len();
    match i % 16 {
        0 => format!("{p}{d}"),
        1 => format!("{p}{}-{}", &d[..n / 2], &d[n / 2..]),
        2 => format!("{p}{}.{}.{}", &d[..2], &d[2..5], &d[5..]),
        3 => format!("{p}({}) {}", &d[..2], &d[2..]),
        4 => format!("{p}{} {}-{}", &d[..2], &d[2..6], &d[6..]),
        5 => format!("({p}{}){}", &d[..2], &d[2..]),
        6 => format!(
            "{p} {}",
            d.chars().map(|c| format!("{c} ")).collect::<String>()
        ),
        7 => format!("{p}{}", &d[..2]),
        8 => format!("{p}{}-{}", &d[..1], &d[1..2]),
        9 => format!("{p}{}x{}", &d[..n - 2], &d[n - 2..]),
        10 => format!("{p}{}#", d),
        11 => format!("{p}{}  ", d),
        12 => format!("{p}{}-({})", &d[..3], &d[3..]),
        13 => format!("+{}", d),
        14 => format!("{p}{}/{}", &d[..4], &d[4..]),
        _ => raw.to_owned(),
    }
}

pub(super) fn messy_copy(dir: &Path, out: &Path) -> PathBuf {
    let text = std::fs::read_to_string(dir.join("attempts.csv")).expect("read attempts");
    let mut w = String::with_capacity(text.len() * 2);
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            w.push_str(line);
            w.push('\n');
            continue;
        }
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        cells[2] = respell(&cells[2], i.wrapping_mul(2_654_435_761) >> 7);
        let _ = writeln!(w, "\"{}\"", cells.join("\",\""));
    }
    let path = out.join("messy_attempts.csv");
    std::fs::write(&path, w).expect("write messy");
    path
}

fn run(label: &str, paths: &InputPaths, o: &IngestOptions, reps: usize) {
    let mut best = f64::MAX;
    let mut dg = String::new();
    let mut rows = 0;
    for _ in 0..reps {
        let t0 = Instant::now();
        let ing = ingest(paths, o).expect("ingest");
        best = best.min(t0.elapsed().as_secs_f64());
        rows = ing.report.files[0].rows_read;
        dg = digest(&ing);
    }
    let rate = rows as f64 / best;
    println!("{label}: {rows} attempt rows, best {best:.3} s, {rate:.0} rows/s, digest {dg}");
}

#[test]
#[ignore = "timing harness: needs INGEST_BENCH_DIR"]
fn ingest_throughput() {
    let Ok(dir) = std::env::var("INGEST_BENCH_DIR") else {
        println!("INGEST_BENCH_DIR not set");
        return;
    };
    let dir = PathBuf::from(dir);
    let reps = std::env::var("INGEST_BENCH_REPS").map_or(3, |r| r.parse().unwrap_or(3));
    let threads = std::env::var("INGEST_BENCH_THREADS").map_or(1, |r| r.parse().unwrap_or(1));
    let o = IngestOptions {
        threads: Threads::new(threads),
        ..opts(u64::MAX)
    };
    println!("threads: {threads}");
    let only = InputPaths {
        attempts: vec![dir.join("attempts.csv")],
        contacts: None,
        persons: None,
        validations: None,
    };
    run("attempts only", &only, &o, reps);
    if std::env::var("INGEST_BENCH_ONLY").is_ok() {
        return;
    }
    let full = InputPaths {
        attempts: vec![dir.join("attempts.csv")],
        contacts: Some(dir.join("contacts.csv")),
        persons: Some(dir.join("persons.csv")),
        validations: None,
    };
    run("attempts+contacts+persons", &full, &o, reps);
    let tmp = tempfile::tempdir().expect("tempdir");
    let messy = InputPaths {
        attempts: vec![messy_copy(&dir, tmp.path())],
        contacts: None,
        persons: None,
        validations: None,
    };
    run("messy spellings", &messy, &o, 1);
}
