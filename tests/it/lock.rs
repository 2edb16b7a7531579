//! Issue 12, the CLI counterparts of the editor's lock and re-optimise: `bmu propose --lock A.csv` keeps the listed
//! units exactly and proposes the rest; `--initial A.csv` starts the search from a plan.

use crate::{assert_error, bmu, demo};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Each unit's blocks, from a propose run's units layer (`blocks` property).
fn unit_blocks(units: &Path) -> BTreeMap<String, BTreeSet<String>> {
    read_json(units)["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let blocks = p["blocks"].as_array().unwrap();
            (
                p["unit_id"].as_str().unwrap().to_string(),
                blocks.iter().map(|b| b.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

/// Each block's unit, from a propose run's blocks layer.
fn block_units(blocks: &Path) -> BTreeMap<String, Option<String>> {
    read_json(blocks)["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["block_id"].as_str().unwrap().to_string(),
                p["unit_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn passing(report: &Path) -> u64 {
    read_json(report)["summary"]["passing"].as_u64().unwrap()
}

/// One plain propose of the demo, the plan the tests lock and start from.
struct Base {
    dir: tempfile::TempDir,
    out: PathBuf,
}

fn base() -> &'static Base {
    static RUN: OnceLock<Base> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("base");
        let units = out.join("units.geojson");
        let o = bmu(
            &[
                "propose",
                demo().to_str().unwrap(),
                "--out",
                units.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        Base { dir, out }
    })
}

fn write_csv(path: &Path, rows: &[(&str, &str)]) {
    let mut text = String::from("block_id,unit_id\n");
    for (b, u) in rows {
        text.push_str(&format!("{b},{u}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn propose(dir: &Path, name: &str, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let out = dir.join(name);
    let (demo, units) = (demo(), out.join("units.geojson"));
    let mut args = vec![
        "propose",
        demo.to_str().unwrap(),
        "--out",
        units.to_str().unwrap(),
    ];
    args.extend(extra);
    (bmu(&args, dir), out)
}

#[test]
fn locked_units_come_out_identical_and_the_rest_is_proposed() {
    let base = base();
    let units = unit_blocks(&base.out.join("units.geojson"));
    assert!(units.len() >= 3, "the demo proposes several units: {units:?}");
    // Two units locked under new names, so the ids are seen to come from the table, not from renumbering.
    let locked: Vec<(&str, &BTreeSet<String>)> = ["甲", "乙"]
        .into_iter()
        .zip(units.values().skip(1).step_by(2))
        .collect();
    let rows: Vec<(&str, &str)> = locked
        .iter()
        .flat_map(|(name, blocks)| blocks.iter().map(move |b| (b.as_str(), *name)))
        .collect();
    let csv = base.dir.path().join("lock.csv");
    write_csv(&csv, &rows);
    let (o, out) = propose(base.dir.path(), "locked", &["--lock", csv.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    let after = unit_blocks(&out.join("units.geojson"));
    for (name, blocks) in &locked {
        assert_eq!(
            after.get(*name),
            Some(*blocks),
            "locked unit {name} changed: {after:?}"
        );
    }
    // Every other block is proposed again (none joins a locked unit) and the new units are numbered around them.
    let assigned = block_units(&out.join("blocks.geojson"));
    for (block, unit) in &assigned {
        let in_lock = rows.iter().find(|(b, _)| b == block).map(|(_, u)| *u);
        match in_lock {
            Some(u) => assert_eq!(unit.as_deref(), Some(u), "{block}"),
            None => assert!(
                !matches!(unit.as_deref(), Some("甲" | "乙")),
                "{block} joined a locked unit"
            ),
        }
    }
    assert!(
        after.len() > locked.len(),
        "the free blocks were proposed: {after:?}"
    );
    // The locked table is an input: never written.
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("block_id,unit_id\n"));
}

#[test]
fn unknown_block_in_lock_is_refused() {
    let base = base();
    let blocks = block_units(&base.out.join("blocks.geojson"));
    let first = blocks.keys().next().unwrap().clone();
    let csv = base.dir.path().join("lock_unknown.csv");
    write_csv(&csv, &[(first.as_str(), "甲"), ("NOPE", "甲")]);
    let (o, out) = propose(base.dir.path(), "unknown", &["--lock", csv.to_str().unwrap()]);
    assert_error(&o, &["lock_unknown.csv", "feature 2 (id NOPE)", "no such block"]);
    assert!(!out.exists(), "a refused run writes nothing");
}

#[test]
fn initial_plan_is_never_made_worse() {
    let base = base();
    let before = passing(&base.out.join("report.json"));
    let assigned = block_units(&base.out.join("blocks.geojson"));
    let rows: Vec<(&str, &str)> = assigned
        .iter()
        .filter_map(|(b, u)| u.as_deref().map(|u| (b.as_str(), u)))
        .collect();
    let csv = base.dir.path().join("initial.csv");
    write_csv(&csv, &rows);
    // Few starts and no improvement rounds: the seeded start must carry the plan on its own.
    let (o, out) = propose(
        base.dir.path(),
        "initial",
        &[
            "--initial",
            csv.to_str().unwrap(),
            "--set",
            "propose.starts=1",
            "--set",
            "propose.improve_iterations=0",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    let after = passing(&out.join("report.json"));
    assert!(
        after >= before,
        "started from a plan with {before} passing units, got {after}"
    );
}

#[test]
fn unknown_block_in_initial_is_refused() {
    let base = base();
    let csv = base.dir.path().join("initial_unknown.csv");
    write_csv(&csv, &[("NOPE", "U01")]);
    let (o, _) = propose(
        base.dir.path(),
        "initial_unknown",
        &["--initial", csv.to_str().unwrap()],
    );
    assert_error(
        &o,
        &["initial_unknown.csv", "feature 1 (id NOPE)", "no such block"],
    );
}
