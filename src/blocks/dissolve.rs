//! One clean polygon from a set of blocks.
//!
//! Blocks from independent sources nearly touch: their shared boundaries are a few decimetres apart, so a plain
//! union leaves hairline cracks (as holes, or as slits splitting the unit) and slivers of overlap. Following the
//! snap-then-overlay approach of JTS/GEOS `SnappingNoder`, every vertex within the crack width of another block's
//! boundary is first moved onto that boundary, so near-coincident edges become coincident; the union is then taken
//! and holes that are small or thin (cracks rather than enclaves) are dropped. The 100 m² default matches the
//! partition gap/overlap tolerance of `shared/policy/RULES.md`.

use geo::{Area, Coord, Euclidean, Length, LineString, MultiPolygon, Polygon};

use crate::index::{ring_segment_tree, segment_envelope};

/// How [`dissolve_with`] cleans the union.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DissolveSettings {
    /// Vertices this close (metres) to another block's boundary are snapped onto it; also the mean width under
    /// which a hole counts as a crack and is filled.
    pub max_crack_width_m: f64,
    /// Holes smaller than this (m²) are filled whatever their shape.
    pub max_hole_area_m2: f64,
}

impl Default for DissolveSettings {
    fn default() -> Self {
        DissolveSettings {
            max_crack_width_m: 1.0,
            max_hole_area_m2: 100.0,
        }
    }
}

/// Union of `blocks` with cracks between nearly touching blocks closed and small holes filled
/// (default [`DissolveSettings`]).
///
/// ```
/// use bmu::blocks::dissolve;
/// use geo::{polygon, MultiPolygon};
/// let a = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)]]);
/// // 0.2 m away from `a`: still one unit.
/// let b = MultiPolygon::new(vec![polygon![(x: 10.2, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 10.0), (x: 10.2, y: 10.0)]]);
/// assert_eq!(dissolve(&[&a, &b]).0.len(), 1);
/// ```
pub fn dissolve(blocks: &[&MultiPolygon<f64>]) -> MultiPolygon<f64> {
    dissolve_with(blocks, &DissolveSettings::default())
}

/// [`dissolve`] with explicit settings.
pub fn dissolve_with(blocks: &[&MultiPolygon<f64>], settings: &DissolveSettings) -> MultiPolygon<f64> {
    let snapped: Vec<MultiPolygon<f64>> = if settings.max_crack_width_m > 0.0 && blocks.len() > 1 {
        snap_to_neighbours(blocks, settings.max_crack_width_m)
    } else {
        blocks.iter().map(|&block| block.clone()).collect()
    };
    let union = geo::unary_union(&snapped);
    MultiPolygon::new(
        union
            .into_iter()
            .map(|polygon| {
                let (exterior, holes) = polygon.into_inner();
                let kept = holes
                    .into_iter()
                    .filter(|hole| !is_crack(hole, settings))
                    .collect();
                Polygon::new(exterior, kept)
            })
            .collect(),
    )
}

fn is_crack(hole: &LineString<f64>, settings: &DissolveSettings) -> bool {
    let area = Polygon::new(hole.clone(), vec![]).unsigned_area();
    let perimeter = Euclidean.length(hole);
    // Mean width of a long thin shape is area / half the perimeter.
    area < settings.max_hole_area_m2
        || (perimeter > 0.0 && 2.0 * area / perimeter < settings.max_crack_width_m)
}

/// Each block with its vertices moved onto the nearest other block's boundary when within `tolerance`.
fn snap_to_neighbours(blocks: &[&MultiPolygon<f64>], tolerance: f64) -> Vec<MultiPolygon<f64>> {
    let tree = ring_segment_tree(blocks);
    let snap = |index: usize, c: Coord<f64>| -> Coord<f64> {
        let probe = geo::Line::new(c, c);
        tree.locate_in_envelope_intersecting(segment_envelope(probe, tolerance))
            .filter(|item| item.data != index)
            .map(|item| crate::index::closest_on_segment(*item.geom(), c))
            .map(|p| (p, (p.x - c.x).hypot(p.y - c.y)))
            .filter(|&(_, d)| d <= tolerance)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(c, |(p, _)| p)
    };
    blocks
        .iter()
        .enumerate()
        .map(|(index, block)| {
            let ring = |ring: &LineString<f64>| -> LineString<f64> {
                ring.coords().map(|&c| snap(index, c)).collect()
            };
            MultiPolygon::new(
                block
                    .iter()
                    .map(|polygon| {
                        Polygon::new(
                            ring(polygon.exterior()),
                            polygon.interiors().iter().map(ring).collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, Rect};

    fn square(x: f64, y: f64, size: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![Rect::new(
            coord! { x: x, y: y },
            coord! { x: x + size, y: y + size },
        )
        .to_polygon()])
    }

    #[test]
    fn four_touching_squares_are_one_polygon_without_holes() {
        let squares = [
            square(0.0, 0.0, 100.0),
            square(100.0, 0.0, 100.0),
            square(0.0, 100.0, 100.0),
            square(100.0, 100.0, 100.0),
        ];
        let refs: Vec<&MultiPolygon<f64>> = squares.iter().collect();
        let unit = dissolve(&refs);
        assert_eq!(unit.0.len(), 1);
        assert!(unit.0[0].interiors().is_empty());
        assert!((unit.unsigned_area() - 40_000.0).abs() < 1e-6);
    }

    #[test]
    fn hairline_gaps_close_but_real_holes_stay() {
        // A ring of eight 100 m squares around a 100 m hole, each nudged by up to 0.4 m: the cracks between them
        // close, the central hole (an enclave) stays.
        let mut squares = Vec::new();
        for (k, (col, row)) in [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
            .into_iter()
            .enumerate()
        {
            let nudge = 0.1 * (k % 5) as f64;
            squares.push(square(
                col as f64 * 100.0 + nudge,
                row as f64 * 100.0 - nudge,
                100.0 - nudge,
            ));
        }
        let refs: Vec<&MultiPolygon<f64>> = squares.iter().collect();
        let unit = dissolve(&refs);
        assert_eq!(unit.0.len(), 1, "{unit:?}");
        assert_eq!(unit.0[0].interiors().len(), 1);
        let hole = Polygon::new(unit.0[0].interiors()[0].clone(), vec![]).unsigned_area();
        assert!((hole - 10_000.0).abs() < 200.0, "hole {hole}");
    }
}
