//! What each fuzz target does with its input, shared by the cargo-fuzz targets (`fuzz_targets/`) and the
//! regression replay in `tests/it/bad_inputs.rs`, so a saved crash input is replayed through exactly the code that
//! found it. Each function must return normally for every input: an `Err` from bmu is fine, a panic is the bug.
#![allow(dead_code)] // each user calls part of it

use bmu::config::{Config, TownConfig};
use bmu::io::{read_layer, ReadOptions};
use bmu::raster::{GridOptions, GridReader, Window};
use geo::{LineString, MultiPolygon, Polygon};
use std::path::{Path, PathBuf};

/// A scratch folder for one target in this process.
pub fn scratch(target: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bmu-fuzz-{target}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Loads `path` as the town of a study area: coordinate checks, transformation, validation, union of parts.
fn load_as_town(path: PathBuf) {
    let config = Config {
        town: Some(TownConfig {
            path,
            ..Default::default()
        }),
        ..Default::default()
    };
    let _ = bmu::model::StudyArea::load(&config);
}

/// GeoJSON reader on arbitrary bytes; what parses is then loaded as a town.
pub fn geojson(data: &[u8], dir: &Path) {
    if bmu::io::geojson::from_bytes(Path::new("fuzz.geojson"), data).is_err() {
        return;
    }
    let path = dir.join("town.geojson");
    if std::fs::write(&path, data).is_ok() {
        load_as_town(path);
    }
}

/// Shapefile reader. The input is split into the files of one shapefile — `.shp`, `.dbf`, `.shx`, `.prj`, `.cpg`,
/// each a little-endian u16 length then that many bytes; a part the input runs out before is not written — and
/// what reads is then loaded as a town.
pub fn shapefile(data: &[u8], dir: &Path) {
    let mut rest = data;
    for ext in ["shp", "dbf", "shx", "prj", "cpg"] {
        let path = dir.join(format!("town.{ext}"));
        let _ = std::fs::remove_file(&path);
        if rest.len() < 2 {
            continue;
        }
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        if std::fs::write(&path, &rest[2..2 + n]).is_err() {
            return;
        }
        rest = &rest[2 + n..];
    }
    let shp = dir.join("town.shp");
    if read_layer(&shp, &ReadOptions::default()).is_ok() {
        load_as_town(shp);
    }
}

/// Packs shapefile parts into the `shapefile` target's input format (for seeds and tests).
#[allow(dead_code)]
pub fn pack_shapefile(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let n = u16::try_from(p.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&p[..usize::from(n)]);
    }
    out
}

/// `bmu.toml` parser (TOML, strict keys, range and CRS checks) on arbitrary text.
pub fn bmu_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, Path::new("study/bmu.toml"));
    }
}

/// GeoTIFF reader on arbitrary bytes: written to a `.tif`, opened by `GridReader::open` (retried with a
/// `grid_crs` when the file's own CRS is refused as user-defined, so those files get past the header too), then a
/// few windows read — a corner, the last cell, a piece of the middle, the whole grid when small, one outside it —
/// and the exact zonal sums of two small polygons taken: a diamond with a hole in the middle of the grid, and a
/// square overhanging its first corner. Every polygon spans at most 48 x 48 cells, so each input stays cheap.
pub fn geotiff(data: &[u8], dir: &Path) {
    let path = dir.join("grid.tif");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let reader = match GridReader::open(&path, &GridOptions::default()) {
        Ok(r) => r,
        Err(e) if e.to_string().contains("grid_crs") => {
            let options = GridOptions {
                grid_crs: Some("EPSG:32651".into()),
            };
            match GridReader::open(&path, &options) {
                Ok(r) => r,
                Err(_) => return,
            }
        }
        Err(_) => return,
    };
    let g = reader.grid().clone();
    let (w, h) = (g.width, g.height);
    let mut windows = vec![
        Window {
            col_off: 0,
            row_off: 0,
            width: w.min(8),
            height: h.min(8),
        },
        Window {
            col_off: w.saturating_sub(1),
            row_off: h.saturating_sub(1),
            width: w.min(1),
            height: h.min(1),
        },
        Window {
            col_off: w / 2,
            row_off: h / 3,
            width: (w - w / 2).min(5),
            height: (h - h / 3).min(3),
        },
        Window {
            col_off: w,
            row_off: 0,
            width: 1,
            height: 1,
        },
    ];
    if w.saturating_mul(h) <= 1 << 16 {
        windows.push(g.full_window());
    }
    for window in windows {
        let _ = reader.read_window(window);
    }
    let t = g.transform;
    let ring = |points: &[(f64, f64)]| {
        LineString::from(
            points
                .iter()
                .map(|&(c, r)| t.pixel_to_xy(c, r))
                .collect::<Vec<_>>(),
        )
    };
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (rx, ry) = ((w as f64).min(48.0) / 2.0, (h as f64).min(48.0) / 2.0);
    let diamond = Polygon::new(
        ring(&[
            (cx - rx, cy),
            (cx, cy - ry),
            (cx + rx, cy),
            (cx, cy + ry),
            (cx - rx, cy),
        ]),
        vec![ring(&[
            (cx - rx / 4.0, cy - ry / 4.0),
            (cx + rx / 4.0, cy - ry / 4.0),
            (cx + rx / 4.0, cy + ry / 4.0),
            (cx - rx / 4.0, cy + ry / 4.0),
        ])],
    );
    let corner = Polygon::new(
        ring(&[
            (-2.5, -2.5),
            (rx + 0.3, -2.5),
            (rx + 0.3, ry + 0.7),
            (-2.5, ry + 0.7),
        ]),
        vec![],
    );
    let _ = bmu::population::zonal_sums(
        &reader,
        &[MultiPolygon::new(vec![diamond]), MultiPolygon::new(vec![corner])],
    );
}
