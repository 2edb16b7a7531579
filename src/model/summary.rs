//! What `inspect` reports of a study area's layers.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `inspect` reports of one layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSummary {
    /// What the layer is for (town, blocks, features…).
    pub role: String,
    /// The file.
    pub path: PathBuf,
    /// Number of features read.
    pub features: usize,
    /// Its CRS.
    pub crs: String,
    /// Where the CRS came from.
    pub crs_source: String,
    /// Extent in WGS84 lon/lat: [min lon, min lat, max lon, max lat].
    pub extent_wgs84: Option<[f64; 4]>,
}

/// Counts by key, in key order (for summaries).
pub fn tally<K: Ord, I: IntoIterator<Item = (K, f64)>>(items: I) -> BTreeMap<K, f64> {
    let mut m = BTreeMap::new();
    for (k, v) in items {
        *m.entry(k).or_insert(0.0) += v;
    }
    m
}
