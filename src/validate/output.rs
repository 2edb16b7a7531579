//! What `validate` writes: the units layer with one value/threshold/pass triple per check, the problems layer, the
//! report JSON and the terminal table.
//!
//! Layers go through [`crate::io::stage_layer`] (GeoJSON in WGS84 or Shapefile in the working CRS, staged). A
//! Shapefile holds one geometry type, so a problems Shapefile is written as two files: polygons (gaps, overlaps,
//! spills, uncovered areas, split blocks) at the path given and lines (unclear boundaries, barrier crossings) beside
//! it as `<name>_lines.shp`.

use super::{CheckName, CheckResult, Unit, Validation};
use crate::crs::Crs;
use crate::io::atomic::Staging;
use crate::io::{stage_layer, Format, OutFeature};
use crate::Result;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use geo::Geometry;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Longest text a DBF field holds.
pub const DBF_TEXT: usize = 254;

/// One feature per unit: `unit_id`, `population`, `area_km2`, `pass`, then `<check>_value`, `<check>_threshold`,
/// `<check>_pass` for every check (null when not evaluated), then `reasons`.
pub fn unit_features(v: &Validation, units: &[Unit], max_text: Option<usize>) -> Vec<OutFeature> {
    v.units
        .iter()
        .zip(units)
        .map(|(r, u)| {
            let mut p = Map::new();
            p.insert("unit_id".into(), json!(r.unit_id));
            p.insert("population".into(), json!(r.population.map(|x| round(x, 1))));
            p.insert("area_km2".into(), json!(round(r.area_km2, 6)));
            p.insert("pass".into(), json!(r.pass));
            let mut reasons = Vec::new();
            for name in CheckName::ALL {
                let c = r.checks.get(&name);
                p.insert(
                    format!("{name}_value"),
                    json!(c.and_then(|c| c.value()).map(|x| round(x, 6))),
                );
                p.insert(format!("{name}_threshold"), json!(c.and_then(|c| c.threshold())));
                p.insert(format!("{name}_pass"), json!(c.and_then(|c| c.pass())));
                match c {
                    Some(CheckResult::Evaluated(e)) if !e.pass => {
                        reasons.extend(e.reasons.iter().map(|x| format!("{name}: {x}")))
                    }
                    _ => {}
                }
            }
            p.insert("reasons".into(), json!(clip_text(reasons.join("; "), max_text)));
            OutFeature {
                geometry: Some(Geometry::MultiPolygon(u.geometry.clone())),
                properties: p,
            }
        })
        .collect()
}

/// One feature per problem: `kind`, `unit_id`, `area_m2` or `length_m`, then its details.
pub fn problem_features(v: &Validation) -> Vec<OutFeature> {
    v.problems
        .iter()
        .map(|pr| {
            let mut p = Map::new();
            p.insert("kind".into(), json!(pr.kind.name()));
            p.insert("unit_id".into(), json!(pr.unit_id));
            p.insert("area_m2".into(), json!(pr.area_m2.map(|x| round(x, 2))));
            p.insert("length_m".into(), json!(pr.length_m.map(|x| round(x, 2))));
            for (k, val) in &pr.detail {
                p.insert(k.clone(), json!(val));
            }
            OutFeature {
                geometry: Some(pr.geometry.clone()),
                properties: p,
            }
        })
        .collect()
}

/// Writes the units layer.
pub fn write_units(
    path: &Path,
    crs: &Crs,
    v: &Validation,
    units: &[Unit],
    staging: &mut Staging,
) -> Result<()> {
    let max = (Format::of(path)? == Format::Shapefile).then_some(DBF_TEXT);
    stage_layer(path, crs, &unit_features(v, units, max), staging)
}

/// Writes the problems layer; returns every file written (two for a Shapefile with both polygons and lines).
pub fn write_problems(path: &Path, crs: &Crs, v: &Validation, staging: &mut Staging) -> Result<Vec<PathBuf>> {
    let features = problem_features(v);
    if Format::of(path)? != Format::Shapefile {
        stage_layer(path, crs, &features, staging)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let (lines, areas): (Vec<OutFeature>, Vec<OutFeature>) = features
        .into_iter()
        .partition(|f| matches!(f.geometry, Some(Geometry::MultiLineString(_))));
    let lines_path = problem_lines_path(path);
    let mut written = Vec::new();
    for (p, f) in [(path.to_path_buf(), areas), (lines_path, lines)] {
        if !f.is_empty() || written.is_empty() {
            stage_layer(&p, crs, &f, staging)?;
            written.push(p);
        }
    }
    Ok(written)
}

/// Where a Shapefile problems layer puts its lines (a Shapefile holds one geometry type): `p.shp` → `p_lines.shp`.
pub fn problem_lines_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}_lines.shp"))
}

/// The report JSON: `{"summary", "units", "thresholds"}`.
pub fn report_json(v: &Validation) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| crate::Error::input("report", e.to_string()))
}

/// Column headers of the terminal table, three letters so that the table fits 80 columns; the legend explains them.
const COLUMNS: [(CheckName, &str); 10] = [
    (CheckName::Geometry, "geo"),
    (CheckName::Partition, "par"),
    (CheckName::MinPopulation, "pop"),
    (CheckName::MinArea, "are"),
    (CheckName::BoundaryClarity, "bnd"),
    (CheckName::Barriers, "bar"),
    (CheckName::Facilities, "3+3"),
    (CheckName::ServiceCoverage, "srv"),
    (CheckName::CommunityIntegrity, "com"),
    (CheckName::Compactness, "PP"),
];

/// Only a line under the header: no vertical rules, so that eleven columns fit in 80.
const PRESET: &str = "     ──            ";

/// The unit × check table (✓ pass, ✗ fail, – not evaluated), with population and area, then a legend, the problem
/// counts and the checks not evaluated, wrapped to `width` columns.
pub fn table(v: &Validation, width: u16) -> String {
    let mut t = Table::new();
    t.load_preset(PRESET)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    let mut header = vec![Cell::new("unit"), Cell::new("people"), Cell::new("km²")];
    header.extend(COLUMNS.iter().map(|(_, h)| Cell::new(h)));
    header.push(Cell::new("pass"));
    t.set_header(header);
    for u in &v.units {
        let id: String = if u.unit_id.chars().count() > 14 {
            u.unit_id.chars().take(13).chain(['…']).collect()
        } else {
            u.unit_id.clone()
        };
        let mut row = vec![
            Cell::new(id),
            Cell::new(u.population.map_or("–".into(), |p| format!("{p:.0}")))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", u.area_km2)).set_alignment(CellAlignment::Right),
        ];
        for (name, _) in COLUMNS {
            let text = match (u.checks.get(&name), name.required()) {
                (Some(c), false) => c.value().map_or("–".into(), |x| format!("{x:.2}")),
                (Some(c), true) => match c.pass() {
                    Some(true) => "✓".into(),
                    Some(false) => "✗".into(),
                    None => "–".into(),
                },
                (None, _) => "–".into(),
            };
            row.push(Cell::new(text).set_alignment(CellAlignment::Center));
        }
        row.push(Cell::new(if u.pass { "✓" } else { "✗" }).set_alignment(CellAlignment::Center));
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 1));
    }
    let th = &v.thresholds;
    let mut out = t.to_string();
    out.push('\n');
    let legend = format!(
        "{} of {} units pass. ✓ pass, ✗ fail, – not evaluated. geo valid, one part; par no gap, overlap or \
         spill ≥ {} m²; pop ≥ {:.0} residents; are ≥ {} km²; bnd ≥ {:.0} % of boundary within {} m of a feature; \
         bar no expressway/railway inside; 3+3 required facilities; srv ≥ {:.0} % of residents within {:.0} m; \
         com blocks unsplit; PP Polsby–Popper compactness (reported only).",
        v.summary.passing,
        v.summary.units,
        th.partition_tolerance_m2,
        th.min_population,
        th.min_area_km2,
        th.boundary_share * 100.0,
        th.boundary_tolerance_m,
        th.service_share * 100.0,
        th.service_radius_m,
    );
    wrap(&mut out, &legend, width as usize, "");
    if !v.summary.problems.is_empty() {
        let p: Vec<String> = v
            .summary
            .problems
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        wrap(
            &mut out,
            &format!("Problems: {}.", p.join(", ")),
            width as usize,
            "",
        );
    }
    if !v.summary.not_evaluated.is_empty() {
        out.push_str("Not evaluated:\n");
        for (name, reason) in &v.summary.not_evaluated {
            wrap(&mut out, &format!("  {name}: {reason}"), width as usize, "    ");
        }
    }
    out
}

/// Appends `text` word-wrapped to `width` columns (its leading spaces kept), continuation lines starting with `indent`.
fn wrap(out: &mut String, text: &str, width: usize, indent: &str) {
    let body = text.trim_start();
    let mut line = text[..text.len() - body.len()].to_string();
    let mut fresh = true;
    for word in body.split_whitespace() {
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Shortens text to at most `max` bytes on a character boundary, ending in `…`.
fn clip_text(s: String, max: Option<usize>) -> Value {
    let Some(max) = max else { return Value::String(s) };
    if s.len() <= max {
        return Value::String(s);
    }
    let mut end = max - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Value::String(format!("{}…", &s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_respects_character_boundaries() {
        let s = "边界".repeat(100);
        let Value::String(c) = clip_text(s, Some(254)) else {
            panic!()
        };
        assert!(c.len() <= 254 && c.ends_with('…'));
    }
}
