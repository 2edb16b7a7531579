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
    let union = bridge_cracks(geo::unary_union(&snapped), settings.max_crack_width_m);
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

/// Joins parts of a union that run alongside each other within `tolerance`: each stretch of a part's boundary that
/// runs within `tolerance` of another part's boundary gets a thin quad between the two, and the quads join the
/// union.
///
/// Snapping moves vertices only, so where two blocks meet along edges whose vertices do not match (a T-junction on
/// one side, a road drawn twice) a sliver can stay open and the union fall apart into two polygons although the
/// blocks are rook-adjacent — adjacency measures shared boundary with a tolerance. The quads close exactly those
/// slivers, so blocks that adjacency calls connected dissolve into one polygon by construction; parts farther apart
/// than the tolerance stay apart, and the geometry check reports them.
/// How far a bridging quad reaches beyond the two boundaries it joins (metres).
const BRIDGE_MARGIN_M: f64 = 1e-3;

fn bridge_cracks(union: MultiPolygon<f64>, tolerance: f64) -> MultiPolygon<f64> {
    use super::overlap::{alongside, MAX_SIN_SHARED};
    use crate::index::{closest_on_segment, ring_segments};
    if union.0.len() < 2 || tolerance <= 0.0 {
        return union;
    }
    let parts: Vec<MultiPolygon<f64>> = union
        .0
        .iter()
        .map(|p| MultiPolygon::new(vec![p.clone()]))
        .collect();
    let refs: Vec<&MultiPolygon<f64>> = parts.iter().collect();
    let tree = ring_segment_tree(&refs);
    let mut quads = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        for s in ring_segments(part) {
            let length = s.dx().hypot(s.dy());
            for item in tree.locate_in_envelope_intersecting(segment_envelope(s, tolerance)) {
                // Each pair of parts once: the quads from the lower index's segments cover the stretch.
                if item.data <= index {
                    continue;
                }
                let t = *item.geom();
                let Some((from, to)) = alongside(s, t, tolerance, MAX_SIN_SHARED) else {
                    continue;
                };
                let at = |d: f64| s.start + (s.end - s.start) * (d / length);
                let (p0, p1) = (at(from), at(to));
                let (q0, q1) = (closest_on_segment(t, p0), closest_on_segment(t, p1));
                // A millimetre either side, so that parts whose edges coincide (an overlay that left a slit, with
                // the sliver beside it as a second polygon) are overlapped too and merge.
                let normal = Coord {
                    x: -s.dy() / length * BRIDGE_MARGIN_M,
                    y: s.dx() / length * BRIDGE_MARGIN_M,
                };
                let corners: Vec<geo::Point<f64>> = [p0, p1, q0, q1]
                    .iter()
                    .flat_map(|&c| [c + normal, c - normal])
                    .map(geo::Point::from)
                    .collect();
                quads.push(geo::ConvexHull::convex_hull(&geo::MultiPoint::new(corners)));
            }
        }
    }
    if quads.is_empty() {
        return union;
    }
    let mut all: Vec<Polygon<f64>> = union.0;
    all.extend(quads);
    geo::unary_union(&all)
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

    /// Jittered lattice blocks, each nudged independently (cracks and overlaps up to `nudge` metres, as between
    /// blocks from different sources) and each ring running either way.
    fn jittered_blocks(cols: usize, rows: usize, seed: u64, nudge: f64) -> Vec<MultiPolygon<f64>> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut corner = vec![vec![coord! { x: 0.0, y: 0.0 }; rows + 1]; cols + 1];
        for (i, column) in corner.iter_mut().enumerate() {
            for (j, c) in column.iter_mut().enumerate() {
                let inner = |k: usize, n: usize| if k > 0 && k < n { 30.0 } else { 0.0 };
                *c = coord! {
                    x: i as f64 * 200.0 + rng.random_range(-1.0..=1.0) * inner(i, cols),
                    y: j as f64 * 200.0 + rng.random_range(-1.0..=1.0) * inner(j, rows),
                };
            }
        }
        let mut blocks = Vec::new();
        for i in 0..cols {
            for j in 0..rows {
                let mut ring: Vec<Coord<f64>> = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
                    .iter()
                    .map(|&(a, b)| {
                        let c = corner[a][b];
                        coord! { x: c.x + rng.random_range(-nudge..=nudge), y: c.y + rng.random_range(-nudge..=nudge) }
                    })
                    .collect();
                if rng.random_bool(0.5) {
                    ring.reverse();
                }
                ring.push(ring[0]);
                let mut g = geo::Geometry::Polygon(Polygon::new(LineString::from(ring), vec![]));
                crate::io::orient_geometry(&mut g);
                if let geo::Geometry::Polygon(p) = g {
                    blocks.push(MultiPolygon::new(vec![p]));
                }
            }
        }
        blocks
    }

    /// The case the property test first found (seed 302): an overlay left a slit with the sliver beside it as a
    /// second polygon; kept as a plain test so that it runs whatever proptest draws.
    #[test]
    fn slit_and_sliver_left_by_the_overlay_are_joined() {
        let blocks = jittered_blocks(6, 6, 302, 0.45);
        let refs: Vec<&MultiPolygon<f64>> = [3usize, 2, 8, 7, 14, 9, 10, 6, 16]
            .iter()
            .map(|&b| &blocks[b])
            .collect();
        assert_eq!(dissolve(&refs).0.len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]
        /// Regression (trust issue, 华漕镇): rook-adjacent blocks dissolved into a two-part unit. Any set of blocks
        /// that `adjacency` calls connected dissolves into one polygon.
        #[test]
        fn rook_connected_blocks_dissolve_into_one_polygon(seed in 0u64..10_000, start in 0usize..36, size in 2usize..14) {
            use rand::{Rng, SeedableRng};
            let blocks = jittered_blocks(6, 6, seed, 0.45);
            let graph = crate::blocks::adjacency(&blocks, 10.0, &[], 30.0);
            // Grow a connected set through the adjacency graph.
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
            let mut chosen = vec![start];
            while chosen.len() < size {
                let frontier: Vec<usize> = chosen
                    .iter()
                    .flat_map(|&b| graph.neighbours[b].iter().copied())
                    .filter(|n| !chosen.contains(n))
                    .collect();
                if frontier.is_empty() {
                    break;
                }
                chosen.push(frontier[rng.random_range(0..frontier.len())]);
            }
            let refs: Vec<&MultiPolygon<f64>> = chosen.iter().map(|&b| &blocks[b]).collect();
            let unit = dissolve(&refs);
            proptest::prop_assert_eq!(unit.0.len(), 1, "blocks {:?} (seed {}) gave {} parts", chosen, seed, unit.0.len());
            // Cracks closed and overlaps counted once change the area by at most a crack's width along the blocks'
            // boundaries.
            let sum: f64 = refs.iter().map(|b| b.unsigned_area()).sum();
            let boundary: f64 = refs.iter().flat_map(|b| crate::index::ring_segments(b)).map(|s| Euclidean.length(&s)).sum();
            proptest::prop_assert!((unit.unsigned_area() - sum).abs() <= boundary * 1.0, "area {} vs {}", unit.unsigned_area(), sum);
        }
    }
}
