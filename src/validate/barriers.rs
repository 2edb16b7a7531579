//! Check `barriers`: no expressway or railway runs through a unit — RULES.md, from the Shanghai 2024 draft technical
//! standard ("units must not be split by expressways or railways"), read together with 一(一)'s clear boundaries.
//!
//! A barrier may *bound* a unit but not cross it. The unit is shrunk by `boundary_tolerance_m` (geo `Buffer` with a
//! negative distance) so that a barrier running along the boundary never counts; the barrier lines (classes in
//! `barrier_classes`) are clipped to the shrunk unit (geo `BooleanOps::clip`) and their length inside summed per
//! class. OSM splits one expressway into many ways, so lengths are summed per class rather than per feature; more
//! than `barrier_tolerance_m` of a class inside fails the check, and the clipped lines are reported.

use super::{CheckResult, Problem, ProblemKind, Reason, Unit};
use crate::config::Thresholds;
use crate::model::{FeatureClass, StudyArea};
use geo::{
    BooleanOps, BoundingRect, Buffer, Euclidean, Intersects, Length, MultiLineString, MultiPolygon, Rect,
};
use std::collections::BTreeSet;

/// One barrier line: class, name (or id), geometry, bounding box.
type BarrierLine = (FeatureClass, String, MultiLineString<f64>, Option<Rect<f64>>);

/// What lies inside a unit of one barrier class: clipped lines, their length, feature names.
type Inside = (FeatureClass, Vec<geo::LineString<f64>>, f64, BTreeSet<String>);

/// The barrier lines of a study area.
#[derive(Debug)]
pub struct Barriers {
    lines: Vec<BarrierLine>,
}

impl Barriers {
    /// The lines of `area` whose class is in `barrier_classes`.
    pub fn new(area: &StudyArea) -> Self {
        let classes = &area.config.thresholds.barrier_classes;
        Barriers {
            lines: area
                .lines
                .iter()
                .filter(|l| classes.contains(&l.class))
                .map(|l| {
                    let name = l.name.clone().unwrap_or_else(|| l.id.clone());
                    (l.class, name, l.geometry.clone(), l.geometry.bounding_rect())
                })
                .collect(),
        }
    }
}

/// Length of barrier lines through the unit's interior, per class, against `barrier_tolerance_m`.
pub fn barriers(unit: &Unit, barriers: &Option<Barriers>, t: &Thresholds) -> (CheckResult, Vec<Problem>) {
    let Some(barriers) = barriers else {
        return (CheckResult::not_evaluated(Reason::NoBarrierLayers), Vec::new());
    };
    let Some(unit_box) = unit.geometry.bounding_rect() else {
        return (
            CheckResult::evaluated(true, 0.0, Some(t.barrier_tolerance_m)),
            Vec::new(),
        );
    };
    let candidates: Vec<&BarrierLine> = barriers
        .lines
        .iter()
        .filter(|(_, _, _, rect)| rect.is_some_and(|r| r.intersects(&unit_box)))
        .collect();
    // Shrinking the unit (a buffer) costs far more than the rest: only do it when a barrier comes near.
    let inner = if candidates.is_empty() {
        MultiPolygon(Vec::new())
    } else if t.boundary_tolerance_m > 0.0 {
        unit.geometry.buffer(-t.boundary_tolerance_m)
    } else {
        unit.geometry.clone()
    };
    // class → (clipped lines, total length, names)
    let mut per_class: Vec<Inside> = Vec::new();
    for (class, name, lines, _) in candidates {
        let clipped = inner.clip(lines, false);
        let len = Euclidean.length(&clipped);
        if len <= 0.0 {
            continue;
        }
        let entry = match per_class.iter().position(|e| e.0 == *class) {
            Some(i) => &mut per_class[i],
            None => {
                per_class.push((*class, Vec::new(), 0.0, BTreeSet::new()));
                let last = per_class.len() - 1;
                &mut per_class[last]
            }
        };
        entry.1.extend(clipped.0);
        entry.2 += len;
        entry.3.insert(name.clone());
    }
    per_class.sort_by_key(|e| e.0);
    let worst = per_class.iter().map(|e| e.2).fold(0.0, f64::max);
    let pass = worst <= t.barrier_tolerance_m;
    let mut r = CheckResult::evaluated(pass, worst, Some(t.barrier_tolerance_m));
    let mut problems = Vec::new();
    for (class, lines, len, names) in per_class {
        r = r.with_detail(format!("{class}_m"), len);
        if len > t.barrier_tolerance_m {
            let names: Vec<String> = names.into_iter().collect();
            r = r.with_reason(Reason::BarrierInside {
                class,
                length_m: len,
                features: names.clone(),
            });
            problems.push(
                Problem::length(
                    ProblemKind::BarrierCrossing,
                    &unit.id,
                    MultiLineString(lines),
                    len,
                )
                .with("class", class.name())
                .with("features", names.join(",")),
            );
        }
    }
    (r, problems)
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct BarriersCheck;

impl Check for BarriersCheck {
    fn name(&self) -> CheckName {
        CheckName::Barriers
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Features]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("不跨屏障", "Barriers")
    }
    fn column(&self) -> Option<&'static str> {
        Some("bar")
    }
    fn legend(&self, _t: &crate::config::Thresholds) -> String {
        "no expressway/railway inside".into()
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "2024",
        text: "上海市2024年相关技术标准征求意见稿（二手摘要）：新市镇服务半径1000–5000米、人口2万以上；\
               基本管理单元不被高速公路、铁路分割。",
        verbatim: false,
        translation: "Shanghai 2024 draft technical standard (secondary summary): suburban new towns serve within \
                      1,000–5,000 m and 20,000+ people; units are not split by expressways or railways.",
        rule: (
            "单元内部（边界内缩30米后）高速公路、铁路各类长度 ≤ 容差",
            "Length of each barrier class (expressway, railway) inside the unit shrunk by 30 m ≤ tolerance",
        ),
        source: (
            "2024年技术标准征求意见稿；容差为 bmu 默认值",
            "2024 draft technical standard; the tolerance is a bmu default",
        ),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        let classes = match lang {
            crate::report::Lang::English => crate::vocab::names(&t.barrier_classes),
            crate::report::Lang::Zh => t
                .barrier_classes
                .iter()
                .map(|c| crate::report::i18n::feature_class(lang, *c))
                .collect::<Vec<_>>()
                .join("、"),
        };
        format!(
            "≤ {} m ({classes})",
            crate::report::fmt_int(t.barrier_tolerance_m)
        )
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≤ {} m", crate::report::fmt_int(t.barrier_tolerance_m))
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{} m", crate::report::fmt_int(e.value))
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(barriers(unit.unit, &ctx.barriers, ctx.thresholds).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{area, line, rect, unit};

    fn setup(lines: Vec<crate::model::LineFeature>) -> Option<Barriers> {
        let mut a = area(None);
        a.lines = lines;
        Some(Barriers::new(&a))
    }

    #[test]
    fn a_railway_through_the_middle_splits_the_unit() {
        let t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 1000.0, 1000.0));
        let b = setup(vec![line(
            "r",
            FeatureClass::Railway,
            &[(500.0, -200.0), (500.0, 1200.0)],
        )]);
        let (r, problems) = barriers(&u, &b, &t);
        assert_eq!(r.pass(), Some(false));
        // 1000 m minus 30 m at each end.
        approx::assert_relative_eq!(r.value().unwrap(), 940.0, epsilon = 0.5);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].detail["class"], "railway");
    }

    #[test]
    fn a_boundary_expressway_and_a_crossing_road_pass() {
        let t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 1000.0, 1000.0));
        let b = setup(vec![
            line("e", FeatureClass::Expressway, &[(-100.0, 10.0), (1100.0, 10.0)]),
            line("r", FeatureClass::Road, &[(500.0, -200.0), (500.0, 1200.0)]),
        ]);
        let (r, problems) = barriers(&u, &b, &t);
        assert_eq!(r.pass(), Some(true), "{r:?}");
        assert!(problems.is_empty());
    }

    #[test]
    fn split_ways_of_one_expressway_add_up() {
        let t = Thresholds::default();
        let u = unit("a", rect(0.0, 0.0, 1000.0, 1000.0));
        let ways = (0..5)
            .map(|i| {
                let y = i as f64 * 200.0;
                line(
                    &i.to_string(),
                    FeatureClass::Expressway,
                    &[(500.0, y), (500.0, y + 200.0)],
                )
            })
            .collect();
        let (r, _) = barriers(&u, &setup(ways), &t);
        assert_eq!(r.pass(), Some(false));
    }
}
