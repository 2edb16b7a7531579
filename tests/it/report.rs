//! Issue "Reports planners hand in and analysts map": the HTML dossier rendered in a real browser, the map as SVG
//! and PNG, progress and the terminal summary, and propose's outputs as Shapefiles with Chinese attributes.

use crate::{assert_error, bmu, chromium, demo, headless, skip};
use bmu::io::{read_layer, write_layer, OutFeature, ReadOptions};
use geo::{BooleanOps, BoundingRect, Geometry, MultiPolygon, Rect};
use resvg::tiny_skia::Pixmap;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// One `bmu propose` of the demo with every report output, shared by the tests that read them.
struct Demo {
    dir: tempfile::TempDir,
    stderr: String,
    code: Option<i32>,
}

fn demo_run() -> &'static Demo {
    static RUN: OnceLock<Demo> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let demo = demo();
        let out = bmu(
            &[
                "propose",
                demo.to_str().unwrap(),
                "--out",
                "out/units.geojson",
                "--candidates",
                "3",
                "--report-html",
                "out.html",
                "--map",
                "map.png",
            ],
            dir.path(),
        );
        Demo {
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
            dir,
        }
    })
}

fn unit_ids(report: &Path) -> Vec<String> {
    let r: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    r["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit_id"].as_str().unwrap().to_string())
        .collect()
}

fn run_ok(mut c: Command) -> Output {
    let out = c.output().expect("browser runs");
    assert!(
        out.status.success(),
        "browser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Share of non-white pixels and the number of distinct colours of a PNG.
fn ink(png: &[u8]) -> (f64, usize) {
    let image = Pixmap::decode_png(png).expect("a PNG");
    let pixels = image.pixels();
    let non_white = pixels
        .iter()
        .filter(|p| p.red() < 245 || p.green() < 245 || p.blue() < 245)
        .count();
    let colours: BTreeSet<(u8, u8, u8)> = pixels.iter().map(|p| (p.red(), p.green(), p.blue())).collect();
    (non_white as f64 / pixels.len() as f64, colours.len())
}

#[test]
fn dossier_renders_in_chromium_with_one_row_per_unit() {
    let run = demo_run();
    assert!(matches!(run.code, Some(0 | 1)), "propose failed: {}", run.stderr);
    let html_path = run.dir.path().join("out.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let ids = unit_ids(&run.dir.path().join("out/report.json"));
    assert!(!ids.is_empty());

    // Self-contained: no script, no external resource.
    assert!(!html.contains("<script"), "a script in the dossier");
    for external in ["http://", "https://", "<link", "@import", "url(http"] {
        let outside_namespace = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside_namespace.contains(external),
            "external reference `{external}`"
        );
    }

    let Some(browser) = chromium() else {
        skip("chromium not installed; the dossier was not rendered in a browser");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html_path.display());
    let shot = run.dir.path().join("shot.png");
    let mut c = headless(browser, profile.path());
    c.arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2000")
        .arg(&url);
    run_ok(c);
    let (share, colours) = ink(&std::fs::read(&shot).unwrap());
    assert!(
        share > 0.05,
        "the screenshot is nearly blank: {share:.3} non-white"
    );
    assert!(colours > 50, "the screenshot has only {colours} colours");

    let mut c = headless(browser, profile.path());
    c.arg("--dump-dom").arg(&url);
    let dom = String::from_utf8(run_ok(c).stdout).unwrap();
    let rows = dom.matches("<tr data-unit=\"").count();
    assert_eq!(rows, ids.len(), "one table row per unit");
    for id in &ids {
        assert!(
            dom.contains(&format!("data-unit=\"{id}\"")),
            "unit {id} has no row"
        );
        assert!(
            dom.contains(&format!(">{id}</text>")),
            "unit {id} not labelled on the map"
        );
    }
    // Every check column links to its policy clause, and every anchor exists.
    for check in [
        "min_population",
        "min_area",
        "boundary_clarity",
        "barriers",
        "facilities",
    ] {
        assert!(
            dom.contains(&format!("href=\"#rule-{check}\"")),
            "{check} header link"
        );
        assert!(dom.contains(&format!("id=\"rule-{check}\"")), "{check} anchor");
    }
}

#[test]
fn dossier_holds_map_summary_policy_and_candidates() {
    let run = demo_run();
    let html = std::fs::read_to_string(run.dir.path().join("out.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("江桥镇"), "study area in the title");
    for needle in [
        "@page { size: A4",
        "break-inside: avoid",
        "\"Microsoft YaHei\"",
        "\"WenQuanYi Micro Hei\"",
        "id=\"north-arrow\"",
        "id=\"scale-bar\"",
        "id=\"town\"",
        "class=\"feature-arterial\"",
        "id=\"candidates\"",
        "id=\"unassigned\"",
        "基本管理单元一般常住人口在2万人以上",
        "地域面积在2平方公里以上",
        "区域边界清晰可辨",
        "“3+3”",
    ] {
        assert!(html.contains(needle), "`{needle}` missing from the dossier");
    }
    // No date: the same inputs give the same bytes.
    assert!(
        !html.contains("2025") && !html.contains("2026"),
        "a date in the dossier"
    );
}

#[test]
fn map_png_is_rendered_with_content() {
    let run = demo_run();
    let png = std::fs::read(run.dir.path().join("map.png")).unwrap();
    let (share, colours) = ink(&png);
    assert!(share > 0.1, "map.png is nearly blank: {share:.3}");
    assert!(colours > 50, "map.png has {colours} colours");
    // Written atomically: no temporary file left beside it.
    let left: Vec<_> = std::fs::read_dir(run.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn terminal_summary_fits_80_columns_without_spinners() {
    let run = demo_run();
    assert!(run.stderr.contains("units proposed"), "{}", run.stderr);
    for line in run.stderr.lines() {
        assert!(line.chars().count() <= 80, "line wider than 80 columns: {line}");
    }
    // stderr is not a terminal here: no spinner frames.
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains("\u{1b}["),
        "spinner drawn: {:?}",
        run.stderr
    );
}

/// The demo town (WGS84) cut in two by its vertical midline, for a quick validate.
fn halves(dir: &Path, names: [&str; 2]) -> PathBuf {
    let layer = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    let town = match layer.features[0].geometry.clone().unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => panic!("town is {other:?}"),
    };
    let b = town.bounding_rect().unwrap();
    let xm = (b.min().x + b.max().x) / 2.0;
    let cut = |x0: f64, x1: f64| MultiPolygon(vec![Rect::new((x0, b.min().y), (x1, b.max().y)).to_polygon()]);
    let features: Vec<OutFeature> = [(names[0], cut(b.min().x, xm)), (names[1], cut(xm, b.max().x))]
        .into_iter()
        .map(|(name, r)| OutFeature {
            geometry: Some(Geometry::MultiPolygon(town.intersection(&r))),
            properties: [("name".to_string(), json!(name))]
                .into_iter()
                .collect::<Map<_, _>>(),
        })
        .collect();
    let path = dir.join("units.geojson");
    write_layer(&path, &bmu::crs::Crs::wgs84(), &features, &[]).unwrap();
    path
}

#[test]
fn validate_dossier_escapes_ids_is_english_and_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<i>西区</i> & \"1\"";
    let units = halves(dir.path(), [hostile, "东区"]);
    let demo = demo();
    let args = |html: &str, map: &str| -> Vec<String> {
        [
            "validate",
            demo.to_str().unwrap(),
            "--units",
            units.to_str().unwrap(),
            "--id-field",
            "name",
            "--report-html",
            html,
            "--map",
            map,
            "--lang",
            "en",
            "-v",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args("a.html", "a.svg");
    let out = bmu(&a.iter().map(String::as_str).collect::<Vec<_>>(), dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(
        err.contains("bmu: validating units: "),
        "-v prints stage times: {err}"
    );
    let html = std::fs::read_to_string(dir.path().join("a.html")).unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Checks by unit"));
    assert!(!html.contains("<i>西区"), "an id reached the page unescaped");
    assert!(html.contains("&lt;i&gt;西区&lt;/i&gt; &amp; &quot;1&quot;"));
    assert_eq!(html.matches("<tr data-unit=").count(), 2);
    let svg = std::fs::read_to_string(dir.path().join("a.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("&lt;i&gt;西区"));

    let b = args("b.html", "b.svg");
    let out = bmu(&b.iter().map(String::as_str).collect::<Vec<_>>(), dir.path());
    assert!(matches!(out.status.code(), Some(0 | 1)));
    assert_eq!(
        html,
        std::fs::read_to_string(dir.path().join("b.html")).unwrap(),
        "dossier not reproducible"
    );
    assert_eq!(
        svg,
        std::fs::read_to_string(dir.path().join("b.svg")).unwrap(),
        "map not reproducible"
    );
}

#[test]
fn jpg_map_refusal_names_an_existing_units_file() {
    // Otherwise valid (these units validate with --map m.svg), so the refusal is the map format's.
    let dir = tempfile::tempdir().unwrap();
    let units = halves(dir.path(), ["西区", "东区"]);
    let demo = demo();
    let args = |map: &'static str| {
        bmu(
            &[
                "validate",
                demo.to_str().unwrap(),
                "--units",
                units.to_str().unwrap(),
                "--id-field",
                "name",
                "--map",
                map,
            ],
            dir.path(),
        )
    };
    let ok = args("m.svg");
    assert!(
        matches!(ok.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = args("m.jpg");
    assert_error(&out, &["m.jpg", "--map", ".svg, .png or .pdf"]);
    assert!(!dir.path().join("m.jpg").exists());
}

#[test]
fn propose_shapefiles_keep_chinese_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let layer = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    let town = match layer.features[0].geometry.clone().unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => panic!("town is {other:?}"),
    };
    let b = town.bounding_rect().unwrap();
    let (dx, dy) = (b.width() / 5.0, b.height() / 5.0);
    let mut blocks = Vec::new();
    let mut names = BTreeSet::new();
    for i in 0..5 {
        for j in 0..5 {
            let (x, y) = (b.min().x + dx * i as f64, b.min().y + dy * j as f64);
            let piece = town.intersection(&MultiPolygon(vec![
                Rect::new((x, y), (x + dx, y + dy)).to_polygon()
            ]));
            if piece.0.is_empty() {
                continue;
            }
            let name = format!("江桥第{}{}居委会", i + 1, j + 1);
            names.insert(name.clone());
            blocks.push(OutFeature {
                geometry: Some(Geometry::MultiPolygon(piece)),
                properties: [
                    ("名称".to_string(), json!(name)),
                    ("人口".to_string(), json!(6000)),
                ]
                .into_iter()
                .collect(),
            });
        }
    }
    let blocks_path = dir.path().join("居委.geojson");
    write_layer(&blocks_path, &bmu::crs::Crs::wgs84(), &blocks, &[]).unwrap();
    let demo = demo();
    let out = bmu(
        &[
            "propose",
            demo.to_str().unwrap(),
            "--blocks",
            blocks_path.to_str().unwrap(),
            "--id-field",
            "名称",
            "--population-field",
            "人口",
            "--out",
            "out/units.shp",
            "--blocks-out",
            "out/blocks.shp",
            "--problems",
            "out/problems.shp",
            "--quiet",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(err.is_empty(), "--quiet printed: {err}");
    for stem in ["units", "blocks"] {
        for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
            let p = dir.path().join(format!("out/{stem}.{ext}"));
            assert!(p.is_file(), "{} missing", p.display());
        }
        let cpg = std::fs::read_to_string(dir.path().join(format!("out/{stem}.cpg"))).unwrap();
        assert!(cpg.trim().eq_ignore_ascii_case("UTF-8"), "{stem}.cpg says {cpg}");
    }
    let read_blocks = read_layer(&dir.path().join("out/blocks.shp"), &ReadOptions::default()).unwrap();
    assert!(read_blocks.warnings.is_empty(), "{:?}", read_blocks.warnings);
    let back: BTreeSet<String> = read_blocks
        .features
        .iter()
        .filter_map(|f| f.text("block_id"))
        .collect();
    assert_eq!(back, names, "block ids did not survive the Shapefile");
    let units = read_layer(&dir.path().join("out/units.shp"), &ReadOptions::default()).unwrap();
    assert!(!units.features.is_empty());
    let members = units
        .features
        .iter()
        .filter_map(|f| f.text("blocks"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        members.contains("江桥第"),
        "units' block lists lost their Chinese: {members}"
    );
}
