//! Benchmark (not a test) of `contactscore-trainer plan` at scale: simulates and trains a model,
//! grows its state to `--persons` by replicating the trained persons under new ids, publishes
//! that version, writes a list of every person and a day of hourly capacity, then runs the
//! release `contactscore-trainer plan` binary on it (twice, with every core and with one thread,
//! to show the plan does not depend on the threads) under `/usr/bin/time -v`, and prints the wall
//! time, CPU time and peak memory of the plan command itself. Figures go to BENCHMARKS.md.
//!
//! `cargo bench -p contactscore-trainer --bench plan -- [--persons 1000000] [--explicit 10]
//! [--fill 0.7] [--keep DIR]` (build the binary first: `cargo build --release -p
//! contactscore-trainer`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use contactscore_models::artifact::Registry;
use contactscore_models::features::FeatureState;
use contactscore_models::localtime::DAY;
use contactscore_trainer::config::Config;
use contactscore_trainer::progress::Progress;
use contactscore_trainer::simulate::{SimulateParams, simulate};
use contactscore_trainer::timefmt::rfc3339;
use contactscore_trainer::train::{FamilyChoice, Promotion, TrainRequest, train};

struct Args {
    persons: usize,
    explicit_percent: usize,
    fill: f64,
    keep: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        persons: 1_000_000,
        explicit_percent: 10,
        fill: 0.7,
        keep: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let next = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--persons" => a.persons = next.parse().unwrap_or(a.persons),
            "--explicit" => a.explicit_percent = next.parse().unwrap_or(a.explicit_percent),
            "--fill" => a.fill = next.parse().unwrap_or(a.fill),
            "--keep" => a.keep = Some(PathBuf::from(next)),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let tmp = tempfile::tempdir()?;
    let dir = args.keep.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let bin = trainer_binary()?;

    // 1. A trained version grown to `persons`.
    let t = Instant::now();
    let params = SimulateParams {
        persons: 5_000,
        days: 60,
        seed: 42,
        ..SimulateParams::default()
    };
    let data = dir.join("data");
    let sim = simulate(&params, &data)?;
    let models = dir.join("models");
    let req = TrainRequest {
        inputs: contactscore_trainer::ingest::InputPaths {
            attempts: vec![data.join("attempts.csv")],
            contacts: Some(data.join("contacts.csv")),
            persons: Some(data.join("persons.csv")),
            validations: Some(data.join("validations.csv")),
        },
        models_dir: models.clone(),
        family: FamilyChoice::Auto,
        promotion: Promotion::Always,
        // The simulator's malformed and implausible rows, exactly.
        max_bad_rows: sim.bad_rows(),
        threads: contactscore_trainer::threads::Threads::all(),
    };
    let trained = train(&req, &Config::default().validate()?, &Progress::silent())?.manifest;
    let registry = Registry::open(&models)?;
    let loaded = registry.load(Some(&trained.version))?;
    let mut state = loaded.state;
    let templates = state.len();
    grow(&mut state, args.persons);
    let mut manifest = loaded.manifest;
    manifest.version = format!("{}-plan{}", trained.version, state.len());
    registry.publish(&mut manifest, &loaded.model, &state, &loaded.evidence)?;
    registry.promote(&manifest.version)?;
    println!(
        "setup: simulate 5 000 × 60 days, train ({}), grow to {} persons, publish: {:.1} s",
        manifest.family,
        state.len(),
        t.elapsed().as_secs_f64()
    );

    // 2. The list (every person; some with their contact points spelled out) and a day of
    //    capacity for `fill` of them.
    let start = planning_day(state.cutoff.unwrap_or(0));
    let list = dir.join("list.csv");
    write_list(&list, &state, templates, args.explicit_percent)?;
    let capacity = dir.join("capacity.csv");
    let per_hour = ((args.persons as f64 * args.fill) / 24.0).ceil() as u64;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&capacity)?);
    writeln!(f, "slot_start,attempts")?;
    for h in 0..24 {
        writeln!(f, "{},{per_hour}", rfc3339(start + h * 3_600))?;
    }
    f.flush()?;
    drop(state);
    println!(
        "list: {} persons ({} % with explicit contact points); capacity {per_hour} attempts an \
         hour × 24 hours from {}",
        args.persons,
        args.explicit_percent,
        rfc3339(start)
    );

    // 3. The plan command, measured by /usr/bin/time.
    let mut outputs = Vec::new();
    for threads in [None, Some(1)] {
        let out = dir.join(format!("plan-{}.csv", threads.map_or(0, |t| t)));
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-v")
            .arg(&bin)
            .arg("plan")
            .arg("--models-dir")
            .arg(&models)
            .arg("--list")
            .arg(&list)
            .arg("--capacity")
            .arg(&capacity)
            .arg("--window-start")
            .arg(rfc3339(start))
            .arg("--window-end")
            .arg(rfc3339(start + DAY))
            .arg("--out")
            .arg(&out);
        if let Some(t) = threads {
            cmd.arg("--threads").arg(t.to_string());
        }
        let t = Instant::now();
        let o = cmd.output()?;
        let wall = t.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() {
            return Err(format!("plan failed: {stderr}").into());
        }
        let field = |name: &str| {
            stderr
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap_or_else(|| "n/a".into())
        };
        let rss_kib: f64 = field("Maximum resident set size (kbytes):")
            .parse()
            .unwrap_or(f64::NAN);
        println!(
            "\nplan, threads {}: wall {wall:.1} s, user {} s, system {} s, peak RSS {:.0} MiB",
            threads.map_or_else(|| "all".to_owned(), |t| t.to_string()),
            field("User time (seconds):"),
            field("System time (seconds):"),
            rss_kib / 1024.0
        );
        for l in stderr.lines().filter(|l| !l.starts_with('\t')) {
            println!("  {l}");
        }
        print!("{}", String::from_utf8_lossy(&o.stdout));
        outputs.push(std::fs::read(&out)?);
    }
    println!(
        "\nplans with every core and with one thread identical: {}",
        outputs.windows(2).all(|w| w[0] == w[1])
    );
    Ok(())
}

/// The release trainer binary next to this benchmark's profile directory.
fn trainer_binary() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target dir")?;
    let bin = dir.join("contactscore-trainer");
    if !bin.is_file() {
        return Err(format!(
            "{} not found: cargo build --release -p contactscore-trainer first",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// Append clones of the trained persons under new ids until the state holds `persons`.
fn grow(state: &mut FeatureState, persons: usize) {
    let templates = state.len();
    state.persons.reserve(persons.saturating_sub(templates));
    for i in templates..persons {
        let copy = state.persons[i % templates].clone();
        state.persons.push(copy);
        state.person_ids.push(format!("plan-{i:07}").into());
    }
    state.rebuild_index();
}

/// The list: every person by id; `explicit` % of them with their contact points spelled out.
fn write_list(
    path: &Path,
    state: &FeatureState,
    templates: usize,
    explicit: usize,
) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "person_id,contact,channels,timezone")?;
    for (i, id) in state.person_ids.iter().enumerate() {
        if i % 100 < explicit {
            for c in &state.persons[i % templates.max(1)].contacts {
                writeln!(f, "{id},{},,", c.key)?;
            }
        } else {
            writeln!(f, "{id},,,")?;
        }
    }
    f.flush()
}

/// The first midnight UTC after `cutoff` that starts a Tuesday to Friday.
fn planning_day(cutoff: i64) -> i64 {
    let mut day = cutoff.div_euclid(DAY) + 1;
    while !(2..=5).contains(&(day + 4).rem_euclid(7)) {
        day += 1;
    }
    day * DAY
}
