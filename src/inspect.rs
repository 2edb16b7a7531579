//! `bmu inspect`: what a study area holds, measured in the working CRS, with warnings.
//!
//! The town's area is reported twice: planar in the working CRS and geodesic on the WGS84 ellipsoid (Karney's
//! algorithm through geo's `GeodesicArea`), so a wrong working CRS shows up as a disagreement.

use crate::crs::{Crs, Transformer};
use crate::model::{tally, FacilityStatus, StudyArea};
use crate::Result;
use geo::{Area, BoundingRect, Euclidean, GeodesicArea, Geometry, Length};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The summary `inspect` prints (and can emit as JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// The study area's name.
    pub name: String,
    /// The working CRS, as `EPSG:n` or a PROJ string.
    pub working_crs: String,
    /// Every layer read.
    pub layers: Vec<crate::model::LayerSummary>,
    /// The town, when a town layer is given.
    pub town: Option<TownSummary>,
    /// Number of blocks, when a blocks layer is given.
    pub blocks: Option<usize>,
    /// Length inside and around the study area by feature class, km.
    pub feature_km: BTreeMap<String, f64>,
    /// Facilities by type: [existing, planned].
    pub facilities: BTreeMap<String, [usize; 2]>,
    /// Overlay features by kind.
    pub overlays: BTreeMap<String, usize>,
    /// The population grid's path, when one is configured.
    pub population_grid: Option<String>,
    /// Everything worth a second look: facilities outside the town, distant layers, missing types.
    pub warnings: Vec<String>,
}

/// The town's identity and size.
#[derive(Clone, Debug, Serialize)]
pub struct TownSummary {
    /// The town's id.
    pub id: String,
    /// The town's name.
    pub name: String,
    /// Number of polygon parts.
    pub parts: usize,
    /// Area in the working CRS, km².
    pub area_km2: f64,
    /// Area on the ellipsoid, km².
    pub geodesic_area_km2: f64,
    /// Extent in the working CRS: [min x, min y, max x, max y].
    pub extent: [f64; 4],
}

/// Summarises a loaded study area.
pub fn inspect(area: &StudyArea) -> Result<Inspection> {
    let town = match &area.town {
        None => None,
        Some(t) => {
            let mut wgs = Geometry::MultiPolygon(t.geometry.clone());
            Transformer::new(&area.working_crs, &Crs::wgs84())?.transform_geometry_densified(&mut wgs)?;
            // On the ellipsoid a clockwise ring encloses the rest of the Earth: orient before measuring.
            crate::io::orient_geometry(&mut wgs);
            let r = t.geometry.bounding_rect();
            Some(TownSummary {
                id: t.id.clone(),
                name: t.name.clone(),
                parts: t.geometry.0.len(),
                area_km2: t.geometry.unsigned_area() / 1e6,
                geodesic_area_km2: wgs.geodesic_area_unsigned() / 1e6,
                extent: r.map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y]),
            })
        }
    };
    let feature_km = tally(
        area.lines
            .iter()
            .map(|l| (l.class.name().to_string(), Euclidean.length(&l.geometry) / 1000.0)),
    );
    let mut facilities: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for f in &area.facilities {
        let e = facilities.entry(f.kind.name().to_string()).or_default();
        e[usize::from(f.status == FacilityStatus::Planned)] += 1;
    }
    let mut overlays: BTreeMap<String, usize> = BTreeMap::new();
    for o in &area.overlays {
        *overlays.entry(o.kind.name().to_string()).or_default() += 1;
    }
    let mut warnings = area.warnings.clone();
    for required in &area.config.thresholds.required_facilities {
        if !facilities.contains_key(required.name()) {
            warnings.push(format!("no facility of required type `{required}`"));
        }
    }
    if area.lines.is_empty() {
        warnings.push("no linear features: boundary clarity and block derivation cannot be evaluated".into());
    }
    Ok(Inspection {
        name: area.name.clone(),
        working_crs: area.working_crs.to_string(),
        layers: area.layers.clone(),
        town,
        blocks: area.blocks.as_ref().map(Vec::len),
        feature_km,
        facilities,
        overlays,
        population_grid: area
            .config
            .population
            .as_ref()
            .and_then(|p| p.grid.as_ref())
            .map(|g| g.display().to_string()),
        warnings,
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Study area: {}", self.name)?;
        writeln!(f, "Working CRS: {}", self.working_crs)?;
        writeln!(f, "\nLayers:")?;
        for l in &self.layers {
            let ext = l.extent_wgs84.map_or("empty".to_string(), |e| {
                format!("lon {:.4}..{:.4}, lat {:.4}..{:.4}", e[0], e[2], e[1], e[3])
            });
            writeln!(
                f,
                "  {:<10} {:>6} features  CRS {} ({})  {}\n             {}",
                l.role,
                l.features,
                l.crs,
                l.crs_source,
                ext,
                l.path.display()
            )?;
        }
        if let Some(t) = &self.town {
            writeln!(f, "\nTown: {} (id {}), {} part(s)", t.name, t.id, t.parts)?;
            writeln!(
                f,
                "  area {:.3} km² in the working CRS, {:.3} km² geodesic",
                t.area_km2, t.geodesic_area_km2
            )?;
            writeln!(
                f,
                "  extent x {:.0}..{:.0} m, y {:.0}..{:.0} m",
                t.extent[0], t.extent[2], t.extent[1], t.extent[3]
            )?;
        }
        if let Some(n) = self.blocks {
            writeln!(f, "Blocks: {n}")?;
        }
        writeln!(f, "\nLinear features (km):")?;
        for (class, km) in &self.feature_km {
            writeln!(f, "  {class:<12} {km:>9.2}")?;
        }
        writeln!(f, "\nFacilities (existing / planned):")?;
        for (kind, [e, p]) in &self.facilities {
            writeln!(f, "  {kind:<20} {e:>4} / {p:<4}")?;
        }
        if !self.overlays.is_empty() {
            writeln!(f, "Overlays:")?;
            for (kind, n) in &self.overlays {
                writeln!(f, "  {kind:<20} {n:>4}")?;
            }
        }
        if let Some(g) = &self.population_grid {
            writeln!(f, "Population grid: {g}")?;
        }
        if !self.warnings.is_empty() {
            writeln!(f, "\nWarnings:")?;
            for w in &self.warnings {
                writeln!(f, "  - {w}")?;
            }
        }
        Ok(())
    }
}
