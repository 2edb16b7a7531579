//! What `validate` writes: the units layer with one value/threshold/pass triple per check, the problems layer and the
//! report JSON (the binary draws the terminal table).
//!
//! Layers go through [`crate::io::stage_layer`] (GeoJSON in WGS84 or Shapefile in the working CRS, staged). A
//! Shapefile holds one geometry type, so a problems Shapefile is written as two files: polygons (gaps, overlaps,
//! spills, uncovered areas, split blocks) at the path given and lines (unclear boundaries, barrier crossings) beside
//! it as `<name>_lines.shp`.

use super::{CheckResult, Unit, Validation};
use crate::crs::Crs;
use crate::io::atomic::Staging;
use crate::io::{stage_layer, Format, OutFeature};
use crate::Result;
use geo::Geometry;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// One feature per unit: `unit_id`, `population`, `area_km2`, `pass`, then `<check>_value`, `<check>_threshold`,
/// `<check>_pass` for every check (null when not evaluated, and for checks that are reported, not judged), then
/// `reasons`.
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
            for check in v.registry.iter() {
                let name = check.name();
                let c = r.checks.get(&name);
                p.insert(
                    format!("{name}_value"),
                    json!(c.and_then(|c| c.value()).map(|x| round(x, 6))),
                );
                p.insert(format!("{name}_threshold"), json!(c.and_then(|c| c.threshold())));
                p.insert(
                    format!("{name}_pass"),
                    json!(c.and_then(|c| c.pass()).filter(|_| check.required())),
                );
                match c {
                    Some(CheckResult::Evaluated(e)) if !e.pass => reasons.extend(
                        e.reasons
                            .iter()
                            .map(|x| format!("{name}: {}", x.text(crate::report::Lang::English))),
                    ),
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
