//! Issue 2: inspect, I/O round trips, bad input of the foundation.

use crate::{assert_error, bmu, demo, root};
use bmu::crs::Crs;
use bmu::io::{read_layer, write_layer, OutFeature, ReadOptions};
use geo::CoordsIter;

#[test]
fn inspect_demo_town_area_matches_the_geodesic_reference() {
    let out = bmu(&["inspect", demo().to_str().unwrap(), "--json"], &root());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let town = &v["town"];
    // Reference: area_km2 of 江桥镇 in shared/realdata's labelled GeoJSON (WGS84 geodesic, computed by its curator
    // with an independent tool) = 42.371 km².
    let reference = 42.371;
    let planar = town["area_km2"].as_f64().unwrap();
    let geodesic = town["geodesic_area_km2"].as_f64().unwrap();
    assert!((planar - reference).abs() / reference < 0.005, "planar {planar}");
    assert!(
        (geodesic - reference).abs() / reference < 0.0005,
        "geodesic {geodesic}"
    );
    assert_eq!(v["working_crs"], "EPSG:32651");
    assert!(v["feature_km"]["arterial"].as_f64().unwrap() > 10.0);
    assert_eq!(v["facilities"]["health"].as_array().unwrap().len(), 2);
}

#[test]
fn inspect_prints_a_readable_summary() {
    let out = bmu(&["inspect", demo().to_str().unwrap()], &root());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "江桥镇",
        "EPSG:32651",
        "km²",
        "arterial",
        "market_supervision",
        "transit",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn geojson_shapefile_geojson_round_trip_keeps_geometry_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "town.geojson",
        "facilities.synthetic.geojson",
        "roads.osm.geojson",
    ] {
        let original = read_layer(&demo().join(name), &ReadOptions::default()).unwrap();
        let features: Vec<OutFeature> = original.features.iter().map(OutFeature::from).collect();
        // Through a Shapefile in metres (EPSG:32651) and back to GeoJSON.
        let utm = Crs::parse("EPSG:32651").unwrap();
        let t = bmu::crs::Transformer::new(&Crs::wgs84(), &utm).unwrap();
        let projected: Vec<OutFeature> = features
            .iter()
            .map(|f| {
                let mut g = f.geometry.clone().unwrap();
                t.transform_geometry(&mut g).unwrap();
                OutFeature {
                    geometry: Some(g),
                    properties: f.properties.clone(),
                }
            })
            .collect();
        let shp = dir.path().join(name.replace(".geojson", ".shp"));
        write_layer(&shp, &utm, &projected, &[]).unwrap();
        let from_shp = read_layer(&shp, &ReadOptions::default()).unwrap();
        let back: Vec<OutFeature> = from_shp.features.iter().map(OutFeature::from).collect();
        let gj = dir.path().join(name);
        write_layer(&gj, &from_shp.crs, &back, &[]).unwrap();
        let again = read_layer(&gj, &ReadOptions::default()).unwrap();
        assert_eq!(again.features.len(), original.features.len());
        for (a, b) in original.features.iter().zip(&again.features) {
            // Every attribute, Chinese text included (null and missing are the same in a DBF).
            for (k, v) in &a.properties {
                let got = b
                    .properties
                    .get(&k.chars().take(10).collect::<String>())
                    .or(b.properties.get(k));
                if v.is_null() {
                    assert!(got.is_none_or(|g| g.is_null()), "{name} {k}");
                } else {
                    assert_eq!(got, Some(v), "{name} feature {} field {k}", a.index);
                }
            }
            // Geometry to 1 cm: compare in metres.
            let (ga, gb) = (a.geometry.clone().unwrap(), b.geometry.clone().unwrap());
            let ca: Vec<_> = ga.coords_iter().collect();
            let cb: Vec<_> = gb.coords_iter().collect();
            assert_eq!(ca.len(), cb.len(), "{name} feature {}", a.index);
            for (p, q) in ca.iter().zip(&cb) {
                let (p, q) = (t.transform(*p).unwrap(), t.transform(*q).unwrap());
                assert!(
                    (p.x - q.x).hypot(p.y - q.y) < 0.01,
                    "{name} feature {}: {p:?} vs {q:?}",
                    a.index
                );
            }
        }
    }
}

#[test]
fn a_missing_file_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = bmu(&["inspect", "--town", "nope.geojson"], dir.path());
    assert_error(&out, &["nope.geojson"]);
}

#[test]
fn unparsable_geojson_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.geojson"),
        "{\"type\": \"FeatureCollection\", \"features\": [",
    )
    .unwrap();
    let out = bmu(&["inspect", "--town", "t.geojson"], dir.path());
    assert_error(&out, &["t.geojson", "JSON"]);
}

#[test]
fn an_unknown_crs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(demo().join("town.geojson"), dir.path().join("t.geojson")).unwrap();
    let out = bmu(
        &["inspect", "--town", "t.geojson", "--working-crs", "EPSG:999999"],
        dir.path(),
    );
    assert_error(&out, &["EPSG:999999", "unknown code"]);
}

#[test]
fn a_configured_field_that_does_not_exist_names_field_and_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(demo().join("town.geojson"), dir.path().join("t.geojson")).unwrap();
    std::fs::write(
        dir.path().join("bmu.toml"),
        "[town]\npath = \"t.geojson\"\nid_field = \"code\"\n",
    )
    .unwrap();
    let out = bmu(&["inspect", "."], dir.path());
    assert_error(&out, &["t.geojson", "`code`", "town_code"]);
}

#[test]
fn a_shapefile_without_dbf_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let layer = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    let f: Vec<OutFeature> = layer.features.iter().map(OutFeature::from).collect();
    write_layer(&dir.path().join("t.shp"), &Crs::wgs84(), &f, &[]).unwrap();
    std::fs::remove_file(dir.path().join("t.dbf")).unwrap();
    let out = bmu(&["inspect", "--town", "t.shp"], dir.path());
    assert_error(&out, &["t.shp", ".dbf"]);
}

#[test]
fn projected_coordinates_in_a_wgs84_file_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.geojson"),
        r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[333000,3456000],[344000,3456000],[344000,3463000],[333000,3456000]]]}}"#,
    )
    .unwrap();
    let out = bmu(&["inspect", "--town", "t.geojson"], dir.path());
    assert_error(&out, &["t.geojson", "feature 0", "not a longitude/latitude"]);
}

#[test]
fn configured_crs_applies_to_geojson_without_a_crs_member() {
    // Legacy projected GeoJSON has no `crs` member; `--crs` (or `crs` in bmu.toml) says what it is.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.geojson"),
        r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[333000,3456000],[335000,3456000],[335000,3458000],[333000,3456000]]]}}"#,
    )
    .unwrap();
    let out = bmu(
        &["inspect", "--town", "t.geojson", "--crs", "EPSG:32651", "--json"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["town"]["area_km2"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    assert_eq!(v["layers"][0]["crs_source"], "configured");
}

#[test]
fn repair_makes_a_bowtie_town_valid_and_says_so() {
    let case = root().join("data/cases/bad/bowtie-town");
    let refused = bmu(&["inspect", "."], &case);
    assert_eq!(refused.status.code(), Some(2));
    let out = bmu(&["inspect", ".", "--repair"], &case);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("repaired: made valid"), "{text}");
    assert!(text.contains("self-intersection"), "{text}");
}

#[test]
fn repair_closes_an_open_ring_and_says_so() {
    let case = root().join("data/cases/bad/unclosed-ring");
    let out = bmu(&["inspect", ".", "--repair"], &case);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("repaired: closed 1 open polygon ring"), "{text}");
}

#[test]
fn set_overrides_any_setting_from_the_command_line() {
    let out = bmu(
        &[
            "inspect",
            demo().to_str().unwrap(),
            "--set",
            "working_crs=\"EPSG:4549\"",
            "--json",
        ],
        &root(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["working_crs"], "EPSG:4549");
    // CGCS2000 / 3-degree Gauss-Kruger CM 120E measures the same town within 0.5 % of the geodesic area.
    assert!((v["town"]["area_km2"].as_f64().unwrap() - 42.371).abs() / 42.371 < 0.005);
    let bad = bmu(
        &["inspect", demo().to_str().unwrap(), "--set", "thresholds.nope=1"],
        &root(),
    );
    assert_error(&bad, &["--set thresholds.nope", "unknown field"]);
}

#[test]
fn propose_writes_beside_the_study_area_by_default() {
    // The quickstart's main command (`propose DIR --site`) writes into the study-area folder, never a new top-level
    // folder, and ends with every demo unit passing.
    let dir = tempfile::tempdir().unwrap();
    let area = dir.path().join("town");
    std::fs::create_dir(&area).unwrap();
    crate::copy_demo_files(&area);
    let out = bmu(&["propose", "town", "--site", "--quiet"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "units.geojson",
        "blocks.geojson",
        "problems.geojson",
        "report.json",
        "sites.geojson",
    ] {
        assert!(area.join("out").join(name).is_file(), "{name}");
    }
    assert!(!dir.path().join("out").exists());
}
