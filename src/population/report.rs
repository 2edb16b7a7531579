//! `bmu population`: per-polygon population of a layer from a grid or points, written as CSV, JSON or GeoJSON.

use super::source::{GridSource, PointSource, PopulationSource};
use super::{read_points_csv, ZonalStats};
use crate::crs::{Crs, Transformer};
use crate::io::{self, atomic::Staging, Layer, OutFeature};
use crate::progress::timed;
use crate::{Error, Result};
use geo::{Geometry, MultiPolygon, Point};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::path::Path;

/// Rows of the CSV formatted as one piece of work.
const CSV_ROWS: usize = 1024;

/// One polygon's result.
#[derive(Clone, Debug)]
pub struct Row {
    /// The polygon's id.
    pub id: String,
    /// Its population and how it was counted.
    pub stats: ZonalStats,
    /// The polygon, for GeoJSON output.
    pub geometry: Option<Geometry<f64>>,
}

/// The whole table, in the layer's order, in the layer's CRS.
#[derive(Clone, Debug)]
pub struct ZonalTable {
    /// CRS of the polygons.
    pub crs: Crs,
    /// One row per polygon.
    pub rows: Vec<Row>,
    /// Warnings met while counting.
    pub warnings: Vec<String>,
}

/// The kind of population source a path is, by extension.
pub enum SourceKind {
    /// A GeoTIFF or ESRI ASCII grid.
    Grid,
    /// CSV points `x,y,pop`.
    CsvPoints,
    /// GeoJSON points with a count field.
    GeoJsonPoints,
}

impl SourceKind {
    /// The kind of source `path` is, by its extension.
    pub fn of(path: &Path) -> Result<SourceKind> {
        let ext = crate::io::extension(path);
        match ext.as_str() {
            "tif" | "tiff" | "asc" => Ok(SourceKind::Grid),
            "csv" => Ok(SourceKind::CsvPoints),
            "geojson" | "json" => Ok(SourceKind::GeoJsonPoints),
            _ => Err(Error::grid(
                path,
                format!("unsupported population source `.{ext}` (GeoTIFF, .asc, .csv or GeoJSON points)"),
            )),
        }
    }
}

/// Opens any population source for polygons in `crs`. CSV points are in `points_crs` (default WGS84) with columns
/// `x`, `y` and `field` (default `pop`); GeoJSON points carry `field` (default `population`).
pub fn open_source(
    path: &Path,
    grid_crs: Option<&str>,
    field: Option<&str>,
    crs: &Crs,
) -> Result<Box<dyn PopulationSource>> {
    match SourceKind::of(path)? {
        SourceKind::Grid => Ok(Box::new(GridSource::open(path, grid_crs, crs)?)),
        SourceKind::CsvPoints => {
            let points_crs = grid_crs.map(Crs::parse).transpose()?.unwrap_or_else(Crs::wgs84);
            let t = Transformer::new(&points_crs, crs)?;
            let points = read_points_csv(path, "x", "y", field.unwrap_or("pop"))?
                .into_iter()
                .map(|(p, v)| Ok((Point(t.transform(p.0)?), v)))
                .collect::<Result<Vec<_>>>()?;
            Ok(Box::new(PointSource {
                path: path.to_path_buf(),
                points,
            }))
        }
        SourceKind::GeoJsonPoints => {
            let layer = io::read_layer(path, &io::ReadOptions::default())?;
            let field = field.unwrap_or("population");
            layer.require_field(field)?;
            let t = Transformer::new(&layer.crs, crs)?;
            let mut points = Vec::new();
            for f in &layer.features {
                let Some(Geometry::Point(p)) = &f.geometry else {
                    return Err(layer.error(f, None, "population points must be Points"));
                };
                let v = crate::model::count(&layer, f, field, None)?;
                points.push((Point(t.transform(p.0)?), v));
            }
            Ok(Box::new(PointSource {
                path: path.to_path_buf(),
                points,
            }))
        }
    }
}

fn polygons_of(layer: &Layer) -> Result<Vec<MultiPolygon<f64>>> {
    layer
        .features
        .par_iter()
        .map(|f| match &f.geometry {
            Some(Geometry::Polygon(p)) => Ok(MultiPolygon(vec![p.clone()])),
            Some(Geometry::MultiPolygon(mp)) => Ok(mp.clone()),
            Some(g) => Err(layer.error(
                f,
                None,
                format!("expected a polygon, found a {}", crate::model::geometry_kind(g)),
            )),
            None => Err(layer.error(f, None, "geometry is null")),
        })
        .collect()
}

/// Population of every polygon of `layer` from `source` (grid: exact fractions with coverage statistics).
pub fn zonal_table(
    layer: &Layer,
    id_field: Option<&str>,
    source: &Path,
    grid_crs: Option<&str>,
    field: Option<&str>,
) -> Result<ZonalTable> {
    if let Some(f) = id_field {
        layer.require_field(f)?;
    }
    if layer.features.is_empty() {
        return Err(Error::format(&layer.path, "polygon layer has no features"));
    }
    let polygons = timed("population: polygons", || polygons_of(layer))?;
    let stats: Vec<ZonalStats> = match SourceKind::of(source)? {
        SourceKind::Grid => {
            let grid = timed("population: open the grid", || {
                GridSource::open(source, grid_crs, &layer.crs)
            })?;
            let stats = grid.stats(&polygons)?;
            // Freeing the decoded tiles (up to the cache's 128 MiB) and the polygons is no one's result: it goes to
            // the pool, beside the rows and the output, instead of ahead of them.
            rayon::spawn(move || drop((grid, polygons)));
            stats
        }
        _ => open_source(source, grid_crs, field, &layer.crs)?
            .population(&polygons)?
            .into_iter()
            .map(|population| ZonalStats {
                population,
                ..Default::default()
            })
            .collect(),
    };
    let mut warnings = Vec::new();
    let covered: usize = stats.iter().map(|s| s.covered_cells).sum();
    let nodata: usize = stats.iter().map(|s| s.nodata_cells).sum();
    if covered > 0 && covered == nodata {
        warnings.push(format!(
            "{}: every cell under the polygons is nodata: population is 0",
            source.display()
        ));
    } else if nodata > 0 {
        warnings.push(format!(
            "{}: {nodata} of {covered} covered cells are nodata (counted as 0)",
            source.display()
        ));
    }
    let rows = timed("population: rows", || {
        layer
            .features
            .par_iter()
            .zip(stats)
            .map(|(f, stats)| Row {
                id: f.key_or_index(id_field),
                stats,
                geometry: f.geometry.clone(),
            })
            .collect()
    });
    Ok(ZonalTable {
        crs: layer.crs.clone(),
        rows,
        warnings,
    })
}

/// People as a reviewer reads them: rounded half away from zero to two decimals (22184.95, not
/// 22184.95462330712). A grid's exact cell fractions give fractional people; two decimals keep every polygon within
/// 0.005 of its share while the full value stays beside it (`population_exact`) for reconciling with other tools.
fn rounded(people: f64) -> f64 {
    (people * 100.0).round() / 100.0
}

impl ZonalTable {
    fn properties(r: &Row) -> serde_json::Map<String, Value> {
        [
            ("id", json!(r.id)),
            ("population", json!(rounded(r.stats.population))),
            ("population_exact", json!(r.stats.population)),
            ("covered_cells", json!(r.stats.covered_cells)),
            ("nodata_cells", json!(r.stats.nodata_cells)),
            ("covered_area_m2", json!(r.stats.covered_area_m2)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The table as CSV, through the `csv` crate: ids with commas, quotes or newlines are quoted as RFC 4180 says.
    ///
    /// Rows are formatted on every core, [`CSV_ROWS`] at a time, into pieces joined in row order: the bytes are
    /// those of one sequential writer, and formatting 10,000 rows no longer sits serially after the sums.
    fn csv(&self, out: &Path) -> Result<Vec<u8>> {
        let header = [
            "id",
            "population",
            "population_exact",
            "covered_cells",
            "nodata_cells",
            "covered_area_m2",
        ];
        let piece = |rows: &[Row], header: Option<&[&str; 6]>| -> std::result::Result<Vec<u8>, csv::Error> {
            let mut csv = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
            if let Some(header) = header {
                csv.write_record(header)?;
            }
            // One buffer for every number of every row, instead of a String per field.
            let mut text = String::new();
            let mut field = |csv: &mut csv::Writer<Vec<u8>>, value: &dyn std::fmt::Display| {
                use std::fmt::Write;
                text.clear();
                // Writing into a String cannot fail.
                let _ = write!(text, "{value}");
                csv.write_field(&text)
            };
            for r in rows {
                csv.write_field(&r.id)?;
                field(&mut csv, &rounded(r.stats.population))?;
                field(&mut csv, &r.stats.population)?;
                field(&mut csv, &r.stats.covered_cells)?;
                field(&mut csv, &r.stats.nodata_cells)?;
                field(&mut csv, &r.stats.covered_area_m2)?;
                csv.write_record(None::<&[u8]>)?;
            }
            csv.into_inner().map_err(|e| e.into_error().into())
        };
        let pieces: Vec<std::result::Result<Vec<u8>, csv::Error>> = self
            .rows
            .par_chunks(CSV_ROWS)
            .enumerate()
            .map(|(i, rows)| piece(rows, (i == 0).then_some(&header)))
            .collect();
        let mut bytes = if self.rows.is_empty() {
            piece(&[], Some(&header)).map_err(|e| Error::format(out, e.to_string()))?
        } else {
            Vec::new()
        };
        for p in pieces {
            bytes.extend_from_slice(&p.map_err(|e| Error::format(out, e.to_string()))?);
        }
        Ok(bytes)
    }

    /// Writes the table by extension into the run's `staging` (which refuses inputs): CSV or JSON (array of rows),
    /// XLSX (the same columns), or the polygons with the columns as GeoJSON or KML (WGS84), Shapefile or GeoPackage
    /// (the polygons' own CRS).
    pub fn write(&self, out: &Path, staging: &mut Staging) -> Result<()> {
        let ext = crate::io::extension(out);
        match ext.as_str() {
            "csv" => {
                let bytes = timed("write: format the CSV", || self.csv(out))?;
                timed("write: stage the CSV", || staging.write(out, &bytes))
            }
            "json" => {
                let rows: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|r| Value::Object(Self::properties(r)))
                    .collect();
                let s = serde_json::to_string_pretty(&rows).map_err(|e| Error::format(out, e.to_string()))?;
                staging.write(out, s.as_bytes())
            }
            "geojson" | "shp" | "gpkg" | "kml" | "xlsx" => {
                let features: Vec<OutFeature> = self
                    .rows
                    .iter()
                    .map(|r| OutFeature {
                        geometry: r.geometry.clone(),
                        properties: Self::properties(r),
                    })
                    .collect();
                io::stage_layer(out, &self.crs, &features, staging)
            }
            _ => Err(Error::format(
                out,
                format!(
                    "unsupported output `.{ext}` (use .csv, .json, .geojson, .shp, .gpkg, .kml or .xlsx)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_csv_out_quotes_ids_with_commas_quotes_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.csv");
        let row = |id: &str| Row {
            id: id.into(),
            stats: ZonalStats {
                population: 1.5,
                covered_cells: 2,
                nodata_cells: 0,
                covered_area_m2: 10.0,
            },
            geometry: None,
        };
        let table = ZonalTable {
            crs: Crs::wgs84(),
            rows: vec![row("plain"), row("a, b"), row("say \"hi\""), row("two\nlines")],
            warnings: Vec::new(),
        };
        let mut staging = crate::io::atomic::Staging::new::<&Path>(&[]);
        table.write(&out, &mut staging).unwrap();
        staging.commit().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "id,population,population_exact,covered_cells,nodata_cells,covered_area_m2\nplain,1.5,1.5,2,0,10\n\
             \"a, b\",1.5,1.5,2,0,10\n\"say \"\"hi\"\"\",1.5,1.5,2,0,10\n\"two\nlines\",1.5,1.5,2,0,10\n"
        );
        let mut back = csv::Reader::from_path(&out).unwrap();
        let ids: Vec<String> = back.records().map(|r| r.unwrap()[0].to_string()).collect();
        assert_eq!(ids, ["plain", "a, b", "say \"hi\"", "two\nlines"]);
    }

    /// The CSV is formatted in pieces on every core: across piece boundaries it must be, byte for byte, what one
    /// sequential `csv` writer gives (header once, rows in order, quoting kept).
    #[test]
    fn population_csv_formatted_in_parallel_pieces_equals_one_sequential_writer() {
        let rows: Vec<Row> = (0..CSV_ROWS * 2 + 7)
            .map(|i| Row {
                id: if i % 500 == 3 {
                    format!("a, \"{i}\"")
                } else {
                    i.to_string()
                },
                stats: ZonalStats {
                    population: i as f64 / 7.0,
                    covered_cells: i,
                    nodata_cells: i % 3,
                    covered_area_m2: i as f64 * 1e-9,
                },
                geometry: None,
            })
            .collect();
        let mut want = csv::Writer::from_writer(Vec::new());
        want.write_record([
            "id",
            "population",
            "population_exact",
            "covered_cells",
            "nodata_cells",
            "covered_area_m2",
        ])
        .unwrap();
        for r in &rows {
            want.write_record([
                r.id.clone(),
                rounded(r.stats.population).to_string(),
                r.stats.population.to_string(),
                r.stats.covered_cells.to_string(),
                r.stats.nodata_cells.to_string(),
                r.stats.covered_area_m2.to_string(),
            ])
            .unwrap();
        }
        let want = want.into_inner().unwrap();
        let mut table = ZonalTable {
            crs: Crs::wgs84(),
            rows,
            warnings: Vec::new(),
        };
        let out = Path::new("t.csv");
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert!(
                pool.install(|| table.csv(out)).unwrap() == want,
                "{threads} threads"
            );
        }
        table.rows.clear();
        let header = "id,population,population_exact,covered_cells,nodata_cells,covered_area_m2\n";
        assert_eq!(table.csv(out).unwrap(), header.as_bytes());
    }

    #[test]
    fn population_is_written_rounded_to_two_decimals_beside_the_exact_value() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.json");
        let table = ZonalTable {
            crs: Crs::wgs84(),
            rows: vec![Row {
                id: "U01".into(),
                stats: ZonalStats {
                    population: 22_184.954_623_307_12,
                    covered_cells: 2,
                    nodata_cells: 0,
                    covered_area_m2: 10.0,
                },
                geometry: None,
            }],
            warnings: Vec::new(),
        };
        let mut staging = crate::io::atomic::Staging::new::<&Path>(&[]);
        table.write(&out, &mut staging).unwrap();
        staging.commit().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("\"population\": 22184.95,"), "{text}");
        assert!(text.contains("\"population_exact\": 22184.95462330712"), "{text}");
        assert_eq!(rounded(0.125), 0.13);
        assert_eq!(rounded(1_000.004_9), 1_000.0);
    }
}
