//! Issue 6, dirty real data: all 251 township polygons of `shared/realdata` (multi-part towns, slivers, tiny islands,
//! polygons from a source of another vintage than the district outlines) go through `population`, `validate` and
//! `propose` without a crash, with their problems reported.

use crate::{bmu, realdata};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// A coarse synthetic population grid over Shanghai (0.01°, ESRI ASCII, WGS84), seeded: 1,000–5,000 people a cell
/// from a fixed linear congruential sequence, nodata on the first row.
fn write_grid(dir: &Path) -> std::path::PathBuf {
    let (ncols, nrows) = (120, 130);
    let mut s = format!(
        "ncols {ncols}\nnrows {nrows}\nxllcorner 120.8\nyllcorner 30.6\ncellsize 0.01\nNODATA_value -9999\n"
    );
    let mut state: u64 = 20_181_009;
    for r in 0..nrows {
        for c in 0..ncols {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let v = if r == 0 {
                -9999.0
            } else {
                1000.0 + (state >> 33) as f64 % 4000.0
            };
            let _ = write!(s, "{v}{}", if c + 1 == ncols { '\n' } else { ' ' });
        }
    }
    let grid = dir.join("shanghai_pop.synthetic.asc");
    std::fs::write(&grid, s).unwrap();
    std::fs::write(
        dir.join("shanghai_pop.synthetic.prj"),
        bmu::crs::Crs::wgs84().to_wkt().unwrap(),
    )
    .unwrap();
    grid
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn all_251_townships_through_population_validate_and_propose() {
    let Some(data) = realdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let streets = data.join("stockard-shanghai-covid-2022/shanghai_street_labeled.geojson");
    let districts = data.join("dawn-ecnu-example-data/shanghai_boundary.geojson");
    let grid = write_grid(dir.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();

    // population: every polygon gets a row, nothing crashes.
    let csv = dir.path().join("pop.csv");
    let out = bmu(
        &[
            "population",
            "--grid",
            &s(&grid),
            "--polygons",
            &s(&streets),
            "--id-field",
            "rec",
            "--out",
            &s(&csv),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 252, "header + 251 rows");

    // validate: the townships as units of the whole city; slivers, gaps and overlaps reported with areas.
    let report = dir.path().join("report.json");
    let out = bmu(
        &[
            "validate",
            "--town",
            &s(&districts),
            "--units",
            &s(&streets),
            "--id-field",
            "rec",
            "--population",
            &s(&grid),
            "--report",
            &s(&report),
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["summary"]["units"], 251);
    let problems = &r["summary"]["problems"];
    for kind in ["gap", "overlap", "spill"] {
        assert!(problems[kind].as_u64().unwrap_or(0) > 0, "{kind}: {problems}");
    }
    // Tiny islands fail the area bound rather than break anything.
    assert!(r["units"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["checks"]["min_area"]["pass"] == false));

    // propose: the townships as blocks, population from the grid; islands are separate components.
    let preport = dir.path().join("propose.json");
    let out = bmu(
        &[
            "propose",
            "--blocks",
            &s(&streets),
            "--id-field",
            "rec",
            "--population",
            &s(&grid),
            "--out",
            &s(&dir.path().join("units.geojson")),
            "--report",
            &s(&preport),
            "--quiet",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&std::fs::read(&preport).unwrap()).unwrap();
    let components = r["proposal"]["components"].as_array().unwrap();
    assert!(components.len() > 1, "islands are components of their own");
    assert!(r["summary"]["units"].as_u64().unwrap() > 10);
}
