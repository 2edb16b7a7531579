//! Issue "Formats": GeoPackage, XLSX, KML, CSV and honest Shapefile outputs from `validate` and `population`, read
//! back with rusqlite and calamine, CRS and Chinese attributes intact.

use crate::{assert_error, bmu, demo, root};
use bmu::crs::Crs;
use bmu::io::{read_layer, write_layer, OutFeature, ReadOptions};
use geo::{Geometry, MultiPolygon, Rect};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two rectangles inside the demo town, in UTM 51N, named in Chinese, as a Shapefile (so the polygons' CRS is UTM).
fn utm_polygons(dir: &Path) -> PathBuf {
    let town = read_layer(&demo().join("town.geojson"), &ReadOptions::default()).unwrap();
    let to_utm = bmu::crs::Transformer::new(&town.crs, &Crs::parse("EPSG:32651").unwrap()).unwrap();
    let mut g = town.features[0].geometry.clone().unwrap();
    to_utm.transform_geometry(&mut g).unwrap();
    let b = geo::BoundingRect::bounding_rect(&g).unwrap();
    let (cx, cy) = ((b.min().x + b.max().x) / 2.0, (b.min().y + b.max().y) / 2.0);
    let rect = |x: f64, name: &str| OutFeature {
        geometry: Some(Geometry::MultiPolygon(MultiPolygon(vec![Rect::new(
            (x, cy - 500.0),
            (x + 1000.0, cy + 500.0),
        )
        .to_polygon()]))),
        properties: json!({ "name": name }).as_object().unwrap().clone(),
    };
    let path = dir.join("片区.shp");
    let feats = vec![rect(cx - 1000.0, "江桥一片"), rect(cx, "华江二片")];
    write_layer(&path, &Crs::parse("EPSG:32651").unwrap(), &feats, &[]).unwrap();
    path
}

fn population(polygons: &Path, out: &Path) -> std::process::Output {
    bmu(
        &[
            "population",
            "--grid",
            demo().join("population.synthetic.tif").to_str().unwrap(),
            "--polygons",
            polygons.to_str().unwrap(),
            "--id-field",
            "name",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    )
}

#[test]
fn population_gpkg_out_opens_with_its_crs_chinese_ids_and_geometries() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = utm_polygons(dir.path());
    let out = dir.path().join("人口.gpkg");
    let run = population(&polygons, &out);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let db = rusqlite::Connection::open(&out).unwrap();
    let app: i32 = db.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
    assert_eq!(app, 0x4750_4B47, "application_id 'GPKG'");
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in [
        "gpkg_contents",
        "gpkg_geometry_columns",
        "gpkg_spatial_ref_sys",
        "人口",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} missing from {tables:?}");
    }
    // The polygons' own CRS, declared by its EPSG code and WKT.
    let (srs, kind): (i64, String) = db
        .query_row(
            "SELECT srs_id, geometry_type_name FROM gpkg_geometry_columns",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((srs, kind.as_str()), (32651, "MULTIPOLYGON"));
    let org: String = db
        .query_row(
            "SELECT organization FROM gpkg_spatial_ref_sys WHERE srs_id = 32651",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(org, "EPSG");
    let rows: Vec<(String, f64, Vec<u8>)> = db
        .prepare("SELECT id, population, geom FROM \"人口\" ORDER BY fid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["江桥一片", "华江二片"]
    );
    assert!(rows.iter().all(|r| r.1 > 0.0), "{rows:?}");
    let geom = &rows[0].2;
    assert_eq!(
        &geom[..4],
        b"GP\x00\x03",
        "StandardGeoPackageBinary, little-endian, XY envelope"
    );
    assert_eq!(i32::from_le_bytes(geom[4..8].try_into().unwrap()), 32651);
    let min_x = f64::from_le_bytes(geom[8..16].try_into().unwrap());
    assert!(
        (200_000.0..500_000.0).contains(&min_x),
        "envelope in UTM metres: {min_x}"
    );
}

#[test]
fn population_xlsx_out_reads_back_with_chinese_ids_and_the_csv_numbers() {
    use calamine::{Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let polygons = utm_polygons(dir.path());
    let (xlsx, csv) = (dir.path().join("pop.xlsx"), dir.path().join("pop.csv"));
    for out in [&xlsx, &csv] {
        let run = population(&polygons, out);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let mut book: Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("pop").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(
        rows[0][..2],
        [Data::String("id".into()), Data::String("population".into())]
    );
    let mut table = csv::Reader::from_path(&csv).unwrap();
    let expected: Vec<(String, f64)> = table
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].parse().unwrap())
        })
        .collect();
    let got: Vec<(String, f64)> = rows[1..]
        .iter()
        .map(|r| match (&r[0], &r[1]) {
            (Data::String(id), Data::Float(p)) => (id.clone(), *p),
            other => panic!("row {other:?}"),
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got[0].0, "江桥一片");
}

#[test]
fn population_kml_out_is_wgs84_whatever_the_polygons_crs() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = utm_polygons(dir.path());
    let out = dir.path().join("pop.kml");
    let run = population(&polygons, &out);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let kml = std::fs::read_to_string(&out).unwrap();
    assert!(kml.contains("<name>江桥一片</name>"), "{kml}");
    assert!(kml.contains("<Data name=\"population\">"), "{kml}");
    let coords = kml.split("<coordinates>").nth(1).unwrap();
    let (lon, rest) = coords.split_once(',').unwrap();
    let lat: f64 = rest.split(' ').next().unwrap().parse().unwrap();
    let lon: f64 = lon.parse().unwrap();
    assert!(
        (121.0..121.7).contains(&lon) && (31.0..31.5).contains(&lat),
        "{lon},{lat}"
    );
}

#[test]
fn output_with_an_unknown_extension_is_refused_listing_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let polygons = utm_polygons(dir.path());
    let out = dir.path().join("pop.pdf");
    let run = population(&polygons, &out);
    assert_error(
        &run,
        &["pop.pdf", "unsupported output `.pdf`", ".gpkg", ".xlsx", ".kml"],
    );
    assert!(!out.exists());
}

#[test]
fn validate_writes_units_as_gpkg_problems_as_xlsx_and_the_map_as_pdf_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let run = bmu(
        &[
            "validate",
            demo().to_str().unwrap(),
            "--units",
            demo().join("town.geojson").to_str().unwrap(),
            "--id-field",
            "name",
            "--out",
            p("units.gpkg").to_str().unwrap(),
            "--problems",
            p("problems.xlsx").to_str().unwrap(),
            "--report",
            p("report.json").to_str().unwrap(),
            "--map",
            p("map.pdf").to_str().unwrap(),
            "-q",
        ],
        &root(),
    );
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", stderr(&run));
    // The units in the working CRS (the demo's UTM 51N), with every check's columns.
    let db = rusqlite::Connection::open(p("units.gpkg")).unwrap();
    let srs: i64 = db
        .query_row(
            "SELECT srs_id FROM gpkg_contents WHERE table_name = 'units'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(srs, 32651);
    let (id, pass): (String, Option<bool>) = db
        .query_row("SELECT unit_id, pass FROM units", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(id, "江桥镇");
    assert!(pass.is_some());
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(p("problems.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["problems"]);
    let range = book.worksheet_range("problems").unwrap();
    if range.height() > 0 {
        assert_eq!(range.get((0, 0)), Some(&calamine::Data::String("kind".into())));
    }
    let pdf = std::fs::read(p("map.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "--map map.pdf is a PDF");
    let report: Value = serde_json::from_slice(&std::fs::read(p("report.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["units"], 1);
}
