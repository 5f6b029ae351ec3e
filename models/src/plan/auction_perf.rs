//! Speed harness of the auction (not a test: ignored, prints figures, asserts nothing) on a
//! synthetic list shaped like a real one: persons in a few zones, each with 12 allowed hours of
//! a day, probabilities peaked in the local evening, many persons sharing the same values (new
//! leads look alike), capacity for 70 % of the list spread evenly over 24 hourly slots.
//!
//! `AUCTION_PERSONS=1000000 AUCTION_TEMPLATES=5000 cargo test --release -p contactscore-models
//! --lib plan::auction_perf -- --ignored --nocapture`

use std::time::Instant;

use super::auction::{Options, assign, dual_bound};

struct SplitMix(u64);

impl SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Options of one template person: 12 allowed UTC hours from their zone, peaked at 20:00 local.
fn template(rng: &mut SplitMix) -> Vec<(u32, f64)> {
    let zone = (rng.unit() * 4.0) as i64; // UTC−3 … UTC−6 as 3..=6 hours behind
    let base = 0.05 + 0.3 * rng.unit();
    (9..21)
        .map(|local: i64| {
            let utc = (local + 3 + zone).rem_euclid(24) as u32;
            let evening = (-((local - 20) as f64).powi(2) / 8.0).exp();
            let wiggle = 0.9 + 0.2 * rng.unit();
            (utc, (base * (0.6 + 0.8 * evening) * wiggle).min(0.99))
        })
        .collect()
}

#[test]
#[ignore = "speed harness: prints figures"]
fn auction_perf() {
    let n = env("AUCTION_PERSONS", 200_000);
    let templates = env("AUCTION_TEMPLATES", 5_000).max(1);
    let mut rng = SplitMix(42);
    let temps: Vec<Vec<(u32, f64)>> = (0..templates).map(|_| template(&mut rng)).collect();
    let mut options = Options::new();
    for i in 0..n {
        options.push_person(temps[i % templates].iter().copied());
    }
    let cap = ((n as f64 * 0.7) / 24.0).ceil() as u32;
    let capacity = vec![cap; 24];
    let t = Instant::now();
    let a = assign(&options, &capacity);
    let secs = t.elapsed().as_secs_f64();
    let total: f64 = a
        .chosen
        .iter()
        .flatten()
        .map(|&k| options.option(k).1)
        .sum();
    let bound = dual_bound(&options, &capacity, &a.prices);
    println!(
        "auction: {n} persons ({templates} distinct), 24 × {cap}: {secs:.2} s, {} bids ({:.1} a \
         person), assigned {}, value {total:.3}, bound {bound:.3}, gap {:.2e}",
        a.bids,
        a.bids as f64 / n as f64,
        a.chosen.iter().flatten().count(),
        bound - total
    );
}
