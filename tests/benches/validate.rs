//! Benchmarks of `validate`'s core: every check on every unit, layers already loaded.
//!
//! Default: the demo town (`data/jiangqiao`, its `bmu.toml`: OSM roads, synthetic canals, facilities and population
//! grid) cut into 16 units by a 4 × 4 lattice over its bounding box — no setup needed.
//! With `BMU_VALIDATE_DIR` set to the folder `tests/compare/validate_scale.py` builds: the whole of Shanghai (246
//! township units against the city outline, a 2.2 M-cell grid, 1,000 facilities, the OSM roads) from `k1/`, and
//! the 2× and 4× tilings from `k2/` and `k4/` when present; the step timings (`bmu validate -vv`) show where the
//! time goes.
//!
//! Always: the partition check alone on a synthetic tessellation of 5,041 units (`partition_synthetic_lattice_5041_units`, see
//! [`lattice`]), the shape of a 160,000-block `propose`'s output against its town.
//!
//! `cargo bench --bench validate` / `BMU_VALIDATE_DIR=/tmp/bmu-bench-validate cargo bench --bench validate`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use bmu::config::{Config, FacilitiesConfig, FeatureLayerConfig, PopulationConfig, TownConfig};
use bmu::model::StudyArea;
use bmu::validate::{read_units, validate, Unit};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{BooleanOps, BoundingRect, Coord, LineString, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};

/// A study area with its units and population source, loaded once.
struct Case {
    name: String,
    area: StudyArea,
    units: Vec<Unit>,
}

fn demo() -> Case {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/jiangqiao");
    let config = Config::load(&dir).unwrap();
    let area = StudyArea::load(&config).unwrap();
    let town = area.town.as_ref().unwrap().geometry.clone();
    let b = town.bounding_rect().unwrap();
    let (dx, dy) = (b.width() / 4.0, b.height() / 4.0);
    let mut units = Vec::new();
    for j in 0..4 {
        for i in 0..4 {
            let (x, y) = (b.min().x + i as f64 * dx, b.min().y + j as f64 * dy);
            let cell = MultiPolygon(vec![Rect::new((x, y), (x + dx, y + dy)).to_polygon()]);
            let geometry = town.intersection(&cell);
            if !geometry.0.is_empty() {
                units.push(Unit::new(format!("u{j}{i}"), geometry));
            }
        }
    }
    Case {
        name: format!("demo_{}_units", units.len()),
        area,
        units,
    }
}

fn shanghai(dir: &Path) -> Case {
    let config = Config {
        town: Some(TownConfig {
            path: dir.join("town.geojson"),
            ..Default::default()
        }),
        features: vec![FeatureLayerConfig {
            path: dir.join("roads.geojson"),
            ..Default::default()
        }],
        facilities: Some(FacilitiesConfig {
            path: dir.join("facilities.geojson"),
            ..Default::default()
        }),
        population: Some(PopulationConfig {
            grid: Some(dir.join("population.tif")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let area = StudyArea::load(&config).unwrap();
    let units = read_units(&dir.join("units.geojson"), Some("rec"), &area, &mut Vec::new()).unwrap();
    Case {
        name: format!("shanghai_{}_units", units.len()),
        area,
        units,
    }
}

fn benches(c: &mut Criterion) {
    let cases = match std::env::var_os("BMU_VALIDATE_DIR") {
        Some(dir) => ["k1", "k2", "k4"]
            .iter()
            .map(|k| Path::new(&dir).join(k))
            .filter(|d| d.join("units.geojson").exists())
            .map(|d| shanghai(&d))
            .collect(),
        None => vec![demo()],
    };
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    for case in &cases {
        let source = bmu::run::population_source(&case.area).unwrap();
        let v = validate(&case.area, &case.units, source.as_deref()).unwrap();
        println!(
            "{}: {} units, {} passing, {} problem geometries",
            case.name,
            v.summary.units,
            v.summary.passing,
            v.problems.len()
        );
        group.bench_function(&case.name, |b| {
            b.iter(|| validate(&case.area, &case.units, source.as_deref()).unwrap())
        });
    }
    group.finish();
}

/// Synthetic, seeded (ChaCha8, seed 16): a `side` × `side` lattice of 1 km cells whose shared corners and edge points
/// (`per_edge` of them on each edge) are jittered, every cell a unit drawn from the very points its neighbours use,
/// against the 4-corner square town they fill. The points on the town's edge move only along it.
fn lattice(side: usize, per_edge: usize) -> (Vec<Unit>, MultiPolygon<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let n = side * (per_edge + 1);
    let last = n as f64 / (per_edge + 1) as f64 * 1000.0;
    let step = 1000.0 / (per_edge + 1) as f64;
    // Points of a fine grid; cells use its corners and the points along their edges.
    let mut jitter = |i: usize| {
        if i == 0 || i == n {
            0.0
        } else {
            rng.random_range(-0.3..0.3) * step
        }
    };
    let mut grid = vec![vec![Coord { x: 0.0, y: 0.0 }; n + 1]; n + 1];
    for (r, row) in grid.iter_mut().enumerate() {
        for (c, p) in row.iter_mut().enumerate() {
            let (jx, jy) = (jitter(c), jitter(r));
            *p = Coord {
                x: (c as f64 * step + jx).clamp(0.0, last),
                y: (r as f64 * step + jy).clamp(0.0, last),
            };
        }
    }
    let k = per_edge + 1;
    let mut units = Vec::new();
    for r in 0..side {
        for c in 0..side {
            let (r0, c0) = (r * k, c * k);
            let mut ring: Vec<Coord> = Vec::new();
            ring.extend((0..k).map(|i| grid[r0][c0 + i]));
            ring.extend((0..k).map(|i| grid[r0 + i][c0 + k]));
            ring.extend((0..k).map(|i| grid[r0 + k][c0 + k - i]));
            ring.extend((0..k).map(|i| grid[r0 + k - i][c0]));
            ring.push(ring[0]);
            let g = MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]);
            units.push(Unit::new(format!("L{r:03}-{c:03}"), g));
        }
    }
    let town = MultiPolygon(vec![Rect::new((0.0, 0.0), (last, last)).to_polygon()]);
    (units, town)
}

fn partition_bench(c: &mut Criterion) {
    let (units, town) = lattice(71, 24);
    let noise = bmu::validate::Noise::new(100.0, 0.1);
    let p = bmu::validate::partition::partition(&units, Some(&town), noise);
    let vertices: usize = units.iter().map(|u| u.geometry.0[0].exterior().0.len() - 1).sum();
    println!(
        "partition_synthetic_lattice_{}_units (seeded, synthetic): {vertices} vertices, {} problems",
        units.len(),
        p.problems.len()
    );
    let mut group = c.benchmark_group("partition");
    group.sample_size(10);
    group.bench_function(
        format!("partition_synthetic_lattice_{}_units", units.len()),
        |b| b.iter(|| bmu::validate::partition::partition(&units, Some(&town), noise)),
    );
    group.finish();
}

criterion_group!(validate_benches, benches, partition_bench);
criterion_main!(validate_benches);
