//! Check `boundary_clarity`: 沪民区划〔2018〕6号 一(一) "区域边界清晰可辨" — boundaries clear and recognisable.
//!
//! The policy gives no number; RULES.md states the default: at least 80 % of the unit's boundary lies within 30 m of
//! a recognisable feature (the classes in `recognisable_classes`; lines inferred by `propose` only with
//! `accept_inferred`; the town boundary always). Method: every boundary ring is cut into pieces of at most 10 m; a
//! piece is clear when its midpoint lies within the tolerance of a feature segment; the feature segments near each
//! boundary segment come from one R-tree query (rstar, its box grown by the tolerance) shared by all its pieces. The
//! share is length-weighted; consecutive unclear pieces (across ring closure too) merge into the unclear stretches
//! reported as lines.

use super::{CheckResult, Problem, ProblemKind, Reason, Unit};
use crate::config::Thresholds;
use crate::model::StudyArea;
use geo::{Coord, LineString, MultiLineString};
use rstar::primitives::Line as RLine;
use rstar::{PointDistance, RTree};

/// Longest boundary piece tested by its midpoint.
const PIECE_M: f64 = 10.0;

/// The segments of every recognisable feature and of the town boundary.
#[derive(Debug)]
pub struct FeatureIndex {
    tree: RTree<RLine<[f64; 2]>>,
}

impl FeatureIndex {
    /// Recognisable lines of `area` (per its thresholds) plus the town boundary rings.
    pub fn new(area: &StudyArea) -> Self {
        let t = &area.config.thresholds;
        let classes = &t.recognisable_classes;
        let mut segments = Vec::new();
        let mut push = |ls: &LineString<f64>| {
            for l in ls.lines() {
                segments.push(RLine::new([l.start.x, l.start.y], [l.end.x, l.end.y]));
            }
        };
        for l in &area.lines {
            if classes.contains(&l.class) && (!l.inferred || t.accept_inferred) {
                l.geometry.0.iter().for_each(&mut push);
            }
        }
        if let Some(town) = &area.town {
            for p in &town.geometry.0 {
                push(p.exterior());
                p.interiors().iter().for_each(&mut push);
            }
        }
        FeatureIndex {
            tree: RTree::bulk_load(segments),
        }
    }

    /// The feature segments within `tolerance` of the box of the segment `a`–`b`: every segment that can be within
    /// the tolerance of a point of `a`–`b`, so one query serves all the pieces of a boundary segment.
    fn candidates(&self, a: Coord<f64>, b: Coord<f64>, tolerance: f64) -> Vec<&RLine<[f64; 2]>> {
        let envelope = rstar::AABB::from_corners(
            [a.x.min(b.x) - tolerance, a.y.min(b.y) - tolerance],
            [a.x.max(b.x) + tolerance, a.y.max(b.y) + tolerance],
        );
        self.tree.locate_in_envelope_intersecting(envelope).collect()
    }
}

/// Whether `c` lies within `tolerance` of one of `candidates` — the test rstar's `locate_within_distance` makes
/// (squared point–segment distance ≤ tolerance²), on a short list.
fn near(candidates: &[&RLine<[f64; 2]>], c: Coord<f64>, tolerance: f64) -> bool {
    candidates
        .iter()
        .any(|l| l.distance_2(&[c.x, c.y]) <= tolerance * tolerance)
}

/// Share of the boundary along recognisable features, and the unclear stretches.
pub fn boundary_clarity(
    unit: &Unit,
    index: &Option<FeatureIndex>,
    t: &Thresholds,
) -> (CheckResult, Vec<Problem>) {
    let Some(index) = index else {
        return (CheckResult::not_evaluated(Reason::NoFeatureLayers), Vec::new());
    };
    let mut total = 0.0;
    let mut clear = 0.0;
    let mut stretches: Vec<(LineString<f64>, f64)> = Vec::new();
    for ring in unit
        .geometry
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    {
        // (start, end, length, unclear) for every piece of the ring, in order.
        let mut pieces: Vec<(Coord<f64>, Coord<f64>, f64, bool)> = Vec::new();
        for seg in ring.lines() {
            let d = seg.delta();
            let len = d.x.hypot(d.y);
            if len == 0.0 {
                continue;
            }
            let n = (len / PIECE_M).ceil().max(1.0) as usize;
            let candidates = index.candidates(seg.start, seg.end, t.boundary_tolerance_m);
            for k in 0..n {
                let a = seg.start + d * (k as f64 / n as f64);
                let b = seg.start + d * ((k + 1) as f64 / n as f64);
                let mid = (a + b) / 2.0;
                pieces.push((
                    a,
                    b,
                    len / n as f64,
                    !near(&candidates, mid, t.boundary_tolerance_m),
                ));
            }
        }
        for p in &pieces {
            total += p.2;
            if !p.3 {
                clear += p.2;
            }
        }
        // Start at a clear piece so that a stretch running over the ring's closing point stays whole.
        let start = pieces.iter().position(|p| !p.3).unwrap_or(0);
        let mut run: Option<(Vec<Coord<f64>>, f64)> = None;
        for k in 0..pieces.len() {
            let (a, b, len, unclear) = pieces[(start + k) % pieces.len()];
            if unclear {
                let r = run.get_or_insert_with(|| (vec![a], 0.0));
                r.0.push(b);
                r.1 += len;
            } else if let Some((coords, len)) = run.take() {
                stretches.push((LineString::from(coords), len));
            }
        }
        if let Some((coords, len)) = run.take() {
            stretches.push((LineString::from(coords), len));
        }
    }
    let share = if total > 0.0 { clear / total } else { 0.0 };
    let pass = share >= t.boundary_share;
    let unclear_m = total - clear;
    let mut r = CheckResult::evaluated(pass, share, Some(t.boundary_share))
        .with_detail("boundary_m", total)
        .with_detail("unclear_m", unclear_m);
    if !pass {
        r = r.with_reason(Reason::UnclearBoundary {
            share,
            tolerance_m: t.boundary_tolerance_m,
            needs: t.boundary_share,
            unclear_m,
            stretches: stretches.len(),
        });
    }
    let problems = stretches
        .into_iter()
        .map(|(ls, len)| {
            Problem::length(
                ProblemKind::UnclearBoundary,
                &unit.id,
                MultiLineString(vec![ls]),
                len,
            )
        })
        .collect();
    (r, problems)
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct BoundaryClarityCheck;

impl Check for BoundaryClarityCheck {
    fn name(&self) -> CheckName {
        CheckName::BoundaryClarity
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Features, Layer::Town]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("边界清晰", "Clear boundary")
    }
    fn column(&self) -> Option<&'static str> {
        Some("bnd")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        format!(
            "≥ {:.0} % of boundary within {} m of a feature",
            t.boundary_share * 100.0,
            t.boundary_tolerance_m
        )
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "一(一)",
        text: "区域边界清晰可辨",
        verbatim: true,
        translation: "Its boundaries are clear and recognisable.",
        rule: (
            "单元边界沿道路、河道、铁路或镇界（在容差距离内）的比例 ≥ 阈值；列出不清晰的边界段",
            "Share of the boundary within the tolerance of a road, waterway, railway or the town boundary ≥ \
             threshold; unclear stretches are listed",
        ),
        source: (
            "bmu 默认值（政策无量化标准，可配置）",
            "bmu default (the policy gives no number; configurable)",
        ),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        let pct = format!("{:.0}%", t.boundary_share * 100.0);
        if lang == crate::report::Lang::Zh {
            format!("≥ {pct}（{} m 内）", t.boundary_tolerance_m)
        } else {
            format!("≥ {pct} within {} m", t.boundary_tolerance_m)
        }
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {:.0}%", t.boundary_share * 100.0)
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0}%", e.value * 100.0)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(boundary_clarity(unit.unit, &ctx.recognisable, ctx.thresholds).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{area, line, rect, unit};
    use crate::vocab::FeatureClass;

    fn index(
        lines: Vec<crate::model::LineFeature>,
        town: Option<geo::MultiPolygon<f64>>,
    ) -> Option<FeatureIndex> {
        let mut a = area(town);
        a.lines = lines;
        Some(FeatureIndex::new(&a))
    }

    #[test]
    fn a_road_30_m_off_counts_and_31_m_off_does_not() {
        let t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 1000.0, 1000.0));
        // Roads along the south and west sides, offset 29.9 m outward; north and east have nothing.
        let near = index(
            vec![
                line("s", FeatureClass::Road, &[(-100.0, -29.9), (1100.0, -29.9)]),
                line("w", FeatureClass::Road, &[(-29.9, -100.0), (-29.9, 1100.0)]),
            ],
            None,
        );
        let (r, problems) = boundary_clarity(&u, &near, &t);
        approx::assert_relative_eq!(r.value().unwrap(), 0.5, epsilon = 1e-9);
        assert_eq!(r.pass(), Some(false));
        // North and east sides form one unclear stretch of 2,000 m.
        assert_eq!(problems.len(), 1);
        approx::assert_relative_eq!(problems[0].length_m.unwrap(), 2000.0, epsilon = 1e-6);

        let far = index(
            vec![line("s", FeatureClass::Road, &[(-100.0, -31.0), (1100.0, -31.0)])],
            None,
        );
        let (r, _) = boundary_clarity(&u, &far, &t);
        approx::assert_relative_eq!(r.value().unwrap(), 0.0);
    }

    #[test]
    fn the_town_boundary_counts_and_paths_do_not() {
        let t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 1000.0, 1000.0));
        let idx = index(
            vec![line("p", FeatureClass::Path, &[(0.0, 500.0), (1000.0, 500.0)])],
            Some(rect(0.0, 0.0, 1000.0, 1000.0)),
        );
        let (r, problems) = boundary_clarity(&u, &idx, &t);
        assert_eq!(r.pass(), Some(true));
        assert!(problems.is_empty());
        let (r, _) = boundary_clarity(
            &u,
            &index(
                vec![line("p", FeatureClass::Path, &[(0.0, 0.0), (1000.0, 0.0)])],
                None,
            ),
            &t,
        );
        approx::assert_relative_eq!(r.value().unwrap(), 0.0);
    }

    #[test]
    fn inferred_lines_count_only_when_accepted() {
        let mut t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 100.0, 100.0));
        let mut l = line("i", FeatureClass::Road, &[(-10.0, -1.0), (110.0, -1.0)]);
        l.inferred = true;
        let mut a = area(None);
        a.lines = vec![l];
        let (r, _) = boundary_clarity(&u, &Some(FeatureIndex::new(&a)), &t);
        approx::assert_relative_eq!(r.value().unwrap(), 0.0);
        t.accept_inferred = true;
        a.config.thresholds.accept_inferred = true;
        let (r, _) = boundary_clarity(&u, &Some(FeatureIndex::new(&a)), &t);
        // The south side and the first 30 m of the west and east sides: 160 m of 400 m.
        approx::assert_relative_eq!(r.value().unwrap(), 0.4, epsilon = 1e-9);
    }

    #[test]
    fn no_feature_layer_is_not_evaluated() {
        let (r, _) = boundary_clarity(
            &unit("a", rect(0.0, 0.0, 1.0, 1.0)),
            &None,
            &Thresholds::default(),
        );
        assert_eq!(r.pass(), None);
    }
}
