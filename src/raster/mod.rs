//! Population grids: single-band rasters read as `f64` cells, whole or by pixel window.
//!
//! Two formats, the ones population products ship in:
//! - GeoTIFF (`geotiff`): WorldPop (EPSG:4326, 3 arc-seconds), GHS-POP (World Mollweide, ESRI:54009, 100 m) and
//!   anything GDAL writes with one band, in strips or tiles, uncompressed, LZW, Deflate or PackBits. Only the
//!   strips/tiles that intersect a requested window are decoded, so a national 100 m grid never has to fit in memory.
//! - ESRI ASCII grid (`asc`) with an optional `.prj` beside it, streamed row by row.
//!
//! Reading is bounded by the window asked for, whatever the header claims: a header is checked against the file's
//! size before anything is sized from it, and a cell that is infinite, or NaN where NaN is not the nodata value, is
//! refused with its row and column rather than summed into an `inf` population.
//!
//! Georeferencing follows GDAL's convention: the [`GeoTransform`] maps the *corner* of pixel (col, row) to
//! `(origin_x + col·pixel_width, origin_y + row·pixel_height)`; a north-up grid has a negative `pixel_height`.
//! Rotated grids are rejected. The CRS is kept as a definition string ("EPSG:4326", "ESRI:54009", a PROJ string or
//! WKT from a `.prj`) until `crate::crs` parses it.

pub(crate) mod asc;
pub(crate) mod geotiff;

pub use geotiff::MAX_GRID_CELLS;

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Options for opening a grid.
#[derive(Debug, Clone, Default)]
pub struct GridOptions {
    /// CRS to use instead of the one in the file: needed for user-defined GeoTIFF projections and `.asc` files
    /// without a `.prj`. When given it always wins over the file's own CRS.
    pub grid_crs: Option<String>,
}

/// Affine georeferencing without rotation (GDAL's geotransform with zero rotation terms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform {
    /// X of the outer corner of the first pixel (column 0).
    pub origin_x: f64,
    /// Y of the outer corner of the first pixel (row 0).
    pub origin_y: f64,
    /// Width of a pixel in CRS units (positive).
    pub pixel_width: f64,
    /// Height of a pixel in CRS units: negative for north-up grids, whose row 0 is the northern edge.
    pub pixel_height: f64,
}

impl GeoTransform {
    /// CRS coordinates of the corner of pixel `(col, row)` (fractional indices allowed).
    pub fn pixel_to_xy(&self, col: f64, row: f64) -> (f64, f64) {
        (
            self.origin_x + col * self.pixel_width,
            self.origin_y + row * self.pixel_height,
        )
    }

    /// Fractional pixel coordinates `(col, row)` of a CRS point.
    pub fn xy_to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.origin_x) / self.pixel_width,
            (y - self.origin_y) / self.pixel_height,
        )
    }

    /// Area of one pixel in squared CRS units.
    pub fn pixel_area(&self) -> f64 {
        (self.pixel_width * self.pixel_height).abs()
    }
}

/// A rectangle of pixels: columns `col_off..col_off+width`, rows `row_off..row_off+height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// First column.
    pub col_off: usize,
    /// First row.
    pub row_off: usize,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
}

impl Window {
    /// Number of cells in the window.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// Whether the window holds no cell.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// Cells as a grid stores them: float32 grids (and 8/16-bit integer ones, which `f32` holds exactly) as `f32`, the
/// rest as `f64`. Decoded tiles stay in their narrow type, which halves the memory a float32 grid's tile cache
/// touches; a cell becomes `f64` where it is used, which gives the same value as widening it when decoded.
#[derive(Debug, Clone, Copy)]
pub enum Cells<'a> {
    /// Single-precision cells.
    F32(&'a [f32]),
    /// Double-precision cells.
    F64(&'a [f64]),
}

impl<'a> Cells<'a> {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            Cells::F32(v) => v.len(),
            Cells::F64(v) => v.len(),
        }
    }

    /// Whether there is no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `i` as `f64`.
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Cells::F32(v) => f64::from(v[i]),
            Cells::F64(v) => v[i],
        }
    }

    /// Cells `range`.
    #[inline]
    pub fn slice(&self, range: std::ops::Range<usize>) -> Cells<'a> {
        match self {
            Cells::F32(v) => Cells::F32(&v[range]),
            Cells::F64(v) => Cells::F64(&v[range]),
        }
    }

    /// Writes the cells into `out` (as long as `self`) as `f64`.
    pub fn copy_to(&self, out: &mut [f64]) {
        match self {
            Cells::F32(v) => out.iter_mut().zip(*v).for_each(|(o, &x)| *o = f64::from(x)),
            Cells::F64(v) => out.copy_from_slice(v),
        }
    }
}

/// Cells of a window handed out in place by [`GridReader::visit_window`]: the cell at row `window.row_off + r`,
/// column `window.col_off + c` is `data.get(r * stride + c)`.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The cells this block holds, in grid coordinates.
    pub window: Window,
    /// Cells, `stride` apart from one row to the next.
    pub data: Cells<'a>,
    /// Distance between the starts of two rows in `data`.
    pub stride: usize,
}

impl<'a> Block<'a> {
    /// Row `r` of the block (`window.width` cells).
    #[inline]
    pub fn row(&self, r: usize) -> Cells<'a> {
        self.data
            .slice(r * self.stride..r * self.stride + self.window.width)
    }
}

/// Description of a grid: size, georeferencing, nodata and CRS.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// From cell to CRS coordinates.
    pub transform: GeoTransform,
    /// Cells equal to this value hold no data and count as 0 people (NaN cells only when this is NaN). Stored as
    /// the file's sample type would round it, so that a float32 grid's `-3.4028235e38` compares equal.
    pub nodata: Option<f64>,
    /// CRS definition string: "EPSG:n", "ESRI:54009", a PROJ string or WKT.
    pub crs: String,
    /// Whether the CRS is geographic (longitude/latitude in degrees); cell areas then vary with latitude.
    pub geographic: bool,
}

impl Grid {
    /// The window of the whole grid.
    pub fn full_window(&self) -> Window {
        Window {
            col_off: 0,
            row_off: 0,
            width: self.width,
            height: self.height,
        }
    }

    /// Whether `value` is a nodata cell: equal to the nodata value, or NaN when the nodata value is NaN. A NaN in
    /// a grid whose nodata is something else is not "no data" but a broken cell, refused when read.
    #[inline]
    pub fn is_nodata(&self, value: f64) -> bool {
        match self.nodata {
            Some(nodata) if nodata.is_nan() => value.is_nan(),
            Some(nodata) => value == nodata,
            None => false,
        }
    }

    /// The window of cells that a CRS bounding box touches, clipped to the grid (possibly empty).
    pub fn window_for_bounds(&self, min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Window {
        let t = &self.transform;
        let (c0, r0) = t.xy_to_pixel(min_x, min_y);
        let (c1, r1) = t.xy_to_pixel(max_x, max_y);
        let clip = |lo: f64, hi: f64, n: usize| -> (usize, usize) {
            if !(lo.is_finite() && hi.is_finite()) {
                return (0, 0);
            }
            let start = lo.floor().clamp(0.0, n as f64) as usize;
            let end = hi.ceil().clamp(0.0, n as f64) as usize;
            (start, end.max(start))
        };
        let (col_start, col_end) = clip(c0.min(c1), c0.max(c1), self.width);
        let (row_start, row_end) = clip(r0.min(r1), r0.max(r1), self.height);
        Window {
            col_off: col_start,
            row_off: row_start,
            width: col_end - col_start,
            height: row_end - row_start,
        }
    }
}

/// Whether a CRS definition string denotes longitude/latitude coordinates.
pub fn is_geographic_crs(definition: &str) -> bool {
    let d = definition.trim();
    let upper = d.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("EPSG:") {
        // The geographic CRSs population grids come in: WGS 84, CGCS2000, NAD83, ETRS89, GDA94, WGS 84 3D.
        return matches!(
            code.trim(),
            "4326" | "4490" | "4269" | "4258" | "4283" | "4979" | "4167"
        );
    }
    if upper.starts_with("GEOGCS") || upper.starts_with("GEOGCRS") || upper.starts_with("GEODCRS") {
        return true;
    }
    let lower = d.to_ascii_lowercase();
    lower.contains("+proj=longlat") || lower.contains("+proj=latlong")
}

/// An open grid that cells can be read from, by window, from several threads at once.
#[derive(Debug)]
pub struct GridReader {
    path: PathBuf,
    grid: Grid,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Tiff(Box<geotiff::TiffSource>),
    Asc(asc::AscSource),
    Memory(Vec<f64>),
}

impl GridReader {
    /// Opens a GeoTIFF (`.tif`, `.tiff`) or ESRI ASCII grid (`.asc`), chosen by content for TIFFs and by
    /// extension for ASCII grids. Only metadata is read: cells are read by window.
    pub fn open(path: &Path, options: &GridOptions) -> Result<Self> {
        // A missing grid keeps its own "open" message; anything there that is not a regular file is refused.
        if path.symlink_metadata().is_ok() {
            crate::io::check_input_file(path)?;
        }
        let ext = crate::io::extension(path);
        if ext == "asc" {
            let (grid, source) = asc::open(path, options)?;
            return Ok(GridReader {
                path: path.to_path_buf(),
                grid,
                source: Source::Asc(source),
            });
        }
        let (grid, source) = geotiff::open(path, options)?;
        Ok(GridReader {
            path: path.to_path_buf(),
            grid,
            source: Source::Tiff(Box::new(source)),
        })
    }

    /// A grid held in memory (row-major cells), e.g. for tests or a grid produced by another stage.
    pub fn from_values(path: &Path, grid: Grid, values: Vec<f64>) -> Result<Self> {
        if values.len() != grid.width * grid.height {
            return Err(Error::grid(
                path,
                format!(
                    "{} values for a {}x{} grid",
                    values.len(),
                    grid.width,
                    grid.height
                ),
            ));
        }
        Ok(GridReader {
            path: path.to_path_buf(),
            grid,
            source: Source::Memory(values),
        })
    }

    /// The grid's size, georeferencing, nodata and CRS.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The file the grid came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cells of `window`, row-major, as `f64` (nodata cells keep the nodata value). Reads only the strips or tiles
    /// (or text rows) the window touches. An infinite cell, or a NaN that is not nodata, is an error naming it.
    pub fn read_window(&self, window: Window) -> Result<Vec<f64>> {
        let mut out = vec![0.0; window.len()];
        self.read_window_into(window, &mut out)?;
        Ok(out)
    }

    /// As [`read_window`](Self::read_window), into a caller's buffer of `window.len()` cells.
    pub fn read_window_into(&self, window: Window, out: &mut [f64]) -> Result<()> {
        let g = &self.grid;
        if window.col_off + window.width > g.width || window.row_off + window.height > g.height {
            return Err(Error::grid(
                &self.path,
                format!(
                    "window {}x{} at column {}, row {} lies outside the {}x{} grid",
                    window.width, window.height, window.col_off, window.row_off, g.width, g.height
                ),
            ));
        }
        if out.len() != window.len() {
            return Err(Error::grid(
                &self.path,
                format!("buffer of {} cells for a window of {}", out.len(), window.len()),
            ));
        }
        if window.is_empty() {
            return Ok(());
        }
        match &self.source {
            Source::Tiff(tiff) => tiff.read_window(&self.path, g, window, out)?,
            Source::Asc(asc) => asc.read_window(&self.path, window, out)?,
            Source::Memory(values) => {
                for r in 0..window.height {
                    let start = (window.row_off + r) * g.width + window.col_off;
                    out[r * window.width..(r + 1) * window.width]
                        .copy_from_slice(&values[start..start + window.width]);
                }
            }
        }
        self.check_finite(window, out)
    }

    /// Refuses a non-finite cell that is not nodata: summed, it would make a population of `inf` or NaN.
    fn check_finite(&self, window: Window, cells: &[f64]) -> Result<()> {
        self.check_block(&Block {
            window,
            data: Cells::F64(cells),
            stride: window.width,
        })
    }

    /// [`check_finite`](Self::check_finite) over a block read in place.
    fn check_block(&self, block: &Block<'_>) -> Result<()> {
        let g = &self.grid;
        for r in 0..block.window.height {
            let Some(c) = (match block.row(r) {
                Cells::F32(row) => first_broken(row, g),
                Cells::F64(row) => first_broken(row, g),
            }) else {
                continue;
            };
            let value = block.row(r).get(c);
            let hint = if value.is_nan() {
                " (if NaN marks cells without data, declare it as the nodata value)"
            } else {
                ""
            };
            return Err(Error::grid(
                &self.path,
                format!(
                    "the cell at row {}, column {} is {}, not a population count{hint}",
                    block.window.row_off + r,
                    block.window.col_off + c,
                    value
                ),
            ));
        }
        Ok(())
    }

    /// Width and height of the blocks the grid is stored in (strips or tiles), which
    /// [`visit_window`](Self::visit_window) hands out whole: work split on these lines decodes each block once.
    /// (1, 1) for grids with no blocks (ASCII, memory).
    pub fn block_shape(&self) -> (usize, usize) {
        match &self.source {
            Source::Tiff(tiff) => tiff.chunk_shape(),
            Source::Asc(_) | Source::Memory(_) => (1, 1),
        }
    }

    /// Hands the cells of `window` to `f` in place, as blocks that tile the window (for a GeoTIFF, the part of each
    /// strip or tile it touches, in row-major block order), without assembling a window-sized copy: the decoded
    /// strips/tiles are read where the cache holds them. `buffer` is used only by sources that cannot lend their
    /// cells (ASCII grids). Cells are checked as [`read_window`](Self::read_window) checks them.
    pub fn visit_window(
        &self,
        window: Window,
        buffer: &mut Vec<f64>,
        mut f: impl FnMut(Block<'_>) -> Result<()>,
    ) -> Result<()> {
        let g = &self.grid;
        if window.col_off + window.width > g.width || window.row_off + window.height > g.height {
            return Err(Error::grid(
                &self.path,
                format!(
                    "window {}x{} at column {}, row {} lies outside the {}x{} grid",
                    window.width, window.height, window.col_off, window.row_off, g.width, g.height
                ),
            ));
        }
        if window.is_empty() {
            return Ok(());
        }
        match &self.source {
            Source::Tiff(tiff) => tiff.visit_window(&self.path, g, window, |block, finite| {
                if !finite {
                    self.check_block(&block)?;
                }
                f(block)
            }),
            Source::Memory(values) => {
                let start = window.row_off * g.width + window.col_off;
                let block = Block {
                    window,
                    data: Cells::F64(&values[start..]),
                    stride: g.width,
                };
                self.check_block(&block)?;
                f(block)
            }
            Source::Asc(_) => {
                buffer.clear();
                buffer.resize(window.len(), 0.0);
                self.read_window_into(window, buffer)?;
                f(Block {
                    window,
                    data: Cells::F64(buffer),
                    stride: window.width,
                })
            }
        }
    }

    /// Every cell, row-major.
    pub fn read_all(&self) -> Result<Vec<f64>> {
        self.read_window(self.grid.full_window())
    }
}

/// Column of the first cell of `row` that is infinite, or NaN without being nodata.
fn first_broken<T: Copy + Into<f64>>(row: &[T], g: &Grid) -> Option<usize> {
    // A count (it vectorises, where `any` would not) finds the rare row worth a search.
    if row.iter().filter(|&&v| !v.into().is_finite()).count() == 0 {
        return None;
    }
    row.iter().position(|&v| {
        let v: f64 = v.into();
        !v.is_finite() && !g.is_nodata(v)
    })
}

/// Reads a whole grid; shorthand for [`GridReader::open`] then [`GridReader::read_all`].
pub fn read_grid(path: &Path, options: &GridOptions) -> Result<(Grid, Vec<f64>)> {
    let reader = GridReader::open(path, options)?;
    let values = reader.read_all()?;
    Ok((reader.grid, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cases/grids")
    }

    fn expected() -> Value {
        let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn open(name: &str) -> Result<GridReader> {
        GridReader::open(&dir().join(name), &GridOptions::default())
    }

    #[test]
    fn every_fixture_reads_back_exactly() {
        let e = expected();
        let files = e["files"].as_object().unwrap();
        assert!(files.len() >= 16);
        for (name, f) in files {
            let reader = open(name).unwrap_or_else(|err| panic!("{name}: {err}"));
            let g = reader.grid();
            assert_eq!((g.width, g.height), (40, 30), "{name}");
            let want: Vec<f64> = e["arrays"][f["array"].as_str().unwrap()]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let got = reader.read_all().unwrap();
            assert_eq!(got.len(), want.len(), "{name}");
            if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                panic!("{name}: cell {i} is {} but {} was written", got[i], want[i]);
            }
            let t: Vec<f64> = f["transform"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let gt = g.transform;
            assert_eq!(
                [gt.origin_x, gt.pixel_width, gt.origin_y, gt.pixel_height],
                [t[0], t[1], t[2], t[3]],
                "{name}: transform"
            );
            let crs = f["crs"].as_str().unwrap();
            if crs == "wkt" {
                assert!(g.crs.starts_with("PROJCS["), "{name}: {}", g.crs);
            } else {
                assert_eq!(g.crs, crs, "{name}");
            }
            assert_eq!(g.geographic, crs == "EPSG:4326", "{name}");
            match f["nodata"].as_f64() {
                Some(nd) => assert_eq!(g.nodata.map(|v| v as f32), Some(nd as f32), "{name}"),
                None => assert_eq!(g.nodata, None, "{name}"),
            }
            let nodata_cells = got.iter().filter(|v| g.is_nodata(**v)).count();
            assert_eq!(nodata_cells as u64, f["nodata_cells"].as_u64().unwrap(), "{name}");
            let sum: f64 = got.iter().filter(|v| !g.is_nodata(**v)).sum();
            let want_sum = f["sum"].as_f64().unwrap();
            assert!(
                (sum - want_sum).abs() <= 1e-9 * want_sum,
                "{name}: {sum} vs {want_sum}"
            );
        }
    }

    #[test]
    fn windowed_read_equals_full_read() {
        let e = expected();
        for name in e["files"].as_object().unwrap().keys() {
            let reader = open(name).unwrap();
            let all = reader.read_all().unwrap();
            for (c0, r0, w, h) in [
                (0, 0, 1, 1),
                (3, 5, 17, 9),
                (15, 14, 2, 16),
                (39, 29, 1, 1),
                (0, 13, 40, 3),
                (16, 0, 16, 30),
            ] {
                let window = Window {
                    col_off: c0,
                    row_off: r0,
                    width: w,
                    height: h,
                };
                let part = reader.read_window(window).unwrap();
                for r in 0..h {
                    let same = part[r * w..(r + 1) * w]
                        .iter()
                        .zip(&all[(r0 + r) * 40 + c0..(r0 + r) * 40 + c0 + w])
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{name} window {window:?} row {r}");
                }
            }
            let outside = Window {
                col_off: 30,
                row_off: 0,
                width: 11,
                height: 1,
            };
            assert!(reader.read_window(outside).is_err());
        }
    }

    #[test]
    fn visit_window_hands_out_the_cells_read_window_copies() {
        let e = expected();
        for name in e["files"].as_object().unwrap().keys() {
            let reader = open(name).unwrap();
            for (c0, r0, w, h) in [(0, 0, 40, 30), (3, 5, 17, 9), (15, 14, 2, 16), (39, 29, 1, 1)] {
                let window = Window {
                    col_off: c0,
                    row_off: r0,
                    width: w,
                    height: h,
                };
                let want = reader.read_window(window).unwrap();
                let mut got = vec![f64::NAN; window.len()];
                let mut seen = 0;
                reader
                    .visit_window(window, &mut Vec::new(), |block| {
                        for r in 0..block.window.height {
                            let at = (block.window.row_off - r0 + r) * w + block.window.col_off - c0;
                            block.row(r).copy_to(&mut got[at..at + block.window.width]);
                        }
                        seen += block.window.len();
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(
                    seen,
                    window.len(),
                    "{name} {window:?}: blocks overlap or miss cells"
                );
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{name} {window:?}");
            }
        }
    }

    #[test]
    fn parallel_windowed_reads_agree() {
        use rayon::prelude::*;
        let reader = open("f64_tile16_packbits_nodata.tif").unwrap();
        let all = reader.read_all().unwrap();
        let sums: Vec<f64> = (0..30usize)
            .into_par_iter()
            .map(|r| {
                let w = Window {
                    col_off: 0,
                    row_off: r,
                    width: 40,
                    height: 1,
                };
                reader.read_window(w).unwrap().iter().sum()
            })
            .collect();
        for (r, s) in sums.iter().enumerate() {
            assert_eq!(*s, all[r * 40..(r + 1) * 40].iter().sum::<f64>());
        }
    }

    fn error_of(name: &str) -> String {
        match open(name) {
            Ok(reader) => match reader.read_all() {
                Ok(_) => panic!("{name} should not read"),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_grids_are_one_line_errors_naming_the_file() {
        for (name, needle) in [
            ("bad_two_band.tif", "2 bands"),
            ("bad_no_georef.tif", "no georeferencing"),
            ("bad_truncated.tif", "truncated"),
            ("bad_png_renamed.tif", "not a TIFF"),
            ("bad_rotated.tif", "rotat"),
            ("user_defined_lcc.tif", "grid_crs"),
            ("does_not_exist.tif", "open"),
        ] {
            let message = error_of(name);
            assert!(message.contains(name), "{message}");
            assert!(message.contains(needle), "{name}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    /// `name` with the LONG values of some baseline tags replaced (each tag in the first IFD set to one LONG).
    fn patched(name: &str, tags: &[(u16, u32)], out: &Path) -> PathBuf {
        let mut d = std::fs::read(dir().join(name)).unwrap();
        assert_eq!(&d[..4], b"II*\0");
        let ifd = u32::from_le_bytes(d[4..8].try_into().unwrap()) as usize;
        let n = u16::from_le_bytes(d[ifd..ifd + 2].try_into().unwrap()) as usize;
        for i in 0..n {
            let e = ifd + 2 + 12 * i;
            let tag = u16::from_le_bytes(d[e..e + 2].try_into().unwrap());
            if let Some(&(_, value)) = tags.iter().find(|(t, _)| *t == tag) {
                d[e + 2..e + 4].copy_from_slice(&4u16.to_le_bytes()); // LONG
                d[e + 4..e + 8].copy_from_slice(&1u32.to_le_bytes());
                d[e + 8..e + 12].copy_from_slice(&value.to_le_bytes());
            }
        }
        let path = out.join(name);
        std::fs::write(&path, d).unwrap();
        path
    }

    #[test]
    fn a_header_claiming_an_absurd_grid_is_refused_at_open() {
        // Found by the `geotiff` fuzz target's brief: a 10^9 x 10^9 header in one strip must not be sized from.
        let tmp = tempfile::tempdir().unwrap();
        let (width, height, rows_per_strip) = (256, 257, 278);
        for (tags, needle) in [
            (
                vec![
                    (width, 1_000_000_000),
                    (height, 1_000_000_000),
                    (rows_per_strip, 1_000_000_000),
                ],
                "2^40 cells",
            ),
            (
                vec![(width, 100_000), (height, 100_000), (rows_per_strip, 100_000)],
                "256 MiB",
            ),
        ] {
            let path = patched("f32_strip_none.tif", &tags, tmp.path());
            let message = GridReader::open(&path, &GridOptions::default())
                .unwrap_err()
                .to_string();
            assert!(message.contains("f32_strip_none.tif"), "{message}");
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn override_crs_wins() {
        let options = GridOptions {
            grid_crs: Some("+proj=lcc +lat_1=30 +lat_2=33 +lat_0=31 +lon_0=121.5 +ellps=WGS84".into()),
        };
        let reader = GridReader::open(&dir().join("user_defined_lcc.tif"), &options).unwrap();
        assert!(reader.grid().crs.starts_with("+proj=lcc"));
        assert!(!reader.grid().geographic);
        let options = GridOptions {
            grid_crs: Some("EPSG:4326".into()),
        };
        let reader = GridReader::open(&dir().join("ascii_utm.asc"), &options).unwrap();
        assert!(reader.grid().geographic);
    }

    #[test]
    fn ascii_grid_problems() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g.asc");
        let options = GridOptions {
            grid_crs: Some("EPSG:32651".into()),
        };
        std::fs::write(
            &path,
            "ncols 2\nnrows 2\nxllcenter 0\nyllcenter 0\ncellsize 10\n1 2\n3 4\n",
        )
        .unwrap();
        let (g, v) = read_grid(&path, &options).unwrap();
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!((g.transform.origin_x, g.transform.origin_y), (-5.0, 15.0));
        std::fs::write(
            &path,
            "ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 10\n1 2\n33\n",
        )
        .unwrap();
        let e = read_grid(&path, &options).unwrap_err().to_string();
        assert!(e.contains("row 1 (line 7) has 1 values"), "{e}");
        std::fs::write(
            &path,
            "ncols 2\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 10\n1 x\n",
        )
        .unwrap();
        assert!(read_grid(&path, &options)
            .unwrap_err()
            .to_string()
            .contains("`x`"));
        std::fs::write(&path, "ncols 2\nnrows 1\ncellsize 10\n1 2\n").unwrap();
        assert!(read_grid(&path, &options)
            .unwrap_err()
            .to_string()
            .contains("no georeferencing"));
        std::fs::write(
            &path,
            "ncols 2\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 10\n1 2\n",
        )
        .unwrap();
        let e = read_grid(&path, &GridOptions::default()).unwrap_err().to_string();
        assert!(e.contains("no CRS") && e.contains("g.asc"), "{e}");
    }

    fn memory_grid(nodata: Option<f64>, values: Vec<f64>) -> GridReader {
        let grid = Grid {
            width: 3,
            height: 2,
            transform: GeoTransform {
                origin_x: 0.0,
                origin_y: 20.0,
                pixel_width: 10.0,
                pixel_height: -10.0,
            },
            nodata,
            crs: "EPSG:32651".into(),
            geographic: false,
        };
        GridReader::from_values(Path::new("mem.tif"), grid, values).unwrap()
    }

    #[test]
    fn inf_cell_is_refused_with_row_and_column() {
        let reader = memory_grid(Some(-1.0), vec![1.0, 2.0, 3.0, 4.0, f64::INFINITY, -1.0]);
        let e = reader.read_all().unwrap_err().to_string();
        assert!(
            e.contains("mem.tif") && e.contains("row 1, column 1 is inf"),
            "{e}"
        );
        // A window that leaves the cell out reads.
        let left = Window {
            col_off: 0,
            row_off: 0,
            width: 3,
            height: 1,
        };
        assert_eq!(reader.read_window(left).unwrap(), vec![1.0, 2.0, 3.0]);
        // So does an infinite nodata value.
        let reader = memory_grid(
            Some(f64::NEG_INFINITY),
            vec![1.0, 2.0, 3.0, 4.0, f64::NEG_INFINITY, 6.0],
        );
        assert!(reader.read_all().is_ok());
    }

    #[test]
    fn nan_cell_that_is_not_nodata_is_refused() {
        for nodata in [None, Some(-9999.0)] {
            let reader = memory_grid(nodata, vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0]);
            let e = reader.read_all().unwrap_err().to_string();
            assert!(
                e.contains("row 0, column 2 is NaN") && e.contains("nodata"),
                "{e}"
            );
        }
        let reader = memory_grid(Some(f64::NAN), vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0]);
        let values = reader.read_all().unwrap();
        assert!(reader.grid().is_nodata(values[2]));
        // Through the ASCII reader too (Rust's float parser takes `inf` and `nan`).
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g.asc");
        std::fs::write(
            &path,
            "ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 10\nNODATA_value -9999\n1 2\n+Inf -9999\n",
        )
        .unwrap();
        let options = GridOptions {
            grid_crs: Some("EPSG:32651".into()),
        };
        let e = read_grid(&path, &options).unwrap_err().to_string();
        assert!(e.contains("g.asc") && e.contains("row 1, column 0 is inf"), "{e}");
    }

    #[test]
    fn window_for_bounds_clips_to_the_grid() {
        let reader = open("f32_strip_none.tif").unwrap();
        let g = reader.grid();
        // 100 m cells from (340000, 3460000) down-right.
        let w = g.window_for_bounds(340050.0, 3457050.0, 340250.0, 3459950.0);
        assert_eq!(
            w,
            Window {
                col_off: 0,
                row_off: 0,
                width: 3,
                height: 30
            }
        );
        let w = g.window_for_bounds(330000.0, 3400000.0, 340001.0, 3459999.0);
        assert_eq!((w.col_off, w.width, w.row_off, w.height), (0, 1, 0, 30));
        assert!(g.window_for_bounds(0.0, 0.0, 1.0, 1.0).is_empty());
    }
}
