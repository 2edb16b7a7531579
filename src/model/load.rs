//! [`StudyArea::load`]: every layer a configuration names read, checked, classified and moved into the working CRS.

use super::ids::feature_id;
use super::summary::LayerSummary;
use super::types::{Block, Facility, LineFeature, SourceGeometry, Town};
use super::StudyArea;
use crate::config::Config;
use crate::crs::{Crs, Transformer};
use crate::io::{read_layer, CrsSource, Feature, Format, Layer, ReadOptions};
use crate::vocab::{FacilityStatus, FacilityType, FeatureClass};
use crate::{Error, Result};
use geo::{BoundingRect, Centroid, Geometry, LineString, MultiLineString, MultiPolygon, Point, Rect};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Margin around the town's lon/lat box within which OSM features are read: 0.02° is about 2.2 km north-south
/// and 1.9 km east-west at Shanghai's latitude.
const OSM_WINDOW_MARGIN_DEG: f64 = 0.02;

/// A layer read and transformed into the working CRS.
struct Loaded {
    layer: Layer,
    geometries: Vec<Option<Geometry<f64>>>,
}

impl StudyArea {
    /// Reads every layer `config` names. `source` names the configuration in messages.
    pub fn load(config: &Config) -> Result<StudyArea> {
        let default_crs = config.crs.as_deref().map(Crs::parse).transpose()?;
        let options = |crs: &Option<String>, window: Option<Rect<f64>>| -> Result<ReadOptions> {
            Ok(ReadOptions {
                repair: config.repair,
                crs: crs.as_deref().map(Crs::parse).transpose()?,
                default_crs: default_crs.clone(),
                encoding: None,
                window,
            })
        };
        let town_layer = config
            .town
            .as_ref()
            .map(|t| read_layer(&t.path, &options(&t.crs, None)?))
            .transpose()?;
        let block_layer = config
            .blocks
            .as_ref()
            .map(|b| read_layer(&b.path, &options(&b.crs, None)?))
            .transpose()?;
        // An OSM extract may cover a city: keep what lies near the town (else the blocks). The margin keeps the
        // roads just outside the boundary that checks and block derivation look at.
        let window = town_layer
            .iter()
            .chain(block_layer.iter())
            .find_map(wgs84_extent)
            .map(|[x0, y0, x1, y1]| {
                let m = OSM_WINDOW_MARGIN_DEG;
                Rect::new((x0 - m, y0 - m), (x1 + m, y1 + m))
            });
        let read =
            |path: &Path, crs: &Option<String>| -> Result<Layer> { read_layer(path, &options(crs, window)?) };

        let feature_layers = config
            .features
            .iter()
            .map(|f| read(&f.path, &f.crs))
            .collect::<Result<Vec<_>>>()?;
        let facility_layer = config
            .facilities
            .as_ref()
            .map(|f| read(&f.path, &f.crs))
            .transpose()?;
        let overlay_layers = config
            .overlays
            .iter()
            .map(|o| read(&o.path, &o.crs))
            .collect::<Result<Vec<_>>>()?;

        // The working CRS: configured, or the UTM zone of the town (else of the blocks, else of any layer).
        let working_crs = match config.working_crs.as_deref() {
            Some(w) if !w.eq_ignore_ascii_case("utm") => Crs::parse(w)?,
            _ => {
                let anchor = town_layer
                    .iter()
                    .chain(block_layer.iter())
                    .chain(feature_layers.iter())
                    .chain(facility_layer.iter())
                    .find_map(wgs84_extent)
                    .ok_or_else(|| match (&town_layer, &block_layer) {
                        // Name the layer that should have placed it, rather than the study area as a whole.
                        (Some(town), _) => without_geometry(
                            town,
                            "town",
                            config.town.as_ref().and_then(|t| t.id_field.as_deref()),
                        ),
                        (None, Some(blocks)) => without_geometry(
                            blocks,
                            "blocks",
                            config.blocks.as_ref().and_then(|b| b.id_field.as_deref()),
                        ),
                        _ => Error::input("study area", "no layer with geometry to place the working CRS"),
                    })?;
                Crs::utm_for((anchor[0] + anchor[2]) / 2.0, (anchor[1] + anchor[3]) / 2.0)?
            }
        };
        if working_crs.is_geographic() {
            return Err(Error::Crs {
                context: "working_crs".into(),
                crs: working_crs.to_string(),
                problem: "is geographic (degrees); bmu measures in metres: choose a projected CRS".into(),
            });
        }

        let mut layers = Vec::new();
        let mut inputs = Vec::new();
        let mut warnings = Vec::new();
        let mut project = |role: &str, layer: Layer| -> Result<Loaded> {
            warnings.extend(working_crs.zone_check(&layer.path, wgs84_extent(&layer))?);
            let t = Transformer::new(&layer.crs, &working_crs)?;
            let geometries = layer
                .features
                .iter()
                .map(|f| {
                    f.geometry
                        .clone()
                        .map(|mut g| {
                            t.transform_geometry_densified(&mut g)
                                .map_err(|e| layer.error(f, None, e.to_string()))?;
                            Ok(g)
                        })
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            layers.push(LayerSummary {
                role: role.to_string(),
                path: layer.path.clone(),
                features: layer.features.len(),
                crs: layer.crs.to_string(),
                crs_source: match layer.crs_source {
                    CrsSource::Declared => "declared",
                    CrsSource::Rfc7946 => "RFC 7946 default",
                    CrsSource::Configured => "configured",
                    CrsSource::Assumed => "assumed",
                }
                .into(),
                extent_wgs84: wgs84_extent(&layer),
            });
            inputs.push(layer.path.clone());
            warnings.extend(layer.warnings.iter().cloned());
            Ok(Loaded { layer, geometries })
        };

        let town = match (town_layer, &config.town) {
            (Some(layer), Some(tc)) => Some(build_town(project("town", layer)?, tc)?),
            _ => None,
        };
        let blocks = match (block_layer, &config.blocks) {
            (Some(layer), Some(bc)) => Some(build_blocks(project("blocks", layer)?, bc)?),
            _ => None,
        };
        let mut lines = Vec::new();
        for (layer, fc) in feature_layers.into_iter().zip(&config.features) {
            lines.extend(build_lines(project("features", layer)?, fc)?);
        }
        let mut facility_note = None;
        let facilities = match (facility_layer, &config.facilities) {
            (Some(layer), Some(fc)) => {
                let (facilities, note) = build_facilities(project("facilities", layer)?, fc)?;
                facility_note = note;
                facilities
            }
            _ => Vec::new(),
        };
        let mut overlays = Vec::new();
        for (layer, oc) in overlay_layers.into_iter().zip(&config.overlays) {
            overlays.extend(build_overlays(project("overlays", layer)?, oc)?);
        }
        warnings.extend(facility_note);

        let mut area = StudyArea {
            name: config
                .name
                .clone()
                .or_else(|| town.as_ref().map(|t| t.name.clone()))
                .unwrap_or_else(|| "study area".into()),
            config: config.clone(),
            working_crs,
            town,
            blocks,
            lines,
            facilities,
            overlays,
            layers,
            warnings,
            inputs,
            blocks_union: std::sync::OnceLock::new(),
        };
        area.warnings.extend(area.placement_warnings());
        Ok(area)
    }

    /// Facilities outside the town; layers far from the town.
    fn placement_warnings(&self) -> Vec<String> {
        use geo::{Contains, Distance, Euclidean};
        let mut out = Vec::new();
        let Some(town) = self.town_or_blocks() else {
            return out;
        };
        for f in self.facilities.iter().chain(&self.overlays) {
            if !town.contains(&f.location) {
                let d = Euclidean.distance(&f.location, &town);
                if d > 1.0 && self.facilities.iter().any(|x| x.id == f.id && x.kind == f.kind) {
                    out.push(format!(
                        "facility {} ({}) lies {:.0} m outside the town",
                        f.id, f.kind, d
                    ));
                }
            }
        }
        if let Some(town_box) = town.bounding_rect() {
            for l in &self.lines {
                if let Some(b) = l.geometry.bounding_rect() {
                    if rect_gap(&town_box, &b) > 10_000.0 {
                        out.push(format!(
                            "feature {} ({}) lies more than 10 km from the town: wrong CRS?",
                            l.id, l.class
                        ));
                        break;
                    }
                }
            }
        }
        out
    }
}

/// Why a layer that must have geometry has none: no features, or the first feature's geometry is null.
fn without_geometry(layer: &Layer, role: &str, id_field: Option<&str>) -> Error {
    if layer.features.is_empty() {
        return Error::format(&layer.path, format!("{role} layer has no features"));
    }
    match layer.features.iter().find(|f| f.geometry.is_none()) {
        Some(f) => layer.error(f, id_field, "geometry is null"),
        None => Error::format(&layer.path, format!("{role} layer has no usable geometry")),
    }
}

/// Distance between two rectangles (0 when they overlap).
fn rect_gap(a: &Rect<f64>, b: &Rect<f64>) -> f64 {
    let dx = (b.min().x - a.max().x).max(a.min().x - b.max().x).max(0.0);
    let dy = (b.min().y - a.max().y).max(a.min().y - b.max().y).max(0.0);
    dx.hypot(dy)
}

/// A layer's extent in WGS84 lon/lat.
fn wgs84_extent(layer: &Layer) -> Option<[f64; 4]> {
    let t = Transformer::new(&layer.crs, &Crs::wgs84()).ok()?;
    let mut ext: Option<[f64; 4]> = None;
    for g in layer.features.iter().filter_map(|f| f.geometry.as_ref()) {
        let Some(r) = g.bounding_rect() else { continue };
        for c in [r.min(), r.max()] {
            let Ok(p) = t.transform(c) else { continue };
            let e = ext.get_or_insert([p.x, p.y, p.x, p.y]);
            *e = [e[0].min(p.x), e[1].min(p.y), e[2].max(p.x), e[3].max(p.y)];
        }
    }
    ext
}

fn polygonal(
    layer: &Layer,
    f: &Feature,
    g: &Option<Geometry<f64>>,
    id_field: Option<&str>,
) -> Result<MultiPolygon<f64>> {
    match g {
        Some(Geometry::Polygon(p)) => Ok(MultiPolygon(vec![p.clone()])),
        Some(Geometry::MultiPolygon(mp)) => Ok(mp.clone()),
        Some(other) => Err(layer.error(
            f,
            id_field,
            format!("expected a polygon, found a {}", geometry_kind(other)),
        )),
        None => Err(layer.error(f, id_field, "geometry is null")),
    }
}

/// The GeoJSON-style name of a geometry type, for messages.
pub fn geometry_kind(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) | Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

fn require(layer: &Layer, field: &Option<String>) -> Result<()> {
    field.as_deref().map_or(Ok(()), |f| layer.require_field(f))
}

fn build_town(loaded: Loaded, tc: &crate::config::TownConfig) -> Result<Town> {
    let Loaded { layer, geometries } = loaded;
    require(&layer, &tc.id_field)?;
    require(&layer, &tc.name_field)?;
    if layer.features.is_empty() {
        return Err(Error::format(&layer.path, "town layer has no features"));
    }
    let chosen: Vec<usize> = match &tc.select {
        Some(sel) => layer
            .features
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                [&tc.id_field, &tc.name_field]
                    .iter()
                    .filter_map(|k| k.as_deref())
                    .any(|k| f.text(k).as_deref() == Some(sel))
            })
            .map(|(i, _)| i)
            .collect(),
        None => (0..layer.features.len()).collect(),
    };
    if chosen.is_empty() {
        return Err(Error::format(
            &layer.path,
            format!(
                "no feature matches town select `{}`",
                crate::io::shown(tc.select.as_deref().unwrap_or(""))
            ),
        ));
    }
    let mut parts = Vec::new();
    for &i in &chosen {
        let f = &layer.features[i];
        let polygons = polygonal(&layer, f, &geometries[i], tc.id_field.as_deref())?;
        // Every unit is cut from the town, so a bowtie or a stray hole would corrupt every area and partition
        // check downstream: an invalid town is an error, not a warning.
        refuse_invalid(&layer, f, &polygons, tc.id_field.as_deref(), "town")?;
        parts.extend(polygons.0);
    }
    let first = &layer.features[chosen[0]];
    let id = tc
        .id_field
        .as_deref()
        .and_then(|k| first.text(k))
        .unwrap_or_else(|| "town".into());
    let name = tc
        .name_field
        .as_deref()
        .and_then(|k| first.text(k))
        .unwrap_or_else(|| id.clone());
    let geometry = if chosen.len() == 1 {
        MultiPolygon(parts)
    } else {
        geo::unary_union(&parts)
    };
    Ok(Town { id, name, geometry })
}

/// Refuses an invalid polygon of the town or blocks layer, listing what geo's `Validation` rules find (through the
/// R-tree self-join of [`crate::validate::geometry`], so a 100,000-vertex boundary is checked in O(n log n)).
fn refuse_invalid(
    layer: &Layer,
    f: &Feature,
    polygons: &MultiPolygon<f64>,
    id_field: Option<&str>,
    role: &str,
) -> Result<()> {
    let problems = crate::validate::geometry::problems(polygons);
    if problems.is_empty() {
        return Ok(());
    }
    let listed: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    let more = match problems.len() {
        n if n > 3 => format!(" (and {} more)", n - 3),
        _ => String::new(),
    };
    Err(layer.error(
        f,
        id_field,
        format!(
            "{role} polygon is invalid: {}{more}; repair it (--repair, or QGIS \"Fix geometries\")",
            listed.join("; ")
        ),
    ))
}

fn build_blocks(loaded: Loaded, bc: &crate::config::BlocksConfig) -> Result<Vec<Block>> {
    let Loaded { layer, geometries } = loaded;
    require(&layer, &bc.id_field)?;
    require(&layer, &bc.population_field)?;
    if layer.features.is_empty() {
        return Err(Error::format(&layer.path, "blocks layer has no features"));
    }
    let id_field = bc.id_field.as_deref();
    let mut seen = std::collections::HashSet::new();
    let mut blocks = Vec::with_capacity(layer.features.len());
    let crs = std::sync::Arc::new(layer.crs.clone());
    for (f, g) in layer.features.iter().zip(&geometries) {
        let geometry = polygonal(&layer, f, g, id_field)?;
        // A bowtie's two lobes cancel in a signed area and its people would be counted twice by areal weighting:
        // an invalid block is refused like an invalid town (`--repair` rebuilds it first).
        refuse_invalid(&layer, f, &geometry, id_field, "block")?;
        let id = f.key_or_index(id_field);
        if !seen.insert(id.clone()) {
            return Err(layer.error(
                f,
                id_field,
                format!("duplicate block id `{}`", crate::io::shown(&id)),
            ));
        }
        let population = match bc.population_field.as_deref() {
            None => None,
            Some(k) => Some(count(&layer, f, k, id_field)?),
        };
        blocks.push(Block {
            id,
            geometry,
            population,
            source: SourceGeometry::of(f.geometry.as_ref(), &crs),
        });
    }
    Ok(blocks)
}

/// A non-negative number from a field (numbers, or numeric text as Chinese exports often store them).
pub fn count(layer: &Layer, f: &Feature, field: &str, id_field: Option<&str>) -> Result<f64> {
    let v = f.get(field);
    let n = match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().replace(',', "").parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
        Some(n) => Err(layer.error(f, id_field, format!("field `{field}` is {n}: counts must be ≥ 0"))),
        None => Err(layer.error(
            f,
            id_field,
            format!(
                "field `{field}` is not a number ({})",
                v.map_or("missing".into(), |v| v.to_string())
            ),
        )),
    }
}

fn build_lines(loaded: Loaded, fc: &crate::config::FeatureLayerConfig) -> Result<Vec<LineFeature>> {
    let Loaded { layer, geometries } = loaded;
    require(&layer, &fc.class_field)?;
    require(&layer, &fc.id_field)?;
    let fixed = match &fc.class {
        Some(c) => Some(FeatureClass::parse(c).ok_or_else(|| {
            Error::format(
                &layer.path,
                format!("configured class `{c}` is not a feature class"),
            )
        })?),
        None => None,
    };
    let mut out = Vec::new();
    for (f, g) in layer.features.iter().zip(&geometries) {
        let class = match fixed {
            Some(c) => Some(c),
            None => classify(f, fc),
        };
        // Features of no recognised class (e.g. OSM `highway=traffic_signals` nodes in the same file) are skipped.
        let Some(class) = class else { continue };
        let geometry = match g {
            Some(Geometry::LineString(l)) => MultiLineString(vec![l.clone()]),
            Some(Geometry::MultiLineString(ml)) => ml.clone(),
            Some(Geometry::Line(l)) => MultiLineString(vec![LineString::from(vec![l.start, l.end])]),
            Some(Geometry::Polygon(p)) => MultiLineString(
                std::iter::once(p.exterior().clone())
                    .chain(p.interiors().iter().cloned())
                    .collect(),
            ),
            Some(Geometry::MultiPolygon(mp)) => MultiLineString(
                mp.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned()))
                    .collect(),
            ),
            Some(Geometry::Point(_) | Geometry::MultiPoint(_)) => continue,
            Some(other) => {
                return Err(layer.error(
                    f,
                    fc.id_field.as_deref(),
                    format!("expected a line, found a {}", geometry_kind(other)),
                ))
            }
            None => continue,
        };
        out.push(LineFeature {
            // Lines of several layers meet in one list, so an index is qualified by its file.
            id: feature_id(&layer.path, f, fc.id_field.as_deref()),
            class,
            name: fc.name_field.as_deref().or(Some("name")).and_then(|k| f.text(k)),
            geometry,
            inferred: false,
        });
    }
    Ok(out)
}

/// The class of one feature: the configured field (through `class_map`), else OSM's `highway`/`waterway`/`railway`.
fn classify(f: &Feature, fc: &crate::config::FeatureLayerConfig) -> Option<FeatureClass> {
    let lookup = |v: String| {
        fc.class_map
            .get(&v)
            .and_then(|m| FeatureClass::parse(m))
            .or_else(|| FeatureClass::parse(&v))
    };
    // Before the class field: `class_field = "highway"` names the same tag, and the switch is about its value.
    if fc.elevated_barriers && elevated_trunk(f) {
        return Some(FeatureClass::Expressway);
    }
    if let Some(field) = &fc.class_field {
        return f.text(field).and_then(lookup);
    }
    [
        "highway",
        "tags.highway",
        "waterway",
        "tags.waterway",
        "railway",
        "tags.railway",
        "class",
    ]
    .iter()
    .find_map(|k| f.text(k).and_then(lookup))
}

/// An OSM `highway=trunk` on a bridge or above ground: an elevated road, which blocks movement like an expressway.
fn elevated_trunk(f: &Feature) -> bool {
    let tag = |k: &str| f.text(k).or_else(|| f.text(&format!("tags.{k}")));
    tag("highway").as_deref() == Some("trunk")
        && (tag("bridge").is_some_and(|b| b != "no")
            || tag("layer")
                .and_then(|l| l.trim().parse::<i32>().ok())
                .is_some_and(|l| l >= 1))
}

fn point_of(
    layer: &Layer,
    f: &Feature,
    g: &Option<Geometry<f64>>,
    id_field: Option<&str>,
) -> Result<Option<Point<f64>>> {
    match g {
        Some(Geometry::Point(p)) => Ok(Some(*p)),
        Some(Geometry::MultiPoint(mp)) if mp.0.len() == 1 => Ok(Some(mp.0[0])),
        Some(other @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => Ok(other.centroid()),
        Some(other) => Err(layer.error(
            f,
            id_field,
            format!("expected a point, found a {}", geometry_kind(other)),
        )),
        None => Ok(None),
    }
}

fn build_facilities(
    loaded: Loaded,
    fc: &crate::config::FacilitiesConfig,
) -> Result<(Vec<Facility>, Option<String>)> {
    let Loaded { layer, geometries } = loaded;
    // OSM points are typed by their tags (`amenity=police`), not by one field, unless a type field is configured.
    let by_tags = fc.type_field.is_none() && Format::of(&layer.path).is_ok_and(|f| f == Format::Osm);
    let type_field = fc.type_field.as_deref().unwrap_or("type");
    if !by_tags {
        layer.require_field(type_field)?;
    }
    require(&layer, &fc.status_field)?;
    require(&layer, &fc.id_field)?;
    let id_field = fc.id_field.as_deref();
    let mut out = Vec::new();
    let mut untyped = 0;
    for (f, g) in layer.features.iter().zip(&geometries) {
        if by_tags {
            // Ways of the extract are lines, not facilities; points that map to no type are other amenities.
            if !matches!(g, Some(Geometry::Point(_))) {
                continue;
            }
            let Some(kind) = osm_facility_type(f, &fc.type_map) else {
                untyped += 1;
                continue;
            };
            let Some(Geometry::Point(location)) = g else {
                continue;
            };
            out.push(Facility {
                id: feature_id(&layer.path, f, id_field),
                kind,
                status: FacilityStatus::Existing,
                name: fc.name_field.as_deref().or(Some("name")).and_then(|k| f.text(k)),
                location: *location,
            });
            continue;
        }
        let Some(location) = point_of(&layer, f, g, id_field)? else {
            return Err(layer.error(f, id_field, "geometry is null"));
        };
        let raw = f.text(type_field).unwrap_or_default();
        let kind = fc
            .type_map
            .get(&raw)
            .and_then(|m| FacilityType::parse(m))
            .or_else(|| FacilityType::parse(&raw))
            .ok_or_else(|| {
                layer.error(
                    f,
                    id_field,
                    format!(
                        "facility type `{}` is not in the vocabulary (map it in [facilities.type_map])",
                        crate::io::shown(&raw)
                    ),
                )
            })?;
        // Without a configured field (flags only) the status is still read where the layer has the usual field, so
        // that a "规划" facility never counts as existing because no `bmu.toml` named the field.
        let status_field = fc.status_field.as_deref().or_else(|| {
            FacilityStatus::DEFAULT_FIELDS
                .into_iter()
                .find(|k| f.text(k).is_some_and(|s| !s.trim().is_empty()))
        });
        let status = match status_field {
            None => FacilityStatus::Existing,
            Some(k) => {
                let s = f.text(k).unwrap_or_default();
                FacilityStatus::parse(&s).ok_or_else(|| {
                    layer.error(
                        f,
                        id_field,
                        format!(
                            "status `{}` is neither existing nor planned",
                            crate::io::shown(&s)
                        ),
                    )
                })?
            }
        };
        out.push(Facility {
            id: feature_id(&layer.path, f, id_field),
            kind,
            status,
            name: fc.name_field.as_deref().or(Some("name")).and_then(|k| f.text(k)),
            location,
        });
    }
    let note = (untyped > 0).then(|| {
        format!(
            "{}: {untyped} point(s) of interest map to no facility type and were left out (map their tags in \
             [facilities.type_map], e.g. \"amenity=townhall\" = \"affairs\")",
            layer.path.display()
        )
    });
    Ok((out, note))
}

/// An OSM point's facility type: a `[facilities.type_map]` entry for one of its tags (`"amenity=townhall"`, or
/// `"office=*"` for any value), in tag order, else the built-in table of [`FacilityType::from_osm_tags`].
fn osm_facility_type(f: &Feature, type_map: &BTreeMap<String, String>) -> Option<FacilityType> {
    let tags = f.properties.iter().filter(|(k, _)| k.as_str() != "osm_id");
    for (k, v) in tags {
        let Some(v) = v.as_str() else { continue };
        let mapped = type_map
            .get(&format!("{k}={v}"))
            .or_else(|| type_map.get(&format!("{k}=*")));
        if let Some(t) = mapped.and_then(|m| FacilityType::parse(m)) {
            return Some(t);
        }
    }
    FacilityType::from_osm_tags(|k| f.properties.get(k).and_then(Value::as_str))
}

fn build_overlays(loaded: Loaded, oc: &crate::config::OverlayConfig) -> Result<Vec<Facility>> {
    let Loaded { layer, geometries } = loaded;
    let kind = FacilityType::parse(&oc.kind).ok_or_else(|| {
        Error::format(
            &layer.path,
            format!("overlay type `{}` is not in the vocabulary", oc.kind),
        )
    })?;
    let id_field = oc.id_field.as_deref().or(Some("id"));
    let mut out = Vec::new();
    for (f, g) in layer.features.iter().zip(&geometries) {
        let Some(location) = point_of(&layer, f, g, id_field)? else {
            continue;
        };
        out.push(Facility {
            id: feature_id(&layer.path, f, id_field),
            kind,
            status: FacilityStatus::Existing,
            name: oc.name_field.as_deref().or(Some("name")).and_then(|k| f.text(k)),
            location,
        });
    }
    Ok(out)
}
