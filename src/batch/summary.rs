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
use geo::{BoundingRect, Geometry, MultiPolygon, Polygon, Rect, Simplify};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
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

/// Calls `each` with every town folder directly inside `dir` (those holding a `town.json`) and its record, in
/// folder-name order, one record at a time: a national run's records are never all in memory.
pub fn each_town(dir: &Path, mut each: impl FnMut(&Path, TownRecord) -> Result<()>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "read folder", e))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, "read folder", e))?;
        let name = e.file_name();
        if !name.to_string_lossy().starts_with('.') && e.path().join(RECORD).is_file() {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let p = dir.join(name);
        let record = read_record(&p)?;
        each(&p, record)?;
    }
    Ok(())
}

/// The record of the town folder `folder`.
fn read_record(folder: &Path) -> Result<TownRecord> {
    let file = folder.join(RECORD);
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, "read", e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(&file, format!("not a town record of bmu batch: {e}")))
}

/// The towns of the summary, in the towns layer's order: each one's folder name, its record read again from the
/// folder whenever a pass over the towns needs it (a few small files a town, against holding every record).
struct Towns<'w> {
    work: &'w Path,
    folders: Vec<(usize, String)>,
}

impl Towns<'_> {
    fn records(&self) -> impl Iterator<Item = Result<(PathBuf, TownRecord)>> + '_ {
        self.folders.iter().map(|(_, f)| {
            let dir = self.work.join(f);
            read_record(&dir).map(|r| (dir, r))
        })
    }
}

/// What the head of the index page counts.
#[derive(Default)]
struct Totals {
    total: usize,
    ran: usize,
    units: usize,
    passing: usize,
}

/// Writes the summary of the town folders in `work` into `out`, then moves the town folders into `out` and
/// commits the summary: the last step of a batch run and of a merge.
///
/// Memory follows the largest town, not the number of towns: the towns are read one at a time and their units
/// written straight into the all-towns layers and the page's map (only each town's small record is held), and the
/// map draws at its own resolution, so a national run's map holds no more than its pixels show.
pub fn finish(work: &WorkDir, out: &Path, inputs: &[PathBuf], lang: Lang) -> Result<()> {
    let mut folders = Vec::new();
    let mut totals = Totals::default();
    each_town(&work.path, |_, r| {
        totals.total += 1;
        totals.ran += usize::from(r.error.is_none());
        totals.units += r.units;
        totals.passing += r.passing;
        folders.push((r.index, r.folder));
        Ok(())
    })?;
    folders.sort_by_key(|(i, _)| *i);
    let towns = Towns {
        work: &work.path,
        folders,
    };
    let mut staging = Staging::new(inputs);
    for f in SUMMARY_FILES {
        staging.claim(&out.join(f), "the district summary (--out)")?;
    }

    write_tables(out, &work.path, &towns, &mut staging)?;

    let options = ReadOptions::default();
    let read = |dir: &Path, name: &str| -> Result<Vec<io::Feature>> {
        let p = dir.join(name);
        if p.is_file() {
            Ok(io::read_layer(&p, &options)?.features)
        } else {
            Ok(Vec::new())
        }
    };
    // First pass: the map's frame, from the town outlines alone.
    let mut extent: Option<Rect<f64>> = None;
    for (_, folder) in &towns.folders {
        for f in read(&work.path.join(folder), "town.geojson")? {
            if let Some(r) = f.geometry.as_ref().and_then(|g| g.bounding_rect()) {
                extent = Some(match extent {
                    None => r,
                    Some(e) => Rect::new(
                        (e.min().x.min(r.min().x), e.min().y.min(r.min().y)),
                        (e.max().x.max(r.max().x), e.max().y.max(r.max().y)),
                    ),
                });
            }
        }
    }
    let frame = extent.map(Frame::new);

    // Second pass: each town's units into the layers and the map as it is read.
    let wgs84 = Crs::wgs84();
    let layer_path = out.join("units.geojson");
    let gpkg_path = out.join("units.gpkg");
    let mut layer =
        io::geojson::Stream::new(&layer_path, &wgs84, BufWriter::new(staging.create(&layer_path)?))?;
    let gpkg_file = work.path.join(".units.gpkg");
    let mut gpkg = io::gpkg::Stream::new(
        &gpkg_file,
        &gpkg_path,
        &wgs84,
        "MULTIPOLYGON",
        &DISTRICT_COLUMNS.map(|(n, t)| (n.to_string(), t)),
    )?;
    let page_path = out.join("index.html");
    let mut page = Page {
        path: page_path.clone(),
        out: BufWriter::new(staging.create(&page_path)?),
    };
    // Units are drawn over every town: they wait in a file of their own until the towns are drawn.
    let mut unit_paths = Page {
        path: page_path.clone(),
        out: BufWriter::new(
            tempfile::tempfile_in(&work.path).map_err(|e| Error::io(&work.path, "create", e))?,
        ),
    };
    page.put(&page_head(&totals, lang))?;
    page.put(&svg_open(frame.as_ref()))?;
    for town in towns.records() {
        let (dir, r) = town?;
        let (dir, r) = (&dir, &r);
        let boundary: Vec<MultiPolygon<f64>> = read(dir, "town.geojson")?
            .into_iter()
            .filter_map(|f| polygons(f.geometry))
            .collect();
        if let Some(frame) = &frame {
            page.put(&frame.town(r, &boundary))?;
        }
        for f in read(dir, "units.geojson")? {
            let pass = f.properties.get("pass").and_then(Value::as_bool);
            let Some(mp) = polygons(f.geometry) else { continue };
            if let Some(frame) = &frame {
                unit_paths.put(&frame.unit(&mp, pass))?;
            }
            let feature = OutFeature {
                geometry: Some(Geometry::MultiPolygon(mp.simplify(LAYER_EPSILON_DEG))),
                properties: district_properties(r, f.properties),
            };
            layer.push(&feature)?;
            gpkg.push(&feature)?;
        }
    }
    let mut units_file = unit_paths
        .out
        .into_inner()
        .map_err(|e| Error::io(&page_path, "write", e.into_error()))?;
    units_file
        .seek(SeekFrom::Start(0))
        .and_then(|_| std::io::copy(&mut units_file, &mut page.out))
        .map_err(|e| Error::io(&page_path, "write", e))?;
    drop(units_file);
    page.put("</svg>\n")?;
    page_table(&mut page, towns.records().map(|t| t.map(|(_, r)| r)), lang)?;
    page.out.flush().map_err(|e| Error::io(&page_path, "write", e))?;
    layer.finish()?;
    gpkg.finish()?;
    // The database is complete on disk; copied into the staging (same folder tree, so a copy, not a second
    // copy in memory).
    let mut from = File::open(&gpkg_file).map_err(|e| Error::io(&gpkg_file, "read", e))?;
    let mut to = staging.create(&gpkg_path)?;
    std::io::copy(&mut from, &mut to).map_err(|e| Error::io(&gpkg_path, "write", e))?;
    drop(from);
    let _ = std::fs::remove_file(&gpkg_file);

    // The town folders into place, then the summary: a run stopped between the two leaves complete town folders
    // and the previous summary, never a half-written file.
    let old = work.path.join(".replaced");
    for (_, folder) in &towns.folders {
        let dir = work.path.join(folder);
        let dest = out.join(folder);
        if dest.exists() {
            std::fs::create_dir_all(&old).map_err(|e| Error::io(&old, "create folder", e))?;
            std::fs::rename(&dest, old.join(folder)).map_err(|e| Error::io(&dest, "replace", e))?;
        }
        std::fs::rename(&dir, &dest).map_err(|e| Error::io(&dest, "move into place", e))?;
    }
    staging.commit()
}

/// `summary.csv` and `summary.xlsx`, row by row: a national table is written as it is made (the workbook in
/// rust_xlsxwriter's constant-memory mode, its rows spooled in the work folder), never held.
fn write_tables(out: &Path, work: &Path, towns: &Towns, staging: &mut Staging) -> Result<()> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
    let csv_path = out.join("summary.csv");
    let xlsx_path = out.join("summary.xlsx");
    let csv_fail = |e: csv::Error| Error::format(&csv_path, format!("cannot write CSV: {e}"));
    let fail = |e: XlsxError| Error::format(&xlsx_path, format!("cannot write the workbook: {e}"));
    // Every row has the same columns (see `row`): a failed town's are empty.
    let names: Vec<String> = match towns.records().next() {
        Some(first) => row(&first?.1).properties.keys().cloned().collect(),
        None => Vec::new(),
    };

    let mut file = BufWriter::new(staging.create(&csv_path)?);
    // The byte-order mark Excel on a Chinese Windows needs (see `io::table`).
    file.write_all("\u{feff}".as_bytes())
        .map_err(|e| Error::io(&csv_path, "write", e))?;
    let mut csv = csv::Writer::from_writer(file);
    csv.write_record(&names).map_err(csv_fail)?;

    let mut book = Workbook::new();
    book.set_tempdir(work).map_err(fail)?;
    // A fixed creation date: otherwise every run writes different bytes for the same inputs.
    let epoch = ExcelDateTime::from_ymd(2000, 1, 1).map_err(fail)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&epoch));
    let sheet = book.add_worksheet_with_constant_memory();
    sheet.set_name("summary").map_err(fail)?;
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    let bold = Format::new().set_bold();
    for (c, name) in names.iter().enumerate() {
        // A fixed set of columns, far below Excel's 16,384.
        let col = c as u16;
        sheet
            .set_column_width(col, name.chars().count().max(8) as f64 + 2.0)
            .map_err(fail)?;
        sheet
            .write_string_with_format(0, col, name, &bold)
            .map_err(fail)?;
    }
    for (i, town) in towns.records().enumerate() {
        let p = row(&town?.1).properties;
        csv.write_record(
            names
                .iter()
                .map(|n| p.get(n).and_then(io::value_text).unwrap_or_default()),
        )
        .map_err(csv_fail)?;
        let at = u32::try_from(i + 1)
            .ok()
            .filter(|&x| x < 1_048_576)
            .ok_or_else(|| Error::format(&xlsx_path, "more towns than an Excel sheet holds (1,048,575)"))?;
        for (c, name) in names.iter().enumerate() {
            let col = c as u16;
            match p.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                    sheet
                        .write_number(at, col, n.as_f64().unwrap_or_default())
                        .map_err(fail)?;
                }
                Some(v) => {
                    // Town names, ids, errors and crossings: far below a cell's 32,767 characters, except a
                    // crossing list, cut rather than refused (the CSV holds it whole).
                    let text: String = io::value_text(v)
                        .unwrap_or_default()
                        .chars()
                        .take(32_767)
                        .collect();
                    sheet.write_string(at, col, text).map_err(fail)?;
                }
            }
        }
    }
    let file = csv
        .into_inner()
        .map_err(|e| Error::io(&csv_path, "write", e.into_error()))?;
    file.into_inner()
        .map_err(|e| Error::io(&csv_path, "write", e.into_error()))?;
    let mut to = BufWriter::new(staging.create(&xlsx_path)?);
    book.save_to_writer(&mut to).map_err(fail)?;
    to.flush().map_err(|e| Error::io(&xlsx_path, "write", e))
}

/// The columns of the all-towns GeoPackage, declared before its first row ([`district_properties`] fills them).
/// Unit ids are text: towns' ids may be numbers in one town and names in the next.
const DISTRICT_COLUMNS: [(&str, &str); 8] = [
    ("town", "TEXT"),
    ("town_id", "TEXT"),
    ("unit_id", "TEXT"),
    ("population", "REAL"),
    ("area_km2", "REAL"),
    ("pass", "BOOLEAN"),
    ("failing_checks", "TEXT"),
    ("reasons", "TEXT"),
];

/// The index page as it is written.
struct Page<W: Write> {
    path: PathBuf,
    out: BufWriter<W>,
}

impl<W: Write> Page<W> {
    fn put(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| Error::io(&self.path, "write", e))
    }
}

/// Vertices the district layer drops: those within 1e-7° of the line through their neighbours, the precision the
/// GeoJSON writer rounds to. Units are densified for their CRS transformation (cut wherever an edge bends by more
/// than a millimetre, and at least every kilometre), so their straight edges can carry such vertices, and a national
/// layer held them all in memory.
const LAYER_EPSILON_DEG: f64 = 1e-7;

/// A unit's attributes in the district layer: its town, then the columns a district compares towns by (each
/// check's value and threshold stay in the town's own `units.geojson`, so a national layer stays small).
fn district_properties(r: &TownRecord, mut p: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("town".into(), json!(r.name));
    out.insert("town_id".into(), json!(r.id));
    let id = p.remove("unit_id").unwrap_or(Value::Null);
    out.insert(
        "unit_id".into(),
        match id {
            Value::Number(n) => json!(n.to_string()),
            other => other,
        },
    );
    for k in ["population", "area_km2", "pass"] {
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
    // "not run" rather than 0: a district must not read an unsited town as one that needs no new facilities.
    p.insert(
        "proposed_sites".into(),
        match (&r.error, r.proposed_sites) {
            (Some(_), _) => Value::Null,
            (None, Some(n)) => json!(n),
            (None, None) => json!(NOT_RUN),
        },
    );
    p.insert(
        "units_passing_with_sites".into(),
        json!(r.error.is_none().then_some(r.passing_with_sites).flatten()),
    );
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

/// The `proposed_sites` cell of a town whose run did not site facilities.
pub const NOT_RUN: &str = "not run";

/// The town's dossier, relative to the output folder (None for a town that did not run).
fn dossier_link(r: &TownRecord) -> Option<String> {
    r.error.is_none().then(|| format!("{}/dossier.html", r.folder))
}

/// Width of the map's frame; the height follows the district's shape.
const MAP_WIDTH: f64 = 960.0;

/// Shapes under this many pixels across are not drawn as units: their town's outline and row stand for them. With
/// outlines simplified to half a pixel, this bounds what the map holds by its pixels, whatever the number of units.
const MAP_MIN_UNIT_PX: f64 = 1.0;

/// The head of the index page, down to the district line above the map.
fn page_head(totals: &Totals, lang: Lang) -> String {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let Totals {
        total,
        ran,
        units,
        passing,
    } = *totals;
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
        total,
        l("单元", "units"),
        units,
        l("通过全部检查", "passing every check"),
        passing
    );
    h
}

/// The table of the index page, with a link to every town's dossier, row by row.
fn page_table<W: Write>(
    page: &mut Page<W>,
    records: impl Iterator<Item = Result<TownRecord>>,
    lang: Lang,
) -> Result<()> {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    page.put(&format!(
        "\n<table id=\"towns\">\n<thead><tr><th class=\"name\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th class=\"name\">{}</th><th class=\"name\">{}</th></tr></thead>\n<tbody>\n",
        l("镇（街道）", "Town"),
        l("人口", "Population"),
        l("面积 (km²)", "Area (km²)"),
        l("单元", "Units"),
        l("通过", "Passing"),
        l("拟新增设施", "Proposed sites"),
        l("加设施后通过", "Passing with sites"),
        l("未通过的检查", "Failing checks"),
        l("跨镇界的单元 / 错误", "Units crossing the town boundary / error"),
    ))?;
    for r in records {
        let r = &r?;
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
        let (sites, with_sites) = match (&r.error, r.proposed_sites) {
            (Some(_), _) => (String::new(), String::new()),
            (None, Some(n)) => (
                n.to_string(),
                r.passing_with_sites.map(|p| p.to_string()).unwrap_or_default(),
            ),
            (None, None) => {
                let not_run = l("未运行", NOT_RUN).to_string();
                (not_run.clone(), not_run)
            }
        };
        page.put(&format!(
            "<tr data-town=\"{}\"{}><td class=\"name\">{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"sites\">{sites}</td><td>{with_sites}</td><td class=\"name\">{}</td><td class=\"name\">{note}</td></tr>\n",
            esc(&r.id),
            if r.error.is_some() { " class=\"failed\"" } else { "" },
            r.population.map(fmt_int).unwrap_or_default(),
            r.area_km2.map(|a| format!("{a:.2}")).unwrap_or_default(),
            r.units,
            r.passing,
            failing.join(", "),
        ))?;
    }
    page.put("</tbody>\n</table>\n</body>\n</html>\n")
}

fn svg_open(frame: Option<&Frame>) -> String {
    match frame {
        None => "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 960 40\">".into(),
        Some(f) => format!(
            "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MAP_WIDTH} {h}\" width=\"{MAP_WIDTH}\" height=\"{h}\">\n",
            h = f.height
        ),
    }
}

/// The map's projection: lon/lat drawn equirectangular at the district's mean latitude (a district or a province
/// is small enough for that to look right), `MAP_WIDTH` pixels wide.
struct Frame {
    extent: Rect<f64>,
    /// cos(mean latitude).
    k: f64,
    /// Pixels per degree of latitude.
    s: f64,
    height: f64,
    /// Half a pixel, in degrees of latitude: what outlines are simplified to.
    epsilon: f64,
}

impl Frame {
    fn new(e: Rect<f64>) -> Frame {
        let k = ((e.min().y + e.max().y) / 2.0).to_radians().cos();
        let w = ((e.max().x - e.min().x) * k).max(1e-9);
        let hgt = (e.max().y - e.min().y).max(1e-9);
        let s = MAP_WIDTH / w;
        Frame {
            extent: e,
            k,
            s,
            height: (hgt * s).ceil().max(1.0),
            epsilon: 0.5 / s,
        }
    }

    fn path(&self, mp: &MultiPolygon<f64>) -> String {
        let e = self.extent;
        let xy = |x: f64, y: f64| ((x - e.min().x) * self.k * self.s, (e.max().y - y) * self.s);
        let mut d = String::new();
        for p in &mp.simplify(self.epsilon).0 {
            ring_path(&mut d, p, &xy);
        }
        d
    }

    /// One town: its outline, linked to its dossier.
    fn town(&self, r: &TownRecord, boundary: &[MultiPolygon<f64>]) -> String {
        let class = if r.error.is_some() { "town failed" } else { "town" };
        let body: String = boundary
            .iter()
            .map(|b| {
                format!(
                    "<path class=\"{class}\" fill-rule=\"evenodd\" d=\"{}\"/>",
                    self.path(b)
                )
            })
            .collect();
        let title = format!("<title>{}</title>", esc(&r.name));
        match dossier_link(r) {
            Some(link) => format!(
                "<a href=\"{}\" data-town=\"{}\">{title}{body}</a>\n",
                esc(&link),
                esc(&r.id)
            ),
            None => format!("<g data-town=\"{}\">{title}{body}</g>\n", esc(&r.id)),
        }
    }

    /// One unit, coloured by whether it passes; nothing for a unit under `MAP_MIN_UNIT_PX` across.
    fn unit(&self, u: &MultiPolygon<f64>, pass: Option<bool>) -> String {
        let Some(r) = u.bounding_rect() else {
            return String::new();
        };
        let across = ((r.max().x - r.min().x) * self.k).max(r.max().y - r.min().y) * self.s;
        if across < MAP_MIN_UNIT_PX {
            return String::new();
        }
        let class = match pass {
            Some(true) => "unit pass",
            _ => "unit fail",
        };
        format!(
            "<path class=\"{class}\" fill-rule=\"evenodd\" d=\"{}\"/>\n",
            self.path(u)
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64, side: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x, y: y),
            (x: x + side, y: y),
            (x: x + side, y: y + side),
            (x: x, y: y + side),
            (x: x, y: y),
        ]])
    }

    fn feature(i: usize) -> OutFeature {
        OutFeature {
            geometry: Some(Geometry::MultiPolygon(square(
                121.0 + i as f64 * 0.01,
                31.0,
                0.005,
            ))),
            properties: io::geojson::properties([
                ("town", json!("江桥镇")),
                ("town_id", json!("T1")),
                ("unit_id", json!(format!("U{i}"))),
                ("population", json!(20_000 + i)),
                ("area_km2", json!(2.5)),
                ("pass", json!(i % 2 == 0)),
                ("failing_checks", json!("")),
                ("reasons", Value::Null),
            ]),
        }
    }

    #[test]
    fn all_towns_layer_streamed_feature_by_feature_is_the_layer_written_at_once() {
        let features: Vec<OutFeature> = (0..5).map(feature).collect();
        let path = Path::new("units.geojson");
        let whole = io::geojson::to_string(path, &Crs::wgs84(), &features).unwrap();
        let mut stream = io::geojson::Stream::new(path, &Crs::wgs84(), Vec::new()).unwrap();
        for f in &features {
            stream.push(f).unwrap();
        }
        assert_eq!(String::from_utf8(stream.finish().unwrap()).unwrap(), whole);
    }

    #[test]
    fn all_towns_geopackage_streamed_to_disk_holds_every_feature() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db");
        let declared = DISTRICT_COLUMNS.map(|(n, t)| (n.to_string(), t));
        let mut s = io::gpkg::Stream::new(
            &file,
            Path::new("units.gpkg"),
            &Crs::wgs84(),
            "MULTIPOLYGON",
            &declared,
        )
        .unwrap();
        for i in 0..5 {
            s.push(&feature(i)).unwrap();
        }
        s.finish().unwrap();
        let db = rusqlite::Connection::open(&file).unwrap();
        let n: i64 = db
            .query_row("SELECT count(*) FROM units", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 5);
        let id: String = db
            .query_row("SELECT unit_id FROM units WHERE fid = 5", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, "U4");
        let (kind, app): (String, i64) = db
            .query_row(
                "SELECT geometry_type_name, (SELECT application_id FROM pragma_application_id) \
                 FROM gpkg_geometry_columns WHERE table_name = 'units'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((kind.as_str(), app), ("MULTIPOLYGON", 0x4750_4B47));
        let min_x: f64 = db
            .query_row("SELECT min_x FROM gpkg_contents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(min_x, 121.0);
    }

    #[test]
    fn national_map_draws_no_unit_under_a_pixel() {
        // A 6° country 960 pixels wide: a pixel is about 0.006°.
        let frame = Frame::new(Rect::new((100.0, 30.0), (106.0, 33.0)));
        assert_eq!(frame.unit(&square(101.0, 31.0, 0.002), Some(true)), "");
        let big = frame.unit(&square(101.0, 31.0, 0.1), Some(true));
        assert!(big.starts_with("<path class=\"unit pass\""), "{big}");
        // Half-pixel simplification: a finely densified square keeps its four corners only.
        let mut ring: Vec<(f64, f64)> = (0..=100).map(|i| (101.0 + i as f64 * 0.001, 31.0)).collect();
        ring.extend([(101.1, 31.1), (101.0, 31.1), (101.0, 31.0)]);
        let dense = MultiPolygon(vec![Polygon::new(ring.into(), vec![])]);
        let d = frame.path(&dense);
        assert_eq!(d.matches('L').count(), 4, "{d}");
    }
}
