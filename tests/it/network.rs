//! Issue 13: service areas along the walking network (`--distance network`) on the real OSM streets of data/osm.

use crate::{bmu, root};
use serde_json::Value;

#[test]
fn validate_along_the_network_states_the_distance_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let osm = root().join("data/osm");
    let report = dir.path().join("report.json");
    let out = bmu(
        &[
            "validate",
            osm.to_str().unwrap(),
            "--units",
            osm.join("town.synthetic.geojson").to_str().unwrap(),
            "--id-field",
            "town_code",
            "--distance",
            "network",
            "--report",
            report.to_str().unwrap(),
            "-q",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["thresholds"]["service_distance"], "network");
    let srv = &r["units"][0]["checks"]["service_coverage"];
    assert_eq!(srv["detail"]["distance"], "network");
    assert!(
        srv["reasons"][0]
            .as_str()
            .unwrap()
            .contains("along the walking network"),
        "{srv}"
    );
}

#[test]
fn an_unknown_service_distance_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let osm = root().join("data/osm");
    let out = bmu(
        &[
            "validate",
            osm.to_str().unwrap(),
            "--units",
            osm.join("town.synthetic.geojson").to_str().unwrap(),
            "--id-field",
            "town_code",
            "--set",
            "thresholds.service_distance=\"walking\"",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("service_distance") && err.contains("network"),
        "{err}"
    );
}
