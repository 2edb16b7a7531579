//! GeoJSON: FeatureCollection, Feature or bare geometry in; strict RFC 7946 out.
//!
//! Input is lon/lat WGS84 unless a legacy (2008) `crs` member names another CRS. Output is always WGS84 lon/lat with
//! exterior rings counter-clockwise and holes clockwise (the right-hand rule of RFC 7946 §3.1.6) and 7 decimals
//! (≈ 1 cm), written atomically.

use super::{atomic, CrsSource, Feature, Layer, OutFeature, ReadOptions};
use crate::crs::{Crs, Transformer};
use crate::{Error, Result};
use geo::orient::{Direction, Orient};
use geo::{Coord, Geometry, LineString, Polygon};
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// Reads a GeoJSON file into a [`Layer`].
pub fn read(path: &Path, options: &ReadOptions) -> Result<Layer> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "open", e))?;
    let mut layer = parse(path, &bytes, options.repair)?;
    // RFC 7946 means lon/lat WGS84 — unless the user configured the CRS of layers that declare none (legacy
    // projected GeoJSON has no `crs` member either). An explicit override is applied by `read_layer`.
    if let (CrsSource::Rfc7946, Some(c)) = (layer.crs_source, &options.default_crs) {
        layer.crs = c.clone();
        layer.crs_source = CrsSource::Configured;
    }
    Ok(layer)
}

/// Parses GeoJSON text; `path` only names the source in messages.
///
/// Features are decoded one by one, so a malformed feature is reported by its index (and id) rather than as a
/// position in a multi-megabyte file. Positions are checked before conversion (the `geojson` crate indexes
/// `[x, y]` without checking, and panics on `[x]`), and polygon rings must be closed (RFC 7946 §3.1.6): an open
/// ring usually means a truncated or hand-edited file, and closing it silently would invent an edge.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Layer> {
    parse(path, bytes, false)
}

/// [`from_bytes`], optionally repairing what can be repaired safely (an open ring is closed, and said so).
fn parse(path: &Path, bytes: &[u8], repair: bool) -> Result<Layer> {
    // Windows tools (ArcGIS, Excel exports) prefix a UTF-8 byte-order mark that JSON parsers reject.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::format(path, "file is empty"));
    }
    let top = Top::read(path, bytes, repair)?;
    let (crs, crs_source) = match top.declared_crs() {
        Some(name) => (
            Crs::parse(&name)
                .map_err(|e| Error::format(path, format!("`crs` member {}", super::crs_problem(e))))?,
            CrsSource::Declared,
        ),
        None => (Crs::wgs84(), CrsSource::Rfc7946),
    };
    let kind = top.kind.clone().unwrap_or_default();
    let one = |v: Value| -> Result<Features> {
        let (feature, warning) = decode(path, 0, v, repair)?;
        Ok(Features {
            features: vec![feature],
            warnings: warning.into_iter().collect(),
        })
    };
    let Features { features, warnings } = match kind.as_str() {
        "FeatureCollection" => match top.features {
            Some(features) => features?,
            None => {
                return Err(Error::format(
                    path,
                    "not GeoJSON: a FeatureCollection needs a `features` array",
                ))
            }
        },
        "Feature" => one(top.into_value())?,
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon"
        | "GeometryCollection" => one(serde_json::json!({
            "type": "Feature", "properties": null, "geometry": top.into_value()
        }))?,
        "" => return Err(Error::format(path, "not GeoJSON: no `type` member")),
        other => {
            return Err(Error::format(
                path,
                format!("not GeoJSON: unknown type `{}`", super::shown(other)),
            ))
        }
    };
    let mut fields: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for feature in &features {
        for k in feature.properties.keys() {
            if seen.insert(k) {
                fields.push(k.clone());
            }
        }
    }
    Ok(Layer {
        path: path.to_path_buf(),
        crs,
        crs_source,
        features,
        fields,
        warnings,
    })
}

/// The top level of a GeoJSON document, its `features` decoded while the text is parsed: a national layer is never
/// held as a JSON tree (a tree of `serde_json::Value`s takes some 15 times the file's size), only as features and
/// one chunk of raw features at a time.
#[derive(Default)]
struct Top {
    /// The `type` member, when it is a string.
    kind: Option<String>,
    /// The `crs` member.
    crs: Option<Value>,
    /// The decoded features of a `features` array (None: no array), or the first feature error in file order,
    /// reported only once the whole text is known to be JSON.
    features: Option<Result<Features>>,
    /// Every other member: a lone Feature or geometry is decoded from these.
    rest: Map<String, Value>,
}

/// Raw features decoded together in parallel: enough to keep the cores busy, few enough to stay small.
const CHUNK: usize = 1024;

impl Top {
    fn read(path: &Path, bytes: &[u8], repair: bool) -> Result<Top> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let top = TopSeed { path, repair }
            .deserialize(&mut de)
            .and_then(|t| de.end().map(|()| t))
            .map_err(|e| Error::format(path, format!("not valid JSON: {e}")))?;
        Ok(top)
    }

    fn declared_crs(&self) -> Option<String> {
        let crs = self.crs.as_ref()?;
        crs.get("properties")?.get("name")?.as_str().map(str::to_string)
    }

    /// The top level as a JSON object again (a lone Feature or geometry: small).
    fn into_value(self) -> Value {
        let mut m = self.rest;
        if let Some(k) = self.kind {
            m.insert("type".into(), Value::String(k));
        }
        Value::Object(m)
    }
}

struct TopSeed<'p> {
    path: &'p Path,
    repair: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopSeed<'_> {
    type Value = Top;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a GeoJSON object")
    }
    // Anything but an object is no GeoJSON (reported as having no `type`), but must still be valid JSON.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Top, E> {
        Ok(Top::default())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Top, A::Error> {
        while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Top::default())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<Top, A::Error> {
        let mut top = Top::default();
        while let Some(key) = a.next_key::<String>()? {
            match key.as_str() {
                "type" => top.kind = a.next_value::<Value>()?.as_str().map(str::to_string),
                "crs" => top.crs = Some(a.next_value()?),
                "features" => {
                    top.features = a.next_value_seed(FeaturesSeed {
                        path: self.path,
                        repair: self.repair,
                    })?
                }
                _ => {
                    let v = a.next_value()?;
                    top.rest.insert(key, v);
                }
            }
        }
        Ok(top)
    }
}

/// A `features` member: decoded chunk by chunk when it is an array, None otherwise.
struct FeaturesSeed<'p> {
    path: &'p Path,
    repair: bool,
}

/// Decoded features and the warnings their repairs gave.
struct Features {
    features: Vec<Feature>,
    warnings: Vec<String>,
}

/// What a `features` member gives: None where it is no array.
type Decoded = Option<Result<Features>>;

impl<'de> serde::de::DeserializeSeed<'de> for FeaturesSeed<'_> {
    type Value = Decoded;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Decoded, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FeaturesSeed<'_> {
    type Value = Decoded;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of features")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Decoded, E> {
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<Decoded, A::Error> {
        while a
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Decoded, A::Error> {
        // Features are decoded in parallel (a city's units: thousands of features, each a geometry and dozens of
        // properties) a chunk at a time, in file order: the first error, the field order and the warnings are
        // those of a sequential read.
        let mut out = Ok(Features {
            features: Vec::new(),
            warnings: Vec::new(),
        });
        // The text of each feature is only scanned here, on one thread (is it JSON, where does it end); building
        // its tree, the costlier half of parsing, happens with the decoding, in parallel.
        let mut chunk: Vec<&'de serde_json::value::RawValue> = Vec::with_capacity(CHUNK);
        let (path, repair) = (self.path, self.repair);
        // After the first error, the rest of the text is only parsed (it must still be JSON), not decoded.
        let flush = |chunk: &mut Vec<&'de serde_json::value::RawValue>, out: &mut Result<Features>| {
            let raw = std::mem::take(chunk);
            let Ok(done) = out else { return };
            let first = done.features.len();
            let decoded: Vec<_> = raw
                .into_par_iter()
                .enumerate()
                .map(|(i, text)| {
                    // What a scan lets through and a parse does not (a number beyond f64's range) is named with
                    // its feature.
                    let v: Value = serde_json::from_str(text.get()).map_err(|e| {
                        // serde_json's position is within the feature's own text, so say so.
                        let full = e.to_string();
                        let what = full.split(" at line ").next().unwrap_or(&full);
                        let at = format!("column {} of the feature's text", e.column());
                        Error::feature(
                            path,
                            (first + i).to_string(),
                            format!("not valid JSON: {what} at {at}"),
                        )
                    })?;
                    decode(path, first + i, v, repair)
                })
                .collect();
            for d in decoded {
                match d {
                    Ok((feature, warning)) => {
                        done.features.push(feature);
                        done.warnings.extend(warning);
                    }
                    Err(e) => {
                        *out = Err(e);
                        return;
                    }
                }
            }
        };
        while let Some(v) = a.next_element::<&'de serde_json::value::RawValue>()? {
            chunk.push(v);
            if chunk.len() == CHUNK {
                flush(&mut chunk, &mut out);
                chunk.reserve(CHUNK);
            }
        }
        flush(&mut chunk, &mut out);
        Ok(Some(out))
    }
}

/// One feature of a collection, with the warning its repair gave.
fn decode(path: &Path, index: usize, v: Value, repair: bool) -> Result<(Feature, Option<String>)> {
    // Name the feature by its id in messages, when it has a readable one.
    let label = match v.get("id").and_then(super::value_text) {
        Some(id) => format!("{index} (id {})", super::shown(&id)),
        None => index.to_string(),
    };
    let bad = |problem: String| Error::feature(path, &label, problem);
    let mut warning = None;
    if let Some(g) = v.get("geometry") {
        let mut open_rings = 0;
        check_positions(g, repair.then_some(&mut open_rings)).map_err(bad)?;
        if open_rings > 0 {
            // geo closes rings on construction; the repair is to accept them, and to say so.
            warning = Some(format!(
                "{}: feature {label}: repaired: closed {open_rings} open polygon ring(s)",
                path.display()
            ));
        }
    }
    let f: geojson::Feature =
        serde_json::from_value(v).map_err(|e| bad(format!("not a GeoJSON feature: {e}")))?;
    let properties = f.properties.unwrap_or_default();
    let id = f.id.map(|id| match id {
        geojson::feature::Id::String(s) => Value::String(s),
        geojson::feature::Id::Number(n) => Value::Number(n),
    });
    let geometry = match f.geometry {
        None => None,
        Some(g) => Some(Geometry::<f64>::try_from(g).map_err(|e| bad(format!("geometry not usable: {e}")))?),
    };
    Ok((
        Feature {
            index,
            id,
            geometry,
            properties,
        },
        warning,
    ))
}

/// Checks the raw `coordinates` of a geometry (recursing into collections): every position has at least two
/// numbers, and every polygon ring ends where it starts. Anything else malformed is left to the `geojson` crate.
/// With `open_rings`, open rings are counted there instead of refused (`--repair`).
fn check_positions(geometry: &Value, mut open_rings: Option<&mut usize>) -> std::result::Result<(), String> {
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or_default();
    if kind == "GeometryCollection" {
        if let Some(Value::Array(members)) = geometry.get("geometries") {
            for (i, g) in members.iter().enumerate() {
                check_positions(g, open_rings.as_deref_mut())
                    .map_err(|e| format!("member {i} of the collection: {e}"))?;
            }
        }
        return Ok(());
    }
    let Some(coordinates) = geometry.get("coordinates") else {
        return Ok(());
    };
    // Nesting above the positions: Point 0, LineString/MultiPoint 1, Polygon 2, MultiPolygon 3; for polygons the
    // arrays one level above the positions are rings.
    let (depth, rings) = match kind {
        "Point" => (0, false),
        "LineString" | "MultiPoint" => (1, false),
        "MultiLineString" => (2, false),
        "Polygon" => (2, true),
        "MultiPolygon" => (3, true),
        _ => return Ok(()),
    };
    walk_positions(coordinates, depth, rings, &mut open_rings)
}

fn walk_positions(
    v: &Value,
    depth: usize,
    rings: bool,
    open_rings: &mut Option<&mut usize>,
) -> std::result::Result<(), String> {
    let Value::Array(items) = v else {
        return Ok(()); // a wrong shape is reported by the `geojson` crate
    };
    if depth == 0 {
        if items.len() < 2 {
            return Err(format!(
                "position {v} has {} number(s); a position needs at least x and y",
                items.len()
            ));
        }
        return Ok(());
    }
    for item in items {
        walk_positions(item, depth - 1, rings, open_rings)?;
    }
    if rings && depth == 1 {
        // `items` is one ring, its positions already known to be well formed.
        if let (Some(first), Some(last)) = (items.first(), items.last()) {
            if first != last {
                if let Some(count) = open_rings.as_deref_mut() {
                    *count += 1;
                    return Ok(());
                }
                return Err(format!(
                    "polygon ring is not closed: it starts at {first} and ends at {last} \
                     (RFC 7946: the first and last positions must be the same)"
                ));
            }
        }
    }
    Ok(())
}

/// Writes features held in `crs` as RFC 7946 GeoJSON.
pub fn write(path: &Path, crs: &Crs, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    let bytes = to_string(path, crs, features)?;
    staging.write(path, bytes.as_bytes())
}

/// Serialises features held in `crs` as an RFC 7946 FeatureCollection, one feature per line.
pub fn to_string(path: &Path, crs: &Crs, features: &[OutFeature]) -> Result<String> {
    let to_wgs84 = Transformer::new(crs, &Crs::wgs84())?;
    let mut out = String::from(HEAD);
    for (i, f) in features.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        write_feature(&mut out, path, &to_wgs84, i, f)?;
    }
    out.push_str(TAIL);
    Ok(out)
}

const HEAD: &str = "{\"type\":\"FeatureCollection\",\"features\":[\n";
const TAIL: &str = "\n]}\n";

fn write_feature(
    out: &mut String,
    path: &Path,
    to_wgs84: &Transformer,
    i: usize,
    f: &OutFeature,
) -> Result<()> {
    out.push_str("{\"type\":\"Feature\",\"properties\":");
    out.push_str(&serde_json::to_string(&f.properties).map_err(|e| Error::feature(path, i, e.to_string()))?);
    out.push_str(",\"geometry\":");
    match &f.geometry {
        None => out.push_str("null"),
        Some(g) => {
            let mut g = g.clone();
            to_wgs84
                .transform_geometry(&mut g)
                .map_err(|e| Error::feature(path, i, e.to_string()))?;
            write_geometry(out, &right_hand_rule(g));
        }
    }
    out.push('}');
    Ok(())
}

/// A FeatureCollection written feature by feature into `W`, the same bytes [`to_string`] gives for the same
/// features: for a layer too large to hold (the all-towns layer of a national `bmu batch`).
pub struct Stream<W: std::io::Write> {
    out: W,
    path: std::path::PathBuf,
    to_wgs84: Transformer,
    n: usize,
    buf: String,
}

impl<W: std::io::Write> Stream<W> {
    /// Starts the collection; `path` names the output in messages.
    pub fn new(path: &Path, crs: &Crs, mut out: W) -> Result<Self> {
        out.write_all(HEAD.as_bytes())
            .map_err(|e| Error::io(path, "write", e))?;
        Ok(Stream {
            out,
            path: path.to_path_buf(),
            to_wgs84: Transformer::new(crs, &Crs::wgs84())?,
            n: 0,
            buf: String::new(),
        })
    }

    /// Appends one feature.
    pub fn push(&mut self, f: &OutFeature) -> Result<()> {
        self.buf.clear();
        if self.n > 0 {
            self.buf.push_str(",\n");
        }
        write_feature(&mut self.buf, &self.path, &self.to_wgs84, self.n, f)?;
        self.n += 1;
        self.out
            .write_all(self.buf.as_bytes())
            .map_err(|e| Error::io(&self.path, "write", e))
    }

    /// Closes the collection and hands the writer back.
    pub fn finish(mut self) -> Result<W> {
        self.out
            .write_all(TAIL.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(&self.path, "write", e))?;
        Ok(self.out)
    }
}

/// RFC 7946 winding: exterior rings counter-clockwise, holes clockwise.
fn right_hand_rule(g: Geometry<f64>) -> Geometry<f64> {
    match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(mp.orient(Direction::Default)),
        Geometry::GeometryCollection(gc) => {
            Geometry::GeometryCollection(gc.into_iter().map(right_hand_rule).collect())
        }
        other => other,
    }
}

fn write_number(out: &mut String, v: f64) {
    let s = format!("{v:.7}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    out.push_str(if s == "-0" { "0" } else { s });
}

fn write_coord(out: &mut String, c: Coord<f64>) {
    out.push('[');
    write_number(out, c.x);
    out.push(',');
    write_number(out, c.y);
    out.push(']');
}

fn write_line(out: &mut String, l: &LineString<f64>) {
    out.push('[');
    for (i, c) in l.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_coord(out, *c);
    }
    out.push(']');
}

fn write_polygon(out: &mut String, p: &Polygon<f64>) {
    out.push('[');
    write_line(out, p.exterior());
    for hole in p.interiors() {
        out.push(',');
        write_line(out, hole);
    }
    out.push(']');
}

fn write_list<T>(out: &mut String, items: &[T], each: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

fn write_geometry(out: &mut String, g: &Geometry<f64>) {
    let kind = match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    };
    let _ = write!(out, "{{\"type\":\"{kind}\",");
    match g {
        Geometry::GeometryCollection(gc) => {
            out.push_str("\"geometries\":");
            write_list(out, &gc.0, write_geometry);
        }
        _ => {
            out.push_str("\"coordinates\":");
            match g {
                Geometry::Point(p) => write_coord(out, p.0),
                Geometry::MultiPoint(mp) => write_list(out, &mp.0, |o, p| write_coord(o, p.0)),
                Geometry::LineString(l) => write_line(out, l),
                Geometry::Line(l) => write_line(out, &LineString::from(vec![l.start, l.end])),
                Geometry::MultiLineString(ml) => write_list(out, &ml.0, write_line),
                Geometry::Polygon(p) => write_polygon(out, p),
                Geometry::Rect(r) => write_polygon(out, &r.to_polygon()),
                Geometry::Triangle(t) => write_polygon(out, &t.to_polygon()),
                Geometry::MultiPolygon(mp) => write_list(out, &mp.0, write_polygon),
                Geometry::GeometryCollection(_) => {}
            }
        }
    }
    out.push('}');
}

/// Convenience: properties from `(name, value)` pairs, in order.
pub fn properties<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn writes_rfc7946_winding_and_seven_decimals() {
        // A clockwise exterior ring must come out counter-clockwise.
        let cw = polygon![(x: 121.0, y: 31.0), (x: 121.0, y: 31.123456789), (x: 121.1, y: 31.0)];
        let f = OutFeature {
            geometry: Some(Geometry::Polygon(cw)),
            properties: properties([("name", Value::from("江桥"))]),
        };
        let s = to_string(Path::new("t.geojson"), &Crs::wgs84(), &[f]).unwrap();
        assert!(s.contains("31.1234568"), "{s}");
        assert!(s.contains("江桥"));
        let back: geojson::GeoJson = s.parse().unwrap();
        let geojson::GeoJson::FeatureCollection(fc) = back else {
            panic!()
        };
        let g: Geometry<f64> = fc.features[0].geometry.clone().unwrap().try_into().unwrap();
        let Geometry::Polygon(p) = g else { panic!() };
        use geo::Winding;
        assert!(p.exterior().is_ccw());
    }

    #[test]
    fn honours_a_legacy_crs_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.geojson");
        std::fs::write(
            &path,
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32651"}},
               "features":[{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[354757.5,3456138.8]}}]}"#,
        )
        .unwrap();
        let layer = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(layer.crs.code().as_deref(), Some("EPSG:32651"));
        assert_eq!(layer.crs_source, CrsSource::Declared);
    }

    /// Fuzz regression (geojson target, `tests/fuzz/regressions/geojson/crash-b0bdae54…`): a one-number position
    /// inside a ring panicked in the `geojson` crate's conversion, which indexes `[x, y]` unchecked.
    #[test]
    fn a_position_with_one_number_is_an_error_naming_the_feature() {
        for geometry in [
            r#"{"type":"Polygon","coordinates":[[[121.3,31.23],[3]]]}"#,
            r#"{"type":"LineString","coordinates":[[121.3,31.23],[]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[1,2],[3,4],[5],[1,2]]]]}"#,
            r#"{"type":"GeometryCollection","geometries":[{"type":"MultiPoint","coordinates":[[1]]}]}"#,
        ] {
            let text = format!(r#"{{"type":"Feature","id":"T","properties":{{}},"geometry":{geometry}}}"#);
            let e = from_bytes(Path::new("t.geojson"), text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("t.geojson: feature 0 (id T)") && e.contains("at least x and y"),
                "{e}"
            );
        }
    }

    #[test]
    fn open_rings_are_refused_and_a_byte_order_mark_is_accepted() {
        let open = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}"#;
        let e = from_bytes(Path::new("t.geojson"), open.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not closed"), "{e}");
        let closed = "\u{feff}{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}";
        assert_eq!(
            from_bytes(Path::new("t.geojson"), closed.as_bytes())
                .unwrap()
                .features
                .len(),
            1
        );
    }

    /// The reader held a whole collection as a JSON tree (some 15 times the file) before decoding it; features
    /// are now decoded chunk by chunk as the text is parsed, and must come out as a whole-file read gave them.
    #[test]
    fn collection_decoded_chunk_by_chunk_keeps_order_indices_and_first_error() {
        let n = 2 * CHUNK + 7;
        let feature = |i: usize| {
            format!(
                "{{\"type\":\"Feature\",\"id\":\"f{i}\",\"properties\":{{\"n\":{i}}},\
             \"geometry\":{{\"type\":\"Point\",\"coordinates\":[{i},1]}}}}"
            )
        };
        let all: Vec<String> = (0..n).map(feature).collect();
        let text = format!(
            "{{\"features\":[{}],\"type\":\"FeatureCollection\"}}",
            all.join(",")
        );
        let layer = from_bytes(Path::new("c.geojson"), text.as_bytes()).unwrap();
        assert_eq!(layer.features.len(), n);
        for (i, f) in layer.features.iter().enumerate() {
            assert_eq!(f.index, i);
            assert_eq!(f.properties["n"], Value::from(i));
        }
        // A bad position in the second chunk is named by its own index, and only once the text is known to be JSON.
        let mut bad = all.clone();
        bad[CHUNK + 3] =
            "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Point\",\"coordinates\":[1]}}"
                .into();
        let text = format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
            bad.join(",")
        );
        let e = from_bytes(Path::new("c.geojson"), text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("feature {}", CHUNK + 3)), "{e}");
        let e = from_bytes(
            Path::new("c.geojson"),
            format!("{}]", &text[..text.len() - 2]).as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not valid JSON"), "{e}");
        // What is no collection is still said to be so.
        for (body, says) in [
            ("[1, 2]", "no `type` member"),
            (
                "{\"type\":\"FeatureCollection\",\"features\":{}}",
                "needs a `features` array",
            ),
        ] {
            let e = from_bytes(Path::new("c.geojson"), body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{body}: {e}");
        }
    }

    /// Features' text is only scanned on the reading thread and parsed in parallel: a number the scan lets through
    /// and the parse refuses (beyond f64) must still be an error naming the file and that feature.
    #[test]
    fn number_beyond_f64_in_a_feature_parsed_in_parallel_is_refused_naming_the_feature() {
        let ok = "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,1]}}";
        let bad = "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Point\",\"coordinates\":[1e400,1]}}";
        let text = format!("{{\"type\":\"FeatureCollection\",\"features\":[{ok},{ok},{bad}]}}");
        let e = from_bytes(Path::new("c.geojson"), text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.geojson"), "{e}");
        assert!(
            e.contains("feature 2: not valid JSON: number out of range at column"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_garbage_files_are_format_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [
            ("e.geojson", ""),
            ("g.geojson", "\u{1}\u{2}garbage"),
            ("n.geojson", "{\"type\":\"Nope\"}"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            let e = read(&path, &ReadOptions::default()).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}
