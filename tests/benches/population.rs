//! Benchmarks of exact zonal sums.
//!
//! Default: random polygons over the small fixture grids in `data/cases/grids` (no setup needed).
//! Compare mode: with `BMU_ZONAL_DIR` set to the folder `tests/compare/zonal.py` builds (a WorldPop-format EPSG:4326
//! grid, a GHS-POP-format ESRI:54009 grid and Shanghai's 246 township polygons), the core of `bmu population` —
//! open the grid, densify and transform the polygons into its CRS, exact sums — at 1 and 2 threads. The script
//! itself times the whole `bmu population` process against exactextract.
//!
//! Big-grid mode: with `BMU_BIG_GRID` set to the 10^8-cell GeoTIFF `tests/compare/big_grid.py` writes, one polygon
//! over the whole grid at 1 and 2 threads (tiles decoded and bands measured on every core).
//!
//! `cargo bench --bench population` / `BMU_ZONAL_DIR=/tmp/bmu-bench-zonal cargo bench --bench population` /
//! `BMU_BIG_GRID=/tmp/bmu-big-grid.tif cargo bench --bench population`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use bmu::crs::Crs;
use bmu::population::source::GridSource;
use bmu::population::zonal_sums;
use bmu::raster::{GridOptions, GridReader};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{coord, LineString, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Township polygons (lon/lat) from the GeoJSON the compare script writes.
fn read_polygons(path: &Path) -> Vec<MultiPolygon<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let collection: geojson::FeatureCollection = text.parse().unwrap();
    collection
        .features
        .into_iter()
        .map(|feature| match feature.geometry.unwrap().try_into().unwrap() {
            geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
            geo::Geometry::MultiPolygon(m) => m,
            other => panic!("not a polygon: {other:?}"),
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

/// The core of `bmu population` (open the grid, densify and transform the polygons into its CRS, exact sums) on the
/// compare script's grids, without reading the polygon file or writing the table.
fn compare(c: &mut Criterion, dir: &Path) {
    let lonlat = read_polygons(&dir.join("polygons.geojson"));
    for grid in ["worldpop_4326", "ghs_54009"] {
        let path = dir.join(format!("{grid}.tif"));
        let run = || {
            GridSource::open(&path, None, &Crs::wgs84())
                .unwrap()
                .stats(&lonlat)
                .unwrap()
        };
        let total: f64 = run().iter().map(|s| s.population).sum();
        let t1 = best_of_3(1, &|| {
            run();
        });
        let t2 = best_of_3(2, &|| {
            run();
        });
        println!(
            "{grid}: {} polygons, total {total:.1}, best of 3: {:.1} ms at 1 thread, {:.1} ms at 2 threads",
            lonlat.len(),
            t1 * 1e3,
            t2 * 1e3
        );
        let mut group = c.benchmark_group(format!("compare/{grid}"));
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

/// One polygon over the whole of the 10^8-cell grid `tests/compare/big_grid.py` writes (`BMU_BIG_GRID`): the case
/// where only splitting one polygon's bands and tiles across threads can use more than one core. Prints the best of 3
/// at 1 and 2 threads and their ratio; the sums must agree bit for bit.
fn one_polygon_over_a_big_grid(c: &mut Criterion, path: &Path) {
    let reader = GridReader::open(path, &GridOptions::default()).unwrap();
    let g = reader.grid().clone();
    let (x0, y0) = g.transform.pixel_to_xy(0.5, 0.5);
    let (x1, y1) = g
        .transform
        .pixel_to_xy(g.width as f64 - 0.5, g.height as f64 - 0.5);
    let polygon = [MultiPolygon::new(vec![Rect::new(
        coord! { x: x0, y: y0 },
        coord! { x: x1, y: y1 },
    )
    .to_polygon()])];
    let sums = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| zonal_sums(&reader, &polygon).unwrap())
    };
    assert_eq!(sums(1), sums(2), "sums differ between 1 and 2 threads");
    let run = || {
        zonal_sums(&reader, &polygon).unwrap();
    };
    let (t1, t2) = (best_of_3(1, &run), best_of_3(2, &run));
    println!(
        "one polygon over {} x {} cells: {:.2} s at 1 thread, {:.2} s at 2 threads ({:.2}x)",
        g.width,
        g.height,
        t1,
        t2,
        t1 / t2
    );
    let mut group = c.benchmark_group("big_grid/one_polygon");
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

fn benches(c: &mut Criterion) {
    if let Some(grid) = std::env::var_os("BMU_BIG_GRID") {
        return one_polygon_over_a_big_grid(c, Path::new(&grid));
    }
    match std::env::var_os("BMU_ZONAL_DIR") {
        Some(dir) => compare(c, Path::new(&dir)),
        None => fixtures(c),
    }
}

criterion_group!(population, benches);
criterion_main!(population);
