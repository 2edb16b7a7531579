//! Population from block counts by areal weighting (RULES.md 一(一): "population of the unit from the grid (or block
//! counts)").
//!
//! A block's count is extensive: a polygon receives `count × area(block ∩ polygon) / area(block)`, tobler's
//! `area_interpolate` for extensive variables. When the blocks are grid cells this is exactly the cell-fraction
//! zonal sum of exactextract, and whenever polygons partition the blocks the counts are conserved.

use super::{box_tree, envelope, BoxItem, PopulationSource};
use crate::model::StudyArea;
use crate::Result;
use geo::{Area, BooleanOps, BoundingRect, Contains, MultiPolygon};
use rayon::prelude::*;
use rstar::RTree;

/// Blocks with a population count each, indexed for areal weighting.
///
/// ```
/// use bmu::validate::{BlockCounts, PopulationSource};
/// use geo::{MultiPolygon, Rect};
///
/// let strip = |x0: f64, x1: f64| MultiPolygon(vec![Rect::new((x0, 0.0), (x1, 100.0)).to_polygon()]);
/// let blocks = BlockCounts::new(vec![(strip(0.0, 100.0), 1000.0)]);
/// // A quarter of the block holds a quarter of its people.
/// let p = blocks.population(&[strip(0.0, 25.0)]).unwrap();
/// assert!((p[0] - 250.0).abs() < 1e-9);
/// ```
#[derive(Clone, Debug)]
pub struct BlockCounts {
    blocks: Vec<(MultiPolygon<f64>, f64, f64)>,
    tree: RTree<BoxItem>,
}

impl BlockCounts {
    /// Blocks (working CRS) and their counts.
    pub fn new(blocks: Vec<(MultiPolygon<f64>, f64)>) -> Self {
        let tree = box_tree(blocks.iter().map(|(g, _)| g));
        BlockCounts {
            blocks: blocks
                .into_iter()
                .map(|(g, c)| {
                    let a = g.unsigned_area();
                    (g, c, a)
                })
                .collect(),
            tree,
        }
    }

    /// The study area's blocks when every one carries a count (`population_field`); None otherwise.
    pub fn from_area(area: &StudyArea) -> Option<Self> {
        let blocks = area.blocks.as_ref()?;
        let counted: Option<Vec<_>> = blocks
            .iter()
            .map(|b| b.population.map(|p| (b.geometry.clone(), p)))
            .collect();
        counted.filter(|c| !c.is_empty()).map(BlockCounts::new)
    }

    /// The total count of all blocks.
    pub fn total(&self) -> f64 {
        self.blocks.iter().map(|b| b.1).sum()
    }

    fn one(&self, polygon: &MultiPolygon<f64>) -> f64 {
        let Some(r) = polygon.bounding_rect() else {
            return 0.0;
        };
        let mut sum = 0.0;
        for item in self.tree.locate_in_envelope_intersecting(envelope(r, 0.0)) {
            let (block, count, area) = &self.blocks[item.data];
            if *count == 0.0 || *area <= 0.0 {
                continue;
            }
            // Whole blocks inside the polygon need no overlay (the common case for units built from blocks).
            let share = match block.bounding_rect() {
                Some(b) if polygon.contains(&b) => 1.0,
                _ => (block.intersection(polygon).unsigned_area() / area).min(1.0),
            };
            sum += count * share;
        }
        sum
    }
}

impl PopulationSource for BlockCounts {
    fn population(&self, polygons: &[MultiPolygon<f64>]) -> Result<Vec<f64>> {
        Ok(polygons.par_iter().map(|p| self.one(p)).collect())
    }

    fn describe(&self) -> String {
        format!("{} block counts (areal weighting)", self.blocks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::rect;
    use rand::{Rng, SeedableRng};

    #[test]
    fn areal_weighting_splits_counts_by_covered_fraction() {
        let b = BlockCounts::new(vec![(rect(0.0, 0.0, 100.0, 100.0), 1000.0)]);
        let p = b
            .population(&[rect(0.0, 0.0, 25.0, 100.0), rect(-50.0, -50.0, 200.0, 200.0)])
            .unwrap();
        approx::assert_relative_eq!(p[0], 250.0, epsilon = 1e-9);
        approx::assert_relative_eq!(p[1], 1000.0, epsilon = 1e-9);
    }

    #[test]
    fn population_is_conserved_over_any_partition_of_the_blocks() {
        // A 10×10 grid of 100 m cells with random counts, cut by a random vertical and horizontal line.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2018);
        let mut blocks = Vec::new();
        for i in 0..10 {
            for j in 0..10 {
                let (x, y) = (i as f64 * 100.0, j as f64 * 100.0);
                blocks.push((rect(x, y, x + 100.0, y + 100.0), rng.random_range(0.0..500.0)));
            }
        }
        let b = BlockCounts::new(blocks);
        for _ in 0..5 {
            let cx = rng.random_range(1.0..999.0);
            let cy = rng.random_range(1.0..999.0);
            let parts = [
                rect(0.0, 0.0, cx, cy),
                rect(cx, 0.0, 1000.0, cy),
                rect(0.0, cy, cx, 1000.0),
                rect(cx, cy, 1000.0, 1000.0),
            ];
            let sum: f64 = b.population(&parts).unwrap().iter().sum();
            approx::assert_relative_eq!(sum, b.total(), max_relative = 1e-9);
        }
    }
}
