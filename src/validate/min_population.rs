//! Check `min_population`: 沪民区划〔2018〕6号 一(一) "常住人口在2万人以上" — resident population generally above
//! 20,000 (RULES.md).
//!
//! The population comes from the [`PopulationSource`](super::PopulationSource) (block counts or exact grid cell
//! fractions); without one the check is not evaluated, with the reason.

use super::{CheckResult, Reason};
use crate::config::Thresholds;

/// Relative tolerance of every comparison of a population with its bound, in max-p and in this check alike: sums of
/// the same block counts taken in another order differ in the last bits (a unit built at exactly 20,000 was once
/// re-measured at 19,999.99999998), and one tolerance on both sides keeps the solver and the check in agreement.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;

/// `value` reaches `bound` within [`RELATIVE_TOLERANCE`].
pub fn reaches(value: f64, bound: f64) -> bool {
    value >= bound - RELATIVE_TOLERANCE * bound.abs().max(1.0)
}

/// Population of the unit (None when there is no source) against `min_population`.
pub fn min_population(population: Option<f64>, t: &Thresholds) -> CheckResult {
    let Some(p) = population else {
        return CheckResult::not_evaluated(Reason::NoPopulationSource);
    };
    let pass = reaches(p, t.min_population);
    let r = CheckResult::evaluated(pass, p, Some(t.min_population))
        .with_detail("relative_tolerance", RELATIVE_TOLERANCE);
    if pass {
        r
    } else {
        r.with_reason(Reason::PopulationBelow {
            population: p,
            min: t.min_population,
        })
    }
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct MinPopulationCheck;

impl Check for MinPopulationCheck {
    fn name(&self) -> CheckName {
        CheckName::MinPopulation
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Population]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("常住人口", "Population")
    }
    fn column(&self) -> Option<&'static str> {
        Some("pop")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {:.0} residents", t.min_population)
    }
    fn basis(&self) -> Basis {
        Basis {
            clause: "一(一)",
            text: "基本管理单元一般常住人口在2万人以上",
            verbatim: true,
            translation: "A basic management unit generally has more than 20,000 resident population.",
            rule: (
                "单元常住人口 ≥ 阈值",
                "Resident population of the unit ≥ threshold",
            ),
            source: (super::check::DOC, super::check::DOC),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, _lang: crate::report::Lang) -> String {
        format!("≥ {}", crate::report::fmt_int(t.min_population))
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {}", crate::report::fmt_int(t.min_population))
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        crate::report::fmt_int(e.value)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(min_population(unit.population, ctx.thresholds).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_and_missing_source() {
        let t = Thresholds::default();
        assert_eq!(min_population(Some(20_000.0), &t).pass(), Some(true));
        assert_eq!(min_population(Some(19_999.0), &t).pass(), Some(false));
        let r = min_population(None, &t);
        assert_eq!(r.pass(), None);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["reason"], "no population source");
        assert_eq!(json["reason_code"], "no_population_source");
    }
}
