//! OGC GeoPackage 1.4 output (`.gpkg`, QGIS's default format): one feature table named after the file, in the
//! features' CRS.
//!
//! Written to the spec with `rusqlite` (bundled SQLite): `application_id` 'GPKG' and `user_version` 10400, the
//! required `gpkg_spatial_ref_sys` (with the CRS's EPSG code and WKT), `gpkg_contents` and `gpkg_geometry_columns`
//! tables, and StandardGeoPackageBinary geometries (header with srs_id and XY envelope, then little-endian ISO WKB).
//! The database is built in memory and serialised into the run's staging, so it appears with the run's other outputs
//! or not at all. `last_change` is fixed: the same inputs give the same bytes.

use super::{atomic, OutFeature};
use crate::crs::Crs;
use crate::{Error, Result};
use geo::{BoundingRect, Coord, Geometry, LineString, MultiLineString, MultiPolygon, Polygon, Rect};
use rusqlite::{params, Connection};
use serde_json::Value;
use std::path::Path;

/// 'GPKG' in ASCII, the `application_id` every GeoPackage carries.
const APPLICATION_ID: i32 = 0x4750_4B47;
/// GeoPackage 1.4.0.
const USER_VERSION: i32 = 10400;
/// The first srs_id the spec leaves to users, for a CRS known only by its WKT.
const USER_SRS_ID: i64 = 100_000;
/// Written as every table's `last_change`, so that the same inputs give the same file.
const LAST_CHANGE: &str = "2000-01-01T00:00:00.000Z";

/// The required tables (GeoPackage 1.4, tables 3, 4 and 8) and their required rows.
const SCHEMA: &str = "
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
";

/// SQL identifier quoting: a table or column name may hold any character, `"` included.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL type of one attribute column, from the values it holds.
fn column_type(features: &[OutFeature], name: &str) -> &'static str {
    let values: Vec<&Value> = features
        .iter()
        .filter_map(|f| f.properties.get(name))
        .filter(|v| !v.is_null())
        .collect();
    if values.is_empty() {
        "TEXT"
    } else if values.iter().all(|v| v.is_i64() || v.is_u64()) {
        "INTEGER"
    } else if values.iter().all(|v| v.is_number()) {
        "REAL"
    } else if values.iter().all(|v| v.is_boolean()) {
        "BOOLEAN"
    } else {
        "TEXT"
    }
}

/// The column's geometry type: the features' own when they share one (polygons and multipolygons together are
/// MULTIPOLYGON, and written so, since a POLYGON is no MULTIPOLYGON), else GEOMETRY.
fn geometry_type(features: &[OutFeature]) -> &'static str {
    let mut kinds = features
        .iter()
        .filter_map(|f| f.geometry.as_ref())
        .map(|g| match g {
            Geometry::Point(_) => "POINT",
            Geometry::MultiPoint(_) => "MULTIPOINT",
            Geometry::LineString(_) | Geometry::Line(_) | Geometry::MultiLineString(_) => "MULTILINESTRING",
            Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {
                "MULTIPOLYGON"
            }
            Geometry::GeometryCollection(_) => "GEOMETRY",
        });
    let Some(first) = kinds.next() else {
        return "GEOMETRY";
    };
    if kinds.all(|k| k == first) {
        first
    } else {
        "GEOMETRY"
    }
}

/// A geometry as the column type wants it: lines and polygons promoted to their multi type when the column is.
fn promoted(g: &Geometry<f64>, column: &str) -> Geometry<f64> {
    let polygon = |p: Polygon<f64>| Geometry::MultiPolygon(MultiPolygon(vec![p]));
    let line = |l: LineString<f64>| Geometry::MultiLineString(MultiLineString(vec![l]));
    match (g, column) {
        (Geometry::Polygon(p), "MULTIPOLYGON") => polygon(p.clone()),
        (Geometry::Rect(r), "MULTIPOLYGON") => polygon(r.to_polygon()),
        (Geometry::Triangle(t), "MULTIPOLYGON") => polygon(t.to_polygon()),
        (Geometry::LineString(l), "MULTILINESTRING") => line(l.clone()),
        (Geometry::Line(l), "MULTILINESTRING") => line(LineString::from(vec![l.start, l.end])),
        (Geometry::Rect(r), _) => Geometry::Polygon(r.to_polygon()),
        (Geometry::Triangle(t), _) => Geometry::Polygon(t.to_polygon()),
        (Geometry::Line(l), _) => Geometry::LineString(LineString::from(vec![l.start, l.end])),
        _ => g.clone(),
    }
}

/// The gpkg_spatial_ref_sys row for `crs`: (srs_id, name, organization, organization id, WKT).
fn srs_row(path: &Path, crs: &Crs) -> Result<(i64, String, String, i64, String)> {
    let wkt = crs.to_wkt().ok_or_else(|| {
        Error::format(
            path,
            format!(
                "the CRS {crs} has no WKT definition, so a GeoPackage cannot declare it; name the working CRS by an \
                 EPSG code (e.g. EPSG:4547) or write .geojson"
            ),
        )
    })?;
    let code = crs
        .code()
        .and_then(|c| {
            Some((
                c.split_once(':')?.0.to_string(),
                c.split_once(':')?.1.parse::<i64>().ok()?,
            ))
        })
        .or_else(|| epsg_of_wkt(&wkt).map(|n| ("EPSG".to_string(), n)));
    Ok(match code {
        Some((org, id)) if org == "EPSG" => (id, crs.label().to_string(), org, id, wkt),
        // ESRI and WKT-only CRSs: a user srs_id, so that no EPSG code is claimed that the CRS is not.
        Some((org, id)) => (USER_SRS_ID, crs.label().to_string(), org, id, wkt),
        None => (
            USER_SRS_ID,
            "custom".to_string(),
            "NONE".to_string(),
            USER_SRS_ID,
            wkt,
        ),
    })
}

/// The EPSG code a WKT names for itself: its last, top-level `AUTHORITY["EPSG","n"]` (WKT1, as in the `.prj` bmu
/// and GDAL write) or `ID["EPSG",n]` (WKT2). Nested authorities (datum, unit) are not the CRS's own.
fn epsg_of_wkt(wkt: &str) -> Option<i64> {
    let body = wkt.trim().strip_suffix(']')?.trim_end().strip_suffix(']')?;
    let open = body.rfind('[')?;
    let tag = body[..open].trim_end();
    let args: Vec<&str> = body[open + 1..]
        .split(',')
        .map(|a| a.trim().trim_matches('"'))
        .collect();
    // `…AUTHORITY[…]]`: the authority closes and the CRS closes right after it, so it is the CRS's own.
    let top = !body[open..].contains(']') && (tag.ends_with("AUTHORITY") || tag.ends_with("ID"));
    match (top, args.as_slice()) {
        (true, [org, code]) if org.eq_ignore_ascii_case("EPSG") => code.parse().ok(),
        _ => None,
    }
}

/// Writes features held in `crs` as a GeoPackage in that CRS.
pub fn write(path: &Path, crs: &Crs, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    let bytes = to_bytes(path, crs, features)?;
    staging.write(path, &bytes)
}

/// The GeoPackage file, as bytes.
pub fn to_bytes(path: &Path, crs: &Crs, features: &[OutFeature]) -> Result<Vec<u8>> {
    let sql = |e: rusqlite::Error| Error::format(path, format!("cannot write the GeoPackage: {e}"));
    let table = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "features".into());
    let names = super::table::columns(features);
    let kind = geometry_type(features);

    let mut db = Connection::open_in_memory().map_err(sql)?;
    let tx = db.transaction().map_err(sql)?;
    let declared: Vec<(String, &str)> = names
        .iter()
        .map(|n| (n.clone(), column_type(features, n)))
        .collect();
    let srs_id = create_tables(&tx, path, crs, &table, kind, &declared)?;

    let mut bounds: Option<Rect<f64>> = None;
    {
        let placeholders = vec!["?"; names.len() + 1].join(", ");
        let list: Vec<String> = std::iter::once("geom".to_string())
            .chain(names.iter().map(|n| quoted(&attribute(n))))
            .collect();
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                quoted(&table),
                list.join(", ")
            ))
            .map_err(sql)?;
        for (i, f) in features.iter().enumerate() {
            let blob = match &f.geometry {
                None => None,
                Some(g) => {
                    let g = promoted(g, kind);
                    let envelope = g.bounding_rect();
                    if let Some(r) = envelope {
                        extend(&mut bounds, r);
                    }
                    Some(geometry_blob(&g, srs_id, envelope).map_err(|e| Error::feature(path, i, e))?)
                }
            };
            let mut values: Vec<rusqlite::types::Value> = vec![blob.into()];
            values.extend(names.iter().map(|n| sql_value(f.properties.get(n))));
            insert
                .execute(rusqlite::params_from_iter(values))
                .map_err(|e| Error::feature(path, i, format!("cannot write the GeoPackage: {e}")))?;
        }
    }
    close_tables(&tx, path, &table, kind, srs_id, bounds)?;
    tx.commit().map_err(sql)?;
    let data = db.serialize(rusqlite::MAIN_DB).map_err(sql)?;
    Ok(data.to_vec())
}

/// A column called `fid` or `geom` in the attributes would clash with the table's own.
fn attribute(n: &str) -> String {
    if n == "fid" || n == "geom" {
        format!("{n}_")
    } else {
        n.to_string()
    }
}

/// The required tables, their rows for `crs`, and the feature table `table` with the declared attribute columns;
/// returns the srs_id.
fn create_tables(
    tx: &Connection,
    path: &Path,
    crs: &Crs,
    table: &str,
    kind: &str,
    declared: &[(String, &str)],
) -> Result<i64> {
    let sql = |e: rusqlite::Error| Error::format(path, format!("cannot write the GeoPackage: {e}"));
    let (srs_id, srs_name, org, org_id, wkt) = srs_row(path, crs)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sql)?;
    tx.pragma_update(None, "user_version", USER_VERSION)
        .map_err(sql)?;
    tx.execute_batch(SCHEMA).map_err(sql)?;
    tx.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?1, 'longitude/latitude \
         coordinates in decimal degrees on the WGS 84 spheroid')",
        params![Crs::wgs84().to_wkt().unwrap_or_else(|| "undefined".into())],
    )
    .map_err(sql)?;
    if srs_id != 4326 {
        tx.execute(
            "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            params![srs_name, srs_id, org, org_id, wkt],
        )
        .map_err(sql)?;
    }
    let mut columns = vec![
        "fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL".to_string(),
        format!("geom {kind}"),
    ];
    columns.extend(
        declared
            .iter()
            .map(|(n, t)| format!("{} {t}", quoted(&attribute(n)))),
    );
    tx.execute_batch(&format!(
        "CREATE TABLE {} ({});",
        quoted(table),
        columns.join(", ")
    ))
    .map_err(sql)?;
    Ok(srs_id)
}

/// The feature table's rows in `gpkg_contents` (with its extent) and `gpkg_geometry_columns`.
fn close_tables(
    tx: &Connection,
    path: &Path,
    table: &str,
    kind: &str,
    srs_id: i64,
    bounds: Option<Rect<f64>>,
) -> Result<()> {
    let sql = |e: rusqlite::Error| Error::format(path, format!("cannot write the GeoPackage: {e}"));
    let (min_x, min_y, max_x, max_y) = match bounds {
        Some(b) => (Some(b.min().x), Some(b.min().y), Some(b.max().x), Some(b.max().y)),
        None => (None, None, None, None),
    };
    tx.execute(
        "INSERT INTO gpkg_contents VALUES (?1, 'features', ?1, '', ?2, ?3, ?4, ?5, ?6, ?7)",
        params![table, LAST_CHANGE, min_x, min_y, max_x, max_y, srs_id],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
        params![table, kind, srs_id],
    )
    .map_err(sql)?;
    Ok(())
}

fn extend(bounds: &mut Option<Rect<f64>>, r: Rect<f64>) {
    *bounds = Some(match *bounds {
        None => r,
        Some(b) => Rect::new(
            Coord {
                x: b.min().x.min(r.min().x),
                y: b.min().y.min(r.min().y),
            },
            Coord {
                x: b.max().x.max(r.max().x),
                y: b.max().y.max(r.max().y),
            },
        ),
    });
}

/// A GeoPackage written feature by feature into a database file on disk, for a layer too large to hold (the
/// all-towns layer of a national `bmu batch`). The columns and the geometry type are declared up front, since no
/// pass over the features can find them. The file is the caller's to stage: it is complete after [`Stream::finish`].
pub struct Stream {
    db: Connection,
    path: std::path::PathBuf,
    table: String,
    kind: &'static str,
    columns: Vec<String>,
    insert: String,
    srs_id: i64,
    bounds: Option<Rect<f64>>,
    n: usize,
}

impl Stream {
    /// Creates the database at `file` (which must not exist); `path` is the output it becomes, naming the table
    /// and the output in messages. `kind` is the geometry type (`MULTIPOLYGON`, …).
    pub fn new(
        file: &Path,
        path: &Path,
        crs: &Crs,
        kind: &'static str,
        declared: &[(String, &str)],
    ) -> Result<Stream> {
        let sql = |e: rusqlite::Error| Error::format(path, format!("cannot write the GeoPackage: {e}"));
        let table = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "features".into());
        let db = Connection::open(file).map_err(sql)?;
        // One transaction from the first row to the last: a journal that grows with the layer is the price of
        // not syncing per row; the file is staged, so a crash leaves no half-written output either way.
        db.execute_batch("BEGIN").map_err(sql)?;
        let srs_id = create_tables(&db, path, crs, &table, kind, declared)?;
        let columns: Vec<String> = declared.iter().map(|(n, _)| n.clone()).collect();
        let list: Vec<String> = std::iter::once("geom".to_string())
            .chain(columns.iter().map(|n| quoted(&attribute(n))))
            .collect();
        let insert = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quoted(&table),
            list.join(", "),
            vec!["?"; columns.len() + 1].join(", ")
        );
        Ok(Stream {
            db,
            path: path.to_path_buf(),
            table,
            kind,
            columns,
            insert,
            srs_id,
            bounds: None,
            n: 0,
        })
    }

    /// Appends one feature.
    pub fn push(&mut self, f: &OutFeature) -> Result<()> {
        let i = self.n;
        self.n += 1;
        let blob = match &f.geometry {
            None => None,
            Some(g) => {
                let g = promoted(g, self.kind);
                let envelope = g.bounding_rect();
                if let Some(r) = envelope {
                    extend(&mut self.bounds, r);
                }
                Some(geometry_blob(&g, self.srs_id, envelope).map_err(|e| Error::feature(&self.path, i, e))?)
            }
        };
        let mut values: Vec<rusqlite::types::Value> = vec![blob.into()];
        values.extend(self.columns.iter().map(|n| sql_value(f.properties.get(n))));
        let mut insert = self
            .db
            .prepare_cached(&self.insert)
            .map_err(|e| Error::feature(&self.path, i, format!("cannot write the GeoPackage: {e}")))?;
        insert
            .execute(rusqlite::params_from_iter(values))
            .map_err(|e| Error::feature(&self.path, i, format!("cannot write the GeoPackage: {e}")))?;
        Ok(())
    }

    /// Writes the extent, commits and closes the database.
    pub fn finish(self) -> Result<()> {
        let sql = |e: rusqlite::Error| Error::format(&self.path, format!("cannot write the GeoPackage: {e}"));
        close_tables(
            &self.db,
            &self.path,
            &self.table,
            self.kind,
            self.srs_id,
            self.bounds,
        )?;
        self.db.execute_batch("COMMIT").map_err(sql)?;
        self.db.close().map_err(|(_, e)| sql(e))
    }
}

/// An attribute as an SQLite value (objects and arrays as their JSON text).
fn sql_value(v: Option<&Value>) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match v {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Sql::Integer(i),
            (None, Some(f)) => Sql::Real(f),
            _ => Sql::Text(n.to_string()),
        },
        Some(v) => Sql::Text(super::value_text(v).unwrap_or_default()),
    }
}

/// StandardGeoPackageBinary: magic `GP`, version 0, flags (little-endian, XY envelope, or the empty bit), srs_id,
/// envelope (min x, max x, min y, max y), then the geometry as ISO WKB.
pub fn geometry_blob(
    g: &Geometry<f64>,
    srs_id: i64,
    envelope: Option<Rect<f64>>,
) -> std::result::Result<Vec<u8>, String> {
    let srs = i32::try_from(srs_id).map_err(|_| format!("srs_id {srs_id} out of range"))?;
    let mut out = vec![b'G', b'P', 0];
    match envelope {
        Some(r) => {
            out.push(0b0000_0011);
            out.extend(srs.to_le_bytes());
            for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
                out.extend(v.to_le_bytes());
            }
        }
        // An empty geometry: no envelope, the empty flag set.
        None => {
            out.push(0b0001_0001);
            out.extend(srs.to_le_bytes());
        }
    }
    wkb(&mut out, g)?;
    Ok(out)
}

/// ISO WKB, little-endian, 2D. Written here rather than through a crate: it is forty lines over geo-types, and the
/// WKB crates speak `geo-traits`, one more API between geo-types and the bytes.
fn wkb(out: &mut Vec<u8>, g: &Geometry<f64>) -> std::result::Result<(), String> {
    fn header(out: &mut Vec<u8>, kind: u32) {
        out.push(1);
        out.extend(kind.to_le_bytes());
    }
    fn count(out: &mut Vec<u8>, n: usize) -> std::result::Result<(), String> {
        let n = u32::try_from(n).map_err(|_| format!("{n} parts: too many for WKB"))?;
        out.extend(n.to_le_bytes());
        Ok(())
    }
    fn coord(out: &mut Vec<u8>, c: Coord<f64>) {
        out.extend(c.x.to_le_bytes());
        out.extend(c.y.to_le_bytes());
    }
    fn line(out: &mut Vec<u8>, l: &LineString<f64>) -> std::result::Result<(), String> {
        count(out, l.0.len())?;
        l.0.iter().for_each(|c| coord(out, *c));
        Ok(())
    }
    fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>) -> std::result::Result<(), String> {
        let rings = if p.exterior().0.is_empty() {
            0
        } else {
            1 + p.interiors().len()
        };
        count(out, rings)?;
        if rings > 0 {
            line(out, p.exterior())?;
            for hole in p.interiors() {
                line(out, hole)?;
            }
        }
        Ok(())
    }
    match g {
        Geometry::Point(p) => {
            header(out, 1);
            coord(out, p.0);
        }
        Geometry::LineString(l) => {
            header(out, 2);
            line(out, l)?;
        }
        Geometry::Polygon(p) => {
            header(out, 3);
            polygon(out, p)?;
        }
        Geometry::MultiPoint(mp) => {
            header(out, 4);
            count(out, mp.0.len())?;
            for p in &mp.0 {
                header(out, 1);
                coord(out, p.0);
            }
        }
        Geometry::MultiLineString(ml) => {
            header(out, 5);
            count(out, ml.0.len())?;
            for l in &ml.0 {
                header(out, 2);
                line(out, l)?;
            }
        }
        Geometry::MultiPolygon(mp) => {
            header(out, 6);
            count(out, mp.0.len())?;
            for p in &mp.0 {
                header(out, 3);
                polygon(out, p)?;
            }
        }
        Geometry::GeometryCollection(gc) => {
            header(out, 7);
            count(out, gc.0.len())?;
            for g in &gc.0 {
                wkb(out, g)?;
            }
        }
        Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => wkb(out, &promoted(g, ""))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::geojson::properties;
    use geo::polygon;

    fn units() -> Vec<OutFeature> {
        vec![
            OutFeature {
                geometry: Some(Geometry::Polygon(
                    polygon![(x: 350_000.0, y: 3_450_000.0), (x: 351_000.0, y: 3_450_000.0), (x: 351_000.0, y: 3_451_000.0)],
                )),
                properties: properties([
                    ("unit_id", Value::from("江桥-1")),
                    ("population", Value::from(23456.5)),
                    ("blocks", Value::from(7)),
                    ("pass", Value::from(true)),
                ]),
            },
            OutFeature {
                geometry: None,
                properties: properties([("unit_id", Value::from("华江-2")), ("fid", Value::from(3))]),
            },
        ]
    }

    #[test]
    fn gpkg_out_has_the_required_tables_its_crs_and_standard_geometries() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("units.gpkg");
        let crs = Crs::parse("EPSG:32651").unwrap();
        crate::io::write_layer(&out, &crs, &units(), &[]).unwrap();
        let db = Connection::open(&out).unwrap();
        let app: i32 = db.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
        let version: i32 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!((app, version), (0x4750_4B47, 10400));
        let (org, id, wkt): (String, i64, String) = db
            .query_row(
                "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = 32651",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((org.as_str(), id), ("EPSG", 32651));
        assert!(wkt.contains("UTM zone 51N"), "{wkt}");
        let (kind, srs): (String, i64) = db
            .query_row(
                "SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = 'units'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((kind.as_str(), srs), ("MULTIPOLYGON", 32651));
        let (data_type, min_x, srs): (String, f64, i64) = db
            .query_row("SELECT data_type, min_x, srs_id FROM gpkg_contents", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((data_type.as_str(), min_x, srs), ("features", 350_000.0, 32651));
        let (geom, name, pop, pass, fid_attr): (Vec<u8>, String, f64, bool, Option<i64>) = db
            .query_row(
                "SELECT geom, unit_id, population, pass, fid_ FROM units WHERE fid = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            (name.as_str(), pop, pass, fid_attr),
            ("江桥-1", 23456.5, true, None)
        );
        assert_eq!(&geom[..4], b"GP\x00\x03");
        assert_eq!(i32::from_le_bytes(geom[4..8].try_into().unwrap()), 32651);
        let env: Vec<f64> = (0..4)
            .map(|k| f64::from_le_bytes(geom[8 + 8 * k..16 + 8 * k].try_into().unwrap()))
            .collect();
        assert_eq!(env, [350_000.0, 351_000.0, 3_450_000.0, 3_451_000.0]);
        // Little-endian WKB MultiPolygon.
        assert_eq!(&geom[40..45], &[1, 6, 0, 0, 0]);
        let null: Option<Vec<u8>> = db
            .query_row("SELECT geom FROM units WHERE fid = 2", [], |r| r.get(0))
            .unwrap();
        assert_eq!(null, None);
    }

    #[test]
    fn gpkg_srs_id_is_the_epsg_code_a_prj_wkt_names_for_itself() {
        let utm = Crs::parse("EPSG:32651").unwrap().to_wkt().unwrap();
        assert_eq!(epsg_of_wkt(&utm), Some(32651));
        assert_eq!(
            epsg_of_wkt("PROJCRS[\"x\",BASEGEOGCRS[\"y\"],ID[\"EPSG\",4547]]"),
            Some(4547)
        );
        // A nested authority (here the datum's) is not the CRS's own.
        assert_eq!(
            epsg_of_wkt("GEOGCS[\"x\",DATUM[\"D\",AUTHORITY[\"EPSG\",\"6326\"]]]"),
            None
        );
        let from_prj = Crs::parse(&utm).unwrap();
        assert_eq!(srs_row(Path::new("u.gpkg"), &from_prj).unwrap().0, 32651);
    }

    #[test]
    fn gpkg_out_refuses_a_crs_it_cannot_declare() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("units.gpkg");
        let crs = Crs::parse("+proj=tmerc +lon_0=121.3 +k=1 +x_0=500000 +ellps=GRS80 +units=m").unwrap();
        let e = crate::io::write_layer(&out, &crs, &units(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("units.gpkg") && e.contains("no WKT"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn gpkg_out_is_the_same_bytes_every_run() {
        let crs = Crs::parse("EPSG:32651").unwrap();
        let a = to_bytes(Path::new("u.gpkg"), &crs, &units()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(a, to_bytes(Path::new("u.gpkg"), &crs, &units()).unwrap());
    }

    #[test]
    fn gpkg_input_is_refused_naming_what_bmu_reads_and_writes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("units.gpkg");
        crate::io::write_layer(&out, &Crs::parse("EPSG:32651").unwrap(), &units(), &[]).unwrap();
        let e = crate::io::read_layer(&out, &crate::io::ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("units.gpkg")
                && e.contains("unsupported vector format `.gpkg` for an input")
                && e.contains("reads .geojson"),
            "{e}"
        );
    }
}
