//! Issue "Trust on ordinary inputs": right answers for any ring orientation, edits made in QGIS, exact splits in
//! lon/lat, and one population per polygon whatever the verb. Each test is named after the defect it guards.

use crate::{assert_error, bmu, demo, root};
use bmu::io::{read_layer, ReadOptions};
use geo::{BooleanOps, BoundingRect, Geometry, MultiPolygon, Polygon, Rect};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

/// The demo town in WGS84, as read.
fn demo_town() -> MultiPolygon<f64> {
    let layer = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    match layer.features[0].geometry.clone().unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => panic!("town is {other:?}"),
    }
}

/// GeoJSON coordinates of a ring, reversed when `clockwise` asks for the other winding than geo's (geo keeps what
/// it was given; the demo town is counter-clockwise).
fn ring(r: &geo::LineString<f64>, reverse: bool) -> Value {
    let mut c: Vec<Value> = r.0.iter().map(|c| json!([c.x, c.y])).collect();
    if reverse {
        c.reverse();
    }
    Value::Array(c)
}

fn polygon_json(p: &Polygon<f64>, reverse_exterior: bool, reverse_holes: bool) -> Value {
    let mut rings = vec![ring(p.exterior(), reverse_exterior)];
    rings.extend(p.interiors().iter().map(|h| ring(h, reverse_holes)));
    Value::Array(rings)
}

/// A raw GeoJSON FeatureCollection of multipolygons written byte for byte as given (no writer re-orients them).
fn write_raw(path: &Path, features: Vec<(Value, Value)>) {
    let features: Vec<Value> = features
        .into_iter()
        .map(|(coordinates, properties)| {
            json!({"type": "Feature", "properties": properties,
                   "geometry": {"type": "MultiPolygon", "coordinates": coordinates}})
        })
        .collect();
    std::fs::write(
        path,
        serde_json::to_string(&json!({"type": "FeatureCollection", "features": features})).unwrap(),
    )
    .unwrap();
}

fn multipolygon_json(mp: &MultiPolygon<f64>, reverse: bool) -> Value {
    Value::Array(mp.0.iter().map(|p| polygon_json(p, reverse, reverse)).collect())
}

/// The demo town cut into four units by its bounding box's midlines.
fn demo_quarters() -> Vec<(String, MultiPolygon<f64>)> {
    let town = demo_town();
    let b = town.bounding_rect().unwrap();
    let (x0, y0, x1, y1) = (b.min().x, b.min().y, b.max().x, b.max().y);
    let (xm, ym) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let cell = |a: f64, b: f64, c: f64, d: f64| MultiPolygon(vec![Rect::new((a, b), (c, d)).to_polygon()]);
    [
        ("SW", cell(x0, y0, xm, ym)),
        ("SE", cell(xm, y0, x1, ym)),
        ("NW", cell(x0, ym, xm, y1)),
        ("NE", cell(xm, ym, x1, y1)),
    ]
    .into_iter()
    .map(|(n, q)| (n.to_string(), town.intersection(&q)))
    .collect()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs validate on the demo with `units` (id field `name`), returning the report.
fn validate_demo(dir: &Path, units: &Path, extra: &[&str]) -> Value {
    let rep = dir.join(format!(
        "{}.report.json",
        units.file_stem().unwrap().to_string_lossy()
    ));
    let demo = demo();
    let mut args = vec![
        "validate",
        demo.to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--id-field",
        "name",
        "--report",
        rep.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = bmu(&args, dir);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    report(&rep)
}

fn gaps(report: &Value) -> u64 {
    report["summary"]["problems"]["gap"].as_u64().unwrap_or(0)
}

#[test]
fn clockwise_unit_is_not_reported_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let quarters = demo_quarters();
    let write = |name: &str, reverse: &dyn Fn(usize) -> bool| {
        let path = dir.path().join(name);
        write_raw(
            &path,
            quarters
                .iter()
                .enumerate()
                .map(|(i, (n, g))| (multipolygon_json(g, reverse(i)), json!({ "name": n })))
                .collect(),
        );
        path
    };
    let ccw = write("ccw.geojson", &|_| false);
    // A union or split in QGIS/geopandas leaves a clockwise exterior; shapefiles are clockwise by convention.
    let mixed = write("mixed.geojson", &|i| i % 2 == 0);
    let a = validate_demo(dir.path(), &ccw, &[]);
    let b = validate_demo(dir.path(), &mixed, &[]);
    assert_eq!(gaps(&a), 0, "{}", a["summary"]);
    assert_eq!(gaps(&b), 0, "{}", b["summary"]);
    for (ua, ub) in a["units"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["units"].as_array().unwrap())
    {
        assert_eq!(ua["checks"]["partition"], ub["checks"]["partition"]);
        assert_eq!(ua["population"], ub["population"]);
        assert_eq!(ua["area_km2"], ub["area_km2"]);
    }
}

#[test]
fn a_unit_whose_two_parts_share_an_edge_is_not_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let quarters = demo_quarters();
    // SW and SE written as one unit of two parts that share their edge, the way a careless merge leaves them.
    let mut both = quarters[0].1.clone();
    both.0.extend(quarters[1].1 .0.iter().cloned());
    let units = dir.path().join("two_parts.geojson");
    write_raw(
        &units,
        vec![
            (multipolygon_json(&both, false), json!({"name": "S"})),
            (multipolygon_json(&quarters[2].1, false), json!({"name": "NW"})),
            (multipolygon_json(&quarters[3].1, false), json!({"name": "NE"})),
        ],
    );
    let r = validate_demo(dir.path(), &units, &[]);
    assert_eq!(gaps(&r), 0, "{}", r["summary"]);
    let s = &r["units"][0]["checks"];
    assert_eq!(s["partition"]["pass"], true, "{s}");
    // The parts touch along a line: the geometry check says so.
    assert_eq!(s["geometry"]["pass"], false, "{s}");
}

#[test]
fn propose_with_every_third_block_reversed_gives_the_same_units() {
    let dir = tempfile::tempdir().unwrap();
    let town = demo_town();
    let b = town.bounding_rect().unwrap();
    let (dx, dy) = ((b.max().x - b.min().x) / 8.0, (b.max().y - b.min().y) / 8.0);
    let mut blocks = Vec::new();
    for i in 0..8 {
        for j in 0..8 {
            let (x, y) = (b.min().x + dx * i as f64, b.min().y + dy * j as f64);
            let piece = town.intersection(&MultiPolygon(vec![
                Rect::new((x, y), (x + dx, y + dy)).to_polygon()
            ]));
            if piece.0.is_empty() {
                continue;
            }
            blocks.push((piece, 2000.0 + 37.0 * (i * 8 + j) as f64));
        }
    }
    let run = |name: &str, reverse: &dyn Fn(usize) -> bool| {
        let path = dir.path().join(format!("{name}.geojson"));
        write_raw(
            &path,
            blocks
                .iter()
                .enumerate()
                .map(|(k, (g, pop))| {
                    (
                        multipolygon_json(g, reverse(k)),
                        json!({"id": format!("B{k:02}"), "POP": pop}),
                    )
                })
                .collect(),
        );
        let rep = dir.path().join(format!("{name}.report.json"));
        let out = bmu(
            &[
                "propose",
                "--blocks",
                path.to_str().unwrap(),
                "--id-field",
                "id",
                "--population-field",
                "POP",
                "--min-population",
                "20000",
                "--min-area-km2",
                "2",
                "--out",
                dir.path().join(format!("{name}.units.geojson")).to_str().unwrap(),
                "--report",
                rep.to_str().unwrap(),
                "--quiet",
            ],
            dir.path(),
        );
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        report(&rep)
    };
    let plain = run("plain", &|_| false);
    let reversed = run("reversed", &|k| k % 3 == 0);
    assert!(
        plain["summary"]["units"].as_u64().unwrap() >= 4,
        "{}",
        plain["summary"]
    );
    assert_eq!(plain["summary"], reversed["summary"]);
    assert_eq!(plain["units"], reversed["units"]);
    // Max-p built every unit above both bounds; reversed blocks once made units fall below the area bound.
    for u in reversed["units"].as_array().unwrap() {
        assert_eq!(u["checks"]["min_area"]["pass"], true, "{u}");
        assert_eq!(u["checks"]["min_population"]["pass"], true, "{u}");
    }
}

/// A study area of one town polygon (and nothing else) in `dir`.
fn town_only(dir: &Path, coordinates: Value) {
    write_raw(
        &dir.join("town.geojson"),
        vec![(coordinates, json!({"name": "T"}))],
    );
    std::fs::write(
        dir.join("bmu.toml"),
        "[town]\npath = \"town.geojson\"\nname_field = \"name\"\n",
    )
    .unwrap();
}

fn inspect_json(dir: &Path) -> Value {
    let out = bmu(&["inspect", ".", "--json"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn inspect_of_a_clockwise_town_reports_its_geodesic_area_not_the_earths() {
    let dir = tempfile::tempdir().unwrap();
    town_only(dir.path(), multipolygon_json(&demo_town(), true));
    let j = inspect_json(dir.path());
    let geodesic = j["town"]["geodesic_area_km2"].as_f64().unwrap();
    let planar = j["town"]["area_km2"].as_f64().unwrap();
    assert!((geodesic - 42.37).abs() < 0.01, "geodesic {geodesic} km²");
    assert!((planar - 42.36).abs() < 0.01, "planar {planar} km²");
}

#[test]
fn donut_whose_hole_runs_like_its_shell_keeps_its_hole() {
    let dir = tempfile::tempdir().unwrap();
    // 0.02° square with a 0.01° square hole, both counter-clockwise.
    let sq =
        |x0: f64, y0: f64, s: f64| json!([[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]);
    town_only(
        dir.path(),
        json!([[sq(121.30, 31.20, 0.02), sq(121.305, 31.205, 0.01)]]),
    );
    let j = inspect_json(dir.path());
    let with_hole = j["town"]["area_km2"].as_f64().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    town_only(dir2.path(), json!([[sq(121.30, 31.20, 0.02)]]));
    let without = inspect_json(dir2.path())["town"]["area_km2"].as_f64().unwrap();
    let ratio = with_hole / without;
    assert!(
        (ratio - 0.75).abs() < 1e-3,
        "hole lost: {with_hole} of {without} km²"
    );
}

#[test]
fn exact_split_of_a_square_town_in_lon_lat_has_no_gap_or_spill() {
    let dir = tempfile::tempdir().unwrap();
    // A 0.1° square town (≈ 10 km sides, 4 vertices) split exactly at its middle meridian: long edges projected
    // vertex by vertex bowed away from the units' vertices at the middle (a 329 m² gap and two 164 m² spills).
    let (w, s, e, n, m) = (121.20, 31.15, 121.30, 31.25, 121.25);
    town_only(dir.path(), json!([[[[w, s], [e, s], [e, n], [w, n], [w, s]]]]));
    let units = dir.path().join("halves.geojson");
    write_raw(
        &units,
        vec![
            (
                json!([[[[w, s], [m, s], [m, n], [w, n], [w, s]]]]),
                json!({"name": "W"}),
            ),
            (
                json!([[[[m, s], [e, s], [e, n], [m, n], [m, s]]]]),
                json!({"name": "E"}),
            ),
        ],
    );
    let rep = dir.path().join("r.json");
    let out = bmu(
        &[
            "validate",
            ".",
            "--units",
            "halves.geojson",
            "--id-field",
            "name",
            "--report",
            "r.json",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let r = report(&rep);
    assert_eq!(r["summary"]["problems"], json!({}), "{}", r["summary"]);
    for u in r["units"].as_array().unwrap() {
        assert_eq!(u["checks"]["partition"]["pass"], true, "{u}");
    }
}

/// `population` column of `bmu population`'s CSV, by id.
/// (id, population_exact): the unrounded column, the one other commands must match to 1e-9.
fn population_csv(path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn same_polygon_gets_the_same_population_from_population_validate_and_propose() {
    let dir = tempfile::tempdir().unwrap();
    let quarters = demo_quarters();
    let units = dir.path().join("quarters.geojson");
    write_raw(
        &units,
        quarters
            .iter()
            .map(|(n, g)| (multipolygon_json(g, false), json!({ "name": n })))
            .collect(),
    );
    let grid = demo().join("population.synthetic.tif");
    let csv = dir.path().join("pop.csv");
    let out = bmu(
        &[
            "population",
            "--grid",
            grid.to_str().unwrap(),
            "--polygons",
            units.to_str().unwrap(),
            "--id-field",
            "name",
            "--out",
            csv.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_population = population_csv(&csv);
    assert_eq!(by_population.len(), 4);

    // validate, in the demo's working CRS and in another one: units are measured in their own CRS.
    for working in ["EPSG:32651", "EPSG:4549"] {
        let r = validate_demo(dir.path(), &units, &["--working-crs", working]);
        for (u, (id, p)) in r["units"].as_array().unwrap().iter().zip(&by_population) {
            assert_eq!(u["unit_id"].as_str(), Some(id.as_str()));
            let v = u["population"].as_f64().unwrap();
            assert!(
                (v - p).abs() <= 1e-9 * p,
                "{working} {id}: validate {v} vs population {p}"
            );
        }
    }

    // propose with the same polygons as given blocks, bounds low enough that each block is a unit of its own.
    let rep = dir.path().join("propose.json");
    let out = bmu(
        &[
            "propose",
            "--blocks",
            units.to_str().unwrap(),
            "--id-field",
            "name",
            "--population",
            grid.to_str().unwrap(),
            "--min-population",
            "1",
            "--min-area-km2",
            "0",
            "--out",
            dir.path().join("proposed.geojson").to_str().unwrap(),
            "--report",
            rep.to_str().unwrap(),
            "--quiet",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let r = report(&rep);
    let candidate = &r["proposal"]["candidates"][0];
    let mut seen = 0;
    for u in candidate["units"].as_array().unwrap() {
        let members = u["blocks"].as_array().unwrap();
        if members.len() != 1 {
            continue;
        }
        let id = members[0].as_str().unwrap();
        let p = by_population.iter().find(|(i, _)| i == id).unwrap().1;
        let v = r["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["unit_id"] == u["unit_id"])
            .unwrap()["population"]
            .as_f64()
            .unwrap();
        assert!((v - p).abs() <= 1e-9 * p, "propose {id}: {v} vs population {p}");
        seen += 1;
    }
    assert!(seen >= 2, "{candidate}");
}

#[test]
fn bowtie_block_is_refused_not_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, d) = (121.30, 31.20, 0.01);
    let square = json!([[[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]]);
    // The same four corners in bow-tie order: signed lobes cancel to area 0.
    let bowtie = json!([[[
        [x + d, y],
        [x + 2.0 * d, y + d],
        [x + 2.0 * d, y],
        [x + d, y + d],
        [x + d, y]
    ]]]);
    write_raw(
        &dir.path().join("blocks.geojson"),
        vec![
            (square, json!({"id": "A", "POP": 1000})),
            (bowtie, json!({"id": "B", "POP": 1000})),
        ],
    );
    let args = [
        "propose",
        "--blocks",
        "blocks.geojson",
        "--id-field",
        "id",
        "--population-field",
        "POP",
        "--min-population",
        "1",
        "--min-area-km2",
        "0",
        "--out",
        "u.geojson",
        "--quiet",
    ];
    let out = bmu(&args, dir.path());
    assert_error(
        &out,
        &[
            "blocks.geojson",
            "feature 1",
            "block polygon is invalid",
            "self-intersection",
        ],
    );
    assert!(!dir.path().join("u.geojson").exists());
}

#[test]
fn zero_area_hole_fails_the_geometry_check() {
    let dir = tempfile::tempdir().unwrap();
    let quarters = demo_quarters();
    let mut sw = quarters[0].1.clone();
    // A hole drawn as a there-and-back line inside the unit: no area, yet a ring.
    let c = geo::Centroid::centroid(&sw).unwrap();
    let hole = geo::LineString::from(vec![
        (c.x(), c.y()),
        (c.x() + 0.001, c.y()),
        (c.x() + 0.002, c.y()),
        (c.x(), c.y()),
    ]);
    sw.0[0].interiors_push(hole);
    let units = dir.path().join("hole.geojson");
    let mut features = vec![(multipolygon_json(&sw, false), json!({"name": "SW"}))];
    features.extend(
        quarters[1..]
            .iter()
            .map(|(n, g)| (multipolygon_json(g, false), json!({ "name": n }))),
    );
    write_raw(&units, features);
    let r = validate_demo(dir.path(), &units, &[]);
    let g = &r["units"][0]["checks"]["geometry"];
    assert_eq!(g["pass"], false, "{g}");
    assert!(
        g.to_string().contains("encloses no area") || g.to_string().contains("self-intersection"),
        "{g}"
    );
}

#[test]
fn town_with_100000_vertices_is_checked_in_n_log_n() {
    let dir = tempfile::tempdir().unwrap();
    // A circle of 100,000 vertices around the demo town's centre: geo's all-pairs ring check takes minutes here.
    let n = 100_000;
    let (cx, cy, r) = (121.33, 31.24, 0.03);
    let mut ring: Vec<Value> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            json!([cx + r * a.cos(), cy + r * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    town_only(dir.path(), json!([[ring]]));
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bmu"))
        .args(["inspect", "."])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A hang guard, not a benchmark: minutes would mean the quadratic check is back.
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("inspect of a 100,000-vertex town did not finish in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = root();
}
