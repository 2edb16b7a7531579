//! The partition check read from the block assignment (issue #16: "where a partition comes from blocks, gaps and
//! overlaps are known from the block assignment and need no overlay of whole units").
//!
//! A unit of the editor is the dissolve of its blocks. When the blocks themselves tile the town — their own gaps,
//! overlaps and spill, every piece however small, add up to less than the partition tolerance — and every block is
//! in a unit, the units' gaps, overlaps and spill are made of those pieces and of whatever the dissolve added to or
//! took from its blocks' area. So when that too stays under the tolerance no unit can take part in a piece the check
//! counts, and every unit's result is the clean one `bmu validate` gives it: no overlay per move. Anything else (a
//! block in no unit, blocks with cracks between them, a dissolve that filled an enclave) goes through the overlay
//! as before, so the result is always the one `validate --assignment` gives.

use crate::validate::check::LayerResult;
use crate::validate::partition::partition;
use crate::validate::{CheckResult, Unit};
use geo::{Area, MultiPolygon};
use std::collections::BTreeMap;

/// The blocks' own gaps, overlaps and spill within `town`, summed over every piece (m²): the area the units of any
/// complete assignment can leave open, share or push out beyond what their dissolve changes.
pub(crate) fn blocks_residue(
    ids: &[String],
    geometry: &[MultiPolygon<f64>],
    town: &MultiPolygon<f64>,
) -> f64 {
    let blocks: Vec<Unit> = ids
        .iter()
        .zip(geometry)
        .map(|(id, g)| Unit::new(id.clone(), g.clone()))
        .collect();
    // Tolerance 0: every piece counts, however small.
    partition(&blocks, Some(town), crate::validate::Noise::new(0.0, 0.0))
        .problems
        .iter()
        .map(|p| p.area_m2.unwrap_or(0.0))
        .sum()
}

/// The partition check's result when no unit takes part in a counted piece: what `partition` gives a clean unit
/// within a town.
pub(crate) fn clean(units: usize, tolerance: f64) -> LayerResult {
    let mut r = CheckResult::evaluated(true, 0.0, Some(tolerance));
    // The keys in the order `partition` writes them (sorted).
    let detail: BTreeMap<&str, f64> = [("overlap_m2", 0.0), ("gap_m2", 0.0), ("spill_m2", 0.0)].into();
    for (k, v) in detail {
        r = r.with_detail(k, v);
    }
    LayerResult {
        checks: vec![r; units],
        problems: Vec::new(),
    }
}

/// How far the dissolve of `parts` moved away from their area: the dissolved unit's area against the sum of its
/// blocks' (`areas`).
pub(crate) fn dissolve_drift(unit: &MultiPolygon<f64>, areas: impl Iterator<Item = f64>) -> f64 {
    (unit.unsigned_area() - areas.sum::<f64>()).abs()
}
