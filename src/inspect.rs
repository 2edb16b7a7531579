//! `bmu inspect`: what a study area holds, measured in the working CRS, with warnings.
//!
//! The town's area is reported twice: planar in the working CRS and geodesic on the WGS84 ellipsoid (Karney's
//! algorithm through geo's `GeodesicArea`), so a wrong working CRS shows up as a disagreement.
//!
//! Before a `propose`, it answers "will my lines split this town?": the population the source puts in the town, the
//! length of each feature class inside the town (clipped, not the whole layer), and the blocks those lines would
//! cut the town into — by the very cleaning and slicing `propose` runs — with a warning when the largest block is
//! bigger than the area a unit needs (the town's area × `min_population` / its population: the area that holds a
//! unit's residents at the town's mean density). One 24 km² block cannot become several units however the solver
//! groups blocks; only another layer of lines (roads, rivers, a blocks layer) can split it.

use crate::crs::{Crs, Transformer};
use crate::model::{tally, FacilityStatus, StudyArea};
use crate::Result;
use geo::{Area, BooleanOps, BoundingRect, Euclidean, GeodesicArea, Geometry, Length, LineString};
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
    /// The population source and what it puts inside the town, when both are known.
    pub population: Option<PopulationSummary>,
    /// Length inside the town by feature class, km (lines clipped to the town).
    pub feature_km_in_town: BTreeMap<String, f64>,
    /// The blocks the town's lines would make (no blocks layer given), when there is a town.
    pub derived_blocks: Option<BlockPreview>,
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

/// The population of the town, by the source `validate` and `propose` use.
#[derive(Clone, Debug, Serialize)]
pub struct PopulationSummary {
    /// The source, as reports name it (the grid and how it is measured, or the blocks' counts).
    pub source: String,
    /// Residents inside the town.
    pub total: f64,
}

/// What the town's lines would cut it into: the blocks `propose` would derive.
#[derive(Clone, Debug, Serialize)]
pub struct BlockPreview {
    /// Number of blocks.
    pub count: usize,
    /// The largest block, km².
    pub largest_km2: f64,
    /// The median block, km².
    pub median_km2: f64,
    /// The area a unit needs at the town's mean density, km² (None without a population).
    pub unit_needs_km2: Option<f64>,
}

/// The blocks `propose` would derive from the town's recognisable lines, largest first (areas in m²).
fn preview_blocks(area: &StudyArea) -> Result<Option<Vec<f64>>> {
    let (Some(town), None) = (&area.town, &area.blocks) else {
        return Ok(None);
    };
    let p = &area.config.propose;
    let recognisable = &area.config.thresholds.recognisable_classes;
    let lines: Vec<LineString<f64>> = area
        .lines
        .iter()
        .filter(|l| recognisable.contains(&l.class))
        .flat_map(|l| l.geometry.0.iter().cloned())
        .collect();
    if lines.is_empty() {
        // Nothing cuts the town: its parts are the blocks. Slicing without a line would only cost time (minutes for a
        // 100,000-vertex town).
        let mut areas: Vec<f64> = town.geometry.0.iter().map(|p| p.unsigned_area()).collect();
        areas.sort_by(|a, b| b.total_cmp(a));
        return Ok(Some(areas));
    }
    let cleaned = crate::blocks::clean_lines(
        &lines,
        &town.geometry,
        &crate::blocks::CleanSettings {
            snap_tolerance_m: p.snap_tolerance_m,
            max_extension_m: p.max_extension_m,
        },
    );
    let blocks = crate::blocks::derive_blocks(&town.geometry, &cleaned.network(), p.min_block_area_m2)?;
    let mut areas: Vec<f64> = blocks.iter().map(|b| b.unsigned_area()).collect();
    areas.sort_by(|a, b| b.total_cmp(a));
    Ok(Some(areas))
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
    let feature_km_in_town = match &area.town {
        Some(t) => tally(area.lines.iter().map(|l| {
            (
                l.class.name().to_string(),
                Euclidean.length(&t.geometry.clip(&l.geometry, false)) / 1000.0,
            )
        })),
        None => BTreeMap::new(),
    };
    // inspect is where a broken source is diagnosed, so it reports one as a warning rather than stopping.
    let population = match (&area.town, crate::run::population_source(area)) {
        (Some(t), Ok(Some(source))) => match source.population(std::slice::from_ref(&t.geometry)) {
            Ok(p) => Some(PopulationSummary {
                source: source.describe(),
                total: p.iter().sum(),
            }),
            Err(e) => {
                warnings.push(format!("population could not be measured: {e}"));
                None
            }
        },
        (_, Err(e)) => {
            warnings.push(format!("population could not be measured: {e}"));
            None
        }
        _ => None,
    };
    let preview = preview_blocks(area).unwrap_or_else(|e| {
        warnings.push(format!("blocks could not be derived from the lines: {e}"));
        None
    });
    let derived_blocks = preview.map(|areas| {
        let unit_needs_km2 = match (&town, &population) {
            (Some(t), Some(p)) if p.total > 0.0 => {
                Some(t.area_km2 * area.config.thresholds.min_population / p.total)
            }
            _ => None,
        };
        BlockPreview {
            count: areas.len(),
            largest_km2: areas.first().copied().unwrap_or(0.0) / 1e6,
            median_km2: areas.get(areas.len() / 2).copied().unwrap_or(0.0) / 1e6,
            unit_needs_km2,
        }
    });
    if let Some(b) = &derived_blocks {
        if let Some(needs) = b.unit_needs_km2.filter(|n| b.largest_km2 > *n) {
            warnings.push(format!(
                "the largest block the lines make is {:.2} km², more than the {needs:.2} km² a unit needs at the \
                 town's mean density: no partition can split it; add a layer of lines that crosses it (roads, \
                 rivers) or give a blocks layer",
                b.largest_km2
            ));
        }
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
        population,
        feature_km_in_town,
        derived_blocks,
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
        writeln!(f, "\nLinear features (km):             layer  in the town")?;
        for (class, km) in &self.feature_km {
            let inside = self
                .feature_km_in_town
                .get(class)
                .map_or("–".to_string(), |k| format!("{k:.2}"));
            writeln!(f, "  {class:<12} {km:>22.2} {inside:>12}")?;
        }
        if let Some(b) = &self.derived_blocks {
            writeln!(
                f,
                "Blocks the lines would make: {} (largest {:.2} km², median {:.2} km²{})",
                b.count,
                b.largest_km2,
                b.median_km2,
                b.unit_needs_km2
                    .map_or(String::new(), |n| format!("; a unit needs {n:.2} km²"))
            )?;
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
        if let Some(p) = &self.population {
            writeln!(f, "Population in the town: {} ({})", p.total.round(), p.source)?;
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
