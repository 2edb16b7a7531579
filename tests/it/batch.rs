//! Issue "The district's view": `bmu batch` over the towns of 嘉定区 (real township polygons, `data/jiading/`) with a
//! synthetic population grid and a synthetic road lattice generated here (seeded, written to a temporary folder):
//! the district summary, failing towns, exit codes, determinism, shards and merge, crossings of given units, and
//! the index page in headless Chromium.

use crate::{assert_error, bmu, bmu_threads, chromium, headless, root, skip};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// The grid's lon/lat box, holding every town of 嘉定区.
const BOX: [f64; 4] = [121.05, 31.18, 121.45, 31.52];

/// The SYNTHETIC layers of the tests: a 0.001° population grid (ESRI ASCII, 40–80 residents a cell, ChaCha8 seed
/// 20181009) and a lattice of roads every 0.015° over `BOX`.
struct Layers {
    dir: tempfile::TempDir,
}

impl Layers {
    fn grid(&self) -> String {
        self.dir
            .path()
            .join("population.synthetic.asc")
            .display()
            .to_string()
    }
    fn roads(&self) -> String {
        self.dir
            .path()
            .join("roads.synthetic.geojson")
            .display()
            .to_string()
    }
}

fn layers() -> &'static Layers {
    static L: OnceLock<Layers> = OnceLock::new();
    L.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let [x0, y0, x1, y1] = BOX;
        let cs = 0.001;
        let (nc, nr) = (((x1 - x0) / cs).round() as usize, ((y1 - y0) / cs).round() as usize);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20181009);
        let mut asc =
            format!("ncols {nc}\nnrows {nr}\nxllcorner {x0}\nyllcorner {y0}\ncellsize {cs}\nNODATA_value -9999\n");
        for _ in 0..nr {
            let row: Vec<String> = (0..nc).map(|_| rng.random_range(40..=80).to_string()).collect();
            asc.push_str(&row.join(" "));
            asc.push('\n');
        }
        std::fs::write(dir.path().join("population.synthetic.asc"), asc).unwrap();
        std::fs::write(
            dir.path().join("population.synthetic.prj"),
            r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#,
        )
        .unwrap();
        let mut features = Vec::new();
        let step = 0.015;
        let mut i = 0;
        while x0 + i as f64 * step <= x1 {
            let x = x0 + i as f64 * step;
            features.push(serde_json::json!({"type": "Feature", "properties": {"id": format!("v{i}"), "highway": "secondary", "synthetic": true},
                "geometry": {"type": "LineString", "coordinates": [[x, y0], [x, y1]]}}));
            i += 1;
        }
        let mut j = 0;
        while y0 + j as f64 * step <= y1 {
            let y = y0 + j as f64 * step;
            features.push(serde_json::json!({"type": "Feature", "properties": {"id": format!("h{j}"), "highway": "secondary", "synthetic": true},
                "geometry": {"type": "LineString", "coordinates": [[x0, y], [x1, y]]}}));
            j += 1;
        }
        let fc = serde_json::json!({"type": "FeatureCollection", "features": features});
        std::fs::write(dir.path().join("roads.synthetic.geojson"), fc.to_string()).unwrap();
        Layers { dir }
    })
}

fn towns() -> String {
    root().join("data/jiading/towns.geojson").display().to_string()
}

/// `bmu batch` of `towns_file` with the synthetic layers and `extra` flags, out to `out`.
fn batch(towns_file: &str, out: &Path, extra: &[&str], threads: usize) -> Output {
    let l = layers();
    let (grid, roads) = (l.grid(), l.roads());
    let mut args = vec![
        "batch",
        towns_file,
        "--name-field",
        "town",
        "--population",
        &grid,
        "--features",
        &roads,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    bmu_threads(&args, &root(), threads)
}

/// The five towns the heavier comparisons run on (a shard split of them holds towns in both parts).
const FIVE: [&str; 5] = ["江桥镇", "新成路街道", "嘉定镇街道", "真新街道", "南翔镇"];

fn five() -> Vec<&'static str> {
    let mut v = vec!["--select"];
    v.extend(FIVE);
    v
}

/// One batch of every town of 嘉定区, shared by the tests that read it.
struct Run {
    dir: tempfile::TempDir,
    out: Output,
}

fn district() -> &'static Run {
    static R: OnceLock<Run> = OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = batch(&towns(), &dir.path().join("jiading"), &[], 2);
        Run { dir, out }
    })
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// Every file under `dir`, relative, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "same files"
    );
    for (k, v) in &ta {
        assert!(v == &tb[k], "{} differs", k.display());
    }
}

#[test]
fn district_summary_of_every_jiading_town() {
    let run = district();
    let err = String::from_utf8_lossy(&run.out.stderr);
    // 安亭镇 keeps a 0.8 km² part no unit can reach the bounds in: its blocks stay unassigned, so exit 1.
    assert_eq!(run.out.status.code(), Some(1), "{err}");
    let out = run.dir.path().join("jiading");
    let rows = csv_rows(&out.join("summary.csv"));
    // 13 records, 11 towns: 菊园新区 and 安亭镇 are split over two records each.
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[0]["town"], "江桥镇", "towns in the layer's order");
    let anting = rows.iter().find(|r| r["town"] == "安亭镇").unwrap();
    assert!(anting["unassigned_blocks"].parse::<usize>().unwrap() > 0);
    let mut total_units = 0;
    for r in &rows {
        assert_eq!(r["status"], "run", "{r:?}");
        let units: usize = r["units"].parse().unwrap();
        assert!(units >= 1, "{r:?}");
        total_units += units;
        for col in [
            "population",
            "area_km2",
            "units_passing",
            "failing_min_population",
            "failing_partition",
        ] {
            assert!(!r[col].is_empty(), "{col} empty in {r:?}");
        }
        // Siting was not asked for: the column says so rather than 0.
        assert_eq!(r["proposed_sites"], "not run", "{r:?}");
        assert_eq!(r["units_passing_with_sites"], "", "{r:?}");
        let folder = out.join(r["dossier"].split('/').next().unwrap());
        for f in [
            "units.geojson",
            "blocks.geojson",
            "report.json",
            "dossier.html",
            "town.json",
            "town.geojson",
        ] {
            assert!(folder.join(f).is_file(), "{} missing", folder.join(f).display());
        }
    }
    // Every unit of every town in one layer with its town.
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("units.geojson")).unwrap()).unwrap();
    let features = all["features"].as_array().unwrap();
    assert_eq!(features.len(), total_units);
    assert!(features.iter().all(|f| f["properties"]["town"].is_string()));
    for f in ["summary.xlsx", "units.gpkg", "index.html"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // Nothing of the run's work folder is left.
    let hidden: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

/// The towns layer with two SYNTHETIC towns added: a bowtie (invalid) and a square outside the grid.
fn with_bad_towns(dir: &Path) -> String {
    let mut fc: Value = serde_json::from_str(&std::fs::read_to_string(towns()).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    features.push(serde_json::json!({"type": "Feature", "properties": {"town": "蝴蝶镇", "synthetic": true},
        "geometry": {"type": "Polygon", "coordinates": [[[121.5, 31.0], [121.52, 31.02], [121.52, 31.0], [121.5, 31.02], [121.5, 31.0]]]}}));
    features.push(serde_json::json!({"type": "Feature", "properties": {"town": "无人镇", "synthetic": true},
        "geometry": {"type": "Polygon", "coordinates": [[[121.6, 31.0], [121.63, 31.0], [121.63, 31.03], [121.6, 31.03], [121.6, 31.0]]]}}));
    let p = dir.join("towns_with_bad.geojson");
    std::fs::write(&p, fc.to_string()).unwrap();
    p.display().to_string()
}

#[test]
fn failing_town_is_reported_and_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let file = with_bad_towns(dir.path());
    let out = dir.path().join("out");
    let mut extra = five();
    extra.extend(["蝴蝶镇", "无人镇"]);
    let o = batch(&file, &out, &extra, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"));
    let rows = csv_rows(&out.join("summary.csv"));
    assert_eq!(rows.len(), 7);
    let bowtie = rows.iter().find(|r| r["town"] == "蝴蝶镇").unwrap();
    assert_eq!(bowtie["status"], "failed");
    assert!(bowtie["error"].contains("invalid"), "{bowtie:?}");
    assert!(
        bowtie["error"].contains("feature 13"),
        "names the feature: {bowtie:?}"
    );
    let empty = rows.iter().find(|r| r["town"] == "无人镇").unwrap();
    assert_eq!(empty["status"], "failed");
    assert!(!empty["error"].is_empty());
    assert!(rows.iter().filter(|r| r["status"] == "run").count() == 5);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("class=\"failed\""));
}

/// The outcome keeps totals, not every town's record (a national run's records grew its memory by kilobytes a
/// town): what it prints must still be the towns layer's order and the right counts, from a run and a merge.
#[test]
fn batch_without_held_records_still_lists_failed_towns_in_layer_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = with_bad_towns(dir.path());
    let out = dir.path().join("out");
    let l = layers();
    let (grid, roads) = (l.grid(), l.roads());
    let o = bmu_threads(
        &[
            "batch",
            &file,
            "--name-field",
            "town",
            "--population",
            &grid,
            "--features",
            &roads,
            "--out",
            out.to_str().unwrap(),
            "--select",
            "无人镇",
            "真新街道",
            "蝴蝶镇",
        ],
        &root(),
        2,
    );
    let merged = dir.path().join("merged");
    let m = bmu(
        &[
            "batch",
            "merge",
            out.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &root(),
    );
    for o in [&o, &m] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let failed: Vec<&str> = err.lines().filter(|l| l.starts_with("bmu: town ")).collect();
        assert_eq!(failed.len(), 2, "{err}");
        assert!(failed[0].starts_with("bmu: town 蝴蝶镇 failed: "), "{err}");
        assert!(failed[1].starts_with("bmu: town 无人镇 failed: "), "{err}");
        assert!(err.contains("bmu: 3 towns, 2 failed; "), "{err}");
    }
    assert_same_tree(&out, &merged);
}

#[test]
fn no_town_could_be_run_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = with_bad_towns(dir.path());
    let out = dir.path().join("out");
    let o = batch(&file, &out, &["--select", "蝴蝶镇"], 2);
    assert_error(&o, &["no town could be run", "invalid"]);
    assert!(!out.exists(), "a failed run leaves no output folder behind");
}

#[test]
fn unknown_select_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = batch(&towns(), &dir.path().join("out"), &["--select", "不存在镇"], 2);
    assert_error(&o, &["towns.geojson", "no town matches --select", "不存在镇"]);
}

#[test]
fn shard_outside_one_to_n_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = batch(&towns(), &dir.path().join("out"), &["--shard", "3/2"], 2);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("K/N"));
}

#[test]
fn batch_is_byte_identical_at_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("t1"), dir.path().join("t2"));
    let o1 = batch(&towns(), &a, &five(), 1);
    let o2 = batch(&towns(), &b, &five(), 2);
    assert_eq!(o1.status.code(), o2.status.code());
    assert_same_tree(&a, &b);
    // --jobs gives the same bytes too.
    let c = dir.path().join("j1");
    let mut extra = five();
    extra.extend(["--jobs", "1"]);
    batch(&towns(), &c, &extra, 2);
    assert_same_tree(&a, &c);
}

#[test]
fn shards_and_merge_equal_the_single_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single");
    batch(&towns(), &single, &five(), 2);
    let mut parts = Vec::new();
    for k in ["1/2", "2/2"] {
        let p = dir.path().join(format!("shard{}", &k[..1]));
        let mut extra = five();
        extra.extend(["--shard", k]);
        let o = batch(&towns(), &p, &extra, 2);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        parts.push(p);
    }
    // Each shard holds towns; together all five, once.
    let counts: Vec<usize> = parts
        .iter()
        .map(|p| csv_rows(&p.join("summary.csv")).len())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 5, "{counts:?}");
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    let merged = dir.path().join("merged");
    let o = bmu(
        &[
            "batch",
            "merge",
            parts[0].to_str().unwrap(),
            parts[1].to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
            "-q",
        ],
        &root(),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_same_tree(&single, &merged);
    // The same shard twice is an overlap, refused.
    let o = bmu(
        &[
            "batch",
            "merge",
            parts[0].to_str().unwrap(),
            parts[0].to_str().unwrap(),
            "--out",
            dir.path().join("m2").to_str().unwrap(),
        ],
        &root(),
    );
    assert_error(&o, &["shards overlap"]);
}

#[test]
fn given_unit_crossing_its_town_boundary_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // The units: 真新街道 and 江桥镇 as one unit each, except that 真新街道's unit is a box reaching into 江桥镇.
    let fc: Value = serde_json::from_str(&std::fs::read_to_string(towns()).unwrap()).unwrap();
    let mut units = Vec::new();
    for f in fc["features"].as_array().unwrap() {
        let name = f["properties"]["town"].as_str().unwrap();
        if name == "江桥镇" {
            units.push(serde_json::json!({"type": "Feature", "properties": {"uid": "U-江桥"}, "geometry": f["geometry"]}));
        }
        if name == "真新街道" {
            // The bounding box of 真新街道 widened 0.01° west, into 江桥镇 (SYNTHETIC unit).
            let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
            let xs: Vec<f64> = ring.iter().map(|c| c[0].as_f64().unwrap()).collect();
            let ys: Vec<f64> = ring.iter().map(|c| c[1].as_f64().unwrap()).collect();
            let (x0, x1) = (
                xs.iter().cloned().fold(f64::MAX, f64::min) - 0.01,
                xs.iter().cloned().fold(f64::MIN, f64::max),
            );
            let (y0, y1) = (
                ys.iter().cloned().fold(f64::MAX, f64::min),
                ys.iter().cloned().fold(f64::MIN, f64::max),
            );
            units.push(serde_json::json!({"type": "Feature", "properties": {"uid": "U-真新", "synthetic": true},
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}));
        }
    }
    let units_path = dir.path().join("units.geojson");
    std::fs::write(
        &units_path,
        serde_json::json!({"type": "FeatureCollection", "features": units}).to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = batch(
        &towns(),
        &out,
        &[
            "--units",
            units_path.to_str().unwrap(),
            "--id-field",
            "uid",
            "--select",
            "江桥镇",
            "真新街道",
        ],
        2,
    );
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = csv_rows(&out.join("summary.csv"));
    let zhenxin = rows.iter().find(|r| r["town"] == "真新街道").unwrap();
    assert!(zhenxin["crossing_units"].contains("U-真新"), "{zhenxin:?}");
    assert!(zhenxin["crossing_units"].contains("江桥镇"), "{zhenxin:?}");
    assert_eq!(zhenxin["units"], "1");
    // The spill is the partition check's failure too.
    assert_eq!(zhenxin["failing_partition"], "1", "{zhenxin:?}");
    let jiangqiao = rows.iter().find(|r| r["town"] == "江桥镇").unwrap();
    assert_eq!(jiangqiao["crossing_units"], "");
}

#[test]
fn input_inside_a_town_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("江桥镇")).unwrap();
    let copy = out.join("江桥镇/towns.geojson");
    std::fs::copy(towns(), &copy).unwrap();
    let o = batch(copy.to_str().unwrap(), &out, &["--select", "江桥镇"], 2);
    assert_error(&o, &["is an input of this run"]);
    assert!(copy.is_file(), "the input is still there");
}

#[test]
fn district_index_loads_in_chromium_with_every_dossier_linked() {
    let run = district();
    let out = run.dir.path().join("jiading");
    let index = out.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("https://"),
        "self-contained"
    );
    let Some(browser) = chromium() else {
        skip("chromium not installed; the district index was not loaded in a browser");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let o = headless(browser, profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", index.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8(o.stdout).unwrap();
    assert_eq!(dom.matches("<tr data-town=").count(), 11, "one row per town");
    assert!(dom.contains("<svg id=\"map\""), "the map is in the page");
    // Every town's dossier is linked, from the table and the map, and every link resolves to a dossier.
    let links: Vec<&str> = dom
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let rows = csv_rows(&out.join("summary.csv"));
    for r in &rows {
        let link = &r["dossier"];
        assert_eq!(
            links.iter().filter(|l| *l == link).count(),
            2,
            "{link} in table and map"
        );
    }
    for l in &links {
        let page = std::fs::read_to_string(out.join(l)).unwrap_or_else(|_| panic!("{l} does not resolve"));
        assert!(page.starts_with("<!DOCTYPE html>"), "{l}");
    }
}

/// Two towns of 嘉定区 that the synthetic layers leave short of facilities (the layers have none at all).
const SITED: [&str; 2] = ["真新街道", "新成路街道"];

#[test]
fn batch_site_proposes_sites_in_every_town_and_counts_them_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sited");
    let mut extra = vec!["--propose", "--site", "--select"];
    extra.extend(SITED);
    let o = batch(&towns(), &out, &extra, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    let rows = csv_rows(&out.join("summary.csv"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["status"], "run", "{r:?}");
        let folder = out.join(r["dossier"].split('/').next().unwrap());
        // The same plan `bmu propose --site` writes, in the town's folder.
        let sites: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("sites.geojson")).unwrap()).unwrap();
        let n = sites["features"].as_array().unwrap().len();
        assert_eq!(r["proposed_sites"], n.to_string(), "{r:?}");
        assert!(n > 0, "a town with no facilities at all needs some: {r:?}");
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("site.json")).unwrap()).unwrap();
        assert_eq!(
            r["units_passing_with_sites"],
            report["passing_after"].to_string(),
            "{r:?}"
        );
        let (before, after): (usize, usize) = (
            r["units_passing"].parse().unwrap(),
            r["units_passing_with_sites"].parse().unwrap(),
        );
        assert!(after >= before, "{r:?}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("拟新增设施") && !html.contains("未运行"),
        "sited towns show counts"
    );
}

#[test]
fn batch_site_without_population_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let roads = layers().roads();
    let o = bmu(
        &[
            "batch",
            &towns(),
            "--name-field",
            "town",
            "--features",
            &roads,
            "--select",
            SITED[0],
            "--site",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    assert_error(&o, &["--site needs a population source"]);
    assert!(!out.exists());
}

#[test]
fn batch_table_in_bmu_toml_runs_the_same_as_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags");
    let mut extra = vec!["--jobs", "1", "--lang", "en", "--select"];
    extra.extend(SITED);
    let o = batch(&towns(), &flags, &extra, 2);
    assert!(matches!(o.status.code(), Some(0 | 1)));
    // The same run from one file: the layers in their own tables, the rest in [batch] (paths relative to it).
    let l = layers();
    let toml = format!(
        "[population]\ngrid = {:?}\n\n[[features]]\npath = {:?}\n\n[batch]\ntowns = {:?}\nname_field = \"town\"\n\
         select = [\"{}\", \"{}\"]\npropose = true\nout = \"from-file\"\njobs = 1\nlang = \"en\"\n",
        l.grid(),
        l.roads(),
        towns(),
        SITED[0],
        SITED[1],
    );
    let file = dir.path().join("district.toml");
    std::fs::write(&file, toml).unwrap();
    let o2 = bmu(&["batch", "--config", file.to_str().unwrap(), "-q"], &root());
    assert_eq!(
        o.status.code(),
        o2.status.code(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    assert_same_tree(&flags, &dir.path().join("from-file"));
    // A flag overrides the file.
    let o3 = bmu(
        &[
            "batch",
            "--config",
            file.to_str().unwrap(),
            "--select",
            SITED[0],
            "--out",
            dir.path().join("one").to_str().unwrap(),
            "-q",
        ],
        &root(),
    );
    assert!(matches!(o3.status.code(), Some(0 | 1)));
    assert_eq!(csv_rows(&dir.path().join("one/summary.csv")).len(), 1);
}

#[test]
fn batch_table_with_a_bad_shard_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("district.toml");
    std::fs::write(
        &file,
        format!("[batch]\ntowns = {:?}\nshard = \"3/2\"\n", towns()),
    )
    .unwrap();
    let o = bmu(&["batch", "--config", file.to_str().unwrap()], &root());
    assert_error(&o, &["district.toml", "[batch] shard", "K/N"]);
}
