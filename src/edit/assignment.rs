//! The assignment table: one row per block, `block_id,unit_id` (an empty `unit_id`, or a block left out, is a block
//! in no unit). Read and written with the `csv` crate, so quoting, a UTF-8 BOM and CRLF line ends from a spreadsheet
//! are handled as a spreadsheet writes them.

use crate::io::atomic::Staging;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// Reads an assignment table against the blocks `ids` (in block order): each block's unit, None where none.
/// Unknown blocks, a block listed twice and missing columns are errors naming the row.
pub fn read(path: &Path, ids: &[String]) -> Result<Vec<Option<String>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    parse(path, &bytes, ids)
}

/// [`read`] over bytes already read.
pub fn parse(path: &Path, bytes: &[u8], ids: &[String]) -> Result<Vec<Option<String>>> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| Error::format(path, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::format(path, format!("no `{name}` column (columns: block_id,unit_id)")))
    };
    let (block_col, unit_col) = (column("block_id")?, column("unit_id")?);
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut out: Vec<Option<String>> = vec![None; ids.len()];
    let mut seen = vec![false; ids.len()];
    for (row, record) in reader.records().enumerate() {
        // Features are the data rows, counted from 1 as every other layer's features are.
        let n = row + 1;
        let record = record.map_err(|e| Error::feature(path, n, e.to_string()))?;
        let block = record.get(block_col).unwrap_or_default();
        let unit = record.get(unit_col).unwrap_or_default();
        let &b = index.get(block).ok_or_else(|| {
            Error::feature(
                path,
                format!("{n} (id {block})"),
                "no such block in the study area",
            )
        })?;
        if std::mem::replace(&mut seen[b], true) {
            return Err(Error::feature(
                path,
                format!("{n} (id {block})"),
                "block listed twice",
            ));
        }
        out[b] = (!unit.is_empty()).then(|| unit.to_string());
    }
    Ok(out)
}

/// The table as CSV bytes, one row per block in block order.
pub fn to_csv(ids: &[String], units: &[Option<&str>]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::input("assignment", e.to_string());
    w.write_record(["block_id", "unit_id"]).map_err(err)?;
    for (id, unit) in ids.iter().zip(units) {
        w.write_record([id.as_str(), unit.unwrap_or("")]).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::input("assignment", e.to_string()))
}

/// Writes the table into `staging` (claimed by the caller).
pub fn stage(path: &Path, ids: &[String], units: &[Option<&str>], staging: &mut Staging) -> Result<()> {
    staging.write(path, &to_csv(ids, units)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["B1", "B2", "B3"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn round_trips_with_bom_crlf_and_unassigned_blocks() {
        let bytes = to_csv(&ids(), &[Some("U1"), None, Some("U 2")]).unwrap();
        let back = parse(Path::new("a.csv"), &bytes, &ids()).unwrap();
        assert_eq!(back, vec![Some("U1".into()), None, Some("U 2".into())]);
        let excel = b"\xef\xbb\xbfunit_id,block_id\r\nU1,B2\r\n";
        let back = parse(Path::new("a.csv"), excel, &ids()).unwrap();
        assert_eq!(back, vec![None, Some("U1".into()), None]);
    }

    #[test]
    fn unknown_block_in_assignment_is_refused_with_its_row() {
        let e = parse(Path::new("a.csv"), b"block_id,unit_id\nB1,U1\nB9,U1\n", &ids()).unwrap_err();
        assert!(
            e.to_string().contains("feature 2 (id B9)") && e.to_string().contains("B9"),
            "{e}"
        );
    }

    #[test]
    fn block_listed_twice_in_assignment_is_refused() {
        let e = parse(Path::new("a.csv"), b"block_id,unit_id\nB1,U1\nB1,U2\n", &ids()).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }

    #[test]
    fn assignment_without_unit_column_is_refused() {
        let e = parse(Path::new("a.csv"), b"block_id,unit\nB1,U1\n", &ids()).unwrap_err();
        assert!(e.to_string().contains("unit_id"), "{e}");
    }
}
