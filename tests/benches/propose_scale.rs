//! Propose and the partition check at scale, on seeded square rook lattices of 250 m blocks (populations uniform
//! 300..=1000 from ChaCha8 seed 7, bound 20,000: about 31 blocks a unit).
//!
//! `cargo bench --bench propose_scale -- SIDE...` solves each lattice and dissolves the units, printing n, seconds
//! per stage, p against the upper bound and peak RSS (Linux `VmHWM`). The partition check at scale is timed through
//! the binary: `bmu validate` on the units `dump` writes.
//! `cargo bench --bench propose_scale -- dump SIDE OUT.geojson` writes the dissolved units of one lattice;
//! `cargo bench --bench propose_scale -- union FILE [minx miny maxx maxy]` unions the units of such a file (those whose
//! box lies inside the window) with `geo::unary_union` in one overlay, the operation that looped in i_overlay 4.5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bmu::blocks::dissolve;
use bmu::propose::{solve, Problem, Settings};
use geo::{BoundingRect, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};

const CELL: f64 = 250.0;
const BOUND: f64 = 20_000.0;

struct Lattice {
    population: Vec<f64>,
    area: Vec<f64>,
    centroid: Vec<[f64; 2]>,
    adjacency: Vec<Vec<usize>>,
    blocks: Vec<MultiPolygon<f64>>,
}

fn lattice(side: usize) -> Lattice {
    let n = side * side;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let population = (0..n)
        .map(|_| f64::from(rng.random_range(300u32..=1000)))
        .collect();
    let mut adjacency = vec![Vec::new(); n];
    let mut centroid = Vec::with_capacity(n);
    let mut blocks = Vec::with_capacity(n);
    for r in 0..side {
        for c in 0..side {
            let i = r * side + c;
            let (x, y) = (c as f64 * CELL, r as f64 * CELL);
            centroid.push([x + CELL / 2.0, y + CELL / 2.0]);
            blocks.push(MultiPolygon(vec![
                Rect::new((x, y), (x + CELL, y + CELL)).to_polygon()
            ]));
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
        population,
        area: vec![CELL * CELL; n],
        centroid,
        adjacency,
        blocks,
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Solves and dissolves one lattice; returns its units, p and the upper bound.
fn units_of(side: usize) -> (Vec<MultiPolygon<f64>>, usize, f64, [f64; 2]) {
    let l = lattice(side);
    let problem = Problem {
        population: &l.population,
        area: &l.area,
        centroid: &l.centroid,
        adjacency: &l.adjacency,
        min_population: BOUND,
        min_area: 0.0,
        services: None,
    };
    let started = Instant::now();
    let solution = solve(&problem, &Settings::default()).unwrap();
    let solve_s = started.elapsed().as_secs_f64();
    let best = &solution.candidates[0];
    let mut members: Vec<Vec<&MultiPolygon<f64>>> = vec![Vec::new(); best.p];
    for (b, label) in best.labels.iter().enumerate() {
        if let Some(u) = label {
            members[*u as usize].push(&l.blocks[b]);
        }
    }
    let started = Instant::now();
    let units = members.iter().map(|m| dissolve(m)).collect();
    let total: f64 = l.population.iter().sum();
    (
        units,
        best.p,
        (total / BOUND).floor(),
        [solve_s, started.elapsed().as_secs_f64()],
    )
}

fn read_units(path: &str) -> Vec<MultiPolygon<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let fc: geojson::FeatureCollection = text.parse().unwrap();
    fc.features
        .into_iter()
        .filter_map(|f| {
            let g: geo::Geometry<f64> = f.geometry?.try_into().ok()?;
            match g {
                geo::Geometry::MultiPolygon(m) => Some(m),
                geo::Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
                _ => None,
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("dump") => {
            let side: usize = args[1].parse().unwrap();
            let (units, p, upper, _) = units_of(side);
            let features: Vec<geojson::Feature> = units
                .iter()
                .map(|u| geojson::Feature {
                    geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(u))),
                    ..Default::default()
                })
                .collect();
            let fc = geojson::FeatureCollection {
                features,
                bbox: None,
                foreign_members: None,
            };
            std::fs::write(&args[2], fc.to_string()).unwrap();
            println!("dumped {} units (p {p}, upper bound {upper})", units.len());
        }
        Some("union") => {
            let all = read_units(&args[1]);
            let window: Option<Rect<f64>> = (args.len() >= 6).then(|| {
                let v: Vec<f64> = args[2..6].iter().map(|a| a.parse().unwrap()).collect();
                Rect::new((v[0], v[1]), (v[2], v[3]))
            });
            let polys: Vec<Polygon<f64>> = all
                .iter()
                .filter(|m| match (window, m.bounding_rect()) {
                    (Some(w), Some(b)) => {
                        b.min().x >= w.min().x
                            && b.min().y >= w.min().y
                            && b.max().x <= w.max().x
                            && b.max().y <= w.max().y
                    }
                    _ => true,
                })
                .flat_map(|m| m.0.iter().cloned())
                .collect();
            let started = Instant::now();
            let u = geo::unary_union(&polys);
            println!(
                "union of {} polygons: {} parts in {:.3} s",
                polys.len(),
                u.0.len(),
                started.elapsed().as_secs_f64()
            );
        }
        _ => {
            let sides: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
            for side in if sides.is_empty() { vec![100] } else { sides } {
                let (_, p, upper, [solve_s, dissolve_s]) = units_of(side);
                println!(
                    "n {} blocks: solve {solve_s:.2} s, p {p} of {upper} ({:.3}), dissolve {dissolve_s:.2} s, peak RSS {} MB",
                    side * side,
                    p as f64 / upper,
                    peak_rss_kb() / 1024
                );
            }
        }
    }
}
