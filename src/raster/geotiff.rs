//! Single-band GeoTIFF reading with the `tiff` crate, windowed by strip or tile.
//!
//! Georeferencing comes from ModelPixelScale (33550) + ModelTiepoint (33922), or from ModelTransformation (34264)
//! when it has no rotation; the CRS from the GeoKey directory (34735): ProjectedCSTypeGeoKey (3072) or
//! GeographicTypeGeoKey (2048) give "EPSG:n". A user-defined (32767) projection is an error unless the caller gives
//! `grid_crs`, except World Mollweide on WGS 84, which GDAL writes that way for GHS-POP (ESRI:54009) and which is
//! recognised by its citation. Nodata comes from GDAL_NODATA (42113). Following GDAL's default
//! (`GTRasterTypeGeoKey` = PixelIsArea) the tiepoint is a pixel corner; PixelIsPoint grids are shifted by half a
//! pixel as GDAL does.
//!
//! Decoders are pooled: each thread reading a window borrows one (opening the file again when none is free), so
//! reads from rayon workers never serialise on a lock while decoding. Decoded strips/tiles are kept in a bounded
//! cache (as GDAL's block cache does): neighbouring polygons share strips, and without it a grid stored one row
//! per strip would be decompressed once per polygon overlapping each row.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::tags::{CompressionMethod, SampleFormat, Tag};

use super::{is_geographic_crs, GeoTransform, Grid, GridOptions, Window};
use crate::{Error, Result};

type TiffDecoder = Decoder<BufReader<File>>;

const GEO_KEY_DIRECTORY: u16 = 34735;
const GEO_DOUBLE_PARAMS: u16 = 34736;
const GEO_ASCII_PARAMS: u16 = 34737;
const MODEL_PIXEL_SCALE: u16 = 33550;
const MODEL_TIEPOINT: u16 = 33922;
const MODEL_TRANSFORMATION: u16 = 34264;
const GDAL_NODATA: u16 = 42113;

const GT_MODEL_TYPE: u16 = 1024;
const GT_RASTER_TYPE: u16 = 1025;
const GT_CITATION: u16 = 1026;
const GEOGRAPHIC_TYPE: u16 = 2048;
const GEOG_CITATION: u16 = 2049;
const GEOG_GEODETIC_DATUM: u16 = 2050;
const PROJECTED_CS_TYPE: u16 = 3072;
const PCS_CITATION: u16 = 3073;
const PROJ_FALSE_EASTING: u16 = 3082;
const PROJ_FALSE_NORTHING: u16 = 3083;
const PROJ_NAT_ORIGIN_LONG: u16 = 3080;
const PROJ_CENTER_LONG: u16 = 3088;
const USER_DEFINED: u16 = 32767;
const RASTER_PIXEL_IS_POINT: u16 = 2;

/// The sample type of the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    U8,
    U16,
    U32,
    I8,
    I16,
    I32,
    F32,
    F64,
}

/// An open GeoTIFF: its chunk layout and a pool of decoders.
pub struct TiffSource {
    sample_type: SampleType,
    chunk_type: ChunkType,
    /// Width and height of a full strip or tile (strips are as wide as the image).
    chunk_width: usize,
    chunk_height: usize,
    chunks_across: usize,
    file_len: u64,
    pool: Mutex<Vec<TiffDecoder>>,
    cache: Mutex<ChunkCache>,
}

/// Cells a grid may have at most (2^40 ≈ 1.1·10^12): ten times a global 30 m grid. A header claiming more is
/// corrupt or hostile, and is refused before anything is sized from it.
pub const MAX_GRID_CELLS: u64 = 1 << 40;

/// Bytes one strip/tile may decode to at most: the `tiff` decoder's own buffer limit, checked when the file is
/// opened so that a bad layout is refused up front instead of at the first read.
const MAX_CHUNK_BYTES: u64 = 256 * 1024 * 1024;

/// Cells of decoded strips/tiles kept at most (128 MiB of f64).
const CACHE_CELLS: usize = 16 << 20;

/// Decoded strips/tiles, evicted oldest first once over [`CACHE_CELLS`].
#[derive(Default)]
struct ChunkCache {
    chunks: HashMap<usize, Arc<Vec<f64>>>,
    order: VecDeque<usize>,
    cells: usize,
}

impl ChunkCache {
    fn insert(&mut self, index: usize, chunk: Arc<Vec<f64>>) {
        if self.chunks.contains_key(&index) {
            return;
        }
        self.cells += chunk.len();
        self.chunks.insert(index, chunk);
        self.order.push_back(index);
        while self.cells > CACHE_CELLS {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(c) = self.chunks.remove(&old) {
                self.cells -= c.len();
            }
        }
    }
}

// `Decoder` has no Debug: show the layout only.
impl std::fmt::Debug for TiffSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiffSource")
            .field("sample_type", &self.sample_type)
            .field("chunk_type", &self.chunk_type)
            .field("chunk_width", &self.chunk_width)
            .field("chunk_height", &self.chunk_height)
            .finish_non_exhaustive()
    }
}

fn tiff_err(path: &Path, what: &str, e: tiff::TiffError) -> Error {
    Error::grid(path, format!("{what}: {e}"))
}

fn new_decoder(path: &Path) -> Result<TiffDecoder> {
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut limits = Limits::default();
    // Strip/tile offset arrays of a national 100 m grid exceed the default 1 MiB per tag value.
    limits.ifd_value_size = 256 * 1024 * 1024;
    let decoder = Decoder::new(BufReader::new(file))
        .map_err(|e| tiff_err(path, "not a readable TIFF", e))?
        .with_limits(limits);
    Ok(decoder)
}

fn find_f64s(d: &mut TiffDecoder, path: &Path, tag: u16) -> Result<Option<Vec<f64>>> {
    match d.find_tag(Tag::Unknown(tag)) {
        Ok(Some(v)) => v
            .into_f64_vec()
            .map(Some)
            .map_err(|e| tiff_err(path, &format!("tag {tag}"), e)),
        Ok(None) => Ok(None),
        Err(e) => Err(tiff_err(path, &format!("tag {tag}"), e)),
    }
}

/// Opens `path`, reads its metadata and checks that it is a single-band, georeferenced grid we can decode.
pub fn open(path: &Path, options: &GridOptions) -> Result<(Grid, TiffSource)> {
    let file_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, "open", e))?
        .len();
    let mut magic = [0u8; 4];
    {
        let mut f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let n = f.read(&mut magic).map_err(|e| Error::io(path, "read", e))?;
        if n < 4 || !(magic == *b"II*\0" || magic == *b"MM\0*" || magic == *b"II+\0" || magic == *b"MM\0+") {
            return Err(Error::grid(path, "not a TIFF file (bad magic bytes)"));
        }
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, "read", e))?;
    }
    let mut d = new_decoder(path)?;

    let (width, height) = d.dimensions().map_err(|e| tiff_err(path, "image size", e))?;
    let samples: u16 = d
        .find_tag_unsigned(Tag::SamplesPerPixel)
        .map_err(|e| tiff_err(path, "SamplesPerPixel", e))?
        .unwrap_or(1);
    if samples != 1 {
        return Err(Error::grid(
            path,
            format!("{samples} bands (samples per pixel); a population grid must have exactly 1"),
        ));
    }
    let compression: u16 = d
        .find_tag_unsigned(Tag::Compression)
        .map_err(|e| tiff_err(path, "Compression", e))?
        .unwrap_or(1);
    match CompressionMethod::from_u16(compression) {
        Some(
            CompressionMethod::None
            | CompressionMethod::LZW
            | CompressionMethod::Deflate
            | CompressionMethod::OldDeflate
            | CompressionMethod::PackBits,
        ) => {}
        _ => {
            return Err(Error::grid(
                path,
                format!("unsupported compression {compression} (supported: none, LZW, Deflate, PackBits)"),
            ))
        }
    }
    let bits: u16 = d
        .find_tag_unsigned(Tag::BitsPerSample)
        .map_err(|e| tiff_err(path, "BitsPerSample", e))?
        .unwrap_or(1);
    let format: u16 = d
        .find_tag_unsigned(Tag::SampleFormat)
        .map_err(|e| tiff_err(path, "SampleFormat", e))?
        .unwrap_or(1);
    let sample_type = match (SampleFormat::from_u16(format), bits) {
        (Some(SampleFormat::Uint), 8) => SampleType::U8,
        (Some(SampleFormat::Uint), 16) => SampleType::U16,
        (Some(SampleFormat::Uint), 32) => SampleType::U32,
        (Some(SampleFormat::Int), 8) => SampleType::I8,
        (Some(SampleFormat::Int), 16) => SampleType::I16,
        (Some(SampleFormat::Int), 32) => SampleType::I32,
        (Some(SampleFormat::IEEEFP), 32) => SampleType::F32,
        (Some(SampleFormat::IEEEFP), 64) => SampleType::F64,
        _ => {
            return Err(Error::grid(
                path,
                format!("unsupported sample type: {bits}-bit, SampleFormat {format} (supported: 8/16/32-bit integers, 32/64-bit floats)"),
            ))
        }
    };

    let transform = read_transform(&mut d, path)?;
    let geokeys = GeoKeys::read(&mut d, path)?;
    let (crs, geographic) = match &options.grid_crs {
        Some(crs) => (crs.clone(), is_geographic_crs(crs)),
        None => geokeys.crs(path)?,
    };
    let mut transform = transform;
    if geokeys.short(GT_RASTER_TYPE) == Some(RASTER_PIXEL_IS_POINT) {
        // The tiepoint names a pixel centre: move the origin to the corner, as GDAL does by default.
        transform.origin_x -= transform.pixel_width / 2.0;
        transform.origin_y -= transform.pixel_height / 2.0;
    }

    let nodata = match d.find_tag(Tag::Unknown(GDAL_NODATA)) {
        Ok(Some(v)) => {
            let text = v.into_string().map_err(|e| tiff_err(path, "GDAL_NODATA", e))?;
            Some(parse_nodata(path, &text, sample_type)?)
        }
        Ok(None) => None,
        Err(e) => return Err(tiff_err(path, "GDAL_NODATA", e)),
    };

    let chunk_type = d.get_chunk_type();
    let (cw, ch) = match chunk_type {
        ChunkType::Strip => {
            let rows: u32 = d
                .find_tag_unsigned(Tag::RowsPerStrip)
                .map_err(|e| tiff_err(path, "RowsPerStrip", e))?
                .unwrap_or(height);
            (width, rows.clamp(1, height.max(1)))
        }
        ChunkType::Tile => {
            let tw: u32 = d
                .find_tag_unsigned(Tag::TileWidth)
                .map_err(|e| tiff_err(path, "TileWidth", e))?
                .unwrap_or(0);
            let th: u32 = d
                .find_tag_unsigned(Tag::TileLength)
                .map_err(|e| tiff_err(path, "TileLength", e))?
                .unwrap_or(0);
            if tw == 0 || th == 0 {
                return Err(Error::grid(path, "tiled TIFF without tile size"));
            }
            (tw, th)
        }
    };
    let cells = u64::from(width) * u64::from(height);
    if cells > MAX_GRID_CELLS {
        return Err(Error::grid(
            path,
            format!("image of {width} x {height} cells is larger than any population grid (at most 2^40 cells): a corrupt header"),
        ));
    }
    let chunk_bytes = u64::from(cw) * u64::from(ch) * u64::from(bits / 8);
    if chunk_bytes > MAX_CHUNK_BYTES {
        return Err(Error::grid(
            path,
            format!("strips/tiles of {cw} x {ch} cells ({chunk_bytes} bytes each) exceed the 256 MiB a strip/tile may decode to"),
        ));
    }
    let chunks_across = (width as usize).div_ceil(cw as usize);
    let chunks_down = (height as usize).div_ceil(ch as usize);
    let offsets: Vec<u64> = match d.find_tag_unsigned_vec(match chunk_type {
        ChunkType::Strip => Tag::StripOffsets,
        ChunkType::Tile => Tag::TileOffsets,
    }) {
        Ok(Some(v)) => v,
        Ok(None) => return Err(Error::grid(path, "no strip or tile offsets")),
        Err(e) => return Err(tiff_err(path, "strip/tile offsets", e)),
    };
    if offsets.len() < chunks_across * chunks_down {
        return Err(Error::grid(
            path,
            format!(
                "{} strips/tiles listed, {} needed",
                offsets.len(),
                chunks_across * chunks_down
            ),
        ));
    }
    if let Some(&beyond) = offsets.iter().find(|&&o| o >= file_len) {
        return Err(Error::grid(
            path,
            format!("truncated file: data at byte {beyond} but the file has {file_len} bytes"),
        ));
    }

    let grid = Grid {
        width: width as usize,
        height: height as usize,
        transform,
        nodata,
        crs,
        geographic,
    };
    Ok((
        grid,
        TiffSource {
            sample_type,
            chunk_type,
            chunk_width: cw as usize,
            chunk_height: ch as usize,
            chunks_across,
            file_len,
            pool: Mutex::new(vec![d]),
            cache: Mutex::new(ChunkCache::default()),
        },
    ))
}

fn parse_nodata(path: &Path, text: &str, sample_type: SampleType) -> Result<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let value: f64 = match t.to_ascii_lowercase().as_str() {
        "nan" | "-nan" => f64::NAN,
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .map_err(|_| Error::grid(path, format!("GDAL_NODATA `{t}` is not a number")))?,
    };
    // Compare cells with nodata as the file stores them: a float32 grid's nodata is the float32 nearest the text.
    Ok(match sample_type {
        SampleType::F32 => value as f32 as f64,
        _ => value,
    })
}

fn read_transform(d: &mut TiffDecoder, path: &Path) -> Result<GeoTransform> {
    if let Some(m) = find_f64s(d, path, MODEL_TRANSFORMATION)? {
        if m.len() < 16 {
            return Err(Error::grid(path, "ModelTransformation has fewer than 16 values"));
        }
        if m[1] != 0.0 || m[4] != 0.0 {
            return Err(Error::grid(
                path,
                "rotated or sheared georeferencing (ModelTransformation with rotation terms) is not supported; warp the grid north-up first (gdalwarp)",
            ));
        }
        return check_transform(
            path,
            GeoTransform {
                origin_x: m[3],
                origin_y: m[7],
                pixel_width: m[0],
                pixel_height: m[5],
            },
        );
    }
    let scale = find_f64s(d, path, MODEL_PIXEL_SCALE)?;
    let tie = find_f64s(d, path, MODEL_TIEPOINT)?;
    match (scale, tie) {
        (Some(s), Some(t)) if s.len() >= 2 && t.len() >= 6 => {
            if t.len() > 6 {
                return Err(Error::grid(
                    path,
                    format!(
                        "{} tiepoints (ground control points) are not supported; use one tiepoint and a pixel scale",
                        t.len() / 6
                    ),
                ));
            }
            let (i, j, x, y) = (t[0], t[1], t[3], t[4]);
            let transform = GeoTransform {
                origin_x: x - i * s[0],
                origin_y: y + j * s[1],
                pixel_width: s[0],
                pixel_height: -s[1],
            };
            check_transform(path, transform)
        }
        _ => Err(Error::grid(
            path,
            "no georeferencing (neither ModelPixelScale+ModelTiepoint nor ModelTransformation)",
        )),
    }
}

fn check_transform(path: &Path, t: GeoTransform) -> Result<GeoTransform> {
    let ok = [t.origin_x, t.origin_y, t.pixel_width, t.pixel_height]
        .iter()
        .all(|v| v.is_finite())
        && t.pixel_width > 0.0
        && t.pixel_height != 0.0;
    if ok {
        Ok(t)
    } else {
        Err(Error::grid(
            path,
            format!(
                "unusable georeferencing: origin ({}, {}), pixel size {} x {}",
                t.origin_x, t.origin_y, t.pixel_width, t.pixel_height
            ),
        ))
    }
}

/// The GeoKey directory, with its ASCII and double parameters resolved.
#[derive(Debug, Default)]
struct GeoKeys {
    shorts: Vec<(u16, u16)>,
    doubles: Vec<(u16, f64)>,
    ascii: Vec<(u16, String)>,
}

impl GeoKeys {
    fn read(d: &mut TiffDecoder, path: &Path) -> Result<Self> {
        let dir: Vec<u16> = match d.find_tag(Tag::Unknown(GEO_KEY_DIRECTORY)) {
            Ok(Some(v)) => v
                .into_u16_vec()
                .map_err(|e| tiff_err(path, "GeoKeyDirectory", e))?,
            Ok(None) => return Ok(GeoKeys::default()),
            Err(e) => return Err(tiff_err(path, "GeoKeyDirectory", e)),
        };
        let doubles = find_f64s(d, path, GEO_DOUBLE_PARAMS)?.unwrap_or_default();
        let ascii = match d.find_tag(Tag::Unknown(GEO_ASCII_PARAMS)) {
            Ok(Some(v)) => v.into_string().unwrap_or_default(),
            _ => String::new(),
        };
        let mut keys = GeoKeys::default();
        let count = dir.get(3).copied().unwrap_or(0) as usize;
        for k in 0..count {
            let Some(entry) = dir.get(4 + 4 * k..8 + 4 * k) else {
                return Err(Error::grid(path, "GeoKeyDirectory is shorter than its key count"));
            };
            let (id, location, n, value) = (entry[0], entry[1], entry[2] as usize, entry[3] as usize);
            match location {
                0 => keys.shorts.push((id, entry[3])),
                GEO_DOUBLE_PARAMS => {
                    if let Some(v) = doubles.get(value) {
                        keys.doubles.push((id, *v));
                    }
                }
                GEO_ASCII_PARAMS => {
                    let text = ascii
                        .get(value..(value + n).min(ascii.len()))
                        .unwrap_or("")
                        .trim_end_matches(['|', '\0'])
                        .to_string();
                    keys.ascii.push((id, text));
                }
                _ => {}
            }
        }
        Ok(keys)
    }

    fn short(&self, id: u16) -> Option<u16> {
        self.shorts.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
    }

    fn double(&self, id: u16) -> Option<f64> {
        self.doubles.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
    }

    fn citations(&self) -> String {
        self.ascii
            .iter()
            .filter(|(k, _)| matches!(*k, GT_CITATION | GEOG_CITATION | PCS_CITATION))
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The CRS as "EPSG:n" (or "ESRI:54009"), and whether it is geographic.
    fn crs(&self, path: &Path) -> Result<(String, bool)> {
        if self.shorts.is_empty() && self.ascii.is_empty() {
            return Err(Error::grid(
                path,
                "no CRS (no GeoKey directory); give the grid's CRS with grid_crs",
            ));
        }
        let model = self.short(GT_MODEL_TYPE);
        if let Some(code) = self.short(PROJECTED_CS_TYPE) {
            if code != USER_DEFINED {
                return Ok((format!("EPSG:{code}"), false));
            }
        }
        // GDAL writes GHS-POP's Mollweide with GTModelType itself user-defined (32767) and no ProjectedCSTypeGeoKey.
        if self.is_world_mollweide() {
            return Ok(("ESRI:54009".to_string(), false));
        }
        if model != Some(1) {
            if let Some(code) = self.short(GEOGRAPHIC_TYPE) {
                if code != USER_DEFINED {
                    return Ok((format!("EPSG:{code}"), true));
                }
            }
        }
        let citation = self.citations();
        Err(Error::grid(
            path,
            format!(
                "user-defined CRS{} that has no EPSG code; give the grid's CRS with grid_crs",
                if citation.is_empty() {
                    String::new()
                } else {
                    format!(" (`{citation}`)")
                }
            ),
        ))
    }

    /// GHS-POP's World Mollweide (ESRI:54009): GeoTIFF has no code for the Mollweide projection, so GDAL writes a
    /// user-defined projection whose citation names it. Accept it only on WGS 84, centred on Greenwich, no offsets.
    fn is_world_mollweide(&self) -> bool {
        let citation = self.citations().to_ascii_lowercase();
        let wgs84 = self.short(GEOGRAPHIC_TYPE) == Some(4326)
            || self.short(GEOG_GEODETIC_DATUM) == Some(6326)
            || citation.contains("wgs 84")
            || citation.contains("wgs_1984")
            || citation.contains("wgs84");
        let zero = |id| self.double(id).is_none_or(|v| v == 0.0);
        citation.contains("mollweide")
            && wgs84
            && zero(PROJ_FALSE_EASTING)
            && zero(PROJ_FALSE_NORTHING)
            && zero(PROJ_NAT_ORIGIN_LONG)
            && zero(PROJ_CENTER_LONG)
    }
}

impl TiffSource {
    fn borrow_decoder(&self, path: &Path) -> Result<TiffDecoder> {
        let pooled = match self.pool.lock() {
            Ok(mut pool) => pool.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        match pooled {
            Some(d) => Ok(d),
            None => new_decoder(path),
        }
    }

    fn return_decoder(&self, d: TiffDecoder) {
        match self.pool.lock() {
            Ok(mut pool) => pool.push(d),
            Err(poisoned) => poisoned.into_inner().push(d),
        }
    }

    /// Copies the cells of `window` into `out` (row-major, window-sized), decoding only the strips/tiles it touches
    /// that are not cached yet.
    pub(crate) fn read_window(
        &self,
        path: &Path,
        grid: &Grid,
        window: Window,
        out: &mut [f64],
    ) -> Result<()> {
        let (cw, ch) = (self.chunk_width, self.chunk_height);
        let first_chunk_row = window.row_off / ch;
        let last_chunk_row = (window.row_off + window.height - 1) / ch;
        let (first_chunk_col, last_chunk_col) = match self.chunk_type {
            ChunkType::Strip => (0, 0),
            ChunkType::Tile => (window.col_off / cw, (window.col_off + window.width - 1) / cw),
        };
        for chunk_row in first_chunk_row..=last_chunk_row {
            for chunk_col in first_chunk_col..=last_chunk_col {
                let index = chunk_row * self.chunks_across + chunk_col;
                // The chunk's data, without the padding of edge tiles.
                let x0 = chunk_col * cw;
                let y0 = chunk_row * ch;
                let data_w = cw.min(grid.width - x0);
                let data_h = ch.min(grid.height - y0);
                let chunk = self.chunk(path, index, data_w * data_h)?;
                let copy = ChunkCopy {
                    data_w,
                    col_from: window.col_off.max(x0),
                    col_to: (window.col_off + window.width).min(x0 + data_w),
                    row_from: window.row_off.max(y0),
                    row_to: (window.row_off + window.height).min(y0 + data_h),
                    x0,
                    y0,
                    window,
                };
                if !copy.run(&chunk, out, |x| x) {
                    return Err(Error::grid(
                        path,
                        format!("strip/tile {index} decoded to an unexpected size"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// One strip/tile as `f64` cells, from the cache or decoded now.
    fn chunk(&self, path: &Path, index: usize, cells: usize) -> Result<Arc<Vec<f64>>> {
        let cached = match self.cache.lock() {
            Ok(cache) => cache.chunks.get(&index).cloned(),
            Err(poisoned) => poisoned.into_inner().chunks.get(&index).cloned(),
        };
        if let Some(chunk) = cached {
            return Ok(chunk);
        }
        let mut d = self.borrow_decoder(path)?;
        let decoded = d.read_chunk(index as u32).map_err(|e| {
            let what = match self.chunk_type {
                ChunkType::Strip => "strip",
                ChunkType::Tile => "tile",
            };
            let hint = if matches!(e, tiff::TiffError::IoError(_)) {
                format!(" (file of {} bytes is probably truncated)", self.file_len)
            } else {
                String::new()
            };
            Error::grid(path, format!("{what} {index}: {e}{hint}"))
        })?;
        // A decoder that failed mid-chunk may be in any state: only a successful one goes back to the pool.
        self.return_decoder(d);
        fn widen<T: Copy>(v: &[T], f: impl Fn(T) -> f64) -> Vec<f64> {
            v.iter().map(|&x| f(x)).collect()
        }
        let values = match decoded {
            DecodingResult::U8(v) => widen(&v, f64::from),
            DecodingResult::U16(v) => widen(&v, f64::from),
            DecodingResult::U32(v) => widen(&v, f64::from),
            DecodingResult::I8(v) => widen(&v, f64::from),
            DecodingResult::I16(v) => widen(&v, f64::from),
            DecodingResult::I32(v) => widen(&v, f64::from),
            DecodingResult::F32(v) => widen(&v, f64::from),
            DecodingResult::F64(v) => v,
            _ => Vec::new(),
        };
        if values.len() < cells {
            return Err(Error::grid(
                path,
                format!(
                    "strip/tile {index} decoded to {} cells, {cells} expected",
                    values.len()
                ),
            ));
        }
        let chunk = Arc::new(values);
        match self.cache.lock() {
            Ok(mut cache) => cache.insert(index, chunk.clone()),
            Err(poisoned) => poisoned.into_inner().insert(index, chunk.clone()),
        }
        Ok(chunk)
    }
}

/// Copies the part of one decoded chunk that lies in the window.
struct ChunkCopy {
    data_w: usize,
    col_from: usize,
    col_to: usize,
    row_from: usize,
    row_to: usize,
    x0: usize,
    y0: usize,
    window: Window,
}

impl ChunkCopy {
    fn run<T: Copy>(&self, chunk: &[T], out: &mut [f64], f: impl Fn(T) -> f64) -> bool {
        if self.col_from >= self.col_to {
            return true;
        }
        let n = self.col_to - self.col_from;
        for row in self.row_from..self.row_to {
            let src = (row - self.y0) * self.data_w + (self.col_from - self.x0);
            let dst = (row - self.window.row_off) * self.window.width + (self.col_from - self.window.col_off);
            let (Some(src), Some(dst)) = (chunk.get(src..src + n), out.get_mut(dst..dst + n)) else {
                return false;
            };
            for (o, &v) in dst.iter_mut().zip(src) {
                *o = f(v);
            }
        }
        true
    }
}
