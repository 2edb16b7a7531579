//! The demo's figures the README quotes, pinned: 江桥镇 of 42.4 km² and 170,462 synthetic residents, 90 blocks
//! derived from its roads and canals, p = 8 units of 20,000–23,300 people and 2.1–16.0 km² (the single-start greedy
//! construction finds 7), p = 8 with the population bound alone, 5 units with `--require-facilities`, exit 1.
//! A change that moves any of them must change the README with it.

use crate::{bmu, demo};
use serde_json::Value;
use std::path::Path;

/// `bmu propose` on the demo with `extra` flags; its exit code and report.
fn propose(dir: &Path, name: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let units = dir.join(name).join("units.geojson");
    let demo = demo();
    let mut args = vec![
        "propose",
        demo.to_str().unwrap(),
        "--out",
        units.to_str().unwrap(),
        "--quiet",
    ];
    args.extend(extra);
    let out = bmu(&args, dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let report = std::fs::read_to_string(units.with_file_name("report.json")).unwrap();
    (out.status.code(), serde_json::from_str(&report).unwrap())
}

fn units(report: &Value) -> &Vec<Value> {
    report["units"].as_array().unwrap()
}

fn range(report: &Value, field: &str) -> (f64, f64) {
    let values: Vec<f64> = units(report).iter().map(|u| u[field].as_f64().unwrap()).collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

#[test]
fn demo_figures_quoted_in_the_readme_hold() {
    let dir = tempfile::tempdir().unwrap();

    let inspect = bmu(&["inspect", demo().to_str().unwrap(), "--json"], dir.path());
    assert_eq!(inspect.status.code(), Some(0));
    let summary: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let town_km2 = summary["town"]["area_km2"].as_f64().unwrap();
    assert_eq!(format!("{town_km2:.1}"), "42.4", "town area");

    let (code, report) = propose(dir.path(), "both", &[]);
    assert_eq!(
        code,
        Some(1),
        "the demo exits 1: no unit has every service within 1 km"
    );
    let blocks = &report["proposal"]["blocks"];
    assert_eq!(blocks["count"], 90, "blocks");
    assert_eq!(blocks["derived"], true);
    assert_eq!(report["candidates"][0]["p"], 8, "p with both bounds");
    assert_eq!(units(&report).len(), 8);
    assert_eq!(
        report["proposal"]["greedy_baseline_p"], 7,
        "single-start greedy p"
    );
    let total: f64 = units(&report)
        .iter()
        .map(|u| u["population"].as_f64().unwrap())
        .sum();
    assert_eq!(
        format!("{total:.0}"),
        "170462",
        "the synthetic population, every block assigned"
    );
    let (low, high) = range(&report, "population");
    assert!(low >= 20_000.0, "people per unit from {low:.0}");
    assert_eq!(
        (high / 100.0).round() * 100.0,
        23_300.0,
        "largest unit ≈ 23,300: {high:.0}"
    );
    let (low, high) = range(&report, "area_km2");
    assert_eq!(
        (format!("{low:.1}"), format!("{high:.1}")),
        ("2.1".into(), "16.0".into()),
        "km² per unit"
    );
    let coverage_fails = units(&report)
        .iter()
        .filter(|u| u["checks"]["service_coverage"]["pass"] == false)
        .count();
    assert_eq!(coverage_fails, 8, "every unit fails service coverage");
    let facility_fails = units(&report)
        .iter()
        .filter(|u| u["checks"]["facilities"]["pass"] == false)
        .count();
    assert_eq!(facility_fails, 6, "six units also lack a \"3+3\" facility");

    let (_, population_only) = propose(dir.path(), "population-only", &["--min-area-km2", "0"]);
    assert_eq!(
        population_only["candidates"][0]["p"], 8,
        "p with the population bound alone"
    );

    let (_, facilities) = propose(dir.path(), "facilities", &["--require-facilities"]);
    assert_eq!(
        units(&facilities).len(),
        5,
        "units that each hold all six \"3+3\" types"
    );
    assert!(
        units(&facilities)
            .iter()
            .all(|u| u["checks"]["facilities"]["pass"] == true),
        "every unit holds every required type"
    );
}
