//! Population of polygons, from a gridded population product or from population points.
//!
//! Population is an *extensive* count (tobler's `area_interpolate` distinction): a cell split between two
//! polygons gives each the share of its people equal to the share of its area, so the sum over polygons that
//! partition the grid equals the grid total. [`exact::zonal_sums`] computes those shares exactly, as exactextract
//! does; [`point_sums`] assigns each point's people to the polygon that contains it.

pub(crate) mod exact;
pub mod report;
pub mod source;

use std::path::Path;

use geo::{BoundingRect, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

pub use exact::{zonal_one, zonal_sums};

use crate::{Error, Result};

/// Population and coverage of one polygon over a grid.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZonalStats {
    /// Σ cell value × covered fraction over cells with data.
    pub population: f64,
    /// Cells with a covered fraction above `exact::MIN_FRACTION`.
    pub covered_cells: usize,
    /// Covered cells holding nodata (counted as 0 people).
    pub nodata_cells: usize,
    /// Σ covered fraction × cell area, in m² (on the ellipsoid for longitude/latitude grids).
    pub covered_area_m2: f64,
}

/// Population of polygons from points, each point counted once in the polygon that contains it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointSums {
    /// Population per polygon, in the order given.
    pub population: Vec<f64>,
    /// Points per polygon.
    pub points: Vec<usize>,
    /// Population of points inside no polygon.
    pub unassigned_population: f64,
    /// Points inside no polygon.
    pub unassigned_points: usize,
}

/// Adds each point's population to the polygon containing it (points and polygons in the same CRS).
///
/// A point on a shared boundary goes to the polygon listed first, so every point is counted at most once. Candidate
/// polygons come from an R-tree of their bounding boxes; the sums are taken in point order, so the result does not
/// depend on the thread count.
pub fn point_sums(points: &[(Point<f64>, f64)], polygons: &[MultiPolygon<f64>]) -> PointSums {
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = polygons
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.bounding_rect().map(|r| {
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                )
            })
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    let owner: Vec<Option<usize>> = points
        .par_iter()
        .map(|(point, _)| {
            tree.locate_all_at_point([point.x(), point.y()])
                .map(|item| item.data)
                .filter(|&i| polygons[i].intersects(point))
                .min()
        })
        .collect();
    let mut sums = PointSums {
        population: vec![0.0; polygons.len()],
        points: vec![0; polygons.len()],
        ..PointSums::default()
    };
    for ((_, population), owner) in points.iter().zip(owner) {
        match owner {
            Some(i) => {
                sums.population[i] += population;
                sums.points[i] += 1;
            }
            None => {
                sums.unassigned_population += population;
                sums.unassigned_points += 1;
            }
        }
    }
    sums
}

/// Reads population points from a CSV file with a header naming the `x`, `y` and population columns (RFC 4180
/// through the `csv` crate: quoted fields may hold commas and newlines; a UTF-8 BOM, as Excel writes, is ignored).
/// Negative or non-numeric populations are errors naming the line; no line may exceed [`MAX_CSV_LINE`] bytes, so a
/// file that is not a CSV at all fails on its first megabyte.
pub fn read_points_csv(
    path: &Path,
    x_field: &str,
    y_field: &str,
    population_field: &str,
) -> Result<Vec<(Point<f64>, f64)>> {
    crate::io::check_input_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "read", e))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(LineCap::new(std::io::BufReader::new(file)));
    let csv_error = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(io) => Error::format(path, io.to_string()),
        _ => {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Error::feature(
                path,
                format!("line {line}"),
                "not valid UTF-8 text (save the CSV as UTF-8)",
            )
        }
    };
    let fields: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_string)
        .collect();
    if fields.iter().all(String::is_empty) {
        return Err(Error::format(path, "empty CSV (no header)"));
    }
    let column = |name: &str| {
        fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::MissingField {
                path: path.to_path_buf(),
                field: name.to_string(),
                available: crate::io::shown(&fields.join(", ")),
            })
    };
    let (xi, yi, pi) = (column(x_field)?, column(y_field)?, column(population_field)?);
    let mut points = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let number = |i: usize, name: &str| -> Result<f64> {
            let text = record.get(i).unwrap_or("");
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(Error::feature(
                    path,
                    format!("line {line}"),
                    format!("`{name}` = `{}` is not a number", crate::io::shown(text)),
                )),
            }
        };
        let (x, y, population) = (
            number(xi, x_field)?,
            number(yi, y_field)?,
            number(pi, population_field)?,
        );
        if population < 0.0 {
            return Err(Error::feature(
                path,
                format!("line {line}"),
                format!("negative population {population}"),
            ));
        }
        points.push((Point::new(x, y), population));
    }
    Ok(points)
}

/// Longest line a points CSV may have: a point's line is under 200 bytes.
pub const MAX_CSV_LINE: usize = 1 << 20;

/// A reader that fails once a line runs past [`MAX_CSV_LINE`] bytes, so that a CSV reader never buffers a whole
/// file of garbage as one field (the `csv` crate has no such limit).
struct LineCap<R> {
    inner: R,
    line: u64,
    run: usize,
}

impl<R> LineCap<R> {
    fn new(inner: R) -> Self {
        LineCap {
            inner,
            line: 1,
            run: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > MAX_CSV_LINE {
                    return Err(std::io::Error::other(format!(
                        "line {} is longer than {} bytes: not a CSV of points",
                        self.line, MAX_CSV_LINE
                    )));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, Contains, Rect};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn point_sums_match_a_brute_force_loop() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // A 5 x 4 partition of [0, 50] x [0, 40] plus one polygon far away.
        let mut polygons: Vec<MultiPolygon<f64>> = Vec::new();
        for j in 0..4 {
            for i in 0..5 {
                let (x, y) = (i as f64 * 10.0, j as f64 * 10.0);
                let r = Rect::new(coord! { x: x, y: y }, coord! { x: x + 10.0, y: y + 10.0 });
                polygons.push(MultiPolygon::new(vec![r.to_polygon()]));
            }
        }
        let points: Vec<(Point<f64>, f64)> = (0..2000)
            .map(|_| {
                let p = Point::new(rng.random_range(-5.0..55.0), rng.random_range(-5.0..45.0));
                (p, rng.random_range(0.0..10.0f64).floor())
            })
            .chain([(Point::new(10.0, 10.0), 3.0)]) // on four boundaries: goes to the first polygon, index 0
            .collect();
        let sums = point_sums(&points, &polygons);
        let mut want = vec![0.0; polygons.len()];
        let mut unassigned = 0.0;
        for (p, v) in &points[..points.len() - 1] {
            match polygons.iter().position(|poly| poly.contains(p)) {
                Some(i) => want[i] += v,
                None => unassigned += v,
            }
        }
        want[0] += 3.0;
        // Random points never land exactly on a boundary, so strict containment agrees.
        assert_eq!(sums.population, want);
        assert_eq!(sums.unassigned_population, unassigned);
        let total: f64 = points.iter().map(|(_, v)| v).sum();
        assert_eq!(
            sums.population.iter().sum::<f64>() + sums.unassigned_population,
            total
        );
        assert_eq!(
            sums.points.iter().sum::<usize>() + sums.unassigned_points,
            points.len()
        );
    }

    #[test]
    fn points_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "id,x,y,pop\n1,0.5,0.5,10\n2,1.5,0.5,2.5\n").unwrap();
        let points = read_points_csv(&path, "x", "y", "pop").unwrap();
        assert_eq!(
            points,
            vec![(Point::new(0.5, 0.5), 10.0), (Point::new(1.5, 0.5), 2.5)]
        );
        std::fs::write(&path, "x,y,pop\n0,0,-1\n").unwrap();
        let e = read_points_csv(&path, "x", "y", "pop").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("negative"), "{e}");
        let e = read_points_csv(&path, "lon", "y", "pop").unwrap_err().to_string();
        assert!(e.contains("`lon`"), "{e}");
    }

    #[test]
    fn points_csv_with_utf8_bom_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "\u{feff}x,y,pop\r\n0.5,0.5,10\r\n").unwrap();
        let points = read_points_csv(&path, "x", "y", "pop").unwrap();
        assert_eq!(points, vec![(Point::new(0.5, 0.5), 10.0)]);
    }

    #[test]
    fn points_csv_with_quoted_commas_and_newlines_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(
            &path,
            "name,x,y,pop\n\"Jiangqiao, north\",1,2,3\n\"two\nlines\",4,5,6\nlast,7,8,bad\n",
        )
        .unwrap();
        let e = read_points_csv(&path, "x", "y", "pop").unwrap_err().to_string();
        // The bad value is on line 5: the quoted newline counts.
        assert!(e.contains("line 5") && e.contains("`pop` = `bad`"), "{e}");
        std::fs::write(
            &path,
            "name,x,y,pop\n\"Jiangqiao, north\",1,2,3\n\"two\nlines\",4,5,6\n",
        )
        .unwrap();
        let points = read_points_csv(&path, "x", "y", "pop").unwrap();
        assert_eq!(
            points,
            vec![(Point::new(1.0, 2.0), 3.0), (Point::new(4.0, 5.0), 6.0)]
        );
    }

    #[test]
    fn points_csv_of_nul_bytes_gives_a_short_error() {
        // The 2 GB file of NULs, in miniature: the line cap trips after 1 MiB, whatever the size.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, vec![0u8; 3 << 20]).unwrap();
        let e = read_points_csv(&path, "x", "y", "pop").unwrap_err().to_string();
        assert!(e.contains("p.csv") && e.contains("line 1 is longer than"), "{e}");
        assert!(e.len() < 300, "{e}");
        // NULs in a header that fits: the missing-field message quotes a capped header.
        std::fs::write(&path, [vec![0u8; 100_000], b"\n1,2,3\n".to_vec()].concat()).unwrap();
        let e = read_points_csv(&path, "x", "y", "pop").unwrap_err().to_string();
        assert!(e.contains("`x` does not exist") && e.len() < 1000, "{}", e.len());
    }
}
