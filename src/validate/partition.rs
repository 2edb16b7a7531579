//! Check `partition`: the units divide the town — 沪民区划〔2018〕6号 一(一) sets units up inside the town's
//! territory, so the partition must cover the area it claims with no gaps, no overlaps and nothing outside the town
//! (RULES.md: overlap/gap tolerance 100 m²).
//!
//! Overlaps: candidate pairs from an R-tree of unit bounding boxes (rstar `GeomWithData` + bulk load, one
//! self-join), then the exact intersection (geo `BooleanOps`). Gaps: town − units, tile by tile (see `gaps`): no
//! overlay ever carries the whole city, which both keeps the check linear and keeps it clear of the endless loop
//! i_overlay 4.5 fell into on the one-shot union of ~3,800 units of a 350 × 350 lattice. Spill: unit − town. Every
//! piece is reported with its area; pieces under `partition_tolerance_m2`, or narrower on average than
//! `partition_sliver_width_m` (slivers of coordinate rounding along a long edge: see [`Noise`]), are digitising
//! noise and ignored. A unit's value is the total area of significant pieces it takes part in (its overlaps, its
//! spill and the gaps along its boundary), so it passes exactly when that is zero.

use super::{CheckResult, Noise, Problem, ProblemKind, Reason, Unit};
use geo::orient::{Direction, Orient};
use geo::Winding;
use geo::{Area, BooleanOps, BoundingRect, Distance, Euclidean, MultiPolygon, Polygon, Rect, Relate};
use rayon::prelude::*;
use rstar::Envelope;
use std::collections::BTreeMap;

mod tessellation;

/// A gap closer than this to a unit borders it.
const TOUCH_M: f64 = 1.0;

/// About this many units meet a gap tile: small overlays, yet few enough tiles that their borders cost little.
const UNITS_PER_TILE: usize = 16;

/// Per-unit partition checks and the problem pieces.
#[derive(Clone, Debug)]
pub struct Partition {
    /// One result per unit, in layer order.
    pub checks: Vec<CheckResult>,
    /// The overlap pieces by pair, the gap pieces by tile, the spill pieces by unit.
    pub problems: Vec<Problem>,
}

#[derive(Default, Clone)]
struct Tally {
    overlap: f64,
    gap: f64,
    spill: f64,
}

/// Overlaps, gaps and spills of `units` within `town` (gaps and spill skipped when there is no town).
pub fn partition(units: &[Unit], town: Option<&MultiPolygon<f64>>, noise: Noise) -> Partition {
    // As a fresh cache would, without keeping a copy of every unit for a next call that never comes.
    let (boxes, tree) = index(units);
    let last = match tessellation::prove(units, town) {
        Some(proof) => Last::proven(units, &boxes, &tree, town, noise, proof),
        None => Last::compute(units, &boxes, &tree, town, noise),
    };
    last.assemble(units, &boxes, town)
}

/// Each unit's box, and an R-tree of them.
fn index(units: &[Unit]) -> (Boxes, rstar::RTree<super::BoxItem>) {
    // Each unit's box once: the gap pieces' border candidates are found by box, and measuring a unit's box for
    // every piece near it was a fifth of a move's time in the editor.
    let boxes: Boxes = units.par_iter().map(|u| u.geometry.bounding_rect()).collect();
    let tree = rstar::RTree::bulk_load(
        boxes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| super::box_item(*r, i))
            .collect(),
    );
    (boxes, tree)
}

/// The pieces [`partition`] found, kept so that the next call on a layer where only a few units changed redoes only
/// their share: overlaps are pairwise (the pairs with a changed unit are measured again), spill is per unit, and gaps
/// are per tile (a tile is cut again when a changed unit's old or new box comes near it) before the tiles' pieces are
/// joined. The result is exactly what a fresh [`partition`] gives — the cache only skips work whose inputs did not
/// change — and it starts over when the unit ids, the town or the tolerance differ from the last call (the tile
/// layout follows the unit count). The plan editor keeps one per plan; `validate` uses a fresh one.
#[derive(Default)]
pub struct PartitionCache {
    last: Option<Last>,
}

/// What the last call saw and found.
struct Last {
    ids: Vec<String>,
    geometry: Vec<MultiPolygon<f64>>,
    town: Option<MultiPolygon<f64>>,
    noise: Noise,
    /// Significant overlap pieces of each pair of units (lower index first); pairs without any are left out.
    overlaps: BTreeMap<(usize, usize), Vec<MultiPolygon<f64>>>,
    /// Significant spill pieces of each unit.
    spills: Vec<Vec<MultiPolygon<f64>>>,
    /// The gap tiles and each one's pieces, before the pieces are joined across tile borders.
    tiles: Vec<Rect<f64>>,
    tile_gaps: Vec<Vec<Gap>>,
}

impl PartitionCache {
    /// Overlaps, gaps and spills of `units` within `town`, as [`partition`] computes them, reusing the last call's
    /// pieces for what did not change.
    pub fn partition(&mut self, units: &[Unit], town: Option<&MultiPolygon<f64>>, noise: Noise) -> Partition {
        let (boxes, tree) = index(units);
        let last = self.last.take().filter(|l| {
            l.noise == noise
                && l.town.as_ref() == town
                && l.ids.len() == units.len()
                && l.ids.iter().zip(units).all(|(id, u)| *id == u.id)
        });
        let mut last = match last {
            Some(l) => l,
            None => {
                // (compute fills every piece; the update below then finds nothing changed)
                let mut l = Last::compute(units, &boxes, &tree, town, noise);
                l.geometry = units.iter().map(|u| u.geometry.clone()).collect();
                l
            }
        };
        last.update(units, &boxes, &tree, town);
        let p = last.assemble(units, &boxes, town);
        self.last = Some(last);
        p
    }
}

impl Last {
    /// Every piece, from scratch.
    fn compute(
        units: &[Unit],
        boxes: &Boxes,
        tree: &rstar::RTree<super::BoxItem>,
        town: Option<&MultiPolygon<f64>>,
        noise: Noise,
    ) -> Last {
        let mut pairs: Vec<(usize, usize)> = tree
            .intersection_candidates_with_other_tree(tree)
            .map(|(a, b)| (a.data.min(b.data), a.data.max(b.data)))
            .filter(|(a, b)| a != b)
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let overlaps = overlap_pieces(units, boxes, &pairs, noise);
        let (tiles, tile_gaps, spills) = match town {
            Some(town) => {
                let tiles = tile_layout(units.len(), town);
                let all: Vec<usize> = (0..tiles.len()).collect();
                let tile_gaps = tile_pieces(units, boxes, tree, town, &tiles, &all);
                let all: Vec<usize> = (0..units.len()).collect();
                (tiles, tile_gaps, spill_pieces(units, town, &all, noise))
            }
            None => (Vec::new(), Vec::new(), vec![Vec::new(); units.len()]),
        };
        Last {
            ids: units.iter().map(|u| u.id.clone()).collect(),
            geometry: Vec::new(),
            town: town.cloned(),
            noise,
            overlaps,
            spills,
            tiles,
            tile_gaps,
        }
    }

    /// The pieces when [`tessellation::prove`] has shown that no two units overlap: no pair is intersected. When the
    /// units' outline is the town's boundary there is no gap and no spill either; otherwise the gaps are the town
    /// minus that outline (one overlay of the perimeter's vertices): when none of those pieces counts, neither would
    /// the tiles' (the same region, cut by tile borders and joined again); when one does, the tiles are cut as
    /// [`Last::compute`] cuts them, so that the pieces, their bordering units and their order are its own. Spill is
    /// measured per unit as always (units inside the town cost a prepared relate each).
    fn proven(
        units: &[Unit],
        boxes: &Boxes,
        tree: &rstar::RTree<super::BoxItem>,
        town: Option<&MultiPolygon<f64>>,
        noise: Noise,
        proof: tessellation::Proof,
    ) -> Last {
        let (tiles, tile_gaps, spills) = match (town, proof.outline) {
            (Some(town), Some(outline)) => {
                let gaps = town.difference(&outline);
                let (tiles, tile_gaps) = if gaps.0.par_iter().any(|p| noise.counts(p)) {
                    let tiles = tile_layout(units.len(), town);
                    let all: Vec<usize> = (0..tiles.len()).collect();
                    let tile_gaps = tile_pieces(units, boxes, tree, town, &tiles, &all);
                    (tiles, tile_gaps)
                } else {
                    (Vec::new(), Vec::new())
                };
                let all: Vec<usize> = (0..units.len()).collect();
                (tiles, tile_gaps, spill_pieces(units, town, &all, noise))
            }
            _ => (Vec::new(), Vec::new(), vec![Vec::new(); units.len()]),
        };
        Last {
            ids: units.iter().map(|u| u.id.clone()).collect(),
            geometry: Vec::new(),
            town: town.cloned(),
            noise,
            overlaps: BTreeMap::new(),
            spills,
            tiles,
            tile_gaps,
        }
    }

    /// Measures again the pieces of the units whose geometry differs from the last call's (same ids, same order).
    fn update(
        &mut self,
        units: &[Unit],
        boxes: &Boxes,
        tree: &rstar::RTree<super::BoxItem>,
        town: Option<&MultiPolygon<f64>>,
    ) {
        let changed: Vec<usize> = (0..units.len())
            .filter(|&i| units[i].geometry != self.geometry[i])
            .collect();
        if changed.is_empty() {
            return;
        }
        let is_changed = |i: usize| changed.binary_search(&i).is_ok();
        self.overlaps
            .retain(|&(a, b), _| !is_changed(a) && !is_changed(b));
        let mut pairs: Vec<(usize, usize)> = changed
            .iter()
            .filter_map(|&c| units[c].geometry.bounding_rect().map(|r| (c, r)))
            .flat_map(|(c, r)| {
                tree.locate_in_envelope_intersecting(super::envelope(r, 0.0))
                    .map(move |o| (c.min(o.data), c.max(o.data)))
            })
            .filter(|(a, b)| a != b)
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        self.overlaps
            .extend(overlap_pieces(units, boxes, &pairs, self.noise));
        if let Some(town) = town {
            // A tile's pieces depend on the units whose boxes come near it: those of a changed unit, before or after.
            let moved: Vec<rstar::AABB<[f64; 2]>> = changed
                .iter()
                .flat_map(|&c| [self.geometry[c].bounding_rect(), boxes[c]])
                .flatten()
                .map(|r| super::envelope(r, 0.0))
                .collect();
            let dirty: Vec<usize> = (0..self.tiles.len())
                .filter(|&k| {
                    let reach = super::envelope(self.tiles[k], TOUCH_M);
                    moved.iter().any(|b| reach.intersects(b))
                })
                .collect();
            let fresh = tile_pieces(units, boxes, tree, town, &self.tiles, &dirty);
            for (k, pieces) in dirty.into_iter().zip(fresh) {
                self.tile_gaps[k] = pieces;
            }
            let spills = spill_pieces(units, town, &changed, self.noise);
            for (&c, pieces) in changed.iter().zip(spills) {
                self.spills[c] = pieces;
            }
        }
        for &c in &changed {
            self.geometry[c] = units[c].geometry.clone();
        }
    }

    /// The per-unit results and problems from the pieces, in the order the one-shot check reports them: overlaps
    /// by pair, gaps by tile, spills by unit.
    fn assemble(&self, units: &[Unit], boxes: &Boxes, town: Option<&MultiPolygon<f64>>) -> Partition {
        let noise = self.noise;
        let mut tally = vec![Tally::default(); units.len()];
        let mut problems = Vec::new();
        for (&(a, b), pieces) in &self.overlaps {
            for piece in pieces {
                let p = Problem::area(ProblemKind::Overlap, &units[a].id, piece.clone())
                    .with("other_unit", &units[b].id);
                let area = p.area_m2.unwrap_or(0.0);
                tally[a].overlap += area;
                tally[b].overlap += area;
                problems.push(p);
            }
        }
        if town.is_some() {
            let pieces: Vec<Gap> = self.tile_gaps.iter().flatten().cloned().collect();
            // Exact distances only for the pieces that count: on an exact tessellation nearly every piece is noise
            // under the tolerance, and measuring each against every unit of its tile was most of the check's time.
            let significant: Vec<Gap> = join_touching(pieces, boxes)
                .into_iter()
                .filter(|(piece, _)| noise.counts(piece))
                .collect();
            let significant: Vec<Gap> = significant
                .into_par_iter()
                .map(|(piece, candidates)| {
                    let border = candidates
                        .into_iter()
                        .filter(|&i| Euclidean.distance(&piece, &units[i].geometry) <= TOUCH_M)
                        .collect();
                    (piece, border)
                })
                .collect();
            for (piece, near) in significant {
                let area = piece.unsigned_area();
                for &i in &near {
                    tally[i].gap += area;
                }
                let ids: Vec<&str> = near.iter().map(|&i| units[i].id.as_str()).collect();
                problems.push(Problem::area(
                    ProblemKind::Gap,
                    ids.join(","),
                    MultiPolygon(vec![piece]),
                ));
            }
            for (i, pieces) in self.spills.iter().enumerate() {
                for piece in pieces {
                    let p = Problem::area(ProblemKind::Spill, &units[i].id, piece.clone());
                    tally[i].spill += p.area_m2.unwrap_or(0.0);
                    problems.push(p);
                }
            }
        }
        let checks = tally
            .iter()
            .map(|t| {
                let total = t.overlap + t.gap + t.spill;
                let mut r = CheckResult::evaluated(total == 0.0, total, Some(noise.area_m2));
                let mut detail = BTreeMap::new();
                detail.insert("overlap_m2", t.overlap);
                if town.is_some() {
                    detail.insert("gap_m2", t.gap);
                    detail.insert("spill_m2", t.spill);
                } else {
                    r = r.with_reason(Reason::NoTownBoundary);
                }
                for (k, v) in detail {
                    r = r.with_detail(k, v);
                }
                for (v, reason) in [
                    (t.overlap, Reason::Overlaps { area_m2: t.overlap }),
                    (t.gap, Reason::BordersGaps { area_m2: t.gap }),
                    (t.spill, Reason::OutsideTown { area_m2: t.spill }),
                ] {
                    if v > 0.0 {
                        r = r.with_reason(reason);
                    }
                }
                r
            })
            .collect();
        Partition { checks, problems }
    }
}

/// The significant overlap pieces of each pair, in parallel; pairs with none are left out.
fn overlap_pieces(
    units: &[Unit],
    boxes: &Boxes,
    pairs: &[(usize, usize)],
    noise: Noise,
) -> BTreeMap<(usize, usize), Vec<MultiPolygon<f64>>> {
    pairs
        .par_iter()
        .map(|&(a, b)| {
            // Boxes that only touch (or not at all) hold no overlap with an area: no overlay needed.
            let common = match (boxes[a], boxes[b]) {
                (Some(ra), Some(rb)) => common_box(ra, rb),
                _ => None,
            };
            if common.is_none() {
                return ((a, b), Vec::new());
            }
            let shared = units[a].geometry.intersection(&units[b].geometry);
            ((a, b), noise.significant(shared))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|(_, pieces)| !pieces.is_empty())
        .collect()
}

/// The significant spill pieces (unit − town) of the units `which`, in that order.
fn spill_pieces(
    units: &[Unit],
    town: &MultiPolygon<f64>,
    which: &[usize],
    noise: Noise,
) -> Vec<Vec<MultiPolygon<f64>>> {
    // A unit whose box lies inside the town cannot spill: a relate against the prepared town (one per worker: it
    // is not `Sync`) instead of an overlay per unit, most units of a city being nowhere near its edge.
    which
        .par_iter()
        .map_init(
            || geo::PreparedGeometry::from(town),
            |prepared, &i| match units[i].geometry.bounding_rect() {
                Some(r) if prepared.relate(&r.to_polygon()).is_contains() => Vec::new(),
                Some(r) => noise.significant(units[i].geometry.difference(&super::parts_near(town, r))),
                None => Vec::new(),
            },
        )
        .collect()
}

/// Each unit's bounding box, in layer order (None for an empty unit).
type Boxes = Vec<Option<Rect<f64>>>;

/// A piece of gap and the units that may border it, ascending: those whose boxes come within [`TOUCH_M`] of its box
/// (the exact distance is measured only for the pieces over the tolerance, in [`partition`]).
type Gap = (Polygon<f64>, Vec<usize>);

/// The gap tiles of a town: its box cut into a grid of about [`UNITS_PER_TILE`] units per tile. Town − union of units
/// is computed without an overlay of the whole city: in every tile (in parallel, [`tile_pieces`]) the town clipped to
/// the tile loses the union of the units whose boxes come near it, and each piece left learns which of those units
/// may border it; then the pieces that touch across tile borders are joined again, group by group
/// ([`join_touching`]). Each overlay and each distance holds a neighbourhood, so time and memory grow linearly with
/// the units even when a gap is as large as the town, and the pieces come out in tile order whatever the thread count.
fn tile_layout(units: usize, town: &MultiPolygon<f64>) -> Vec<Rect<f64>> {
    let Some(bounds) = town.bounding_rect() else {
        return Vec::new();
    };
    let side = ((units / UNITS_PER_TILE) as f64).sqrt().ceil().max(1.0) as usize;
    let (w, h) = (bounds.width() / side as f64, bounds.height() / side as f64);
    let edge = |lo: f64, step: f64, k: usize, hi: f64| if k == side { hi } else { lo + step * k as f64 };
    (0..side * side)
        .map(|k| {
            let (r, c) = (k / side, k % side);
            let (x0, x1) = (
                edge(bounds.min().x, w, c, bounds.max().x),
                edge(bounds.min().x, w, c + 1, bounds.max().x),
            );
            let (y0, y1) = (
                edge(bounds.min().y, h, r, bounds.max().y),
                edge(bounds.min().y, h, r + 1, bounds.max().y),
            );
            Rect::new((x0, y0), (x1, y1))
        })
        .collect()
}

/// The gap pieces of the tiles `which` (indices into `tiles`), in that order.
fn tile_pieces(
    units: &[Unit],
    boxes: &Boxes,
    tree: &rstar::RTree<super::BoxItem>,
    town: &MultiPolygon<f64>,
    tiles: &[Rect<f64>],
    which: &[usize],
) -> Vec<Vec<Gap>> {
    which
        .par_iter()
        .map(|&k| {
            let tile = tiles[k];
            let near_town = super::parts_near(town, tile);
            if near_town.0.is_empty() {
                return Vec::new();
            }
            let inside = if tiles.len() == 1 {
                near_town
            } else {
                near_town.intersection(&MultiPolygon(vec![tile.to_polygon()]))
            };
            if inside.0.is_empty() {
                return Vec::new();
            }
            let mut near: Vec<usize> = tree
                .locate_in_envelope_intersecting(super::envelope(tile, TOUCH_M))
                .map(|i| i.data)
                .collect();
            near.sort_unstable();
            // unary_union takes its fill rule from the first ring's winding: one orientation for every ring, so a unit
            // drawn clockwise is not read as a hole. Oriented only when it is not already (as geo's `orient` would
            // do), sparing a copy of every unit of the tile.
            let oriented: Vec<std::borrow::Cow<MultiPolygon<f64>>> = near
                .iter()
                .map(|&i| {
                    let g = &units[i].geometry;
                    let misoriented =
                        g.0.iter()
                            .any(|p| p.exterior().is_cw() || p.interiors().iter().any(|r| r.is_ccw()));
                    if misoriented {
                        std::borrow::Cow::Owned(g.orient(Direction::Default))
                    } else {
                        std::borrow::Cow::Borrowed(g)
                    }
                })
                .collect();
            let covered = geo::unary_union(oriented.iter().map(|g| &**g));
            inside
                .difference(&covered)
                .0
                .into_iter()
                .filter(|p| p.unsigned_area() > 0.0)
                .map(|p| {
                    let border = near_box(&p, &near, boxes);
                    (p, border)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The box two boxes share, when it has an area (boxes that only touch hold no overlap).
fn common_box(a: Rect<f64>, b: Rect<f64>) -> Option<Rect<f64>> {
    let (x0, y0) = (a.min().x.max(b.min().x), a.min().y.max(b.min().y));
    let (x1, y1) = (a.max().x.min(b.max().x), a.max().y.min(b.max().y));
    (x0 < x1 && y0 < y1).then(|| Rect::new((x0, y0), (x1, y1)))
}

/// The units of `among` whose boxes come within [`TOUCH_M`] of the box of `piece`: candidates for its border, a
/// superset of the units within [`TOUCH_M`] of it, kept in `among`'s order.
fn near_box(piece: &Polygon<f64>, among: &[usize], boxes: &Boxes) -> Vec<usize> {
    let Some(reach) = piece.bounding_rect().map(|r| super::envelope(r, TOUCH_M)) else {
        return Vec::new();
    };
    among
        .iter()
        .copied()
        .filter(|&i| boxes[i].is_some_and(|b| reach.intersects(&super::envelope(b, 0.0))))
        .collect()
}

/// Unions the pieces whose boxes meet (the halves of a gap cut by a tile border), group by group, with the units
/// that border any of them; pieces that meet nothing pass through untouched. Groups keep the order of their first
/// piece. A joined group that falls apart again into several polygons (boxes met, shapes did not) gives each the
/// group's units whose boxes come within [`TOUCH_M`] of its box.
fn join_touching(pieces: Vec<Gap>, boxes: &Boxes) -> Vec<Gap> {
    if pieces.len() < 2 {
        return pieces;
    }
    let items: Vec<super::BoxItem> = pieces
        .iter()
        .enumerate()
        .filter_map(|(i, (p, _))| super::box_item(p.bounding_rect(), i))
        .collect();
    let tree = rstar::RTree::bulk_load(items);
    let mut parent: Vec<usize> = (0..pieces.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (a, b) in tree.intersection_candidates_with_other_tree(&tree) {
        let (ra, rb) = (root(&mut parent, a.data), root(&mut parent, b.data));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut groups: BTreeMap<usize, Vec<Gap>> = BTreeMap::new();
    for (i, p) in pieces.into_iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(p);
    }
    let joined: Vec<Vec<Gap>> = groups
        .into_values()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|g| {
            if g.len() == 1 {
                return g;
            }
            let mut border: Vec<usize> = g.iter().flat_map(|(_, b)| b.iter().copied()).collect();
            border.sort_unstable();
            border.dedup();
            let oriented: Vec<Polygon<f64>> = g.iter().map(|(p, _)| p.orient(Direction::Default)).collect();
            let parts = geo::unary_union(&oriented).0;
            if parts.len() == 1 {
                return parts.into_iter().map(|p| (p, border.clone())).collect();
            }
            parts
                .into_iter()
                .map(|p| {
                    let near = near_box(&p, &border, boxes);
                    (p, near)
                })
                .collect()
        })
        .collect();
    joined.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{rect, unit};

    /// The default tolerances: 100 m², 0.1 m wide.
    const NOISE: Noise = Noise {
        area_m2: 100.0,
        width_m: 0.1,
    };

    #[test]
    fn overlaps_gaps_and_spill_with_their_areas() {
        let town = rect(0.0, 0.0, 300.0, 100.0);
        let units = [
            // Overlaps b by 10 × 100 m.
            unit("a", rect(0.0, 0.0, 110.0, 100.0)),
            unit("b", rect(100.0, 0.0, 200.0, 100.0)),
            // Leaves a 20 × 100 m gap after b and spills 50 × 100 m east of the town.
            unit("c", rect(220.0, 0.0, 350.0, 100.0)),
        ];
        let p = partition(&units, Some(&town), NOISE);
        let find = |k: ProblemKind| p.problems.iter().filter(move |x| x.kind == k).collect::<Vec<_>>();
        let overlap = find(ProblemKind::Overlap);
        assert_eq!(overlap.len(), 1);
        approx::assert_relative_eq!(overlap[0].area_m2.unwrap(), 1000.0, epsilon = 1e-6);
        assert_eq!(overlap[0].detail["other_unit"], "b");
        let gap = find(ProblemKind::Gap);
        assert_eq!(gap.len(), 1);
        approx::assert_relative_eq!(gap[0].area_m2.unwrap(), 2000.0, epsilon = 1e-6);
        assert_eq!(gap[0].unit_id, "b,c");
        let spill = find(ProblemKind::Spill);
        assert_eq!(spill.len(), 1);
        approx::assert_relative_eq!(spill[0].area_m2.unwrap(), 5000.0, epsilon = 1e-6);
        assert_eq!(p.checks[0].pass(), Some(false));
        approx::assert_relative_eq!(p.checks[2].value().unwrap(), 7000.0, epsilon = 1e-6);
    }

    #[test]
    fn a_gap_is_charged_only_to_units_within_a_metre_not_to_those_whose_boxes_reach_it() {
        // Border candidates are found by box; only the exact distance may name a unit. A 400 m² triangular gap at the
        // foot of the strip 100..120 m; `e` is a small triangle in the strip's notch whose box lies inside the gap's
        // box but which stays 16 m from the gap.
        let poly = |c: &[(f64, f64)]| MultiPolygon(vec![Polygon::new(c.to_vec().into(), vec![])]);
        let town = rect(0.0, 0.0, 300.0, 100.0);
        let units = [
            unit("a", rect(0.0, 0.0, 100.0, 100.0)),
            unit("b", rect(120.0, 0.0, 300.0, 100.0)),
            unit(
                "d",
                poly(&[
                    (120.0, 0.0),
                    (120.0, 39.0),
                    (119.0, 39.0),
                    (120.0, 40.0),
                    (120.0, 100.0),
                    (100.0, 100.0),
                    (100.0, 40.0),
                ]),
            ),
            unit("e", poly(&[(119.0, 39.0), (120.0, 39.0), (120.0, 40.0)])),
        ];
        let p = partition(&units, Some(&town), NOISE);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].kind, ProblemKind::Gap);
        approx::assert_relative_eq!(p.problems[0].area_m2.unwrap(), 400.0, epsilon = 1e-6);
        assert_eq!(p.problems[0].unit_id, "a,b,d");
        assert_eq!(p.checks[3].pass(), Some(true));
        assert_eq!(p.checks[2].pass(), Some(false));
    }

    #[test]
    fn slivers_under_the_tolerance_are_ignored() {
        let town = rect(0.0, 0.0, 200.0, 100.0);
        // A 0.5 m overlap (50 m²) and a 0.5 m gap (50 m²).
        let units = [
            unit("a", rect(0.0, 0.0, 100.5, 100.0)),
            unit("b", rect(100.0, 0.0, 199.5, 100.0)),
        ];
        let p = partition(&units, Some(&town), NOISE);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert!(p.checks.iter().all(|c| c.pass() == Some(true)));
    }

    #[test]
    fn slivers_a_centimetre_wide_along_a_long_town_edge_are_not_gaps_or_spill() {
        // Regression: units read back from lon/lat with 7 decimals sit up to a centimetre off a town edge that is one
        // long segment; the slivers between them, 12 km long, reach 120 m² and were reported as gaps and spill.
        let town = rect(0.0, 0.0, 12_000.0, 1_000.0);
        let poly = |c: &[(f64, f64)]| MultiPolygon(vec![Polygon::new(c.to_vec().into(), vec![])]);
        let units = [
            // 1 cm short of the south edge at one end, on it at the other: a 60 m² wedge of gap.
            unit(
                "a",
                poly(&[(0.0, 0.01), (6_000.0, 0.0), (6_000.0, 1_000.0), (0.0, 1_000.0)]),
            ),
            // 1 cm over the south edge along its whole length: 60 m² of spill.
            unit(
                "b",
                poly(&[
                    (6_000.0, 0.0),
                    (6_000.0, -0.01),
                    (12_000.0, -0.01),
                    (12_000.0, 1_000.0),
                    (6_000.0, 1_000.0),
                ]),
            ),
        ];
        let p = partition(&units, Some(&town), Noise::new(10.0, 0.1));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        // The same pieces with the width rule off: the fixture does hold the slivers.
        let p = partition(&units, Some(&town), Noise::new(10.0, 0.0));
        let kinds: Vec<_> = p.problems.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, [ProblemKind::Gap, ProblemKind::Spill], "{:?}", p.problems);
    }

    #[test]
    fn a_gap_a_metre_wide_and_200_m_long_is_still_reported() {
        // 200 m², mean width 2 · 200 / 402 ≈ 1 m: narrow, but wider than any rounding.
        let town = rect(0.0, 0.0, 201.0, 200.0);
        let units = [
            unit("a", rect(0.0, 0.0, 100.0, 200.0)),
            unit("b", rect(101.0, 0.0, 201.0, 200.0)),
        ];
        let p = partition(&units, Some(&town), NOISE);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].kind, ProblemKind::Gap);
        approx::assert_relative_eq!(p.problems[0].area_m2.unwrap(), 200.0, epsilon = 1e-6);
        assert_eq!(p.problems[0].unit_id, "a,b");
    }

    #[test]
    fn a_real_gap_joined_to_a_long_sliver_is_still_reported() {
        // A 1 × 200 m notch in the town's east edge, which the unit misses by 1 cm along its 12 km: one gap piece of
        // mean width ~3 cm, yet it holds 200 m² of real gap.
        let town = MultiPolygon(vec![Polygon::new(
            vec![
                (0.0, 0.0),
                (1_000.0, 0.0),
                (1_000.0, 5_000.0),
                (1_001.0, 5_000.0),
                (1_001.0, 5_200.0),
                (1_000.0, 5_200.0),
                (1_000.0, 12_000.0),
                (0.0, 12_000.0),
            ]
            .into(),
            vec![],
        )]);
        let units = [unit("a", rect(0.0, 0.0, 999.99, 12_000.0))];
        let p = partition(&units, Some(&town), NOISE);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].kind, ProblemKind::Gap);
        approx::assert_relative_eq!(p.problems[0].area_m2.unwrap(), 320.0, epsilon = 0.5);
    }

    #[test]
    fn candidate_pairs_match_brute_force() {
        use geo::Intersects;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let units: Vec<Unit> = (0..60)
            .map(|i| {
                let (x, y) = (rng.random_range(0.0..1000.0), rng.random_range(0.0..1000.0));
                let (w, h) = (rng.random_range(10.0..150.0), rng.random_range(10.0..150.0));
                unit(&i.to_string(), rect(x, y, x + w, y + h))
            })
            .collect();
        let p = partition(&units, None, Noise::new(0.0, 0.0));
        let mut brute = 0;
        for a in 0..units.len() {
            for b in a + 1..units.len() {
                if units[a].geometry.intersects(&units[b].geometry)
                    && units[a].geometry.intersection(&units[b].geometry).unsigned_area() > 0.0
                {
                    brute += 1;
                }
            }
        }
        assert_eq!(p.problems.len(), brute);
    }

    /// An 8 × 8 lattice of 100 m units (four gap tiles) without its middle four: the hole straddles every tile border.
    fn lattice_without_middle(flip_first: bool) -> Vec<Unit> {
        use geo::orient::{Direction, Orient};
        let mut units = Vec::new();
        for r in 0..8 {
            for c in 0..8 {
                if (3..5).contains(&r) && (3..5).contains(&c) {
                    continue;
                }
                let (x, y) = (c as f64 * 100.0, r as f64 * 100.0);
                let g = rect(x, y, x + 100.0, y + 100.0);
                let g = if flip_first && units.is_empty() {
                    g.orient(Direction::Reversed)
                } else {
                    g
                };
                units.push(unit(&format!("{r}-{c}"), g));
            }
        }
        units
    }

    #[test]
    fn a_gap_cut_by_tile_borders_is_reported_whole() {
        let p = partition(
            &lattice_without_middle(false),
            Some(&rect(0.0, 0.0, 800.0, 800.0)),
            NOISE,
        );
        let gaps: Vec<_> = p.problems.iter().filter(|x| x.kind == ProblemKind::Gap).collect();
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        approx::assert_relative_eq!(gaps[0].area_m2.unwrap(), 40_000.0, epsilon = 1e-6);
        // The twelve units around the hole (corners touch it too).
        assert_eq!(gaps[0].unit_id.split(',').count(), 12, "{}", gaps[0].unit_id);
    }

    #[test]
    fn a_unit_drawn_clockwise_first_hides_no_gap_and_makes_none() {
        // unary_union takes its fill rule from the first ring: a clockwise first unit used to turn every
        // anticlockwise unit into a hole (a city-sized false gap) or, the other way round, swallow real gaps.
        let p = partition(
            &lattice_without_middle(true),
            Some(&rect(0.0, 0.0, 800.0, 800.0)),
            NOISE,
        );
        let gaps: Vec<_> = p.problems.iter().filter(|x| x.kind == ProblemKind::Gap).collect();
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        approx::assert_relative_eq!(gaps[0].area_m2.unwrap(), 40_000.0, epsilon = 1e-6);
    }

    /// The cache's answer after each of a run of random edits (a unit moved, grown, shrunk or swapped with its
    /// old shape, on a 12 × 12 lattice of nine gap tiles, opening gaps, overlaps and spills across tile borders)
    /// equals a fresh `partition` of the same units: it reuses only what the edit did not touch.
    #[test]
    fn a_cached_partition_after_random_edits_equals_a_fresh_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let town = rect(0.0, 0.0, 1200.0, 1200.0);
        let square = |r: usize, c: usize| {
            rect(
                c as f64 * 100.0,
                r as f64 * 100.0,
                c as f64 * 100.0 + 100.0,
                r as f64 * 100.0 + 100.0,
            )
        };
        let mut units: Vec<Unit> = (0..144)
            .map(|k| unit(&format!("{k:03}"), square(k / 12, k % 12)))
            .collect();
        let mut cache = PartitionCache::default();
        let first = cache.partition(&units, Some(&town), NOISE);
        assert!(first.problems.is_empty(), "{:?}", first.problems);
        for step in 0..60 {
            for _ in 0..rng.random_range(1..3) {
                let k = rng.random_range(0..units.len());
                let (r, c) = (k / 12, k % 12);
                let (x, y) = (c as f64 * 100.0, r as f64 * 100.0);
                let (dx, dy) = (rng.random_range(-60.0..60.0), rng.random_range(-60.0..60.0));
                units[k].geometry = match rng.random_range(0..4) {
                    0 => rect(x + dx, y + dy, x + 100.0 + dx, y + 100.0 + dy),
                    1 => rect(
                        x - dx.abs(),
                        y - dy.abs(),
                        x + 100.0 + dx.abs(),
                        y + 100.0 + dy.abs(),
                    ),
                    2 => rect(x + dx.abs() / 2.0, y, x + 100.0, y + 100.0 - dy.abs() / 2.0),
                    _ => square(r, c),
                };
            }
            let cached = cache.partition(&units, Some(&town), NOISE);
            let fresh = partition(&units, Some(&town), NOISE);
            assert_eq!(cached.checks, fresh.checks, "step {step}");
            assert_eq!(cached.problems, fresh.problems, "step {step}");
        }
        // Another layer (fewer units: another tile layout) starts over rather than reading stale pieces.
        units.truncate(100);
        let cached = cache.partition(&units, Some(&town), NOISE);
        assert_eq!(cached.problems, partition(&units, Some(&town), NOISE).problems);
    }

    /// The pieces of a random rectangle cut by random lines (a town of blocks), each with a count.
    fn random_town(xs: &[f64], ys: &[f64], counts: &[u32]) -> Vec<(MultiPolygon<f64>, f64)> {
        let cut = |v: &[f64]| {
            let mut c: Vec<f64> = std::iter::once(0.0)
                .chain(v.iter().copied())
                .chain(std::iter::once(3000.0))
                .collect();
            c.sort_by(f64::total_cmp);
            c.dedup_by(|a, b| (*a - *b).abs() < 1.0);
            c
        };
        let (xs, ys) = (cut(xs), cut(ys));
        let mut out = Vec::new();
        for y in ys.windows(2) {
            for x in xs.windows(2) {
                let count = f64::from(counts[out.len() % counts.len()]);
                out.push((rect(x[0], y[0], x[1], y[1]), count));
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any grouping of a town's blocks into units, rings drawn either way round, divides the town: no gap, no
        /// overlap, no spill, and the units' populations add up to the town's.
        #[test]
        fn random_partitions_of_random_towns_have_no_gap_or_overlap(
            xs in proptest::collection::vec(1.0f64..2999.0, 1..7),
            ys in proptest::collection::vec(1.0f64..2999.0, 1..7),
            counts in proptest::collection::vec(0u32..5000, 1..10),
            labels in proptest::collection::vec(0usize..6, 64),
            flips in proptest::collection::vec(proptest::bool::ANY, 8),
        ) {
            use crate::validate::block_counts::BlockCounts;
            use crate::validate::testing::area;
            use geo::orient::{Direction, Orient};
            let blocks = random_town(&xs, &ys, &counts);
            let mut members: BTreeMap<usize, Vec<MultiPolygon<f64>>> = BTreeMap::new();
            for (i, (g, _)) in blocks.iter().enumerate() {
                members.entry(labels[i % labels.len()]).or_default().push(g.clone());
            }
            let units: Vec<Unit> = members
                .into_values()
                .enumerate()
                .map(|(k, parts)| {
                    let g = geo::unary_union(&parts);
                    let g = if flips[k % flips.len()] { g.orient(Direction::Reversed) } else { g };
                    unit(&format!("U{k}"), g)
                })
                .collect();
            let town = rect(0.0, 0.0, 3000.0, 3000.0);
            let town = if flips[7] { town.orient(Direction::Reversed) } else { town };
            let total: f64 = blocks.iter().map(|b| b.1).sum();
            let source = BlockCounts::new(blocks);
            let v = crate::validate::validate(&area(Some(town)), &units, Some(&source)).unwrap();
            let kinds: Vec<_> = v
                .problems
                .iter()
                .filter(|p| matches!(p.kind, ProblemKind::Gap | ProblemKind::Overlap | ProblemKind::Spill))
                .map(|p| (p.kind, p.unit_id.clone(), p.area_m2))
                .collect();
            proptest::prop_assert!(kinds.is_empty(), "{kinds:?}");
            let sum: f64 = v.units.iter().map(|u| u.population.unwrap_or(0.0)).sum();
            proptest::prop_assert!((sum - total).abs() <= 1e-6 * total.max(1.0), "{sum} vs {total}");
        }
    }
}
