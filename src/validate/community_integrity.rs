//! Check `community_integrity`: 沪民区划〔2018〕6号 一(一) weighs 社区认同 (community identity) — RULES.md: residential
//! committees / villages (居委/村) or compounds given as blocks are never split.
//!
//! A block is whole when at least `community_share` (95 %) of its area lies in one unit. For every block split that
//! way, each unit holding a piece of it of at least `partition_tolerance_m2` fails, and the piece is reported with
//! the block id and its share. Candidate block–unit pairs come from an R-tree of block boxes. Without blocks the
//! check is not evaluated.

use super::{box_tree, envelope, CheckResult, Problem, ProblemKind, Reason, Unit};
use crate::config::Thresholds;
use crate::model::StudyArea;
use geo::{Area, BooleanOps, BoundingRect, MultiPolygon};
use rayon::prelude::*;

/// Per-unit results and the pieces of split blocks.
#[derive(Clone, Debug)]
pub struct CommunityIntegrity {
    pub checks: Vec<CheckResult>,
    pub problems: Vec<Problem>,
}

/// Whether any block is divided between units.
pub fn community_integrity(area: &StudyArea, units: &[Unit], t: &Thresholds) -> CommunityIntegrity {
    CommunityCache::default().community_integrity(area, units, t)
}

/// The block pieces [`community_integrity`] found in each unit, kept so that the next call on a layer where only a
/// few units changed intersects only their blocks again; the result equals a fresh call's. It starts over when the
/// blocks or the unit ids differ from the last call.
#[derive(Default)]
pub struct CommunityCache {
    last: Option<LastPieces>,
}

/// What the last call saw, and each unit's pieces: (block index, share of the block, piece), by block.
struct LastPieces {
    blocks: Vec<MultiPolygon<f64>>,
    ids: Vec<String>,
    geometry: Vec<MultiPolygon<f64>>,
    pieces: Vec<Vec<(usize, f64, MultiPolygon<f64>)>>,
}

impl CommunityCache {
    /// [`community_integrity`], reusing the pieces of the units whose geometry did not change since the last call.
    pub fn community_integrity(
        &mut self,
        area: &StudyArea,
        units: &[Unit],
        t: &Thresholds,
    ) -> CommunityIntegrity {
        let Some(blocks) = area.blocks.as_ref().filter(|b| !b.is_empty()) else {
            self.last = None;
            return CommunityIntegrity {
                checks: vec![CheckResult::not_evaluated(Reason::NoBlocksLayer); units.len()],
                problems: Vec::new(),
            };
        };
        let last = self.last.take().filter(|l| {
            l.ids.len() == units.len()
                && l.ids.iter().zip(units).all(|(id, u)| *id == u.id)
                && l.blocks.len() == blocks.len()
                && l.blocks.iter().zip(blocks).all(|(g, b)| *g == b.geometry)
        });
        let changed: Vec<usize> = match &last {
            Some(l) => (0..units.len())
                .filter(|&i| units[i].geometry != l.geometry[i])
                .collect(),
            None => (0..units.len()).collect(),
        };
        let mut last = last.unwrap_or_else(|| LastPieces {
            blocks: blocks.iter().map(|b| b.geometry.clone()).collect(),
            ids: units.iter().map(|u| u.id.clone()).collect(),
            geometry: units.iter().map(|u| u.geometry.clone()).collect(),
            pieces: vec![Vec::new(); units.len()],
        });
        if !changed.is_empty() {
            let tree = box_tree(blocks.iter().map(|b| &b.geometry));
            let block_area: Vec<f64> = blocks.iter().map(|b| b.geometry.unsigned_area()).collect();
            let fresh: Vec<Vec<(usize, f64, MultiPolygon<f64>)>> = changed
                .par_iter()
                .map(|&i| unit_pieces(&units[i], blocks, &tree, &block_area))
                .collect();
            for (&i, pieces) in changed.iter().zip(fresh) {
                last.pieces[i] = pieces;
                last.geometry[i] = units[i].geometry.clone();
            }
        }
        let result = assemble(blocks, units, &last.pieces, t);
        self.last = Some(last);
        result
    }
}

/// The pieces of the blocks `u` holds: (block index, share of the block, piece), by block.
fn unit_pieces(
    u: &Unit,
    blocks: &[crate::model::Block],
    tree: &rstar::RTree<super::BoxItem>,
    block_area: &[f64],
) -> Vec<(usize, f64, MultiPolygon<f64>)> {
    let Some(r) = u.geometry.bounding_rect() else {
        return Vec::new();
    };
    let mut out: Vec<_> = tree
        .locate_in_envelope_intersecting(envelope(r, 0.0))
        .filter_map(|item| {
            let b = item.data;
            if block_area[b] <= 0.0 {
                return None;
            }
            let piece = blocks[b].geometry.intersection(&u.geometry);
            let a = piece.unsigned_area();
            (a > 0.0).then(|| (b, a / block_area[b], piece))
        })
        .collect();
    out.sort_by_key(|p| p.0);
    out
}

/// Each unit's result and the pieces of split blocks, from every unit's pieces.
fn assemble(
    blocks: &[crate::model::Block],
    units: &[Unit],
    pieces: &[Vec<(usize, f64, MultiPolygon<f64>)>],
    t: &Thresholds,
) -> CommunityIntegrity {
    let mut best = vec![0.0_f64; blocks.len()];
    for unit_pieces in pieces {
        for (b, share, _) in unit_pieces {
            best[*b] = best[*b].max(*share);
        }
    }
    let mut checks = Vec::with_capacity(units.len());
    let mut problems = Vec::new();
    for (u, unit_pieces) in units.iter().zip(pieces) {
        let mut split = Vec::new();
        for (b, share, piece) in unit_pieces {
            if best[*b] < t.community_share && piece.unsigned_area() >= t.partition_tolerance_m2 {
                split.push(blocks[*b].id.clone());
                problems.push(
                    Problem::area(ProblemKind::SplitBlock, &u.id, piece.clone())
                        .with("block_id", &blocks[*b].id)
                        .with("share", format!("{share:.3}")),
                );
            }
        }
        let mut r = CheckResult::evaluated(split.is_empty(), split.len() as f64, Some(0.0))
            .with_detail("split_blocks", split.clone());
        if !split.is_empty() {
            r = r.with_reason(Reason::SplitsBlocks {
                blocks: split,
                share: t.community_share,
            });
        }
        checks.push(r);
    }
    CommunityIntegrity { checks, problems }
}

use super::check::{
    from_layer, take_cache, Basis, Check, Context, Evaluation, Layer, LayerResult, LayerState, Subject,
};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct CommunityIntegrityCheck;

impl Check for CommunityIntegrityCheck {
    fn name(&self) -> CheckName {
        CheckName::CommunityIntegrity
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Blocks]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("社区完整", "Communities whole")
    }
    fn column(&self) -> Option<&'static str> {
        Some("com")
    }
    fn legend(&self, _t: &crate::config::Thresholds) -> String {
        "blocks unsplit".into()
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "一(一)",
        text: "综合考虑人口规模、地域面积、城市化程度、社区认同等因素,合理设置基本管理单元。",
        verbatim: true,
        translation: "Set units taking into account population, area, degree of urbanisation and community \
                      identity.",
        rule: (
            "居委、村或小区（地块）不被拆分：每个地块须有不低于阈值的面积位于同一单元",
            "Residential committees, villages or compounds (blocks) are never split: one unit holds at least the \
             threshold share of each block",
        ),
        source: (
            "bmu 默认值（政策无量化标准）",
            "bmu default (the policy gives no number)",
        ),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, _lang: crate::report::Lang) -> String {
        format!("≥ {:.0}%", t.community_share * 100.0)
    }
    // The share a block must keep in one unit, as the policy card states it: the value's own bound (0 split
    // blocks) told a reviewer nothing.
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {:.0}%", t.community_share * 100.0)
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0}", e.value)
    }
    fn prepare(&self, units: &[Unit], ctx: &Context) -> Result<Option<LayerResult>> {
        let c = community_integrity(ctx.area, units, ctx.thresholds);
        Ok(Some(LayerResult {
            checks: c.checks,
            problems: c.problems,
        }))
    }
    fn prepare_again(
        &self,
        units: &[Unit],
        ctx: &Context,
        state: &mut LayerState,
    ) -> Result<Option<LayerResult>> {
        let mut cache = take_cache::<CommunityCache>(state);
        let c = cache.community_integrity(ctx.area, units, ctx.thresholds);
        *state = Some(cache);
        Ok(Some(LayerResult {
            checks: c.checks,
            problems: c.problems,
        }))
    }
    fn evaluate(&self, unit: &Subject, _ctx: &Context, layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(from_layer(unit, layer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_threshold_is_shown_as_the_share_a_block_keeps_not_zero() {
        let t = Thresholds::default();
        assert_eq!(CommunityIntegrityCheck.short_threshold(&t), "≥ 95%");
    }
    use crate::model::Block;
    use crate::validate::testing::{area, rect, unit};

    #[test]
    fn a_split_block_fails_both_units() {
        let mut a = area(None);
        a.blocks = Some(vec![
            Block {
                id: "whole".into(),
                geometry: rect(0.0, 0.0, 100.0, 100.0),
                population: None,
                source: None,
            },
            // Straddles the line x = 200 between units: 60 % west, 40 % east.
            Block {
                id: "split".into(),
                geometry: rect(140.0, 0.0, 240.0, 100.0),
                population: None,
                source: None,
            },
            // 97 % in the east unit: whole by the 95 % rule.
            Block {
                id: "nearly".into(),
                geometry: rect(197.0, 200.0, 297.0, 300.0),
                population: None,
                source: None,
            },
        ]);
        let units = [
            unit("w", rect(0.0, 0.0, 200.0, 400.0)),
            unit("e", rect(200.0, 0.0, 400.0, 400.0)),
        ];
        let c = community_integrity(&a, &units, &Thresholds::default());
        assert_eq!(c.checks[0].pass(), Some(false));
        assert_eq!(c.checks[1].pass(), Some(false));
        assert_eq!(c.problems.len(), 2);
        assert!(c.problems.iter().all(|p| p.detail["block_id"] == "split"));
        approx::assert_relative_eq!(c.problems[0].area_m2.unwrap(), 6000.0, epsilon = 1e-6);
    }

    /// After each random redrawing of two units' border, the cache's answer equals a fresh check's.
    #[test]
    fn a_cached_check_after_random_edits_equals_a_fresh_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let mut a = area(None);
        a.blocks = Some(
            (0..40)
                .map(|k| Block {
                    id: format!("b{k}"),
                    geometry: rect(
                        (k % 8) as f64 * 100.0,
                        (k / 8) as f64 * 100.0,
                        (k % 8) as f64 * 100.0 + 100.0,
                        (k / 8) as f64 * 100.0 + 100.0,
                    ),
                    population: None,
                    source: None,
                })
                .collect(),
        );
        let t = Thresholds::default();
        let mut cache = CommunityCache::default();
        let mut units: Vec<Unit> = (0..4)
            .map(|k| {
                unit(
                    &format!("u{k}"),
                    rect(k as f64 * 200.0, 0.0, k as f64 * 200.0 + 200.0, 500.0),
                )
            })
            .collect();
        for step in 0..30 {
            let k = rng.random_range(0..3);
            let x = (k as f64 + 1.0) * 200.0 + rng.random_range(-150.0..150.0);
            units[k].geometry = rect(k as f64 * 200.0, 0.0, x, 500.0);
            units[k + 1].geometry = rect(x, 0.0, (k as f64 + 1.0) * 200.0 + 200.0, 500.0);
            let cached = cache.community_integrity(&a, &units, &t);
            let fresh = community_integrity(&a, &units, &t);
            assert_eq!(cached.checks, fresh.checks, "step {step}");
            assert_eq!(cached.problems, fresh.problems, "step {step}");
        }
    }

    #[test]
    fn without_blocks_it_is_not_evaluated() {
        let c = community_integrity(
            &area(None),
            &[unit("u", rect(0.0, 0.0, 1.0, 1.0))],
            &Thresholds::default(),
        );
        assert_eq!(c.checks[0].pass(), None);
    }
}
