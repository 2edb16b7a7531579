//! Demand points and candidate sites for [`super::plan`]: demand squares clipped to the units and summed exactly
//! by the population source; candidates from the planner's layer or a lattice inside each unit.

use crate::crs::{Crs, Transformer};
use crate::io::{read_layer, ReadOptions};
use crate::model::{geometry_kind, StudyArea};
use crate::validate::{PopulationSource, Unit};
use crate::{Error, Result};
use geo::{
    BooleanOps, BoundingRect, Centroid, Contains, Distance, Euclidean, Geometry, InteriorPoint, Intersects,
    MultiPolygon, Point, Rect,
};
use rayon::prelude::*;
use std::path::Path;

/// Residents standing at one point, in one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand {
    /// The centroid of the square's part in the unit.
    pub location: Point<f64>,
    /// Its residents, from the population source.
    pub population: f64,
    /// The unit's index.
    pub unit: usize,
}

/// A place a facility could go.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteCandidate {
    /// Its id: the layer's `id` (else the feature's position), or `L<x>_<y>` for a lattice point.
    pub id: String,
    /// Where, in the working CRS.
    pub location: Point<f64>,
}

/// Squares of side `cell` on a lattice aligned to multiples of `cell`, clipped to each unit; their population
/// summed by `source` (exact cell fractions for a grid). Empty squares are dropped.
pub fn demand(units: &[Unit], source: &dyn PopulationSource, cell: f64) -> Result<Vec<Demand>> {
    let pieces: Vec<(usize, MultiPolygon<f64>)> = units
        .par_iter()
        .enumerate()
        .map(|(u, unit)| {
            lattice_rects(&unit.geometry, cell, 0.0)
                .into_iter()
                .filter_map(|r| {
                    let square = MultiPolygon(vec![r.to_polygon()]);
                    if !unit.geometry.intersects(&r) {
                        None
                    } else if unit.geometry.contains(&r) {
                        Some((u, square))
                    } else {
                        let clipped = unit.geometry.intersection(&square);
                        (!clipped.0.is_empty()).then_some((u, clipped))
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    let polygons: Vec<MultiPolygon<f64>> = pieces.iter().map(|(_, p)| p.clone()).collect();
    let population = source.population(&polygons)?;
    if population.len() != polygons.len() {
        return Err(Error::input(
            "population source",
            format!(
                "returned {} values for {} demand squares",
                population.len(),
                polygons.len()
            ),
        ));
    }
    Ok(pieces
        .iter()
        .zip(population)
        .filter(|(_, p)| *p > 0.0)
        .filter_map(|((u, piece), p)| {
            piece.centroid().map(|location| Demand {
                location,
                population: p,
                unit: *u,
            })
        })
        .collect())
}

/// Rectangles of side `step` covering the bounding box of `g`, aligned to multiples of `step` (shifted by
/// `offset`), row by row from the south-west.
fn lattice_rects(g: &MultiPolygon<f64>, step: f64, offset: f64) -> Vec<Rect<f64>> {
    let Some(b) = g.bounding_rect() else {
        return Vec::new();
    };
    if step.is_nan() || step <= 0.0 {
        return Vec::new();
    }
    let x0 = ((b.min().x - offset) / step).floor() * step + offset;
    let y0 = ((b.min().y - offset) / step).floor() * step + offset;
    let nx = ((b.max().x - x0) / step).ceil().max(1.0) as usize;
    let ny = ((b.max().y - y0) / step).ceil().max(1.0) as usize;
    let mut v = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for col in 0..nx {
            let (x, y) = (x0 + col as f64 * step, y0 + row as f64 * step);
            v.push(Rect::new((x, y), (x + step, y + step)));
        }
    }
    v
}

/// Lattice points `spacing` apart inside `unit`, at least `clearance` from water (rivers, canals) and barrier lines.
pub fn lattice(unit: &Unit, area: &StudyArea, spacing: f64, clearance: f64) -> Vec<SiteCandidate> {
    let barriers = &area.config.thresholds.barrier_classes;
    let lines: Vec<geo::LineString<f64>> = area
        .lines
        .iter()
        .filter(|l| {
            matches!(
                l.class,
                crate::vocab::FeatureClass::River | crate::vocab::FeatureClass::Canal
            ) || barriers.contains(&l.class)
        })
        .flat_map(|l| l.geometry.0.iter().cloned())
        .collect();
    let tree = crate::index::line_segment_tree(&lines, |_, _| ());
    lattice_rects(&unit.geometry, spacing, 0.0)
        .into_iter()
        .map(|r| r.center().into())
        .filter(|p: &Point<f64>| unit.geometry.contains(p))
        .filter(|p| {
            tree.locate_within_distance(*p, clearance * clearance)
                .next()
                .is_none()
        })
        .map(|p| SiteCandidate {
            id: format!("L{:.0}_{:.0}", p.x(), p.y()),
            location: p,
        })
        .collect()
}

/// The given candidates that can serve `unit`: inside it or within `radius` of it.
pub fn given_for(unit: &Unit, all: &[SiteCandidate], radius: f64) -> Vec<SiteCandidate> {
    let Some(b) = unit.geometry.bounding_rect() else {
        return Vec::new();
    };
    all.iter()
        .filter(|c| {
            let p = c.location;
            p.x() >= b.min().x - radius
                && p.x() <= b.max().x + radius
                && p.y() >= b.min().y - radius
                && p.y() <= b.max().y + radius
                && (unit.geometry.intersects(&p) || Euclidean.distance(&unit.geometry, &p) <= radius)
        })
        .cloned()
        .collect()
}

/// Reads a candidate layer: points, or polygons standing at their interior point, into the working CRS.
pub fn read(path: &Path, area: &StudyArea) -> Result<Vec<SiteCandidate>> {
    let options = ReadOptions {
        default_crs: area.config.crs.as_deref().map(Crs::parse).transpose()?,
        repair: area.config.repair,
        ..Default::default()
    };
    let layer = read_layer(path, &options)?;
    if layer.features.is_empty() {
        return Err(Error::format(path, "candidate sites layer has no features"));
    }
    let t = Transformer::new(&layer.crs, &area.working_crs)?;
    let id_field = layer
        .features
        .iter()
        .any(|f| f.get("id").is_some())
        .then_some("id");
    let mut out = Vec::with_capacity(layer.features.len());
    for f in &layer.features {
        let point = match &f.geometry {
            Some(Geometry::Point(p)) => *p,
            Some(Geometry::MultiPoint(mp)) if mp.0.len() == 1 => mp.0[0],
            Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => match g.interior_point() {
                Some(p) => p,
                None => return Err(layer.error(f, id_field, "polygon is empty")),
            },
            Some(other) => {
                return Err(layer.error(
                    f,
                    id_field,
                    format!("expected a point or polygon, found a {}", geometry_kind(other)),
                ))
            }
            None => return Err(layer.error(f, id_field, "geometry is null")),
        };
        let c = t
            .transform(point.0)
            .map_err(|e| layer.error(f, id_field, e.to_string()))?;
        if !(c.x.is_finite() && c.y.is_finite()) {
            return Err(layer.error(f, id_field, "coordinates are not finite"));
        }
        out.push(SiteCandidate {
            id: id_field
                .and_then(|k| f.text(k))
                .or_else(|| f.id.as_ref().and_then(crate::io::value_text))
                .unwrap_or_else(|| f.index.to_string()),
            location: Point(c),
        });
    }
    Ok(out)
}
