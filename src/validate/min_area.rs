//! Check `min_area`: 沪民区划〔2018〕6号 一(一) "地域面积在2平方公里以上" — area above 2 km² (RULES.md).
//!
//! Planar area in the working CRS (metres); `inspect` shows the geodesic area beside it, so a distorted working CRS
//! is visible there. Holes are subtracted.

use super::{CheckResult, Reason, Unit};
use crate::config::Thresholds;
use geo::Area;

/// Area of the unit in km² against `min_area_km2`.
pub fn min_area(unit: &Unit, t: &Thresholds) -> CheckResult {
    let km2 = unit.geometry.unsigned_area() / 1e6;
    let pass = km2 >= t.min_area_km2;
    let r = CheckResult::evaluated(pass, km2, Some(t.min_area_km2));
    if pass {
        r
    } else {
        r.with_reason(Reason::AreaBelow {
            area_km2: km2,
            min_km2: t.min_area_km2,
        })
    }
}

use super::check::{Basis, Check, Context, Evaluation, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct MinAreaCheck;

impl Check for MinAreaCheck {
    fn name(&self) -> CheckName {
        CheckName::MinArea
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("地域面积", "Area")
    }
    fn column(&self) -> Option<&'static str> {
        Some("are")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {} km²", t.min_area_km2)
    }
    fn basis(&self) -> Basis {
        Basis {
            clause: "一(一)",
            text: "地域面积在2平方公里以上",
            verbatim: true,
            translation: "Its area is more than 2 km².",
            rule: (
                "单元平面面积（量测坐标系）≥ 阈值",
                "Planar area in the working CRS ≥ threshold",
            ),
            source: (super::check::DOC, super::check::DOC),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, _lang: crate::report::Lang) -> String {
        format!("≥ {} km²", t.min_area_km2)
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {} km²", t.min_area_km2)
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.2}", e.value)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(min_area(unit.unit, ctx.thresholds).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{rect, unit};

    #[test]
    fn known_areas_against_the_bound() {
        let t = Thresholds::default();
        let big = min_area(&unit("a", rect(0.0, 0.0, 2000.0, 1500.0)), &t);
        assert_eq!(big.pass(), Some(true));
        approx::assert_relative_eq!(big.value().unwrap(), 3.0);
        let small = min_area(&unit("b", rect(0.0, 0.0, 1000.0, 1000.0)), &t);
        assert_eq!(small.pass(), Some(false));
        approx::assert_relative_eq!(small.value().unwrap(), 1.0);
    }
}
