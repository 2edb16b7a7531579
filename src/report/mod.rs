//! Reports people hand in and maps analysts open: the HTML dossier, the map as SVG or PNG.
//!
//! Everything here is computed from what a verb returned ([`Outcome`]: units, their [`Validation`], the
//! [`Proposal`]) and the [`StudyArea`] it ran on, so a report can never show something the checks did not find.
//!
//! - `html`: one self-contained HTML file — inline CSS and SVG, no script, no external style, font or tile — with
//!   the map, a summary, one table row per unit and one column per check, each column linked to the policy clause
//!   it enforces (沪民区划〔2018〕6号 一(一), 一(三); the service-radius card; the 2024 draft standard), the
//!   candidates compared and the unassigned blocks. It prints on A4.
//! - `svg`: the map, in the working CRS, north up, with scale bar, north arrow and legend.
//! - `png`: the same SVG rendered by resvg with the system's fonts.
//! - `palette`, `labels`: unit colours where neighbours differ; label placement without overlap.
//! - `unit_page`, `sizhi`, `candidates`, `synthetic`: a page per unit with its 四至, blocks, facilities and
//!   coverage; candidates side by side with stable ids; the synthetic-data banner.
//!
//! Outputs are byte-identical for the same inputs: no date, no absolute path, fixed number formats.

pub(crate) mod candidates;
pub(crate) mod html;
pub(crate) mod i18n;
pub mod json;
pub mod labels;
pub mod palette;
pub(crate) mod pdf;
pub(crate) mod png;
pub(crate) mod sizhi;
pub(crate) mod svg;
pub(crate) mod synthetic;
pub(crate) mod unit_page;

pub use html::dossier;
pub use i18n::Lang;
pub use json::Report;

use crate::io::atomic::Staging;
use crate::model::{Facility, FacilityType, LineFeature, StudyArea};
use crate::propose::pipeline::Proposal;
use crate::run::Outcome;
use crate::validate::{Problem, Validation};
use crate::{Error, Result};
use geo::{BoundingRect, LineString, MultiPolygon, Rect};
use std::path::Path;

/// What the map draws, gathered from an outcome and its study area.
pub struct MapData<'a> {
    /// The study area.
    pub area: &'a StudyArea,
    /// The town boundary, when there is one.
    pub town: Option<MultiPolygon<f64>>,
    /// The units drawn.
    pub units: Vec<MapUnit>,
    /// Blocks a proposal left out of every unit.
    pub unassigned: Vec<MultiPolygon<f64>>,
    /// Features read from layers.
    pub lines: Vec<&'a LineFeature>,
    /// Lines the cleaning step added (drawn dashed).
    pub inferred: Vec<LineString<f64>>,
    /// Facilities drawn.
    pub facilities: &'a [Facility],
    /// Overlay features drawn.
    pub overlays: &'a [Facility],
    /// Facilities `bmu site` proposed (drawn with their own symbol).
    pub proposed: &'a [crate::site::ProposedSite],
    /// Problem geometries drawn.
    pub problems: &'a [Problem],
    /// Types whose service radius is drawn.
    pub service_types: Vec<FacilityType>,
    /// Service radius, metres.
    pub service_radius_m: f64,
}

/// One unit on the map.
pub struct MapUnit {
    /// The unit's id.
    pub id: String,
    /// The unit, in the working CRS.
    pub geometry: MultiPolygon<f64>,
    /// None when the unit was not validated.
    pub pass: Option<bool>,
    /// Its population, when known.
    pub population: Option<f64>,
    /// Its area, km².
    pub area_km2: f64,
}

impl<'a> MapData<'a> {
    /// The map of `outcome` on `area`.
    pub fn new(area: &'a StudyArea, outcome: &'a Outcome) -> Self {
        let reports = outcome
            .validation
            .as_ref()
            .map(|v| v.units.as_slice())
            .unwrap_or(&[]);
        let units = outcome
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let r = reports.get(i).filter(|r| r.unit_id == u.id);
                MapUnit {
                    id: u.id.clone(),
                    geometry: u.geometry.clone(),
                    pass: r.map(|r| r.pass),
                    population: r.and_then(|r| r.population),
                    area_km2: r.map_or_else(|| geo::Area::unsigned_area(&u.geometry) / 1e6, |r| r.area_km2),
                }
            })
            .collect();
        let (unassigned, mut inferred) = match &outcome.proposal {
            Some(p) => (unassigned_geometry(p), p.blocks.inferred.clone()),
            None => (Vec::new(), Vec::new()),
        };
        inferred.extend(
            area.lines
                .iter()
                .filter(|l| l.inferred)
                .flat_map(|l| l.geometry.0.iter().cloned()),
        );
        let t = &area.config.thresholds;
        MapData {
            area,
            town: area.town.as_ref().map(|t| t.geometry.clone()),
            units,
            unassigned,
            lines: area.lines.iter().filter(|l| !l.inferred).collect(),
            inferred,
            facilities: &area.facilities,
            overlays: &area.overlays,
            proposed: outcome
                .report
                .proposed_sites
                .as_ref()
                .map_or(&[], |p| p.sites.as_slice()),
            problems: outcome.validation.as_ref().map_or(&[], |v| v.problems.as_slice()),
            service_types: t.service_types.clone(),
            service_radius_m: t.service_radius_m,
        }
    }

    /// What the map frames: the town, the units and the unassigned blocks.
    pub fn extent(&self) -> Option<Rect<f64>> {
        let boxes = self
            .town
            .iter()
            .chain(self.units.iter().map(|u| &u.geometry))
            .chain(self.unassigned.iter())
            .filter_map(|g| g.bounding_rect());
        boxes.reduce(|a, b| {
            Rect::new(
                geo::Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                geo::Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
    }
}

fn unassigned_geometry(p: &Proposal) -> Vec<MultiPolygon<f64>> {
    let Some(best) = p.solution.candidates.first() else {
        return Vec::new();
    };
    (0..p.blocks.ids.len())
        .filter(|&b| best.labels.get(b).copied().flatten().is_none())
        .map(|b| p.blocks.geometry[b].clone())
        .collect()
}

/// The validation of every candidate of a proposal, best first, as the verb computed them (never run again here).
pub fn candidate_validations(_area: &StudyArea, outcome: &Outcome) -> Result<Vec<Option<Validation>>> {
    if outcome.proposal.is_none() {
        return Ok(Vec::new());
    }
    let mut out = vec![outcome.validation.clone()];
    out.extend(outcome.other_candidates.iter().map(|c| c.validation.clone()));
    Ok(out)
}

/// Writes the dossier of `outcome` to `path`, into the run's `staging` (which refuses inputs).
pub fn write_html(
    path: &Path,
    area: &StudyArea,
    outcome: &Outcome,
    lang: Lang,
    staging: &mut Staging,
) -> Result<()> {
    let page = html::dossier(area, outcome, lang)?;
    staging.write(path, page.as_bytes())
}

/// Writes the map as `.svg` or `.png`, by extension, into the run's `staging` (which refuses inputs).
pub fn write_map(
    path: &Path,
    area: &StudyArea,
    outcome: &Outcome,
    lang: Lang,
    staging: &mut Staging,
) -> Result<()> {
    let svg = svg::map(&MapData::new(area, outcome), lang, true);
    let ext = crate::io::extension(path);
    match ext.as_str() {
        "svg" => staging.write(path, svg.as_bytes()),
        "png" => staging.write(path, &png::render(&svg, 2.0)?),
        "pdf" => staging.write(path, &pdf::render(&svg)?),
        _ => Err(Error::input(
            path.display().to_string(),
            "unknown map format: use .svg, .png or .pdf",
        )),
    }
}

/// Escapes text for HTML and SVG (element content and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thousands separators: 20,512.
pub fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("江桥\u{1}"), "江桥\u{fffd}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(fmt_int(20512.4), "20,512");
        assert_eq!(fmt_int(999.0), "999");
        assert_eq!(fmt_int(-1234567.0), "-1,234,567");
        assert_eq!(fmt_int(0.0), "0");
    }
}
