//! ESRI Shapefile: `.shp` + `.shx` + `.dbf`, CRS from `.prj` WKT, DBF text in the encoding `.cpg` names.
//!
//! Chinese planning data is often GBK-encoded; without a `.cpg`, text is read as UTF-8 and, where that fails, as GBK
//! (with a warning). Output is written in the features' CRS with a `.prj` and a `UTF-8` `.cpg`, every part to a
//! temporary file first and renamed into place together. The DBF's limits are never met silently: where a field name
//! is shortened (10 bytes) or a text is longer than a DBF field holds (254 bytes), a key `<name>_fields.txt` beside
//! the `.shp` lists every shortened name with its full one, and long texts go whole to `<name>_long_text.csv`, keyed
//! by feature and by the layer's first attribute (`unit_id` for units), the DBF keeping them cut and ending in `…`.

use super::{atomic, CrsSource, Feature, Layer, OutFeature, ReadOptions};
use crate::crs::Crs;
use crate::{Error, Result};
use dbase::{FieldName, FieldValue, TableWriterBuilder};
use geo::Geometry;
use serde_json::{Map, Number, Value};
use shapefile::{Shape, ShapeReader, ShapeWriter};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

/// A sibling file with another extension (`.dbf`, `.prj`, …), matching the case of the `.shp`'s extension.
fn sibling(path: &Path, ext: &str) -> PathBuf {
    let upper = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.chars().all(|c| c.is_ascii_uppercase()));
    let candidate = path.with_extension(if upper {
        ext.to_ascii_uppercase()
    } else {
        ext.to_string()
    });
    if candidate.exists() {
        candidate
    } else {
        path.with_extension(ext)
    }
}

/// The encoding named by a `.cpg` label (`UTF-8`, `GBK`, `936`, `CP936`, `GB18030`…).
fn encoding_for(label: &str) -> Option<&'static encoding_rs::Encoding> {
    let l = label.trim().to_ascii_lowercase();
    let l = match l.as_str() {
        "936" | "cp936" | "ansi 936" | "ms936" => "gbk",
        "65001" | "cp65001" => "utf-8",
        other => other,
    };
    encoding_rs::Encoding::for_label(l.as_bytes())
}

/// Reads a Shapefile into a [`Layer`].
pub fn read(path: &Path, options: &ReadOptions) -> Result<Layer> {
    if !path.exists() {
        return Err(Error::io(
            path,
            "open",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let dbf = sibling(path, "dbf");
    if !dbf.exists() {
        return Err(Error::format(
            path,
            format!(
                "shapefile has no .dbf (expected {}): attributes cannot be read",
                dbf.display()
            ),
        ));
    }
    let mut warnings = Vec::new();
    let shx = sibling(path, "shx");
    if !shx.exists() {
        // The index only speeds up random access; shapes read in file order are complete without it.
        warnings.push(format!(
            "{}: no .shx index (expected {}); shapes read in file order",
            path.display(),
            shx.display()
        ));
    }
    let prj = sibling(path, "prj");
    let (crs, crs_source) = match std::fs::read(&prj) {
        // Lossy: a .prj is ASCII WKT, and garbage bytes should fail as WKT (naming the .prj), not as UTF-8.
        Ok(bytes) if !String::from_utf8_lossy(&bytes).trim().is_empty() => (
            Crs::parse(String::from_utf8_lossy(&bytes).trim()).map_err(|e| {
                Error::format(
                    &prj,
                    format!("not a CRS bmu understands: {}", super::crs_problem(e)),
                )
            })?,
            CrsSource::Declared,
        ),
        _ => match &options.default_crs {
            Some(c) => (c.clone(), CrsSource::Configured),
            None => (Crs::wgs84(), CrsSource::Assumed),
        },
    };
    let cpg_path = sibling(path, "cpg");
    let cpg = std::fs::read(&cpg_path).ok().map(|b| {
        String::from_utf8_lossy(&b)
            .trim_start_matches('\u{feff}')
            .to_string()
    });
    let label = options.encoding.clone().or(cpg);
    let shapes = read_shapes(path, shx.exists().then_some(shx.as_path()))?;
    let records = match &label {
        Some(l) => {
            let enc = encoding_for(l).ok_or_else(|| {
                Error::format(
                    &dbf,
                    format!("unknown text encoding `{}`", super::shown(l.trim())),
                )
            })?;
            let records = read_dbf(&dbf, enc)?;
            // A .cpg that says UTF-8 over GBK text (a common export mistake) would otherwise turn every Chinese
            // name into U+FFFD silently; undecodable bytes under a declared UTF-8 are an error, with a suggestion.
            if enc == encoding_rs::UTF_8 && has_replacement(&records.1) {
                let suggestion = match read_dbf(&dbf, encoding_rs::GBK) {
                    Ok(r) if !has_replacement(&r.1) => format!(
                        "it decodes as GBK: write `GBK` in {} (or delete it)",
                        cpg_path.display()
                    ),
                    _ => "give the file's real encoding (e.g. GBK, GB18030) in its .cpg".to_string(),
                };
                let (record, field) = first_replacement(&records.1).unwrap_or_default();
                return Err(Error::feature(
                    &dbf,
                    record,
                    format!(
                        "field `{field}` is not valid UTF-8 although the encoding is `{}`; {suggestion}",
                        l.trim()
                    ),
                ));
            }
            records
        }
        None => match read_dbf(&dbf, encoding_rs::UTF_8) {
            Ok(r) if !has_replacement(&r.1) => r,
            _ => {
                warnings.push(format!(
                    "{}: text is not UTF-8 and there is no .cpg; read as GBK",
                    dbf.display()
                ));
                read_dbf(&dbf, encoding_rs::GBK)?
            }
        },
    };
    let (fields, records) = records;
    if records.len() != shapes.len() {
        return Err(Error::format(
            path,
            format!("{} shapes but {} DBF records", shapes.len(), records.len()),
        ));
    }
    let mut features = Vec::with_capacity(shapes.len());
    for (index, (shape, properties)) in shapes.into_iter().zip(records).enumerate() {
        let geometry = match shape {
            Shape::NullShape => None,
            s => Some(
                Geometry::<f64>::try_from(s)
                    .map_err(|e| Error::feature(path, index, format!("geometry not usable: {e}")))?,
            ),
        };
        features.push(Feature {
            index,
            id: None,
            geometry,
            properties,
        });
    }
    if crs_source == CrsSource::Assumed {
        warnings.push(format!("{}: no .prj; assumed WGS84 lon/lat", path.display()));
    }
    Ok(Layer {
        path: path.to_path_buf(),
        crs,
        crs_source,
        features,
        fields,
        warnings,
    })
}

/// Size of the header that opens both `.shp` and `.shx`, and of one `.shx` record (ESRI Shapefile Technical
/// Description, 1998).
const HEADER_BYTES: u64 = 100;
const INDEX_RECORD_BYTES: u64 = 8;

/// Reads every shape, naming the record that fails. The `.shx` is checked first: the `shapefile` crate trusts it
/// and reports a short index or an offset past the end of the `.shp` only as "failed to fill whole buffer".
fn read_shapes(path: &Path, shx: Option<&Path>) -> Result<Vec<Shape>> {
    let open = |p: &Path| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| Error::io(p, "open", e))
    };
    let shp_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, "open", e))?
        .len();
    let cannot = |problem: String| Error::format(path, format!("cannot read shapes: {problem}"));
    let mut reader = match shx {
        Some(shx) => {
            let index = std::fs::read(shx).map_err(|e| Error::io(shx, "read", e))?;
            // A .shp cut short is the .shp's fault, not its index's: reading the shapes names the record it ends in.
            let bound = if shp_declared_len(path)?.is_some_and(|d| d > shp_len) {
                u64::MAX
            } else {
                shp_len
            };
            check_index(&index, shx, bound, path)?;
            ShapeReader::with_shx(open(path)?, open(shx)?)
        }
        None => ShapeReader::new(open(path)?),
    }
    .map_err(|e| cannot(e.to_string()))?;
    let mut shapes = Vec::new();
    for (i, shape) in reader.iter_shapes().enumerate() {
        shapes.push(shape.map_err(|e| {
            let why = match &e {
                shapefile::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                    format!("the file ends inside record {} (truncated?)", i + 1)
                }
                _ => format!("record {}: {e}", i + 1),
            };
            cannot(why)
        })?);
    }
    Ok(shapes)
}

/// The length a `.shp` header declares (None when the file is too short or not a `.shp`: the reader says so).
fn shp_declared_len(path: &Path) -> Result<Option<u64>> {
    use std::io::Read;
    let mut header = [0u8; 28];
    let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let word = |at: usize| i32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    Ok((word(0) == 9994)
        .then(|| u64::try_from(word(24)).ok().map(|w| w * 2))
        .flatten())
}

/// Checks a `.shx` index against its header and its `.shp`: a cut-off index, a file that is no index, or a record
/// pointing outside the `.shp` is refused naming the record. Deleting the `.shx` is always a way out: shapes are then
/// read in file order.
fn check_index(index: &[u8], shx: &Path, shp_len: u64, shp: &Path) -> Result<()> {
    let fix = "rebuild it (e.g. QGIS, ogr2ogr) or delete it to read shapes in file order";
    let bad = |problem: String| Error::format(shx, format!("{problem}; {fix}"));
    let be = |at: usize| -> Option<u64> {
        let bytes: [u8; 4] = index.get(at..at + 4)?.try_into().ok()?;
        u64::try_from(i32::from_be_bytes(bytes)).ok()
    };
    let actual = index.len() as u64;
    if actual < HEADER_BYTES {
        return Err(bad(format!(
            "truncated index: {actual} bytes, shorter than the {HEADER_BYTES}-byte header"
        )));
    }
    if be(0) != Some(9994) {
        return Err(bad("not a shapefile index (its file code is not 9994)".into()));
    }
    // Lengths and offsets are counted in 16-bit words.
    let declared = be(24).map(|words| words * 2).unwrap_or(0);
    if declared < HEADER_BYTES {
        return Err(bad(format!("header gives a file length of {declared} bytes")));
    }
    let records = (declared - HEADER_BYTES) / INDEX_RECORD_BYTES;
    if actual < declared {
        let whole = (actual - HEADER_BYTES) / INDEX_RECORD_BYTES;
        return Err(bad(format!(
            "truncated index: the header promises {records} record{} ({declared} bytes) but the file has {actual} \
             bytes, so record {} of {records} is cut off",
            if records == 1 { "" } else { "s" },
            whole + 1
        )));
    }
    for k in 0..records {
        let at = (HEADER_BYTES + k * INDEX_RECORD_BYTES) as usize;
        let (Some(offset), Some(length)) = (be(at), be(at + 4)) else {
            return Err(bad(format!(
                "record {} of {records} has a negative offset or length",
                k + 1
            )));
        };
        let (start, end) = (offset * 2, offset * 2 + 8 + length * 2);
        if start < HEADER_BYTES || end > shp_len {
            return Err(bad(format!(
                "record {} of {records} points at bytes {start}..{end}, outside {} ({shp_len} bytes)",
                k + 1,
                shp.file_name()
                    .map_or_else(|| shp.display().to_string(), |n| n.to_string_lossy().into_owned())
            )));
        }
    }
    Ok(())
}

type Records = (Vec<String>, Vec<Map<String, Value>>);

/// Whether decoding produced U+FFFD: the text was not in the encoding tried.
fn has_replacement(records: &[Map<String, Value>]) -> bool {
    records
        .iter()
        .flat_map(|r| r.values())
        .any(|v| v.as_str().is_some_and(|s| s.contains('\u{FFFD}')))
}

/// The first record and field whose text holds U+FFFD.
fn first_replacement(records: &[Map<String, Value>]) -> Option<(usize, String)> {
    records.iter().enumerate().find_map(|(i, r)| {
        r.iter()
            .find(|(_, v)| v.as_str().is_some_and(|s| s.contains('\u{FFFD}')))
            .map(|(k, _)| (i, k.clone()))
    })
}

/// Reads every DBF record in `encoding` (undecodable bytes become U+FFFD, which the caller checks for).
fn read_dbf(dbf: &Path, encoding: &'static encoding_rs::Encoding) -> Result<Records> {
    let mut reader = dbase::ReaderBuilder::new()
        .with_encoding(dbase::encoding::EncodingRs::from(encoding))
        .open(dbf)
        .map_err(|e| Error::format(dbf, format!("cannot read DBF: {e}")))?;
    let fields: Vec<String> = reader.fields().iter().map(|f| f.name().to_string()).collect();
    let mut out = Vec::new();
    for (i, record) in reader.iter_records().enumerate() {
        let record = record.map_err(|e| Error::feature(dbf, i, format!("DBF record: {e}")))?;
        let mut map = Map::new();
        for name in &fields {
            let v = match record.get(name) {
                None => Value::Null,
                Some(v) => field_to_json(v),
            };
            map.insert(name.clone(), v);
        }
        out.push(map);
    }
    Ok((fields, out))
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn field_to_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Character(s) => s.clone().map_or(Value::Null, Value::String),
        FieldValue::Memo(s) => Value::String(s.clone()),
        FieldValue::Numeric(n) => n.map_or(Value::Null, number),
        FieldValue::Float(n) => n.map_or(Value::Null, |f| number(f64::from(f))),
        FieldValue::Double(f) | FieldValue::Currency(f) => number(*f),
        FieldValue::Integer(i) => Value::from(*i),
        FieldValue::Logical(b) => b.map_or(Value::Null, Value::Bool),
        FieldValue::Date(d) => d.map_or(Value::Null, |d| {
            Value::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }),
        FieldValue::DateTime(dt) => Value::String(format!("{dt:?}")),
    }
}

/// The DBF column type chosen for one attribute.
#[derive(Clone, Copy, PartialEq)]
enum Column {
    Integer,
    Real,
    Logical,
    Text(u8),
}

/// DBF field names are at most 10 bytes: shorten on a character boundary and make unique.
fn dbf_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let mut short = String::new();
        for c in name.chars() {
            if short.len() + c.len_utf8() > 10 {
                break;
            }
            short.push(c);
        }
        let mut candidate = short.clone();
        let mut n = 1;
        while out.contains(&candidate) {
            let suffix = format!("_{n}");
            let mut base = short.clone();
            while base.len() + suffix.len() > 10 {
                base.pop();
            }
            candidate = format!("{base}{suffix}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// Longest text a DBF character field holds, in bytes.
const DBF_TEXT_BYTES: usize = 254;

/// Where the key of shortened field names goes: `units.shp` → `units_fields.txt`.
pub fn key_path(path: &Path) -> PathBuf {
    beside(path, "_fields.txt")
}

/// Where texts too long for the DBF go whole: `units.shp` → `units_long_text.csv`.
pub fn long_text_path(path: &Path) -> PathBuf {
    beside(path, "_long_text.csv")
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}{suffix}"))
}

/// Writes features held in `crs` as a Shapefile in that CRS.
pub fn write(path: &Path, crs: &Crs, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    // Without WKT the `.prj` would be empty and GIS software would guess the CRS: refuse before writing anything.
    let wkt = crs.to_wkt().ok_or_else(|| {
        Error::format(
            path,
            format!(
                "the CRS {crs} has no WKT definition, so the .prj cannot declare it; name the working CRS by an EPSG \
                 code (e.g. EPSG:4547) or write .geojson"
            ),
        )
    })?;
    let names = super::table::columns(features);
    let columns: Vec<Column> = names
        .iter()
        .map(|name| {
            let values: Vec<&Value> = features
                .iter()
                .filter_map(|f| f.properties.get(name))
                .filter(|v| !v.is_null())
                .collect();
            if !values.is_empty() && values.iter().all(|v| v.is_i64() || v.is_u64()) {
                Column::Integer
            } else if !values.is_empty() && values.iter().all(|v| v.is_number()) {
                Column::Real
            } else if !values.is_empty() && values.iter().all(|v| v.is_boolean()) {
                Column::Logical
            } else {
                let longest = values.iter().map(|v| text_of(v).len()).max().unwrap_or(1);
                Column::Text(longest.clamp(1, DBF_TEXT_BYTES) as u8)
            }
        })
        .collect();
    let short = dbf_names(&names);
    // Every text the DBF cannot hold whole: (feature, key value, field, full text).
    let key_field = names.first().cloned().unwrap_or_default();
    let mut long: Vec<(usize, String, &str, String)> = Vec::new();
    for (i, f) in features.iter().enumerate() {
        for (name, column) in names.iter().zip(&columns) {
            let Column::Text(_) = column else { continue };
            let Some(text) = f.properties.get(name).and_then(super::value_text) else {
                continue;
            };
            if text.len() > DBF_TEXT_BYTES {
                let key = f
                    .properties
                    .get(&key_field)
                    .and_then(super::value_text)
                    .unwrap_or_default();
                long.push((i, key, name, text));
            }
        }
    }
    let renamed: Vec<(&String, &String)> = names.iter().zip(&short).filter(|(n, s)| n != s).collect();
    if !renamed.is_empty() || !long.is_empty() {
        write_key(path, &names, &short, &long, &key_field, staging)?;
    }
    let mut builder =
        TableWriterBuilder::with_encoding(dbase::encoding::EncodingRs::from(encoding_rs::UTF_8));
    for (name, column) in short.iter().zip(&columns) {
        let field = FieldName::try_from(name.as_str())
            .map_err(|e| Error::format(path, format!("field `{name}`: {e}")))?;
        builder = match column {
            Column::Integer => builder.add_numeric_field(field, 18, 0),
            Column::Real => builder.add_numeric_field(field, 24, 10),
            Column::Logical => builder.add_logical_field(field),
            Column::Text(n) => builder.add_character_field(field, *n),
        };
    }

    let shapes: Vec<Shape> = features
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.geometry {
            None => Ok(Shape::NullShape),
            Some(g) => Shape::try_from(g.clone()).map_err(|e| Error::feature(path, i, e.to_string())),
        })
        .collect::<Result<_>>()?;

    // Every part goes into the run's staging: they appear together with the run's other outputs, or not at all.
    let mut create = |ext: &str| -> Result<(BufWriter<File>, PathBuf)> {
        let dest = path.with_extension(ext);
        Ok((BufWriter::new(staging.create(&dest)?), dest))
    };
    let (shp, shp_path) = create("shp")?;
    let (shx, _) = create("shx")?;
    let (dbf, dbf_path) = create("dbf")?;
    let (mut prj, prj_path) = create("prj")?;
    let (mut cpg, cpg_path) = create("cpg")?;
    let mut shape_writer = ShapeWriter::with_shx(shp, shx);
    let mut table = builder.build_with_dest(dbf);
    for (i, (shape, f)) in shapes.iter().zip(features).enumerate() {
        let mut record = dbase::Record::default();
        for ((name, short), column) in names.iter().zip(&short).zip(&columns) {
            let v = f.properties.get(name).unwrap_or(&Value::Null);
            record.insert(short.clone(), json_to_field(v, *column));
        }
        let fail = |e: shapefile::Error| Error::feature(path, i, format!("cannot write: {e}"));
        match shape {
            Shape::Point(p) => shape_writer.write_shape(p).map_err(fail)?,
            Shape::Polyline(p) => shape_writer.write_shape(p).map_err(fail)?,
            Shape::Polygon(p) => shape_writer.write_shape(p).map_err(fail)?,
            Shape::Multipoint(p) => shape_writer.write_shape(p).map_err(fail)?,
            _ => {
                return Err(Error::feature(
                    path,
                    i,
                    "null geometries cannot be written to a Shapefile of this type",
                ))
            }
        }
        table
            .write_record(&record)
            .map_err(|e| Error::feature(&dbf_path, i, format!("cannot write: {e}")))?;
    }
    // Finalised explicitly: the writers' `Drop` would swallow a full disk while flushing.
    shape_writer
        .finalize()
        .map_err(|e| Error::format(&shp_path, format!("cannot write: {e}")))?;
    table
        .finalize()
        .map_err(|e| Error::format(&dbf_path, format!("cannot write: {e}")))?;
    use std::io::Write as _;
    prj.write_all(wkt.as_bytes())
        .and_then(|()| prj.flush())
        .map_err(|e| Error::io(&prj_path, "write", e))?;
    cpg.write_all(b"UTF-8")
        .and_then(|()| cpg.flush())
        .map_err(|e| Error::io(&cpg_path, "write", e))
}

fn text_of(v: &Value) -> String {
    super::value_text(v).unwrap_or_default()
}

/// The key beside a Shapefile: every field's DBF name and full name, and where texts too long for the DBF went.
fn write_key(
    path: &Path,
    names: &[String],
    short: &[String],
    long: &[(usize, String, &str, String)],
    key_field: &str,
    staging: &mut atomic::Staging,
) -> Result<()> {
    let file = |p: &Path| {
        p.file_name()
            .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    let mut key = format!(
        "Fields of {}: a DBF field name holds at most 10 bytes, so longer names are shortened.\n\nDBF name    full name\n",
        file(path)
    );
    for (name, s) in names.iter().zip(short) {
        // Padded by characters, not bytes: a Chinese name is 3 bytes a character.
        let pad = 12usize.saturating_sub(s.chars().count()).max(1);
        key.push_str(&format!("{s}{}{name}\n", " ".repeat(pad)));
    }
    if !long.is_empty() {
        let side = long_text_path(path);
        key.push_str(&format!(
            "\n{} text{} longer than the {DBF_TEXT_BYTES} bytes a DBF field holds {} cut in the DBF, ending in \"…\"; \
             the full text{} {} in {}, by feature (0-based) and `{key_field}`.\n",
            long.len(),
            if long.len() == 1 { "" } else { "s" },
            if long.len() == 1 { "is" } else { "are" },
            if long.len() == 1 { "" } else { "s" },
            if long.len() == 1 { "is" } else { "are" },
            file(&side)
        ));
        let mut csv = csv::Writer::from_writer(Vec::new());
        let written: std::result::Result<(), csv::Error> = (|| {
            csv.write_record(["feature", key_field, "field", "text"])?;
            for (i, k, field, text) in long {
                csv.write_record([i.to_string().as_str(), k, field, text])?;
            }
            csv.flush()?;
            Ok(())
        })();
        let bytes = written
            .and_then(|()| csv.into_inner().map_err(|e| e.into_error().into()))
            .map_err(|e| Error::format(&side, format!("cannot write: {e}")))?;
        staging.write(&side, &bytes)?;
    }
    staging.write(&key_path(path), key.as_bytes())
}

fn json_to_field(v: &Value, column: Column) -> FieldValue {
    match column {
        Column::Integer | Column::Real => FieldValue::Numeric(v.as_f64()),
        Column::Logical => FieldValue::Logical(v.as_bool()),
        Column::Text(n) => FieldValue::Character(super::value_text(v).map(|s| {
            let width = n as usize;
            if s.len() <= width {
                return s;
            }
            // Cut on a character boundary, ending in `…` so the cut shows; the key says where the whole text is.
            let mut end = width - '…'.len_utf8();
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &s[..end])
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::io::geojson::properties;
    use geo::{polygon, Point};

    #[test]
    fn round_trips_chinese_text_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("units.shp");
        let crs = Crs::parse("EPSG:32651").unwrap();
        let feats = vec![OutFeature {
            geometry: Some(Geometry::Polygon(
                polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0)],
            )),
            properties: properties([
                ("unit_id", Value::from("江桥-1")),
                ("population", Value::from(23456.5)),
                ("blocks", Value::from(7)),
                ("pass", Value::from(true)),
            ]),
        }];
        crate::io::write_layer(&path, &crs, &feats, &[]).unwrap();
        let layer = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(layer.crs.to_wkt(), crs.to_wkt());
        let f = &layer.features[0];
        assert_eq!(f.text("unit_id").as_deref(), Some("江桥-1"));
        assert_eq!(f.get("population").and_then(Value::as_f64), Some(23456.5));
        assert_eq!(f.get("blocks").and_then(Value::as_i64), Some(7));
        assert_eq!(f.get("pass"), Some(&Value::Bool(true)));
    }

    #[test]
    fn reads_gbk_text_as_the_cpg_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.shp");
        let crs = Crs::wgs84();
        let feats = vec![OutFeature {
            geometry: Some(Geometry::Point(Point::new(121.3, 31.2))),
            properties: properties([("name", Value::from("江桥镇"))]),
        }];
        // Write UTF-8, then re-encode the DBF text as GBK by hand: a GBK DBF with a GBK .cpg.
        crate::io::write_layer(&path, &crs, &feats, &[]).unwrap();
        let dbf = path.with_extension("dbf");
        let bytes = std::fs::read(&dbf).unwrap();
        let utf8 = "江桥镇".as_bytes();
        let (gbk, _, _) = encoding_rs::GBK.encode("江桥镇");
        let at = bytes.windows(utf8.len()).position(|w| w == utf8).unwrap();
        let mut patched = bytes[..at].to_vec();
        patched.extend_from_slice(&gbk);
        patched.extend(std::iter::repeat_n(b' ', utf8.len() - gbk.len()));
        patched.extend_from_slice(&bytes[at + utf8.len()..]);
        std::fs::write(&dbf, patched).unwrap();
        std::fs::write(path.with_extension("cpg"), "GBK").unwrap();
        let layer = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(layer.features[0].text("name").as_deref(), Some("江桥镇"));
        // A .cpg that says UTF-8 over GBK text is an error naming the record and field, suggesting GBK.
        std::fs::write(path.with_extension("cpg"), "UTF-8").unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("p.dbf: feature 0: field `name`") && e.contains("decodes as GBK"),
            "{e}"
        );
        // Without a .cpg the UTF-8 attempt fails and GBK is used, with a warning.
        std::fs::remove_file(path.with_extension("cpg")).unwrap();
        let layer = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(layer.features[0].text("name").as_deref(), Some("江桥镇"));
        assert!(layer.warnings.iter().any(|w| w.contains("GBK")));
    }

    #[test]
    fn missing_dbf_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.shp");
        let feats = vec![OutFeature {
            geometry: Some(Geometry::Point(Point::new(121.3, 31.2))),
            properties: Map::new(),
        }];
        crate::io::write_layer(&path, &Crs::wgs84(), &feats, &[]).unwrap();
        std::fs::remove_file(path.with_extension("dbf")).unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("p.shp") && e.contains(".dbf"), "{e}");
    }

    #[test]
    fn truncated_shx_names_the_index_and_the_record_not_fill_whole_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.shp");
        let feats = vec![
            OutFeature {
                geometry: Some(Geometry::Point(Point::new(121.3, 31.2))),
                properties: Map::new(),
            };
            3
        ];
        crate::io::write_layer(&path, &Crs::wgs84(), &feats, &[]).unwrap();
        let shx = path.with_extension("shx");
        let index = std::fs::read(&shx).unwrap();
        // The third record of the index cut in half.
        std::fs::write(&shx, &index[..index.len() - 4]).unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("p.shx: truncated index") && e.contains("record 3 of 3 is cut off"),
            "{e}"
        );
        assert!(!e.contains("fill whole buffer"), "{e}");
        // An index pointing past the end of the .shp names the record and both sizes.
        let mut bad = index.clone();
        bad[108..112].copy_from_slice(&10_000i32.to_be_bytes());
        std::fs::write(&shx, &bad).unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("p.shx: record 2 of 3 points at bytes 20000..") && e.contains("outside p.shp"),
            "{e}"
        );
        // Without the index the shapes are read in file order.
        std::fs::remove_file(&shx).unwrap();
        assert_eq!(read(&path, &ReadOptions::default()).unwrap().features.len(), 3);
    }

    #[test]
    fn truncated_shp_names_the_record_it_ends_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.shp");
        let feats = vec![
            OutFeature {
                geometry: Some(Geometry::Point(Point::new(121.3, 31.2))),
                properties: Map::new(),
            };
            2
        ];
        crate::io::write_layer(&path, &Crs::wgs84(), &feats, &[]).unwrap();
        let shp = std::fs::read(&path).unwrap();
        std::fs::write(&path, &shp[..shp.len() - 4]).unwrap();
        let e = read(&path, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("p.shp: cannot read shapes: the file ends inside record 2"),
            "{e}"
        );
    }

    #[test]
    fn long_field_names_are_shortened_uniquely() {
        let names = dbf_names(&[
            "population_total".into(),
            "population_density".into(),
            "县名".into(),
        ]);
        assert_eq!(names, vec!["population", "populati_1", "县名"]);
    }

    fn unit_with_reasons(reasons: &str) -> OutFeature {
        OutFeature {
            geometry: Some(Geometry::Point(Point::new(339_000.0, 3_457_000.0))),
            properties: properties([
                ("unit_id", Value::from("江桥-1")),
                ("population_density", Value::from(1.5)),
                ("population_total", Value::from(3)),
                ("reasons", Value::from(reasons)),
            ]),
        }
    }

    #[test]
    fn shapefile_reasons_longer_than_254_bytes_go_whole_to_a_side_table_not_cut_silently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("units.shp");
        let long = "人口: 过少; ".repeat(30);
        assert!(long.len() > 254);
        let feats = vec![unit_with_reasons(&long), unit_with_reasons("short")];
        crate::io::write_layer(&path, &Crs::parse("EPSG:32651").unwrap(), &feats, &[]).unwrap();
        let layer = read(&path, &ReadOptions::default()).unwrap();
        let cut = layer.features[0].text("reasons").unwrap();
        assert!(
            cut.len() <= 254 && cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')),
            "{cut}"
        );
        assert_eq!(layer.features[1].text("reasons").as_deref(), Some("short"));
        let mut side = csv::Reader::from_path(dir.path().join("units_long_text.csv")).unwrap();
        assert_eq!(
            side.headers().unwrap(),
            vec!["feature", "unit_id", "field", "text"]
        );
        let rows: Vec<csv::StringRecord> = side.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0], vec!["0", "江桥-1", "reasons", long.as_str()]);
        let key = std::fs::read_to_string(dir.path().join("units_fields.txt")).unwrap();
        assert!(
            key.contains("units_long_text.csv") && key.contains("`unit_id`"),
            "{key}"
        );
    }

    #[test]
    fn shapefile_shortened_field_names_get_a_key_beside_the_shp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("units.shp");
        crate::io::write_layer(
            &path,
            &Crs::parse("EPSG:32651").unwrap(),
            &[unit_with_reasons("x")],
            &[],
        )
        .unwrap();
        let key = std::fs::read_to_string(dir.path().join("units_fields.txt")).unwrap();
        assert!(key.contains("population  population_density\n"), "{key}");
        assert!(key.contains("populati_1  population_total\n"), "{key}");
        assert!(!key.contains("long_text"), "{key}");
        assert!(!dir.path().join("units_long_text.csv").exists());
        // Names that fit need no key.
        let short = dir.path().join("p.shp");
        let feats = vec![OutFeature {
            geometry: Some(Geometry::Point(Point::new(121.3, 31.2))),
            properties: properties([("name", Value::from("江桥镇"))]),
        }];
        crate::io::write_layer(&short, &Crs::wgs84(), &feats, &[]).unwrap();
        assert!(!dir.path().join("p_fields.txt").exists());
    }

    #[test]
    fn shapefile_with_a_crs_without_wkt_is_refused_not_given_an_empty_prj() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("units.shp");
        let crs = Crs::parse("+proj=tmerc +lon_0=121.3 +k=1 +x_0=500000 +ellps=GRS80 +units=m").unwrap();
        let e = crate::io::write_layer(&path, &crs, &[unit_with_reasons("x")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("units.shp") && e.contains("no WKT"), "{e}");
        assert!(!path.with_extension("prj").exists() && !path.exists());
    }
}
