//! Benchmarks of `validate`'s core: every check on every unit, layers already loaded.
//!
//! Default: the demo town (`data/jiangqiao`, its `bmu.toml`: OSM roads, synthetic canals, facilities and population
//! grid) cut into 16 units by a 4 × 4 lattice over its bounding box — no setup needed.
//! With `BMU_VALIDATE_DIR` set to the folder `tests/compare/validate_scale.py` builds: the whole of Shanghai (246
//! township units against the city outline, a 2.2 M-cell grid, 1,000 facilities, the OSM roads) from `k1/`, and
//! the 2× and 4× tilings from `k2/` and `k4/` when present; the step timings (`bmu validate -vv`) show where the
//! time goes.
//!
//! `cargo bench --bench validate` / `BMU_VALIDATE_DIR=/tmp/bmu-bench-validate cargo bench --bench validate`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use bmu::config::{Config, FacilitiesConfig, FeatureLayerConfig, PopulationConfig, TownConfig};
use bmu::model::StudyArea;
use bmu::validate::{read_units, validate, Unit};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{BooleanOps, BoundingRect, MultiPolygon, Rect};

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

criterion_group!(validate_benches, benches);
criterion_main!(validate_benches);
