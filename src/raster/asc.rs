//! ESRI ASCII grid (`.asc`): a header (`ncols`, `nrows`, `xllcorner`/`xllcenter`, `yllcorner`/`yllcenter`,
//! `cellsize` or `dx`/`dy`, optional `NODATA_value`), one `key value` per line, followed by `nrows` lines of
//! `ncols` values each, north first (GDAL's AAIGrid layout). The CRS comes from a `.prj` beside it (WKT or a PROJ
//! string, kept as written) or from `grid_crs`.
//!
//! Streamed, never read whole: opening reads the header and checks its claim against the file size (each value
//! takes at least two bytes: a digit and a separator), so a corrupt header cannot make anything be sized from it.
//! A window is read by scanning lines from the nearest known row start; the start of every `stride`-th row is
//! remembered as it is passed, in at most [`MAX_CHECKPOINTS`] entries, so memory stays small whatever the grid
//! and later windows skip straight to their rows. Every row scanned must hold exactly `ncols` values; only the
//! values inside the window are parsed, and no token is kept beyond [`MAX_TOKEN`] bytes, so a file of garbage (a
//! 2 GB run of NULs) fails on its first bytes with a short message.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

use super::{is_geographic_crs, GeoTransform, Grid, GridOptions, Window, MAX_GRID_CELLS};
use crate::io::shown;
use crate::{Error, Result};

/// Bytes of the header read at most: a real header is under 200 bytes.
const MAX_HEADER: u64 = 4096;

/// Longest value token: a float written in full is under 30 characters.
const MAX_TOKEN: usize = 64;

/// Row starts remembered at most (16 bytes each).
const MAX_CHECKPOINTS: usize = 1 << 16;

/// An open ASCII grid: where its rows start, learnt as they are read.
#[derive(Debug)]
pub struct AscSource {
    width: usize,
    height: usize,
    /// Rows between two remembered row starts.
    stride: usize,
    /// `(byte offset, line number)` of the start of rows `0, stride, 2·stride, …`, as far as scanned.
    checkpoints: Mutex<Vec<(u64, u64)>>,
}

/// Reads the header and CRS of an ASCII grid and checks the header against the file's size.
pub fn open(path: &Path, options: &GridOptions) -> Result<(Grid, AscSource)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, "open", e))?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(MAX_HEADER)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, "read", e))?;

    let mut ncols = None;
    let mut nrows = None;
    let mut x = None;
    let mut y = None;
    let mut center = (false, false);
    let mut dx = None;
    let mut dy = None;
    let mut nodata = None;
    let mut body = None;
    let mut line_start = 0usize;
    let mut line_number = 1u64;
    while line_start < head.len() {
        let newline = head[line_start..].iter().position(|&b| b == b'\n');
        let len = newline.unwrap_or(head.len() - line_start);
        let line = String::from_utf8_lossy(&head[line_start..line_start + len]);
        let mut words = line.split_ascii_whitespace();
        let Some(key) = words.next() else {
            line_start += len + 1;
            line_number += 1;
            continue;
        };
        if key.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
            body = Some((line_start as u64, line_number));
            break;
        }
        if newline.is_none() {
            break;
        }
        let key = key.to_ascii_lowercase();
        let value = words
            .next()
            .ok_or_else(|| Error::grid(path, format!("header `{}` has no value", shown(&key))))?;
        let number: f64 = value.parse().map_err(|_| {
            Error::grid(
                path,
                format!("header `{}`: `{}` is not a number", shown(&key), shown(value)),
            )
        })?;
        match key.as_str() {
            "ncols" => ncols = Some(number),
            "nrows" => nrows = Some(number),
            "xllcorner" => x = Some(number),
            "yllcorner" => y = Some(number),
            "xllcenter" => {
                x = Some(number);
                center.0 = true;
            }
            "yllcenter" => {
                y = Some(number);
                center.1 = true;
            }
            "cellsize" => {
                dx = Some(number);
                dy = Some(number);
            }
            "dx" => dx = Some(number),
            "dy" => dy = Some(number),
            "nodata_value" => nodata = Some(number),
            other => {
                return Err(Error::grid(
                    path,
                    format!("unknown header `{}` (not an ESRI ASCII grid?)", shown(other)),
                ))
            }
        }
        line_start += len + 1;
        line_number += 1;
    }
    let Some((body_start, body_line)) = body else {
        return Err(Error::grid(
            path,
            "no values after the header (or a header longer than 4 KiB): not an ESRI ASCII grid",
        ));
    };
    let count = |v: Option<f64>, name: &str| -> Result<usize> {
        match v {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n < 1e12 => Ok(n as usize),
            Some(n) => Err(Error::grid(
                path,
                format!("{name} = {n} is not a positive integer"),
            )),
            None => Err(Error::grid(path, format!("header has no {name}"))),
        }
    };
    let width = count(ncols, "ncols")?;
    let height = count(nrows, "nrows")?;
    let cells = width as u64 * height as u64;
    if cells > MAX_GRID_CELLS {
        return Err(Error::grid(
            path,
            format!("header claims {width} x {height} cells, more than any population grid (at most 2^40): a corrupt header"),
        ));
    }
    // A value and its separator take two bytes at least (the last value may end the file).
    let data_bytes = file_len - body_start;
    if data_bytes + 1 < 2 * cells {
        return Err(Error::grid(
            path,
            format!(
                "header claims {width} x {height} cells but only {data_bytes} bytes of values follow \
                 (at least {} needed): truncated file or corrupt header",
                2 * cells - 1
            ),
        ));
    }
    let (Some(mut x), Some(mut y), Some(dx), Some(dy)) = (x, y, dx, dy) else {
        return Err(Error::grid(
            path,
            "no georeferencing (header needs xllcorner/xllcenter, yllcorner/yllcenter and cellsize)",
        ));
    };
    if !(dx > 0.0 && dy > 0.0 && x.is_finite() && y.is_finite() && dx.is_finite() && dy.is_finite()) {
        return Err(Error::grid(path, format!("unusable cell size {dx} x {dy}")));
    }
    if center.0 {
        x -= dx / 2.0;
    }
    if center.1 {
        y -= dy / 2.0;
    }

    let crs = match &options.grid_crs {
        Some(crs) => crs.clone(),
        None => {
            let prj = path.with_extension("prj");
            match std::fs::read_to_string(&prj) {
                Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
                _ => {
                    return Err(Error::grid(
                        path,
                        "no CRS: no .prj beside it; give the grid's CRS with grid_crs",
                    ))
                }
            }
        }
    };
    let grid = Grid {
        width,
        height,
        transform: GeoTransform {
            origin_x: x,
            origin_y: y + height as f64 * dy,
            pixel_width: dx,
            pixel_height: -dy,
        },
        nodata,
        geographic: is_geographic_crs(&crs),
        crs,
    };
    let source = AscSource {
        width,
        height,
        stride: height.div_ceil(MAX_CHECKPOINTS).max(1),
        checkpoints: Mutex::new(vec![(body_start, body_line)]),
    };
    Ok((grid, source))
}

impl AscSource {
    fn checkpoint(&self, index: usize) -> (usize, (u64, u64)) {
        let known = match self.checkpoints.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let k = index.min(known.len() - 1);
        (k, known[k])
    }

    fn remember(&self, index: usize, start: (u64, u64)) {
        let mut known = match self.checkpoints.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if known.len() == index {
            known.push(start);
        }
    }

    /// Copies the cells of `window` (inside the grid) into `out`, row-major. Scans from the last remembered row
    /// start at or before the window; rows above it are checked for their value count but not parsed.
    pub(crate) fn read_window(&self, path: &Path, window: Window, out: &mut [f64]) -> Result<()> {
        if window.is_empty() {
            return Ok(());
        }
        let (k, (offset, line)) = self.checkpoint(window.row_off / self.stride);
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, "read", e))?;
        let mut rows = RowReader {
            path,
            input: BufReader::with_capacity(1 << 16, file),
            offset,
            line,
            token: Vec::with_capacity(MAX_TOKEN),
            width: self.width,
        };
        let (c0, c1) = (window.col_off, window.col_off + window.width);
        for row in k * self.stride..window.row_off + window.height {
            if row % self.stride == 0 {
                self.remember(row / self.stride, (rows.offset, rows.line));
            }
            if row < window.row_off {
                rows.row(row, self.height, |_, _| Ok(()))?;
                continue;
            }
            let cells = &mut out[(row - window.row_off) * window.width..][..window.width];
            rows.row(row, self.height, |col, token| {
                if (c0..c1).contains(&col) {
                    cells[col - c0] = parse(path, row, col, token)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

fn parse(path: &Path, row: usize, col: usize, token: &[u8]) -> Result<f64> {
    std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            Error::grid(
                path,
                format!(
                    "row {row}, column {col}: `{}` is not a number",
                    shown(&String::from_utf8_lossy(token))
                ),
            )
        })
}

/// Reads rows (lines of values) from a position in the file, keeping no more than one token.
struct RowReader<'a, R> {
    path: &'a Path,
    input: R,
    /// Byte offset and (1-based) line number of the next byte.
    offset: u64,
    line: u64,
    token: Vec<u8>,
    width: usize,
}

impl<R: BufRead> RowReader<'_, R> {
    /// Reads the next non-blank line as row `row`, calling `value(column, token)` for each of its values; the line
    /// must hold exactly `width` values.
    fn row(
        &mut self,
        row: usize,
        height: usize,
        mut value: impl FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let path = self.path;
        let mut col = 0usize;
        let mut in_token = false;
        let line = loop {
            let buf = self.input.fill_buf().map_err(|e| Error::io(path, "read", e))?;
            if buf.is_empty() {
                if in_token {
                    value(col, &self.token)?;
                    col += 1;
                }
                if col == 0 {
                    return Err(Error::grid(
                        path,
                        format!("the file ends after {row} rows, but the header says nrows = {height} (truncated?)"),
                    ));
                }
                break self.line;
            }
            let mut used = 0;
            let mut done = false;
            for &b in buf {
                used += 1;
                let separator = b.is_ascii_whitespace();
                if !separator {
                    if !in_token {
                        if col >= self.width {
                            return Err(too_many(path, row, self.line, self.width));
                        }
                        in_token = true;
                        self.token.clear();
                    }
                    if self.token.len() == MAX_TOKEN {
                        let shown_token = shown(&String::from_utf8_lossy(&self.token[..16]));
                        return Err(Error::grid(
                            path,
                            format!(
                                "row {row}, column {col} (line {}): `{shown_token}...` is not a number",
                                self.line
                            ),
                        ));
                    }
                    self.token.push(b);
                    continue;
                }
                if in_token {
                    value(col, &self.token)?;
                    col += 1;
                    in_token = false;
                }
                if b == b'\n' {
                    if col > 0 {
                        done = true;
                        break;
                    }
                    // A blank line between rows: skipped.
                    self.line += 1;
                }
            }
            self.input.consume(used);
            self.offset += used as u64;
            if done {
                let line = self.line;
                self.line += 1;
                break line;
            }
        };
        if col != self.width {
            return Err(Error::grid(
                path,
                format!(
                    "row {row} (line {line}) has {col} values, but the header says ncols = {}",
                    self.width
                ),
            ));
        }
        Ok(())
    }
}

fn too_many(path: &Path, row: usize, line: u64, width: usize) -> Error {
    Error::grid(
        path,
        format!("row {row} (line {line}) has more than {width} values, but the header says ncols = {width}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 10\nNODATA_value -9999\n";

    fn write(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("g.asc");
        std::fs::write(&path, format!("{HEADER}{body}")).unwrap();
        path
    }

    fn options() -> GridOptions {
        GridOptions {
            grid_crs: Some("EPSG:32651".into()),
        }
    }

    fn error(path: &Path) -> String {
        match open(path, &options()) {
            Ok((grid, source)) => {
                let mut out = vec![0.0; grid.width * grid.height];
                source
                    .read_window(path, grid.full_window(), &mut out)
                    .unwrap_err()
                    .to_string()
            }
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn asc_row_shorter_than_ncols_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "1 2 3\n4 5\n6\n");
        let e = error(&path);
        assert!(
            e.contains("g.asc") && e.contains("row 1 (line 8) has 2 values") && e.contains("ncols = 3"),
            "{e}"
        );
        let path = write(tmp.path(), "1 2 3 4\n5 6\n");
        let e = error(&path);
        assert!(e.contains("row 0 (line 7) has more than 3 values"), "{e}");
    }

    #[test]
    fn asc_header_larger_than_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g.asc");
        std::fs::write(
            &path,
            "ncols 100000\nnrows 100000\nxllcorner 0\nyllcorner 0\ncellsize 10\n1 2 3\n",
        )
        .unwrap();
        let e = error(&path);
        assert!(
            e.contains("g.asc") && e.contains("100000 x 100000 cells") && e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn asc_of_nul_bytes_fails_fast_with_a_short_message() {
        // The sparse 2 GB file of the issue, in miniature: a header that the size admits, then NULs.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g.asc");
        let mut bytes = b"ncols 1000\nnrows 1000\nxllcorner 0\nyllcorner 0\ncellsize 10\n0".to_vec();
        bytes.resize(4_000_000, 0);
        std::fs::write(&path, bytes).unwrap();
        let e = error(&path);
        assert!(
            e.contains("row 0, column 0") && e.contains("is not a number"),
            "{e}"
        );
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn windows_skip_rows_and_agree_with_a_full_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g.asc");
        let (w, h) = (7, 300_000usize); // more rows than checkpoints: a stride above 1
        let mut text = format!("ncols {w}\nnrows {h}\nxllcorner 0\nyllcorner 0\ncellsize 1\n");
        for r in 0..h {
            let row: Vec<String> = (0..w).map(|c| (r * w + c).to_string()).collect();
            text.push_str(&row.join(" "));
            text.push_str(if r % 1000 == 0 { "\r\n\n" } else { "\n" });
        }
        std::fs::write(&path, text).unwrap();
        let (grid, source) = open(&path, &options()).unwrap();
        assert!(source.stride > 1);
        for (r0, c0, rows, cols) in [
            (250_000, 2, 3, 4),
            (5, 0, 2, 7),
            (299_999, 6, 1, 1),
            (123_457, 1, 2, 2),
        ] {
            let window = Window {
                col_off: c0,
                row_off: r0,
                width: cols,
                height: rows,
            };
            let mut out = vec![0.0; window.len()];
            source.read_window(&path, window, &mut out).unwrap();
            let want: Vec<f64> = (0..rows)
                .flat_map(|r| (0..cols).map(move |c| ((r0 + r) * w + c0 + c) as f64))
                .collect();
            assert_eq!(out, want, "{window:?}");
        }
        assert_eq!(grid.height, h);
    }
}
