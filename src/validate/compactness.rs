//! Check `compactness` (reported, not required): the Polsby–Popper score 4πA/P², 1 for a disc.
//!
//! RULES.md lists no compactness rule; the score helps reviewers spot ribbons and hooks that the policy's "clear,
//! recognisable boundaries" (一(一)) would question. Perimeter counts every ring, holes included.

use super::{CheckResult, Unit};
use geo::{Area, Euclidean, Length};

/// Polsby–Popper score of the unit; always passes.
pub fn compactness(unit: &Unit) -> CheckResult {
    let area = unit.geometry.unsigned_area();
    let perimeter: f64 = unit
        .geometry
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| Euclidean.length(r))
        .sum();
    let score = if perimeter > 0.0 {
        4.0 * std::f64::consts::PI * area / (perimeter * perimeter)
    } else {
        0.0
    };
    CheckResult::evaluated(true, score, None).with_detail("perimeter_m", perimeter)
}

use super::check::{Basis, Check, Context, Evaluation, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct CompactnessCheck;

impl Check for CompactnessCheck {
    fn name(&self) -> CheckName {
        CheckName::Compactness
    }
    fn required(&self) -> bool {
        false
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("紧凑度", "Compactness")
    }
    fn column(&self) -> Option<&'static str> {
        Some("PP")
    }
    fn legend(&self, _t: &crate::config::Thresholds) -> String {
        "Polsby–Popper compactness (reported only)".into()
    }
    fn basis(&self) -> Basis {
        Basis {
            clause: "—",
            text: "",
            verbatim: false,
            translation: "",
            rule: (
                "紧凑度 = 4π × 面积 ÷ 周长²：圆为 1，越大越紧凑；仅报告，不作判定",
                "Polsby–Popper compactness 4πA/P²: a disc scores 1, higher is more compact; reported only",
            ),
            source: ("—", "—"),
        }
    }
    fn threshold(&self, _t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        lang.pick("仅报告", "reported only").into()
    }
    fn short_threshold(&self, _t: &crate::config::Thresholds) -> String {
        "–".into()
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.2}", e.value)
    }
    fn evaluate(&self, unit: &Subject, _ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(compactness(unit.unit).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{rect, unit};

    #[test]
    fn square_scores_pi_over_four() {
        let v = compactness(&unit("a", rect(0.0, 0.0, 100.0, 100.0)))
            .value()
            .unwrap();
        approx::assert_relative_eq!(v, std::f64::consts::FRAC_PI_4, epsilon = 1e-12);
        let thin = compactness(&unit("b", rect(0.0, 0.0, 1000.0, 10.0)))
            .value()
            .unwrap();
        assert!(thin < 0.05);
    }
}
