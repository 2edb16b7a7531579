//! `bmu serve` (the live plan editor) and its CLI counterpart `bmu validate --assignment`.

use super::{assert_error, bmu, demo};
use serde_json::Value;
use std::path::Path;

/// A copy of the demo study area in a temp dir (serve and propose write under its `out/`).
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// propose's blocks layer as an assignment table.
fn assignment_of(blocks: &Path) -> String {
    let mut csv = String::from("block_id,unit_id\n");
    for f in json(blocks)["features"].as_array().unwrap() {
        let p = &f["properties"];
        csv += &format!(
            "{},{}\n",
            p["block_id"].as_str().unwrap(),
            p["unit_id"].as_str().unwrap_or("")
        );
    }
    csv
}

#[test]
fn validate_assignment_of_proposes_plan_gives_proposes_results() {
    let dir = demo_copy();
    let out = bmu(&["propose", "."], dir.path());
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = dir.path().join("plan.csv");
    std::fs::write(&table, assignment_of(&dir.path().join("out/blocks.geojson"))).unwrap();
    let out = bmu(
        &["validate", ".", "--assignment", "plan.csv", "--report", "va.json"],
        dir.path(),
    );
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (va, proposed) = (
        json(&dir.path().join("va.json")),
        json(&dir.path().join("out/report.json")),
    );
    assert_eq!(va["units"], proposed["units"]);
    assert_eq!(va["summary"], proposed["summary"]);
}

#[test]
fn validate_assignment_with_an_unknown_block_is_refused_naming_it() {
    let dir = demo_copy();
    // B001 exists in the demo's derived blocks; the second row does not.
    std::fs::write(
        dir.path().join("plan.csv"),
        "block_id,unit_id\nB001,U01\nB999,U01\n",
    )
    .unwrap();
    let out = bmu(&["validate", ".", "--assignment", "plan.csv"], dir.path());
    assert_error(&out, &["plan.csv", "feature 2 (id B999)", "no such block"]);
}

#[test]
fn validate_with_both_units_and_assignment_is_refused() {
    let dir = demo_copy();
    let out = bmu(
        &[
            "validate",
            ".",
            "--assignment",
            "plan.csv",
            "--units",
            "u.geojson",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}
