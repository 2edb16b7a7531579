//! Coordinate reference systems and transformations.
//!
//! `bmu` measures everything in metres in a projected *working CRS* (default: the UTM zone of the study area; e.g.
//! `EPSG:4549`, CGCS2000 3-degree Gauss–Krüger CM 120°E, is a common choice in Shanghai). Inputs may come in any CRS
//! that can be named by an EPSG/ESRI code, a PROJ string or WKT, plus the two Chinese web-map systems GCJ-02 (Amap,
//! Tencent) and BD-09 (Baidu), which are obfuscated WGS84 and are converted with the published formulas
//! (`chinese`).
//!
//! Two interchangeable backends sit behind [`Transformer`]:
//! - [`Backend::Pure`] — `proj4rs` with EPSG definitions from `crs-definitions` and WKT read by `proj4wkt`; builds
//!   with cargo alone, so a fresh machine runs everything;
//! - [`Backend::Proj`] (cargo feature `proj`) — full PROJ 9.6 with its EPSG database and WKT2.

pub(crate) mod chinese;
#[cfg(feature = "proj")]
mod full;
mod pure;

use crate::{Error, Result};
use geo::{Coord, Geometry, LineString, Polygon};
use std::fmt;
use std::path::Path;

/// Degrees of longitude/latitude beyond which a geographic coordinate cannot be real.
const MAX_LON: f64 = 180.0;
const MAX_LAT: f64 = 90.0;

/// Degrees of longitude from a transverse Mercator working CRS's central meridian beyond which a layer gets a
/// warning: 3° beyond the edge of a 6° UTM zone, where areas are already about 1 % too large.
pub const ZONE_WARN_DEG: f64 = 6.0;
/// Degrees beyond which a layer is refused: areas there are 20 % or more off at Shanghai's latitude.
pub const ZONE_REFUSE_DEG: f64 = 30.0;

/// A coordinate reference system as the user named it, with what `bmu` understood of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Crs {
    /// The name as given (`EPSG:4326`, a PROJ string, WKT…), used in messages and reports.
    label: String,
    def: Definition,
}

#[derive(Clone, Debug, PartialEq)]
enum Definition {
    /// An authority code with its PROJ string (pure backend) — PROJ itself uses the code.
    Code {
        authority: &'static str,
        code: u32,
        proj: String,
    },
    /// A PROJ string given directly.
    ProjString(String),
    /// WKT (1 or 2) with the PROJ string `proj4wkt` made of it (None when it could not).
    Wkt { wkt: String, proj: Option<String> },
    /// GCJ-02 lon/lat (Amap, Tencent).
    Gcj02,
    /// BD-09 lon/lat (Baidu).
    Bd09,
}

/// PROJ strings for the few non-EPSG codes planners meet (GHS-POP's Mollweide).
const ESRI_CODES: &[(u32, &str)] = &[
    (
        54009,
        "+proj=moll +lon_0=0 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        53009,
        "+proj=moll +lon_0=0 +x_0=0 +y_0=0 +a=6371000 +b=6371000 +units=m +no_defs",
    ),
    (
        102100,
        "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs",
    ),
];

/// ESRI's own WKT for the codes in [`ESRI_CODES`], as ArcGIS writes them in a `.prj`.
const ESRI_WKT: &[(u32, &str)] = &[
    (
        54009,
        "PROJCS[\"World_Mollweide\",GEOGCS[\"GCS_WGS_1984\",DATUM[\"D_WGS_1984\",SPHEROID[\"WGS_1984\",6378137.0,\
         298.257223563]],PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",0.0174532925199433]],PROJECTION[\"Mollweide\"],\
         PARAMETER[\"False_Easting\",0.0],PARAMETER[\"False_Northing\",0.0],PARAMETER[\"Central_Meridian\",0.0],\
         UNIT[\"Meter\",1.0]]",
    ),
    (
        53009,
        "PROJCS[\"Sphere_Mollweide\",GEOGCS[\"GCS_Sphere\",DATUM[\"D_Sphere\",SPHEROID[\"Sphere\",6371000.0,0.0]],\
         PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",0.0174532925199433]],PROJECTION[\"Mollweide\"],\
         PARAMETER[\"False_Easting\",0.0],PARAMETER[\"False_Northing\",0.0],PARAMETER[\"Central_Meridian\",0.0],\
         UNIT[\"Meter\",1.0]]",
    ),
    (
        102100,
        "PROJCS[\"WGS_1984_Web_Mercator_Auxiliary_Sphere\",GEOGCS[\"GCS_WGS_1984\",DATUM[\"D_WGS_1984\",\
         SPHEROID[\"WGS_1984\",6378137.0,298.257223563]],PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",\
         0.0174532925199433]],PROJECTION[\"Mercator_Auxiliary_Sphere\"],PARAMETER[\"False_Easting\",0.0],\
         PARAMETER[\"False_Northing\",0.0],PARAMETER[\"Central_Meridian\",0.0],PARAMETER[\"Standard_Parallel_1\",0.0],\
         PARAMETER[\"Auxiliary_Sphere_Type\",0.0],UNIT[\"Meter\",1.0]]",
    ),
];

impl Crs {
    /// WGS84 longitude/latitude (`EPSG:4326`), the CRS of RFC 7946 GeoJSON.
    pub fn wgs84() -> Crs {
        Crs {
            label: "EPSG:4326".into(),
            def: Definition::Code {
                authority: "EPSG",
                code: 4326,
                proj: "+proj=longlat +datum=WGS84 +no_defs".into(),
            },
        }
    }

    /// The UTM zone (WGS84) containing a longitude/latitude, e.g. `EPSG:32651` for Shanghai.
    pub fn utm_for(lon: f64, lat: f64) -> Result<Crs> {
        let zone = (((lon + 180.0) / 6.0).floor() as i64).clamp(0, 59) + 1;
        let code = if lat >= 0.0 { 32600 } else { 32700 } + zone as u32;
        Crs::parse(&format!("EPSG:{code}"))
    }

    /// Understands `EPSG:n`, `ESRI:n`, OGC URNs (`urn:ogc:def:crs:EPSG::4490`, `…:OGC:1.3:CRS84`), `WGS84`,
    /// `CRS84`, PROJ strings (`+proj=…`), WKT (`GEOGCS[…`, `PROJCS[…`, WKT2 `GEOGCRS[…`), `GCJ-02` and `BD-09`.
    pub fn parse(text: &str) -> Result<Crs> {
        let label = text.trim().to_string();
        let unknown = |problem: &str| Error::Crs {
            context: "CRS".into(),
            crs: short(&label),
            problem: problem.into(),
        };
        let upper = label.to_ascii_uppercase();
        let compact: String = upper.chars().filter(|c| !matches!(c, '-' | '_' | ' ')).collect();
        let def = match compact.as_str() {
            "GCJ02" | "GCJ" | "AMAP" => Definition::Gcj02,
            "BD09" | "BD09LL" | "BAIDU" => Definition::Bd09,
            "WGS84"
            | "CRS84"
            | "OGC:CRS84"
            | "URN:OGC:DEF:CRS:OGC:1.3:CRS84"
            | "URN:OGC:DEF:CRS:OGC::CRS84" => {
                return Ok(Crs {
                    label,
                    ..Crs::wgs84()
                })
            }
            _ if label.starts_with('+') => {
                pure::check_proj_string(&label).map_err(|e| unknown(&e))?;
                Definition::ProjString(label.clone())
            }
            _ if looks_like_wkt(&upper) => {
                let proj = proj4wkt::wkt_to_projstring(&label)
                    .ok()
                    .filter(|p| pure::check_proj_string(p).is_ok());
                if proj.is_none() && !cfg!(feature = "proj") {
                    return Err(unknown(
                        "WKT not understood by the pure-Rust backend (build with --features proj for WKT2)",
                    ));
                }
                Definition::Wkt {
                    wkt: label.clone(),
                    proj,
                }
            }
            _ => {
                let (authority, code) = parse_code(&upper)
                    .ok_or_else(|| unknown("not an EPSG/ESRI code, PROJ string, WKT, GCJ-02 or BD-09"))?;
                let proj = match authority {
                    "EPSG" => u16::try_from(code)
                        .ok()
                        .and_then(crs_definitions::from_code)
                        .map(|d| d.proj4.to_string()),
                    _ => ESRI_CODES
                        .iter()
                        .find(|(c, _)| *c == code)
                        .map(|(_, p)| p.to_string()),
                }
                .ok_or_else(|| unknown("unknown code"))?;
                if code == 4326 && authority == "EPSG" {
                    return Ok(Crs {
                        label,
                        ..Crs::wgs84()
                    });
                }
                Definition::Code {
                    authority,
                    code,
                    proj,
                }
            }
        };
        Ok(Crs { label, def })
    }

    /// The name as the user gave it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `EPSG:n` (or `ESRI:n`) when the CRS is known by a code.
    pub fn code(&self) -> Option<String> {
        match &self.def {
            Definition::Code { authority, code, .. } => Some(format!("{authority}:{code}")),
            _ => None,
        }
    }

    /// True for longitude/latitude systems (degrees), which must never be used for measuring.
    pub fn is_geographic(&self) -> bool {
        match &self.def {
            Definition::Gcj02 | Definition::Bd09 => true,
            _ => self
                .proj_string()
                .is_some_and(|p| p.contains("+proj=longlat") || p.contains("+proj=latlong")),
        }
    }

    /// True for WGS84 lon/lat itself (no transformation needed to write RFC 7946 GeoJSON).
    pub fn is_wgs84(&self) -> bool {
        matches!(
            self.def,
            Definition::Code {
                authority: "EPSG",
                code: 4326,
                ..
            }
        )
    }

    /// The PROJ string the pure backend uses (None for GCJ-02/BD-09 and WKT it could not read).
    pub(crate) fn proj_string(&self) -> Option<&str> {
        match &self.def {
            Definition::Code { proj, .. } | Definition::ProjString(proj) => Some(proj),
            Definition::Wkt { proj, .. } => proj.as_deref(),
            Definition::Gcj02 | Definition::Bd09 => None,
        }
    }

    /// WKT for a `.prj` file: the EPSG definition's WKT (ESRI-compatible WKT1), or the WKT given.
    pub fn to_wkt(&self) -> Option<String> {
        match &self.def {
            Definition::Code {
                authority: "EPSG",
                code,
                ..
            } => u16::try_from(*code)
                .ok()
                .and_then(crs_definitions::from_code)
                .map(|d| d.wkt.to_string()),
            Definition::Code {
                authority: "ESRI",
                code,
                ..
            } => ESRI_WKT
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, w)| w.to_string()),
            Definition::Wkt { wkt, .. } => Some(wkt.clone()),
            // A PROJ string or GCJ-02/BD-09 has no WKT: writers that must declare a CRS refuse rather than write an
            // empty `.prj`.
            _ => None,
        }
    }

    /// Why this CRS cannot serve as the working CRS although it parses and is projected: it must measure about one
    /// unit per metre on the ground. A scale factor of 0 (`+k=0`) collapses every polygon to a line, and `+units=km`
    /// or `us-ft` would turn every area and radius into the wrong unit; without this check the town is blamed for it.
    /// The scale is probed east and north of the CRS's central meridian at Shanghai's latitude.
    pub fn measuring_problem(&self) -> Option<String> {
        let lon = self.central_meridian().map_or(121.47, |(lon, _)| lon);
        let lat = 31.23;
        let t = match Transformer::new(&Crs::wgs84(), self) {
            Ok(t) => t,
            // PROJ refuses a degenerate pipeline outright where proj4rs builds one: the same words either way.
            Err(e) => {
                return Some(format!(
                "is degenerate: cannot project into it ({e}); bmu needs a CRS in metres at a scale near 1 \
                     (check +k and +units)"
            ))
            }
        };
        // A small step in degrees and its length on the sphere: enough to tell a sound scale from a broken one.
        let step = 0.01_f64;
        let metres = |d: f64| d.to_radians() * 6_371_008.8;
        let at = |x: f64, y: f64| t.transform(Coord { x, y });
        let (origin, east, north) = match (at(lon, lat), at(lon + step, lat), at(lon, lat + step)) {
            (Ok(o), Ok(e), Ok(n)) => (o, e, n),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                return Some(format!("cannot project ({lon}°E, {lat}°N): {e}"))
            }
        };
        let scale_east = (east.x - origin.x).hypot(east.y - origin.y) / metres(step * lat.to_radians().cos());
        let scale_north = (north.x - origin.x).hypot(north.y - origin.y) / metres(step);
        let sound = |s: f64| s.is_finite() && (0.5..=2.0).contains(&s);
        if sound(scale_east) && sound(scale_north) {
            return None;
        }
        Some(format!(
            "is degenerate: at ({lon}°E, {lat}°N) one metre on the ground measures {} east and {} north in it; \
             bmu needs a CRS in metres at a scale near 1 (check +k and +units)",
            rounded(scale_east),
            rounded(scale_north)
        ))
    }

    /// Metres in one unit of a projected CRS, from its PROJ string (`+to_meter`, `+units`): a grid in feet or
    /// kilometres still gets densified to a millimetre on the ground. 1 when the string does not say.
    fn metres_per_unit(&self) -> f64 {
        let Some(proj) = self.proj_string() else {
            return 1.0;
        };
        let param = |name: &str| proj.split_whitespace().find_map(|p| p.strip_prefix(name));
        if let Some(m) = param("+to_meter=").and_then(|v| v.parse::<f64>().ok()) {
            if m.is_finite() && m > 0.0 {
                return m;
            }
        }
        match param("+units=") {
            Some("km") => 1_000.0,
            Some("dm") => 0.1,
            Some("cm") => 0.01,
            Some("mm") => 0.001,
            Some("ft") => 0.3048,
            Some("us-ft") => 1_200.0 / 3_937.0,
            Some("yd") => 0.9144,
            Some("mi") => 1_609.344,
            Some("us-mi") => 1_609.347_218_694_437,
            _ => 1.0,
        }
    }

    /// The central meridian and scale factor of a transverse Mercator CRS (UTM, Gauss–Krüger), from its PROJ
    /// string; None for other projections, whose area of use bmu does not judge.
    fn central_meridian(&self) -> Option<(f64, f64)> {
        let proj = self.proj_string()?;
        let param = |name: &str| {
            proj.split_whitespace()
                .find_map(|p| p.strip_prefix(name))
                .and_then(|v| v.parse::<f64>().ok())
        };
        if proj.contains("+proj=utm") {
            let zone = param("+zone=")?;
            Some((zone * 6.0 - 183.0, 0.9996))
        } else if proj.contains("+proj=tmerc") || proj.contains("+proj=etmerc") {
            Some((
                param("+lon_0=").unwrap_or(0.0),
                param("+k=").or_else(|| param("+k_0=")).unwrap_or(1.0),
            ))
        } else {
            None
        }
    }

    /// Whether a layer with this WGS84 extent (`[min lon, min lat, max lon, max lat]`) can be measured in this
    /// transverse Mercator working CRS. A zone is drawn 3° either side of its central meridian; distortion grows
    /// with the square of the distance from it, so a layer more than [`ZONE_WARN_DEG`] away gets a warning with
    /// the area error, and one more than [`ZONE_REFUSE_DEG`] away is refused: its areas (a town at −121° in UTM 51N
    /// measures 104 km² for 42) would be fiction.
    pub fn zone_check(&self, layer: &Path, extent: Option<[f64; 4]>) -> Result<Option<String>> {
        let (Some((meridian, k0)), Some([min_lon, min_lat, max_lon, max_lat])) =
            (self.central_meridian(), extent)
        else {
            return Ok(None);
        };
        let away = |lon: f64| ((lon - meridian + 540.0).rem_euclid(360.0) - 180.0).abs();
        let far = away(min_lon).max(away(max_lon));
        if far <= ZONE_WARN_DEG {
            return Ok(None);
        }
        // Point scale of the transverse Mercator on the sphere, k0 / √(1 − (cos φ sin Δλ)²), at the layer's latitude
        // nearest the equator, where it is largest; areas scale by its square.
        let lat = if min_lat <= 0.0 && max_lat >= 0.0 {
            0.0
        } else {
            min_lat.abs().min(max_lat.abs())
        };
        let b = lat.to_radians().cos() * far.to_radians().sin();
        let scale = k0 / (1.0 - b * b).max(1e-12).sqrt();
        let area_error = (scale * scale - 1.0) * 100.0;
        let problem = format!(
            "working_crs is {far:.1}° of longitude from this layer (its central meridian is {meridian}°E, {:.1}° \
             beyond its zone): areas measured here are off by about {area_error:.1} %",
            far - 3.0
        );
        if far > ZONE_REFUSE_DEG {
            return Err(Error::Crs {
                context: layer.display().to_string(),
                crs: self.to_string(),
                problem: format!(
                    "{problem}; choose the UTM or Gauss–Krüger zone of the study area, or working_crs = \"utm\""
                ),
            });
        }
        Ok(Some(format!("{}: CRS `{self}`: {problem}", layer.display())))
    }

    /// The Chinese web-map system this CRS is, if any.
    fn web_map(&self) -> Option<chinese::WebMap> {
        match self.def {
            Definition::Gcj02 => Some(chinese::WebMap::Gcj02),
            Definition::Bd09 => Some(chinese::WebMap::Bd09),
            _ => None,
        }
    }

    /// The definition PROJ (feature `proj`) is given: the code, the WKT, or the PROJ string.
    #[cfg(feature = "proj")]
    fn proj_definition(&self) -> String {
        match &self.def {
            Definition::Code { authority, code, .. } => format!("{authority}:{code}"),
            Definition::ProjString(p) => format!("{p} +type=crs"),
            Definition::Wkt { wkt, .. } => wkt.clone(),
            Definition::Gcj02 | Definition::Bd09 => "EPSG:4326".into(),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&short(&self.label))
    }
}

fn short(label: &str) -> String {
    crate::io::shown(label)
}

/// A scale for a message, to three decimals without trailing zeros: 0 reads as 0 and 0.9996 as 1.
fn rounded(s: f64) -> String {
    if !s.is_finite() {
        return s.to_string();
    }
    format!("{:.3}", s)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn looks_like_wkt(upper: &str) -> bool {
    [
        "GEOGCS[",
        "PROJCS[",
        "GEOGCRS[",
        "PROJCRS[",
        "GEODCRS[",
        "BOUNDCRS[",
        "COMPD_CS[",
        "GEOCCS[",
    ]
    .iter()
    .any(|k| upper.starts_with(k))
}

/// `EPSG:4490`, `EPSG::4490`, `urn:ogc:def:crs:EPSG::4490`, `urn:ogc:def:crs:EPSG:9.8:4490`, `ESRI:54009`, bare `4490`.
fn parse_code(upper: &str) -> Option<(&'static str, u32)> {
    let rest = upper.strip_prefix("URN:OGC:DEF:CRS:").unwrap_or(upper);
    if let Ok(code) = rest.parse::<u32>() {
        return Some(("EPSG", code));
    }
    let (authority, tail) = rest.split_once(':')?;
    let authority = match authority {
        "EPSG" => "EPSG",
        "ESRI" => "ESRI",
        _ => return None,
    };
    let code = tail.rsplit(':').next()?.parse().ok()?;
    Some((authority, code))
}

/// Which implementation transforms coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `proj4rs` (pure Rust, always available).
    Pure,
    /// Full PROJ (only with the cargo feature `proj`).
    Proj,
}

impl Backend {
    /// PROJ when compiled in, otherwise the pure-Rust backend.
    pub fn default_available() -> Backend {
        if cfg!(feature = "proj") {
            Backend::Proj
        } else {
            Backend::Pure
        }
    }
}

/// Transforms coordinates from one CRS to another. Geographic coordinates are longitude, latitude in degrees.
pub struct Transformer {
    from: Crs,
    to: Crs,
    /// GCJ-02/BD-09 → WGS84 before the datum/projection step.
    from_web: Option<chinese::WebMap>,
    /// WGS84 → GCJ-02/BD-09 after it.
    to_web: Option<chinese::WebMap>,
    step: Step,
}

enum Step {
    Identity,
    Pure(Box<pure::PureStep>),
    #[cfg(feature = "proj")]
    Proj(full::ProjStep),
}

impl Transformer {
    /// A transformer using the best backend compiled in.
    pub fn new(from: &Crs, to: &Crs) -> Result<Transformer> {
        Transformer::with_backend(from, to, Backend::default_available())
    }

    /// A transformer using a chosen backend (`Backend::Proj` needs the `proj` feature).
    pub fn with_backend(from: &Crs, to: &Crs, backend: Backend) -> Result<Transformer> {
        let from_web = from.web_map();
        let to_web = to.web_map();
        let wgs84 = Crs::wgs84();
        let a = if from_web.is_some() { &wgs84 } else { from };
        let b = if to_web.is_some() { &wgs84 } else { to };
        // Compare what each CRS is, not how it was named: `urn:ogc:def:crs:EPSG::32651` in a GeoJSON and the
        // working CRS `EPSG:32651` are one CRS, and a transform between them would only densify every edge (several
        // times the vertices, in every copy of every block) and add rounding noise.
        let step = if a.def == b.def || (a.is_wgs84() && b.is_wgs84()) {
            Step::Identity
        } else {
            match backend {
                Backend::Pure => Step::Pure(Box::new(pure::PureStep::new(a, b)?)),
                #[cfg(feature = "proj")]
                Backend::Proj => Step::Proj(full::ProjStep::new(a, b)?),
                #[cfg(not(feature = "proj"))]
                Backend::Proj => {
                    return Err(Error::Crs {
                        context: "transformer".into(),
                        crs: b.to_string(),
                        problem: "the PROJ backend is not compiled in (build with --features proj)".into(),
                    })
                }
            }
        };
        Ok(Transformer {
            from: from.clone(),
            to: to.clone(),
            from_web,
            to_web,
            step,
        })
    }

    /// The source CRS.
    pub fn from(&self) -> &Crs {
        &self.from
    }

    /// The target CRS.
    pub fn to(&self) -> &Crs {
        &self.to
    }

    /// True when coordinates pass through unchanged.
    pub fn is_identity(&self) -> bool {
        matches!(self.step, Step::Identity) && self.from_web.is_none() && self.to_web.is_none()
    }

    /// Transforms one coordinate.
    pub fn transform(&self, c: Coord<f64>) -> Result<Coord<f64>> {
        let fail = |problem: String| Error::Crs {
            context: format!("transforming ({}, {}) to {}", c.x, c.y, self.to),
            crs: self.from.to_string(),
            problem,
        };
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(fail("coordinate is not a finite number".into()));
        }
        let mut p = c;
        if let Some(web) = self.from_web {
            check_lon_lat(p).map_err(fail)?;
            p = web.to_wgs84(p);
        } else if self.from.is_geographic() {
            check_lon_lat(p).map_err(fail)?;
        }
        p = match &self.step {
            Step::Identity => p,
            Step::Pure(s) => s.transform(p).map_err(fail)?,
            #[cfg(feature = "proj")]
            Step::Proj(s) => s.transform(p).map_err(fail)?,
        };
        if let Some(web) = self.to_web {
            p = web.from_wgs84(p);
        }
        if !p.x.is_finite() || !p.y.is_finite() {
            return Err(fail("transformation gave a non-finite result".into()));
        }
        Ok(p)
    }

    /// Transforms a geometry in place, adding vertices where a straight edge becomes a curve: a straight edge in one
    /// CRS is curved in another, and projecting only the vertices of a long edge moves its middle by metres (an
    /// exact split of a square town then showed a 329 m² gap). Each segment is cut at its midpoint while the
    /// transformed midpoint lies more than [`DENSIFY_TOLERANCE_M`] from the transformed chord (measured in the
    /// target CRS), as deviation-based densification does (ArcGIS Densify's offset, PROJ's densified bounds), and
    /// always while it is longer than [`DENSIFY_CAP_M`] ([`DENSIFY_CAP_DEG`] from a geographic CRS), so that a
    /// curve crossing its chord at the midpoint is still caught. No piece is cut shorter than [`DENSIFY_M`]
    /// ([`DENSIFY_DEG`]), the fixed step used before, so no edge gets more vertices than it did then. A segment
    /// is cut the same way in both directions, so an edge two units share stays shared; an identity transform
    /// changes nothing, and a degenerate ring (fewer than three distinct points) only has its vertices moved, so
    /// that the validity check still names what is wrong with it.
    pub fn transform_geometry_densified(&self, g: &mut Geometry<f64>) -> Result<()> {
        if self.is_identity() {
            return Ok(());
        }
        Densifier::new(self).geometry(g)
    }

    /// Transforms every coordinate of a geometry in place.
    pub fn transform_geometry(&self, g: &mut Geometry<f64>) -> Result<()> {
        if self.is_identity() {
            return Ok(());
        }
        let mut apply = |c: &mut Coord<f64>| -> Result<()> {
            *c = self.transform(*c)?;
            Ok(())
        };
        for_each_coord_mut(g, &mut apply)
    }
}

/// Shortest piece, in metres, that densifying cuts from a segment in a projected CRS: the fixed step every segment
/// was cut to before densifying followed the curve, kept as a floor so no edge gets more vertices than then.
pub const DENSIFY_M: f64 = 25.0;
/// The same in degrees for a geographic CRS (about 25 m).
pub const DENSIFY_DEG: f64 = 0.000_25;
/// Longest segment, in metres, left uncut whatever its midpoint shows.
pub const DENSIFY_CAP_M: f64 = 1_000.0;
/// The same in degrees for a geographic CRS (about 1 km).
pub const DENSIFY_CAP_DEG: f64 = 0.01;
/// How far, in metres on the ground, a transformed edge may stray from the curve it stands for: a tenth of the
/// ~1 cm that 7-decimal lon/lat output rounds to, and a hundredth of the 0.1 m sliver width below which the
/// partition check ignores a gap (`thresholds.partition_sliver_width_m`), so densifying never makes a gap there.
pub const DENSIFY_TOLERANCE_M: f64 = 0.001;

/// True when a ring's shoelace area is nothing beside its length (collinear vertices): under 1e-10 of its
/// perimeter squared, a band under a micrometre wide per kilometre.
fn encloses_no_area(r: &LineString<f64>) -> bool {
    use geo::{Area, Euclidean, Length};
    let perimeter = Euclidean.length(r);
    Polygon::new(r.clone(), vec![]).unsigned_area() <= 1e-10 * perimeter * perimeter
}

/// Metres per degree of latitude on the mean Earth sphere: enough to turn a millimetre into degrees.
const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Deviation-based densification for one transformer (see [`Transformer::transform_geometry_densified`]).
struct Densifier<'a> {
    t: &'a Transformer,
    /// A segment shorter than twice this (source units) is never cut: its halves would be below the old step.
    min_step: f64,
    /// A segment longer than this (source units) is always cut.
    cap: f64,
    /// Target units per metre; None for a geographic target, measured in degrees.
    units_per_metre: Option<f64>,
}

impl<'a> Densifier<'a> {
    fn new(t: &'a Transformer) -> Densifier<'a> {
        let (min_step, cap) = if t.from.is_geographic() {
            (DENSIFY_DEG, DENSIFY_CAP_DEG)
        } else {
            (DENSIFY_M, DENSIFY_CAP_M)
        };
        let units_per_metre = (!t.to.is_geographic()).then(|| 1.0 / t.to.metres_per_unit());
        Densifier {
            t,
            min_step,
            cap,
            units_per_metre,
        }
    }

    fn geometry(&self, g: &mut Geometry<f64>) -> Result<()> {
        match g {
            Geometry::Point(p) => p.0 = self.t.transform(p.0)?,
            Geometry::MultiPoint(mp) => {
                for p in &mut mp.0 {
                    p.0 = self.t.transform(p.0)?;
                }
            }
            Geometry::Line(l) => {
                *g = Geometry::LineString(self.line(&LineString::new(vec![l.start, l.end]))?)
            }
            Geometry::LineString(l) => *l = self.line(l)?,
            Geometry::MultiLineString(ml) => {
                for l in &mut ml.0 {
                    *l = self.line(l)?;
                }
            }
            Geometry::Polygon(p) => *p = self.polygon(p)?,
            Geometry::MultiPolygon(mp) => {
                for p in &mut mp.0 {
                    *p = self.polygon(p)?;
                }
            }
            Geometry::Rect(r) => *g = Geometry::Polygon(self.polygon(&r.to_polygon())?),
            Geometry::Triangle(t) => *g = Geometry::Polygon(self.polygon(&t.to_polygon())?),
            Geometry::GeometryCollection(gc) => {
                for g in &mut gc.0 {
                    self.geometry(g)?;
                }
            }
        }
        Ok(())
    }

    fn polygon(&self, p: &Polygon<f64>) -> Result<Polygon<f64>> {
        let ring = |r: &LineString<f64>| -> Result<LineString<f64>> {
            let mut distinct: Vec<(u64, u64)> = r.0.iter().map(|c| (c.x.to_bits(), c.y.to_bits())).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let mut moved = if distinct.len() < 3 {
                r.clone()
            } else if encloses_no_area(r) {
                // A there-and-back line drawn as a ring: cut at the fixed step, as before. Deviation cuts would put
                // a vertex on its way out that its way back lacks, a thin but valid ring up to a millimetre wide;
                // at the fixed step the two runs stay within nanometres, which the geometry check still refuses
                // (no area, or a self-intersection).
                use geo::line_measures::Densify;
                geo::Euclidean.densify(r, self.min_step)
            } else {
                return self.line(r);
            };
            for c in &mut moved.0 {
                *c = self.t.transform(*c)?;
            }
            Ok(moved)
        };
        let exterior = ring(p.exterior())?;
        let interiors = p.interiors().iter().map(ring).collect::<Result<Vec<_>>>()?;
        Ok(Polygon::new(exterior, interiors))
    }

    /// A line transformed, each source vertex once (a ring's closing vertex reuses its first), with the points
    /// its segments need in between.
    fn line(&self, l: &LineString<f64>) -> Result<LineString<f64>> {
        let src = &l.0;
        let mut dst: Vec<Coord<f64>> = Vec::with_capacity(src.len());
        for (i, c) in src.iter().enumerate() {
            dst.push(match dst.first() {
                Some(first) if i + 1 == src.len() && *c == src[0] => *first,
                _ => self.t.transform(*c)?,
            });
        }
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            out.push(dst[i]);
            if i + 1 < src.len() {
                self.between(src[i], dst[i], src[i + 1], dst[i + 1], &mut out)?;
            }
        }
        Ok(LineString::new(out))
    }

    /// Pushes the transformed points strictly between source points `a` and `b` (transformed: `ta`, `tb`), in
    /// order from `a`. Every decision depends on the pair, not its order — the length and the midpoint are
    /// computed alike both ways, the deviation from the pair sorted — so `b` to `a` gives the same points reversed.
    fn between(
        &self,
        a: Coord<f64>,
        ta: Coord<f64>,
        b: Coord<f64>,
        tb: Coord<f64>,
        out: &mut Vec<Coord<f64>>,
    ) -> Result<()> {
        let length = (b.x - a.x).hypot(b.y - a.y);
        if length.is_nan() || length < 2.0 * self.min_step {
            return Ok(());
        }
        let m = Coord {
            x: (a.x + b.x) / 2.0,
            y: (a.y + b.y) / 2.0,
        };
        let tm = self.t.transform(m)?;
        if length <= self.cap && self.deviation_m(ta, tm, tb) <= DENSIFY_TOLERANCE_M {
            return Ok(());
        }
        self.between(a, ta, m, tm, out)?;
        out.push(tm);
        self.between(m, tm, b, tb, out)
    }

    /// Distance in metres from `p` to the segment `a`–`b`, all in the target CRS; the same for `a`–`b` and `b`–`a`.
    fn deviation_m(&self, a: Coord<f64>, p: Coord<f64>, b: Coord<f64>) -> f64 {
        let (a, b) = if (a.x, a.y).partial_cmp(&(b.x, b.y)) == Some(std::cmp::Ordering::Greater) {
            (b, a)
        } else {
            (a, b)
        };
        // A geographic target is measured on a local plane at the midpoint's latitude: a degree of longitude
        // shrinks with its cosine. Exact enough to compare with a millimetre.
        let (sx, sy) = match self.units_per_metre {
            Some(u) => (1.0 / u, 1.0 / u),
            None => (METRES_PER_DEGREE * p.y.to_radians().cos(), METRES_PER_DEGREE),
        };
        let (dx, dy) = ((b.x - a.x) * sx, (b.y - a.y) * sy);
        let (px, py) = ((p.x - a.x) * sx, (p.y - a.y) * sy);
        let len2 = dx * dx + dy * dy;
        let s = if len2 > 0.0 {
            ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (px - s * dx).hypot(py - s * dy)
    }
}

/// Visits every coordinate of a geometry mutably, stopping at the first error.
///
/// Hand-written because geo's `try_map_coords_in_place` recurses without bound on `GeometryCollection` when the
/// closure captures state.
pub fn for_each_coord_mut(
    g: &mut Geometry<f64>,
    f: &mut dyn FnMut(&mut Coord<f64>) -> Result<()>,
) -> Result<()> {
    fn line(l: &mut LineString<f64>, f: &mut dyn FnMut(&mut Coord<f64>) -> Result<()>) -> Result<()> {
        l.0.iter_mut().try_for_each(f)
    }
    fn polygon(p: &mut Polygon<f64>, f: &mut dyn FnMut(&mut Coord<f64>) -> Result<()>) -> Result<()> {
        let mut result = Ok(());
        p.exterior_mut(|ring| result = line(ring, f));
        result
            .as_ref()
            .map_err(|e| Error::input("transform", e.to_string()))?;
        p.interiors_mut(|rings| {
            for ring in rings {
                if let Err(e) = line(ring, f) {
                    result = Err(e);
                    return;
                }
            }
        });
        result
    }
    match g {
        Geometry::Point(p) => f(&mut p.0),
        Geometry::Line(l) => {
            f(&mut l.start)?;
            f(&mut l.end)
        }
        Geometry::LineString(l) => line(l, f),
        Geometry::Polygon(p) => polygon(p, f),
        Geometry::MultiPoint(mp) => mp.0.iter_mut().try_for_each(|p| f(&mut p.0)),
        Geometry::MultiLineString(ml) => ml.0.iter_mut().try_for_each(|l| line(l, f)),
        Geometry::MultiPolygon(mp) => mp.0.iter_mut().try_for_each(|p| polygon(p, f)),
        Geometry::GeometryCollection(gc) => gc.0.iter_mut().try_for_each(|g| for_each_coord_mut(g, f)),
        Geometry::Rect(r) => {
            let mut p = r.to_polygon();
            polygon(&mut p, f)?;
            *g = Geometry::Polygon(p);
            Ok(())
        }
        Geometry::Triangle(t) => {
            let mut p = t.to_polygon();
            polygon(&mut p, f)?;
            *g = Geometry::Polygon(p);
            Ok(())
        }
    }
}

fn check_lon_lat(c: Coord<f64>) -> std::result::Result<(), String> {
    if c.x.abs() > MAX_LON || c.y.abs() > MAX_LAT {
        Err(format!(
            "({}, {}) is not a longitude/latitude: projected coordinates in a layer that claims a geographic CRS?",
            c.x, c.y
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn same_crs_named_two_ways_is_not_transformed() {
        // A GeoJSON's legacy `crs` member names its CRS as an OGC URN, the working CRS as `EPSG:n`: one CRS, so
        // nothing is transformed or densified (a 250 m square keeps its 5 vertices instead of 41).
        let urn = Crs::parse("urn:ogc:def:crs:EPSG::32651").unwrap();
        let epsg = Crs::parse("EPSG:32651").unwrap();
        let t = Transformer::new(&urn, &epsg).unwrap();
        assert!(t.is_identity());
        let square = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (250.0, 0.0),
                (250.0, 250.0),
                (0.0, 250.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let mut g = Geometry::Polygon(square.clone());
        t.transform_geometry_densified(&mut g).unwrap();
        assert_eq!(g, Geometry::Polygon(square));
        // Different CRSs still transform.
        assert!(!Transformer::new(&urn, &Crs::parse("EPSG:32650").unwrap())
            .unwrap()
            .is_identity());
    }

    #[test]
    fn parses_the_ways_crs_are_named() {
        for name in [
            "EPSG:4326",
            "epsg:4490",
            "urn:ogc:def:crs:EPSG::4490",
            "urn:ogc:def:crs:OGC:1.3:CRS84",
            "EPSG:32651",
            "EPSG:4549",
            "ESRI:54009",
            "+proj=utm +zone=51 +datum=WGS84 +units=m +no_defs",
            "GCJ-02",
            "bd09",
        ] {
            assert!(Crs::parse(name).is_ok(), "{name}");
        }
        assert!(Crs::parse("EPSG:999999").is_err());
        assert!(Crs::parse("nonsense").is_err());
        assert!(Crs::parse("urn:ogc:def:crs:OGC:1.3:CRS84").unwrap().is_wgs84());
        assert!(Crs::parse("EPSG:4490").unwrap().is_geographic());
        assert!(!Crs::parse("EPSG:4549").unwrap().is_geographic());
    }

    #[test]
    fn wkt_from_an_epsg_definition_round_trips() {
        let wkt = Crs::parse("EPSG:32651").unwrap().to_wkt().unwrap();
        let again = Crs::parse(&wkt).unwrap();
        let t = Transformer::with_backend(&Crs::wgs84(), &again, Backend::Pure).unwrap();
        let p = t.transform(Coord { x: 121.47, y: 31.23 }).unwrap();
        let u = Transformer::with_backend(&Crs::wgs84(), &Crs::parse("EPSG:32651").unwrap(), Backend::Pure)
            .unwrap()
            .transform(Coord { x: 121.47, y: 31.23 })
            .unwrap();
        assert_abs_diff_eq!(p.x, u.x, epsilon = 1e-6);
        assert_abs_diff_eq!(p.y, u.y, epsilon = 1e-6);
    }

    #[test]
    fn utm_zone_of_shanghai_is_51n() {
        assert_eq!(
            Crs::utm_for(121.4, 31.2).unwrap().code().as_deref(),
            Some("EPSG:32651")
        );
    }

    #[test]
    fn utm_51n_matches_reference_values() {
        // People's Square, Shanghai: reference easting/northing from PROJ 9.x through pyproj 3.7
        // (Transformer.from_crs(4326, 32651, always_xy=True)).
        let t = Transformer::new(&Crs::wgs84(), &Crs::parse("EPSG:32651").unwrap()).unwrap();
        let p = t
            .transform(Coord {
                x: 121.475,
                y: 31.2304,
            })
            .unwrap();
        assert_abs_diff_eq!(p.x, 354_757.475_9, epsilon = 0.01);
        assert_abs_diff_eq!(p.y, 3_456_138.819_7, epsilon = 0.01);
        let back = Transformer::new(&Crs::parse("EPSG:32651").unwrap(), &Crs::wgs84())
            .unwrap()
            .transform(p)
            .unwrap();
        assert_abs_diff_eq!(back.x, 121.475, epsilon = 1e-9);
        assert_abs_diff_eq!(back.y, 31.2304, epsilon = 1e-9);
    }

    #[test]
    fn cgcs2000_gauss_kruger_120e_matches_reference_values() {
        // Same point and source as above, to EPSG:4549 (CGCS2000 3-degree GK CM 120E).
        let t = Transformer::new(&Crs::wgs84(), &Crs::parse("EPSG:4549").unwrap()).unwrap();
        let p = t
            .transform(Coord {
                x: 121.475,
                y: 31.2304,
            })
            .unwrap();
        assert_abs_diff_eq!(p.x, 640_536.190_2, epsilon = 0.01);
        assert_abs_diff_eq!(p.y, 3_457_457.141_7, epsilon = 0.01);
    }

    #[test]
    fn gcj02_input_is_converted_to_wgs84() {
        let gcj = Crs::parse("GCJ-02").unwrap();
        let t = Transformer::new(&gcj, &Crs::wgs84()).unwrap();
        let wgs = Coord {
            x: 121.475,
            y: 31.2304,
        };
        let shifted = chinese::wgs84_to_gcj02(wgs);
        let back = t.transform(shifted).unwrap();
        assert_abs_diff_eq!(back.x, wgs.x, epsilon = 1e-9);
        assert_abs_diff_eq!(back.y, wgs.y, epsilon = 1e-9);
    }

    /// Both backends agree to 1 cm on Shanghai points (run by `cargo test --features proj`).
    #[cfg(feature = "proj")]
    #[test]
    fn pure_and_proj_backends_agree_to_a_centimetre() {
        let points = [
            (121.475, 31.2304),
            (121.30, 31.26),
            (121.90, 31.55),
            (120.87, 30.70),
            (121.97, 31.87),
        ];
        for target in ["EPSG:32651", "EPSG:4549", "EPSG:3857", "ESRI:54009"] {
            let to = Crs::parse(target).unwrap();
            for from in [Crs::wgs84(), Crs::parse("EPSG:4490").unwrap()] {
                let pure = Transformer::with_backend(&from, &to, Backend::Pure).unwrap();
                let full = Transformer::with_backend(&from, &to, Backend::Proj).unwrap();
                for (x, y) in points {
                    let a = pure.transform(Coord { x, y }).unwrap();
                    let b = full.transform(Coord { x, y }).unwrap();
                    let d = (a.x - b.x).hypot(a.y - b.y);
                    assert!(
                        d < 0.01,
                        "{from} -> {target} at ({x}, {y}): {a:?} vs {b:?} ({d} m)"
                    );
                }
            }
        }
    }

    #[test]
    fn town_far_outside_the_utm_zone_is_refused_naming_layer_and_crs() {
        // Regression: a town at −121° measured in UTM 51N gave 104 km² for 42 km², silently.
        let utm51 = Crs::parse("EPSG:32651").unwrap();
        let e = utm51
            .zone_check(Path::new("town.geojson"), Some([-121.25, 31.23, -121.14, 31.30]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "town.geojson: CRS `EPSG:32651`: working_crs is 115.9° of longitude from this layer"
            ),
            "{e}"
        );
        // The estimate matches what the projection does to the town's area (42.37 km² → about 104 km²).
        assert!(e.contains("off by about 14"), "{e}");
    }

    #[test]
    fn town_beyond_its_working_zone_gets_a_warning() {
        let utm51 = Crs::parse("EPSG:32651").unwrap();
        let w = utm51
            .zone_check(Path::new("t.geojson"), Some([129.2, 31.2, 129.4, 31.3]))
            .unwrap()
            .unwrap();
        assert!(
            w.contains("6.4° of longitude") && w.contains("3.4° beyond its zone"),
            "{w}"
        );
        // Inside the zone, or a CRS that is not transverse Mercator: nothing to say.
        assert_eq!(
            utm51
                .zone_check(Path::new("t.geojson"), Some([121.2, 31.2, 121.4, 31.3]))
                .unwrap(),
            None
        );
        let gk = Crs::parse("EPSG:4549").unwrap();
        assert_eq!(
            gk.zone_check(Path::new("t.geojson"), Some([121.2, 31.2, 121.4, 31.3]))
                .unwrap(),
            None
        );
        let merc = Crs::parse("EPSG:3857").unwrap();
        assert_eq!(
            merc.zone_check(Path::new("t.geojson"), Some([-121.2, 31.2, -121.0, 31.3]))
                .unwrap(),
            None
        );
    }

    #[test]
    fn projected_coordinates_claiming_wgs84_are_refused() {
        let t = Transformer::new(&Crs::wgs84(), &Crs::parse("EPSG:32651").unwrap()).unwrap();
        let e = t
            .transform(Coord {
                x: 354_867.0,
                y: 3_456_170.0,
            })
            .unwrap_err();
        assert!(e.to_string().contains("not a longitude/latitude"), "{e}");
    }

    #[test]
    fn esri_codes_have_a_wkt_so_no_empty_prj_is_written() {
        for (code, _) in ESRI_CODES {
            let crs = Crs::parse(&format!("ESRI:{code}")).unwrap();
            let wkt = crs.to_wkt().unwrap_or_default();
            assert!(
                wkt.starts_with("PROJCS[") && wkt.ends_with("]]"),
                "ESRI:{code}: {wkt}"
            );
        }
        assert_eq!(
            Crs::parse("+proj=utm +zone=51 +datum=WGS84").unwrap().to_wkt(),
            None
        );
    }

    fn ring(points: &[(f64, f64)]) -> Geometry<f64> {
        Geometry::Polygon(Polygon::new(LineString::from(points.to_vec()), vec![]))
    }

    fn exterior(g: &Geometry<f64>) -> Vec<Coord<f64>> {
        match g {
            Geometry::Polygon(p) => p.exterior().0.clone(),
            other => panic!("not a polygon: {other:?}"),
        }
    }

    #[test]
    fn small_utm_square_to_lon_lat_keeps_its_five_vertices() {
        // A 250 m block's edge bends by far less than a millimetre between UTM and lon/lat: the fixed 25 m step
        // made 41 vertices of its 5.
        let t = Transformer::new(&Crs::parse("EPSG:32651").unwrap(), &Crs::wgs84()).unwrap();
        let (x, y) = (354_000.0, 3_456_000.0);
        let mut g = ring(&[
            (x, y),
            (x + 250.0, y),
            (x + 250.0, y + 250.0),
            (x, y + 250.0),
            (x, y),
        ]);
        t.transform_geometry_densified(&mut g).unwrap();
        let c = exterior(&g);
        assert_eq!(c.len(), 5, "{c:?}");
        // The vertices are the transformed corners, and the ring is still closed.
        assert_eq!(c[1], t.transform(Coord { x: x + 250.0, y }).unwrap());
        assert_eq!(c[0], c[4]);
    }

    /// Largest distance from points sampled evenly along the transformed source segment `a`–`b` to `path` (both
    /// mapped by `metres`, into a plane in metres).
    fn worst_deviation(
        t: &Transformer,
        (a, b): (Coord<f64>, Coord<f64>),
        samples: usize,
        path: &[Coord<f64>],
        metres: impl Fn(Coord<f64>) -> Coord<f64>,
    ) -> f64 {
        use geo::{Distance, Euclidean as E, Line, Point};
        let lines: Vec<Line<f64>> = path
            .windows(2)
            .map(|w| Line::new(metres(w[0]), metres(w[1])))
            .collect();
        let mut worst = 0.0_f64;
        for i in 0..=samples {
            let r = i as f64 / samples as f64;
            let on = metres(
                t.transform(Coord {
                    x: a.x + (b.x - a.x) * r,
                    y: a.y + (b.y - a.y) * r,
                })
                .unwrap(),
            );
            let d = lines
                .iter()
                .map(|l| E.distance(&Point(on), l))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(d);
        }
        worst
    }

    #[test]
    fn long_lon_lat_edge_stays_within_a_millimetre_of_the_curve_in_every_projection() {
        // A 100 km edge running north-east across Shanghai, against the curve itself sampled every metre.
        let a = Coord { x: 121.0, y: 30.8 };
        let b = Coord { x: 121.75, y: 31.45 };
        let samples = 100_000;
        for target in ["EPSG:3857", "EPSG:32651", "ESRI:54009", "EPSG:4549"] {
            let t = Transformer::new(&Crs::wgs84(), &Crs::parse(target).unwrap()).unwrap();
            let mut g = Geometry::LineString(LineString::new(vec![a, b]));
            t.transform_geometry_densified(&mut g).unwrap();
            let Geometry::LineString(l) = g else {
                panic!("not a line")
            };
            let worst = worst_deviation(&t, (a, b), samples, &l.0, |c| c);
            assert!(
                worst <= DENSIFY_TOLERANCE_M,
                "{target}: {} vertices, {worst} m from the curve",
                l.0.len()
            );
            // Fewer vertices than the fixed 0.00025° step gave (a 1° edge: 4,000 pieces).
            let fixed = ((b.x - a.x).hypot(b.y - a.y) / DENSIFY_DEG).ceil() as usize + 1;
            assert!(l.0.len() < fixed, "{target}: {} vertices", l.0.len());
        }
    }

    #[test]
    fn long_utm_edge_to_lon_lat_stays_within_a_millimetre_of_the_curve() {
        // The other way round: the tolerance is measured in degrees converted to metres at the edge's latitude.
        let utm = Crs::parse("EPSG:32651").unwrap();
        let t = Transformer::new(&utm, &Crs::wgs84()).unwrap();
        let a = Coord {
            x: 300_000.0,
            y: 3_400_000.0,
        };
        let b = Coord {
            x: 370_000.0,
            y: 3_471_000.0,
        };
        let mut g = Geometry::LineString(LineString::new(vec![a, b]));
        t.transform_geometry_densified(&mut g).unwrap();
        let Geometry::LineString(l) = g else {
            panic!("not a line")
        };
        // The curve sampled every metre, in lon/lat, against the densified line, both on a plane in metres at the
        // edge's mean latitude (the cosine varies by 0.6 % along it).
        let cos = 31.1_f64.to_radians().cos();
        let metres = |c: Coord<f64>| Coord {
            x: c.x * METRES_PER_DEGREE * cos,
            y: c.y * METRES_PER_DEGREE,
        };
        let worst = worst_deviation(&t, (a, b), 100_000, &l.0, metres);
        assert!(worst <= DENSIFY_TOLERANCE_M, "{} vertices, {worst} m", l.0.len());
    }

    #[test]
    fn shared_edge_densified_both_ways_gives_the_same_points() {
        // Two units share a long edge, each drawing it in its own direction: the points must be the same, or the
        // partition check finds slivers between neighbours.
        for (from, to) in [
            (Crs::wgs84(), Crs::parse("EPSG:32651").unwrap()),
            (Crs::wgs84(), Crs::parse("ESRI:54009").unwrap()),
            (Crs::parse("EPSG:32651").unwrap(), Crs::wgs84()),
        ] {
            let t = Transformer::new(&from, &to).unwrap();
            let (a, b) = if from.is_geographic() {
                (
                    Coord { x: 121.1, y: 31.0 },
                    Coord {
                        x: 121.437,
                        y: 31.283,
                    },
                )
            } else {
                (
                    Coord {
                        x: 330_000.0,
                        y: 3_430_000.0,
                    },
                    Coord {
                        x: 361_234.5,
                        y: 3_462_345.6,
                    },
                )
            };
            let mut forward = Geometry::LineString(LineString::new(vec![a, b]));
            let mut backward = Geometry::LineString(LineString::new(vec![b, a]));
            t.transform_geometry_densified(&mut forward).unwrap();
            t.transform_geometry_densified(&mut backward).unwrap();
            let (Geometry::LineString(f), Geometry::LineString(mut r)) = (forward, backward) else {
                panic!("not lines")
            };
            assert!(f.0.len() > 2, "{from} -> {to}: not densified");
            r.0.reverse();
            assert_eq!(f, r, "{from} -> {to}");
        }
    }

    #[test]
    fn degenerate_ring_is_moved_but_not_densified() {
        // A ring of two distinct points stays two points (the geometry check names it), only transformed.
        let t = Transformer::new(&Crs::wgs84(), &Crs::parse("EPSG:32651").unwrap()).unwrap();
        let mut g = ring(&[(121.0, 31.0), (121.5, 31.0), (121.0, 31.0)]);
        t.transform_geometry_densified(&mut g).unwrap();
        let c = exterior(&g);
        assert_eq!(c.len(), 3);
        assert_eq!(c[1], t.transform(Coord { x: 121.5, y: 31.0 }).unwrap());
    }

    #[test]
    fn densified_vertex_count_never_exceeds_the_fixed_step() {
        // Between the old step and the cap, an edge that bends a lot (a lon/lat edge far north in Mercator) is
        // cut down to the old step at most.
        let t = Transformer::new(&Crs::wgs84(), &Crs::parse("EPSG:3857").unwrap()).unwrap();
        let pairs: [((f64, f64), (f64, f64)); 3] = [
            ((10.0, 80.0), (10.0173, 80.0)),
            ((10.0, 84.0), (12.0, 84.0)),
            ((121.0, 31.0), (121.0004, 31.0)),
        ];
        for (a, b) in pairs {
            let mut g = Geometry::LineString(LineString::from(vec![a, b]));
            t.transform_geometry_densified(&mut g).unwrap();
            let Geometry::LineString(l) = g else {
                panic!("not a line")
            };
            let fixed = ((b.0 - a.0).hypot(b.1 - a.1) / DENSIFY_DEG).ceil() as usize + 1;
            assert!(l.0.len() <= fixed, "{a:?}-{b:?}: {} > {fixed}", l.0.len());
        }
    }
}
