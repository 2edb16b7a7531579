//! Issue "bmu propose": the demo town, bare blocks layers, islands (merged or reported), candidates, and the real
//! Shanghai township polygons — all through the real binary.

use crate::{bmu, demo, realdata};
use bmu::crs::Crs;
use bmu::io::{read_layer, write_layer, OutFeature, ReadOptions};
use geo::{Geometry, MultiPolygon, Rect};
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Features of a GeoJSON layer: (geometry, properties).
fn features(path: &Path) -> Vec<(Geometry<f64>, Map<String, Value>)> {
    read_layer(path, &ReadOptions::default())
        .unwrap()
        .features
        .into_iter()
        .map(|f| (f.geometry.unwrap(), f.properties))
        .collect()
}

fn parts(g: &Geometry<f64>) -> usize {
    match g {
        Geometry::Polygon(_) => 1,
        Geometry::MultiPolygon(mp) => mp.0.len(),
        other => panic!("unit is {other:?}"),
    }
}

/// One `bmu propose` run on the demo town, shared by the tests that read its outputs.
struct DemoRun {
    _dir: tempfile::TempDir,
    out: PathBuf,
    output: Output,
}

fn demo_run() -> &'static DemoRun {
    static RUN: OnceLock<DemoRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let units = out.join("units.geojson");
        let output = bmu(
            &[
                "propose",
                demo().to_str().unwrap(),
                "--out",
                units.to_str().unwrap(),
                "--candidates",
                "2",
            ],
            dir.path(),
        );
        let err = stderr(&output);
        assert!(matches!(output.status.code(), Some(0 | 1)), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        DemoRun {
            _dir: dir,
            out,
            output,
        }
    })
}

#[test]
fn demo_units_are_contiguous_above_both_bounds_and_hold_every_block_once() {
    let run = demo_run();
    let units = features(&run.out.join("units.geojson"));
    let blocks = features(&run.out.join("blocks.geojson"));
    assert!(units.len() >= 2, "{}", stderr(&run.output));
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (geometry, p) in &units {
        let id = p["unit_id"].as_str().unwrap().to_string();
        assert_eq!(parts(geometry), 1, "unit {id} is not one part");
        assert!(p["population"].as_f64().unwrap() >= 20_000.0, "unit {id}: {p:?}");
        assert!(p["area_km2"].as_f64().unwrap() >= 2.0, "unit {id}: {p:?}");
        for b in p["blocks"].as_array().unwrap() {
            let previous = owner.insert(b.as_str().unwrap().to_string(), id.clone());
            assert!(previous.is_none(), "block {b} in two units");
        }
    }
    // blocks.geojson agrees with the units' member lists, and every block is in at most one unit.
    let mut seen = BTreeSet::new();
    let mut block_total = 0.0;
    let mut assigned_total = 0.0;
    for (_, p) in &blocks {
        let id = p["block_id"].as_str().unwrap().to_string();
        assert!(seen.insert(id.clone()), "block {id} written twice");
        let population = p["population"].as_f64().unwrap();
        block_total += population;
        match p["unit_id"].as_str() {
            Some(u) => {
                assert_eq!(owner.get(&id).map(String::as_str), Some(u), "block {id}");
                assigned_total += population;
            }
            None => assert!(!owner.contains_key(&id), "block {id}"),
        }
    }
    assert_eq!(
        seen.len(),
        owner.len() + count_unassigned(&run.out.join("report.json"))
    );
    // Population is conserved: the units hold exactly their blocks' people (outputs rounded to 0.1).
    let unit_total: f64 = units.iter().map(|(_, p)| p["population"].as_f64().unwrap()).sum();
    assert!((unit_total - assigned_total).abs() < 0.1 * units.len() as f64 + 1e-6);
    let report = read_json(&run.out.join("report.json"));
    let total: f64 = report["proposal"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["population"].as_f64().unwrap())
        .sum();
    assert!((total - block_total).abs() < 1.0, "{total} vs {block_total}");
}

fn count_unassigned(report: &Path) -> usize {
    read_json(report)["unassigned_blocks"].as_array().unwrap().len()
}

#[test]
fn demo_report_has_the_validate_schema_plus_proposal_and_candidates() {
    let run = demo_run();
    let report = read_json(&run.out.join("report.json"));
    for key in [
        "summary",
        "units",
        "thresholds",
        "proposal",
        "unassigned_blocks",
        "candidates",
    ] {
        assert!(report.get(key).is_some(), "report lacks `{key}`");
    }
    for key in ["units", "passing", "problems"] {
        assert!(report["summary"].get(key).is_some(), "summary lacks `{key}`");
    }
    let unit = &report["units"][0];
    for key in ["unit_id", "population", "area_km2", "pass", "checks"] {
        assert!(unit.get(key).is_some(), "unit lacks `{key}`");
    }
    assert!(unit["checks"]["min_population"]["pass"].as_bool().unwrap());
    let proposal = &report["proposal"];
    for key in [
        "blocks",
        "candidates",
        "components",
        "unassigned_blocks",
        "greedy_baseline_p",
    ] {
        assert!(proposal.get(key).is_some(), "proposal lacks `{key}`");
    }
    // The best candidate is the main output; p never falls below the single-start greedy baseline.
    let candidates = report["candidates"].as_array().unwrap();
    assert!(!candidates.is_empty());
    let p = candidates[0]["p"].as_u64().unwrap();
    assert_eq!(p as usize, report["units"].as_array().unwrap().len());
    assert!(p >= proposal["greedy_baseline_p"].as_u64().unwrap());
    assert_eq!(candidates[0]["units"], json!("units.geojson"));
    assert_eq!(
        candidates[0]["passing"], report["summary"]["passing"],
        "candidate 1 is the validated main output"
    );
}

#[test]
fn demo_candidates_are_distinct_ranked_and_each_validated() {
    let run = demo_run();
    let report = read_json(&run.out.join("report.json"));
    let candidates = report["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "two candidates asked for");
    let (a, b) = (&candidates[0], &candidates[1]);
    assert_eq!(b["rank"], json!(2));
    let key = |c: &Value| {
        (
            std::cmp::Reverse(c["p"].as_u64().unwrap()),
            c["score"]["compactness"].as_f64().unwrap(),
        )
    };
    assert!(key(a) <= key(b), "ranked: {a} before {b}");
    let second = run.out.join(b["units"].as_str().unwrap());
    assert_eq!(second.file_name().unwrap(), "units.cand2.geojson");
    let units = features(&second);
    assert_eq!(units.len() as u64, b["p"].as_u64().unwrap());
    // Validated like the main output: every check's columns, and `pass` counts as `passing`.
    let passing = units.iter().filter(|(_, p)| p["pass"] == json!(true)).count();
    assert_eq!(passing as u64, b["passing"].as_u64().unwrap());
    assert!(units[0].1.contains_key("min_population_pass"));
    // Distinct partitions: some block changes unit.
    let members = |f: &[(Geometry<f64>, Map<String, Value>)]| -> BTreeSet<Vec<String>> {
        f.iter()
            .map(|(_, p)| {
                let mut m: Vec<String> = p["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                m.sort();
                m
            })
            .collect()
    };
    assert_ne!(
        members(&features(&run.out.join("units.geojson"))),
        members(&units)
    );
}

/// Population bound alone vs population and area together on the demo town: the area bound can only lower p.
#[test]
fn demo_two_bounds_never_beat_the_population_bound_alone() {
    let run = demo_run();
    let both = read_json(&run.out.join("report.json"))["candidates"][0]["p"]
        .as_u64()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.geojson");
    let out = bmu(
        &[
            "propose",
            demo().to_str().unwrap(),
            "--min-area-km2",
            "0",
            "--out",
            units.to_str().unwrap(),
            "--quiet",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let population_only = read_json(&dir.path().join("report.json"))["candidates"][0]["p"]
        .as_u64()
        .unwrap();
    eprintln!("demo town: p = {both} with both bounds, {population_only} with the population bound alone");
    assert!(both <= population_only);
}

/// A `cols × rows` lattice of 0.005° cells near Shanghai with seeded counts in `POP`, plus `island` extra cells
/// 0.05° east of it (not adjacent), each with `island_pop`.
fn lattice_blocks(path: &Path, cols: usize, rows: usize, island: usize, island_pop: f64) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let (x0, y0, d) = (121.30, 31.20, 0.005);
    let cell = |x: f64, y: f64| MultiPolygon(vec![Rect::new((x, y), (x + d, y + d)).to_polygon()]);
    let mut out = Vec::new();
    let mut total = 0.0;
    for r in 0..rows {
        for c in 0..cols {
            let pop = f64::from(rng.random_range(1_000u32..=4_000));
            total += pop;
            out.push((
                cell(x0 + c as f64 * d, y0 + r as f64 * d),
                json!({"id": format!("L{r:02}{c:02}"), "POP": pop}),
            ));
        }
    }
    for i in 0..island {
        total += island_pop;
        out.push((
            cell(x0 + cols as f64 * d + 0.05 + i as f64 * d, y0),
            json!({"id": format!("I{i}"), "POP": island_pop}),
        ));
    }
    let features: Vec<OutFeature> = out
        .into_iter()
        .map(|(g, p)| OutFeature {
            geometry: Some(Geometry::MultiPolygon(g)),
            properties: p.as_object().unwrap().clone(),
        })
        .collect();
    write_layer(path, &Crs::wgs84(), &features, &[]).unwrap();
    total
}

/// `bmu propose --blocks B --id-field id --population-field POP --min-population 20000 --min-area-km2 0`, plus
/// `extra` flags, in `dir`.
fn propose_bare(dir: &Path, blocks: &Path, extra: &[&str]) -> Output {
    let units = dir.join("U.geojson");
    let report = dir.join("R.json");
    let mut args = vec![
        "propose",
        "--blocks",
        blocks.to_str().unwrap(),
        "--id-field",
        "id",
        "--population-field",
        "POP",
        "--min-population",
        "20000",
        "--min-area-km2",
        "0",
        "--out",
        units.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bmu(&args, dir)
}

#[test]
fn bare_blocks_mode_needs_no_town() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("B.geojson");
    let total = lattice_blocks(&blocks, 10, 10, 0, 0.0);
    let out = propose_bare(dir.path(), &blocks, &[]);
    let err = stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    let report = read_json(&dir.path().join("R.json"));
    let units = features(&dir.path().join("U.geojson"));
    let p = units.len();
    assert!(
        p >= 5 && (p as f64) <= total / 20_000.0,
        "p = {p}, total {total}: {err}"
    );
    let mut sum = 0.0;
    for (g, props) in &units {
        assert_eq!(parts(g), 1);
        sum += props["population"].as_f64().unwrap();
        assert!(props["population"].as_f64().unwrap() >= 20_000.0);
        // The town is the union of the blocks: the units tile it, so the partition check passes.
        assert_eq!(props["partition_pass"], json!(true), "{props:?}");
    }
    assert!((sum - total).abs() < 1.0, "{sum} vs {total}");
    assert_eq!(report["unassigned_blocks"], json!([]));
    assert_eq!(report["proposal"]["blocks"]["derived"], json!(false));
    // Next to --out: the blocks layer with each block's unit.
    assert!(dir.path().join("blocks.geojson").is_file());
}

#[test]
fn an_island_that_cannot_reach_the_bounds_is_reported_unassigned_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("B.geojson");
    lattice_blocks(&blocks, 6, 6, 2, 500.0);
    let out = propose_bare(dir.path(), &blocks, &[]);
    let err = stderr(&out);
    // Unassigned blocks make the run "found problems", not an error.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot form a unit"), "{err}");
    let report = read_json(&dir.path().join("R.json"));
    let unassigned = report["unassigned_blocks"].as_array().unwrap();
    let ids: BTreeSet<&str> = unassigned
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["I0", "I1"]));
    assert!(unassigned[0]["reason"]
        .as_str()
        .unwrap()
        .contains("population 1000 is below the minimum 20000"));
    let components = report["proposal"]["components"].as_array().unwrap();
    assert_eq!(components.len(), 2);
    assert!(components
        .iter()
        .any(|c| c["feasible"] == json!(false) && c["merged_into"].is_null()));
}

#[test]
fn merge_infeasible_puts_an_island_into_the_nearest_unit() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("B.geojson");
    let total = lattice_blocks(&blocks, 6, 6, 2, 500.0);
    let config = dir.path().join("merge.toml");
    std::fs::write(&config, "[propose]\nmerge_infeasible = true\n").unwrap();
    let out = propose_bare(dir.path(), &blocks, &["--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(err.contains("merged into"), "{err}");
    let report = read_json(&dir.path().join("R.json"));
    assert_eq!(report["unassigned_blocks"], json!([]));
    let component = report["proposal"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["feasible"] == json!(false))
        .unwrap()
        .clone();
    let merged_into = component["merged_into"].as_str().unwrap();
    assert!(component["reason"]
        .as_str()
        .unwrap()
        .contains("below the minimum"));
    // The unit holds the island's blocks, so it is in two parts; population is still conserved.
    let units = features(&dir.path().join("U.geojson"));
    let (geometry, props) = units
        .iter()
        .find(|(_, p)| p["unit_id"] == json!(merged_into))
        .unwrap();
    let members: Vec<&str> = props["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(members.contains(&"I0") && members.contains(&"I1"), "{members:?}");
    assert_eq!(parts(geometry), 2);
    // It is the unit nearest the island: the island lies east of the lattice, so the unit reaches the east edge.
    assert!(members.iter().any(|m| m.ends_with("05")), "{members:?}");
    let sum: f64 = units.iter().map(|(_, p)| p["population"].as_f64().unwrap()).sum();
    assert!((sum - total).abs() < 1.0);
}

/// The 251 township polygons of Shanghai (real data) with synthetic counts: Chongming, Changxing and Hengsha are
/// islands, so the adjacency graph has several components, each solved (or reported) on its own.
#[test]
fn shanghai_townships_with_islands_finish_and_report_every_component() {
    let Some(real) = realdata() else { return };
    let source = real.join("stockard-shanghai-covid-2022/shanghai_street_labeled.geojson");
    let mut collection = read_json(&source);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2022);
    for f in collection["features"].as_array_mut().unwrap() {
        let p = f["properties"].as_object_mut().unwrap();
        let area = p["area_km2"].as_f64().unwrap();
        // About 3,000 people per km², ±50 %, seeded.
        let count = (area * 3_000.0 * rng.random_range(0.5..1.5)).round();
        let rec = p["rec"].clone();
        *p = json!({"id": rec, "POP": count}).as_object().unwrap().clone();
    }
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("shanghai.geojson");
    std::fs::write(&blocks, serde_json::to_string(&collection).unwrap()).unwrap();
    let started = std::time::Instant::now();
    let out = propose_bare(dir.path(), &blocks, &["--quiet"]);
    let err = stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let report = read_json(&dir.path().join("R.json"));
    let components = report["proposal"]["components"].as_array().unwrap();
    let blocks_in: u64 = components.iter().map(|c| c["blocks"].as_u64().unwrap()).sum();
    assert_eq!(blocks_in, 251, "every township in exactly one component");
    assert!(components.len() > 1, "the islands are components of their own");
    for c in components {
        // Each component is solved or says why not.
        assert!(c["units"].as_u64().unwrap() > 0 || c["reason"].is_string(), "{c}");
    }
    let p = report["candidates"][0]["p"].as_u64().unwrap();
    assert!(p > 10, "p = {p}");
    eprintln!(
        "shanghai townships: {} components, p = {p}, {} unassigned, {:.1} s",
        components.len(),
        report["unassigned_blocks"].as_array().unwrap().len(),
        started.elapsed().as_secs_f64()
    );
}
