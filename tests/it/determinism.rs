//! Outputs are identical at any thread count: `propose` and `validate` on the demo town at 1 and 2 rayon threads,
//! every output file compared byte for byte.

use crate::{bmu_threads, demo};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// `propose` (two candidates) then `validate` of its units, in a fresh folder, on `threads` threads.
fn run(threads: usize) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo();
    let demo = demo.to_str().unwrap();
    let out = bmu_threads(
        &[
            "propose",
            demo,
            "--candidates",
            "2",
            "--out",
            "out/units.geojson",
            "--quiet",
        ],
        dir.path(),
        threads,
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::create_dir(dir.path().join("checked")).unwrap();
    let out = bmu_threads(
        &[
            "validate",
            demo,
            "--units",
            "out/units.geojson",
            "--id-field",
            "unit_id",
            "--out",
            "checked/units.geojson",
            "--problems",
            "checked/problems.geojson",
            "--report",
            "checked/report.json",
            "--quiet",
        ],
        dir.path(),
        threads,
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = files(dir.path());
    (dir, files)
}

#[test]
fn propose_and_validate_outputs_are_identical_at_one_and_two_threads() {
    let (_one_dir, one) = run(1);
    let (_two_dir, two) = run(2);
    assert!(
        one.contains_key("out/units.geojson") && one.contains_key("checked/report.json"),
        "{:?}",
        one.keys()
    );
    assert!(one.contains_key("out/units.cand2.geojson"), "{:?}", one.keys());
    assert_eq!(one.keys().collect::<Vec<_>>(), two.keys().collect::<Vec<_>>());
    for (name, bytes) in &one {
        assert!(two[name] == *bytes, "{name} differs between 1 and 2 threads");
    }
}
