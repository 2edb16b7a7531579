//! Benchmarks of exact zonal sums.
//!
//! Default: random polygons over the small fixture grids in `data/cases/grids` (no setup needed).
//! Compare mode, used by `tests/compare/zonal.py`: with `BMU_ZONAL_DIR` set to the folder it builds (a WorldPop-format
//! EPSG:4326 grid, a GHS-POP-format ESRI:54009 grid and Shanghai's township polygons), the bench first writes
//! `bmu_<grid>.json` there — per-polygon sums keyed by `rec` and best-of-3 wall times (open + sums) at 1 and 2
//! threads — then runs Criterion on the same work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bmu::population::zonal_sums;
use bmu::raster::{GridOptions, GridReader};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{coord, Densify, Euclidean, LineString, MapCoords, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MOLLWEIDE: &str = "+proj=moll +lon_0=0 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs";

/// Township polygons and their `rec` ids from the GeoJSON the compare script writes.
fn read_polygons(path: &Path) -> (Vec<String>, Vec<MultiPolygon<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let collection: geojson::FeatureCollection = text.parse().unwrap();
    let mut ids = Vec::new();
    let mut polygons = Vec::new();
    for feature in collection.features {
        let id = feature.property("rec").map(|v| v.to_string()).unwrap_or_default();
        let geometry: geo::Geometry<f64> = feature.geometry.unwrap().try_into().unwrap();
        let multi = match geometry {
            geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            other => panic!("rec {id}: not a polygon: {other:?}"),
        };
        ids.push(id);
        polygons.push(multi);
    }
    (ids, polygons)
}

/// Lon/lat polygons into World Mollweide; with `densify`, edges are cut to ~100 m first so that straight lon/lat
/// edges stay where they were (geopandas' `to_crs`, which the peers use, moves the vertices only).
fn to_mollweide(polygons: &[MultiPolygon<f64>], densify: bool) -> Vec<MultiPolygon<f64>> {
    let src = proj4rs::Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs").unwrap();
    let dst = proj4rs::Proj::from_proj_string(MOLLWEIDE).unwrap();
    polygons
        .iter()
        .map(|p| {
            let p = if densify {
                Euclidean.densify(p, 0.0009)
            } else {
                p.clone()
            };
            p.map_coords(|c| {
                let (x, y) =
                    proj4rs::adaptors::transform_vertex_2d(&src, &dst, (c.x.to_radians(), c.y.to_radians()))
                        .unwrap();
                coord! { x: x, y: y }
            })
        })
        .collect()
}

fn best_of_3(threads: usize, f: &(dyn Fn() + Sync)) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            pool.install(f);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn compare(c: &mut Criterion, dir: &Path) {
    let (ids, lonlat) = read_polygons(&dir.join("polygons.geojson"));
    let mollweide = to_mollweide(&lonlat, false);
    let densified = to_mollweide(&lonlat, true);
    for (name, grid, polygons) in [
        ("worldpop_4326", "worldpop_4326", &lonlat),
        ("ghs_54009", "ghs_54009", &mollweide),
        ("ghs_54009_densified", "ghs_54009", &densified),
    ] {
        let path = dir.join(format!("{grid}.tif"));
        let run = || {
            let reader = GridReader::open(&path, &GridOptions::default()).unwrap();
            zonal_sums(&reader, polygons).unwrap()
        };
        let stats = run();
        if std::env::var_os("BMU_ZONAL_PROFILE").is_some() {
            let t = Instant::now();
            let reader = GridReader::open(&path, &GridOptions::default()).unwrap();
            let all = reader.read_all().unwrap();
            println!(
                "{grid}: open + read all {} cells: {:.1} ms",
                all.len(),
                t.elapsed().as_secs_f64() * 1e3
            );
            let t = Instant::now();
            let again = zonal_sums(&reader, polygons).unwrap();
            println!(
                "{grid}: sums with every chunk cached: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
            assert_eq!(again, stats);
        }
        let population: BTreeMap<&str, f64> = ids
            .iter()
            .map(String::as_str)
            .zip(stats.iter().map(|s| s.population))
            .collect();
        let t1 = best_of_3(1, &|| {
            run();
        });
        let t2 = best_of_3(2, &|| {
            run();
        });
        println!(
            "{name}: {} polygons, best of 3: {:.1} ms at 1 thread, {:.1} ms at 2 threads",
            ids.len(),
            t1 * 1e3,
            t2 * 1e3
        );
        let out = serde_json::json!({
            "population": population,
            "seconds": { "threads_1": t1, "threads_2": t2 },
        });
        std::fs::write(dir.join(format!("bmu_{name}.json")), out.to_string()).unwrap();
        let mut group = c.benchmark_group(format!("compare/{name}"));
        group.sample_size(10);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            group.bench_function(format!("threads_{threads}"), |b| b.iter(|| pool.install(run)));
        }
        group.finish();
    }
}

fn fixtures(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/cases/grids");
    let path = dir.join("f32_tile256_lzw_nodata.tif");
    let reader = GridReader::open(&path, &GridOptions::default()).unwrap();
    let g = reader.grid().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(20240601);
    let polygons: Vec<MultiPolygon<f64>> = (0..200)
        .map(|_| {
            let (x, y) = g
                .transform
                .pixel_to_xy(rng.random_range(0.0..40.0), rng.random_range(0.0..30.0));
            let r = rng.random_range(50.0..800.0);
            let ring: Vec<_> = (0..64)
                .map(|i| {
                    let a = i as f64 / 64.0 * std::f64::consts::TAU;
                    let k = rng.random_range(0.5..1.0);
                    coord! { x: x + r * k * a.cos(), y: y + r * k * a.sin() }
                })
                .collect();
            MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
        })
        .collect();
    c.bench_function("fixture/200_random_polygons", |b| {
        b.iter(|| zonal_sums(&reader, &polygons).unwrap())
    });
    let whole = Rect::new(coord! { x: 0.0, y: 0.0 }, coord! { x: 1e7, y: 1e7 }).to_polygon();
    c.bench_function("fixture/whole_grid", |b| {
        b.iter(|| zonal_sums(&reader, &[MultiPolygon::new(vec![whole.clone()])]).unwrap())
    });
}

fn benches(c: &mut Criterion) {
    match std::env::var_os("BMU_ZONAL_DIR") {
        Some(dir) => compare(c, Path::new(&dir)),
        None => fixtures(c),
    }
}

criterion_group!(population, benches);
criterion_main!(population);
