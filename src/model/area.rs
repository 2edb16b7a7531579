//! [`StudyArea`]: everything `bmu` knows about one study area, and what is derived from it.

use super::summary::LayerSummary;
use super::types::{Block, Facility, LineFeature, Town};
use crate::config::Config;
use crate::crs::Crs;
use geo::MultiPolygon;
use std::path::PathBuf;

/// Everything `bmu` knows about one study area, in the working CRS.
#[derive(Clone, Debug)]
pub struct StudyArea {
    /// The study area's name.
    pub name: String,
    /// The configuration it was loaded from.
    pub config: Config,
    /// The projected CRS everything is measured in.
    pub working_crs: Crs,
    /// The town, when given.
    pub town: Option<Town>,
    /// The blocks, when given.
    pub blocks: Option<Vec<Block>>,
    /// Linear features: roads, rivers, canals, railways.
    pub lines: Vec<LineFeature>,
    /// Facilities.
    pub facilities: Vec<Facility>,
    /// Overlay features, reported only.
    pub overlays: Vec<Facility>,
    /// Every layer read.
    pub layers: Vec<LayerSummary>,
    /// Warnings met while loading.
    pub warnings: Vec<String>,
    /// Every input path, so outputs never overwrite one.
    pub inputs: Vec<PathBuf>,
    /// The union of the blocks, made once at the first [`StudyArea::town_or_blocks`] without a town (set `blocks`
    /// before asking): validate, its partition check and the report all ask for it.
    pub(crate) blocks_union: std::sync::OnceLock<MultiPolygon<f64>>,
}

impl StudyArea {
    /// The town, or the union of the blocks when no town is given (an owned copy; see
    /// [`StudyArea::town_or_blocks_ref`] to borrow it).
    pub fn town_or_blocks(&self) -> Option<MultiPolygon<f64>> {
        self.town_or_blocks_ref().cloned()
    }

    /// The town, or the union of the blocks when no town is given, borrowed. The union is made once, at the first
    /// call, and kept: validate, its partition check, the population cover check and the report all ask for it.
    pub fn town_or_blocks_ref(&self) -> Option<&MultiPolygon<f64>> {
        if let Some(t) = &self.town {
            return Some(&t.geometry);
        }
        let blocks = self.blocks.as_ref()?;
        Some(self.blocks_union.get_or_init(|| {
            let polys: Vec<_> = blocks.iter().flat_map(|b| b.geometry.0.iter().cloned()).collect();
            geo::unary_union(&polys)
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Block;
    use crate::validate::testing::{area, rect};
    use geo::Area;

    fn block(id: &str, x0: f64) -> Block {
        Block {
            id: id.into(),
            geometry: rect(x0, 0.0, x0 + 1000.0, 1000.0),
            population: None,
            source: None,
        }
    }

    #[test]
    fn town_or_blocks_union_is_made_once() {
        let mut a = area(None);
        a.blocks = Some(vec![block("a", 0.0), block("b", 1000.0)]);
        let first = a.town_or_blocks_ref().map(|g| g as *const _);
        let second = a.town_or_blocks_ref().map(|g| g as *const _);
        // The same allocation both times: the union is kept, not made again per call.
        assert!(first.is_some() && first == second);
        let union = a.town_or_blocks().map(|g| g.unsigned_area()).unwrap_or_default();
        assert!((union - 2e6).abs() < 1e-6, "{union}");
    }

    #[test]
    fn town_or_blocks_prefers_the_town() {
        let mut a = area(Some(rect(0.0, 0.0, 500.0, 500.0)));
        a.blocks = Some(vec![block("a", 0.0)]);
        let got = a.town_or_blocks().map(|g| g.unsigned_area()).unwrap_or_default();
        assert!((got - 250_000.0).abs() < 1e-6, "{got}");
    }
}
