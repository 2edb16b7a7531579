//! Issue 14, a dossier a town can submit: the map shows the partition (distinct colours for neighbours, labels that
//! never overlap, feature names), a page per unit with its 四至, a synthetic-data banner, the `[report]` cover, and
//! the whole thing printed on A4 by headless Chromium. Run on the demo and on the OSM example (real streets of
//! 黄浦区, a second town).

use crate::{bmu, chromium, demo, headless, root, skip};
use bmu::io::{read_layer, ReadOptions};
use bmu::report::labels::LabelBox;
use geo::{Geometry, Intersects, MultiPolygon};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

struct Run {
    dir: tempfile::TempDir,
    html: String,
}

fn propose(area: &Path) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = bmu(
        &[
            "propose",
            area.to_str().unwrap(),
            "--out",
            "out/units.geojson",
            "--candidates",
            "3",
            "--report-html",
            "out.html",
        ],
        dir.path(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "propose failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("out.html")).unwrap();
    Run { dir, html }
}

fn demo_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| propose(&demo()))
}

fn osm_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| propose(&root().join("data/osm")))
}

/// The value of `attr="…"` in each tag of `fragment` that has it.
fn attrs<'a>(fragment: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!(" {attr}=\"");
    fragment
        .match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &fragment[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Each `<svg>…</svg>` of the page.
fn svgs(html: &str) -> Vec<&str> {
    html.match_indices("<svg ")
        .filter_map(|(i, _)| html[i..].find("</svg>").map(|end| &html[i..i + end]))
        .collect()
}

fn assert_no_label_overlaps(html: &str) -> usize {
    let mut total = 0;
    for svg in svgs(html) {
        let boxes: Vec<LabelBox> = attrs(svg, "data-box")
            .into_iter()
            .map(|b| LabelBox::parse(b).expect("a data-box"))
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(!a.intersects(b), "labels overlap: {a:?} and {b:?}");
            }
        }
        total += boxes.len();
    }
    total
}

#[test]
fn map_labels_never_overlap_on_the_demo() {
    let run = demo_run();
    let n = assert_no_label_overlaps(&run.html);
    // Eight units on the main map, on each unit's page and on three candidate maps, plus feature names.
    assert!(n > 40, "only {n} labels placed");
    let main = svgs(&run.html)[0];
    assert!(
        main.matches("class=\"unit-label\"").count() >= 8,
        "a unit lost its label"
    );
    // Road and river names from the layers' name field run along them.
    for name in ["曹安公路", "合成河道"] {
        assert!(main.contains(&format!(">{name}")), "{name} not named on the map");
    }
}

#[test]
fn map_labels_never_overlap_on_a_second_town() {
    let run = osm_run();
    let n = assert_no_label_overlaps(&run.html);
    let main = svgs(&run.html)[0];
    assert!(main.contains("class=\"unit-label\""), "no unit label");
    assert!(main.contains("class=\"feature-name\""), "no street named");
    assert!(n >= 6, "only {n} labels placed");
}

/// Unit id → fill of the main map, and unit id → geometry of the units layer.
fn fills_and_units(run: &Run) -> (BTreeMap<String, String>, BTreeMap<String, MultiPolygon<f64>>) {
    let main = svgs(&run.html)[0];
    let mut fills = BTreeMap::new();
    for (i, _) in main.match_indices("<path class=\"unit\" ") {
        let tag = &main[i..i + main[i..].find('>').unwrap()];
        let id = attrs(tag, "data-unit")[0].to_string();
        let fill = attrs(tag, "fill")[0].to_string();
        fills.insert(id, fill);
    }
    let layer = read_layer(&run.dir.path().join("out/units.geojson"), &ReadOptions::default()).unwrap();
    let mut units = BTreeMap::new();
    for f in layer.features {
        let id = f.text("unit_id").unwrap();
        let g = match f.geometry.unwrap() {
            Geometry::MultiPolygon(m) => m,
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            other => panic!("not a polygon: {other:?}"),
        };
        units.insert(id, g);
    }
    (fills, units)
}

#[test]
fn neighbouring_units_have_different_colours() {
    for run in [demo_run(), osm_run()] {
        let (fills, units) = fills_and_units(run);
        assert_eq!(fills.len(), units.len(), "one filled unit per unit");
        let mut touching = 0;
        for (a, ga) in &units {
            for (b, gb) in
                units.range::<String, _>((std::ops::Bound::Excluded(a.clone()), std::ops::Bound::Unbounded))
            {
                if ga.intersects(gb) {
                    touching += 1;
                    assert_ne!(fills[a], fills[b], "{a} and {b} touch and share a colour");
                }
            }
        }
        assert!(touching > 0, "no neighbours to compare");
    }
}

#[test]
fn every_unit_page_names_at_least_two_features_in_its_sizhi() {
    let html = &demo_run().html;
    let pages: Vec<&str> = html
        .match_indices("<section class=\"unit-page")
        .map(|(i, _)| &html[i..i + html[i..].find("</section>").unwrap()])
        .collect();
    assert_eq!(pages.len(), 8, "one page per unit");
    for page in pages {
        let id = attrs(page, "data-unit")[0];
        let sizhi = &page[page.find("<dd class=\"sizhi\"").unwrap()..];
        let sizhi = &sizhi[..sizhi.find("</dd>").unwrap()];
        for side in ["东至", "南至", "西至", "北至"] {
            assert!(sizhi.contains(side), "{id}: no {side} in {sizhi}");
        }
        let mut named: Vec<&str> = sizhi
            .split("<span class=\"sizhi-feature\">")
            .skip(1)
            .map(|s| &s[..s.find('<').unwrap()])
            .collect();
        named.sort_unstable();
        named.dedup();
        assert!(named.len() >= 2, "{id}: 四至 names {named:?}");
        // The page holds the unit's larger map, its blocks, facilities, coverage and findings.
        assert!(page.contains("class=\"map unit-map\""), "{id}: no map");
        for part in ["所含地块", "设施", "服务覆盖", "问题说明"] {
            assert!(page.contains(part), "{id}: no {part}");
        }
    }
    assert!(html.contains("id=\"blocks\""), "no block table for the plan");
}

#[test]
fn synthetic_banner_is_on_the_demo_dossier() {
    let html = &demo_run().html;
    let banner = &html[html.find("<div class=\"synthetic-banner\"").expect("a banner")..];
    let banner = &banner[..banner.find("</div>").unwrap()];
    for name in ["population.synthetic.tif", "facilities.synthetic.geojson"] {
        assert!(banner.contains(name), "{name} not named in {banner}");
    }
    // A fixed element repeats on every printed page.
    assert!(html.contains(".synthetic-banner { position: fixed;"));
}

#[test]
fn report_table_puts_author_date_and_title_on_the_cover() {
    let dir = tempfile::tempdir().unwrap();
    let area = dir.path().join("area");
    std::fs::create_dir(&area).unwrap();
    crate::copy_demo_files(&area);
    let toml = std::fs::read_to_string(area.join("bmu.toml")).unwrap()
        + "\n[report]\nauthor = \"江桥镇人民政府\"\ndate = \"2026年12月\"\ntitle = \"江桥镇基本管理单元划分方案\"\n";
    std::fs::write(area.join("bmu.toml"), toml).unwrap();
    let out = bmu(
        &[
            "propose",
            area.to_str().unwrap(),
            "--out",
            "out/units.geojson",
            "--report-html",
            "out.html",
        ],
        dir.path(),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let html = std::fs::read_to_string(dir.path().join("out.html")).unwrap();
    let cover = &html[..html.find("</header>").unwrap()];
    for text in [
        "<dt>编制单位</dt><dd>江桥镇人民政府</dd>",
        "<dt>日期</dt><dd>2026年12月</dd>",
        "<h1>江桥镇基本管理单元划分方案</h1>",
    ] {
        assert!(cover.contains(text), "{text} not on the cover");
    }
    // Copied out of the demo, the inputs still say they are synthetic.
    assert!(html.contains("class=\"synthetic-banner\""));
}

/// The dossier's head and banner with one of its sections: a page that shows that section as printed.
fn one_section(html: &str, start: &str) -> String {
    let head = &html[..html.find("<body>").unwrap() + "<body>".len()];
    let i = html.find(start).unwrap();
    let section = &html[i..i + html[i..].find("</section>").unwrap()];
    let banner = html
        .find("<div class=\"synthetic-banner\"")
        .map_or("", |b| &html[b..b + html[b..].find("</div>").unwrap() + 6]);
    format!("{head}{banner}{section}</section></body></html>")
}

#[test]
fn dossier_prints_on_a4_in_chromium_with_a_page_per_unit() {
    let run = demo_run();
    let Some(browser) = chromium() else {
        skip("chromium not installed; the dossier was not printed");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let pdf = run.dir.path().join("dossier.pdf");
    let out = headless(browser, profile.path())
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", run.dir.path().join("out.html").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page\n").count()
        + text.matches("/Type /Page/").count()
        + text.matches("/Type /Page ").count()
        + text.matches("/Type /Page>").count();
    // Cover, map, coverage, checks, eight unit pages (each starts a page), blocks, candidates, policy.
    assert!(pages >= 12, "only {pages} A4 pages");
    let mediabox = &text[text.find("/MediaBox [").expect("a page size") + "/MediaBox [".len()..];
    let size: Vec<f64> = mediabox[..mediabox.find(']').unwrap()]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    // A4 is 595 × 842 pt.
    assert!(
        (size[2] - 595.0).abs() < 1.0 && (size[3] - 842.0).abs() < 1.0,
        "not A4: {size:?}"
    );

    // The map and the first unit's page, each as printed, as screenshots.
    let keep = std::env::var("BMU_SCREENSHOTS").is_ok_and(|v| v == "1");
    for (name, start) in [
        ("dossier-map", "<section id=\"map\""),
        ("dossier-unit", "<section class=\"unit-page"),
    ] {
        let page = run.dir.path().join(format!("{name}.html"));
        std::fs::write(&page, one_section(&run.html, start)).unwrap();
        let shot = run.dir.path().join(format!("{name}.png"));
        let out = headless(browser, profile.path())
            .arg("--no-pdf-header-footer")
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1100,1900")
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        assert!(out.status.success());
        let png = resvg::tiny_skia::Pixmap::decode_png(&std::fs::read(&shot).unwrap()).unwrap();
        let colours: std::collections::BTreeSet<_> = png
            .pixels()
            .iter()
            .map(|p| (p.red(), p.green(), p.blue()))
            .collect();
        assert!(colours.len() > 50, "{name}: a blank screenshot");
        if keep {
            std::fs::copy(&shot, root().join(format!("data/screenshots/{name}.png"))).unwrap();
        }
    }
}

#[test]
fn inspect_reports_population_lines_in_the_town_and_the_blocks_they_make() {
    let dir = tempfile::tempdir().unwrap();
    let out = bmu(&["inspect", demo().to_str().unwrap()], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Population in the town: "), "{text}");
    assert!(text.contains("population.synthetic.tif"), "{text}");
    assert!(text.contains("in the town"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("Blocks the lines would make: "))
        .unwrap_or_else(|| panic!("no block preview in {text}"));
    let count: usize = line["Blocks the lines would make: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // propose derives the same blocks from the same lines.
    let run = demo_run();
    assert!(run.html.contains(&format!("<dd>{count} · ")), "{line}");
    assert!(line.contains("a unit needs"), "{line}");
}

#[test]
fn inspect_warns_when_the_lines_leave_a_block_larger_than_a_unit_needs() {
    // The demo without its canals layer: the real roads alone leave a block bigger than a unit's share.
    let dir = tempfile::tempdir().unwrap();
    let area = dir.path().join("area");
    std::fs::create_dir(&area).unwrap();
    crate::copy_demo_files(&area);
    let toml = std::fs::read_to_string(area.join("bmu.toml")).unwrap().replace(
        "[[features]]\npath = \"canals.synthetic.geojson\"\nclass_field = \"class\"\n",
        "",
    );
    std::fs::write(area.join("bmu.toml"), toml).unwrap();
    let out = bmu(&["inspect", area.to_str().unwrap()], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("the largest block the lines make is") && text.contains("a unit needs"),
        "{text}"
    );
}
