//! Attribute tables for the district office: CSV and Excel (`.xlsx`), one row per feature, one column per
//! attribute, no geometry.
//!
//! The CSV starts with a UTF-8 byte-order mark: without it Excel on a Chinese Windows reads the file as GBK and
//! every name turns to mojibake. The workbook has one sheet named after the file, a bold frozen header row, numbers
//! as numbers and true/false as booleans; its document dates are fixed so the same inputs give the same bytes.

use super::{atomic, value_text, OutFeature};
use crate::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// The attribute names of `features`, in first-seen order (the union: a missing attribute is an empty cell).
pub fn columns(features: &[OutFeature]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for f in features {
        for k in f.properties.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

/// Writes the attributes of `features` as CSV (RFC 4180 quoting through the `csv` crate).
pub fn write_csv(path: &Path, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    let names = columns(features);
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    {
        let mut csv = csv::Writer::from_writer(&mut bytes);
        let written: std::result::Result<(), csv::Error> = (|| {
            csv.write_record(&names)?;
            for f in features {
                csv.write_record(
                    names
                        .iter()
                        .map(|n| f.properties.get(n).and_then(value_text).unwrap_or_default()),
                )?;
            }
            csv.flush()?;
            Ok(())
        })();
        written.map_err(|e| Error::format(path, format!("cannot write CSV: {e}")))?;
    }
    staging.write(path, &bytes)
}

/// Excel's limit on the text of one cell.
const XLSX_CELL_CHARS: usize = 32_767;

/// A worksheet name from the file name: at most 31 characters, none of `[]:*?/\` (Excel's rules).
fn sheet_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') && !c.is_control())
        .take(31)
        .collect();
    let name = name.trim_matches('\'').to_string();
    if name.is_empty() {
        "bmu".into()
    } else {
        name
    }
}

/// Writes the attributes of `features` as a one-sheet Excel workbook.
pub fn write_xlsx(path: &Path, features: &[OutFeature], staging: &mut atomic::Staging) -> Result<()> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
    let fail = |e: XlsxError| Error::format(path, format!("cannot write the workbook: {e}"));
    let names = columns(features);
    let mut book = Workbook::new();
    // A fixed creation date: otherwise every run writes different bytes for the same inputs.
    let epoch = ExcelDateTime::from_ymd(2000, 1, 1).map_err(fail)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&epoch));
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name(path)).map_err(fail)?;
    let bold = Format::new().set_bold();
    for (c, name) in names.iter().enumerate() {
        let col = u16::try_from(c).map_err(|_| Error::format(path, "more than 65535 attribute columns"))?;
        sheet
            .write_string_with_format(0, col, name, &bold)
            .map_err(fail)?;
    }
    for (r, f) in features.iter().enumerate() {
        let row = u32::try_from(r + 1)
            .ok()
            .filter(|&row| row < 1_048_576)
            .ok_or_else(|| Error::format(path, "more rows than an Excel sheet holds (1,048,575)"))?;
        for (c, name) in names.iter().enumerate() {
            // Bounded by the header loop above.
            let col = c as u16;
            match f.properties.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => {
                    sheet.write_boolean(row, col, *b).map_err(fail)?;
                }
                Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                    sheet
                        .write_number(row, col, n.as_f64().unwrap_or_default())
                        .map_err(fail)?;
                }
                Some(v) => {
                    let text = value_text(v).unwrap_or_default();
                    if text.chars().count() > XLSX_CELL_CHARS {
                        return Err(Error::feature(
                            path,
                            r,
                            format!(
                                "attribute `{name}` has {} characters, more than an Excel cell holds ({XLSX_CELL_CHARS}); \
                                 write .csv instead",
                                text.chars().count()
                            ),
                        ));
                    }
                    sheet.write_string(row, col, text).map_err(fail)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    sheet.autofit();
    let bytes = book.save_to_buffer().map_err(fail)?;
    staging.write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::geojson::properties;

    fn features() -> Vec<OutFeature> {
        vec![
            OutFeature {
                geometry: None,
                properties: properties([
                    ("unit_id", Value::from("江桥-1")),
                    ("population", Value::from(23456.5)),
                    ("pass", Value::from(true)),
                ]),
            },
            OutFeature {
                geometry: None,
                properties: properties([
                    ("unit_id", Value::from("a, \"b\"")),
                    ("reasons", Value::from("人口: 过少")),
                ]),
            },
        ]
    }

    #[test]
    fn csv_out_has_a_bom_a_header_of_every_attribute_and_chinese_intact() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("units.csv");
        let mut staging = atomic::Staging::new::<&Path>(&[]);
        write_csv(&out, &features(), &mut staging).unwrap();
        staging.commit().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "\u{feff}unit_id,population,pass,reasons\n江桥-1,23456.5,true,\n\"a, \"\"b\"\"\",,,人口: 过少\n"
        );
    }

    #[test]
    fn xlsx_sheet_names_follow_excels_rules() {
        assert_eq!(sheet_name(Path::new("out/units.xlsx")), "units");
        assert_eq!(sheet_name(Path::new("a[1]?.xlsx")), "a1");
        assert_eq!(
            sheet_name(Path::new(&format!("{}.xlsx", "长".repeat(40))))
                .chars()
                .count(),
            31
        );
    }

    #[test]
    fn xlsx_out_reads_back_with_a_header_numbers_and_chinese_intact() {
        use calamine::{Data, Reader, Xlsx};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("单元.xlsx");
        let mut staging = atomic::Staging::new::<&Path>(&[]);
        write_xlsx(&out, &features(), &mut staging).unwrap();
        staging.commit().unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
        assert_eq!(book.sheet_names(), ["单元"]);
        let range = book.worksheet_range("单元").unwrap();
        let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
        assert_eq!(
            rows[0],
            ["unit_id", "population", "pass", "reasons"].map(|s| Data::String(s.into()))
        );
        assert_eq!(rows[1][0], Data::String("江桥-1".into()));
        assert_eq!(rows[1][1], Data::Float(23456.5));
        assert_eq!(rows[1][2], Data::Bool(true));
        assert_eq!(rows[2][3], Data::String("人口: 过少".into()));
    }

    #[test]
    fn xlsx_out_is_the_same_bytes_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str| {
            let out = dir.path().join(name).join("units.xlsx");
            let mut staging = atomic::Staging::new::<&Path>(&[]);
            write_xlsx(&out, &features(), &mut staging).unwrap();
            staging.commit().unwrap();
            std::fs::read(out).unwrap()
        };
        let first = write("a");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(first, write("b"));
    }
}
