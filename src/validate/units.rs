//! Reading the units to validate, and refusing units that cannot be validated.
//!
//! Bad input is an error naming the file, the feature and the problem (exit code 2), never a failed check: an empty
//! layer, a feature that is not a polygon, a missing or duplicate id, or a unit that does not overlap the town at all
//! (almost always a wrong CRS or the wrong town). Everything else — invalid rings, several parts, slivers, spill —
//! is a finding of the checks.

use super::Unit;
use crate::crs::{Crs, Transformer};
use crate::io::{read_layer, ReadOptions};
use crate::model::{geometry_kind, StudyArea};
use crate::{Error, Result};
use geo::{Area, BooleanOps, BoundingRect, Geometry, Intersects, MultiPolygon};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// Reads a units layer (GeoJSON or Shapefile) into the working CRS of `area`.
///
/// `id_field` names the unit id; without it the GeoJSON `id` member is used, else the 0-based feature index.
/// Repairs made under `--repair` are appended to `notes`.
pub fn read_units(
    path: &Path,
    id_field: Option<&str>,
    area: &StudyArea,
    notes: &mut Vec<String>,
) -> Result<Vec<Unit>> {
    let options = ReadOptions {
        crs: None,
        default_crs: area.config.crs.as_deref().map(Crs::parse).transpose()?,
        encoding: None,
        repair: area.config.repair,
        window: None,
    };
    let layer = read_layer(path, &options)?;
    notes.extend(layer.warnings.iter().cloned());
    if layer.features.is_empty() {
        return Err(Error::format(path, "units layer has no features"));
    }
    if let Some(f) = id_field {
        layer.require_field(f)?;
    }
    let t = Transformer::new(&layer.crs, &area.working_crs)?;
    let crs = std::sync::Arc::new(layer.crs.clone());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut units = Vec::with_capacity(layer.features.len());
    // Densifying and reprojecting is most of reading a large layer: in parallel, in layer order; the errors are
    // taken below in feature order, as a sequential read finds them.
    let geometries: Vec<Result<MultiPolygon<f64>>> = layer
        .features
        .par_iter()
        .map(|f| {
            let mut geometry = match &f.geometry {
                Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => g.clone(),
                Some(other) => {
                    return Err(layer.error(
                        f,
                        id_field,
                        format!("expected a polygon, found a {}", geometry_kind(other)),
                    ))
                }
                None => return Err(layer.error(f, id_field, "geometry is null")),
            };
            t.transform_geometry_densified(&mut geometry)
                .map_err(|e| layer.error(f, id_field, e.to_string()))?;
            let geometry = match geometry {
                Geometry::Polygon(p) => MultiPolygon(vec![p]),
                Geometry::MultiPolygon(mp) => mp,
                _ => return Err(layer.error(f, id_field, "geometry changed type in transformation")),
            };
            if geometry.0.is_empty() {
                return Err(layer.error(f, id_field, "polygon is empty"));
            }
            Ok(geometry)
        })
        .collect();
    for (f, geometry) in layer.features.iter().zip(geometries) {
        let geometry = geometry?;
        let id = match id_field {
            Some(k) => f
                .text(k)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| layer.error(f, id_field, format!("unit id field `{k}` is empty")))?,
            None => f.key_or_index(None),
        };
        if let Some(first) = seen.insert(id.clone(), f.index) {
            return Err(layer.error(
                f,
                id_field,
                format!("duplicate unit id `{id}` (also feature {first})"),
            ));
        }
        units.push(Unit {
            id,
            geometry,
            source: crate::model::SourceGeometry::of(f.geometry.as_ref(), &crs),
            population: None,
        });
    }
    if let Some(town) = area.town_or_blocks() {
        check_overlap_town(&units, &town, |u, problem| {
            let index = units.iter().position(|x| x.id == u.id).unwrap_or(0);
            Error::feature(path, format!("{index} (id {})", u.id), problem)
        })?;
    }
    Ok(units)
}

/// Refuses a units layer none of whose units has area in common with the town; `error` builds the message's
/// context.
pub(crate) fn check_overlap_town(
    units: &[Unit],
    town: &MultiPolygon<f64>,
    error: impl Fn(&Unit, String) -> Error,
) -> Result<()> {
    let town_box = town.bounding_rect();
    let overlaps = |u: &Unit| match (u.geometry.bounding_rect(), town_box) {
        (Some(a), Some(b)) if a.intersects(&b) => {
            let near = super::parts_near(town, a);
            u.geometry.intersects(&near) && u.geometry.intersection(&near).unsigned_area() > 0.0
        }
        _ => false,
    };
    // One stray unit (a polygon of another vintage, an exclave) is a partition problem — its whole area spills —
    // and is reported by the `partition` check. Only a layer none of whose units touch the town is an error: wrong
    // CRS, or units of another town.
    if !units.iter().any(overlaps) {
        if let Some(u) = units.first() {
            return Err(error(
                u,
                "does not overlap the town at all, nor does any other unit (wrong CRS, or units of another town?)"
                    .into(),
            ));
        }
    }
    Ok(())
}
