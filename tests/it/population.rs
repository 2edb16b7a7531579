//! Issue "bmu population": the verb on the demo grid and town, its three table formats, nodata reporting, and
//! grids it must refuse. Fixtures: `data/jiangqiao/` (see data/README.md) and `data/cases/grids/` (its README).

use crate::{assert_error, bmu, demo, root};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Exact-area-weighted total of the demo grid inside the demo town, recorded when the grid was made
/// (data/README.md, `generation_report.json` → `target_total_in_town`).
const DEMO_TOTAL: f64 = 170_462.162_465;
/// The same total with the cell fractions taken planar in longitude/latitude, i.e. in the grid's own CRS, which is
/// what bmu (and exactextract) do (`total_in_town_area_weighted_lonlat`).
const DEMO_TOTAL_LONLAT: f64 = 170_461.993_869_085;

fn grids() -> PathBuf {
    root().join("data/cases/grids")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn population(grid: &Path, polygons: &Path, out: &Path, id_field: Option<&str>) -> Output {
    let mut args = vec![
        "population",
        "--grid",
        grid.to_str().unwrap(),
        "--polygons",
        polygons.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(f) = id_field {
        args.extend(["--id-field", f]);
    }
    bmu(&args, &root())
}

/// CSV rows as (id, population_exact, covered_cells, nodata_cells, covered_area_m2), after checking that the
/// `population` column is the exact value rounded to two decimals.
fn read_csv(path: &Path) -> Vec<(String, f64, u64, u64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,population,population_exact,covered_cells,nodata_cells,covered_area_m2")
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let rounded: f64 = c[1].parse().unwrap();
            let exact: f64 = c[2].parse().unwrap();
            assert_eq!(rounded, (exact * 100.0).round() / 100.0, "{l}");
            (
                c[0].to_string(),
                exact,
                c[3].parse().unwrap(),
                c[4].parse().unwrap(),
                c[5].parse().unwrap(),
            )
        })
        .collect()
}

/// Writes lon/lat rectangles `(id, west, south, east, north)` as a GeoJSON polygon layer.
fn write_rects(path: &Path, rects: &[(&str, f64, f64, f64, f64)]) {
    let features: Vec<Value> = rects
        .iter()
        .map(|&(id, w, s, e, n)| {
            json!({
                "type": "Feature",
                "properties": { "name": id },
                "geometry": { "type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
            })
        })
        .collect();
    let fc = json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(path, fc.to_string()).unwrap();
}

#[test]
fn demo_town_total_matches_the_recorded_total_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let grid = demo().join("population.synthetic.tif");
    let town = demo().join("town.geojson");

    let csv = dir.path().join("pop.csv");
    let out = population(&grid, &town, &csv, Some("town_code"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 1);
    let (id, total, covered, nodata, area) = rows[0].clone();
    assert_eq!(id, "310114118");
    // Within 1e-6 of the documented total (computed in UTM); and equal to the lon/lat-planar reference that uses
    // the same cell fractions as bmu, to rounding.
    assert!(
        (total - DEMO_TOTAL).abs() <= 1e-6 * DEMO_TOTAL,
        "{total} vs {DEMO_TOTAL}"
    );
    assert!(
        (total - DEMO_TOTAL_LONLAT).abs() <= 1e-9 * DEMO_TOTAL_LONLAT,
        "{total} vs {DEMO_TOTAL_LONLAT}"
    );
    // Covered area on the ellipsoid: the town's geodesic area, 42.37067 km² (data/README.md).
    assert!((area / 1e6 - 42.37067).abs() < 1e-3, "{area}");
    // None of the demo grid's nodata cells lies under the town: nothing to report, no warning.
    assert!(covered > 5000 && nodata == 0, "{covered} {nodata}");
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    let json_path = dir.path().join("pop.json");
    let out = population(&grid, &town, &json_path, Some("town_code"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v[0]["id"], "310114118");
    assert_eq!(v[0]["population_exact"].as_f64(), Some(total));
    assert_eq!(v[0]["population"].as_f64(), Some((total * 100.0).round() / 100.0));
    assert_eq!(v[0]["covered_cells"].as_u64(), Some(covered));
    assert_eq!(v[0]["nodata_cells"].as_u64(), Some(nodata));

    let geojson = dir.path().join("pop.geojson");
    let out = population(&grid, &town, &geojson, Some("town_code"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&geojson).unwrap()).unwrap();
    let f = &v["features"][0];
    assert_eq!(f["properties"]["id"], "310114118");
    assert_eq!(f["properties"]["population_exact"].as_f64(), Some(total));
    assert!(
        matches!(f["geometry"]["type"].as_str(), Some("Polygon" | "MultiPolygon")),
        "{f}"
    );
}

/// The fixture `worldpop_4326.tif`: 40 × 30 cells of 3″ from (121.4, 31.25), 54 nodata cells, among them row 0,
/// columns 0–4 (data/cases/grids/expected.json).
const ARC3: f64 = 1.0 / 1200.0;

fn cell_rect(c0: f64, r0: f64, c1: f64, r1: f64) -> (f64, f64, f64, f64) {
    (
        121.4 + c0 * ARC3,
        31.25 - r1 * ARC3,
        121.4 + c1 * ARC3,
        31.25 - r0 * ARC3,
    )
}

#[test]
fn nodata_cells_are_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = dir.path().join("p.geojson");
    let (w, s, e, n) = cell_rect(-1.0, -1.0, 41.0, 31.0);
    write_rects(&polygons, &[("whole", w, s, e, n)]);
    let csv = dir.path().join("p.csv");
    let out = population(&grids().join("worldpop_4326.tif"), &polygons, &csv, Some("name"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_csv(&csv);
    assert_eq!((rows[0].2, rows[0].3), (1200, 54));
    // The fixture's sum over data cells (expected.json).
    assert!((rows[0].1 - 49_354.080_233_701_665).abs() < 1e-6, "{}", rows[0].1);
    assert!(
        stderr(&out).contains("warning: ") && stderr(&out).contains("54 of 1200 covered cells are nodata"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_all_nodata_window_is_a_warning_and_zero() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = dir.path().join("p.geojson");
    let (w, s, e, n) = cell_rect(0.1, 0.1, 4.9, 0.9);
    write_rects(&polygons, &[("empty", w, s, e, n)]);
    let csv = dir.path().join("p.csv");
    let out = population(&grids().join("worldpop_4326.tif"), &polygons, &csv, Some("name"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: ")
            && stderr(&out).contains("every cell under the polygons is nodata"),
        "{}",
        stderr(&out)
    );
    let rows = read_csv(&csv);
    assert_eq!(rows[0].0, "empty");
    assert_eq!(rows[0].1, 0.0);
    assert_eq!((rows[0].2, rows[0].3), (5, 5));
}

#[test]
fn a_grid_that_misses_the_polygons_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = population(
        &grids().join("worldpop_4326.tif"),
        &demo().join("town.geojson"),
        &dir.path().join("p.csv"),
        None,
    );
    assert_error(&out, &["worldpop_4326.tif", "does not overlap the polygons"]);
    assert!(!dir.path().join("p.csv").exists());
}

#[test]
fn several_bands_or_not_a_geotiff_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = dir.path().join("p.geojson");
    let (w, s, e, n) = cell_rect(1.0, 1.0, 5.0, 5.0);
    write_rects(&polygons, &[("a", w, s, e, n)]);
    for (grid, needle) in [
        ("bad_two_band.tif", "2 bands"),
        ("bad_png_renamed.tif", "not a TIFF"),
    ] {
        let out = population(&grids().join(grid), &polygons, &dir.path().join("p.csv"), None);
        assert_error(&out, &[grid, needle]);
    }
    // A format that is not a grid at all, by extension.
    let text = dir.path().join("grid.txt");
    std::fs::write(&text, "1 2 3\n").unwrap();
    let out = population(&text, &polygons, &dir.path().join("p.csv"), None);
    assert_error(&out, &["grid.txt", "unsupported population source"]);
}
