//! Closing the gaps in a line network before it is used to cut blocks.
//!
//! Road and river layers are drawn for display, not for topology: ways stop a few metres short of the road they
//! join, or end where the mapper stopped. A line that does not meet another line cuts nothing (see
//! [`derive_blocks`](super::derive_blocks)), so one missing metre can merge two blocks. The cleaning follows GRASS
//! `v.clean` (`snap`, then extending dangles): each *dangling* end — one inside the town that touches no other line
//! and not the town boundary — is first joined to the nearest endpoint or line within the snap tolerance; failing
//! that, it is extended straight on, along its last segment, until it meets a line or the town boundary, if that
//! happens within the maximum extension. Otherwise it is left dangling.
//!
//! The input geometry is never moved: every joining or extending piece is a new segment in
//! [`CleanedLines::inferred`], so that it can be published as its own layer, marked as inferred rather than
//! surveyed, and a boundary that follows only an inferred piece can be reported as less clear.

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{
    Coord, Distance, Euclidean, Intersects, Line, LineString, MultiPolygon, Point, RemoveRepeatedPoints,
};
use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::index::{segment_envelope, SegmentTree};

/// Ends closer than this (metres) to another line are already joined to it; source layers share nodes exactly, so
/// this only absorbs coordinate round-off.
const NODE_TOLERANCE_M: f64 = 1e-3;

/// How far an added segment continues past the line it meets (metres). Ending *exactly* on a line is fragile once
/// coordinates are rounded to the overlay's grid; crossing it by a centimetre makes a proper intersection, and the
/// centimetre beyond is a dangling stub that cuts nothing.
const OVERSHOOT_M: f64 = 0.01;

/// How the line network is cleaned. Distances in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanSettings {
    /// A dangling end this close to another line's endpoint, another line, or the town boundary is joined to it.
    pub snap_tolerance_m: f64,
    /// A dangling end is extended straight on by at most this much to meet a line or the town boundary.
    pub max_extension_m: f64,
}

impl Default for CleanSettings {
    fn default() -> Self {
        CleanSettings {
            snap_tolerance_m: 15.0,
            max_extension_m: 300.0,
        }
    }
}

/// The result of [`clean_lines`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanedLines {
    /// The input lines, in input order, with repeated vertices removed and otherwise unchanged.
    pub lines: Vec<LineString<f64>>,
    /// Two-point segments added to join (snap) or extend dangling ends; cut blocks with `lines` and these together.
    pub inferred: Vec<LineString<f64>>,
    /// Line ends inside the town still dangling after cleaning (nothing within reach): worth a look in QA.
    pub dangling: Vec<Coord<f64>>,
}

impl CleanedLines {
    /// The surveyed lines followed by the inferred segments: the network to cut blocks with.
    pub fn network(&self) -> Vec<LineString<f64>> {
        self.lines.iter().chain(&self.inferred).cloned().collect()
    }

    /// Total length of the inferred segments (metres), for the tests' reports.
    #[cfg(test)]
    pub fn inferred_length(&self) -> f64 {
        self.inferred
            .iter()
            .map(|line| line.lines().map(line_length).sum::<f64>())
            .sum()
    }
}

/// What an indexed segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Owner {
    Line { line: usize, segment: usize },
    Boundary,
}

/// A line end inside the town.
#[derive(Debug, Clone, Copy)]
struct End {
    line: usize,
    /// Index of the line's segment this end belongs to (its first or last segment).
    segment: usize,
    point: Coord<f64>,
    /// Unit vector pointing out of the line, along its end segment.
    outward: Coord<f64>,
}

/// Joins and extends the dangling ends of `lines` inside `town`.
///
/// ```
/// use bmu::blocks::{clean_lines, derive_blocks, CleanSettings};
/// use geo::{line_string, polygon, MultiPolygon};
/// let town = MultiPolygon::new(vec![polygon![(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 1000.0), (x: 0.0, y: 1000.0)]]);
/// // A road across the town that stops 40 m short of the east boundary.
/// let road = line_string![(x: -10.0, y: 500.0), (x: 960.0, y: 500.0)];
/// let cleaned = clean_lines(&[road], &town, &CleanSettings::default());
/// assert_eq!(cleaned.inferred.len(), 1);
/// assert_eq!(derive_blocks(&town, &cleaned.network(), 1.0).unwrap().len(), 2);
/// ```
pub fn clean_lines(
    lines: &[LineString<f64>],
    town: &MultiPolygon<f64>,
    settings: &CleanSettings,
) -> CleanedLines {
    let lines: Vec<LineString<f64>> = lines.iter().map(|line| line.remove_repeated_points()).collect();
    let usable = |line: &LineString<f64>| {
        line.0.len() >= 2 && line.coords().all(|c| c.x.is_finite() && c.y.is_finite())
    };
    let tree = network_tree(&lines, town, &usable);

    let ends: Vec<End> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| usable(line) && !line.is_closed())
        .flat_map(|(index, line)| line_ends(index, line))
        .filter(|end| town.intersects(&Point::from(end.point)))
        .collect();
    let mut open: Vec<bool> = ends.iter().map(|end| !is_joined(end, &tree)).collect();
    let end_tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        ends.iter()
            .enumerate()
            .map(|(index, end)| GeomWithData::new([end.point.x, end.point.y], index))
            .collect(),
    );

    let mut inferred = Vec::new();
    let snap = settings.snap_tolerance_m.max(0.0);
    let reach = settings.max_extension_m.max(0.0);
    for index in 0..ends.len() {
        if !open[index] {
            continue;
        }
        let end = ends[index];
        if snap > 0.0 {
            if let Some(other) = nearest_end(index, &ends, &end_tree, &lines, snap) {
                inferred.push(LineString::new(vec![end.point, ends[other].point]));
                open[index] = false;
                open[other] = false;
                continue;
            }
            if let Some(target) = nearest_on_network(&end, &tree, snap) {
                inferred.push(LineString::new(vec![
                    end.point,
                    past(end.point, target, OVERSHOOT_M),
                ]));
                open[index] = false;
                continue;
            }
        }
        if reach > 0.0 {
            if let Some(distance) = first_hit(&end, &tree, reach) {
                let tip = end.point + end.outward * (distance + OVERSHOOT_M);
                inferred.push(LineString::new(vec![end.point, tip]));
                open[index] = false;
            }
        }
    }
    let dangling = ends
        .iter()
        .zip(&open)
        .filter(|(_, &still_open)| still_open)
        .map(|(end, _)| end.point)
        .collect();
    CleanedLines {
        lines,
        inferred,
        dangling,
    }
}

fn network_tree(
    lines: &[LineString<f64>],
    town: &MultiPolygon<f64>,
    usable: &dyn Fn(&LineString<f64>) -> bool,
) -> SegmentTree<Owner> {
    let line_items = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| usable(line))
        .flat_map(|(line, ls)| {
            ls.lines()
                .enumerate()
                .map(move |(segment, geometry)| GeomWithData::new(geometry, Owner::Line { line, segment }))
        });
    let boundary_items = town
        .iter()
        .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
        .flat_map(|ring| ring.lines())
        .filter(|segment| segment.start != segment.end)
        .map(|segment| GeomWithData::new(segment, Owner::Boundary));
    RTree::bulk_load(line_items.chain(boundary_items).collect())
}

fn line_ends(index: usize, line: &LineString<f64>) -> Vec<End> {
    let coords = &line.0;
    let n = coords.len();
    let outward = |from: Coord<f64>, to: Coord<f64>| {
        let delta = to - from;
        delta / delta.x.hypot(delta.y)
    };
    vec![
        End {
            line: index,
            segment: 0,
            point: coords[0],
            outward: outward(coords[1], coords[0]),
        },
        End {
            line: index,
            segment: n - 2,
            point: coords[n - 1],
            outward: outward(coords[n - 2], coords[n - 1]),
        },
    ]
}

fn is_own_segment(end: &End, owner: Owner) -> bool {
    owner
        == Owner::Line {
            line: end.line,
            segment: end.segment,
        }
}

/// Whether the end already touches another line (or another part of its own) or the town boundary.
fn is_joined(end: &End, tree: &SegmentTree<Owner>) -> bool {
    tree.locate_within_distance(Point::from(end.point), NODE_TOLERANCE_M * NODE_TOLERANCE_M)
        .any(|item| !is_own_segment(end, item.data))
}

/// The nearest other line end within `tolerance`, dangling or not. A line's own other end qualifies only when the
/// line is long enough that joining them closes a loop rather than folding the line back on itself.
fn nearest_end(
    index: usize,
    ends: &[End],
    end_tree: &RTree<GeomWithData<[f64; 2], usize>>,
    lines: &[LineString<f64>],
    tolerance: f64,
) -> Option<usize> {
    let end = ends[index];
    let query = [end.point.x, end.point.y];
    end_tree
        .nearest_neighbor_iter_with_distance_2(query)
        .take_while(|(_, distance_2)| *distance_2 <= tolerance * tolerance)
        .map(|(item, _)| item.data)
        .filter(|&other| other != index)
        .find(|&other| {
            ends[other].line != end.line
                || lines[end.line].lines().map(line_length).sum::<f64>() > 3.0 * tolerance
        })
}

/// The nearest point within `tolerance` on another line or the town boundary.
fn nearest_on_network(end: &End, tree: &SegmentTree<Owner>, tolerance: f64) -> Option<Coord<f64>> {
    tree.locate_within_distance(Point::from(end.point), tolerance * tolerance)
        .filter(|item| match item.data {
            Owner::Line { line, .. } => line != end.line,
            Owner::Boundary => true,
        })
        .map(|item| crate::index::closest_on_segment(*item.geom(), end.point))
        .min_by(|a, b| distance(end.point, *a).total_cmp(&distance(end.point, *b)))
}

/// Distance along the end's outward ray to the first line or boundary it meets, if within `reach`.
fn first_hit(end: &End, tree: &SegmentTree<Owner>, reach: f64) -> Option<f64> {
    let ray = Line::new(end.point, end.point + end.outward * reach);
    tree.locate_in_envelope_intersecting(segment_envelope(ray, 0.0))
        .filter(|item| !is_own_segment(end, item.data))
        .filter_map(|item| match line_intersection(ray, *item.geom())? {
            LineIntersection::SinglePoint { intersection, .. } => Some(distance(end.point, intersection)),
            LineIntersection::Collinear { intersection } => {
                Some(distance(end.point, intersection.start).min(distance(end.point, intersection.end)))
            }
        })
        .filter(|&d| d > NODE_TOLERANCE_M)
        .min_by(f64::total_cmp)
}

/// `to`, moved `by` further along the direction from `from` (or `to` itself when the two coincide).
fn past(from: Coord<f64>, to: Coord<f64>, by: f64) -> Coord<f64> {
    let length = distance(from, to);
    if length == 0.0 {
        return to;
    }
    to + (to - from) * (by / length)
}

fn distance(a: Coord<f64>, b: Coord<f64>) -> f64 {
    Euclidean.distance(Point::from(a), Point::from(b))
}

fn line_length(segment: Line<f64>) -> f64 {
    segment.dx().hypot(segment.dy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::derive_blocks;
    use geo::{line_string, polygon};

    fn town() -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 2000.0, y: 0.0), (x: 2000.0, y: 2000.0), (x: 0.0, y: 2000.0)
        ]])
    }

    #[test]
    fn end_20_m_short_is_extended_and_splits() {
        let lines = [
            line_string![(x: 1000.0, y: -100.0), (x: 1000.0, y: 2100.0)],
            // Runs east from the west boundary and stops 20 m short of the middle road.
            line_string![(x: -100.0, y: 800.0), (x: 500.0, y: 800.0), (x: 980.0, y: 800.0)],
        ];
        assert_eq!(derive_blocks(&town(), &lines, 100.0).unwrap().len(), 2);
        let cleaned = clean_lines(&lines, &town(), &CleanSettings::default());
        assert_eq!(cleaned.lines, lines.to_vec());
        assert_eq!(cleaned.inferred.len(), 1);
        let extension = &cleaned.inferred[0];
        assert_eq!(extension.0[0], Coord { x: 980.0, y: 800.0 });
        assert!((extension.0[1].x - 1000.0).abs() <= OVERSHOOT_M + 1e-9);
        assert!((cleaned.inferred_length() - 20.0).abs() <= OVERSHOOT_M + 1e-9);
        let blocks = derive_blocks(&town(), &cleaned.network(), 100.0).unwrap();
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn near_ends_snap_and_far_ends_stay_dangling() {
        let lines = [
            // Two halves of a road with a 6 m gap: snapped end to end, not extended.
            line_string![(x: -100.0, y: 500.0), (x: 997.0, y: 500.0)],
            line_string![(x: 1003.0, y: 500.0), (x: 2100.0, y: 500.0)],
            // Ends 10 m below the road above: snapped onto it rather than extended.
            line_string![(x: 300.0, y: 0.0), (x: 290.0, y: 490.0)],
            // A cul-de-sac 600 m from anything: left alone.
            line_string![(x: 1500.0, y: 1000.0), (x: 1500.0, y: 1300.0)],
        ];
        let cleaned = clean_lines(&lines, &town(), &CleanSettings::default());
        assert_eq!(cleaned.inferred.len(), 2, "{:?}", cleaned.inferred);
        assert_eq!(
            cleaned.dangling,
            vec![Coord { x: 1500.0, y: 1000.0 }, Coord { x: 1500.0, y: 1300.0 }]
        );
        assert_eq!(
            cleaned.inferred[0],
            line_string![(x: 997.0, y: 500.0), (x: 1003.0, y: 500.0)]
        );
        assert_eq!(cleaned.inferred[1].0[0], Coord { x: 290.0, y: 490.0 });
        let blocks = derive_blocks(&town(), &cleaned.network(), 100.0).unwrap();
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn extension_stops_at_the_town_boundary_and_respects_the_limit() {
        let lines = [line_string![(x: 1000.0, y: 2100.0), (x: 1000.0, y: 250.0)]];
        let cleaned = clean_lines(&lines, &town(), &CleanSettings::default());
        assert_eq!(cleaned.inferred.len(), 1);
        assert!((cleaned.inferred[0].0[1].y - 0.0).abs() <= OVERSHOOT_M + 1e-9);
        assert_eq!(
            derive_blocks(&town(), &cleaned.network(), 100.0).unwrap().len(),
            2
        );

        let short = CleanSettings {
            max_extension_m: 200.0,
            ..CleanSettings::default()
        };
        assert!(clean_lines(&lines, &town(), &short).inferred.is_empty());
    }

    #[test]
    fn joined_network_gains_nothing() {
        let lines = [
            line_string![(x: 1000.0, y: -100.0), (x: 1000.0, y: 2100.0)],
            line_string![(x: 1000.0, y: 700.0), (x: 2100.0, y: 700.0)],
            line_string![(x: 1000.0, y: 700.0), (x: -50.0, y: 1200.0)],
        ];
        assert!(clean_lines(&lines, &town(), &CleanSettings::default())
            .inferred
            .is_empty());
    }
}
