//! The partition check on real round trips: `propose` writes its units in lon/lat (7 decimals), `validate` reads
//! them back into UTM against a town whose edges are single long segments.

use crate::bmu;
use crate::scale::{lattice, propose_args};
use serde_json::Value;
use std::path::Path;

/// Side of the lattice cells, metres (UTM 51N).
const CELL: f64 = 250.0;
/// South-west corner of the lattice.
const ORIGIN: (f64, f64) = (300_000.0, 3_400_000.0);

/// Writes a GeoJSON FeatureCollection in EPSG:32651.
fn write_utm(path: &Path, features: Vec<Value>) {
    let fc = serde_json::json!({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}},
        "features": features,
    });
    std::fs::write(path, fc.to_string()).unwrap();
}

/// The town: the lattice's outline as one ring, each edge a single segment, with `notch` (a list of extra vertices
/// spliced into the east edge) when given.
fn town(path: &Path, side: usize, notch: &[[f64; 2]]) {
    let (x0, y0) = ORIGIN;
    let s = side as f64 * CELL;
    let mut ring = vec![[x0, y0], [x0 + s, y0]];
    ring.extend_from_slice(notch);
    ring.extend([[x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]);
    let feature = serde_json::json!({
        "type": "Feature",
        "properties": {"id": "T", "name": "T"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    });
    write_utm(path, vec![feature]);
}

/// The (kind, area) of every problem `validate` reports with `extra` arguments.
fn problems(dir: &Path, town: &Path, units: &Path, extra: &[&str]) -> Vec<(String, f64)> {
    let out_dir = tempfile::tempdir_in(dir).unwrap();
    let problems = out_dir.path().join("problems.geojson");
    let mut args = vec![
        "validate",
        "--town",
        town.to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--id-field",
        "unit_id",
        "--min-area-km2",
        "0",
        "--problems",
        problems.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    let out = bmu(&args, dir);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fc: Value = serde_json::from_str(&std::fs::read_to_string(&problems).unwrap()).unwrap();
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["kind"].as_str().unwrap().to_string(),
                f["properties"]["area_m2"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
}

#[test]
fn units_read_back_from_lon_lat_show_no_sliver_gaps_or_spill_along_a_long_town_edge() {
    // Regression: an exact tessellation written by propose in lon/lat with 7 decimals and read back showed gaps and
    // spills of 100–360 m² — slivers a few centimetres wide running kilometres along the town's edge.
    let dir = tempfile::tempdir().unwrap();
    let side = 80;
    let blocks = dir.path().join("blocks.geojson");
    lattice(&blocks, side);
    let units = dir.path().join("out/units.geojson");
    let out = bmu(
        &propose_args(blocks.to_str().unwrap(), units.to_str().unwrap()),
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&units).unwrap();
    assert!(written.contains("[121."), "units not written in lon/lat");
    let square = dir.path().join("town.geojson");
    town(&square, side, &[]);

    let found = problems(dir.path(), &square, &units, &[]);
    assert!(found.is_empty(), "{found:?}");
    // The fixture does hold the slivers: without the width rule they are reported.
    let without = problems(
        dir.path(),
        &square,
        &units,
        &["--set", "thresholds.partition_sliver_width_m=0"],
    );
    assert!(
        without.iter().any(|(k, a)| k != "overlap" && *a >= 100.0),
        "{without:?}"
    );

    // A real gap 1 m wide and 200 m long (a notch in the east edge) is still reported, slivers joined to it or not.
    let (x1, y) = (ORIGIN.0 + side as f64 * CELL, ORIGIN.1 + 8_000.0);
    let notched = dir.path().join("notched.geojson");
    town(
        &notched,
        side,
        &[[x1, y], [x1 + 1.0, y], [x1 + 1.0, y + 200.0], [x1, y + 200.0]],
    );
    let found = problems(dir.path(), &notched, &units, &[]);
    let gaps: Vec<f64> = found
        .iter()
        .filter(|(k, _)| k == "gap")
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(gaps.len(), 1, "{found:?}");
    assert!((200.0..700.0).contains(&gaps[0]), "{found:?}");
    assert!(found.iter().all(|(k, _)| k == "gap"), "{found:?}");
}
