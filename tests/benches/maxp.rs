//! Max-p engine on rook lattices of 900, 3,600 and 10,000 square blocks (100 m cells).
//!
//! Populations and bounds come from `/tmp/bmu-lattice-SIDE.json` when `tests/compare/maxp_lattices.py` has written
//! them (so that bmu solves exactly the lattices given to pygeoda and spopt); otherwise they are drawn here, uniform
//! integers 100..=1000 from ChaCha8 seed 7. Before timing, each lattice is solved once and p printed.
//!
//! `cargo bench --bench maxp`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bmu::propose::{greedy_baseline, solve, Problem, Settings};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};

const CELL: f64 = 100.0;
/// Side → bound, as in `tests/compare/maxp_lattices.py`.
const LATTICES: [(usize, f64); 3] = [(30, 5_000.0), (60, 10_000.0), (100, 20_000.0)];

struct Lattice {
    side: usize,
    bound: f64,
    source: &'static str,
    population: Vec<f64>,
    area: Vec<f64>,
    centroid: Vec<[f64; 2]>,
    adjacency: Vec<Vec<usize>>,
}

impl Lattice {
    fn new(side: usize, bound: f64) -> Self {
        let n = side * side;
        let (population, bound, source) = match read_peer_lattice(side) {
            Some((population, bound)) if population.len() == n => (population, bound, "peer lattice file"),
            _ => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
                let population = (0..n)
                    .map(|_| f64::from(rng.random_range(100u32..=1000)))
                    .collect();
                (population, bound, "ChaCha8 seed 7")
            }
        };
        let mut adjacency = vec![Vec::new(); n];
        let mut centroid = Vec::with_capacity(n);
        for r in 0..side {
            for c in 0..side {
                let i = r * side + c;
                centroid.push([(c as f64 + 0.5) * CELL, (r as f64 + 0.5) * CELL]);
                if c + 1 < side {
                    adjacency[i].push(i + 1);
                    adjacency[i + 1].push(i);
                }
                if r + 1 < side {
                    adjacency[i].push(i + side);
                    adjacency[i + side].push(i);
                }
            }
        }
        Lattice {
            side,
            bound,
            source,
            population,
            area: vec![CELL * CELL; n],
            centroid,
            adjacency,
        }
    }

    fn problem(&self) -> Problem<'_> {
        Problem {
            population: &self.population,
            area: &self.area,
            centroid: &self.centroid,
            adjacency: &self.adjacency,
            min_population: self.bound,
            min_area: 0.0,
            services: None,
        }
    }
}

fn read_peer_lattice(side: usize) -> Option<(Vec<f64>, f64)> {
    let text = std::fs::read_to_string(format!("/tmp/bmu-lattice-{side}.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let population = value["population"]
        .as_array()?
        .iter()
        .map(|v| v.as_f64())
        .collect::<Option<Vec<_>>>()?;
    Some((population, value["bound"].as_f64()?))
}

/// CPU seconds used so far by all threads of this process (Linux `schedstat`; 0 elsewhere). On a shared machine
/// this is steadier than wall time.
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

fn bench(c: &mut Criterion) {
    let mut settings = Settings::default();
    // Tuning aid: BMU_MAXP=starts,improve_iterations overrides the defaults.
    if let Some((starts, rounds)) = std::env::var("BMU_MAXP").ok().and_then(|v| {
        let (a, b) = v.split_once(',')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }) {
        settings.starts = starts;
        settings.improve_iterations = rounds;
    }
    let mut group = c.benchmark_group("maxp");
    group.sample_size(10);
    for (side, bound) in LATTICES {
        let lattice = Lattice::new(side, bound);
        let problem = lattice.problem();
        let total: f64 = lattice.population.iter().sum();
        let (cpu_before, started) = (cpu_seconds(), Instant::now());
        let solution = solve(&problem, &settings).unwrap();
        let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_before);
        let baseline = greedy_baseline(&problem, settings.seed).unwrap();
        let best = &solution.candidates[0];
        println!(
            "maxp {side}x{side} ({}): bound {}, p = {} (baseline {}, upper bound {}), compactness {:.3}, one run {seconds:.3} s wall, {cpu:.3} s CPU",
            lattice.source,
            lattice.bound,
            best.p,
            baseline.p,
            (total / lattice.bound).floor(),
            best.score.compactness / best.p.max(1) as f64,
        );
        group.bench_function(format!("{}x{}", lattice.side, lattice.side), |b| {
            b.iter(|| solve(&problem, &settings))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
