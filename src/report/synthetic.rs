//! Which inputs are synthetic, so the dossier can say so on every page instead of presenting made-up residents and
//! facilities as fact.
//!
//! An input counts as synthetic when its file name says so (`population.synthetic.tif`), when a GeoJSON feature
//! carries a truthy `synthetic` property, when a TIFF's description or GDAL metadata tag mentions "synthetic", or
//! when it belongs to the demo study area shipped with bmu (`data/jiangqiao`). Reading fails quietly here: the layer
//! was read successfully moments before, and a banner is a warning, not a check.

use crate::model::StudyArea;
use std::path::{Path, PathBuf};

/// The file names of the synthetic inputs of `area`, sorted and without repeats.
pub fn synthetic_inputs(area: &StudyArea) -> Vec<String> {
    let mut paths: Vec<PathBuf> = area.inputs.clone();
    paths.extend(area.layers.iter().map(|l| l.path.clone()));
    if let Some(g) = area.config.population.as_ref().and_then(|p| p.grid.clone()) {
        paths.push(g);
    }
    let mut out: Vec<String> = paths
        .iter()
        .filter(|p| is_synthetic(p))
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether one input file is marked synthetic.
pub fn is_synthetic(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.contains("synthetic") || in_demo(path) {
        return true;
    }
    match crate::io::extension(path).as_str() {
        "geojson" | "json" => geojson_marked(path),
        "tif" | "tiff" => tiff_marked(path),
        _ => false,
    }
}

/// The demo ships with bmu at `data/jiangqiao`: its town and roads are real, the rest is generated, and a dossier
/// made from it is a demonstration as a whole.
fn in_demo(path: &Path) -> bool {
    let dir = path.parent().and_then(|d| d.canonicalize().ok());
    let demo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/jiangqiao")
        .canonicalize()
        .ok();
    dir.is_some() && dir == demo
}

fn geojson_marked(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    // A cheap test first: most files never mention the word.
    if !text.contains("synthetic") {
        return false;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let truthy = |p: &serde_json::Value| match p.get("synthetic") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => matches!(s.to_lowercase().as_str(), "true" | "yes" | "1"),
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        _ => false,
    };
    let features = v.get("features").and_then(|f| f.as_array());
    features.is_some_and(|fs| fs.iter().any(|f| f.get("properties").is_some_and(truthy)))
        || v.get("properties").is_some_and(truthy)
}

fn tiff_marked(path: &Path) -> bool {
    use tiff::tags::Tag;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut decoder) = tiff::decoder::Decoder::new(std::io::BufReader::new(file)) else {
        return false;
    };
    // ImageDescription, and GDAL_METADATA (42112) where GDAL writes dataset metadata.
    [Tag::ImageDescription, Tag::Unknown(42112)].into_iter().any(|t| {
        decoder
            .get_tag_ascii_string(t)
            .is_ok_and(|s| s.to_lowercase().contains("synthetic"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synthetic_property_or_name_marks_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let marked = dir.path().join("facilities.geojson");
        std::fs::write(
            &marked,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"synthetic":true},
            "geometry":{"type":"Point","coordinates":[0,0]}}]}"#,
        )
        .unwrap();
        let plain = dir.path().join("roads.geojson");
        std::fs::write(
            &plain,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"synthetic road"},
            "geometry":{"type":"Point","coordinates":[0,0]}}]}"#,
        )
        .unwrap();
        assert!(is_synthetic(&marked));
        assert!(!is_synthetic(&plain), "the word in a value is not a mark");
        assert!(is_synthetic(Path::new("/nowhere/population.Synthetic.tif")));
        assert!(is_synthetic(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/jiangqiao/town.geojson")
        ));
    }
}
