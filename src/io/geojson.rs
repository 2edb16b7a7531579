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
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// Reads a GeoJSON file into a [`Layer`].
pub fn read(path: &Path, options: &ReadOptions) -> Result<Layer> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, "open", e))?;
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::format(path, "file is empty"));
    }
    let value: Value =
        serde_json::from_slice(&text).map_err(|e| Error::format(path, format!("not valid JSON: {e}")))?;
    let (crs, crs_source) = match declared_crs(&value) {
        Some(name) => (
            Crs::parse(&name).map_err(|e| Error::format(path, format!("`crs` member: {e}")))?,
            CrsSource::Declared,
        ),
        None => (Crs::wgs84(), CrsSource::Rfc7946),
    };
    let _ = options; // the CRS override is applied by `read_layer`
    let gj: geojson::GeoJson =
        serde_json::from_value(value).map_err(|e| Error::format(path, format!("not GeoJSON: {e}")))?;
    let raw: Vec<geojson::Feature> = match gj {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        geojson::GeoJson::Feature(f) => vec![f],
        geojson::GeoJson::Geometry(g) => vec![geojson::Feature {
            geometry: Some(g),
            ..Default::default()
        }],
    };
    let mut fields: Vec<String> = Vec::new();
    let mut features = Vec::with_capacity(raw.len());
    for (index, f) in raw.into_iter().enumerate() {
        let properties = f.properties.unwrap_or_default();
        for k in properties.keys() {
            if !fields.iter().any(|x| x == k) {
                fields.push(k.clone());
            }
        }
        let id = f.id.map(|id| match id {
            geojson::feature::Id::String(s) => Value::String(s),
            geojson::feature::Id::Number(n) => Value::Number(n),
        });
        let geometry = match f.geometry {
            None => None,
            Some(g) => Some(
                Geometry::<f64>::try_from(g)
                    .map_err(|e| Error::feature(path, index, format!("geometry not usable: {e}")))?,
            ),
        };
        features.push(Feature {
            index,
            id,
            geometry,
            properties,
        });
    }
    Ok(Layer {
        path: path.to_path_buf(),
        crs,
        crs_source,
        features,
        fields,
        warnings: Vec::new(),
    })
}

/// The name in a legacy `{"crs": {"type": "name", "properties": {"name": …}}}` member.
fn declared_crs(value: &Value) -> Option<String> {
    let crs = value.get("crs")?;
    crs.get("properties")?.get("name")?.as_str().map(str::to_string)
}

/// Writes features held in `crs` as RFC 7946 GeoJSON.
pub fn write(path: &Path, crs: &Crs, features: &[OutFeature]) -> Result<()> {
    let bytes = to_string(path, crs, features)?;
    atomic::write_bytes(path, bytes.as_bytes())
}

/// Serialises features held in `crs` as an RFC 7946 FeatureCollection, one feature per line.
pub fn to_string(path: &Path, crs: &Crs, features: &[OutFeature]) -> Result<String> {
    let to_wgs84 = Transformer::new(crs, &Crs::wgs84())?;
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    for (i, f) in features.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str("{\"type\":\"Feature\",\"properties\":");
        out.push_str(
            &serde_json::to_string(&f.properties).map_err(|e| Error::feature(path, i, e.to_string()))?,
        );
        out.push_str(",\"geometry\":");
        match &f.geometry {
            None => out.push_str("null"),
            Some(g) => {
                let mut g = g.clone();
                to_wgs84
                    .transform_geometry(&mut g)
                    .map_err(|e| Error::feature(path, i, e.to_string()))?;
                write_geometry(&mut out, &right_hand_rule(g));
            }
        }
        out.push('}');
    }
    out.push_str("\n]}\n");
    Ok(out)
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
