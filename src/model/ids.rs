//! The one rule that names a feature, whatever its layer.
//!
//! A feature's id is its **key**: the configured id field when given and filled, else the GeoJSON `id` member
//! ([`Feature::key`]). A feature without a key is named by **where it sits**, as precisely as the list it ends up in
//! needs:
//! - in a list that merges several files (features, facilities, overlays): `<file stem>#<0-based index>`
//!   ([`feature_id`]), so feature 0 of `roads.geojson` and of `canals.geojson` stay two ids;
//! - in a layer that stands alone (blocks, units, population zones): the bare 0-based index
//!   ([`Feature::key_or_index`]), the number a message's `feature <n>` already shows;
//! - the town, one feature by construction: `town`.

use crate::io::Feature;
use std::path::Path;

/// The id of a feature of a list that merges several files: its key, else `<file stem>#<index>`.
pub fn feature_id(path: &Path, f: &Feature, id_field: Option<&str>) -> String {
    f.key(id_field)
        .unwrap_or_else(|| format!("{}#{}", file_stem(path), f.index))
}

/// A file's name without folder or extension (empty when it has none).
pub(crate) fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(index: usize, props: serde_json::Value, id: Option<serde_json::Value>) -> Feature {
        Feature {
            index,
            id,
            properties: props.as_object().cloned().unwrap_or_default(),
            geometry: None,
        }
    }

    #[test]
    fn features_without_a_key_are_named_by_file_and_index() {
        let p = Path::new("/data/roads.osm.geojson");
        let f = feature(3, json!({"name": "x"}), None);
        assert_eq!(feature_id(p, &f, Some("code")), "roads.osm#3");
        let g = feature(3, json!({"code": "R9"}), Some(json!(17)));
        assert_eq!(feature_id(p, &g, Some("code")), "R9");
        assert_eq!(feature_id(p, &g, None), "17");
    }
}
