//! The district summary of a batch: the table of towns (`summary.csv`, `summary.xlsx`), all units with a `town`
//! column (`units.geojson`, `units.gpkg`) and the index page (`index.html`: the table, a link to every town's
//! dossier, and an SVG map of all towns and their units).
//!
//! It is built from the town folders alone — each folder's `town.json`, `town.geojson` and `units.geojson` — so a
//! single run and a merge of shards read the same files and write the same bytes.

use super::{TownRecord, WorkDir};
use crate::crs::Crs;
use crate::io::{self, atomic::Staging, OutFeature, ReadOptions};
use crate::report::{esc, fmt_int, Lang};
use crate::{Error, Result};
use geo::{BoundingRect, Geometry, MultiPolygon, Polygon, Simplify};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Each town folder's record of its run.
pub const RECORD: &str = "town.json";

/// The summary files, in the output folder.
const SUMMARY_FILES: [&str; 5] = [
    "summary.csv",
    "summary.xlsx",
    "index.html",
    "units.geojson",
    "units.gpkg",
];

/// Whether a path inside the output folder is one of the summary files.
pub fn is_summary_file(rest: &Path) -> bool {
    rest.components().count() == 1 && SUMMARY_FILES.iter().any(|f| rest == Path::new(f))
}

/// The town folders directly inside `dir` (those holding a `town.json`), with their records, in folder-name order.
pub fn town_folders(dir: &Path) -> Result<Vec<(PathBuf, TownRecord)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "read folder", e))?;
    let mut folders = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, "read folder", e))?;
        let p = e.path();
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if !hidden && p.join(RECORD).is_file() {
            folders.push(p);
        }
    }
    folders.sort();
    let mut out = Vec::with_capacity(folders.len());
    for p in folders {
        let file = p.join(RECORD);
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, "read", e))?;
        let record: TownRecord = serde_json::from_str(&text)
            .map_err(|e| Error::format(&file, format!("not a town record of bmu batch: {e}")))?;
        out.push((p, record));
    }
    Ok(out)
}

/// Writes the summary of the town folders in `work` into `out`, then moves the town folders into `out` and
/// commits the summary: the last step of a batch run and of a merge.
pub fn finish(work: &WorkDir, out: &Path, inputs: &[PathBuf], lang: Lang) -> Result<()> {
    let mut towns = town_folders(&work.path)?;
    towns.sort_by_key(|(_, r)| r.index);
    let mut staging = Staging::new(inputs);
    for f in SUMMARY_FILES {
        staging.claim(&out.join(f), "the district summary (--out)")?;
    }

    let rows: Vec<OutFeature> = towns.iter().map(|(_, r)| row(r)).collect();
    io::table::write_csv(&out.join("summary.csv"), &rows, &mut staging)?;
    io::table::write_xlsx(&out.join("summary.xlsx"), &rows, &mut staging)?;

    let wgs84 = Crs::wgs84();
    let options = ReadOptions::default();
    let mut units: Vec<OutFeature> = Vec::new();
    let mut shapes: Vec<MapTown> = Vec::with_capacity(towns.len());
    for (dir, r) in &towns {
        let read = |name: &str| -> Result<Vec<io::Feature>> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(io::read_layer(&p, &options)?.features)
            } else {
                Ok(Vec::new())
            }
        };
        let boundary: Vec<MultiPolygon<f64>> = read("town.geojson")?
            .into_iter()
            .filter_map(|f| polygons(f.geometry))
            .map(|mp| mp.simplify(MAP_EPSILON_DEG))
            .collect();
        let mut town_units = Vec::new();
        for f in read("units.geojson")? {
            let pass = f.properties.get("pass").and_then(Value::as_bool);
            let Some(mp) = polygons(f.geometry) else { continue };
            town_units.push((mp.simplify(MAP_EPSILON_DEG), pass));
            units.push(OutFeature {
                geometry: Some(Geometry::MultiPolygon(mp.simplify(LAYER_EPSILON_DEG))),
                properties: district_properties(r, f.properties),
            });
        }
        shapes.push(MapTown {
            record: r.clone(),
            boundary,
            units: town_units,
        });
    }
    io::stage_layer(&out.join("units.geojson"), &wgs84, &units, &mut staging)?;
    io::stage_layer(&out.join("units.gpkg"), &wgs84, &units, &mut staging)?;
    drop(units);
    staging.write(&out.join("index.html"), index_page(&shapes, lang).as_bytes())?;

    // The town folders into place, then the summary: a run stopped between the two leaves complete town folders
    // and the previous summary, never a half-written file.
    let old = work.path.join(".replaced");
    for (dir, r) in &towns {
        let dest = out.join(&r.folder);
        if dest.exists() {
            std::fs::create_dir_all(&old).map_err(|e| Error::io(&old, "create folder", e))?;
            std::fs::rename(&dest, old.join(&r.folder)).map_err(|e| Error::io(&dest, "replace", e))?;
        }
        std::fs::rename(dir, &dest).map_err(|e| Error::io(&dest, "move into place", e))?;
    }
    staging.commit()
}

/// Vertices the district layer drops: those within 1e-7° of the line through their neighbours, the precision the
/// GeoJSON writer rounds to. Units are densified (25 m) for their CRS transformation, so their straight edges carry
/// hundreds of such vertices, and a national layer held them all in memory.
const LAYER_EPSILON_DEG: f64 = 1e-7;

/// The map draws at under a pixel of 10 m or more, so it keeps 1e-4° (about 10 m).
const MAP_EPSILON_DEG: f64 = 1e-4;

/// A unit's attributes in the district layer: its town, then the columns a district compares towns by (each
/// check's value and threshold stay in the town's own `units.geojson`, so a national layer stays small).
fn district_properties(r: &TownRecord, mut p: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("town".into(), json!(r.name));
    out.insert("town_id".into(), json!(r.id));
    for k in ["unit_id", "population", "area_km2", "pass"] {
        out.insert(k.into(), p.remove(k).unwrap_or(Value::Null));
    }
    let failing: Vec<&str> = crate::validate::Registry::standard()
        .iter()
        .map(|c| c.name().0)
        .filter(|n| p.get(&format!("{n}_pass")) == Some(&Value::Bool(false)))
        .collect();
    out.insert("failing_checks".into(), json!(failing.join(", ")));
    out.insert("reasons".into(), p.remove("reasons").unwrap_or(Value::Null));
    out
}

fn polygons(g: Option<Geometry<f64>>) -> Option<MultiPolygon<f64>> {
    match g? {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
        Geometry::MultiPolygon(mp) => Some(mp),
        _ => None,
    }
}

/// One row of the table of towns.
fn row(r: &TownRecord) -> OutFeature {
    let mut p = Map::new();
    p.insert("town_id".into(), json!(r.id));
    p.insert("town".into(), json!(r.name));
    p.insert(
        "status".into(),
        json!(if r.error.is_some() { "failed" } else { "run" }),
    );
    p.insert("population".into(), json!(r.population));
    p.insert("area_km2".into(), json!(r.area_km2));
    p.insert("units".into(), json!(r.units));
    p.insert("units_passing".into(), json!(r.passing));
    // Every check a column, also in a failed town's row, so the columns never depend on which town came first.
    for c in crate::validate::Registry::standard().iter() {
        let name = c.name().0;
        let n = r.failing_checks.get(name).copied();
        p.insert(
            format!("failing_{name}"),
            json!(if r.error.is_some() { None } else { n }),
        );
    }
    p.insert("unassigned_blocks".into(), json!(r.unassigned_blocks));
    p.insert(
        "crossing_units".into(),
        json!(r
            .crossing_units
            .iter()
            .map(|c| format!("{} ({})", c.unit, c.towns.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")),
    );
    p.insert("dossier".into(), json!(dossier_link(r)));
    p.insert("error".into(), json!(r.error));
    OutFeature {
        geometry: None,
        properties: p,
    }
}

/// The town's dossier, relative to the output folder (None for a town that did not run).
fn dossier_link(r: &TownRecord) -> Option<String> {
    r.error.is_none().then(|| format!("{}/dossier.html", r.folder))
}

struct MapTown {
    record: TownRecord,
    boundary: Vec<MultiPolygon<f64>>,
    units: Vec<(MultiPolygon<f64>, Option<bool>)>,
}

/// Width of the map's frame; the height follows the district's shape.
const MAP_WIDTH: f64 = 960.0;

/// The district page: the map, then the table with a link to every town's dossier. Plain HTML and inline SVG, no
/// script and nothing fetched, like the dossiers.
fn index_page(towns: &[MapTown], lang: Lang) -> String {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let ran = towns.iter().filter(|t| t.record.error.is_none()).count();
    let units: usize = towns.iter().map(|t| t.record.units).sum();
    let passing: usize = towns.iter().map(|t| t.record.passing).sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
         body {{ font-family: \"Microsoft YaHei\", \"WenQuanYi Micro Hei\", \"Noto Sans CJK SC\", sans-serif; margin: 1.5em; }}\n\
         table {{ border-collapse: collapse; font-size: 0.9em; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }}\n\
         td.name, th.name {{ text-align: left; }}\n\
         tr.failed td {{ background: #fde8e8; }}\n\
         svg {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}\n\
         .town {{ fill: #f4f1ea; stroke: #555; stroke-width: 1; }}\n\
         .town.failed {{ fill: #f6c9c9; }}\n\
         .unit {{ stroke: #2060a0; stroke-width: 0.5; fill-opacity: 0.55; }}\n\
         .unit.pass {{ fill: #7fc97f; }}\n\
         .unit.fail {{ fill: #fdb462; }}\n\
         </style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}: {} / {} · {}: {} · {}: {}</p>\n",
        lang.code(),
        l("区级汇总：基本管理单元", "District summary: basic management units"),
        l("区级汇总：基本管理单元", "District summary: basic management units"),
        l("已运行的镇", "towns run"),
        ran,
        towns.len(),
        l("单元", "units"),
        units,
        l("通过全部检查", "passing every check"),
        passing
    );
    h.push_str(&map_svg(towns));
    let _ = write!(
        h,
        "\n<table id=\"towns\">\n<thead><tr><th class=\"name\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th class=\"name\">{}</th><th class=\"name\">{}</th></tr></thead>\n<tbody>\n",
        l("镇（街道）", "Town"),
        l("人口", "Population"),
        l("面积 (km²)", "Area (km²)"),
        l("单元", "Units"),
        l("通过", "Passing"),
        l("未通过的检查", "Failing checks"),
        l("跨镇界的单元 / 错误", "Units crossing the town boundary / error"),
    );
    for t in towns {
        let r = &t.record;
        let name = match dossier_link(r) {
            Some(link) => format!(
                "<a class=\"dossier\" href=\"{}\">{}</a>",
                esc(&link),
                esc(&r.name)
            ),
            None => esc(&r.name),
        };
        let failing: Vec<String> = r
            .failing_checks
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{} {n}", esc(c)))
            .collect();
        let note = match &r.error {
            Some(e) => esc(e),
            None => esc(&r
                .crossing_units
                .iter()
                .map(|c| format!("{} → {}", c.unit, c.towns.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")),
        };
        let _ = writeln!(
            h,
            "<tr data-town=\"{}\"{}><td class=\"name\">{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"name\">{}</td><td class=\"name\">{note}</td></tr>",
            esc(&r.id),
            if r.error.is_some() { " class=\"failed\"" } else { "" },
            r.population.map(fmt_int).unwrap_or_default(),
            r.area_km2.map(|a| format!("{a:.2}")).unwrap_or_default(),
            r.units,
            r.passing,
            failing.join(", "),
        );
    }
    h.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    h
}

/// All towns and their units in one SVG, lon/lat drawn equirectangular at the district's mean latitude (a district
/// or a province is small enough for that to look right); each town links to its dossier.
fn map_svg(towns: &[MapTown]) -> String {
    let mut extent: Option<geo::Rect<f64>> = None;
    for t in towns {
        for b in &t.boundary {
            if let Some(r) = b.bounding_rect() {
                extent = Some(match extent {
                    None => r,
                    Some(e) => geo::Rect::new(
                        (e.min().x.min(r.min().x), e.min().y.min(r.min().y)),
                        (e.max().x.max(r.max().x), e.max().y.max(r.max().y)),
                    ),
                });
            }
        }
    }
    let Some(e) = extent else {
        return "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 40\"></svg>".into();
    };
    let k = ((e.min().y + e.max().y) / 2.0).to_radians().cos();
    let w = ((e.max().x - e.min().x) * k).max(1e-9);
    let hgt = (e.max().y - e.min().y).max(1e-9);
    let s = MAP_WIDTH / w;
    let height = (hgt * s).ceil().max(1.0);
    let xy = |x: f64, y: f64| ((x - e.min().x) * k * s, (e.max().y - y) * s);
    let path = |mp: &MultiPolygon<f64>| {
        let mut d = String::new();
        for p in &mp.0 {
            ring_path(&mut d, p, &xy);
        }
        d
    };
    let mut svg = format!(
        "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MAP_WIDTH} {height}\" width=\"{MAP_WIDTH}\" height=\"{height}\">\n"
    );
    for t in towns {
        let r = &t.record;
        let class = if r.error.is_some() { "town failed" } else { "town" };
        let body: String = t
            .boundary
            .iter()
            .map(|b| {
                format!(
                    "<path class=\"{class}\" fill-rule=\"evenodd\" d=\"{}\"/>",
                    path(b)
                )
            })
            .collect();
        let title = format!("<title>{}</title>", esc(&r.name));
        match dossier_link(r) {
            Some(link) => {
                let _ = writeln!(
                    svg,
                    "<a href=\"{}\" data-town=\"{}\">{title}{body}</a>",
                    esc(&link),
                    esc(&r.id)
                );
            }
            None => {
                let _ = writeln!(svg, "<g data-town=\"{}\">{title}{body}</g>", esc(&r.id));
            }
        }
    }
    for t in towns {
        for (u, pass) in &t.units {
            let class = match pass {
                Some(true) => "unit pass",
                _ => "unit fail",
            };
            let _ = writeln!(
                svg,
                "<path class=\"{class}\" fill-rule=\"evenodd\" d=\"{}\"/>",
                path(u)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn ring_path(d: &mut String, p: &Polygon<f64>, xy: &impl Fn(f64, f64) -> (f64, f64)) {
    for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
        for (i, c) in ring.0.iter().enumerate() {
            let (x, y) = xy(c.x, c.y);
            let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
        }
        d.push('Z');
    }
}
