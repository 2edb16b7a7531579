//! Issue "Bad input, faults and determinism": the bad-input corpus and the fuzz regressions.
//!
//! `data/cases/bad/cases.toml` lists one case per folder: the arguments, the exit code and what the single
//! `bmu: error: …` line (or, for usable input, the output) must say. Every case runs through the real binary; all
//! failures are collected and reported together, so one run shows every broken expectation. The fuzz regressions
//! (`tests/fuzz/regressions/<target>/`) are replayed through the targets' own code (`tests/fuzz/harness.rs`), so
//! they run in every `cargo test` without cargo-fuzz.

use crate::{bmu, root};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[path = "../fuzz/harness.rs"]
mod harness;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    output: Vec<String>,
}

fn corpus() -> PathBuf {
    root().join("data/cases/bad")
}

/// What is wrong with one case's run (empty when it behaved as listed).
fn check(case: &Case) -> Vec<String> {
    let dir = corpus().join(&case.name);
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let out = bmu(&args, &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(case.exit) {
        problems.push(format!("exit {:?}, expected {}", out.status.code(), case.exit));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("panicked".into());
    }
    if case.exit == 2 {
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("bmu: error: ") {
            problems.push("stderr is not one `bmu: error: …` line".into());
        }
    }
    for needle in &case.stderr {
        if !stderr.contains(needle.as_str()) {
            problems.push(format!("stderr lacks `{needle}`"));
        }
    }
    let all = format!("{stdout}{stderr}");
    for needle in &case.output {
        if !all.contains(needle.as_str()) {
            problems.push(format!("output lacks `{needle}`"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("stderr was: {}", stderr.trim_end()));
    }
    problems
}

#[test]
fn every_bad_input_case_exits_as_listed_with_one_line() {
    let text = std::fs::read_to_string(corpus().join("cases.toml")).unwrap();
    let manifest: Manifest = toml::from_str(&text).unwrap();
    assert!(manifest.case.len() >= 30, "{} cases", manifest.case.len());

    // The manifest and the folders must agree: a folder without an entry is a case nobody runs.
    let listed: BTreeSet<&str> = manifest.case.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(listed.len(), manifest.case.len(), "a case is listed twice");
    let folders: BTreeSet<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let folders: BTreeSet<&str> = folders.iter().map(String::as_str).collect();
    assert_eq!(
        listed, folders,
        "cases.toml and the folders of data/cases/bad differ"
    );

    let failures: Vec<String> = manifest
        .case
        .iter()
        .flat_map(|c| {
            let problems = check(c);
            (!problems.is_empty()).then(|| format!("{}:\n    {}", c.name, problems.join("\n    ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        manifest.case.len(),
        failures.join("\n")
    );
}

/// Replays every saved input of one fuzz target: returning at all (no panic) is the test.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let dir = root().join("tests/fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        run(&data);
    }
}

#[test]
fn fuzz_regressions_geojson() {
    let dir = tempfile::tempdir().unwrap();
    replay("geojson", |data| harness::geojson(data, dir.path()));
}

#[test]
fn fuzz_regressions_shapefile() {
    let dir = tempfile::tempdir().unwrap();
    replay("shapefile", |data| harness::shapefile(data, dir.path()));
}

#[test]
fn fuzz_regressions_bmu_toml() {
    replay("bmu_toml", harness::bmu_toml);
}

#[test]
fn fuzz_regressions_geotiff() {
    let dir = tempfile::tempdir().unwrap();
    replay("geotiff", |data| harness::geotiff(data, dir.path()));
}
