//! Issue "bmu validate": every policy rule per unit, on the demo town, on real Jiading townships, and on bad input.

use crate::{assert_error, bmu, demo, realdata, root};
use bmu::crs::Crs;
use bmu::io::{read_layer, write_layer, OutFeature, ReadOptions};
use geo::{BooleanOps, BoundingRect, Geometry, MultiPolygon, Rect};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The demo town in WGS84.
fn demo_town() -> MultiPolygon<f64> {
    let layer = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    match layer.features[0].geometry.clone().unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => panic!("town is {other:?}"),
    }
}

/// Writes polygons with properties as GeoJSON (WGS84).
fn write_polygons(path: &Path, items: Vec<(MultiPolygon<f64>, Map<String, Value>)>) {
    let features: Vec<OutFeature> = items
        .into_iter()
        .map(|(g, properties)| OutFeature {
            geometry: Some(Geometry::MultiPolygon(g)),
            properties,
        })
        .collect();
    write_layer(path, &Crs::wgs84(), &features, &[]).unwrap();
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// The demo town cut by its bounding box's midlines into four units, and a 6 × 6 grid of blocks (aligned with the
/// cuts, so no block is split) with known counts. Returns (units, blocks, total count).
fn demo_units_and_blocks(dir: &Path) -> (PathBuf, PathBuf, f64) {
    let town = demo_town();
    let b = town.bounding_rect().unwrap();
    let (x0, y0, x1, y1) = (b.min().x, b.min().y, b.max().x, b.max().y);
    let (xm, ym) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let cell = |a: f64, b: f64, c: f64, d: f64| MultiPolygon(vec![Rect::new((a, b), (c, d)).to_polygon()]);
    let quads = [
        ("SW", cell(x0, y0, xm, ym)),
        ("SE", cell(xm, y0, x1, ym)),
        ("NW", cell(x0, ym, xm, y1)),
        ("NE", cell(xm, ym, x1, y1)),
    ];
    let units: Vec<_> = quads
        .iter()
        .map(|(name, q)| (town.intersection(q), props(json!({ "name": name }))))
        .collect();
    let units_path = dir.join("units.geojson");
    write_polygons(&units_path, units);

    let mut blocks = Vec::new();
    let mut total = 0.0;
    let (dx, dy) = ((x1 - x0) / 6.0, (y1 - y0) / 6.0);
    for i in 0..6 {
        for j in 0..6 {
            let (a, c) = (x0 + dx * i as f64, y0 + dy * j as f64);
            let piece = town.intersection(&cell(a, c, a + dx, c + dy));
            if piece.0.is_empty() {
                continue;
            }
            let pop = 1000.0 + 250.0 * (i * 6 + j) as f64;
            total += pop;
            blocks.push((piece, props(json!({ "code": format!("B{i}{j}"), "pop": pop }))));
        }
    }
    let blocks_path = dir.join("blocks.geojson");
    write_polygons(&blocks_path, blocks);
    (units_path, blocks_path, total)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn demo_town_in_four_units_with_block_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (units, blocks, total) = demo_units_and_blocks(dir.path());
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let out = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--id-field",
            "name",
            "--blocks",
            blocks.to_str().unwrap(),
            "--population-field",
            "pop",
            "--out",
            &p("units_out.geojson"),
            "--problems",
            &p("problems.geojson"),
            "--report",
            &p("report.json"),
        ],
        &root(),
    );
    let err = stderr(&out);
    eprintln!("{err}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The table fits 80 columns and names every unit.
    for line in err.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
    for id in ["SW", "SE", "NW", "NE"] {
        assert!(err.contains(id), "{id} missing:\n{err}");
    }

    let report = json_file(&dir.path().join("report.json"));
    assert_eq!(report["summary"]["units"], 4);
    let units_r = report["units"].as_array().unwrap();
    assert_eq!(
        units_r
            .iter()
            .map(|u| u["unit_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["SW", "SE", "NW", "NE"],
        "input order kept"
    );
    // Population is conserved: the units partition the blocks. Not to 1e-9: the cuts are straight in lon/lat and
    // the block edges carry extra vertices along them, so in UTM the two edges differ by millimetres.
    let pop: f64 = units_r.iter().map(|u| u["population"].as_f64().unwrap()).sum();
    assert!((pop - total).abs() / total < 1e-5, "{pop} vs {total}");
    // Areas add up to the town (42.37 km², see the inspect test).
    let area: f64 = units_r.iter().map(|u| u["area_km2"].as_f64().unwrap()).sum();
    assert!((area - 42.371).abs() / 42.371 < 0.005, "{area}");
    for u in units_r {
        let c = &u["checks"];
        assert_eq!(c["partition"]["pass"], true, "{u}");
        assert_eq!(c["community_integrity"]["pass"], true, "{u}");
        assert_eq!(c["geometry"]["pass"], true, "{u}");
        assert_eq!(c["min_population"]["threshold"], 20000.0);
        // The demo has facilities, features and overlays: everything is evaluated.
        for name in [
            "boundary_clarity",
            "barriers",
            "facilities",
            "service_coverage",
            "overlays",
        ] {
            assert!(c[name]["pass"].is_boolean(), "{name} not evaluated: {u}");
        }
        let share = c["boundary_clarity"]["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
    }
    assert_eq!(
        out.status.code(),
        Some(if units_r.iter().all(|u| u["pass"] == true) {
            0
        } else {
            1
        })
    );

    // Straight cuts through the town cannot all follow roads: unclear stretches are reported with their lengths.
    let problems = json_file(&dir.path().join("problems.geojson"));
    let features = problems["features"].as_array().unwrap();
    let unclear: Vec<_> = features
        .iter()
        .filter(|f| f["properties"]["kind"] == "unclear_boundary")
        .collect();
    assert!(!unclear.is_empty());
    assert!(unclear
        .iter()
        .all(|f| f["properties"]["length_m"].as_f64().unwrap() > 0.0
            && f["geometry"]["type"] == "MultiLineString"));
    assert!(features.iter().all(|f| ["gap", "overlap", "spill"]
        .iter()
        .all(|k| f["properties"]["kind"] != *k)));

    let layer = json_file(&dir.path().join("units_out.geojson"));
    let first = &layer["features"][0]["properties"];
    for key in [
        "unit_id",
        "population",
        "area_km2",
        "pass",
        "min_population_value",
        "min_population_threshold",
        "min_population_pass",
        "boundary_clarity_value",
        "service_coverage_pass",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
}

#[test]
fn demo_outputs_as_shapefiles_and_quiet_hides_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let (units, _, _) = demo_units_and_blocks(dir.path());
    let out = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--out",
            "u.shp",
            "--problems",
            "p.shp",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    for f in ["u.shp", "u.dbf", "u.prj", "p.shp", "p_lines.shp"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let layer = read_layer(&dir.path().join("u.shp"), &ReadOptions::default()).unwrap();
    assert_eq!(layer.features.len(), 4);
    // Without block counts the population comes from the study area's grid (exact cell fractions).
    let report_path = dir.path().join("grid_report.json");
    let from_grid = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--report",
            report_path.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        matches!(from_grid.status.code(), Some(0 | 1)),
        "{}",
        stderr(&from_grid)
    );
    let report = json_file(&report_path);
    assert!(report["population_source"]
        .as_str()
        .unwrap()
        .contains("population.synthetic.tif"));
    let grid_total: f64 = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["checks"]["min_population"]["value"].as_f64().unwrap())
        .sum();
    // The grid's documented total inside the town (data/README.md): 170,462.16.
    assert!(
        (grid_total - 170_462.16).abs() / 170_462.16 < 1e-3,
        "{grid_total}"
    );
}

#[test]
fn jiading_townships_against_the_district_boundary() {
    let Some(data) = realdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Units: township polygons labelled 嘉定区; town: the district's official polygon.
    let streets: Value =
        json_file(&data.join("stockard-shanghai-covid-2022/shanghai_street_labeled.geojson"));
    let mut units = streets.clone();
    units["features"] = Value::Array(
        streets["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["inferred_district"] == "嘉定区")
            .cloned()
            .collect(),
    );
    let n = units["features"].as_array().unwrap().len();
    assert!(n >= 10, "{n} townships");
    let units_path = dir.path().join("jiading_towns.geojson");
    std::fs::write(&units_path, units.to_string()).unwrap();
    let boundary: Value = json_file(&data.join("dawn-ecnu-example-data/shanghai_boundary.geojson"));
    let mut district = boundary.clone();
    district["features"] = Value::Array(
        boundary["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["县名"] == "嘉定区")
            .cloned()
            .collect(),
    );
    assert_eq!(district["features"].as_array().unwrap().len(), 1);
    let town_path = dir.path().join("jiading.geojson");
    std::fs::write(&town_path, district.to_string()).unwrap();

    let started = std::time::Instant::now();
    let out = bmu(
        &[
            "validate",
            "--town",
            town_path.to_str().unwrap(),
            "--units",
            units_path.to_str().unwrap(),
            "--id-field",
            "rec",
            "--problems",
            "problems.geojson",
            "--report",
            "report.json",
        ],
        dir.path(),
    );
    eprintln!("Jiading validate: {n} units in {:.2?}", started.elapsed());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let report = json_file(&dir.path().join("report.json"));
    let counts = &report["summary"]["problems"];
    for kind in ["gap", "overlap", "spill"] {
        assert!(counts[kind].as_u64().unwrap_or(0) > 0, "no {kind}: {counts}");
    }
    // Every reported piece carries its area and is at least the tolerance.
    let problems = json_file(&dir.path().join("problems.geojson"));
    for f in problems["features"].as_array().unwrap() {
        let a = f["properties"]["area_m2"].as_f64().unwrap();
        assert!(a >= 100.0, "{f}");
    }
    // Per unit, the partition check adds up its pieces; the missing layers are reported, not passed.
    let units_r = report["units"].as_array().unwrap();
    assert_eq!(units_r.len(), n);
    assert!(units_r.iter().any(|u| u["checks"]["partition"]["pass"] == false));
    for u in units_r {
        let part = &u["checks"]["partition"];
        let d = &part["detail"];
        let sum = d["overlap_m2"].as_f64().unwrap()
            + d["gap_m2"].as_f64().unwrap()
            + d["spill_m2"].as_f64().unwrap();
        assert!((sum - part["value"].as_f64().unwrap()).abs() < 1e-6, "{u}");
        assert_eq!(u["checks"]["min_population"]["evaluated"], false);
        assert_eq!(u["checks"]["facilities"]["reason"], "no facilities layer");
        assert_eq!(u["checks"]["facilities"]["reason_code"], "no_facilities_layer");
    }
    assert!(
        err.contains("facilities: no facilities layer: give --facilities"),
        "{err}"
    );
    assert!(err.contains("Not evaluated"), "{err}");
}

/// A units file with these GeoJSON features; returns its path.
fn units_file(dir: &Path, features: Value) -> PathBuf {
    let path = dir.join("bad_units.geojson");
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    path
}

fn square(lon: f64, lat: f64, d: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]})
}

fn validate_bad(features: Value) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = units_file(dir.path(), features);
    bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            path.to_str().unwrap(),
            "--id-field",
            "id",
        ],
        dir.path(),
    )
}

#[test]
fn duplicate_unit_ids_are_an_error() {
    let g = square(121.30, 31.26, 0.01);
    let out = validate_bad(json!([
        {"type": "Feature", "properties": {"id": "A"}, "geometry": g},
        {"type": "Feature", "properties": {"id": "A"}, "geometry": g},
    ]));
    assert_error(&out, &["bad_units.geojson", "feature 1", "duplicate unit id `A`"]);
}

#[test]
fn an_empty_units_layer_is_an_error() {
    let out = validate_bad(json!([]));
    assert_error(&out, &["bad_units.geojson", "no features"]);
}

#[test]
fn non_polygon_units_are_an_error() {
    let out = validate_bad(json!([
        {"type": "Feature", "properties": {"id": "A"}, "geometry": square(121.30, 31.26, 0.01)},
        {"type": "Feature", "properties": {"id": "L"},
         "geometry": {"type": "LineString", "coordinates": [[121.33, 31.23], [121.34, 31.24]]}},
    ]));
    assert_error(
        &out,
        &[
            "bad_units.geojson",
            "feature 1 (id L)",
            "expected a polygon, found a LineString",
        ],
    );
}

#[test]
fn units_that_all_miss_the_town_are_an_error() {
    let out = validate_bad(json!([
        {"type": "Feature", "properties": {"id": "FAR"}, "geometry": square(121.80, 31.00, 0.01)},
        {"type": "Feature", "properties": {"id": "FAR2"}, "geometry": square(121.85, 31.00, 0.01)},
    ]));
    assert_error(
        &out,
        &["bad_units.geojson", "id FAR", "does not overlap the town"],
    );
}

#[test]
fn one_unit_outside_the_town_is_reported_as_spill() {
    let out = validate_bad(json!([
        {"type": "Feature", "properties": {"id": "A"}, "geometry": square(121.30, 31.26, 0.01)},
        {"type": "Feature", "properties": {"id": "FAR"}, "geometry": square(121.80, 31.00, 0.01)},
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("spill"), "{err}");
}

#[test]
fn a_missing_units_id_field_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = units_file(
        dir.path(),
        json!([{"type": "Feature", "properties": {"name": "A"}, "geometry": square(121.30, 31.26, 0.01)}]),
    );
    let out = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            path.to_str().unwrap(),
            "--id-field",
            "code",
        ],
        dir.path(),
    );
    assert_error(&out, &["bad_units.geojson", "`code`"]);
}
