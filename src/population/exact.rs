//! Exact zonal sums: population of a polygon = Σ cell value × (area of cell ∩ polygon ÷ cell area).
//!
//! The covered fraction of every cell is computed exactly, as exactextract does (Baston 2022, "exactextract: fast
//! and accurate zonal statistics"), but with a simpler sweep: by Green's theorem the area of a polygon inside the
//! vertical strip of column `c` of a row is Σ over its directed edges of ∫ clamp(u(v) − c, 0, 1) dv, where (u, v) are
//! pixel coordinates. Each edge is cut where it crosses row and column lines; a piece lying in column `k` adds
//! (mean u − k)·Δv to cell `k` and a full Δv to every cell left of `k`. The second part is written once per piece
//! into a per-row difference array and summed right-to-left, so interior cells get fraction 1 with no flood fill and
//! the work is O(edge crossings + cells in the bounding box). Holes and multipolygons need nothing special: each
//! ring's contribution is signed by its orientation (outer rings add, holes subtract), whatever way it winds.
//!
//! All of it happens in the grid's own CRS. Covered area is Σ fraction × cell area: the pixel area for a projected
//! grid, and for a longitude/latitude grid the exact area of each row's cell on the WGS 84 ellipsoid (authalic
//! latitude formula), never square degrees.

use geo::{BoundingRect, MultiPolygon};
use rayon::prelude::*;

use super::ZonalStats;
use crate::raster::{Cells, Grid, GridReader, Window};
use crate::{Error, Result};

/// Cells with a covered fraction at or below this are treated as untouched: cancelling edge contributions leave
/// ~1e-16 behind in cells of the bounding box outside the polygon.
pub const MIN_FRACTION: f64 = 1e-12;

/// Cells measured at once are capped so that a polygon as large as a country never needs its whole bounding box of
/// cells in memory (two f64 per cell: 16 MiB a band, one band per thread), and so that a polygon of a few million
/// cells already has bands enough for every core.
const MAX_BAND_CELLS: usize = 1 << 20;

/// WGS 84 semi-major axis (m) and flattening.
const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Exact zonal sums of `grid` over each polygon (in the grid's CRS), computed in parallel across polygons; the
/// result is the same, bit for bit, at any thread count.
///
/// Cells read are only those of each polygon's bounding-box window. Nodata cells count 0 people and are reported in
/// [`ZonalStats::nodata_cells`]; a negative value in a covered cell is an error naming the cell.
///
/// ```
/// use bmu::population::zonal_sums;
/// use bmu::raster::{GeoTransform, Grid, GridReader};
/// use geo::{polygon, MultiPolygon};
///
/// // 2 x 2 cells of 100 m holding 10, 20 / 30, 40 people.
/// let grid = Grid {
///     width: 2,
///     height: 2,
///     transform: GeoTransform { origin_x: 0.0, origin_y: 200.0, pixel_width: 100.0, pixel_height: -100.0 },
///     nodata: None,
///     crs: "EPSG:32651".into(),
///     geographic: false,
/// };
/// let reader = GridReader::from_values("memory".as_ref(), grid, vec![10.0, 20.0, 30.0, 40.0])?;
/// // The left half of the grid: all of 10 and 30.
/// let left = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 200.0), (x: 0.0, y: 200.0)]]);
/// // A square over the centre: a quarter of each cell.
/// let centre = MultiPolygon::new(vec![polygon![(x: 50.0, y: 50.0), (x: 150.0, y: 50.0), (x: 150.0, y: 150.0), (x: 50.0, y: 150.0)]]);
/// let stats = zonal_sums(&reader, &[left, centre])?;
/// assert_eq!(stats[0].population, 40.0);
/// assert_eq!(stats[1].population, 25.0);
/// assert_eq!((stats[1].covered_cells, stats[1].covered_area_m2), (4, 10_000.0));
/// # Ok::<(), bmu::Error>(())
/// ```
pub fn zonal_sums(grid: &GridReader, polygons: &[MultiPolygon<f64>]) -> Result<Vec<ZonalStats>> {
    measure(grid, polygons, 0)
}

/// Exact zonal sum of one polygon (`index` names it in errors); its bands are measured on every core.
pub fn zonal_one(reader: &GridReader, index: usize, polygon: &MultiPolygon<f64>) -> Result<ZonalStats> {
    let stats = measure(reader, std::slice::from_ref(polygon), index)?;
    Ok(stats.into_iter().next().unwrap_or_default())
}

/// Zonal sums of `polygons`, the first named `first` in errors.
///
/// Every polygon's window is cut into bands (see [`bands`]) and all (polygon, band) pairs go to the thread pool as
/// one list, so that one polygon over a whole grid and ten thousand small ones both keep every core busy, and each
/// thread reuses one set of buffers for all its bands. Band sums are then added per polygon in band order: the
/// result is the same, bit for bit, at any thread count.
fn measure(reader: &GridReader, polygons: &[MultiPolygon<f64>], first: usize) -> Result<Vec<ZonalStats>> {
    let grid = reader.grid();
    let windows: Vec<Result<Vec<Window>>> = polygons
        .par_iter()
        .enumerate()
        .map(|(i, polygon)| {
            let Some(bounds) = polygon.bounding_rect() else {
                return Ok(Vec::new());
            };
            let (min, max) = (bounds.min(), bounds.max());
            if ![min.x, min.y, max.x, max.y].iter().all(|v| v.is_finite()) {
                return Err(Error::input(
                    format!("polygon {}", first + i),
                    "non-finite coordinates",
                ));
            }
            let window = grid.window_for_bounds(min.x, min.y, max.x, max.y);
            let mut out = Vec::new();
            if !window.is_empty() {
                bands(reader.block_shape(), window, &mut out);
            }
            Ok(out)
        })
        .collect();
    let mut work: Vec<(usize, Window)> = Vec::new();
    for (i, windows) in windows.into_iter().enumerate() {
        work.extend(windows?.into_iter().map(|w| (i, w)));
    }
    let partial: Vec<Result<ZonalStats>> = work
        .par_iter()
        .map_init(Scratch::default, |scratch, &(i, band)| {
            scratch.band(reader, first + i, &polygons[i], band)
        })
        .collect();
    let mut stats = vec![ZonalStats::default(); polygons.len()];
    for (&(i, _), s) in work.iter().zip(partial) {
        let s = s?;
        let total = &mut stats[i];
        total.population += s.population;
        total.covered_cells += s.covered_cells;
        total.nodata_cells += s.nodata_cells;
        total.covered_area_m2 += s.covered_area_m2;
    }
    Ok(stats)
}

/// Cuts `window` into bands of at most [`MAX_BAND_CELLS`] cells along the lines of the grid's storage blocks
/// (`block`: strip or tile width and height), so that each strip/tile a polygon needs is decoded for one band only
/// and read there in place. A window within the budget is one band.
fn bands(block: (usize, usize), window: Window, out: &mut Vec<Window>) {
    if window.len() <= MAX_BAND_CELLS {
        out.push(window);
        return;
    }
    // Blocks larger than a band (whole-width strips of a wide grid) cannot be followed: cut by cells.
    let (bw, bh) = if block.0 * block.1 <= MAX_BAND_CELLS && block.0 > 0 && block.1 > 0 {
        block
    } else {
        (1, 1)
    };
    let (col_base, row_base) = (window.col_off / bw * bw, window.row_off / bh * bh);
    let (col_end, row_end) = (window.col_off + window.width, window.row_off + window.height);
    let blocks_across = (col_end - col_base).div_ceil(bw);
    let budget = MAX_BAND_CELLS / (bw * bh);
    let across = blocks_across.min(budget).max(1);
    let down = (budget / across).max(1);
    let (step_c, step_r) = (across * bw, down * bh);
    for r in (row_base..row_end).step_by(step_r) {
        let (r0, r1) = (r.max(window.row_off), (r + step_r).min(row_end));
        for c in (col_base..col_end).step_by(step_c) {
            let (c0, c1) = (c.max(window.col_off), (c + step_c).min(col_end));
            out.push(Window {
                col_off: c0,
                row_off: r0,
                width: c1 - c0,
                height: r1 - r0,
            });
        }
    }
}

/// One thread's buffers, reused from band to band.
#[derive(Debug, Default)]
struct Scratch {
    coverage: Coverage,
    /// Σ covered fraction per row of the band.
    row_fraction: Vec<f64>,
    /// Cells of sources that cannot lend theirs in place.
    buffer: Vec<f64>,
}

impl Scratch {
    /// Sums of polygon `index` over one band of its window.
    fn band(
        &mut self,
        reader: &GridReader,
        index: usize,
        polygon: &MultiPolygon<f64>,
        band: Window,
    ) -> Result<ZonalStats> {
        let grid = reader.grid();
        self.coverage.compute(polygon, grid, band);
        self.row_fraction.clear();
        self.row_fraction.resize(band.height, 0.0);
        let mut stats = ZonalStats::default();
        let cover = &self.coverage.cover;
        let row_fraction = &mut self.row_fraction;
        // Hoisted out of the cell loop: `v == nodata` never holds without a nodata value (NaN), and NaN nodata
        // is matched by `nan_nodata`.
        let nodata = grid.nodata.unwrap_or(f64::NAN);
        let nan_nodata = nodata.is_nan() && grid.nodata.is_some();
        reader.visit_window(band, &mut self.buffer, |block| {
            let (dr, dc) = (block.window.row_off - band.row_off, block.window.col_off - band.col_off);
            // Sums in locals (not through `stats`), so that they stay in registers across the cell loop.
            let mut population = stats.population;
            for r in 0..block.window.height {
                let start = (dr + r) * band.width + dc;
                let cover = &cover[start..start + block.window.width];
                let row = RowSums::of(cover, block.row(r), nodata, nan_nodata, &mut population);
                let (fraction, covered, missing, negative) =
                    (row.fraction, row.covered, row.missing, row.negative);
                if negative {
                    let cells = block.row(r);
                    let c = (0..cover.len())
                        .position(|c| cover[c] > MIN_FRACTION && cells.get(c) < 0.0 && cells.get(c) != nodata)
                        .unwrap_or(0);
                    return Err(Error::grid(
                        reader.path(),
                        format!(
                            "negative population {} in the cell at row {}, column {} (covered by polygon {index})",
                            cells.get(c),
                            block.window.row_off + r,
                            block.window.col_off + c
                        ),
                    ));
                }
                stats.covered_cells += covered;
                stats.nodata_cells += missing;
                row_fraction[dr + r] += fraction;
            }
            stats.population = population;
            Ok(())
        })?;
        let pixel_area = grid.transform.pixel_area();
        for (r, fraction) in row_fraction.iter().enumerate() {
            let cell_area = if grid.geographic {
                geographic_cell_area(grid, band.row_off + r)
            } else {
                pixel_area
            };
            stats.covered_area_m2 += fraction * cell_area;
        }
        Ok(stats)
    }
}

/// What one row of a block adds to a band's sums.
struct RowSums {
    fraction: f64,
    covered: usize,
    missing: usize,
    negative: bool,
}

impl RowSums {
    /// Sums of the cells of `cells` (one row of a block) by their covered fractions `cover`, adding the people to
    /// `population` in column order. Generic over the stored cell type so that each type gets its own vectorised
    /// loop; a cell is widened to `f64` before it is compared or multiplied, so the sums are those of `f64` cells.
    #[inline]
    fn of(cover: &[f64], cells: Cells<'_>, nodata: f64, nan_nodata: bool, population: &mut f64) -> RowSums {
        match cells {
            Cells::F32(v) => Self::typed(cover, v, nodata, nan_nodata, population),
            Cells::F64(v) => Self::typed(cover, v, nodata, nan_nodata, population),
        }
    }

    #[inline]
    fn typed<T: Copy + Into<f64>>(
        cover: &[f64],
        cells: &[T],
        nodata: f64,
        nan_nodata: bool,
        population: &mut f64,
    ) -> RowSums {
        let mut sums = RowSums {
            fraction: 0.0,
            covered: 0,
            missing: 0,
            negative: false,
        };
        let mut people = *population;
        for (&f, &v) in cover.iter().zip(cells) {
            if f <= MIN_FRACTION {
                continue;
            }
            let v: f64 = v.into();
            let f = f.min(1.0);
            sums.covered += 1;
            sums.fraction += f;
            if v == nodata || (nan_nodata && v.is_nan()) {
                sums.missing += 1;
            } else {
                sums.negative |= v < 0.0;
                people += v * f;
            }
        }
        *population = people;
        sums
    }
}

/// Area (m²) of one cell of row `row` of a longitude/latitude grid, on the WGS 84 ellipsoid.
///
/// The area between latitudes φ₁ and φ₂ over Δλ radians of longitude is Δλ·b²/2·[g(φ₂) − g(φ₁)] with
/// g(φ) = sin φ / (1 − e² sin² φ) + artanh(e sin φ) / e — the authalic-latitude integral, exact on the ellipsoid.
pub fn geographic_cell_area(grid: &Grid, row: usize) -> f64 {
    let t = &grid.transform;
    let lat1 = (t.origin_y + row as f64 * t.pixel_height).clamp(-90.0, 90.0);
    let lat2 = (t.origin_y + (row + 1) as f64 * t.pixel_height).clamp(-90.0, 90.0);
    lonlat_rectangle_area(t.pixel_width, lat1, lat2)
}

/// Area (m²) on the WGS 84 ellipsoid of a rectangle `width_deg` degrees of longitude wide between two latitudes.
pub fn lonlat_rectangle_area(width_deg: f64, lat1_deg: f64, lat2_deg: f64) -> f64 {
    let e2 = WGS84_F * (2.0 - WGS84_F);
    let e = e2.sqrt();
    let b2 = WGS84_A * WGS84_A * (1.0 - e2);
    let g = |lat_deg: f64| {
        let s = lat_deg.to_radians().sin();
        s / (1.0 - e2 * s * s) + (e * s).atanh() / e
    };
    (width_deg.to_radians() * b2 / 2.0 * (g(lat2_deg) - g(lat1_deg))).abs()
}

/// Covered fraction of each cell of a window, reusing its buffers across bands.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Row-major fractions (0..=1 up to rounding) of the window's cells.
    pub cover: Vec<f64>,
    /// Per row, `ncols + 1` slots: slot k holds Δv that applies to every column left of k.
    full: Vec<f64>,
}

impl Coverage {
    /// Computes the covered fraction of each cell of `window` by `polygon` (in the grid's CRS).
    pub fn compute(&mut self, polygon: &MultiPolygon<f64>, grid: &Grid, window: Window) {
        let (nrows, ncols) = (window.height, window.width);
        self.cover.clear();
        self.cover.resize(nrows * ncols, 0.0);
        self.full.clear();
        self.full.resize(nrows * (ncols + 1), 0.0);
        if window.is_empty() {
            return;
        }
        let t = &grid.transform;
        let (ox, oy) = t.pixel_to_xy(window.col_off as f64, window.row_off as f64);
        let (pw, ph) = (t.pixel_width, t.pixel_height);
        let to_pixel = |c: &geo::Coord<f64>| ((c.x - ox) / pw, (c.y - oy) / ph);
        let mut ring_uv: Vec<(f64, f64)> = Vec::new();
        let mut sweep = Sweep {
            nrows,
            ncols,
            cover: &mut self.cover,
            full: &mut self.full,
        };
        for part in polygon {
            let rings = std::iter::once((part.exterior(), 1.0))
                .chain(part.interiors().iter().map(|ring| (ring, -1.0)));
            for (ring, role) in rings {
                ring_uv.clear();
                ring_uv.extend(ring.0.iter().map(to_pixel));
                if ring_uv.len() < 3 {
                    continue;
                }
                if ring_uv.first() != ring_uv.last() {
                    let first = ring_uv[0];
                    ring_uv.push(first);
                }
                // ∮ u dv: the signed area this ring's edges will deposit; flip so outer rings add and holes subtract.
                let signed: f64 = ring_uv
                    .windows(2)
                    .map(|w| (w[0].0 + w[1].0) * 0.5 * (w[1].1 - w[0].1))
                    .sum();
                if signed == 0.0 || !signed.is_finite() {
                    continue;
                }
                let weight = role * signed.signum();
                for w in ring_uv.windows(2) {
                    sweep.edge(w[0], w[1], weight);
                }
            }
        }
        for r in 0..nrows {
            let full = &self.full[r * (ncols + 1)..(r + 1) * (ncols + 1)];
            let cover = &mut self.cover[r * ncols..(r + 1) * ncols];
            let mut acc = 0.0;
            for c in (0..ncols).rev() {
                acc += full[c + 1];
                cover[c] += acc;
            }
        }
    }
}

struct Sweep<'a> {
    nrows: usize,
    ncols: usize,
    cover: &'a mut [f64],
    full: &'a mut [f64],
}

impl Sweep<'_> {
    /// Deposits the directed edge (u0, v0) → (u1, v1), in window pixel coordinates, with `weight` = ±1.
    fn edge(&mut self, (u0, v0): (f64, f64), (u1, v1): (f64, f64), weight: f64) {
        let (du, dv) = (u1 - u0, v1 - v0);
        if dv == 0.0 {
            return; // horizontal edges enclose nothing
        }
        let nrows = self.nrows as f64;
        let ncols = self.ncols as f64;
        // Keep only the part with v in [0, nrows]: rows outside the window get nothing from it.
        let ta = ((0.0 - v0) / dv).min((nrows - v0) / dv).max(0.0);
        let tb = ((0.0 - v0) / dv).max((nrows - v0) / dv).min(1.0);
        if ta >= tb {
            return;
        }
        let at = |t: f64| (u0 + t * du, v0 + t * dv);
        let (mut pu, mut pv) = if ta == 0.0 { (u0, v0) } else { at(ta) };
        if ta > 0.0 {
            pv = pv.round(); // the clip line, exactly
        }
        let end = if tb == 1.0 {
            (u1, v1)
        } else {
            let (u, v) = at(tb);
            (u, v.round())
        };
        // Next column line (u = integer in [0, ncols]) and row line (v = integer in (0, nrows)) the edge meets.
        let mut next_u = if du > 0.0 {
            (pu.floor() + 1.0).max(0.0)
        } else if du < 0.0 {
            (pu.ceil() - 1.0).min(ncols)
        } else {
            f64::NAN
        };
        let mut next_v = if dv > 0.0 {
            pv.floor() + 1.0
        } else {
            pv.ceil() - 1.0
        };
        let step_u = du.signum();
        let step_v = dv.signum();
        loop {
            let tu = if (0.0..=ncols).contains(&next_u) {
                (next_u - u0) / du
            } else {
                f64::INFINITY
            };
            let tv = (next_v - v0) / dv;
            if tu.min(tv) >= tb {
                self.piece((pu, pv), end, weight);
                return;
            }
            let (nu, nv);
            if tu < tv {
                nu = next_u;
                nv = v0 + tu * dv;
                next_u += step_u;
            } else if tv < tu {
                nu = u0 + tv * du;
                nv = next_v;
                next_v += step_v;
            } else {
                nu = next_u;
                nv = next_v;
                next_u += step_u;
                next_v += step_v;
            }
            self.piece((pu, pv), (nu, nv), weight);
            pu = nu;
            pv = nv;
        }
    }

    /// A piece of edge lying within one row and one column (or wholly left or right of the window).
    #[inline]
    fn piece(&mut self, (ua, va): (f64, f64), (ub, vb): (f64, f64), weight: f64) {
        let dv = vb - va;
        if dv == 0.0 {
            return;
        }
        let vm = 0.5 * (va + vb);
        if !(vm >= 0.0 && vm < self.nrows as f64) {
            return;
        }
        let row = vm as usize;
        let ncols = self.ncols as f64;
        // Left of the window a piece covers nothing in it; right of it, all of the row's cells (column = ncols).
        let um = (0.5 * (ua.clamp(0.0, ncols) + ub.clamp(0.0, ncols))).clamp(0.0, ncols);
        let col = (um.floor() as usize).min(self.ncols);
        let w = weight * dv;
        if col < self.ncols {
            self.cover[row * self.ncols + col] += w * (um - col as f64);
        }
        self.full[row * (self.ncols + 1) + col] += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{GeoTransform, GridOptions};
    use geo::{coord, Area, BooleanOps, Coord, LineString, Polygon, Rect};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::path::Path;

    const SEED: u64 = 20240601;

    fn grid(width: usize, height: usize, transform: GeoTransform, geographic: bool) -> Grid {
        Grid {
            width,
            height,
            transform,
            nodata: Some(-1.0),
            crs: if geographic { "EPSG:4326" } else { "EPSG:32651" }.into(),
            geographic,
        }
    }

    fn utm() -> GeoTransform {
        GeoTransform {
            origin_x: 340000.0,
            origin_y: 3460000.0,
            pixel_width: 100.0,
            pixel_height: -100.0,
        }
    }

    fn random_reader(rng: &mut ChaCha8Rng, g: Grid) -> GridReader {
        let values = (0..g.width * g.height)
            .map(|_| {
                if rng.random::<f64>() < 0.05 {
                    -1.0
                } else {
                    (rng.random::<f64>() * 100.0).floor() / 4.0
                }
            })
            .collect();
        GridReader::from_values(Path::new("memory"), g, values).unwrap()
    }

    /// A star-shaped ring around `c` (simple by construction), counter-clockwise or not.
    fn star(rng: &mut ChaCha8Rng, c: Coord<f64>, radius: f64, n: usize, ccw: bool) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = radius * rng.random_range(0.4..1.0);
                coord! { x: c.x + r * a.cos(), y: c.y + r * a.sin() }
            })
            .collect();
        if !ccw {
            pts.reverse();
        }
        pts.push(pts[0]);
        LineString::new(pts)
    }

    fn random_polygon(rng: &mut ChaCha8Rng, g: &Grid) -> MultiPolygon<f64> {
        let t = g.transform;
        let span_x = g.width as f64 * t.pixel_width;
        let span_y = g.height as f64 * t.pixel_height.abs();
        let min_y = t.origin_y.min(t.origin_y + g.height as f64 * t.pixel_height);
        let mut parts = Vec::new();
        let k = if rng.random::<f64>() < 0.3 { 2 } else { 1 };
        for p in 0..k {
            // Centres may fall near or beyond the grid edge, so clipping by the grid is exercised too.
            let c = coord! {
                x: t.origin_x + span_x * (rng.random_range(-0.1..1.1) * 0.5 + 0.5 * p as f64),
                y: min_y + span_y * rng.random_range(-0.1..1.1),
            };
            let radius = span_x.min(span_y) * rng.random_range(0.02..0.3);
            let n = rng.random_range(3..40);
            let ccw = rng.random();
            let exterior = star(rng, c, radius, n, ccw);
            let holes = if rng.random::<f64>() < 0.4 {
                let (n, ccw) = (rng.random_range(3..12), rng.random());
                vec![star(rng, c, radius * 0.3, n, ccw)]
            } else {
                vec![]
            };
            parts.push(Polygon::new(exterior, holes));
        }
        MultiPolygon::new(parts)
    }

    /// Brute force: clip the polygon with every cell of the grid using geo's BooleanOps.
    fn oracle(reader: &GridReader, polygon: &MultiPolygon<f64>) -> (f64, f64) {
        use geo::Translate;
        let g = reader.grid();
        let values = reader.read_all().unwrap();
        let (mut population, mut fractions) = (0.0, 0.0);
        let polygon = polygon.clone();
        for r in 0..g.height {
            for c in 0..g.width {
                let (x0, y0) = g.transform.pixel_to_xy(c as f64, r as f64);
                let (x1, y1) = g.transform.pixel_to_xy(c as f64 + 1.0, r as f64 + 1.0);
                let cell = Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 }).to_polygon();
                // i_overlay snaps to an integer grid scaled to the operands' extent: clip near the origin, and only
                // where the polygon's bounding box meets the cell, to keep its full precision.
                let (cx, cy) = (x0.min(x1), y0.min(y1));
                let Some(bounds) = polygon.bounding_rect() else {
                    continue;
                };
                if bounds.max().x <= cx
                    || bounds.min().x >= x0.max(x1)
                    || bounds.max().y <= cy
                    || bounds.min().y >= y0.max(y1)
                {
                    continue;
                }
                let local = polygon.translate(-cx, -cy);
                let f =
                    cell.translate(-cx, -cy).intersection(&local).unsigned_area() / g.transform.pixel_area();
                let v = values[r * g.width + c];
                fractions += f;
                if !g.is_nodata(v) {
                    population += f * v;
                }
            }
        }
        (population, fractions)
    }

    /// Second brute force, free of i_overlay's snapping: Sutherland–Hodgman clipping of each ring by each cell.
    /// Clipping by a convex window keeps a ring's signed area exact even for concave rings (the output may contain
    /// degenerate edges, which add no area), so Σ outer − Σ holes is the covered area.
    fn clip_oracle(reader: &GridReader, polygon: &MultiPolygon<f64>) -> (f64, f64) {
        let g = reader.grid();
        let values = reader.read_all().unwrap();
        let (mut population, mut fractions) = (0.0, 0.0);
        let t = g.transform;
        for r in 0..g.height {
            for c in 0..g.width {
                // Clip in pixel units relative to the cell, where the cell is the unit square.
                let mut area = 0.0;
                for part in polygon {
                    let rings = std::iter::once((part.exterior(), 1.0))
                        .chain(part.interiors().iter().map(|h| (h, -1.0)));
                    for (ring, role) in rings {
                        let mut pts: Vec<(f64, f64)> = ring
                            .0
                            .iter()
                            .map(|p| {
                                let (u, v) = t.xy_to_pixel(p.x, p.y);
                                (u - c as f64, v - r as f64)
                            })
                            .collect();
                        pts.pop();
                        for (axis, keep_low) in [(0, false), (0, true), (1, false), (1, true)] {
                            let inside = |p: &(f64, f64)| {
                                let w = if axis == 0 { p.0 } else { p.1 };
                                if keep_low {
                                    w <= 1.0
                                } else {
                                    w >= 0.0
                                }
                            };
                            let bound = if keep_low { 1.0 } else { 0.0 };
                            let mut out = Vec::with_capacity(pts.len() + 4);
                            for i in 0..pts.len() {
                                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                                let cross = |a: (f64, f64), b: (f64, f64)| {
                                    if axis == 0 {
                                        let s = (bound - a.0) / (b.0 - a.0);
                                        (bound, a.1 + s * (b.1 - a.1))
                                    } else {
                                        let s = (bound - a.1) / (b.1 - a.1);
                                        (a.0 + s * (b.0 - a.0), bound)
                                    }
                                };
                                match (inside(&a), inside(&b)) {
                                    (true, true) => out.push(b),
                                    (true, false) => out.push(cross(a, b)),
                                    (false, true) => {
                                        out.push(cross(a, b));
                                        out.push(b);
                                    }
                                    (false, false) => {}
                                }
                            }
                            pts = out;
                            if pts.is_empty() {
                                break;
                            }
                        }
                        let n = pts.len();
                        let signed: f64 = (0..n)
                            .map(|i| {
                                let (a, b) = (pts[i], pts[(i + 1) % n]);
                                a.0 * b.1 - b.0 * a.1
                            })
                            .sum::<f64>()
                            / 2.0;
                        let ring_sign: f64 = {
                            let q: Vec<(f64, f64)> = ring.0.iter().map(|p| t.xy_to_pixel(p.x, p.y)).collect();
                            (0..q.len() - 1)
                                .map(|i| q[i].0 * q[i + 1].1 - q[i + 1].0 * q[i].1)
                                .sum::<f64>()
                                .signum()
                        };
                        area += role * signed * ring_sign;
                    }
                }
                let v = values[r * g.width + c];
                fractions += area;
                if !g.is_nodata(v) {
                    population += area * v;
                }
            }
        }
        (population, fractions)
    }

    #[test]
    fn a_window_wider_than_a_band_is_cut_into_column_blocks() {
        // One row wider than MAX_BAND_CELLS: before, the band was the whole row, whatever its width.
        let width = MAX_BAND_CELLS + 1000;
        let g = grid(width, 2, utm(), false);
        let values: Vec<f64> = (0..2 * width).map(|i| (i % 7) as f64).collect();
        let reader = GridReader::from_values(Path::new("memory"), g.clone(), values.clone()).unwrap();
        // All of row 0, and half of each cell of row 1: x over the whole width, y from the middle of row 1.
        let (x0, y0) = g.transform.pixel_to_xy(0.0, 1.5);
        let (x1, y1) = g.transform.pixel_to_xy(width as f64, 0.0);
        let rect = Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 }).to_polygon();
        let stats = zonal_one(&reader, 0, &MultiPolygon::new(vec![rect])).unwrap();
        let expected: f64 = values[..width].iter().sum::<f64>() + values[width..].iter().sum::<f64>() * 0.5;
        assert_eq!(stats.covered_cells, 2 * width);
        assert!(
            (stats.population - expected).abs() < 1e-6 * expected,
            "{} vs {expected}",
            stats.population
        );
    }

    #[test]
    fn large_windows_are_cut_along_tile_lines_within_the_budget() {
        // A 10^4 x 10^4 window over 256 x 256 tiles: 16 tiles a band, every band inside one row of tiles, so no tile is
        // decoded for two bands; together the bands tile the window exactly.
        let window = Window {
            col_off: 100,
            row_off: 37,
            width: 10_000,
            height: 9_000,
        };
        let mut out = Vec::new();
        bands((256, 256), window, &mut out);
        assert_eq!(out.iter().map(Window::len).sum::<usize>(), window.len());
        for b in &out {
            assert!(b.len() <= MAX_BAND_CELLS, "{b:?}");
            assert_eq!(b.row_off / 256, (b.row_off + b.height - 1) / 256, "{b:?}");
            assert!(b.col_off == window.col_off || b.col_off % 256 == 0, "{b:?}");
        }
        assert!(out.len() <= 36 * 3 + 3, "{}", out.len());
        // A window within the budget is one band; blocks larger than a band are cut by cells.
        let small = Window {
            col_off: 5,
            row_off: 5,
            width: 300,
            height: 300,
        };
        let mut out = Vec::new();
        bands((256, 256), small, &mut out);
        assert_eq!(out, vec![small]);
        let mut out = Vec::new();
        bands((20_000, 512), window, &mut out);
        assert!(out.iter().all(|b| b.len() <= MAX_BAND_CELLS));
        assert_eq!(out.iter().map(Window::len).sum::<usize>(), window.len());
    }

    #[test]
    fn random_polygons_match_the_boolean_ops_oracle() {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let transforms = [
            (utm(), false),
            // South-up, non-square pixels: orientation and scale must not matter.
            (
                GeoTransform {
                    origin_x: -3.0,
                    origin_y: 7.0,
                    pixel_width: 0.5,
                    pixel_height: 0.25,
                },
                false,
            ),
        ];
        for (transform, geographic) in transforms {
            let reader = random_reader(&mut rng, grid(40, 30, transform, geographic));
            let polygons: Vec<_> = (0..60).map(|_| random_polygon(&mut rng, reader.grid())).collect();
            let stats = zonal_sums(&reader, &polygons).unwrap();
            for (i, (p, s)) in polygons.iter().zip(&stats).enumerate() {
                // geo's BooleanOps (i_overlay) snaps coordinates to an integer grid sized to the operands' extent,
                // which limits it to ~1e-8 relative here; the clipping oracle is held to 1e-9.
                let (population, _) = oracle(&reader, p);
                let scale = population.abs().max(1.0);
                assert!(
                    (s.population - population).abs() <= 1e-7 * scale,
                    "polygon {i}: {} vs BooleanOps oracle {population}",
                    s.population
                );
                let (population, fractions) = clip_oracle(&reader, p);
                assert!(
                    (s.population - population).abs() <= 1e-9 * scale,
                    "polygon {i}: {} vs clipping oracle {population}",
                    s.population
                );
                let area = fractions * reader.grid().transform.pixel_area();
                assert!(
                    (s.covered_area_m2 - area).abs() <= 1e-9 * area.max(1.0),
                    "polygon {i} area"
                );
            }
        }
    }

    #[test]
    fn vertices_on_cell_lines_and_whole_cells() {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
        let reader = random_reader(&mut rng, grid(40, 30, utm(), false));
        let values = reader.read_all().unwrap();
        // Exactly cells (2..5) x (3..7): fraction 1 inside, 0 outside, even though every edge lies on a cell line.
        let rect = Rect::new(
            coord! { x: 340200.0, y: 3459300.0 },
            coord! { x: 340500.0, y: 3459700.0 },
        );
        let s = zonal_one(&reader, 0, &MultiPolygon::new(vec![rect.to_polygon()])).unwrap();
        let mut want = 0.0;
        let mut nodata = 0;
        for r in 3..7 {
            for c in 2..5 {
                let v = values[r * 40 + c];
                if v < 0.0 {
                    nodata += 1
                } else {
                    want += v
                }
            }
        }
        assert_eq!(s.covered_cells, 12);
        assert_eq!(s.nodata_cells, nodata);
        assert!((s.population - want).abs() < 1e-9);
        assert!((s.covered_area_m2 - 120_000.0).abs() < 1e-6);
        // A diagonal through cell corners halves the cells it crosses.
        let tri = Polygon::new(
            LineString::from(vec![
                (340000.0, 3460000.0),
                (340300.0, 3460000.0),
                (340300.0, 3459700.0),
                (340000.0, 3460000.0),
            ]),
            vec![],
        );
        let s = zonal_one(&reader, 0, &MultiPolygon::new(vec![tri.clone()])).unwrap();
        let (want, _) = oracle(&reader, &MultiPolygon::new(vec![tri]));
        assert!((s.population - want).abs() < 1e-9);
        assert_eq!(s.covered_cells, 6);
    }

    /// Quadrilaterals over a jittered lattice partition the grid's extent exactly.
    fn partition(rng: &mut ChaCha8Rng, g: &Grid, nx: usize, ny: usize) -> Vec<MultiPolygon<f64>> {
        let t = g.transform;
        let mut lattice = vec![vec![coord! { x: 0.0, y: 0.0 }; nx + 1]; ny + 1];
        for (j, row) in lattice.iter_mut().enumerate() {
            for (i, p) in row.iter_mut().enumerate() {
                let mut u = i as f64 / nx as f64 * g.width as f64;
                let mut v = j as f64 / ny as f64 * g.height as f64;
                if i > 0 && i < nx {
                    u += rng.random_range(-0.4..0.4) * g.width as f64 / nx as f64;
                }
                if j > 0 && j < ny {
                    v += rng.random_range(-0.4..0.4) * g.height as f64 / ny as f64;
                }
                let (x, y) = t.pixel_to_xy(u, v);
                *p = coord! { x: x, y: y };
            }
        }
        let mut out = Vec::new();
        for j in 0..ny {
            for i in 0..nx {
                let ring = vec![
                    lattice[j][i],
                    lattice[j][i + 1],
                    lattice[j + 1][i + 1],
                    lattice[j + 1][i],
                    lattice[j][i],
                ];
                out.push(MultiPolygon::new(vec![Polygon::new(
                    LineString::new(ring),
                    vec![],
                )]));
            }
        }
        out
    }

    #[test]
    fn partitions_conserve_population_and_area() {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 2);
        let geo_transform = GeoTransform {
            origin_x: 121.4,
            origin_y: 31.25,
            pixel_width: 1.0 / 1200.0,
            pixel_height: -1.0 / 1200.0,
        };
        for (transform, geographic) in [(utm(), false), (geo_transform, true)] {
            let g = grid(40, 30, transform, geographic);
            let reader = random_reader(&mut rng, g.clone());
            let values = reader.read_all().unwrap();
            let total: f64 = values.iter().filter(|v| !g.is_nodata(**v)).sum();
            let nodata = values.iter().filter(|v| g.is_nodata(**v)).count();
            let total_area: f64 = (0..g.height)
                .map(|r| if geographic { geographic_cell_area(&g, r) } else { g.transform.pixel_area() } * g.width as f64)
                .sum();
            for (nx, ny) in [(1, 1), (3, 2), (7, 9), (40, 30)] {
                let parts = partition(&mut rng, &g, nx, ny);
                let stats = zonal_sums(&reader, &parts).unwrap();
                let sum: f64 = stats.iter().map(|s| s.population).sum();
                let area: f64 = stats.iter().map(|s| s.covered_area_m2).sum();
                assert!((sum - total).abs() <= 1e-9 * total, "{nx}x{ny}: {sum} vs {total}");
                assert!(
                    (area - total_area).abs() <= 1e-9 * total_area,
                    "{nx}x{ny}: {area} vs {total_area}"
                );
                if (nx, ny) == (1, 1) {
                    assert_eq!(stats[0].covered_cells, g.width * g.height);
                    assert_eq!(stats[0].nodata_cells, nodata);
                }
            }
        }
    }

    #[test]
    fn same_result_at_one_and_two_threads() {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 3);
        let reader = random_reader(&mut rng, grid(40, 30, utm(), false));
        let polygons: Vec<_> = (0..50).map(|_| random_polygon(&mut rng, reader.grid())).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| zonal_sums(&reader, &polygons).unwrap())
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn one_polygon_over_several_bands_sums_the_same_at_one_and_three_threads() {
        // 1,100 x 2,000 cells: one polygon over all of them spans three bands, measured on several cores.
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 11);
        let (w, h) = (1_100, 2_000);
        let reader = random_reader(&mut rng, grid(w, h, utm(), false));
        let g = reader.grid().clone();
        let (x0, y0) = g.transform.pixel_to_xy(0.0, 0.0);
        let (x1, y1) = g.transform.pixel_to_xy(w as f64, h as f64);
        let whole = MultiPolygon(vec![geo::Rect::new((x0, y0), (x1, y1)).to_polygon()]);
        let centre = g.transform.pixel_to_xy(w as f64 / 2.0, h as f64 / 2.0);
        let star = MultiPolygon(vec![geo::Polygon::new(
            star(
                &mut rng,
                Coord {
                    x: centre.0,
                    y: centre.1,
                },
                50_000.0,
                40,
                true,
            ),
            vec![],
        )]);
        let run = |threads, polygon: &MultiPolygon<f64>| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| zonal_one(&reader, 0, polygon).unwrap())
        };
        for polygon in [&whole, &star] {
            assert_eq!(run(1, polygon), run(3, polygon));
        }
        // Every cell whole: the sum of the grid's values (nodata counted as none).
        let all = run(3, &whole);
        assert_eq!(all.covered_cells, w * h);
        let mut expected = 0.0;
        let mut values = vec![0.0; w * h];
        reader
            .read_window_into(
                Window {
                    col_off: 0,
                    row_off: 0,
                    width: w,
                    height: h,
                },
                &mut values,
            )
            .unwrap();
        for v in values.iter().filter(|v| !g.is_nodata(**v)) {
            expected += v;
        }
        approx::assert_relative_eq!(all.population, expected, max_relative = 1e-12);
    }

    #[test]
    fn geographic_cell_area_matches_geodesic_area() {
        use geo::GeodesicArea;
        // A WorldPop cell in Shanghai (3 arc-seconds) and a 1-degree cell; edges along parallels are not geodesics,
        // so the 1-degree cell differs from the geodesic polygon slightly more.
        for (size, tol) in [(1.0 / 1200.0, 1e-6), (1.0, 1e-4)] {
            let (lat, lon) = (31.2, 121.4);
            let ours = lonlat_rectangle_area(size, lat, lat + size);
            let rect =
                Rect::new(coord! { x: lon, y: lat }, coord! { x: lon + size, y: lat + size }).to_polygon();
            let geodesic = rect.geodesic_area_unsigned();
            assert!(
                (ours - geodesic).abs() / geodesic < tol,
                "{size}: {ours} vs {geodesic}"
            );
        }
        // The whole ellipsoid.
        let earth = lonlat_rectangle_area(360.0, -90.0, 90.0);
        assert!((earth - 5.100_656_217_24e14).abs() / earth < 1e-9, "{earth}");
    }

    #[test]
    fn fixture_grids_nodata_and_negative_values() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cases/grids");
        let reader = GridReader::open(&dir.join("worldpop_4326.tif"), &GridOptions::default()).unwrap();
        let g = reader.grid().clone();
        let (x1, y1) = g.transform.pixel_to_xy(g.width as f64, g.height as f64);
        let whole = Rect::new(
            coord! { x: g.transform.origin_x - 1.0, y: y1 - 1.0 },
            coord! { x: x1 + 1.0, y: g.transform.origin_y + 1.0 },
        );
        let s = zonal_one(&reader, 0, &MultiPolygon::new(vec![whole.to_polygon()])).unwrap();
        assert_eq!(s.nodata_cells, 54);
        assert_eq!(s.covered_cells, 1200);
        assert!((s.population - 49354.080233701665).abs() < 1e-6);
        // ~ 40 x 30 cells of ~79 m x 93 m at 31.2°N.
        assert!(
            (s.covered_area_m2 / 1200.0 - 7370.0).abs() < 100.0,
            "{}",
            s.covered_area_m2
        );

        let reader = GridReader::open(&dir.join("bad_negative.tif"), &GridOptions::default()).unwrap();
        let cell = |c: f64, r: f64| {
            let (x0, y0) = reader.grid().transform.pixel_to_xy(c, r);
            let (x1, y1) = reader.grid().transform.pixel_to_xy(c + 1.0, r + 1.0);
            MultiPolygon::new(vec![
                Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 }).to_polygon()
            ])
        };
        assert!(zonal_one(&reader, 0, &cell(11.0, 15.0)).is_ok());
        let e = zonal_one(&reader, 7, &cell(10.2, 15.2)).unwrap_err().to_string();
        assert!(
            e.contains("bad_negative.tif") && e.contains("row 15, column 10") && e.contains("polygon 7"),
            "{e}"
        );
    }

    #[test]
    fn polygons_off_the_grid_or_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 4);
        let reader = random_reader(&mut rng, grid(40, 30, utm(), false));
        let far = Rect::new(coord! { x: 0.0, y: 0.0 }, coord! { x: 10.0, y: 10.0 }).to_polygon();
        let stats = zonal_sums(
            &reader,
            &[MultiPolygon::new(vec![far]), MultiPolygon::new(vec![])],
        )
        .unwrap();
        assert_eq!(stats, vec![ZonalStats::default(); 2]);
    }
}
