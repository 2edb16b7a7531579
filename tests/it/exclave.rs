//! The exclave policy (issue 14) end to end: a town with a small detached piece joined to it by a road, proposed
//! with `exclaves = "unassigned"` (the default), `"merge"`, and `"merge"` with `accept_exclaves_by_road`; and the
//! editor's unit colours, which must be the dossier's.

use super::bmu;
use crate::serve::Server;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

/// Lattice origin and cell side, degrees: cells of about 475 × 555 m near Shanghai.
const X0: f64 = 121.30;
const Y0: f64 = 31.20;
const D: f64 = 0.005;
const COLS: usize = 6;
const ROWS: usize = 6;

fn cell(x: f64, y: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x, y], [x + D, y], [x + D, y + D], [x, y + D], [x, y]]]})
}

/// A synthetic study area (labelled so in its file names): a 6 × 6 lattice of blocks of 2,500 people each (four
/// units of 20,000 at most), and 300 m east of it two blocks of 800 people (block ids E0, E1) too few for a unit
/// of their own. 华翔路 runs down the lattice's east edge 10 m off it, then east along the line between E0 and E1.
fn study_area(dir: &Path) {
    let mut blocks = Vec::new();
    for r in 0..ROWS {
        for c in 0..COLS {
            let (x, y) = (X0 + c as f64 * D, Y0 + r as f64 * D);
            blocks.push(
                json!({"type": "Feature", "properties": {"id": format!("L{r}{c}"), "POP": 2500},
                               "geometry": cell(x, y)}),
            );
        }
    }
    let (east, exclave) = (X0 + COLS as f64 * D, X0 + COLS as f64 * D + 0.003);
    for (i, y) in [Y0, Y0 + D].into_iter().enumerate() {
        blocks.push(
            json!({"type": "Feature", "properties": {"id": format!("E{i}"), "POP": 800},
                           "geometry": cell(exclave, y)}),
        );
    }
    let road = json!({"type": "Feature", "properties": {"id": "R1", "name": "华翔路"},
        "geometry": {"type": "LineString", "coordinates": [
            [east + 0.0001, Y0 + ROWS as f64 * D], [east + 0.0001, Y0 + D], [exclave + D / 2.0, Y0 + D]]}});
    let fc = |features: Vec<Value>| json!({"type": "FeatureCollection", "features": features}).to_string();
    std::fs::write(dir.join("blocks.synthetic.geojson"), fc(blocks)).unwrap();
    std::fs::write(dir.join("roads.synthetic.geojson"), fc(vec![road])).unwrap();
    std::fs::write(
        dir.join("bmu.toml"),
        "[blocks]\npath = \"blocks.synthetic.geojson\"\nid_field = \"id\"\npopulation_field = \"POP\"\n\n\
         [[features]]\npath = \"roads.synthetic.geojson\"\nclass = \"road\"\nid_field = \"id\"\nname_field = \"name\"\n\n\
         [thresholds]\nmin_area_km2 = 0\n",
    )
    .unwrap();
}

/// `bmu propose .` with its report, units and dossier, and `extra` flags.
fn propose(dir: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "propose",
        ".",
        "--out",
        "U.geojson",
        "--report",
        "R.json",
        "--report-html",
        "D.html",
    ];
    args.extend_from_slice(extra);
    let out = bmu(&args, dir);
    let report = serde_json::from_slice(&std::fs::read(dir.join("R.json")).unwrap()).unwrap();
    (out, report)
}

/// The id of the unit that holds block `block`, from the units layer.
fn unit_holding(dir: &Path, block: &str) -> Option<String> {
    let units: Value = serde_json::from_slice(&std::fs::read(dir.join("U.geojson")).unwrap()).unwrap();
    units["features"].as_array().unwrap().iter().find_map(|f| {
        let p = &f["properties"];
        p["blocks"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == block))
            .then(|| p["unit_id"].as_str().unwrap().to_string())
    })
}

/// The geometry check of unit `id` in a report.
fn geometry_check(report: &Value, id: &str) -> Value {
    report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_id"] == id)
        .map(|u| u["checks"]["geometry"].clone())
        .unwrap()
}

#[test]
fn a_small_exclave_is_left_unassigned_by_default_and_the_run_says_which_settings_place_it() {
    let dir = tempfile::tempdir().unwrap();
    study_area(dir.path());
    let (out, report) = propose(dir.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let unassigned: BTreeSet<&str> = report["unassigned_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b.as_str().or_else(|| b["block_id"].as_str()))
        .collect();
    assert_eq!(
        unassigned,
        BTreeSet::from(["E0", "E1"]),
        "{}",
        report["unassigned_blocks"]
    );
    assert_eq!(unit_holding(dir.path(), "E0"), None);
    assert!(err.contains("What next:"), "{err}");
    assert!(err.contains("`--set propose.exclaves=merge`"), "{err}");
    assert!(err.contains("thresholds.accept_exclaves_by_road=true"), "{err}");
}

#[test]
fn a_merged_exclave_fails_contiguity_without_the_road_setting_naming_both_settings() {
    let dir = tempfile::tempdir().unwrap();
    study_area(dir.path());
    let (out, report) = propose(dir.path(), &["--set", "propose.exclaves=merge"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(report["unassigned_blocks"], json!([]));
    let unit = unit_holding(dir.path(), "E0").expect("the exclave is merged into a unit");
    assert_eq!(unit_holding(dir.path(), "E1").as_deref(), Some(unit.as_str()));
    let geometry = geometry_check(&report, &unit);
    assert_eq!(geometry["pass"], json!(false), "{geometry}");
    assert_eq!(geometry["value"], json!(2.0));
    assert_eq!(geometry["reason_codes"][0]["reason_code"], "separate_parts");
    // The What-next line for it names both the editing way out and the setting that accepts it.
    assert!(err.contains("more than one part (an exclave)"), "{err}");
    assert!(err.contains("thresholds.accept_exclaves_by_road=true"), "{err}");
}

#[test]
fn an_exclave_joined_by_road_passes_with_accept_exclaves_by_road_and_the_report_names_the_road() {
    let dir = tempfile::tempdir().unwrap();
    study_area(dir.path());
    let (out, report) = propose(
        dir.path(),
        &[
            "--set",
            "propose.merge_infeasible=true",
            "--set",
            "thresholds.accept_exclaves_by_road=true",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    let unit = unit_holding(dir.path(), "E0").expect("merged through the deprecated alias");
    let geometry = geometry_check(&report, &unit);
    assert_eq!(geometry["pass"], json!(true), "{geometry}");
    assert_eq!(
        geometry["reason_codes"],
        json!([{"reason_code": "exclave_joined_by_road", "reason_params": {"roads": ["华翔路"]}}])
    );
    assert_eq!(
        geometry["reasons"],
        json!(["exclave joined to the main part by 华翔路"])
    );
    let dossier = std::fs::read_to_string(dir.path().join("D.html")).unwrap();
    assert!(
        dossier.contains("飞地经由华翔路与主体相连"),
        "the dossier names the road"
    );
    assert!(!err.contains("more than one part"), "{err}");

    // validate reads the same setting from the same engine: the proposed units pass there too, and fail without it.
    let out = bmu(
        &[
            "validate",
            ".",
            "--units",
            "U.geojson",
            "--id-field",
            "unit_id",
            "--report",
            "V.json",
            "--set",
            "thresholds.accept_exclaves_by_road=true",
        ],
        dir.path(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let validated: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("V.json")).unwrap()).unwrap();
    assert_eq!(geometry_check(&validated, &unit)["pass"], json!(true));
    let out = bmu(
        &[
            "validate",
            ".",
            "--units",
            "U.geojson",
            "--id-field",
            "unit_id",
            "--report",
            "W.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let validated: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("W.json")).unwrap()).unwrap();
    assert_eq!(geometry_check(&validated, &unit)["pass"], json!(false));
}

/// Each unit's fill in the dossier's plan map: `<path class="unit" data-unit="ID" d="…" fill="#rrggbb"`. Every map
/// of the dossier colours a unit alike; the test holds it to that too.
fn dossier_fills(page: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for piece in page.split("class=\"unit\" data-unit=\"").skip(1) {
        let id = piece.split('"').next().unwrap().to_string();
        let fill = piece
            .split("fill=\"")
            .nth(1)
            .unwrap()
            .chars()
            .take(7)
            .collect::<String>();
        if let Some(seen) = out.insert(id.clone(), fill.clone()) {
            assert_eq!(seen, fill, "{id} has two colours in the dossier");
        }
    }
    out
}

/// The editor's colour of each unit holding blocks, and which of them share a block vertex (so touch).
fn page_colours(plan: &Value) -> (BTreeMap<String, String>, BTreeSet<(String, String)>) {
    let mut vertices: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in plan["blocks"]["features"].as_array().unwrap() {
        let Some(unit) = f["properties"]["unit_id"].as_str() else {
            continue;
        };
        let mut stack = vec![&f["geometry"]["coordinates"]];
        while let Some(v) = stack.pop() {
            match v.as_array() {
                Some(a) if a.first().is_some_and(Value::is_number) => {
                    let p = format!("{:.7},{:.7}", a[0].as_f64().unwrap(), a[1].as_f64().unwrap());
                    vertices.entry(unit.to_string()).or_default().insert(p);
                }
                Some(a) => stack.extend(a.iter()),
                None => {}
            }
        }
    }
    let colours: BTreeMap<String, String> = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| vertices.contains_key(u["unit_id"].as_str().unwrap()))
        .map(|u| {
            (
                u["unit_id"].as_str().unwrap().to_string(),
                u["colour"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut touching = BTreeSet::new();
    for (a, va) in &vertices {
        for (b, vb) in vertices.range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
        {
            if !va.is_disjoint(vb) {
                touching.insert((a.clone(), b.clone()));
            }
        }
    }
    (colours, touching)
}

#[test]
fn serve_colours_units_with_the_dossiers_palette_and_neighbours_differ() {
    let server = Server::start(&[]);
    for step in ["start", "after a move"] {
        let plan = server.plan();
        let (colours, touching) = page_colours(&plan);
        assert!(colours.len() > 2, "{step}: {colours:?}");
        assert!(!touching.is_empty(), "{step}: no two units touch");
        for (a, b) in &touching {
            assert_ne!(colours[a], colours[b], "{step}: {a} and {b} touch");
        }
        let (status, page) = server.call("GET", "/api/dossier", "");
        assert_eq!(status, 200);
        assert_eq!(colours, dossier_fills(page.as_str().unwrap()), "{step}");
        // Move a block of U01 into U02, then check again on the changed plan.
        let block = plan["blocks"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["unit_id"] == "U01")
            .map(|f| f["properties"]["block_id"].as_str().unwrap().to_string())
            .unwrap();
        let (status, change) = server.call(
            "POST",
            "/api/assign",
            &format!(r#"{{"moves": [{{"block_id": "{block}", "unit_id": "U02"}}]}}"#),
        );
        assert_eq!(status, 200, "{change}");
    }
}
