//! OpenStreetMap extracts, read-only: OSM XML (`.osm`, with `quick-xml`) and PBF (`.osm.pbf`, with `osmpbf`).
//!
//! Both formats go through one `Builder`, so the same extract gives the same layer whichever way it was saved:
//! - a way becomes a line feature (its tags flat as properties, plus `osm_id`; `name` is kept so road names reach
//!   findings). Junctions are the node ids ways share, and shared nodes get bit-identical coordinates. A closed way
//!   that is an area (`area=yes`, `landuse`, `building`…) is not a feature: its outline is not a road or a river.
//! - a node with point-of-interest tags (`amenity`, `healthcare`, `shop`, `leisure`…, see [`is_poi`]) becomes a
//!   point feature, for `[facilities]` to type by its tags ([`crate::vocab::FacilityType::from_osm_tags`]).
//! - relations are not read: multipolygon areas are not lines, and route relations repeat their member ways.
//!
//! Coordinates are kept as OSM stores them, in 1e-7 degrees, and turned into floating point in one place, so the
//! XML text `121.4668624` and the PBF integer `1214668624` give the same `f64`. The CRS is WGS84 (OSM has no other).
//!
//! A city extract is read in one pass: nodes first (as every OSM writer orders them; an unsorted file is refused
//! with the fix), their coordinates kept in a map of 8 bytes each plus the hash table's overhead (20–40 bytes a node
//! as the table grows, 100–200 MB for Shanghai's ~5 million nodes); that map is what bounds memory. With a window (the study area's
//! bounding box in lon/lat, see [`super::ReadOptions::window`]) ways whose bounding box misses it and points
//! outside it are dropped as they are read, so only the study area's features are kept.

use super::{CrsSource, Feature, Layer, ReadOptions};
use crate::crs::Crs;
use crate::{Error, Result};
use geo::{Coord, Geometry, LineString, MultiLineString, Point, Rect};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reads an OSM XML or PBF file (chosen by extension: `.pbf` is PBF, anything else XML) into a [`Layer`].
pub fn read(path: &Path, options: &ReadOptions) -> Result<Layer> {
    let mut builder = Builder::new(path, options.window);
    if super::extension(path) == "pbf" {
        read_pbf(path, &mut builder)?;
    } else {
        read_xml(path, &mut builder)?;
    }
    builder.finish()
}

/// Tags of one element, in file order.
type Tags = Vec<(String, String)>;

/// Turns nodes and ways, in file order, into features.
struct Builder {
    path: PathBuf,
    window: Option<Rect<f64>>,
    /// Node id → (lon, lat) in 1e-7 degrees.
    nodes: HashMap<i64, (i32, i32)>,
    features: Vec<Feature>,
    fields: Vec<String>,
    /// The first way read, once one has been: a node after it means the file is not sorted.
    first_way: Option<i64>,
    /// Ways some of whose nodes are not in the file (an extract cut without complete ways).
    ways_missing_nodes: usize,
    /// Ways left with fewer than two nodes.
    ways_unusable: usize,
}

/// 1e-7 degrees → degrees, the one conversion both formats share.
fn degrees(v: i32) -> f64 {
    f64::from(v) / 1e7
}

impl Builder {
    fn new(path: &Path, window: Option<Rect<f64>>) -> Builder {
        Builder {
            path: path.to_path_buf(),
            window,
            nodes: HashMap::new(),
            features: Vec::new(),
            fields: Vec::new(),
            first_way: None,
            ways_missing_nodes: 0,
            ways_unusable: 0,
        }
    }

    fn node(&mut self, id: i64, lon: i32, lat: i32, tags: Tags) -> Result<()> {
        if let Some(way) = self.first_way {
            return Err(Error::format(
                &self.path,
                format!(
                    "node {id} comes after way {way}: OSM files list nodes first (sort it with `osmium sort`)"
                ),
            ));
        }
        if lat.unsigned_abs() > 900_000_000 || lon.unsigned_abs() > 1_800_000_000 {
            return Err(Error::format(
                &self.path,
                format!(
                    "node {id}: ({}, {}) is not a longitude/latitude",
                    degrees(lon),
                    degrees(lat)
                ),
            ));
        }
        self.nodes.insert(id, (lon, lat));
        if !tags.is_empty() && is_poi(&tags) {
            let point = Point::new(degrees(lon), degrees(lat));
            if self
                .window
                .is_none_or(|w| geo::Intersects::intersects(&w, &point))
            {
                self.push(format!("node/{id}"), id, Geometry::Point(point), tags);
            }
        }
        Ok(())
    }

    fn way(&mut self, id: i64, refs: &[i64], tags: Tags) {
        self.first_way.get_or_insert(id);
        let closed = refs.len() > 3 && refs.first() == refs.last();
        if tags.is_empty() || (closed && is_area(&tags)) {
            return;
        }
        // A node missing from the file splits the way rather than joining its neighbours with an invented edge.
        let mut parts: Vec<LineString<f64>> = Vec::new();
        let mut run: Vec<Coord<f64>> = Vec::new();
        let mut missing = false;
        for r in refs {
            match self.nodes.get(r) {
                Some(&(lon, lat)) => run.push(Coord {
                    x: degrees(lon),
                    y: degrees(lat),
                }),
                None => {
                    missing = true;
                    if run.len() >= 2 {
                        parts.push(LineString::new(std::mem::take(&mut run)));
                    }
                    run.clear();
                }
            }
        }
        if run.len() >= 2 {
            parts.push(LineString::new(run));
        }
        self.ways_missing_nodes += usize::from(missing);
        let geometry = match parts.len() {
            0 => {
                self.ways_unusable += 1;
                return;
            }
            1 => Geometry::LineString(parts.remove(0)),
            _ => Geometry::MultiLineString(MultiLineString(parts)),
        };
        if let Some(w) = self.window {
            match geo::BoundingRect::bounding_rect(&geometry) {
                Some(b) if geo::Intersects::intersects(&w, &b) => {}
                _ => return,
            }
        }
        self.push(format!("way/{id}"), id, geometry, tags);
    }

    fn push(&mut self, label: String, id: i64, geometry: Geometry<f64>, tags: Tags) {
        let mut properties = Map::new();
        properties.insert("osm_id".into(), Value::from(id));
        for (k, v) in tags {
            properties.insert(k, Value::String(v));
        }
        for k in properties.keys() {
            if !self.fields.iter().any(|f| f == k) {
                self.fields.push(k.clone());
            }
        }
        self.features.push(Feature {
            index: self.features.len(),
            id: Some(Value::String(label)),
            geometry: Some(geometry),
            properties,
        });
    }

    fn finish(self) -> Result<Layer> {
        let mut warnings = Vec::new();
        if self.ways_missing_nodes > 0 {
            warnings.push(format!(
                "{}: {} way(s) refer to nodes not in the file (an extract cut at its edge?): kept the parts present{}",
                self.path.display(),
                self.ways_missing_nodes,
                if self.ways_unusable > 0 {
                    format!(", {} way(s) left with under two nodes skipped", self.ways_unusable)
                } else {
                    String::new()
                }
            ));
        }
        Ok(Layer {
            path: self.path,
            crs: Crs::wgs84(),
            crs_source: CrsSource::Declared,
            features: self.features,
            fields: self.fields,
            warnings,
        })
    }
}

/// Whether a closed way is an area rather than a loop of road or river: OSM's area rules, simplified to the keys
/// that would otherwise put outlines among the lines (a roundabout, `junction=roundabout`, stays a line).
fn is_area(tags: &Tags) -> bool {
    let get = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    match get("area") {
        Some("no") => return false,
        Some(_) => return true,
        None => {}
    }
    const AREA_KEYS: [&str; 12] = [
        "landuse",
        "building",
        "leisure",
        "natural",
        "amenity",
        "place",
        "boundary",
        "water",
        "man_made",
        "shop",
        "tourism",
        "landcover",
    ];
    tags.iter().any(|(k, _)| AREA_KEYS.contains(&k.as_str())) || get("waterway") == Some("riverbank")
}

/// Whether a node is a point of interest: what the facility table maps, and the keys a `[facilities.type_map]`
/// entry (`"amenity=townhall" = "affairs"`) may name. Road vertices (`highway=traffic_signals`, `crossing`) are not.
pub fn is_poi(tags: &[(String, String)]) -> bool {
    const POI_KEYS: [&str; 10] = [
        "amenity",
        "healthcare",
        "shop",
        "leisure",
        "office",
        "tourism",
        "public_transport",
        "social_facility",
        "government",
        "craft",
    ];
    tags.iter().any(|(k, _)| POI_KEYS.contains(&k.as_str()))
        || crate::vocab::FacilityType::from_osm_tags(|k| {
            tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
        })
        .is_some()
}

/// Reads OSM XML in one streaming pass.
fn read_xml(path: &Path, b: &mut Builder) -> Result<()> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader =
        quick_xml::Reader::from_file(path).map_err(|e| Error::format(path, format!("cannot open: {e}")))?;
    let mut buf = Vec::new();
    let bad = |reader: &quick_xml::Reader<_>, e: String| {
        Error::format(
            path,
            format!("not OSM XML: {e} (near byte {})", reader.buffer_position()),
        )
    };
    /// The element being read: tags and node refs accumulate until its end.
    enum Open {
        None,
        Node { id: i64, lon: i32, lat: i32, tags: Tags },
        Way { id: i64, refs: Vec<i64>, tags: Tags },
        Other,
    }
    let attr = |e: &BytesStart, name: &[u8]| -> std::result::Result<Option<String>, String> {
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            if a.key.as_ref() == name {
                let raw = std::str::from_utf8(&a.value).map_err(|e| e.to_string())?;
                return quick_xml::escape::unescape(raw)
                    .map(|v| Some(v.into_owned()))
                    .map_err(|e| e.to_string());
            }
        }
        Ok(None)
    };
    let mut root_seen = false;
    // A file cut between two elements parses cleanly up to its end: only the missing `</osm>` shows it.
    let mut closed = false;
    let mut open = Open::None;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(&reader, e.to_string()))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                match e.name().as_ref() {
                    b"node" | b"way" | b"relation" => {
                        finish_element(b, std::mem::replace(&mut open, Open::None))?;
                    }
                    b"osm" => closed = true,
                    _ => {}
                }
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        let name = e.name();
        let name = name.as_ref();
        if !root_seen {
            if name != b"osm" {
                return Err(bad(
                    &reader,
                    format!(
                        "the root element is <{}>, not <osm>",
                        String::from_utf8_lossy(name)
                    ),
                ));
            }
            root_seen = true;
            closed = empty;
            buf.clear();
            continue;
        }
        let number = |what: &str| -> Result<String> {
            attr(e, what.as_bytes())
                .map_err(|m| bad(&reader, m))?
                .ok_or_else(|| {
                    bad(
                        &reader,
                        format!("<{}> without `{what}`", String::from_utf8_lossy(name)),
                    )
                })
        };
        let id = |reader: &quick_xml::Reader<_>| -> Result<i64> {
            let text = number("id")?;
            text.trim()
                .parse::<i64>()
                .map_err(|_| bad(reader, format!("id `{}` is not an integer", super::shown(&text))))
        };
        match name {
            b"node" => {
                let id = id(&reader)?;
                let coordinate = |what: &str| -> Result<i32> {
                    let text = number(what)?;
                    match text.trim().parse::<f64>() {
                        // Range is checked by the builder, on the same integers PBF carries.
                        Ok(v) if v.is_finite() && v.abs() <= 180.0 => Ok((v * 1e7).round() as i32),
                        _ => Err(Error::format(
                            path,
                            format!(
                                "node {id}: {what} `{}` is not a number of degrees",
                                super::shown(&text)
                            ),
                        )),
                    }
                };
                open = Open::Node {
                    id,
                    lon: coordinate("lon")?,
                    lat: coordinate("lat")?,
                    tags: Vec::new(),
                };
            }
            b"way" => {
                open = Open::Way {
                    id: id(&reader)?,
                    refs: Vec::new(),
                    tags: Vec::new(),
                }
            }
            b"relation" => open = Open::Other,
            b"tag" => {
                let k = number("k")?;
                let v = number("v")?;
                match &mut open {
                    Open::Node { tags, .. } | Open::Way { tags, .. } => tags.push((k, v)),
                    _ => {}
                }
            }
            b"nd" => {
                if let Open::Way { id, refs, .. } = &mut open {
                    let text = number("ref")?;
                    refs.push(text.trim().parse::<i64>().map_err(|_| {
                        Error::format(
                            path,
                            format!("way {id}: node ref `{}` is not an integer", super::shown(&text)),
                        )
                    })?);
                }
            }
            _ => {}
        }
        if empty && matches!(name, b"node" | b"way" | b"relation") {
            finish_element(b, std::mem::replace(&mut open, Open::None))?;
        }
        buf.clear();
    }
    if !root_seen {
        return Err(Error::format(path, "not OSM XML: no <osm> element"));
    }
    if !closed {
        return Err(Error::format(
            path,
            "truncated: the file ends before `</osm>` (an interrupted download or copy?)",
        ));
    }
    return Ok(());

    fn finish_element(b: &mut Builder, open: Open) -> Result<()> {
        match open {
            Open::Node { id, lon, lat, tags } => b.node(id, lon, lat, tags),
            Open::Way { id, refs, tags } => {
                b.way(id, &refs, tags);
                Ok(())
            }
            Open::None | Open::Other => Ok(()),
        }
    }
}

/// Reads OSM PBF in one sequential pass (blocks in file order, so features come out in the XML's order).
fn read_pbf(path: &Path, b: &mut Builder) -> Result<()> {
    use osmpbf::{Element, ElementReader};
    let reader =
        ElementReader::from_path(path).map_err(|e| Error::format(path, format!("cannot open: {e}")))?;
    let tags = |it: &mut dyn Iterator<Item = (&str, &str)>| -> Tags {
        it.map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    // `for_each` takes a closure without a result: keep the first error and ignore what follows it.
    let mut failed: Option<Error> = None;
    reader
        .for_each(|element| {
            if failed.is_some() {
                return;
            }
            let result = match element {
                Element::Node(n) => b.node(n.id(), n.decimicro_lon(), n.decimicro_lat(), tags(&mut n.tags())),
                Element::DenseNode(n) => {
                    b.node(n.id(), n.decimicro_lon(), n.decimicro_lat(), tags(&mut n.tags()))
                }
                Element::Way(w) => {
                    let refs: Vec<i64> = w.refs().collect();
                    b.way(w.id(), &refs, tags(&mut w.tags()));
                    Ok(())
                }
                Element::Relation(_) => Ok(()),
            };
            if let Err(e) = result {
                failed = Some(e);
            }
        })
        .map_err(|e| Error::format(path, format!("not an OSM PBF file: {e}")))?;
    failed.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(body: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.osm");
        std::fs::write(
            &path,
            format!("<?xml version='1.0'?>\n<osm version=\"0.6\">\n{body}\n</osm>\n"),
        )
        .unwrap();
        (dir, path)
    }

    const NODES: &str = r#"<node id="1" lat="31.2000000" lon="121.4000000"/>
<node id="2" lat="31.2000000" lon="121.4100000"/>
<node id="3" lat="31.2100000" lon="121.4100000">
  <tag k="highway" v="traffic_signals"/>
</node>
<node id="4" lat="31.2050000" lon="121.4050000">
  <tag k="amenity" v="police"/><tag k="name" v="南京东路派出所"/>
</node>"#;

    #[test]
    fn ways_become_lines_with_shared_junctions_and_pois_points() {
        let (_d, path) = xml(&format!(
            r#"{NODES}
<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/><tag k="name" v="延安东路"/></way>
<way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>"#
        ));
        let layer = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(layer.crs, Crs::wgs84());
        assert_eq!(
            layer.features.len(),
            3,
            "the police node and two ways; the signal node is a vertex"
        );
        let police = &layer.features[0];
        assert_eq!(police.id, Some(Value::String("node/4".into())));
        assert_eq!(police.text("amenity").as_deref(), Some("police"));
        let road = &layer.features[1];
        assert_eq!(road.text("name").as_deref(), Some("延安东路"));
        assert_eq!(road.text("osm_id").as_deref(), Some("10"));
        let (Some(Geometry::LineString(a)), Some(Geometry::LineString(b))) =
            (&layer.features[1].geometry, &layer.features[2].geometry)
        else {
            panic!("ways are lines")
        };
        assert_eq!(a.0[1], b.0[0], "the shared node is one coordinate");
        assert_eq!(a.0[1], Coord { x: 121.41, y: 31.2 });
    }

    #[test]
    fn closed_area_ways_are_not_features_but_roundabouts_are() {
        let (_d, path) = xml(&format!(
            r#"{NODES}
<way id="20"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="landuse" v="residential"/></way>
<way id="21"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
<way id="22"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="highway" v="primary"/><tag k="junction" v="roundabout"/></way>"#
        ));
        let layer = read(&path, &ReadOptions::default()).unwrap();
        let ids: Vec<_> = layer.features.iter().filter_map(|f| f.text("osm_id")).collect();
        assert_eq!(ids, ["4", "22"]);
    }

    #[test]
    fn window_drops_ways_and_points_wholly_outside() {
        let (_d, path) = xml(&format!(
            r#"{NODES}
<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>
<way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>"#
        ));
        // A window around the eastern edge only: way 11 (lon 121.41) crosses it, way 10 touches it at node 2.
        let window = Rect::new(
            Coord {
                x: 121.408,
                y: 31.205,
            },
            Coord { x: 121.42, y: 31.22 },
        );
        let layer = read(
            &path,
            &ReadOptions {
                window: Some(window),
                ..Default::default()
            },
        )
        .unwrap();
        let ids: Vec<_> = layer.features.iter().filter_map(|f| f.text("osm_id")).collect();
        assert_eq!(ids, ["11"], "the police node and way 10 lie outside the window");
    }

    #[test]
    fn osm_way_with_missing_nodes_is_split_not_joined() {
        let (_d, path) = xml(&format!(
            r#"{NODES}
<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="99"/><nd ref="3"/><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>"#
        ));
        let layer = read(&path, &ReadOptions::default()).unwrap();
        let Some(Geometry::MultiLineString(m)) = &layer.features[1].geometry else {
            panic!("a way with a gap is two lines")
        };
        assert_eq!(m.0.len(), 2);
        assert_eq!(layer.warnings.len(), 1, "{:?}", layer.warnings);
    }

    #[test]
    fn osm_node_after_way_is_refused_with_the_fix() {
        let (_d, path) = xml(&format!(
            r#"<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>
{NODES}"#
        ));
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("node 1 comes after way 10") && e.contains("osmium sort"),
            "{e}"
        );
    }

    #[test]
    fn truncated_osm_xml_is_refused() {
        let (_d, path) = xml(NODES);
        let text = std::fs::read_to_string(&path).unwrap();
        // Cut between two elements: every element read is well formed.
        let cut = text.find("<node id=\"3\"").unwrap();
        std::fs::write(&path, &text[..cut]).unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("truncated: the file ends before `</osm>`"), "{e}");
    }

    #[test]
    fn osm_xml_with_another_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.osm");
        std::fs::write(&path, "<gpx><trk/></gpx>").unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("root element is <gpx>"), "{e}");
    }

    #[test]
    fn osm_node_with_bad_latitude_is_refused_naming_it() {
        let (_d, path) = xml(r#"<node id="7" lat="north" lon="121.4"/>"#);
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("node 7: lat `north` is not a number of degrees"),
            "{e}"
        );
        let (_d, path) = xml(r#"<node id="8" lat="95.0" lon="121.4"/>"#);
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("node 8: (121.4, 95) is not a longitude/latitude"),
            "{e}"
        );
    }
}
