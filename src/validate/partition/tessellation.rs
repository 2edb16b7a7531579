//! The partition check's fast path: directed-edge cancellation proves, without one overlay per pair or per tile,
//! that units tessellate — no overlap anywhere, and their union's outline as a handful of rings.
//!
//! Every unit polygon's rings are oriented as `geo::orient` does (exterior anticlockwise, holes clockwise) and cut
//! into directed segments. The winding number of a closed chain is linear in the chain, so the sum of the units'
//! chains winds `W(x) = Σ w_P(x)` around any point, where `w_P` is polygon P's own winding number. A segment present
//! once as A→B and once as B→A (exact coordinate equality) adds nothing to that sum and cancels; what is left — the
//! leftover chain — has the same winding number `W` everywhere. Two facts then give the proof:
//!
//! * every unit polygon is *proper*: its rings are simple (adjacent segments meet only at their shared vertex,
//!   others not at all), pairwise disjoint and nested as exterior-and-holes, so `w_P` is 1 inside P and 0 outside
//!   ([`proper`]; a bow tie, a ring touching itself, or a hole outside its shell would allow `w_P = −1` and hide an
//!   overlap behind a cover count that still sums to 1);
//! * the leftover chain links into rings that are proper in the same sense, so `W` is 0 or 1 everywhere.
//!
//! Then no point lies in two unit polygons: no overlap with an area, and the union of the units is exactly the region
//! the leftover rings enclose. When those rings are, segment for segment, the town's own (oriented) rings, there is
//! no gap and no spill either. Otherwise [`super`] overlays that outline — only the perimeter's vertices — with the
//! town for the gaps. Anything the proof cannot vouch for (a segment twice in one direction, a vertex of one unit on
//! another's edge, rings of the leftover that touch) returns `None`, and the check runs its overlay algorithm.

use crate::validate::Unit;
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::line_intersection::{line_intersection, LineIntersection};
use geo::winding_order::WindingOrder;
use geo::{Area, BoundingRect, Coord, Line, LineString, MultiPolygon, Polygon, Rect, Winding};
use rayon::prelude::*;
use std::collections::HashMap;

/// What the cancellation proved about a layer of units.
pub(super) struct Proof {
    /// The region the units cover, once each, as polygons of the leftover rings; `None` when those rings are the
    /// town's own, so that the units cover the town exactly.
    pub outline: Option<MultiPolygon<f64>>,
}

/// A coordinate as its exact bits (−0 folded into 0, which `==` already equates).
type Key = [u64; 2];

fn key(c: Coord<f64>) -> Key {
    [(c.x + 0.0).to_bits(), (c.y + 0.0).to_bits()]
}

fn coord(k: Key) -> Coord<f64> {
    Coord {
        x: f64::from_bits(k[0]),
        y: f64::from_bits(k[1]),
    }
}

/// A closed ring without repeated consecutive points, with its orientation and box.
struct Ring {
    points: Vec<Coord<f64>>,
    ccw: bool,
    bounds: Rect<f64>,
}

impl Ring {
    /// `points` (closed or not) without repeated consecutive points; None when fewer than three distinct points are
    /// left, a coordinate is not finite, or the points all lie on one line (no orientation).
    fn new(points: &[Coord<f64>]) -> Option<Ring> {
        let mut out: Vec<Coord<f64>> = Vec::with_capacity(points.len() + 1);
        for &c in points {
            if !(c.x.is_finite() && c.y.is_finite()) {
                return None;
            }
            if out.last() != Some(&c) {
                out.push(c);
            }
        }
        while out.len() > 1 && out.first() == out.last() {
            out.pop();
        }
        if out.len() < 3 {
            return None;
        }
        out.push(out[0]);
        let line = LineString(out);
        let ccw = match line.winding_order()? {
            WindingOrder::CounterClockwise => true,
            WindingOrder::Clockwise => false,
        };
        let bounds = line.bounding_rect()?;
        Some(Ring {
            points: line.0,
            ccw,
            bounds,
        })
    }

    /// The same ring turned to the given orientation.
    fn turned(mut self, ccw: bool) -> Ring {
        if self.ccw != ccw {
            self.points.reverse();
            self.ccw = ccw;
        }
        self
    }

    fn segments(&self) -> impl Iterator<Item = Line<f64>> + '_ {
        self.points.windows(2).map(|w| Line::new(w[0], w[1]))
    }

    /// The winding number of the ring around `p`, a point on none of its segments (Sunday's crossing rule, with
    /// geo's robust orientation predicate so that a point a hair off an edge is placed on the right side).
    fn winding(&self, p: Coord<f64>) -> i64 {
        if p.x < self.bounds.min().x
            || p.x > self.bounds.max().x
            || p.y < self.bounds.min().y
            || p.y > self.bounds.max().y
        {
            return 0;
        }
        let mut w = 0;
        for s in self.points.windows(2) {
            let (a, b) = (s[0], s[1]);
            if a.y <= p.y {
                if b.y > p.y && RobustKernel::orient2d(a, b, p) == Orientation::CounterClockwise {
                    w += 1;
                }
            } else if b.y <= p.y && RobustKernel::orient2d(a, b, p) == Orientation::Clockwise {
                w -= 1;
            }
        }
        w
    }
}

/// Whether `rings` are simple, pairwise disjoint and nested so that the winding number of their sum is 0 or 1
/// everywhere. Disjoint simple rings split the plane into regions across whose borders the sum changes by exactly
/// one, so it stays within {0, 1} exactly when, at a point of each ring, the other rings wind 0 around it if the ring
/// is anticlockwise (1 on its left, 0 on its right) and 1 if it is clockwise (0 on its left, 1 on its right).
fn proper(rings: &[Ring]) -> bool {
    simple_and_disjoint(rings)
        && rings.iter().enumerate().all(|(i, r)| {
            let p = r.points[0];
            let others: i64 = rings
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, o)| o.winding(p))
                .sum();
            others == if r.ccw { 0 } else { 1 }
        })
}

/// Segment sets up to this size are searched for meeting pairs by a sweep along x; larger ones (a town's or a
/// union's long outline, whose straight north–south runs would make a sweep quadratic) through an R-tree.
const SWEEP_MAX_SEGMENTS: usize = 2_000;

/// No two segments of `rings` meet, except consecutive segments of one ring at their shared vertex (and only there).
fn simple_and_disjoint(rings: &[Ring]) -> bool {
    // (ring, index in ring, segments in ring, segment)
    let segments: Vec<(usize, usize, usize, Line<f64>)> = rings
        .iter()
        .enumerate()
        .flat_map(|(r, ring)| {
            let n = ring.points.len() - 1;
            ring.segments().enumerate().map(move |(i, l)| (r, i, n, l))
        })
        .collect();
    let allowed = |a: usize, b: usize| {
        let ((ra, ia, n, la), (rb, ib, _, lb)) = (segments[a], segments[b]);
        let adjacent = ra == rb && ((ia + 1) % n == ib || (ib + 1) % n == ia);
        match line_intersection(la, lb) {
            None => true,
            Some(LineIntersection::SinglePoint { .. }) => adjacent,
            Some(LineIntersection::Collinear { .. }) => false,
        }
    };
    let bounds = |l: &Line<f64>| {
        [
            l.start.x.min(l.end.x),
            l.start.x.max(l.end.x),
            l.start.y.min(l.end.y),
            l.start.y.max(l.end.y),
        ]
    };
    if segments.len() > SWEEP_MAX_SEGMENTS {
        use rstar::primitives::{GeomWithData, Rectangle};
        let items: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| GeomWithData::new(Rectangle::from_corners(s.3.start.into(), s.3.end.into()), i))
            .collect();
        let tree = rstar::RTree::bulk_load(items);
        return tree
            .intersection_candidates_with_other_tree(&tree)
            .all(|(a, b)| a.data == b.data || allowed(a.data, b.data));
    }
    let mut order: Vec<(usize, [f64; 4])> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (i, bounds(&s.3)))
        .collect();
    order.sort_unstable_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.0.cmp(&b.0)));
    for (k, (i, a)) in order.iter().enumerate() {
        for (j, b) in &order[k + 1..] {
            if b[0] > a[1] {
                break;
            }
            if b[2] <= a[3] && a[2] <= b[3] && !allowed(*i, *j) {
                return false;
            }
        }
    }
    true
}

/// The rings of a polygon turned as `geo::orient` turns them (exterior anticlockwise, holes clockwise); None when a
/// ring has no orientation. An empty polygon has no rings.
fn polygon_rings(p: &Polygon<f64>) -> Option<Vec<Ring>> {
    if p.exterior().0.is_empty() {
        return p.interiors().iter().all(|r| r.0.is_empty()).then(Vec::new);
    }
    let mut rings = vec![Ring::new(&p.exterior().0)?.turned(true)];
    for hole in p.interiors() {
        rings.push(Ring::new(&hole.0)?.turned(false));
    }
    Some(rings)
}

/// A directed segment as its endpoints' keys, lower key first, and whether it runs from the lower to the higher.
type Edge = (Key, Key, bool);

fn edges(rings: &[Ring]) -> impl Iterator<Item = Edge> + '_ {
    rings.iter().flat_map(|r| {
        r.points.windows(2).map(|w| {
            let (a, b) = (key(w[0]), key(w[1]));
            if a < b {
                (a, b, true)
            } else {
                (b, a, false)
            }
        })
    })
}

/// What is left of `edges` once every A→B cancels a B→A, sorted; None when a segment occurs twice in one direction
/// (two units may then cover the same side of it: left to the overlay).
fn leftover(mut edges: Vec<Edge>) -> Option<Vec<(Key, Key)>> {
    edges.par_sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < edges.len() {
        let (lo, hi) = (edges[i].0, edges[i].1);
        let (mut back, mut forth) = (0, 0);
        while i < edges.len() && edges[i].0 == lo && edges[i].1 == hi {
            if edges[i].2 {
                forth += 1;
            } else {
                back += 1;
            }
            i += 1;
        }
        if back > 1 || forth > 1 {
            return None;
        }
        match (forth, back) {
            (1, 0) => out.push((lo, hi)),
            (0, 1) => out.push((hi, lo)),
            _ => {}
        }
    }
    Some(out)
}

/// The directed segments linked into closed rings, in the order of their first segment; None when a vertex starts
/// or ends more than one (rings touching there: which way they link is a guess).
fn link(segments: &[(Key, Key)]) -> Option<Vec<Ring>> {
    let mut starts: HashMap<Key, usize> = HashMap::with_capacity(segments.len());
    for (i, s) in segments.iter().enumerate() {
        if starts.insert(s.0, i).is_some() {
            return None;
        }
    }
    let mut used = vec![false; segments.len()];
    let mut rings = Vec::new();
    for first in 0..segments.len() {
        if used[first] {
            continue;
        }
        let mut points = vec![coord(segments[first].0)];
        let mut at = first;
        loop {
            if used[at] {
                return None;
            }
            used[at] = true;
            let end = segments[at].1;
            points.push(coord(end));
            at = *starts.get(&end)?;
            if at == first {
                break;
            }
        }
        // The chain's own direction decides the ring's orientation: no turning.
        let ring = Ring::new(&points)?;
        if ring.points.len() != points.len() {
            // A repeated point would mean a zero-length segment, which no proper ring has.
            return None;
        }
        rings.push(ring);
    }
    Some(rings)
}

/// The proof for `units` against `town`, or None when the cancellation cannot give one.
pub(super) fn prove(units: &[Unit], town: Option<&MultiPolygon<f64>>) -> Option<Proof> {
    // Every unit polygon's rings, turned; the cheap cancellation runs first so that a layer that does not tessellate
    // exactly (the common case for units read back from rounded lon/lat) costs little before the overlay runs.
    let polygons: Vec<Vec<Ring>> = units
        .par_iter()
        .flat_map_iter(|u| u.geometry.0.iter().map(polygon_rings))
        .collect::<Option<_>>()?;
    let all: Vec<Edge> = polygons.iter().flat_map(|r| edges(r)).collect();
    let mut left = leftover(all)?;
    let rings = match link(&left).filter(|r| proper(r)) {
        Some(rings) => rings,
        None => {
            left = leftover(split_at_t_junctions(&left)?)?;
            link(&left).filter(|r| proper(r))?
        }
    };
    if !polygons.par_iter().all(|r| r.is_empty() || proper(r)) {
        return None;
    }
    let Some(town) = town else {
        return Some(Proof { outline: None });
    };
    // The units' outline less the town's rings (turned as the units' are), cut where a vertex of one lies exactly
    // on an edge of the other (the units' outer edges may subdivide a long town edge): nothing left means the same
    // boundary. A town ring without an orientation, or a segment twice in one direction, only means the outline is
    // compared by overlay.
    let same = town
        .0
        .iter()
        .map(polygon_rings)
        .collect::<Option<Vec<_>>>()
        .and_then(|rings| {
            let mut difference: Vec<Edge> = rings
                .iter()
                .flat_map(|r| edges(r))
                .map(|(a, b, d)| (a, b, !d))
                .collect();
            difference.extend(
                left.iter()
                    .map(|&(a, b)| if a < b { (a, b, true) } else { (b, a, false) }),
            );
            let rest = leftover(difference)?;
            if rest.is_empty() {
                return Some(true);
            }
            leftover(split_at_t_junctions(&rest)?).map(|rest| rest.is_empty())
        });
    if same == Some(true) {
        return Some(Proof { outline: None });
    }
    Some(Proof {
        outline: Some(self::polygons(rings)),
    })
}

/// The directed segments `segments`, each cut at the endpoints of the others that lie exactly on it (orientation
/// exactly collinear, strictly between its ends): a T-junction, where one unit's long edge meets two of its
/// neighbours' edges at a vertex of theirs. P→Q and P→M→Q are the same chain when M lies on PQ, so the winding
/// numbers — and the proof — are unchanged; the pieces can then cancel.
///
/// None when no vertex can be such a junction: in a tessellation the two edges of the leftover that meet at one run
/// on straight along the long edge, exactly collinear, so a layer without such a vertex (units read back from
/// rounded lon/lat, whose junctions sit a centimetre off the edge) leaves the fast path before any index is built.
fn split_at_t_junctions(segments: &[(Key, Key)]) -> Option<Vec<Edge>> {
    use rstar::primitives::{GeomWithData, Rectangle};
    let mut ends: Vec<(Key, Key)> = segments.iter().map(|&(a, b)| (b, a)).collect();
    ends.par_sort_unstable();
    let mut vertices: Vec<Key> = segments
        .par_iter()
        .filter(|&&(m, p)| {
            let lo = ends.partition_point(|e| e.0 < m);
            ends[lo..].iter().take_while(|e| e.0 == m).any(|&(_, q)| {
                let (q, m, p) = (coord(q), coord(m), coord(p));
                q != p
                    && RobustKernel::orient2d(q, m, p) == Orientation::Collinear
                    && (p.x - m.x) * (m.x - q.x) + (p.y - m.y) * (m.y - q.y) > 0.0
            })
        })
        .map(|&(m, _)| m)
        .collect();
    if vertices.is_empty() {
        return None;
    }
    vertices.sort_unstable();
    vertices.dedup();
    let items: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = segments
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| {
            let (a, b) = (coord(a), coord(b));
            GeomWithData::new(Rectangle::from_corners(a.into(), b.into()), i)
        })
        .collect();
    let tree = rstar::RTree::bulk_load(items);
    let mut cuts: Vec<Vec<Key>> = vec![Vec::new(); segments.len()];
    for &v in &vertices {
        let p = coord(v);
        for item in tree.locate_all_at_point([p.x, p.y]) {
            let (a, b) = segments[item.data];
            if v != a && v != b && RobustKernel::orient2d(coord(a), coord(b), p) == Orientation::Collinear {
                cuts[item.data].push(v);
            }
        }
    }
    let mut out = Vec::with_capacity(segments.len());
    for (&(a, b), mut on) in segments.iter().zip(cuts) {
        // Collinear points lie in the same lexicographic order as along the segment, reversed when it runs from
        // the higher end to the lower.
        let (ca, cb) = (coord(a), coord(b));
        on.sort_unstable_by(|p, q| {
            let (p, q) = (coord(*p), coord(*q));
            p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y))
        });
        if (ca.x, ca.y) > (cb.x, cb.y) {
            on.reverse();
        }
        let chain: Vec<Key> = std::iter::once(a).chain(on).chain(std::iter::once(b)).collect();
        for w in chain.windows(2) {
            let (p, q) = (w[0], w[1]);
            out.push(if p < q { (p, q, true) } else { (q, p, false) });
        }
    }
    Some(out)
}

/// Proper rings as polygons: each clockwise ring a hole of the smallest anticlockwise ring around it.
fn polygons(rings: Vec<Ring>) -> MultiPolygon<f64> {
    let (shells, holes): (Vec<Ring>, Vec<Ring>) = rings.into_iter().partition(|r| r.ccw);
    let areas: Vec<f64> = shells
        .iter()
        .map(|s| Polygon::new(LineString(s.points.clone()), vec![]).unsigned_area())
        .collect();
    let mut inner: Vec<Vec<LineString<f64>>> = vec![Vec::new(); shells.len()];
    for h in holes {
        let p = h.points[0];
        let around = (0..shells.len())
            .filter(|&i| shells[i].winding(p) == 1)
            .min_by(|&a, &b| areas[a].total_cmp(&areas[b]));
        // `proper` put every hole inside some shell.
        if let Some(i) = around {
            inner[i].push(LineString(h.points));
        }
    }
    MultiPolygon(
        shells
            .into_iter()
            .zip(inner)
            .map(|(s, holes)| Polygon::new(LineString(s.points), holes))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{index, partition, Last, Partition};
    use super::*;
    use crate::validate::testing::{rect, unit};
    use crate::validate::{Noise, ProblemKind};
    use rand::{Rng, SeedableRng};

    const NOISE: Noise = Noise {
        area_m2: 100.0,
        width_m: 0.1,
    };

    /// The overlay algorithm alone, as `partition` ran before the fast path.
    fn overlay(units: &[Unit], town: Option<&MultiPolygon<f64>>, noise: Noise) -> Partition {
        let (boxes, tree) = index(units);
        Last::compute(units, &boxes, &tree, town, noise).assemble(units, &boxes, town)
    }

    fn poly(rings: &[&[(f64, f64)]]) -> MultiPolygon<f64> {
        let ring = |c: &[(f64, f64)]| LineString::from(c.to_vec());
        MultiPolygon(vec![Polygon::new(
            ring(rings[0]),
            rings[1..].iter().map(|r| ring(r)).collect(),
        )])
    }

    fn overlaps(p: &Partition) -> Vec<(String, String, f64)> {
        p.problems
            .iter()
            .filter(|x| x.kind == ProblemKind::Overlap)
            .map(|x| {
                (
                    x.unit_id.clone(),
                    x.detail["other_unit"].to_string(),
                    x.area_m2.unwrap_or(0.0),
                )
            })
            .collect()
    }

    #[test]
    fn a_bow_tie_hidden_behind_a_cover_count_of_one_is_not_proven() {
        // b's ring pinches at (150, 75) into an anticlockwise lobe L1 and a clockwise lobe L2: winding +1 and −1.
        // a (the town less L1) and c (L2) cover L2 twice, b takes one off: the cover count sums to 1 everywhere and
        // the leftover chain is the town's boundary, yet a and c overlap.
        let town = rect(0.0, 0.0, 300.0, 200.0);
        let l1 = [
            (100.0, 25.0),
            (150.0, 25.0),
            (150.0, 75.0),
            (100.0, 75.0),
            (100.0, 25.0),
        ];
        let units = [
            unit(
                "a",
                poly(&[
                    &[(0.0, 0.0), (300.0, 0.0), (300.0, 200.0), (0.0, 200.0), (0.0, 0.0)],
                    &l1,
                ]),
            ),
            unit(
                "b",
                poly(&[&[
                    (150.0, 75.0),
                    (100.0, 75.0),
                    (100.0, 25.0),
                    (150.0, 25.0),
                    (150.0, 75.0),
                    (150.0, 125.0),
                    (200.0, 125.0),
                    (200.0, 75.0),
                    (150.0, 75.0),
                ]]),
            ),
            unit("c", rect(150.0, 75.0, 200.0, 125.0)),
        ];
        assert!(prove(&units, Some(&town)).is_none());
        let p = partition(&units, Some(&town), NOISE);
        assert!(
            overlaps(&p).contains(&("a".into(), "c".into(), 2500.0)),
            "{:?}",
            p.problems
        );
        assert_eq!(p.problems, overlay(&units, Some(&town), NOISE).problems);
    }

    #[test]
    fn a_hole_outside_its_shell_is_not_proven() {
        // b: shell S1 with a "hole" S2 beside it (winding −1 there); a is the town less S1, c is S2. The cover count
        // sums to 1 everywhere, yet a and c overlap on S2.
        let town = rect(0.0, 0.0, 300.0, 200.0);
        let s1 = [
            (100.0, 25.0),
            (150.0, 25.0),
            (150.0, 75.0),
            (100.0, 75.0),
            (100.0, 25.0),
        ];
        let s2 = [
            (200.0, 100.0),
            (200.0, 150.0),
            (250.0, 150.0),
            (250.0, 100.0),
            (200.0, 100.0),
        ];
        let units = [
            unit(
                "a",
                poly(&[
                    &[(0.0, 0.0), (300.0, 0.0), (300.0, 200.0), (0.0, 200.0), (0.0, 0.0)],
                    &s1,
                ]),
            ),
            unit("b", poly(&[&s1, &s2])),
            unit("c", rect(200.0, 100.0, 250.0, 150.0)),
        ];
        assert!(prove(&units, Some(&town)).is_none());
        let p = partition(&units, Some(&town), NOISE);
        assert!(
            overlaps(&p).contains(&("a".into(), "c".into(), 2500.0)),
            "{:?}",
            p.problems
        );
    }

    #[test]
    fn a_duplicated_unit_is_not_proven() {
        let town = rect(0.0, 0.0, 200.0, 100.0);
        let units = [
            unit("a", rect(0.0, 0.0, 100.0, 100.0)),
            unit("b", rect(100.0, 0.0, 200.0, 100.0)),
            unit("b2", rect(100.0, 0.0, 200.0, 100.0)),
        ];
        assert!(prove(&units, Some(&town)).is_none());
        let p = partition(&units, Some(&town), NOISE);
        assert_eq!(overlaps(&p), [("b".into(), "b2".into(), 10_000.0)]);
    }

    #[test]
    fn a_t_junction_on_an_exact_edge_is_proven() {
        // a's south edge is one segment; b and c meet on it at (100, 100), a vertex a does not have.
        let town = rect(0.0, 0.0, 200.0, 200.0);
        let units = [
            unit("a", rect(0.0, 100.0, 200.0, 200.0)),
            unit("b", rect(0.0, 0.0, 100.0, 100.0)),
            unit("c", rect(100.0, 0.0, 200.0, 100.0)),
        ];
        // b and c also meet on the town's south edge, which is one segment too.
        let proof = prove(&units, Some(&town)).map(|p| p.outline);
        assert!(matches!(proof, Some(None)), "the outline is the town's boundary");
        let p = partition(&units, Some(&town), NOISE);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.checks, overlay(&units, Some(&town), NOISE).checks);
    }

    /// Synthetic, seeded: a `side` × `side` lattice of 100 m cells over a fine grid of jittered points (`per_edge`
    /// on each cell edge; the town's edge points move only along it), cells grouped into units by runs of one to
    /// three along a row, each unit's ring drawn from the very points its neighbours use.
    fn lattice(
        rng: &mut rand_chacha::ChaCha8Rng,
        side: usize,
        per_edge: usize,
    ) -> (Vec<Unit>, Vec<Vec<Coord<f64>>>) {
        let k = per_edge + 1;
        let n = side * k;
        let step = 100.0 / k as f64;
        let mut grid = vec![vec![Coord { x: 0.0, y: 0.0 }; n + 1]; n + 1];
        for (r, row) in grid.iter_mut().enumerate() {
            for (c, p) in row.iter_mut().enumerate() {
                let mut j = |i: usize| {
                    if i == 0 || i == n {
                        0.0
                    } else {
                        rng.random_range(-0.3..0.3) * step
                    }
                };
                *p = Coord {
                    x: c as f64 * step + j(c),
                    y: r as f64 * step + j(r),
                };
            }
        }
        let mut units = Vec::new();
        for r in 0..side {
            let mut c = 0;
            while c < side {
                let run = rng.random_range(1..=3).min(side - c);
                let (r0, c0, c1) = (r * k, c * k, (c + run) * k);
                let mut ring: Vec<Coord<f64>> = Vec::new();
                ring.extend((c0..c1).map(|i| grid[r0][i]));
                ring.extend((0..k).map(|i| grid[r0 + i][c1]));
                ring.extend((c0 + 1..=c1).rev().map(|i| grid[r0 + k][i]));
                ring.extend((1..=k).rev().map(|i| grid[r0 + i][c0]));
                ring.push(ring[0]);
                let g = MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]);
                units.push(unit(&format!("U{r}-{c}"), g));
                c += run;
            }
        }
        (units, grid)
    }

    /// Random lattices, each with one perturbation (or none), give the same `Partition` through `partition` (fast
    /// path first) and through the overlay alone; the fast path must prove a fair share of them.
    #[test]
    fn random_tessellations_give_the_same_partition_through_the_fast_path_and_the_overlay() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        let mut proven = [0usize; 10];
        for case in 0..60 {
            let kind = case % 10;
            let (side, per_edge) = (rng.random_range(3..7), rng.random_range(0..3));
            let (mut units, grid) = lattice(&mut rng, side, per_edge);
            let w = side as f64 * 100.0;
            let mut town = rect(0.0, 0.0, w, w);
            let pick = rng.random_range(0..units.len());
            match kind {
                // A vertex of one unit moved: a gap on one side, an overlap on the other.
                1 => {
                    let g = &mut units[pick].geometry;
                    let ring = &g.0[0].exterior().0;
                    let i = rng.random_range(1..ring.len() - 1);
                    let mut moved = ring.clone();
                    moved[i].x += rng.random_range(-25.0..25.0);
                    moved[i].y += rng.random_range(-25.0..25.0);
                    *g = MultiPolygon(vec![Polygon::new(LineString(moved), vec![])]);
                }
                // A duplicated unit.
                2 => {
                    let mut copy = units[pick].clone();
                    copy.id = format!("{}-copy", copy.id);
                    units.push(copy);
                }
                // A unit outside the town.
                3 => units.push(unit("out", rect(w + 10.0, 0.0, w + 60.0, 50.0))),
                // A unit missing: a gap (on the town's edge too, sometimes).
                4 => {
                    units.remove(pick);
                }
                // Rings drawn either way round.
                5 => {
                    use geo::orient::{Direction, Orient};
                    for u in units.iter_mut().filter(|_| rng.random_bool(0.5)) {
                        u.geometry = u.geometry.orient(Direction::Reversed);
                    }
                }
                // The town's edge a centimetre off the units' outer points, then bulging 2 m out (spill).
                6 => town = rect(-0.01, 0.0, w, w + 0.01),
                7 => town = rect(-2.0, 0.0, w, w),
                // The town drawn through every outer point of the units: their outline exactly.
                8 => {
                    let n = grid.len() - 1;
                    let mut ring: Vec<Coord<f64>> = (0..n).map(|i| grid[0][i]).collect();
                    ring.extend((0..n).map(|i| grid[i][n]));
                    ring.extend((1..=n).rev().map(|i| grid[n][i]));
                    ring.extend((1..=n).rev().map(|i| grid[i][0]));
                    ring.push(ring[0]);
                    town = MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]);
                }
                // No town: overlaps only.
                9 => {
                    units.remove(pick);
                }
                _ => {}
            }
            let town = (kind != 9).then_some(town);
            if prove(&units, town.as_ref()).is_some() {
                proven[kind] += 1;
            }
            let fast = partition(&units, town.as_ref(), NOISE);
            let slow = overlay(&units, town.as_ref(), NOISE);
            assert_eq!(fast.checks, slow.checks, "case {case} (kind {kind})");
            assert_eq!(fast.problems, slow.problems, "case {case} (kind {kind})");
        }
        // Exact lattices, flipped rings, the offset towns, a missing unit and no town are proven every time, a
        // duplicate never (a moved vertex only when no neighbour shares it: on the town's edge).
        for kind in [0, 3, 4, 5, 6, 7, 8, 9] {
            assert_eq!(proven[kind], 6, "kind {kind}: {proven:?}");
        }
        assert_eq!(proven[2], 0, "{proven:?}");
    }
}
