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
//! Reading is bounded by the window, not by the file. The `tiff` crate loads the whole StripOffsets/TileOffsets
//! and byte-count arrays when it opens an image (two arrays of 15 million entries for a 10^12-cell grid in 256 x 256
//! tiles: seconds and hundreds of MB before the first cell). So the first IFD is parsed here, by hand, and the
//! offset arrays stay on disk: the entries of the chunks a window needs are read one by one. Each chunk is then
//! decoded by the crate from a *virtual* file: the real file with its header pointing at a synthetic IFD appended
//! past its end, describing an image of that one chunk (same compression, predictor and sample format; one offset,
//! one byte count). All of the crate's decompression and predictors are reused and nothing else is read. Decoded
//! strips/tiles are kept in a bounded cache (as GDAL's block cache does): neighbouring polygons share strips, and
//! without it a grid stored one row per strip would be decompressed once per polygon overlapping each row.

use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tiff::decoder::{ChunkType, Decoder, DecodingResult};
use tiff::tags::{CompressionMethod, SampleFormat, Tag};

use super::{is_geographic_crs, Block, Cells, GeoTransform, Grid, GridOptions, Window};
use crate::{Error, Result};

type TiffDecoder<'a> = Decoder<BufReader<VirtualTiff<'a>>>;

const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const STRIP_OFFSETS: u16 = 273;
const ROWS_PER_STRIP: u16 = 278;
const STRIP_BYTE_COUNTS: u16 = 279;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
/// The tags the crate needs to decode a chunk; the synthetic IFD of a chunk holds these only.
const DECODING_TAGS: [u16; 9] = [258, 259, 262, 277, 284, 317, 339, TILE_WIDTH, TILE_LENGTH];
/// IFD entries accepted at most (GDAL writes about 20).
const MAX_IFD_ENTRIES: u64 = 4096;

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

impl SampleType {
    /// Whether every sample of this type is exactly an `f32`, so that decoded chunks can stay single-precision.
    fn fits_f32(self) -> bool {
        matches!(
            self,
            SampleType::U8 | SampleType::U16 | SampleType::I8 | SampleType::I16 | SampleType::F32
        )
    }
}

/// An open GeoTIFF: its first IFD, where its offset arrays lie, and a cache of decoded chunks.
pub struct TiffSource {
    sample_type: SampleType,
    chunk_type: ChunkType,
    /// Width and height of a full strip or tile (strips are as wide as the image).
    chunk_width: usize,
    chunk_height: usize,
    chunks_across: usize,
    file: File,
    file_len: u64,
    ifd: Ifd,
    offsets: TagArray,
    byte_counts: TagArray,
    /// What a sparse chunk (offset and byte count 0, GDAL's `SPARSE_OK`) holds: nodata, or 0 without one.
    fill: f64,
    /// Bytes an uncompressed chunk must have.
    uncompressed_bytes: Option<u64>,
    cache: Mutex<ChunkCache>,
}

/// Cells a grid may have at most (2^40 ≈ 1.1·10^12): ten times a global 30 m grid. A header claiming more is
/// corrupt or hostile, and is refused before anything is sized from it.
pub const MAX_GRID_CELLS: u64 = 1 << 40;

/// Bytes one strip/tile may decode to at most: the `tiff` decoder's own buffer limit, checked when the file is
/// opened so that a bad layout is refused up front instead of at the first read.
const MAX_CHUNK_BYTES: u64 = 256 * 1024 * 1024;

/// Cells of decoded strips/tiles kept at most (128 MiB of f64, 64 MiB of f32).
const CACHE_CELLS: usize = 16 << 20;

/// Decoded cells in the narrowest type that holds the samples exactly (see [`Cells`]).
#[derive(Debug)]
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn len(&self) -> usize {
        self.cells().len()
    }

    fn cells(&self) -> Cells<'_> {
        match self {
            Values::F32(v) => Cells::F32(v),
            Values::F64(v) => Cells::F64(v),
        }
    }
}

/// One decoded strip/tile.
#[derive(Debug)]
pub(crate) struct Chunk {
    values: Values,
    /// Whether every cell is finite, found once when decoded, so that the blocks read from it need no check.
    finite: bool,
}

impl Chunk {
    fn new(values: Values) -> Chunk {
        // Counting (rather than `all`) lets the compiler vectorise the pass.
        let finite = match &values {
            Values::F32(v) => v.iter().filter(|v| !v.is_finite()).count() == 0,
            Values::F64(v) => v.iter().filter(|v| !v.is_finite()).count() == 0,
        };
        Chunk { values, finite }
    }
}

/// Cells of evicted chunks' buffers kept for the next decodes at most (1/8 of the cache).
const SPARE_CELLS: usize = CACHE_CELLS / 8;

/// Decoded strips/tiles, evicted oldest first once over `limit` cells ([`CACHE_CELLS`]).
struct ChunkCache {
    /// Cells kept at most, and cells of spare buffers kept at most.
    limit: usize,
    spare_limit: usize,
    chunks: HashMap<usize, Arc<Chunk>>,
    order: VecDeque<usize>,
    cells: usize,
    /// Buffers of evicted float32 chunks that no block was still reading, for the next decodes. A run over many
    /// polygons decodes every tile once and evicts it later: without reuse each decode is a fresh allocation of a
    /// tile's size, whose pages the kernel faults in and zeroes, and whose frees grow and shrink malloc's heaps.
    spare: Vec<Vec<f32>>,
    spare_cells: usize,
    /// Decodes that reused a spare buffer.
    recycled: usize,
}

impl Default for ChunkCache {
    fn default() -> Self {
        ChunkCache {
            limit: CACHE_CELLS,
            spare_limit: SPARE_CELLS,
            chunks: HashMap::new(),
            order: VecDeque::new(),
            cells: 0,
            spare: Vec::new(),
            spare_cells: 0,
            recycled: 0,
        }
    }
}

impl ChunkCache {
    /// Caches `chunk`; returns the evicted chunks that could not be recycled, for the caller to free once it has
    /// released the lock (freeing a tile's buffer can return pages to the kernel: slow, and no reason to block
    /// the other threads' lookups).
    #[must_use]
    fn insert(&mut self, index: usize, chunk: Arc<Chunk>) -> Vec<Chunk> {
        let mut evicted = Vec::new();
        if self.chunks.contains_key(&index) {
            return evicted;
        }
        self.cells += chunk.values.len();
        self.chunks.insert(index, chunk);
        self.order.push_back(index);
        while self.cells > self.limit {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            let Some(c) = self.chunks.remove(&old) else {
                continue;
            };
            self.cells -= c.values.len();
            match Arc::try_unwrap(c) {
                Ok(Chunk {
                    values: Values::F32(v),
                    ..
                }) if self.spare_cells + v.len() <= self.spare_limit => {
                    self.spare_cells += v.len();
                    self.spare.push(v);
                }
                Ok(c) => evicted.push(c),
                // Still read by a block elsewhere: the last reader frees it.
                Err(_) => {}
            }
        }
        evicted
    }

    /// A recycled float32 buffer (any length), if one is spare.
    fn take_spare(&mut self) -> Option<Vec<f32>> {
        let v = self.spare.pop()?;
        self.spare_cells -= v.len();
        self.recycled += 1;
        Some(v)
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
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let ifd = Ifd::read(&file, path, file_len)?;

    let (Some(width), Some(height)) = (
        ifd.unsigned(path, IMAGE_WIDTH)?,
        ifd.unsigned(path, IMAGE_LENGTH)?,
    ) else {
        return Err(Error::grid(path, "no image size (ImageWidth, ImageLength)"));
    };
    let (width, height) = (
        u32::try_from(width).unwrap_or(0),
        u32::try_from(height).unwrap_or(0),
    );
    if width == 0 || height == 0 {
        return Err(Error::grid(path, "image of zero (or unreadable) size"));
    }
    let samples = ifd.unsigned(path, Tag::SamplesPerPixel.to_u16())?.unwrap_or(1);
    if samples != 1 {
        return Err(Error::grid(
            path,
            format!("{samples} bands (samples per pixel); a population grid must have exactly 1"),
        ));
    }
    let compression = ifd.unsigned(path, Tag::Compression.to_u16())?.unwrap_or(1);
    match u16::try_from(compression)
        .ok()
        .and_then(CompressionMethod::from_u16)
    {
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
    let bits = ifd.unsigned(path, Tag::BitsPerSample.to_u16())?.unwrap_or(1);
    let format = ifd.unsigned(path, Tag::SampleFormat.to_u16())?.unwrap_or(1);
    let sample_type = match (u16::try_from(format).ok().and_then(SampleFormat::from_u16), bits) {
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

    let tiled = ifd.find(TILE_OFFSETS).is_some();
    let chunk_type = if tiled { ChunkType::Tile } else { ChunkType::Strip };
    let (cw, ch) = if tiled {
        let tw = ifd.unsigned(path, TILE_WIDTH)?.unwrap_or(0);
        let th = ifd.unsigned(path, TILE_LENGTH)?.unwrap_or(0);
        if tw == 0 || th == 0 || tw > u64::from(u32::MAX) || th > u64::from(u32::MAX) {
            return Err(Error::grid(path, "tiled TIFF without a usable tile size"));
        }
        (tw as u32, th as u32)
    } else {
        let rows = ifd.unsigned(path, ROWS_PER_STRIP)?.unwrap_or(u64::from(height));
        (width, rows.clamp(1, u64::from(height)) as u32)
    };
    let cells = u64::from(width) * u64::from(height);
    if cells > MAX_GRID_CELLS {
        return Err(Error::grid(
            path,
            format!("image of {width} x {height} cells is larger than any population grid (at most 2^40 cells): a corrupt header"),
        ));
    }
    let chunk_bytes = u64::from(cw) * u64::from(ch) * (bits / 8);
    if chunk_bytes > MAX_CHUNK_BYTES {
        return Err(Error::grid(
            path,
            format!("strips/tiles of {cw} x {ch} cells ({chunk_bytes} bytes each) exceed the 256 MiB a strip/tile may decode to"),
        ));
    }
    let chunks_across = (width as usize).div_ceil(cw as usize);
    let chunks_down = (height as usize).div_ceil(ch as usize);
    let (offsets_tag, counts_tag) = if tiled {
        (TILE_OFFSETS, TILE_BYTE_COUNTS)
    } else {
        (STRIP_OFFSETS, STRIP_BYTE_COUNTS)
    };
    let (Some(offsets), Some(byte_counts)) = (
        ifd.array(path, offsets_tag, file_len)?,
        ifd.array(path, counts_tag, file_len)?,
    ) else {
        return Err(Error::grid(path, "no strip or tile offsets and byte counts"));
    };
    let needed = (chunks_across * chunks_down) as u64;
    if offsets.count < needed || byte_counts.count < needed {
        return Err(Error::grid(
            path,
            format!(
                "{} strips/tiles listed ({} byte counts), {needed} needed",
                offsets.count, byte_counts.count
            ),
        ));
    }

    let mut source = TiffSource {
        sample_type,
        chunk_type,
        chunk_width: cw as usize,
        chunk_height: ch as usize,
        chunks_across,
        file,
        file_len,
        ifd,
        offsets,
        byte_counts,
        fill: 0.0,
        uncompressed_bytes: (compression == 1).then_some(chunk_bytes),
        cache: Mutex::new(ChunkCache::default()),
    };
    // The georeferencing tags are read through the crate from the virtual file of the first chunk, with every tag
    // of the real IFD kept: their values stay where they are in the file.
    let (location, chunk_w, chunk_h) = source.chunk_location(path, 0, height as usize)?;
    let all_tags = source.ifd.entries.iter().map(|e| e.tag).collect::<Vec<_>>();
    let virtual_file = source.virtual_file(path, &all_tags, location, chunk_w, chunk_h)?;
    let mut d =
        Decoder::new(BufReader::new(virtual_file)).map_err(|e| tiff_err(path, "not a readable TIFF", e))?;
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

    drop(d);
    source.fill = nodata.unwrap_or(0.0);
    let grid = Grid {
        width: width as usize,
        height: height as usize,
        transform,
        nodata,
        crs,
        geographic,
    };
    Ok((grid, source))
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
    /// Where chunk `index` lies (byte offset, byte count) and the size it decodes to: a full tile, or a strip as
    /// wide as the image and as tall as the rows left (`height` is the image's).
    fn chunk_location(&self, path: &Path, index: usize, height: usize) -> Result<((u64, u64), usize, usize)> {
        let offset = self.offsets.get(&self.file, path, &self.ifd, index as u64)?;
        let bytes = self.byte_counts.get(&self.file, path, &self.ifd, index as u64)?;
        let what = match self.chunk_type {
            ChunkType::Strip => "strip",
            ChunkType::Tile => "tile",
        };
        if offset.checked_add(bytes).is_none_or(|end| end > self.file_len) {
            return Err(Error::grid(
                path,
                format!(
                    "truncated file: {what} {index} lies at bytes {offset}..{} but the file has {} bytes",
                    offset.saturating_add(bytes),
                    self.file_len
                ),
            ));
        }
        let (w, h) = match self.chunk_type {
            ChunkType::Tile => (self.chunk_width, self.chunk_height),
            ChunkType::Strip => {
                let y0 = (index / self.chunks_across) * self.chunk_height;
                (self.chunk_width, self.chunk_height.min(height.saturating_sub(y0)))
            }
        };
        Ok(((offset, bytes), w, h))
    }

    /// The file seen through a synthetic first IFD that describes one chunk as a whole image, with the real IFD's
    /// entries for `tags` (besides size and chunk location) copied as they are.
    fn virtual_file(
        &self,
        path: &Path,
        tags: &[u16],
        location: (u64, u64),
        w: usize,
        h: usize,
    ) -> Result<VirtualTiff<'_>> {
        let (offsets_tag, counts_tag) = match self.chunk_type {
            ChunkType::Strip => (STRIP_OFFSETS, STRIP_BYTE_COUNTS),
            ChunkType::Tile => (TILE_OFFSETS, TILE_BYTE_COUNTS),
        };
        let ifd = &self.ifd;
        let mut entries: Vec<Entry> = ifd
            .entries
            .iter()
            .filter(|e| tags.contains(&e.tag))
            .filter(|e| {
                ![IMAGE_WIDTH, IMAGE_LENGTH, ROWS_PER_STRIP, offsets_tag, counts_tag].contains(&e.tag)
            })
            .copied()
            .collect();
        entries.push(ifd.long(IMAGE_WIDTH, w as u64));
        entries.push(ifd.long(IMAGE_LENGTH, h as u64));
        if self.chunk_type == ChunkType::Strip {
            entries.push(ifd.long(ROWS_PER_STRIP, h as u64));
        }
        entries.push(ifd.offset(offsets_tag, location.0));
        entries.push(ifd.offset(counts_tag, location.1));
        entries.sort_by_key(|e| e.tag);
        // The IFD goes just past the end of the file, on a word boundary.
        let at = self.file_len + (self.file_len & 1);
        let (header, directory) = ifd.synthetic(at, &entries);
        if !ifd.bigtiff && at + directory.len() as u64 > u64::from(u32::MAX) {
            return Err(Error::grid(path, "classic (not BigTIFF) file larger than 4 GiB"));
        }
        Ok(VirtualTiff {
            file: &self.file,
            file_len: self.file_len,
            header,
            directory_at: at,
            directory,
            position: 0,
        })
    }

    /// Width and height of a full strip or tile.
    pub(crate) fn chunk_shape(&self) -> (usize, usize) {
        (self.chunk_width, self.chunk_height)
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
        self.visit_window(path, grid, window, |block, _| {
            for r in 0..block.window.height {
                let dst = (block.window.row_off - window.row_off + r) * window.width
                    + (block.window.col_off - window.col_off);
                let Some(dst) = out.get_mut(dst..dst + block.window.width) else {
                    return Err(Error::grid(path, "window buffer too small"));
                };
                block.row(r).copy_to(dst);
            }
            Ok(())
        })
    }

    /// Hands `f` the part of each strip/tile that `window` touches, in row-major chunk order, read in place from
    /// the decoded chunk (no copy into a window buffer). Only the chunks not cached yet are decoded.
    pub(crate) fn visit_window(
        &self,
        path: &Path,
        grid: &Grid,
        window: Window,
        mut f: impl FnMut(Block<'_>, bool) -> Result<()>,
    ) -> Result<()> {
        let (cw, ch) = (self.chunk_width, self.chunk_height);
        let first_chunk_row = window.row_off / ch;
        let last_chunk_row = (window.row_off + window.height - 1) / ch;
        let (first_chunk_col, last_chunk_col) = match self.chunk_type {
            ChunkType::Strip => (0, 0),
            ChunkType::Tile => (window.col_off / cw, (window.col_off + window.width - 1) / cw),
        };
        let touched: Vec<(usize, usize)> = (first_chunk_row..=last_chunk_row)
            .flat_map(|r| (first_chunk_col..=last_chunk_col).map(move |c| (r, c)))
            .collect();
        // Decoding (LZW/Deflate) is most of a read's time: the chunks a window needs are decoded on every core, in
        // batches of at most a cache's worth so that a window over a whole grid never holds more decoded cells than
        // the cache, then handed out in order. Each chunk decodes the same whatever thread takes it.
        let chunk_cells = (cw * ch).max(1);
        let batch = (self.lock_cache().limit / 2 / chunk_cells).max(1);
        let mut found: Vec<Option<Arc<Chunk>>> = Vec::new();
        for group in touched.chunks(batch) {
            // The cache is asked first, under one lock, so that only the chunks still missing go to the pool: a
            // small window whose chunks are all cached (most of them, with many small polygons) spawns no parallel
            // job, which would only wake the other threads and hand them work too small to pay for the stealing.
            found.clear();
            {
                let cache = self.lock_cache();
                found.extend(
                    group
                        .iter()
                        .map(|&(r, c)| cache.chunks.get(&(r * self.chunks_across + c)).cloned()),
                );
            }
            let missing = found.iter().filter(|c| c.is_none()).count();
            let decode = |(&(r, c), cached): (&(usize, usize), &Option<Arc<Chunk>>)| match cached {
                Some(chunk) => Ok(chunk.clone()),
                None => self.chunk(path, r * self.chunks_across + c, grid.height),
            };
            // Results in chunk order, so a file with several bad chunks always names the first.
            let decoded: Vec<Arc<Chunk>> = if missing < 2 {
                group.iter().zip(&found).map(decode).collect::<Result<_>>()?
            } else {
                let decoded: Vec<Result<Arc<Chunk>>> =
                    group.par_iter().zip(found.par_iter()).map(decode).collect();
                decoded.into_iter().collect::<Result<Vec<_>>>()?
            };
            for (&(chunk_row, chunk_col), chunk) in group.iter().zip(decoded) {
                let index = chunk_row * self.chunks_across + chunk_col;
                // The chunk's data, without the padding of edge tiles; decoded rows are `cw` cells long.
                let x0 = chunk_col * cw;
                let y0 = chunk_row * ch;
                let col_from = window.col_off.max(x0);
                let col_to = (window.col_off + window.width).min(x0 + cw.min(grid.width - x0));
                let row_from = window.row_off.max(y0);
                let row_to = (window.row_off + window.height).min(y0 + ch.min(grid.height - y0));
                if col_from >= col_to || row_from >= row_to {
                    continue;
                }
                let start = (row_from - y0) * cw + (col_from - x0);
                let end = (row_to - 1 - y0) * cw + (col_to - x0);
                if end > chunk.values.len() {
                    return Err(Error::grid(
                        path,
                        format!("strip/tile {index} decoded to an unexpected size"),
                    ));
                }
                let data = chunk.values.cells().slice(start..end);
                f(
                    Block {
                        window: Window {
                            col_off: col_from,
                            row_off: row_from,
                            width: col_to - col_from,
                            height: row_to - row_from,
                        },
                        data,
                        stride: cw,
                    },
                    chunk.finite,
                )?;
            }
        }
        Ok(())
    }

    /// One strip/tile, from the cache or decoded now.
    fn chunk(&self, path: &Path, index: usize, height: usize) -> Result<Arc<Chunk>> {
        let cached = self.lock_cache().chunks.get(&index).cloned();
        if let Some(chunk) = cached {
            return Ok(chunk);
        }
        let (location, w, h) = self.chunk_location(path, index, height)?;
        let cells = w * h;
        let what = match self.chunk_type {
            ChunkType::Strip => "strip",
            ChunkType::Tile => "tile",
        };
        if location == (0, 0) {
            let fill = if self.sample_type.fits_f32() {
                // The nodata value was rounded to the sample type when the grid was opened: exact in f32.
                Values::F32(vec![self.fill as f32; cells])
            } else {
                Values::F64(vec![self.fill; cells])
            };
            return Ok(self.cached(index, fill));
        }
        // The crate reads an uncompressed chunk's full size whatever its byte count says.
        let full = self
            .uncompressed_bytes
            .map(|b| b / self.chunk_height as u64 * h as u64);
        if full.is_some_and(|full| location.1 < full) {
            return Err(Error::grid(
                path,
                format!(
                    "{what} {index} has {} bytes, {} needed for {w} x {h} uncompressed cells",
                    location.1,
                    full.unwrap_or(0)
                ),
            ));
        }
        let chunk_error = |e: tiff::TiffError| {
            let hint = if matches!(e, tiff::TiffError::IoError(_)) {
                format!(" (file of {} bytes is probably truncated)", self.file_len)
            } else {
                String::new()
            };
            Error::grid(path, format!("{what} {index}: {e}{hint}"))
        };
        let virtual_file = self.virtual_file(path, &DECODING_TAGS, location, w, h)?;
        if self.sample_type == SampleType::F32 {
            // Straight into a recycled buffer: no allocation, no page faults, no conversion pass.
            let mut values = self.lock_cache().take_spare().unwrap_or_default();
            values.clear();
            values.resize(cells, 0.0);
            Decoder::new(BufReader::new(virtual_file))
                .and_then(|mut d| d.read_chunk_bytes(0, bytemuck::cast_slice_mut(&mut values)))
                .map_err(chunk_error)?;
            return Ok(self.cached(index, Values::F32(values)));
        }
        let decoded = Decoder::new(BufReader::new(virtual_file))
            .and_then(|mut d| d.read_chunk(0))
            .map_err(chunk_error)?;
        fn widen<T: Copy, U>(v: &[T], f: impl Fn(T) -> U) -> Vec<U> {
            v.iter().map(|&x| f(x)).collect()
        }
        let values = match decoded {
            DecodingResult::U8(v) => Values::F32(widen(&v, f32::from)),
            DecodingResult::U16(v) => Values::F32(widen(&v, f32::from)),
            DecodingResult::I8(v) => Values::F32(widen(&v, f32::from)),
            DecodingResult::I16(v) => Values::F32(widen(&v, f32::from)),
            DecodingResult::F32(v) => Values::F32(v),
            DecodingResult::U32(v) => Values::F64(widen(&v, f64::from)),
            DecodingResult::I32(v) => Values::F64(widen(&v, f64::from)),
            DecodingResult::F64(v) => Values::F64(v),
            _ => Values::F64(Vec::new()),
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
        Ok(self.cached(index, values))
    }

    fn cached(&self, index: usize, values: Values) -> Arc<Chunk> {
        let chunk = Arc::new(Chunk::new(values));
        let evicted = self.lock_cache().insert(index, chunk.clone());
        drop(evicted);
        chunk
    }

    /// The cache, also after a thread panicked holding it (its state is consistent between statements).
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ChunkCache> {
        match self.cache.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Reads up to `buf.len()` bytes at `offset` without moving any file position, so threads share one handle.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

fn read_exact_at(file: &File, path: &Path, mut buf: &mut [u8], mut offset: u64) -> Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, offset) {
            Ok(0) => {
                return Err(Error::grid(
                    path,
                    format!("truncated file: nothing at byte {offset}"),
                ))
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "read", e)),
        }
    }
    Ok(())
}

/// One IFD entry as stored: the value field holds the value itself when it fits (4 bytes in classic TIFF, 8 in
/// BigTIFF), else its offset.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    field: [u8; 8],
}

/// The first IFD of a TIFF, parsed without reading any tag's values.
#[derive(Debug)]
struct Ifd {
    big_endian: bool,
    bigtiff: bool,
    entries: Vec<Entry>,
}

/// Bytes of one value of an IFD field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ..., LONG8).
fn type_size(kind: u16) -> Option<u64> {
    match kind {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

impl Ifd {
    fn read(file: &File, path: &Path, file_len: u64) -> Result<Ifd> {
        let mut header = [0u8; 16];
        let n = file_len.min(16) as usize;
        read_exact_at(file, path, &mut header[..n], 0)?;
        let big_endian = header[0] == b'M';
        let mut ifd = Ifd {
            big_endian,
            bigtiff: header[2..4] == [0, 43] || header[2..4] == [43, 0],
            entries: Vec::new(),
        };
        let first = if ifd.bigtiff {
            ifd.u64(&header[8..16])
        } else {
            u64::from(ifd.u32(&header[4..8]))
        };
        let (count_len, entry_len) = if ifd.bigtiff { (8u64, 20u64) } else { (2, 12) };
        let truncated = || {
            Error::grid(path, format!("truncated file: the image directory at byte {first} lies past its end ({file_len} bytes)"))
        };
        if first.checked_add(count_len).is_none_or(|end| end > file_len) {
            return Err(truncated());
        }
        let mut count_bytes = [0u8; 8];
        read_exact_at(file, path, &mut count_bytes[..count_len as usize], first)?;
        let count = if ifd.bigtiff {
            ifd.u64(&count_bytes)
        } else {
            u64::from(ifd.u16(&count_bytes))
        };
        if count == 0 || count > MAX_IFD_ENTRIES {
            return Err(Error::grid(
                path,
                format!("image directory of {count} entries: not a TIFF image"),
            ));
        }
        let start = first + count_len;
        if start + count * entry_len > file_len {
            return Err(truncated());
        }
        let mut raw = vec![0u8; (count * entry_len) as usize];
        read_exact_at(file, path, &mut raw, start)?;
        for e in raw.chunks_exact(entry_len as usize) {
            let mut field = [0u8; 8];
            let (count, value) = if ifd.bigtiff {
                (ifd.u64(&e[4..12]), &e[12..20])
            } else {
                (u64::from(ifd.u32(&e[4..8])), &e[8..12])
            };
            field[..value.len()].copy_from_slice(value);
            ifd.entries.push(Entry {
                tag: ifd.u16(&e[0..2]),
                kind: ifd.u16(&e[2..4]),
                count,
                field,
            });
        }
        Ok(ifd)
    }

    fn u16(&self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u64(&self, b: &[u8]) -> u64 {
        let b = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }

    fn find(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// Value `i` of an unsigned integer array of `size`-byte values starting at `b`.
    fn unsigned_at(&self, b: &[u8], size: u64) -> u64 {
        match size {
            1 => u64::from(b[0]),
            2 => u64::from(self.u16(b)),
            4 => u64::from(self.u32(b)),
            _ => self.u64(b),
        }
    }

    /// The first value of an unsigned tag (BYTE, SHORT, LONG or LONG8) whose values are stored in the entry.
    fn unsigned(&self, path: &Path, tag: u16) -> Result<Option<u64>> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        let field_len = if self.bigtiff { 8 } else { 4 };
        match (e.kind, type_size(e.kind)) {
            (1 | 3 | 4 | 16, Some(size)) if e.count >= 1 && e.count.saturating_mul(size) <= field_len => {
                Ok(Some(self.unsigned_at(&e.field, size)))
            }
            _ => Err(Error::grid(
                path,
                format!(
                    "tag {tag}: {} values of type {}, one unsigned integer expected",
                    e.count, e.kind
                ),
            )),
        }
    }

    /// Where an unsigned array tag's values lie, checked to lie inside the file but not read.
    fn array(&self, path: &Path, tag: u16, file_len: u64) -> Result<Option<TagArray>> {
        let Some(e) = self.find(tag) else {
            return Ok(None);
        };
        let size = match e.kind {
            3 => 2,
            4 => 4,
            16 => 8,
            other => {
                return Err(Error::grid(
                    path,
                    format!("tag {tag}: values of type {other}, unsigned integers expected"),
                ))
            }
        };
        let field_len = if self.bigtiff { 8 } else { 4 };
        let bytes = e.count.saturating_mul(size);
        if bytes <= field_len {
            return Ok(Some(TagArray {
                count: e.count,
                size,
                inline: Some(e.field),
                offset: 0,
            }));
        }
        let offset = if self.bigtiff {
            self.u64(&e.field)
        } else {
            u64::from(self.u32(&e.field))
        };
        if offset.checked_add(bytes).is_none_or(|end| end > file_len) {
            return Err(Error::grid(
                path,
                format!("truncated file: tag {tag} lists {} values at byte {offset} but the file has {file_len} bytes", e.count),
            ));
        }
        Ok(Some(TagArray {
            count: e.count,
            size,
            inline: None,
            offset,
        }))
    }

    fn put(&self, out: &mut Vec<u8>, value: u64, size: usize) {
        let bytes = if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        if self.big_endian {
            out.extend_from_slice(&bytes[8 - size..]);
        } else {
            out.extend_from_slice(&bytes[..size]);
        }
    }

    /// An entry of one LONG.
    fn long(&self, tag: u16, value: u64) -> Entry {
        let mut b = Vec::new();
        self.put(&mut b, value, 4);
        let mut field = [0u8; 8];
        field[..4].copy_from_slice(&b);
        Entry {
            tag,
            kind: 4,
            count: 1,
            field,
        }
    }

    /// An entry of one file offset or byte count: LONG in classic TIFF, LONG8 in BigTIFF.
    fn offset(&self, tag: u16, value: u64) -> Entry {
        if !self.bigtiff {
            return self.long(tag, value);
        }
        let mut b = Vec::new();
        self.put(&mut b, value, 8);
        let mut field = [0u8; 8];
        field.copy_from_slice(&b);
        Entry {
            tag,
            kind: 16,
            count: 1,
            field,
        }
    }

    /// A header pointing at a directory at byte `at`, and that directory holding `entries`.
    fn synthetic(&self, at: u64, entries: &[Entry]) -> (Vec<u8>, Vec<u8>) {
        let mut header = if self.big_endian {
            b"MM".to_vec()
        } else {
            b"II".to_vec()
        };
        let mut dir = Vec::new();
        if self.bigtiff {
            self.put(&mut header, 43, 2);
            self.put(&mut header, 8, 2);
            self.put(&mut header, 0, 2);
            self.put(&mut header, at, 8);
            self.put(&mut dir, entries.len() as u64, 8);
        } else {
            self.put(&mut header, 42, 2);
            self.put(&mut header, at, 4);
            self.put(&mut dir, entries.len() as u64, 2);
        }
        for e in entries {
            self.put(&mut dir, u64::from(e.tag), 2);
            self.put(&mut dir, u64::from(e.kind), 2);
            if self.bigtiff {
                self.put(&mut dir, e.count, 8);
                dir.extend_from_slice(&e.field);
            } else {
                self.put(&mut dir, e.count, 4);
                dir.extend_from_slice(&e.field[..4]);
            }
        }
        dir.extend(std::iter::repeat_n(0, if self.bigtiff { 8 } else { 4 }));
        (header, dir)
    }
}

/// An array tag's values, left in the file: StripOffsets/TileOffsets and their byte counts.
#[derive(Debug)]
struct TagArray {
    count: u64,
    size: u64,
    inline: Option<[u8; 8]>,
    offset: u64,
}

impl TagArray {
    /// Value `i`, read from the file (or the entry) alone.
    fn get(&self, file: &File, path: &Path, ifd: &Ifd, i: u64) -> Result<u64> {
        if i >= self.count {
            return Err(Error::grid(
                path,
                format!("strip/tile {i} is not listed ({} are)", self.count),
            ));
        }
        let mut b = [0u8; 8];
        let size = self.size as usize;
        match &self.inline {
            Some(field) => b[..size].copy_from_slice(&field[i as usize * size..][..size]),
            None => read_exact_at(file, path, &mut b[..size], self.offset + i * self.size)?,
        }
        Ok(ifd.unsigned_at(&b, self.size))
    }
}

/// A TIFF file seen with its header replaced, and a synthetic directory appended at `directory_at`.
struct VirtualTiff<'a> {
    file: &'a File,
    file_len: u64,
    header: Vec<u8>,
    directory_at: u64,
    directory: Vec<u8>,
    position: u64,
}

impl Read for VirtualTiff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = self.position;
        let from_memory = |bytes: &[u8], start: u64, buf: &mut [u8]| {
            let rest = &bytes[(p - start) as usize..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            n
        };
        let n = if p < self.header.len() as u64 {
            from_memory(&self.header, 0, buf)
        } else if p < self.file_len {
            let n = buf.len().min((self.file_len - p) as usize);
            read_at(self.file, &mut buf[..n], p)?
        } else if p < self.directory_at {
            let n = buf.len().min((self.directory_at - p) as usize);
            buf[..n].fill(0);
            n
        } else if p < self.directory_at + self.directory.len() as u64 {
            from_memory(&self.directory, self.directory_at, buf)
        } else {
            0
        };
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for VirtualTiff<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let end = self.directory_at + self.directory.len() as u64;
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => end.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.position = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn float32_tiles_stay_f32_and_recycled_buffers_read_back_exactly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cases/grids");
        for name in [
            "f32_strip1_lzw_pred3.tif",
            "f32_strip_none.tif",
            "f32_tile256_lzw_nodata.tif",
            "u16_tile16_packbits.tif",
            "i8_tile16_none.tif",
            "i32_strip_deflate_nodata.tif",
            "f64_tile16_packbits_nodata.tif",
        ] {
            let path = dir.join(name);
            let (grid, fresh) = open(&path, &GridOptions::default()).unwrap();
            let (_, small) = open(&path, &GridOptions::default()).unwrap();
            {
                // Room for two chunks: reading row after row evicts all the time.
                let mut cache = small.lock_cache();
                let (w, h) = small.chunk_shape();
                cache.limit = 2 * w * h;
                cache.spare_limit = cache.limit;
            }
            let whole = grid.full_window();
            let mut want = vec![f64::NAN; whole.len()];
            fresh.read_window(&path, &grid, whole, &mut want).unwrap();
            for _ in 0..2 {
                for r in 0..grid.height {
                    let window = Window {
                        col_off: 0,
                        row_off: r,
                        width: grid.width,
                        height: 1,
                    };
                    small
                        .visit_window(&path, &grid, window, |block, _| {
                            let stored_f32 = matches!(block.data, Cells::F32(_));
                            assert_eq!(stored_f32, small.sample_type.fits_f32(), "{name}");
                            let row = block.row(0);
                            for c in 0..block.window.width {
                                let at = r * grid.width + block.window.col_off + c;
                                assert_eq!(row.get(c).to_bits(), want[at].to_bits(), "{name} row {r}");
                            }
                            Ok(())
                        })
                        .unwrap();
                }
            }
            if name == "f32_strip1_lzw_pred3.tif" {
                // 30 one-row strips read twice through a cache of two: nearly every decode reuses a buffer.
                assert!(
                    small.lock_cache().recycled >= 50,
                    "{name}: {}",
                    small.lock_cache().recycled
                );
            }
        }
    }

    /// A classic little-endian TIFF header and IFD, entries given as (tag, type, count, value bytes); values over 4
    /// bytes are placed after the directory.
    fn tiff_directory(entries: &[(u16, u16, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"II*\0".to_vec();
        out.extend_from_slice(&8u32.to_le_bytes());
        let dir_len = 2 + 12 * entries.len() + 4;
        let mut extra = Vec::new();
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if value.len() <= 4 {
                let mut field = value.clone();
                field.resize(4, 0);
                out.extend_from_slice(&field);
            } else {
                let at = (8 + dir_len + extra.len()) as u32;
                out.extend_from_slice(&at.to_le_bytes());
                extra.extend_from_slice(value);
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&extra);
        out
    }

    fn doubles(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// The 10^12-cell GeoTIFF: 10^6 x 10^6 bytes in 64 x 64 tiles, whose two offset arrays (244 million
    /// entries, 977 MB each) are a sparse hole except for the nine tiles under the window. Reading a 100 x 100
    /// window must touch only those entries: loading the arrays whole (as the `tiff` crate does on open) needed
    /// gigabytes and tens of seconds.
    #[test]
    fn tiny_window_of_a_10e12_cell_geotiff_reads_only_its_tiles() {
        let (size, tile) = (1_000_000u32, 64u32);
        let across = size.div_ceil(tile) as u64;
        let tiles = across * across;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("huge.tif");
        let offsets_at = 4096u64;
        let counts_at = offsets_at + 4 * tiles;
        let data_at = counts_at + 4 * tiles;
        let short = |v: u16| v.to_le_bytes().to_vec();
        let long = |v: u32| v.to_le_bytes().to_vec();
        let header = tiff_directory(&[
            (256, 4, 1, long(size)),
            (257, 4, 1, long(size)),
            (258, 3, 1, short(8)),
            (259, 3, 1, short(1)),
            (262, 3, 1, short(1)),
            (277, 3, 1, short(1)),
            (322, 3, 1, short(tile as u16)),
            (323, 3, 1, short(tile as u16)),
            (324, 4, tiles as u32, long(offsets_at as u32)),
            (325, 4, tiles as u32, long(counts_at as u32)),
            (339, 3, 1, short(1)),
            (MODEL_PIXEL_SCALE, 12, 3, doubles(&[100.0, 100.0, 0.0])),
            (MODEL_TIEPOINT, 12, 6, doubles(&[0.0, 0.0, 0.0, 0.0, 1e8, 0.0])),
        ]);
        assert!(header.len() < offsets_at as usize);
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&header).unwrap();
        let window = Window {
            col_off: 500_000,
            row_off: 500_000,
            width: 100,
            height: 100,
        };
        let value = |x: u64, y: u64| ((x + 3 * y) % 251) as u8;
        let mut data_end = data_at;
        for ty in 500_000 / 64..=500_099 / 64u64 {
            for tx in 500_000 / 64..=500_099 / 64u64 {
                let index = ty * across + tx;
                let cells: Vec<u8> = (0..64u64)
                    .flat_map(|r| (0..64u64).map(move |c| value(tx * 64 + c, ty * 64 + r)))
                    .collect();
                file.seek(SeekFrom::Start(offsets_at + 4 * index)).unwrap();
                file.write_all(&(data_end as u32).to_le_bytes()).unwrap();
                file.seek(SeekFrom::Start(counts_at + 4 * index)).unwrap();
                file.write_all(&(cells.len() as u32).to_le_bytes()).unwrap();
                file.seek(SeekFrom::Start(data_end)).unwrap();
                file.write_all(&cells).unwrap();
                data_end += cells.len() as u64;
            }
        }
        drop(file);
        let started = std::time::Instant::now();
        let options = GridOptions {
            grid_crs: Some("EPSG:32651".into()),
        };
        let reader = crate::raster::GridReader::open(&path, &options).unwrap();
        assert_eq!(
            (reader.grid().width, reader.grid().height),
            (1_000_000, 1_000_000)
        );
        let cells = reader.read_window(window).unwrap();
        let want: Vec<f64> = (0..100u64)
            .flat_map(|r| (0..100u64).map(move |c| f64::from(value(500_000 + c, 500_000 + r))))
            .collect();
        assert_eq!(cells, want);
        // Loose: the point is seconds of array loading (or the crate's value-size limit), not milliseconds.
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
        // A tile whose entry is in the hole (offset and byte count 0) is sparse, as GDAL writes with SPARSE_OK: 0.
        let far = Window {
            col_off: 0,
            row_off: 0,
            width: 1,
            height: 1,
        };
        assert_eq!(reader.read_window(far).unwrap(), vec![0.0]);
    }

    #[test]
    fn offset_array_past_the_end_of_the_file_is_refused_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("short.tif");
        let short = |v: u16| v.to_le_bytes().to_vec();
        let long = |v: u32| v.to_le_bytes().to_vec();
        std::fs::write(
            &path,
            tiff_directory(&[
                (256, 4, 1, long(1_000_000)),
                (257, 4, 1, long(1_000_000)),
                (258, 3, 1, short(8)),
                (322, 3, 1, short(256)),
                (323, 3, 1, short(256)),
                (324, 4, 15_264_649, long(4096)),
                (325, 4, 15_264_649, long(4096)),
            ]),
        )
        .unwrap();
        let e = open(&path, &GridOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("short.tif") && e.contains("truncated file: tag 324"),
            "{e}"
        );
    }
}
