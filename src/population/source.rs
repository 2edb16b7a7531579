//! Population sources as the later stages see them: polygons in the working CRS in, people out.
//!
//! A grid is read in its own CRS: polygons are densified (so that reprojected edges stay accurate — a straight
//! edge in UTM is curved in lon/lat) and transformed into the grid's CRS before exact cell fractions are taken, as
//! exactextract does. Points are counted in the polygon that contains them. Block counts are areally weighted ([`crate::validate::BlockCounts`]).

use super::{point_sums, zonal_sums, ZonalStats};
use crate::crs::{Crs, Transformer};
use crate::raster::{GridOptions, GridReader};
use crate::{Error, Result};
use geo::{BoundingRect, Geometry, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Anything that can tell the population of polygons.
pub trait PopulationSource: Sync {
    /// Population inside each polygon (in the CRS the source was opened for).
    fn population(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<f64>>;
    /// Population inside each polygon given in `crs`, their own CRS, for sources that measure in a CRS of their own
    /// (grids): the polygons go straight into it, densified, so the number does not depend on the working CRS and
    /// equals what `bmu population` gives. None when the source measures in the working CRS only (block counts,
    /// points).
    fn population_in(&self, polygons: &[MultiPolygon<f64>], crs: &Crs) -> Option<Result<Vec<f64>>> {
        let _ = (polygons, crs);
        None
    }
    /// What the source is, for reports.
    fn describe(&self) -> String;
    /// Fails when the source cannot hold anyone inside `polygons` at all (a grid that misses them).
    fn check_covers(&self, polygons: &[MultiPolygon<f64>]) -> Result<()> {
        let _ = polygons;
        Ok(())
    }
}

/// A population grid opened for polygons in a given CRS.
pub struct GridSource {
    path: PathBuf,
    reader: GridReader,
    /// The grid's own CRS.
    grid_crs: Crs,
    to_grid: Transformer,
}

impl GridSource {
    /// Opens a grid (GeoTIFF or ESRI ASCII) for polygons in `polygons_crs`.
    pub fn open(path: &Path, grid_crs: Option<&str>, polygons_crs: &Crs) -> Result<GridSource> {
        let reader = GridReader::open(
            path,
            &GridOptions {
                grid_crs: grid_crs.map(str::to_string),
            },
        )?;
        let crs = Crs::parse(&reader.grid().crs).map_err(|e| Error::grid(path, format!("CRS: {e}")))?;
        let to_grid = Transformer::new(polygons_crs, &crs)?;
        Ok(GridSource {
            path: path.to_path_buf(),
            reader,
            grid_crs: crs,
            to_grid,
        })
    }

    /// The open grid.
    pub fn reader(&self) -> &GridReader {
        &self.reader
    }

    /// Polygons transformed into the grid's CRS (densified first).
    pub fn to_grid_crs(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<MultiPolygon<f64>>> {
        into_grid(polygons, &self.to_grid)
    }

    /// Exact zonal statistics of polygons given in `crs` (their own), transformed straight into the grid's CRS.
    pub fn stats_in(&self, polygons: &[MultiPolygon<f64>], crs: &Crs) -> Result<Vec<ZonalStats>> {
        let t = Transformer::new(crs, &self.grid_crs)?;
        let in_grid = into_grid(polygons, &t)?;
        zonal_sums(&self.reader, &in_grid)
    }
}

/// Polygons densified and transformed by `t` ([`Transformer::transform_geometry_densified`]).
fn into_grid(polygons: &[MultiPolygon<f64>], t: &Transformer) -> Result<Vec<MultiPolygon<f64>>> {
    polygons
        .par_iter()
        .map(|p| {
            let mut g = Geometry::MultiPolygon(p.clone());
            t.transform_geometry_densified(&mut g)?;
            match g {
                Geometry::MultiPolygon(mp) => Ok(mp),
                _ => Err(Error::input("population", "transform changed the geometry type")),
            }
        })
        .collect()
}

impl GridSource {
    /// Fails when no polygon (already in the grid's CRS) touches the grid's extent.
    fn check_extent(&self, in_grid: &[MultiPolygon<f64>]) -> Result<()> {
        let g = self.reader.grid();
        let (x0, y0) = g.transform.pixel_to_xy(0.0, 0.0);
        let (x1, y1) = g.transform.pixel_to_xy(g.width as f64, g.height as f64);
        let extent = geo::Rect::new((x0, y0), (x1, y1));
        // Empty polygons (e.g. the part of a unit within reach of a service that has none) touch nothing and say
        // nothing about the grid: only non-empty polygons that all miss it make the grid wrong.
        let mut boxes = in_grid.iter().filter_map(|p| p.bounding_rect()).peekable();
        if boxes.peek().is_some() && !boxes.any(|r| r.intersects(&extent)) {
            return Err(Error::grid(
                &self.path,
                "does not overlap the polygons (wrong CRS or wrong area?)",
            ));
        }
        Ok(())
    }

    /// Exact zonal statistics of each polygon. Fails when no polygon touches the grid.
    pub fn stats(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<ZonalStats>> {
        let in_grid =
            crate::progress::timed("population: into the grid's CRS", || self.to_grid_crs(polygons))?;
        self.check_extent(&in_grid)?;
        crate::progress::timed("population: exact sums", || zonal_sums(&self.reader, &in_grid))
    }
}

impl PopulationSource for GridSource {
    /// Population of each polygon; polygons off the grid get 0 (a check on a subset may hold only such polygons).
    fn population(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<f64>> {
        let in_grid = self.to_grid_crs(polygons)?;
        Ok(zonal_sums(&self.reader, &in_grid)?
            .into_iter()
            .map(|s| s.population)
            .collect())
    }

    fn check_covers(&self, polygons: &[MultiPolygon<f64>]) -> Result<()> {
        self.check_extent(&self.to_grid_crs(polygons)?)
    }

    fn population_in(&self, polygons: &[MultiPolygon<f64>], crs: &Crs) -> Option<Result<Vec<f64>>> {
        Some(
            self.stats_in(polygons, crs)
                .map(|stats| stats.into_iter().map(|s| s.population).collect()),
        )
    }

    fn describe(&self) -> String {
        format!("grid {} (exact cell fractions)", self.path.display())
    }
}

/// Population points (CSV x,y,pop or GeoJSON points), each counted in the polygon containing it.
pub struct PointSource {
    /// The grid file.
    pub path: PathBuf,
    /// Points in the polygons' CRS with their counts.
    pub points: Vec<(Point<f64>, f64)>,
}

impl PopulationSource for PointSource {
    fn population(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<f64>> {
        Ok(point_sums(&self.points, polygons).population)
    }

    fn describe(&self) -> String {
        format!("points {} (point in polygon)", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, Rect};

    fn rect(w: f64, s: f64, e: f64, n: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![
            Rect::new(coord! { x: w, y: s }, coord! { x: e, y: n }).to_polygon()
        ])
    }

    /// Regression (validate on all of Shanghai): a unit out of reach of every facility of a service type asks for the
    /// population of an empty polygon; that must be zero, not "the grid does not overlap the polygons".
    #[test]
    fn empty_polygons_do_not_make_a_grid_miss() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cases/grids");
        let source = GridSource::open(&dir.join("worldpop_4326.tif"), None, &Crs::wgs84()).unwrap();
        let empty = MultiPolygon::new(vec![]);
        assert_eq!(
            source.population(std::slice::from_ref(&empty)).unwrap(),
            vec![0.0]
        );
        let inside = rect(121.401, 31.24, 121.41, 31.249);
        let both = source.population(&[empty.clone(), inside]).unwrap();
        assert!(both[0] == 0.0 && both[1] > 0.0, "{both:?}");
        // A grid that misses every non-empty polygon is refused by the verb-level check, and a check on a subset
        // (only empty or only far polygons) gets zeros rather than an error.
        let far = rect(100.0, 10.0, 100.1, 10.1);
        assert!(source.check_covers(std::slice::from_ref(&empty)).is_ok());
        let e = source
            .check_covers(&[empty.clone(), far.clone()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not overlap"), "{e}");
        assert_eq!(source.population(&[empty, far]).unwrap(), vec![0.0, 0.0]);
    }
}
