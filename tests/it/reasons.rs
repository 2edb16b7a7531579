//! Structured check reasons and the vocabulary: reasons as data in the report, in Chinese in the zh dossier, with
//! command-line hints only on the terminal; facility statuses read with flags only.

use crate::{bmu, demo};
use serde_json::Value;
use std::path::Path;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The demo's facilities with every `affairs` point marked "规划" (planned), as a planner's layer would.
fn facilities_with_planned_affairs(dir: &Path) -> std::path::PathBuf {
    let mut fc = json(&demo().join("facilities.synthetic.geojson"));
    for f in fc["features"].as_array_mut().unwrap() {
        if f["properties"]["type"] == "affairs" {
            f["properties"]["status"] = Value::from("规划");
        }
    }
    let path = dir.join("facilities.synthetic.geojson");
    std::fs::write(&path, serde_json::to_string(&fc).unwrap()).unwrap();
    path
}

#[test]
fn flags_only_facilities_read_their_status_and_planned_is_not_existing() {
    let dir = tempfile::tempdir().unwrap();
    let facilities = facilities_with_planned_affairs(dir.path());
    let town = demo().join("town.geojson");
    let report = dir.path().join("report.json");
    let out = bmu(
        &[
            "validate",
            "--town",
            town.to_str().unwrap(),
            "--facilities",
            facilities.to_str().unwrap(),
            "--units",
            town.to_str().unwrap(),
            "--id-field",
            "town_code",
            "--report",
            report.to_str().unwrap(),
            "--out",
            dir.path().join("units.geojson").to_str().unwrap(),
            "--problems",
            dir.path().join("problems.geojson").to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    let r = json(&report);
    let facilities = &r["units"][0]["checks"]["facilities"];
    assert_eq!(
        facilities["detail"]["planned_only"],
        serde_json::json!(["affairs"]),
        "{facilities}"
    );
}

#[test]
fn zh_dossier_reasons_are_chinese_and_name_no_flags_while_the_terminal_does() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.geojson");
    let report = dir.path().join("report.json");
    let html = dir.path().join("dossier.html");
    let out = bmu(
        &[
            "propose",
            demo().to_str().unwrap(),
            "--out",
            units.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)));
    // 30,000 residents: every unit fails min_population, so the findings hold a population reason.
    let out = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--id-field",
            "unit_id",
            "--set",
            "thresholds.min_population=30000",
            "--report",
            report.to_str().unwrap(),
            "--out",
            dir.path().join("checked.geojson").to_str().unwrap(),
            "--problems",
            dir.path().join("problems.geojson").to_str().unwrap(),
            "--report-html",
            html.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The table wraps at 80 columns, so the flag may start a continuation line.
    assert!(
        err.contains("give --blocks") || err.contains("give\n    --blocks"),
        "the terminal keeps its hint: {err}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("give --"), "a CLI hint in the dossier");
    assert!(page.contains("无地块图层（居委/村）"));
    assert!(page.contains("低于 30,000 人"));
    assert!(!page.contains("is below"));
    let r = json(&report);
    let pop = &r["units"][0]["checks"]["min_population"];
    assert_eq!(pop["reason_codes"][0]["reason_code"], "population_below", "{pop}");
    assert_eq!(pop["reason_codes"][0]["reason_params"]["min"], 30000.0);
    assert!(pop["reasons"][0].as_str().unwrap().starts_with("population "));
    let com = &r["units"][0]["checks"]["community_integrity"];
    assert_eq!(
        com["reason"],
        "no blocks layer (residential committees / villages)"
    );
    assert_eq!(com["reason_code"], "no_blocks_layer");
}

#[test]
fn compactness_and_overlays_pass_are_null_in_the_units_layer_since_they_are_only_reported() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.geojson");
    let out = bmu(
        &[
            "propose",
            demo().to_str().unwrap(),
            "--out",
            units.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let layer = json(&units);
    for f in layer["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(p["compactness_pass"].is_null(), "{p}");
        assert!(p["overlays_pass"].is_null(), "{p}");
        assert!(p["compactness_value"].is_number(), "{p}");
        assert!(p["min_area_pass"].is_boolean(), "{p}");
    }
}

#[test]
fn exit_1_ends_with_what_next_naming_the_command_that_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.geojson");
    let out = bmu(
        &[
            "propose",
            demo().to_str().unwrap(),
            "--out",
            units.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let next = err
        .split("What next:")
        .nth(1)
        .unwrap_or_else(|| panic!("no What next: {err}"));
    assert!(next.contains("`bmu propose DIR --site`"), "{next}");
    assert!(next.contains("U0"), "names the units: {next}");
    let out = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--id-field",
            "unit_id",
            "--out",
            dir.path().join("checked.geojson").to_str().unwrap(),
            "--problems",
            dir.path().join("problems.geojson").to_str().unwrap(),
            "--report",
            dir.path().join("report.json").to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`bmu site DIR --units UNITS`"), "{err}");
}
