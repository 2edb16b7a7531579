//! The covering solver of `bmu site --count` (issue #13) on synthetic instances shaped like those of
//! `tests/compare/mclp.py`: demand at the centres of 100 m cells with a clustered population (gamma background and
//! six Gaussian clusters, ChaCha8 seed 13; synthetic), candidates at every third cell centre, each reaching the demand
//! within the radius. Only the solve is timed (reduction, search, bounds), not reading or writing.
//!
//! `cargo bench --bench site`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bmu::site::solve::{solve, Goal, Limits, Problem};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};

const CELL: f64 = 100.0;

fn instance(nx: usize, ny: usize, radius: f64) -> Problem {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let pts: Vec<[f64; 2]> = (0..ny)
        .flat_map(|y| (0..nx).map(move |x| [CELL * (x as f64 + 0.5), CELL * (y as f64 + 0.5)]))
        .collect();
    // Gamma(0.6, 20) has mean 12: an exponential background of the same mean stands in for it here.
    let mut pop: Vec<f64> = pts
        .iter()
        .map(|_| -12.0 * (1.0 - rng.random::<f64>()).ln())
        .collect();
    for _ in 0..6 {
        let c = pts[rng.random_range(0..pts.len())];
        let s: f64 = rng.random_range(200.0..600.0);
        for (p, w) in pts.iter().zip(pop.iter_mut()) {
            let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
            *w += 400.0 * (-(d / s).powi(2)).exp();
        }
    }
    let cand: Vec<[f64; 2]> = pts
        .iter()
        .enumerate()
        .filter(|(i, _)| (i / nx) % 3 == 1 && (i % nx) % 3 == 1)
        .map(|(_, p)| *p)
        .collect();
    let covers = cand
        .iter()
        .map(|c| {
            (0..pts.len())
                .filter(|&i| {
                    (pts[i][0] - c[0]).powi(2) + (pts[i][1] - c[1]).powi(2) <= radius * radius + 1e-6
                })
                .collect()
        })
        .collect();
    Problem {
        covers,
        counted: vec![true; pts.len()],
        weight: pop,
        need: 0.0,
        inside: vec![true; cand.len()],
        inside_required: true,
    }
}

fn site(c: &mut Criterion) {
    let mut g = c.benchmark_group("site");
    g.sample_size(10);
    for (nx, ny, radius, p) in [
        (40, 30, 500.0, 3),
        (60, 40, 500.0, 5),
        (60, 40, 1000.0, 3),
        (90, 60, 1000.0, 5),
    ] {
        let problem = instance(nx, ny, radius);
        let s = solve(&problem, Goal::Exactly(p), Limits::default());
        println!(
            "{} demand, {} candidates, {radius} m, p {p}: {:.1} covered, {:?}, bound {:?}",
            nx * ny,
            problem.covers.len(),
            s.covered,
            s.method,
            s.bound
        );
        g.bench_function(format!("{nx}x{ny} cells, {radius} m, p {p}"), |b| {
            b.iter(|| solve(&problem, Goal::Exactly(p), Limits::default()))
        });
    }
    g.finish();
}

criterion_group!(benches, site);
criterion_main!(benches);
