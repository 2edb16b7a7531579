//! Blocks from a town polygon and the lines that cut it.
//!
//! The town is sliced by its roads, rivers, canals and railways with `i_overlay`'s `slice_by`, which nodes every
//! line against every other line and against the town boundary on an integer grid and keeps only the faces of the
//! resulting planar graph: a line that does not reach from boundary to boundary (a *dangling* line) leaves no face
//! behind and so does not split anything. The faces partition the town exactly. Faces smaller than the minimum
//! block area (slivers between dual carriageways, corners cut by slip roads) are then merged, smallest first, into
//! the neighbour they share the longest edge with — the neighbour they most plausibly belong to.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use geo::{Area, LineString, MultiPolygon, Polygon, Validation};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::float::slice::FloatSlice;

use super::adjacency::adjacency_with_tolerance;
use crate::{Error, Result};

/// Tolerance for edges shared by faces of one slicing (metres): they coincide up to the overlay's integer grid, but
/// one face may keep a vertex its neighbour dropped as collinear.
const FACE_EDGE_TOLERANCE_M: f64 = 0.01;

/// Cuts `town` along `lines` into blocks, merging blocks under `min_block_area_m2` into their neighbours.
///
/// Lines may run outside the town (they are clipped) and need not be noded. Lines that end without meeting
/// another line or the boundary do not split; run [`clean_lines`](super::clean_lines) first to close such gaps.
/// The blocks' areas add up to the town's area (to about 1e-9 relative; the overlay rounds to an integer grid).
///
/// Errors on a town that is empty, not finite or not a valid polygon, and on a negative or non-finite minimum area.
///
/// ```
/// use bmu::blocks::derive_blocks;
/// use geo::{line_string, polygon, Area, MultiPolygon};
/// let town = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 2000.0, y: 0.0), (x: 2000.0, y: 2000.0), (x: 0.0, y: 2000.0)]]);
/// let road = line_string![(x: 1000.0, y: -10.0), (x: 1000.0, y: 2010.0)];
/// let blocks = derive_blocks(&town, &[road], 1.0).unwrap();
/// assert_eq!(blocks.len(), 2);
/// assert!((blocks.iter().map(|b| b.unsigned_area()).sum::<f64>() - 4.0e6).abs() < 1e-3);
/// ```
pub fn derive_blocks(
    town: &MultiPolygon<f64>,
    lines: &[LineString<f64>],
    min_block_area_m2: f64,
) -> Result<Vec<Polygon<f64>>> {
    check_town(town)?;
    if !(min_block_area_m2.is_finite() && min_block_area_m2 >= 0.0) {
        return Err(Error::input(
            "deriving blocks",
            format!("minimum block area must be a finite number of m² ≥ 0, got {min_block_area_m2}"),
        ));
    }
    let faces = slice(town, lines);
    Ok(merge_slivers(faces, min_block_area_m2))
}

fn check_town(town: &MultiPolygon<f64>) -> Result<()> {
    let context = "town polygon";
    if town.0.is_empty() || town.unsigned_area() <= 0.0 {
        return Err(Error::input(context, "is empty or has zero area"));
    }
    let finite = town
        .iter()
        .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
        .flat_map(|ring| ring.coords())
        .all(|c| c.x.is_finite() && c.y.is_finite());
    if !finite {
        return Err(Error::input(context, "has non-finite coordinates"));
    }
    if let Err(problems) = town.check_validation() {
        return Err(Error::input(
            context,
            format!("is not a valid polygon: {problems}"),
        ));
    }
    Ok(())
}

/// Faces of the town cut by the lines, as polygons with holes.
fn slice(town: &MultiPolygon<f64>, lines: &[LineString<f64>]) -> Vec<Polygon<f64>> {
    let shapes: Vec<Vec<Vec<[f64; 2]>>> = town
        .iter()
        .map(|polygon| {
            std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .map(open_ring)
                .collect()
        })
        .collect();
    let paths: Vec<Vec<[f64; 2]>> = lines
        .iter()
        .filter(|line| line.0.len() >= 2 && line.coords().all(|c| c.x.is_finite() && c.y.is_finite()))
        .map(|line| line.coords().map(|c| [c.x, c.y]).collect())
        .collect();
    if paths.is_empty() {
        return town.0.clone();
    }
    // Even-odd: the town's rings may come in either orientation; a valid polygon means the same under both rules.
    let faces = shapes.slice_by(&paths, FillRule::EvenOdd);
    faces
        .into_iter()
        .filter_map(|contours| {
            let mut rings = contours.into_iter().map(closed_ring);
            let exterior = rings.next()?;
            Some(Polygon::new(exterior, rings.collect()))
        })
        .collect()
}

fn open_ring(ring: &LineString<f64>) -> Vec<[f64; 2]> {
    let mut points: Vec<[f64; 2]> = ring.coords().map(|c| [c.x, c.y]).collect();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    points
}

fn closed_ring(points: Vec<[f64; 2]>) -> LineString<f64> {
    let mut ring: LineString<f64> = points.into_iter().map(|[x, y]| (x, y)).collect();
    ring.close();
    ring
}

/// Merges faces under `min_area` into the neighbour with the longest shared edge, smallest first.
///
/// Works on groups (union-find style) so that shared lengths are computed once: a group's shared length with
/// another group is the sum over its members. A face with no neighbour (a small island part of the town) is kept.
fn merge_slivers(faces: Vec<Polygon<f64>>, min_area: f64) -> Vec<Polygon<f64>> {
    let areas: Vec<f64> = faces.iter().map(|face| face.unsigned_area()).collect();
    if !areas.iter().any(|&area| area < min_area) {
        return faces;
    }
    let multis: Vec<MultiPolygon<f64>> = faces
        .iter()
        .map(|face| MultiPolygon::new(vec![face.clone()]))
        .collect();
    let refs: Vec<&MultiPolygon<f64>> = multis.iter().collect();
    let graph = adjacency_with_tolerance(&refs, 0.0, &[], 0.0, FACE_EDGE_TOLERANCE_M);

    // group id -> (area, members, neighbour group -> shared length); a group's id is its smallest member.
    let mut area = areas.clone();
    let mut members: Vec<Vec<usize>> = (0..faces.len()).map(|i| vec![i]).collect();
    let mut shared: Vec<BTreeMap<usize, f64>> = (0..faces.len())
        .map(|i| {
            graph.neighbours[i]
                .iter()
                .copied()
                .zip(graph.shared_length[i].iter().copied())
                .collect()
        })
        .collect();
    let mut alive = vec![true; faces.len()];
    // Min-heap by area (bits of a non-negative f64 order like the number); stale entries are skipped on pop.
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> = (0..faces.len())
        .filter(|&i| area[i] < min_area)
        .map(|i| Reverse((area[i].to_bits(), i)))
        .collect();
    while let Some(Reverse((bits, small))) = queue.pop() {
        if !alive[small] || area[small].to_bits() != bits || area[small] >= min_area {
            continue;
        }
        // Longest shared edge; ties go to the lower index for determinism.
        let Some(target) = shared[small]
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(&group, _)| group)
        else {
            continue;
        };
        alive[small] = false;
        let moved = std::mem::take(&mut members[small]);
        members[target].extend(moved);
        area[target] += area[small];
        let links = std::mem::take(&mut shared[small]);
        for (other, length) in links {
            shared[other].remove(&small);
            if other != target {
                *shared[target].entry(other).or_default() += length;
                *shared[other].entry(target).or_default() += length;
            }
        }
        if area[target] < min_area {
            queue.push(Reverse((area[target].to_bits(), target)));
        }
    }

    let mut faces: Vec<Option<Polygon<f64>>> = faces.into_iter().map(Some).collect();
    let mut blocks = Vec::new();
    for (group, group_members) in members.iter().enumerate() {
        if !alive[group] {
            continue;
        }
        if let [only] = group_members.as_slice() {
            if let Some(face) = faces[*only].take() {
                blocks.push(face);
            }
            continue;
        }
        let parts: Vec<Polygon<f64>> = group_members.iter().filter_map(|&i| faces[i].take()).collect();
        blocks.extend(geo::unary_union(&parts));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, polygon};

    fn square_town(size: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: size, y: 0.0), (x: size, y: size), (x: 0.0, y: size)
        ]])
    }

    fn total_area(blocks: &[Polygon<f64>]) -> f64 {
        blocks.iter().map(|block| block.unsigned_area()).sum()
    }

    #[test]
    fn cross_cuts_square_into_four() {
        let town = square_town(2000.0);
        let lines = [
            line_string![(x: 1000.0, y: -100.0), (x: 1000.0, y: 2100.0)],
            line_string![(x: -100.0, y: 1000.0), (x: 2100.0, y: 1000.0)],
        ];
        let blocks = derive_blocks(&town, &lines, 1000.0).unwrap();
        assert_eq!(blocks.len(), 4);
        for block in &blocks {
            assert!((block.unsigned_area() - 1.0e6).abs() < 1e-3);
        }
        let town_area = town.unsigned_area();
        assert!((total_area(&blocks) - town_area).abs() / town_area < 1e-6);
    }

    #[test]
    fn dangling_line_does_not_split() {
        let town = square_town(2000.0);
        let lines = [
            line_string![(x: 1000.0, y: -100.0), (x: 1000.0, y: 2100.0)],
            // From the middle road towards, but short of, the east boundary.
            line_string![(x: 1000.0, y: 500.0), (x: 1900.0, y: 500.0)],
            // Entirely inside, touching nothing.
            line_string![(x: 200.0, y: 200.0), (x: 600.0, y: 600.0)],
        ];
        let blocks = derive_blocks(&town, &lines, 1000.0).unwrap();
        assert_eq!(blocks.len(), 2);
        for block in &blocks {
            assert!((block.unsigned_area() - 2.0e6).abs() < 1e-3);
            assert!(block.is_valid());
        }
    }

    #[test]
    fn sliver_merges_into_longest_shared_edge_neighbour() {
        let town = square_town(2000.0);
        let lines = [
            line_string![(x: 1000.0, y: -100.0), (x: 1000.0, y: 2100.0)],
            // A dual carriageway: the 10 m strip between x = 1000 and 1010 is a sliver. A road east of it splits
            // the east half, so the strip shares 2000 m with the west block but only 1000 m with each east block.
            line_string![(x: 1010.0, y: -100.0), (x: 1010.0, y: 2100.0)],
            line_string![(x: 1010.0, y: 1000.0), (x: 2100.0, y: 1000.0)],
        ];
        let raw = derive_blocks(&town, &lines, 0.0).unwrap();
        assert_eq!(raw.len(), 4);
        let blocks = derive_blocks(&town, &lines, 50_000.0).unwrap();
        assert_eq!(blocks.len(), 3);
        let mut areas: Vec<f64> = blocks.iter().map(|b| b.unsigned_area()).collect();
        areas.sort_by(f64::total_cmp);
        // The strip (20,000 m²) joins the west block (2,000,000 m²), not either east block (~990,000 m²).
        assert!((areas[2] - 2_020_000.0).abs() < 1e-3, "{areas:?}");
        assert!((total_area(&blocks) - 4.0e6).abs() < 1e-3);
        for block in &blocks {
            assert!(block.interiors().is_empty());
        }
    }

    #[test]
    fn town_with_hole_and_no_lines() {
        let town = MultiPolygon::new(vec![Polygon::new(
            line_string![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0), (x: 0.0, y: 0.0)],
            vec![
                line_string![(x: 40.0, y: 40.0), (x: 60.0, y: 40.0), (x: 60.0, y: 60.0), (x: 40.0, y: 60.0), (x: 40.0, y: 40.0)],
            ],
        )]);
        let blocks = derive_blocks(&town, &[], 0.0).unwrap();
        assert_eq!(blocks.len(), 1);
        let cut = derive_blocks(
            &town,
            &[line_string![(x: 50.0, y: -1.0), (x: 50.0, y: 101.0)]],
            0.0,
        )
        .unwrap();
        assert_eq!(cut.len(), 2);
        assert!((total_area(&cut) - 9600.0).abs() < 1e-6);
    }

    #[test]
    fn random_lines_partition_the_town() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let town = MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 3000.0, y: 200.0), (x: 2800.0, y: 2600.0), (x: 1500.0, y: 3000.0), (x: -200.0, y: 2400.0)
        ]]);
        let lines: Vec<LineString<f64>> = (0..40)
            .map(|_| {
                let mut point = || (rng.random_range(-300.0..3300.0), rng.random_range(-300.0..3300.0));
                LineString::from(vec![point(), point(), point()])
            })
            .collect();
        let town_area = town.unsigned_area();
        for min_area in [0.0, 20_000.0] {
            let blocks = derive_blocks(&town, &lines, min_area).unwrap();
            assert!(blocks.len() > 20);
            assert!((total_area(&blocks) - town_area).abs() / town_area < 1e-6);
            if min_area > 0.0 {
                assert!(blocks.iter().all(|b| b.unsigned_area() >= min_area));
            }
        }
    }

    #[test]
    fn impossible_inputs_are_errors() {
        assert!(derive_blocks(&MultiPolygon::new(vec![]), &[], 0.0).is_err());
        assert!(derive_blocks(&square_town(10.0), &[], f64::NAN).is_err());
        let bowtie = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)],
        ]);
        assert!(derive_blocks(&bowtie, &[], 0.0).is_err());
    }
}
