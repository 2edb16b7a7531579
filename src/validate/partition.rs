//! Check `partition`: the units divide the town — 沪民区划〔2018〕6号 一(一) sets units up inside the town's
//! territory, so the partition must cover the area it claims with no gaps, no overlaps and nothing outside the town
//! (RULES.md: overlap/gap tolerance 100 m²).
//!
//! Overlaps: candidate pairs from an R-tree of unit bounding boxes (rstar `GeomWithData` + bulk load, one
//! self-join), then the exact intersection (geo `BooleanOps`). Gaps: town − union of units (`unary_union`). Spill:
//! unit − town. Every piece is reported with its area; pieces under `partition_tolerance_m2` are digitising noise and
//! ignored. A unit's value is the total area of significant pieces it takes part in (its overlaps, its spill and the
//! gaps along its boundary), so it passes exactly when that is zero.

use super::{box_tree, significant_parts, CheckResult, Problem, ProblemKind, Unit};
use geo::{Area, BooleanOps, BoundingRect, Distance, Euclidean, MultiPolygon};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A gap closer than this to a unit borders it.
const TOUCH_M: f64 = 1.0;

/// Per-unit partition checks and the problem pieces.
#[derive(Clone, Debug)]
pub struct Partition {
    pub checks: Vec<CheckResult>,
    pub problems: Vec<Problem>,
}

#[derive(Default, Clone)]
struct Tally {
    overlap: f64,
    gap: f64,
    spill: f64,
}

/// Overlaps, gaps and spills of `units` within `town` (gaps and spill skipped when there is no town).
pub fn partition(units: &[Unit], town: Option<&MultiPolygon<f64>>, tolerance: f64) -> Partition {
    let tree = box_tree(units.iter().map(|u| &u.geometry));
    let mut pairs: Vec<(usize, usize)> = tree
        .intersection_candidates_with_other_tree(&tree)
        .map(|(a, b)| (a.data.min(b.data), a.data.max(b.data)))
        .filter(|(a, b)| a != b)
        .collect();
    pairs.sort_unstable();
    pairs.dedup();

    let mut tally = vec![Tally::default(); units.len()];
    let mut problems = Vec::new();

    let overlaps: Vec<(usize, usize, Vec<MultiPolygon<f64>>)> = pairs
        .par_iter()
        .map(|&(a, b)| {
            let shared = units[a].geometry.intersection(&units[b].geometry);
            (a, b, significant_parts(shared, tolerance))
        })
        .collect();
    for (a, b, pieces) in overlaps {
        for piece in pieces {
            let p = Problem::area(ProblemKind::Overlap, &units[a].id, piece).with("other_unit", &units[b].id);
            let area = p.area_m2.unwrap_or(0.0);
            tally[a].overlap += area;
            tally[b].overlap += area;
            problems.push(p);
        }
    }

    if let Some(town) = town {
        let union = geo::unary_union(units.iter().map(|u| &u.geometry));
        for piece in significant_parts(town.difference(&union), tolerance) {
            let area = piece.unsigned_area();
            let near: Vec<usize> = match piece.bounding_rect() {
                Some(r) => tree
                    .locate_in_envelope_intersecting(super::envelope(r, TOUCH_M))
                    .map(|i| i.data)
                    .filter(|&i| {
                        piece
                            .0
                            .iter()
                            .any(|p| Euclidean.distance(p, &units[i].geometry) <= TOUCH_M)
                    })
                    .collect(),
                None => Vec::new(),
            };
            let mut near = near;
            near.sort_unstable();
            for &i in &near {
                tally[i].gap += area;
            }
            let ids: Vec<&str> = near.iter().map(|&i| units[i].id.as_str()).collect();
            problems.push(Problem::area(ProblemKind::Gap, ids.join(","), piece));
        }
        let spills: Vec<Vec<MultiPolygon<f64>>> = units
            .par_iter()
            .map(|u| match u.geometry.bounding_rect() {
                Some(r) => significant_parts(u.geometry.difference(&super::parts_near(town, r)), tolerance),
                None => Vec::new(),
            })
            .collect();
        for (i, pieces) in spills.into_iter().enumerate() {
            for piece in pieces {
                let p = Problem::area(ProblemKind::Spill, &units[i].id, piece);
                tally[i].spill += p.area_m2.unwrap_or(0.0);
                problems.push(p);
            }
        }
    }

    let checks = tally
        .iter()
        .map(|t| {
            let total = t.overlap + t.gap + t.spill;
            let mut r = CheckResult::evaluated(total == 0.0, total, Some(tolerance));
            let mut detail = BTreeMap::new();
            detail.insert("overlap_m2", t.overlap);
            if town.is_some() {
                detail.insert("gap_m2", t.gap);
                detail.insert("spill_m2", t.spill);
            } else {
                r = r.with_reason("gaps and spill not evaluated: no town boundary and no blocks");
            }
            for (k, v) in detail {
                r = r.with_detail(k, v);
            }
            for (what, v) in [
                ("overlaps other units", t.overlap),
                ("borders gaps", t.gap),
                ("lies outside the town", t.spill),
            ] {
                if v > 0.0 {
                    r = r.with_reason(format!("{what}: {v:.0} m²"));
                }
            }
            r
        })
        .collect();
    Partition { checks, problems }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{rect, unit};

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
        let p = partition(&units, Some(&town), 100.0);
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
    fn slivers_under_the_tolerance_are_ignored() {
        let town = rect(0.0, 0.0, 200.0, 100.0);
        // A 0.5 m overlap (50 m²) and a 0.5 m gap (50 m²).
        let units = [
            unit("a", rect(0.0, 0.0, 100.5, 100.0)),
            unit("b", rect(100.0, 0.0, 199.5, 100.0)),
        ];
        let p = partition(&units, Some(&town), 100.0);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert!(p.checks.iter().all(|c| c.pass() == Some(true)));
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
        let p = partition(&units, None, 0.0);
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
}
