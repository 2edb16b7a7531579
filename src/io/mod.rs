//! Reading and writing vector layers: GeoJSON and ESRI Shapefile in and out; OpenStreetMap (`.osm`, `.osm.pbf`)
//! in only; GeoPackage, KML, CSV and XLSX out only.
//!
//! Every layer is read into one in-memory model — [`Layer`]: features with an optional geometry and JSON-like
//! attributes, plus the CRS the file declares (GeoJSON's legacy `crs` member or RFC 7946 WGS84; a Shapefile's
//! `.prj`). Outputs go through the run's `atomic::Staging`: temporary files renamed into place together once the
//! whole run succeeded, never over an input.

pub mod atomic;
pub mod geojson;
pub mod gpkg;
pub mod kml;
pub mod osm;
pub(crate) mod shapefile;
pub mod table;

use crate::crs::Crs;
use crate::{Error, Result};
use geo::Geometry;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Where a layer's CRS came from, for `inspect` and warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrsSource {
    /// Declared by the file (GeoJSON `crs` member, Shapefile `.prj`).
    Declared,
    /// RFC 7946 GeoJSON without a `crs` member: WGS84 lon/lat.
    Rfc7946,
    /// Given by the configuration or a flag.
    Configured,
    /// Not declared anywhere; assumed WGS84 because every coordinate is a valid lon/lat.
    Assumed,
}

/// One feature: an optional geometry (null geometries are kept so messages can name them) and its attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    /// 0-based position in the file, used in messages.
    pub index: usize,
    /// The GeoJSON `id` member, when present.
    pub id: Option<Value>,
    /// The geometry, in the layer's CRS (None for a null geometry).
    pub geometry: Option<Geometry<f64>>,
    /// The attributes.
    pub properties: Map<String, Value>,
}

impl Feature {
    /// The value of a field; `a.b` reaches into nested objects (OSM exports keep tags in a `tags` object).
    pub fn get(&self, field: &str) -> Option<&Value> {
        if let Some(v) = self.properties.get(field) {
            return Some(v);
        }
        let mut parts = field.split('.');
        let mut v = self.properties.get(parts.next()?)?;
        for part in parts {
            v = v.as_object()?.get(part)?;
        }
        Some(v)
    }

    /// A field as text (numbers are formatted; null and missing are None).
    pub fn text(&self, field: &str) -> Option<String> {
        value_text(self.get(field)?)
    }

    /// The feature's id, by the one rule every layer follows: the `id_field` when given and filled, else the
    /// GeoJSON `id` member. None when it has neither (callers then use the 0-based index).
    pub fn key(&self, id_field: Option<&str>) -> Option<String> {
        id_field
            .and_then(|f| self.text(f))
            .or_else(|| self.id.as_ref().and_then(value_text))
    }

    /// [`Feature::key`], or the 0-based index as text.
    pub fn key_or_index(&self, id_field: Option<&str>) -> String {
        self.key(id_field).unwrap_or_else(|| self.index.to_string())
    }

    /// How messages name this feature: its id when it has one, else its index.
    pub fn label(&self, id_field: Option<&str>) -> String {
        let id = self.key(id_field);
        match id {
            Some(id) => format!("{} (id {})", self.index, shown(&id)),
            None => self.index.to_string(),
        }
    }
}

/// Input text quoted in a message: control characters escaped (a newline in an attribute must not break the
/// one-line error), and cut to 60 characters.
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == 57 && text.chars().count() > 60 {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The problem of a CRS error without its context (`` `EPSG:999999`: unknown code ``), for readers and the
/// configuration to prefix with where the CRS was named.
pub fn crs_problem(e: Error) -> String {
    match e {
        Error::Crs { crs, problem, .. } => format!("`{crs}`: {problem}"),
        other => other.to_string(),
    }
}

/// Text of a JSON scalar (integers without a trailing `.0`).
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A vector layer read from a file.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The file read.
    pub path: PathBuf,
    /// The layer's CRS.
    pub crs: Crs,
    /// Where the CRS came from.
    pub crs_source: CrsSource,
    /// The features, in file order.
    pub features: Vec<Feature>,
    /// Attribute names in file order (the union over features for GeoJSON).
    pub fields: Vec<String>,
    /// Non-fatal observations made while reading (encoding fallback, assumed CRS…).
    pub warnings: Vec<String>,
}

impl Layer {
    /// Fails with a message listing the available fields when `field` is in no feature.
    pub fn require_field(&self, field: &str) -> Result<()> {
        if self.fields.iter().any(|f| f == field) || self.features.iter().any(|f| f.get(field).is_some()) {
            return Ok(());
        }
        Err(Error::MissingField {
            path: self.path.clone(),
            field: field.to_string(),
            available: if self.fields.is_empty() {
                "none".into()
            } else {
                self.fields.join(", ")
            },
        })
    }

    /// A feature-level error for this layer.
    pub fn error(&self, feature: &Feature, id_field: Option<&str>, problem: impl Into<String>) -> Error {
        Error::feature(&self.path, feature.label(id_field), problem)
    }
}

/// How to read a layer.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Overrides whatever the file declares.
    pub crs: Option<Crs>,
    /// Used when the file declares nothing (Shapefile without `.prj`); GeoJSON falls back to RFC 7946 WGS84.
    pub default_crs: Option<Crs>,
    /// DBF text encoding label (`UTF-8`, `GBK`, …) overriding the `.cpg`.
    pub encoding: Option<String>,
    /// Repair what can be repaired safely (`--repair`): close open rings, orient rings, make self-intersecting
    /// polygons valid. Every change is listed in the layer's warnings.
    pub repair: bool,
    /// Features wholly outside this lon/lat box are skipped while reading (OSM only: a city extract read for one
    /// town keeps the town's features, not the city's).
    pub window: Option<geo::Rect<f64>>,
}

/// A path's extension in lower case (`""` when it has none): formats are chosen by it throughout.
pub fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The vector formats `bmu` reads and writes, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// GeoJSON (`.geojson`, `.json`), written in WGS84.
    GeoJson,
    /// ESRI Shapefile (`.shp` with `.shx`, `.dbf`, `.prj`).
    Shapefile,
    /// OpenStreetMap XML (`.osm`) or PBF (`.osm.pbf`, `.pbf`): read only.
    Osm,
    /// OGC GeoPackage (`.gpkg`), written in the features' CRS; output only.
    GeoPackage,
    /// KML 2.2 (`.kml`), written in WGS84; output only.
    Kml,
    /// Attributes as CSV (`.csv`, UTF-8 with a byte-order mark for Excel); output only.
    Csv,
    /// Attributes as an Excel workbook (`.xlsx`); output only.
    Xlsx,
}

/// What `--out`-like flags accept, for messages.
pub const WRITABLE: &str = ".geojson, .json, .shp, .gpkg, .kml, .csv or .xlsx";

impl Format {
    /// The format a path's extension names (readable or not: [`read_layer`] refuses the output-only ones).
    pub fn of(path: &Path) -> Result<Format> {
        let ext = extension(path);
        match ext.as_str() {
            "geojson" | "json" => Ok(Format::GeoJson),
            "shp" => Ok(Format::Shapefile),
            "osm" | "pbf" => Ok(Format::Osm),
            "gpkg" => Ok(Format::GeoPackage),
            "kml" => Ok(Format::Kml),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "" => Err(Error::format(
                path,
                format!("no file extension to name the format (read .geojson, .json, .shp, .osm or .osm.pbf; write {WRITABLE})"),
            )),
            _ => Err(Error::format(
                path,
                format!("unsupported vector format `.{ext}` (read .geojson, .json, .shp, .osm or .osm.pbf; write {WRITABLE})"),
            )),
        }
    }

    /// Whether `bmu` reads this format as a layer.
    pub fn readable(self) -> bool {
        matches!(self, Format::GeoJson | Format::Shapefile | Format::Osm)
    }
}

/// Refuses an input that is not a regular file once links are followed: a directory, a device (`/dev/zero` would be
/// read until memory runs out), a FIFO or socket, a dangling link or a link loop, each said as what it is.
pub fn check_input_file(path: &Path) -> Result<()> {
    let problem = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => return Ok(()),
        Ok(m) if m.is_dir() => "is a directory, not a file".to_string(),
        Ok(_) => "is not a regular file (a device, FIFO or socket): refusing to read it".to_string(),
        Err(e) => match std::fs::read_link(path) {
            Ok(target) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("is a symbolic link to {}, which does not exist", target.display())
            }
            // ELOOP's own words: "Too many levels of symbolic links".
            Ok(_) => format!("is a symbolic link that cannot be followed (a loop?): {e}"),
            Err(_) if e.kind() == std::io::ErrorKind::NotFound => "no such file".to_string(),
            Err(_) => format!("cannot open: {e}"),
        },
    };
    Err(Error::format(path, problem))
}

/// Reads a GeoJSON or Shapefile layer.
pub fn read_layer(path: &Path, options: &ReadOptions) -> Result<Layer> {
    check_input_file(path)?;
    let format = Format::of(path)?;
    let output_only = || {
        Error::format(
            path,
            format!(
                "unsupported vector format `.{}` for an input (bmu reads .geojson, .json and .shp; it writes \
                 {WRITABLE})",
                extension(path)
            ),
        )
    };
    if !format.readable() {
        return Err(output_only());
    }
    if format == Format::Shapefile {
        // The sidecars are read too; any of them may be a link to a device.
        for ext in atomic::SHAPEFILE_PARTS {
            for sidecar in [
                path.with_extension(ext),
                path.with_extension(ext.to_ascii_uppercase()),
            ] {
                if sidecar.symlink_metadata().is_ok() {
                    check_input_file(&sidecar)?;
                }
            }
        }
    }
    let mut layer = match format {
        Format::GeoJson => geojson::read(path, options)?,
        Format::Shapefile => shapefile::read(path, options)?,
        Format::Osm => osm::read(path, options)?,
        Format::GeoPackage | Format::Kml | Format::Csv | Format::Xlsx => return Err(output_only()),
    };
    if let Some(crs) = &options.crs {
        layer.crs = crs.clone();
        layer.crs_source = CrsSource::Configured;
    }
    check_coordinates(&layer)?;
    if options.repair {
        repair_polygons(&mut layer);
    }
    orient_polygons(&mut layer);
    Ok(layer)
}

/// Every polygon's rings in one orientation — exterior counter-clockwise, holes clockwise — whatever the file had.
///
/// RFC 7946 asks readers to accept either winding, Shapefiles are clockwise by convention, and a union or difference
/// made in QGIS or geopandas may leave a clockwise exterior. Downstream, signed areas, geodesic areas (a clockwise
/// ring on the ellipsoid encloses the rest of the Earth) and overlay fill rules all read winding, so it is fixed once
/// here, silently and always: a ring's direction carries no meaning a user could have intended.
fn orient_polygons(layer: &mut Layer) {
    for f in &mut layer.features {
        if let Some(g) = &mut f.geometry {
            orient_geometry(g);
        }
    }
}

/// Orients the polygons of a geometry in place (exterior counter-clockwise, holes clockwise).
pub fn orient_geometry(g: &mut Geometry<f64>) {
    use geo::orient::{Direction, Orient};
    match g {
        Geometry::Polygon(p) => *p = p.orient(Direction::Default),
        Geometry::MultiPolygon(mp) => *mp = mp.orient(Direction::Default),
        Geometry::GeometryCollection(gc) => gc.0.iter_mut().for_each(orient_geometry),
        _ => {}
    }
}

/// `--repair` for polygons: rings oriented (exterior counter-clockwise, holes clockwise) and invalid polygons
/// (self-intersections, bow-ties, holes outside) rebuilt with geo's `MakeValid`. Each change goes to the layer's
/// warnings with the feature and, for `MakeValid`, the area before and after, so nothing changes silently.
fn repair_polygons(layer: &mut Layer) {
    use geo::orient::{Direction, Orient};
    use geo::{Area, MakeValid, MultiPolygon, Validation, Winding};
    let mut notes = Vec::new();
    for f in &mut layer.features {
        let Some(g) = &f.geometry else { continue };
        let mp = match g {
            Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
            Geometry::MultiPolygon(mp) => mp.clone(),
            _ => continue,
        };
        let label = f.label(None);
        let mut changed = mp.clone();
        let misoriented =
            mp.0.iter()
                .any(|p| p.exterior().is_cw() || p.interiors().iter().any(|r| r.is_ccw()));
        if misoriented {
            changed = changed.orient(Direction::Default);
            notes.push(format!(
                "{}: feature {label}: repaired: ring orientation",
                layer.path.display()
            ));
        }
        if !changed.is_valid() {
            let problem = changed
                .validation_errors()
                .first()
                .map(|e| e.to_string())
                .unwrap_or_default();
            match changed.make_valid() {
                Ok(valid) => {
                    notes.push(format!(
                        "{}: feature {label}: repaired: made valid ({problem}); area {:.6} -> {:.6} (layer units²)",
                        layer.path.display(),
                        changed.unsigned_area(),
                        valid.unsigned_area()
                    ));
                    changed = valid;
                }
                Err(e) => notes.push(format!(
                    "{}: feature {label}: could not repair ({problem}): {e}",
                    layer.path.display()
                )),
            }
        }
        if changed != mp {
            f.geometry = Some(match (g, changed.0.len()) {
                (Geometry::Polygon(_), 1) => Geometry::Polygon(changed.0.remove(0)),
                _ => Geometry::MultiPolygon(changed),
            });
        }
    }
    layer.warnings.extend(notes);
}

/// Refuses NaN/infinite coordinates, and projected-looking coordinates in a layer that claims lon/lat.
fn check_coordinates(layer: &Layer) -> Result<()> {
    use geo::CoordsIter;
    let geographic = layer.crs.is_geographic();
    for feature in &layer.features {
        let Some(g) = &feature.geometry else { continue };
        for c in g.coords_iter() {
            if !c.x.is_finite() || !c.y.is_finite() {
                return Err(layer.error(feature, None, "coordinate is NaN or infinite"));
            }
            if geographic && (c.x.abs() > 180.0 || c.y.abs() > 90.0) {
                // (31.2, 121.3) is Shanghai written latitude first, as many spreadsheets and some WFS servers do.
                let hint = if c.x.abs() <= 90.0 && c.y.abs() <= 180.0 {
                    "latitude out of range: longitude and latitude swapped? GeoJSON is [longitude, latitude]"
                } else {
                    "projected coordinates? declare the CRS (`crs` in bmu.toml or --crs)"
                };
                return Err(layer.error(
                    feature,
                    None,
                    format!(
                        "coordinate {} is not a longitude/latitude but the layer's CRS is {}: {hint}",
                        coordinate_text(c),
                        layer.crs
                    ),
                ));
            }
            if !geographic && (c.x.abs() > 1e8 || c.y.abs() > 1e8) {
                return Err(layer.error(
                    feature,
                    None,
                    format!("coordinate {} is out of range", coordinate_text(c)),
                ));
            }
        }
    }
    Ok(())
}

/// `(x, y)` for messages: exponent notation for absurd magnitudes, which `{}` would print as 300 digits.
fn coordinate_text(c: geo::Coord<f64>) -> String {
    let one = |v: f64| {
        if v.abs() >= 1e9 {
            format!("{v:e}")
        } else {
            format!("{v}")
        }
    };
    format!("({}, {})", one(c.x), one(c.y))
}

/// A feature to write: geometry plus ordered attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct OutFeature {
    /// The geometry, in the CRS passed to the writer.
    pub geometry: Option<Geometry<f64>>,
    /// The attributes.
    pub properties: Map<String, Value>,
}

impl From<&Feature> for OutFeature {
    /// A feature read from a layer, to be written again as it is.
    fn from(f: &Feature) -> Self {
        OutFeature {
            geometry: f.geometry.clone(),
            properties: f.properties.clone(),
        }
    }
}

/// Writes features held in `crs` to `path` by extension, into the run's `staging` (which refuses inputs): GeoJSON
/// and KML in WGS84 (RFC 7946, KML 2.2); Shapefile (with `.prj`, a UTF-8 `.cpg` and, where needed, a key of
/// shortened names and a side table of long text) and GeoPackage in `crs`; CSV and XLSX as attributes only.
pub fn stage_layer(
    path: &Path,
    crs: &Crs,
    features: &[OutFeature],
    staging: &mut atomic::Staging,
) -> Result<()> {
    match Format::of(path)? {
        Format::GeoJson => geojson::write(path, crs, features, staging),
        Format::Shapefile => shapefile::write(path, crs, features, staging),
        Format::Osm => Err(Error::format(
            path,
            "bmu reads OpenStreetMap but does not write it: write .geojson or .shp",
        )),
        Format::GeoPackage => gpkg::write(path, crs, features, staging),
        Format::Kml => kml::write(path, crs, features, staging),
        Format::Csv => table::write_csv(path, features, staging),
        Format::Xlsx => table::write_xlsx(path, features, staging),
    }
}

/// Writes one layer on its own, as [`stage_layer`] in a run with no other output: all its files or none, never
/// over a file in `inputs`.
pub fn write_layer(path: &Path, crs: &Crs, features: &[OutFeature], inputs: &[&Path]) -> Result<()> {
    let mut staging = atomic::Staging::new(inputs);
    stage_layer(path, crs, features, &mut staging)?;
    staging.commit()
}
