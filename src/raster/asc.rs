//! ESRI ASCII grid (`.asc`): a header (`ncols`, `nrows`, `xllcorner`/`xllcenter`, `yllcorner`/`yllcenter`,
//! `cellsize` or `dx`/`dy`, optional `NODATA_value`) followed by `nrows` rows of values, north first. The CRS comes
//! from a `.prj` beside it (WKT or a PROJ string, kept as written) or from `grid_crs`. Read whole: these files are
//! text and small by nature.

use std::path::Path;

use super::{is_geographic_crs, GeoTransform, Grid, GridOptions};
use crate::{Error, Result};

/// Reads the header, CRS and every cell of an ASCII grid.
pub fn read(path: &Path, options: &GridOptions) -> Result<(Grid, Vec<f64>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
    let mut tokens = text.split_ascii_whitespace().peekable();

    let mut ncols = None;
    let mut nrows = None;
    let mut x = None;
    let mut y = None;
    let mut center = (false, false);
    let mut dx = None;
    let mut dy = None;
    let mut nodata = None;
    while let Some(key) = tokens.peek() {
        let key = key.to_ascii_lowercase();
        if key.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
            break;
        }
        tokens.next();
        let value = tokens
            .next()
            .ok_or_else(|| Error::grid(path, format!("header `{key}` has no value")))?;
        let number: f64 = value
            .parse()
            .map_err(|_| Error::grid(path, format!("header `{key}`: `{value}` is not a number")))?;
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
            other => return Err(Error::grid(path, format!("unknown header `{other}`"))),
        }
    }
    let count = |v: Option<f64>, name: &str| -> Result<usize> {
        match v {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n < 1e9 => Ok(n as usize),
            Some(n) => Err(Error::grid(
                path,
                format!("{name} = {n} is not a positive integer"),
            )),
            None => Err(Error::grid(path, format!("header has no {name}"))),
        }
    };
    let width = count(ncols, "ncols")?;
    let height = count(nrows, "nrows")?;
    let (Some(mut x), Some(mut y), Some(dx), Some(dy)) = (x, y, dx, dy) else {
        return Err(Error::grid(
            path,
            "no georeferencing (header needs xllcorner/xllcenter, yllcorner/yllcenter and cellsize)",
        ));
    };
    if !(dx > 0.0 && dy > 0.0 && x.is_finite() && y.is_finite()) {
        return Err(Error::grid(path, format!("unusable cell size {dx} x {dy}")));
    }
    if center.0 {
        x -= dx / 2.0;
    }
    if center.1 {
        y -= dy / 2.0;
    }

    let mut values = Vec::with_capacity(width * height);
    for token in tokens {
        let v: f64 = token.parse().map_err(|_| {
            Error::grid(
                path,
                format!(
                    "cell {} (row {}): `{token}` is not a number",
                    values.len(),
                    values.len() / width
                ),
            )
        })?;
        values.push(v);
    }
    if values.len() != width * height {
        return Err(Error::grid(
            path,
            format!(
                "{} values for {} rows x {} columns (truncated?)",
                values.len(),
                height,
                width
            ),
        ));
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
    Ok((grid, values))
}
