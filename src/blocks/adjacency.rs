//! Which blocks border which, and along how much boundary.
//!
//! Two blocks are *adjacent* (rook contiguity) when they share at least `min_shared_m` of boundary that does not run
//! along a barrier. Touching at a corner is not adjacency. Expressways and railways are barriers because the 2024
//! draft technical standard forbids a unit from straddling them (see `shared/policy/RULES.md`): a shared edge that
//! follows one within `barrier_tolerance_m` does not count, so units built from adjacent blocks never cross it.
//!
//! Shared length is measured with a small tolerance ([`SHARED_EDGE_TOLERANCE_M`]) because blocks from independent
//! sources are not exactly coincident (see [`overlap`](super::overlap)). Candidates come from one bulk-loaded R-tree
//! of every block's ring segments, so each block only looks at segments near its own boundary; blocks are processed
//! in parallel and the result is identical whatever the thread count.

use std::collections::BTreeMap;

use geo::{Line, LineString, MultiPolygon};
use rayon::prelude::*;

use super::overlap::{alongside, intersection_length, merge, total, Interval, MAX_SIN_SHARED};
use crate::index::{line_segment_tree, ring_segment_tree, ring_segments, segment_envelope, SegmentTree};

/// Default distance within which two boundaries count as the same line (metres).
pub const SHARED_EDGE_TOLERANCE_M: f64 = 0.5;

/// `sin` of the widest angle between a boundary segment and a barrier it is said to run along (30°).
const MAX_SIN_BARRIER: f64 = 0.5;

/// Block adjacency as sorted neighbour lists, with the shared boundary length of each pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjacency {
    /// `neighbours[i]`: indices of the blocks adjacent to block `i`, ascending, never `i` itself.
    pub neighbours: Vec<Vec<usize>>,
    /// `shared_length[i][k]`: metres of boundary block `i` shares with `neighbours[i][k]`, *not* counting stretches
    /// along a barrier. Symmetric: the same number is stored for `(i, j)` and `(j, i)`.
    pub shared_length: Vec<Vec<f64>>,
}

impl Adjacency {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.neighbours.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }

    /// Shared length between blocks `i` and `j` when they are adjacent.
    pub fn shared(&self, i: usize, j: usize) -> Option<f64> {
        let neighbours = self.neighbours.get(i)?;
        let k = neighbours.binary_search(&j).ok()?;
        self.shared_length.get(i)?.get(k).copied()
    }

    /// Every adjacent pair once, `i < j`, with its shared length, in ascending order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.neighbours
            .iter()
            .enumerate()
            .flat_map(move |(i, neighbours)| {
                neighbours
                    .iter()
                    .zip(&self.shared_length[i])
                    .filter(move |(&j, _)| j > i)
                    .map(move |(&j, &length)| (i, j, length))
            })
    }

    fn from_pairs(count: usize, pairs: impl IntoIterator<Item = (usize, usize, f64)>) -> Self {
        let mut neighbours = vec![Vec::new(); count];
        let mut shared_length = vec![Vec::new(); count];
        let mut lists: Vec<Vec<(usize, f64)>> = vec![Vec::new(); count];
        for (i, j, length) in pairs {
            lists[i].push((j, length));
            lists[j].push((i, length));
        }
        for (i, mut list) in lists.into_iter().enumerate() {
            list.sort_by_key(|&(j, _)| j);
            neighbours[i] = list.iter().map(|&(j, _)| j).collect();
            shared_length[i] = list.iter().map(|&(_, length)| length).collect();
        }
        Adjacency {
            neighbours,
            shared_length,
        }
    }
}

/// Rook adjacency of `blocks`: pairs sharing at least `min_shared_m` metres of boundary that does not run within
/// `barrier_tolerance_m` of a `barriers` line (expressways, railways).
///
/// ```
/// use bmu::blocks::adjacency;
/// use geo::{polygon, MultiPolygon};
/// let left = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)]]);
/// let right = MultiPolygon::new(vec![polygon![(x: 100.0, y: 0.0), (x: 200.0, y: 0.0), (x: 200.0, y: 100.0), (x: 100.0, y: 100.0)]]);
/// let graph = adjacency(&[left, right], 1.0, &[], 30.0);
/// assert_eq!(graph.neighbours, vec![vec![1], vec![0]]);
/// assert!((graph.shared(0, 1).unwrap() - 100.0).abs() < 1e-9);
/// ```
pub fn adjacency(
    blocks: &[MultiPolygon<f64>],
    min_shared_m: f64,
    barriers: &[LineString<f64>],
    barrier_tolerance_m: f64,
) -> Adjacency {
    let refs: Vec<&MultiPolygon<f64>> = blocks.iter().collect();
    adjacency_with_tolerance(
        &refs,
        min_shared_m,
        barriers,
        barrier_tolerance_m,
        SHARED_EDGE_TOLERANCE_M,
    )
}

/// [`adjacency`] with an explicit shared-edge tolerance (metres).
pub fn adjacency_with_tolerance(
    blocks: &[&MultiPolygon<f64>],
    min_shared_m: f64,
    barriers: &[LineString<f64>],
    barrier_tolerance_m: f64,
    edge_tolerance_m: f64,
) -> Adjacency {
    let tree = ring_segment_tree(blocks);
    let barrier_tree = line_segment_tree(barriers, |_, _| ());
    let pairs: Vec<Vec<(usize, usize, f64)>> = blocks
        .par_iter()
        .enumerate()
        .map(|(i, block)| {
            let mut lengths: BTreeMap<usize, f64> = BTreeMap::new();
            for segment in ring_segments(block) {
                // Each pair is measured once, from the lower index, so the two directions cannot disagree.
                let near = tree
                    .locate_in_envelope_intersecting(segment_envelope(segment, edge_tolerance_m))
                    .filter(|item| item.data > i);
                for (j, length) in segment_shared_lengths(
                    segment,
                    near,
                    edge_tolerance_m,
                    &barrier_tree,
                    barrier_tolerance_m,
                ) {
                    *lengths.entry(j).or_default() += length;
                }
            }
            lengths
                .into_iter()
                .filter(|&(_, length)| length >= min_shared_m && length > 0.0)
                .map(|(j, length)| (i, j, length))
                .collect()
        })
        .collect();
    Adjacency::from_pairs(blocks.len(), pairs.into_iter().flatten())
}

/// For one boundary segment and the other blocks' segments `near` it: the length of `segment` each other block runs
/// alongside, minus the stretches that also run along a barrier.
fn segment_shared_lengths<'a>(
    segment: Line<f64>,
    near: impl Iterator<Item = &'a crate::index::Segment<usize>>,
    edge_tolerance_m: f64,
    barrier_tree: &SegmentTree<()>,
    barrier_tolerance_m: f64,
) -> Vec<(usize, f64)> {
    let mut hits: Vec<(usize, Interval)> = near
        .filter_map(|item| {
            alongside(segment, *item.geom(), edge_tolerance_m, MAX_SIN_SHARED)
                .map(|interval| (item.data, interval))
        })
        .collect();
    if hits.is_empty() {
        return Vec::new();
    }
    let mut barrier: Vec<Interval> = barrier_tree
        .locate_in_envelope_intersecting(segment_envelope(segment, barrier_tolerance_m))
        .filter_map(|item| alongside(segment, *item.geom(), barrier_tolerance_m, MAX_SIN_BARRIER))
        .collect();
    let barrier = merge(&mut barrier);
    hits.sort_by_key(|&(j, _)| j);
    hits.chunk_by(|a, b| a.0 == b.0)
        .map(|group| {
            let mut intervals: Vec<Interval> = group.iter().map(|&(_, interval)| interval).collect();
            let shared = merge(&mut intervals);
            (
                group[0].0,
                total(&shared) - intersection_length(&shared, &barrier),
            )
        })
        .collect()
}

/// Length of `a`'s boundary that runs within `tolerance` of `b`'s boundary, by brute force over all segment pairs.
///
/// This is the pairwise definition [`adjacency`] computes with an index; it is also what a boundary-clarity check
/// needs for a single pair. Measured along `a`, so `shared_boundary_length(a, b)` and `(b, a)` agree to within the
/// tolerance, not exactly. The tests' reference for [`adjacency`].
#[cfg(test)]
pub fn shared_boundary_length(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>, tolerance: f64) -> f64 {
    let others: Vec<Line<f64>> = ring_segments(b).collect();
    ring_segments(a)
        .map(|segment| {
            let mut intervals: Vec<Interval> = others
                .iter()
                .filter_map(|&other| alongside(segment, other, tolerance, MAX_SIN_SHARED))
                .collect();
            total(&merge(&mut intervals))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, line_string, Rect};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn square(x: f64, y: f64, size: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![Rect::new(
            coord! { x: x, y: y },
            coord! { x: x + size, y: y + size },
        )
        .to_polygon()])
    }

    fn grid3() -> Vec<MultiPolygon<f64>> {
        (0..3)
            .flat_map(|row| (0..3).map(move |col| square(col as f64 * 100.0, row as f64 * 100.0, 100.0)))
            .collect()
    }

    #[test]
    fn grid_is_rook_adjacency() {
        let graph = adjacency(&grid3(), 1.0, &[], 30.0);
        for i in 0..9 {
            let (row, col) = (i / 3, i % 3);
            let mut expected = Vec::new();
            if row > 0 {
                expected.push(i - 3);
            }
            if col > 0 {
                expected.push(i - 1);
            }
            if col < 2 {
                expected.push(i + 1);
            }
            if row < 2 {
                expected.push(i + 3);
            }
            assert_eq!(graph.neighbours[i], expected, "block {i}");
            for &length in &graph.shared_length[i] {
                assert!((length - 100.0).abs() < 1e-9);
            }
        }
        assert_eq!(graph.pairs().count(), 12);
    }

    #[test]
    fn nearly_coincident_boundaries_are_adjacent() {
        // A 0.3 m gap, as between blocks digitised independently.
        let blocks = vec![square(0.0, 0.0, 100.0), square(100.3, 20.0, 100.0)];
        let graph = adjacency(&blocks, 1.0, &[], 30.0);
        assert_eq!(graph.neighbours, vec![vec![1], vec![0]]);
        assert!((graph.shared(0, 1).unwrap() - 80.0).abs() < 1e-9);
    }

    #[test]
    fn barrier_along_shared_edge_removes_adjacency() {
        let blocks = grid3();
        // An expressway drawn 5 m off the edge between the two left columns, full height.
        let expressway = line_string![(x: 105.0, y: -50.0), (x: 105.0, y: 350.0)];
        let graph = adjacency(&blocks, 1.0, &[expressway], 30.0);
        for row in 0..3 {
            let (left, middle) = (row * 3, row * 3 + 1);
            assert!(
                !graph.neighbours[left].contains(&middle),
                "row {row} still crosses the barrier"
            );
            assert!(graph.neighbours[middle].contains(&(middle + 1)));
        }
        // A barrier along only half of an edge leaves the other half: 50 m shared.
        let partial = line_string![(x: 200.0, y: 0.0), (x: 200.0, y: 50.0)];
        let graph = adjacency(&blocks, 1.0, &[partial], 1.0);
        assert!((graph.shared(1, 2).unwrap() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn matches_brute_force_on_random_rectangles() {
        let mut rng = ChaCha8Rng::seed_from_u64(20_240_601);
        // Snap corners to a 10 m lattice so that many rectangles share or overlap edges.
        let mut blocks = Vec::new();
        for _ in 0..150 {
            let x = rng.random_range(0..60) as f64 * 10.0;
            let y = rng.random_range(0..60) as f64 * 10.0;
            let w = rng.random_range(1..8) as f64 * 10.0;
            let h = rng.random_range(1..8) as f64 * 10.0;
            blocks.push(MultiPolygon::new(vec![Rect::new(
                coord! { x: x, y: y },
                coord! { x: x + w, y: y + h },
            )
            .to_polygon()]));
        }
        let min_shared = 5.0;
        let graph = adjacency(&blocks, min_shared, &[], 30.0);
        let mut expected = Vec::new();
        for i in 0..blocks.len() {
            for j in i + 1..blocks.len() {
                let length = shared_boundary_length(&blocks[i], &blocks[j], SHARED_EDGE_TOLERANCE_M);
                if length >= min_shared {
                    expected.push((i, j, length));
                }
            }
        }
        let found: Vec<_> = graph.pairs().collect();
        assert!(
            expected.len() > 20,
            "fixture too sparse: {} pairs",
            expected.len()
        );
        assert_eq!(found.len(), expected.len());
        for (f, e) in found.iter().zip(&expected) {
            assert_eq!((f.0, f.1), (e.0, e.1));
            assert!((f.2 - e.2).abs() < 1e-9);
        }
    }

    #[test]
    fn same_result_on_one_and_two_threads() {
        let blocks = grid3();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| adjacency(&blocks, 1.0, &[], 30.0))
        };
        assert_eq!(run(1), run(2));
    }
}
