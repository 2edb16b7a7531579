//! Shared vertices for a coverage of dissolved units.
//!
//! Each unit is dissolved on its own, and the overlay drops the vertices of its boundary that are collinear: where
//! three units meet, the junction stays a vertex of the two units that turn there, while the third runs straight
//! past it. The units still tile the town exactly, but once written with rounded coordinates (lon/lat to 7
//! decimals) the junction and the straight edge round differently and sit a centimetre apart, and a reader can no
//! longer see that the two boundaries are one. Topologically clean coverages (what QGIS' topology checker and
//! GEOS' `CoverageValidator` expect) carry every junction in every ring that passes through it: this module puts
//! it back, so that both sides of a shared boundary hold the same vertices and round to the same points.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

type Vertex = GeomWithData<[f64; 2], usize>;

/// Makes the units' boundaries share their vertices: a vertex within `eps` of another unit's vertex takes the
/// lexicographically smallest of them, and a vertex of another unit within `eps` of an edge (strictly inside it) is
/// inserted into that edge. `eps` is far below anything mapped (the overlay's own rounding is micrometres), so no
/// shape changes by more than `eps`.
pub fn node_shared_vertices(units: &mut [MultiPolygon<f64>], eps: f64) {
    if units.len() < 2 || eps.is_nan() || eps <= 0.0 {
        return;
    }
    let tree = vertex_tree(units);
    let canonical = |c: Coord<f64>| -> Coord<f64> {
        let near =
            tree.locate_in_envelope(AABB::from_corners([c.x - eps, c.y - eps], [c.x + eps, c.y + eps]));
        near.map(|v| v.geom())
            .filter(|p| (p[0] - c.x).hypot(p[1] - c.y) <= eps)
            .fold([c.x, c.y], |best, p| {
                if (p[0], p[1]) < (best[0], best[1]) {
                    *p
                } else {
                    best
                }
            })
            .into()
    };
    units
        .par_iter_mut()
        .for_each(|mp| map_rings(mp, |r| r.0.iter().map(|&c| canonical(c)).collect()));
    let tree = vertex_tree(units);
    units
        .par_iter_mut()
        .enumerate()
        .for_each(|(u, mp)| map_rings(mp, |r| with_junctions(r, u, &tree, eps)));
}

/// Every vertex of every unit (the closing point once), tagged with its unit.
fn vertex_tree(units: &[MultiPolygon<f64>]) -> RTree<Vertex> {
    let mut points = Vec::new();
    for (u, mp) in units.iter().enumerate() {
        for p in &mp.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                let open = r.0.len().saturating_sub(1);
                points.extend(r.0[..open].iter().map(|c| Vertex::new([c.x, c.y], u)));
            }
        }
    }
    RTree::bulk_load(points)
}

/// Rebuilds every ring of `mp` through `f` (which returns the ring's coordinates, closed).
fn map_rings(mp: &mut MultiPolygon<f64>, f: impl Fn(&LineString<f64>) -> Vec<Coord<f64>>) {
    for p in mp.0.iter_mut() {
        let exterior = LineString::new(f(p.exterior()));
        let interiors = p.interiors().iter().map(|r| LineString::new(f(r))).collect();
        *p = Polygon::new(exterior, interiors);
    }
}

/// `ring` with the vertices of other units that lie on its edges inserted, in order along each edge.
fn with_junctions(ring: &LineString<f64>, unit: usize, tree: &RTree<Vertex>, eps: f64) -> Vec<Coord<f64>> {
    let mut out = Vec::with_capacity(ring.0.len());
    let mut on_edge: Vec<(f64, [f64; 2])> = Vec::new();
    for w in ring.0.windows(2) {
        let (a, b) = (w[0], w[1]);
        out.push(a);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = dx.hypot(dy);
        if len <= 2.0 * eps {
            continue;
        }
        let envelope = AABB::from_corners(
            [a.x.min(b.x) - eps, a.y.min(b.y) - eps],
            [a.x.max(b.x) + eps, a.y.max(b.y) + eps],
        );
        on_edge.clear();
        for v in tree.locate_in_envelope(envelope) {
            if v.data == unit {
                continue;
            }
            let p = *v.geom();
            // Distance along the edge and off it, in metres.
            let along = ((p[0] - a.x) * dx + (p[1] - a.y) * dy) / len;
            let off = ((p[1] - a.y) * dx - (p[0] - a.x) * dy).abs() / len;
            if off <= eps && along > eps && along < len - eps {
                on_edge.push((along, p));
            }
        }
        on_edge.sort_by(|x, y| {
            x.0.total_cmp(&y.0)
                .then(x.1[0].total_cmp(&y.1[0]))
                .then(x.1[1].total_cmp(&y.1[1]))
        });
        on_edge.dedup_by(|x, y| x.1 == y.1);
        out.extend(on_edge.iter().map(|&(_, p)| Coord::from(p)));
    }
    if let Some(&last) = ring.0.last() {
        out.push(last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Area};

    fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![p])
    }

    #[test]
    fn a_junction_on_a_neighbours_straight_edge_becomes_a_vertex_of_it() {
        // Two units side by side on the left, one tall unit on the right running straight past their junction at
        // (10, 10).
        let mut units = vec![
            mp(polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)]),
            mp(polygon![(x: 0.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.0, y: 20.0), (x: 0.0, y: 20.0)]),
            mp(polygon![(x: 10.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]),
        ];
        let areas: Vec<f64> = units.iter().map(|u| u.unsigned_area()).collect();
        node_shared_vertices(&mut units, 1e-4);
        let right: Vec<(f64, f64)> = units[2].0[0].exterior().0.iter().map(|c| (c.x, c.y)).collect();
        assert_eq!(
            right,
            vec![
                (10.0, 0.0),
                (20.0, 0.0),
                (20.0, 20.0),
                (10.0, 20.0),
                (10.0, 10.0),
                (10.0, 0.0)
            ]
        );
        // The left units already had every vertex they share; nothing else moved.
        assert_eq!(units[0].0[0].exterior().0.len(), 5);
        assert_eq!(units[1].0[0].exterior().0.len(), 5);
        for (u, a) in units.iter().zip(areas) {
            assert_eq!(u.unsigned_area(), a);
        }
    }

    #[test]
    fn vertices_a_micrometre_apart_become_one_and_a_near_junction_is_inserted_exactly() {
        let mut units = vec![
            mp(polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.000_000_5, y: 10.0), (x: 0.0, y: 10.0)]),
            mp(polygon![(x: 10.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 20.0), (x: 10.0, y: 20.0)]),
        ];
        node_shared_vertices(&mut units, 1e-4);
        let right = units[1].0[0].exterior();
        assert!(
            right.0.contains(&Coord {
                x: 10.000_000_5,
                y: 10.0
            }),
            "{right:?}"
        );
        // Far vertices are left alone: nothing of unit 0 lies on unit 1's other edges.
        assert_eq!(right.0.len(), 6);
    }

    #[test]
    fn vertices_farther_than_eps_are_not_moved_or_inserted() {
        let before = vec![
            mp(polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)]),
            mp(polygon![(x: 10.01, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 20.0), (x: 10.01, y: 20.0)]),
        ];
        let mut after = before.clone();
        node_shared_vertices(&mut after, 1e-4);
        assert_eq!(before, after);
    }
}
