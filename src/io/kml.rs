//! KML 2.2 output (`.kml`) for Google Earth and 奥维 users: WGS84 longitude/latitude as the KML spec requires, one
//! Placemark per feature named by its `unit_id` (or `id`, `name`, else its position), every attribute in
//! `ExtendedData`. Text is XML-escaped, and control characters XML cannot hold are written as visible escapes.

use super::{atomic, value_text, OutFeature};
use crate::crs::{Crs, Transformer};
use crate::{Error, Result};
use geo::{Coord, Geometry, LineString, Polygon};
use std::fmt::Write as _;
use std::path::Path;

/// Text as XML character data: markup escaped, and characters XML 1.0 forbids (controls other than tab and newline)
/// shown as `\u{…}` rather than making the file unreadable.
fn text(s: &str) -> String {
    let visible: String = s
        .chars()
        .flat_map(|c| {
            let forbidden = c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            let shown: Vec<char> = if forbidden {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect();
    quick_xml::escape::escape(visible.as_str()).into_owned()
}

fn number(out: &mut String, v: f64) {
    let s = format!("{v:.7}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    out.push_str(if s == "-0" { "0" } else { s });
}

fn coordinates(out: &mut String, coords: &[Coord<f64>]) {
    out.push_str("<coordinates>");
    for (i, c) in coords.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        number(out, c.x);
        out.push(',');
        number(out, c.y);
    }
    out.push_str("</coordinates>");
}

fn line(out: &mut String, l: &LineString<f64>) {
    out.push_str("<LineString>");
    coordinates(out, &l.0);
    out.push_str("</LineString>");
}

fn polygon(out: &mut String, p: &Polygon<f64>) {
    out.push_str("<Polygon><outerBoundaryIs><LinearRing>");
    coordinates(out, &p.exterior().0);
    out.push_str("</LinearRing></outerBoundaryIs>");
    for hole in p.interiors() {
        out.push_str("<innerBoundaryIs><LinearRing>");
        coordinates(out, &hole.0);
        out.push_str("</LinearRing></innerBoundaryIs>");
    }
    out.push_str("</Polygon>");
}

fn geometry(out: &mut String, g: &Geometry<f64>) {
    match g {
        Geometry::Point(p) => {
            out.push_str("<Point>");
            coordinates(out, &[p.0]);
            out.push_str("</Point>");
        }
        Geometry::Line(l) => line(out, &LineString::from(vec![l.start, l.end])),
        Geometry::LineString(l) => line(out, l),
        Geometry::Polygon(p) => polygon(out, p),
        Geometry::Rect(r) => polygon(out, &r.to_polygon()),
        Geometry::Triangle(t) => polygon(out, &t.to_polygon()),
        Geometry::MultiPoint(mp) => {
            out.push_str("<MultiGeometry>");
            mp.0.iter().for_each(|p| geometry(out, &Geometry::Point(*p)));
            out.push_str("</MultiGeometry>");
        }
        Geometry::MultiLineString(ml) => {
            out.push_str("<MultiGeometry>");
            ml.0.iter().for_each(|l| line(out, l));
            out.push_str("</MultiGeometry>");
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("<MultiGeometry>");
            mp.0.iter().for_each(|p| polygon(out, p));
            out.push_str("</MultiGeometry>");
        }
        Geometry::GeometryCollection(gc) => {
            out.push_str("<MultiGeometry>");
            gc.0.iter().for_each(|g| geometry(out, g));
            out.push_str("</MultiGeometry>");
        }
    }
}

/// Writes features held in `crs` as KML in WGS84.
pub fn write(path: &Path, crs: &Crs, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    let bytes = to_string(path, crs, features)?;
    staging.write(path, bytes.as_bytes())
}

/// The KML document.
pub fn to_string(path: &Path, crs: &Crs, features: &[OutFeature]) -> Result<String> {
    let to_wgs84 = Transformer::new(crs, &Crs::wgs84())?;
    let title = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document>\n");
    let _ = writeln!(out, "<name>{}</name>", text(&title));
    for (i, f) in features.iter().enumerate() {
        let name = ["unit_id", "id", "name"]
            .iter()
            .find_map(|k| f.properties.get(*k).and_then(value_text))
            .unwrap_or_else(|| i.to_string());
        let _ = write!(out, "<Placemark>\n<name>{}</name>\n<ExtendedData>", text(&name));
        for (k, v) in &f.properties {
            let _ = write!(
                out,
                "<Data name=\"{}\"><value>{}</value></Data>",
                text(k),
                text(&value_text(v).unwrap_or_default())
            );
        }
        out.push_str("</ExtendedData>\n");
        if let Some(g) = &f.geometry {
            let mut g = g.clone();
            to_wgs84
                .transform_geometry(&mut g)
                .map_err(|e| Error::feature(path, i, e.to_string()))?;
            geometry(&mut out, &g);
            out.push('\n');
        }
        out.push_str("</Placemark>\n");
    }
    out.push_str("</Document>\n</kml>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::geojson::properties;
    use geo::polygon;
    use serde_json::Value;

    #[test]
    fn kml_out_is_wgs84_with_escaped_names_and_attributes() {
        let crs = Crs::parse("EPSG:32651").unwrap();
        let feats = vec![OutFeature {
            geometry: Some(Geometry::Polygon(polygon![
                (x: 339_000.0, y: 3_457_000.0),
                (x: 340_000.0, y: 3_457_000.0),
                (x: 340_000.0, y: 3_458_000.0)
            ])),
            properties: properties([
                ("unit_id", Value::from("江桥<1> & \"2\"")),
                ("reasons", Value::from("bell\u{7} here")),
            ]),
        }];
        let kml = to_string(Path::new("units.kml"), &crs, &feats).unwrap();
        assert!(
            kml.contains("<name>江桥&lt;1&gt; &amp; &quot;2&quot;</name>"),
            "{kml}"
        );
        assert!(
            kml.contains("<Data name=\"reasons\"><value>bell\\u{7} here</value></Data>"),
            "{kml}"
        );
        assert!(!kml.contains('\u{7}'));
        // UTM 51N (339000, 3457000) is near 121.3°E 31.2°N.
        let coords = kml.split("<coordinates>").nth(1).unwrap();
        let (lon, rest) = coords.split_once(',').unwrap();
        let lat: f64 = rest.split(' ').next().unwrap().parse().unwrap();
        let lon: f64 = lon.parse().unwrap();
        assert!(
            (121.0..121.6).contains(&lon) && (31.0..31.4).contains(&lat),
            "{lon},{lat}"
        );
    }
}
