//! OpenStreetMap straight in: the Huangpu extract of `data/osm/` read as `.osm` and `.osm.pbf`, its study area
//! through `inspect`, `propose` and `validate`, elevated roads as barriers by configuration, POIs as facilities.

use crate::{bmu, realdata, root};
use bmu::io::{read_layer, ReadOptions};
use std::path::{Path, PathBuf};

fn osm_dir() -> PathBuf {
    root().join("data/osm")
}

/// A layer as comparable data: the field list, and every feature's id, geometry (debug text) and properties (JSON).
type LayerData = (Vec<String>, Vec<(Option<serde_json::Value>, String, String)>);

fn layer_data(path: &Path) -> LayerData {
    let layer = read_layer(path, &ReadOptions::default()).unwrap();
    let features = layer
        .features
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                format!("{:?}", f.geometry),
                serde_json::to_string(&f.properties).unwrap(),
            )
        })
        .collect();
    (layer.fields, features)
}

#[test]
fn osm_xml_and_pbf_of_one_extract_give_identical_layers() {
    let xml = layer_data(&osm_dir().join("huangpu_W.osm"));
    let pbf = layer_data(&osm_dir().join("huangpu_W.osm.pbf"));
    assert_eq!(xml.1.len(), 423, "SOURCE.txt: 423 ways, no POIs");
    assert_eq!(xml, pbf);
    // The originals in shared/ too (the XML there still carries user/timestamp metadata, which is not read).
    if let Some(real) = realdata() {
        let dir = real.join("osm-huangpu-west");
        assert_eq!(layer_data(&dir.join("huangpu_W.osm")), xml);
        assert_eq!(layer_data(&dir.join("huangpu_W.osm.pbf")), xml);
    }
}

#[test]
fn osm_ways_keep_tags_names_and_shared_junction_nodes() {
    let layer = read_layer(&osm_dir().join("huangpu_W.osm.pbf"), &ReadOptions::default()).unwrap();
    assert!(layer.crs.is_geographic());
    let mut ends: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for f in &layer.features {
        assert!(f.text("osm_id").is_some() && f.text("highway").is_some());
        let Some(geo::Geometry::LineString(l)) = &f.geometry else {
            panic!("every way of the extract is a line: {:?}", f.id)
        };
        for c in [l.0[0], l.0[l.0.len() - 1]] {
            *ends.entry(format!("{:?}", c)).or_default() += 1;
        }
    }
    let named = layer.features.iter().filter(|f| f.text("name").is_some()).count();
    assert!(named > 200, "{named} named ways");
    // OSMnx splits ways at intersections: most way ends are junctions shared by several ways.
    let junctions = ends.values().filter(|&&n| n >= 2).count();
    assert!(junctions > 200, "{junctions} shared way ends");
}

#[test]
fn osm_window_keeps_the_features_near_the_town() {
    let path = osm_dir().join("huangpu_W.osm");
    let all = read_layer(&path, &ReadOptions::default()).unwrap().features.len();
    let south = geo::Rect::new((121.46, 31.219), (121.475, 31.225));
    let windowed = read_layer(
        &path,
        &ReadOptions {
            window: Some(south),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(windowed.features.len() > 10 && windowed.features.len() < all / 2);
    for f in &windowed.features {
        let r = geo::BoundingRect::bounding_rect(f.geometry.as_ref().unwrap()).unwrap();
        assert!(
            r.max().y >= 31.219 && r.min().y <= 31.225,
            "{:?} lies outside",
            f.id
        );
    }
}

#[test]
fn osm_features_are_read_within_the_towns_window() {
    // A town 0.02–0.03° south of the extract: the window (its box plus 0.02°) reaches the extract's southern edge.
    let dir = study_area(|t| t);
    let town = std::fs::read_to_string(dir.path().join("town.synthetic.geojson")).unwrap();
    let town = town.replace("31.2215", "31.1900").replace("31.2395", "31.2000");
    std::fs::write(dir.path().join("town.synthetic.geojson"), town).unwrap();
    let v = inspect_json(dir.path());
    let read = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["role"] == "features")
        .unwrap()["features"]
        .as_u64()
        .unwrap();
    assert!(read > 0 && read < 100, "{read} of 423 ways read");
    assert_eq!(
        v["layers"][2]["features"], 0,
        "the POIs lie farther north: {}",
        v["layers"]
    );
}

/// `data/osm` copied to a temporary folder, with `bmu.toml` edited by `edit`.
fn study_area(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(osm_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let toml = std::fs::read_to_string(dir.path().join("bmu.toml")).unwrap();
    std::fs::write(dir.path().join("bmu.toml"), edit(toml)).unwrap();
    dir
}

fn inspect_json(dir: &Path) -> serde_json::Value {
    let out = bmu(&["inspect", dir.to_str().unwrap(), "--json"], &root());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn inspect_osm_study_area_as_pbf_and_as_xml() {
    let pbf = inspect_json(&osm_dir());
    let xml_dir = study_area(|t| t.replace("huangpu_W.osm.pbf", "huangpu_W.osm"));
    let xml = inspect_json(xml_dir.path());
    assert_eq!(pbf["feature_km"], xml["feature_km"]);
    assert_eq!(pbf["facilities"], xml["facilities"]);
    let km = |class: &str| pbf["feature_km"][class].as_f64().unwrap_or(0.0);
    assert!(
        km("arterial") > 15.0 && km("road") > 15.0,
        "{}",
        pbf["feature_km"]
    );
}

#[test]
fn elevated_trunks_are_barriers_only_when_configured() {
    let on = inspect_json(&osm_dir());
    let off_dir = study_area(|t| t.replace("elevated_barriers = true", "elevated_barriers = false"));
    let off = inspect_json(off_dir.path());
    // 南北高架路 and 延安高架路: highway=trunk, bridge=yes.
    let expressway = |v: &serde_json::Value| v["feature_km"]["expressway"].as_f64().unwrap_or(0.0);
    assert!(expressway(&on) > 4.0, "{}", on["feature_km"]);
    assert_eq!(expressway(&off), 0.0, "{}", off["feature_km"]);
    let total = |v: &serde_json::Value| -> f64 {
        v["feature_km"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|x| x.as_f64())
            .sum()
    };
    assert!((total(&on) - total(&off)).abs() < 1e-6, "only the class changes");
}

#[test]
fn elevated_barriers_apply_with_a_class_field() {
    let dir = study_area(|t| {
        t.replace(
            "elevated_barriers = true",
            "elevated_barriers = true\nclass_field = \"highway\"",
        )
    });
    let v = inspect_json(dir.path());
    assert!(
        v["feature_km"]["expressway"].as_f64().unwrap_or(0.0) > 4.0,
        "{}",
        v["feature_km"]
    );
}

#[test]
fn motorway_link_ramps_are_not_barriers_in_an_osm_layer() {
    let dir = study_area(|t| t);
    let text = std::fs::read_to_string(dir.path().join("huangpu_W.osm")).unwrap();
    // Retag the extract's trunk_link ramps as motorway_link: still arterials, not expressways.
    std::fs::write(
        dir.path().join("huangpu_W.osm"),
        text.replace("v=\"trunk_link\"", "v=\"motorway_link\""),
    )
    .unwrap();
    let toml = std::fs::read_to_string(dir.path().join("bmu.toml")).unwrap();
    std::fs::write(
        dir.path().join("bmu.toml"),
        toml.replace("huangpu_W.osm.pbf", "huangpu_W.osm")
            .replace("elevated_barriers = true", ""),
    )
    .unwrap();
    let v = inspect_json(dir.path());
    assert!(text.contains("v=\"trunk_link\""));
    assert_eq!(
        v["feature_km"]["expressway"].as_f64().unwrap_or(0.0),
        0.0,
        "{}",
        v["feature_km"]
    );
}

#[test]
fn osm_points_of_interest_are_typed_by_their_tags() {
    let v = inspect_json(&osm_dir());
    let f = &v["facilities"];
    // [existing, planned] per type; amenity=townhall is an affairs centre through [facilities.type_map].
    for t in ["police", "health", "culture", "transit", "affairs"] {
        assert_eq!(f[t], serde_json::json!([1, 0]), "{t}: {f}");
    }
    assert_eq!(f.as_object().unwrap().len(), 5, "the café is no facility: {f}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("1 point(s) of interest map to no facility type"),
        "{warnings}"
    );
}

#[test]
fn propose_runs_on_an_osm_study_area() {
    let out_dir = tempfile::tempdir().unwrap();
    let units = out_dir.path().join("units.geojson");
    let out = bmu(
        &[
            "propose",
            osm_dir().to_str().unwrap(),
            "--out",
            units.to_str().unwrap(),
            "-q",
        ],
        &root(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&units).unwrap()).unwrap();
    assert!(v["features"].as_array().unwrap().len() >= 2);
}

#[test]
fn validate_osm_barrier_findings_cite_road_names() {
    // The whole town as one unit: 南北高架路 runs through it.
    let out_dir = tempfile::tempdir().unwrap();
    let problems = out_dir.path().join("problems.geojson");
    let out = bmu(
        &[
            "validate",
            osm_dir().to_str().unwrap(),
            "--units",
            osm_dir().join("town.synthetic.geojson").to_str().unwrap(),
            "--id-field",
            "town_code",
            "--problems",
            problems.to_str().unwrap(),
            "--report",
            out_dir.path().join("report.json").to_str().unwrap(),
            "-q",
        ],
        &root(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&problems).unwrap()).unwrap();
    let barrier = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["kind"] == "barrier_crossing")
        .expect("an elevated road inside the unit");
    let names = barrier["properties"]["features"].as_str().unwrap();
    assert!(
        names.contains("南北高架路") && names.contains("延安高架路"),
        "{names}"
    );
}

#[test]
fn writing_units_as_osm_is_refused() {
    let out_dir = tempfile::tempdir().unwrap();
    let units = out_dir.path().join("units.osm");
    let out = bmu(
        &[
            "propose",
            osm_dir().to_str().unwrap(),
            "--out",
            units.to_str().unwrap(),
        ],
        &root(),
    );
    // One error line (after the study area's own warning about the café).
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("bmu: error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("units.osm") && errors[0].contains("does not write"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "no output at all"
    );
}
