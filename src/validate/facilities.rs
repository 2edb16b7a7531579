//! Check `facilities`: 沪民区划〔2018〕6号 一(三) "3+3" — every unit hosts a community affairs, health and culture
//! centre, and police, urban-management and market-supervision forces (RULES.md: all six types required by default,
//! `required_facilities`).
//!
//! A facility counts when its point lies in the unit or on its boundary, existing or planned (the policy allows
//! facilities "assigned" by plan). The value is the number of required types present; missing types are listed.

use super::{CheckResult, Reason, Unit};
use crate::config::Thresholds;
use crate::model::{FacilityStatus, StudyArea};
use geo::{BoundingRect, Intersects};

/// Required facility types present in the unit.
pub fn facilities(unit: &Unit, area: &StudyArea, t: &Thresholds) -> CheckResult {
    if area.config.facilities.is_none() && area.facilities.is_empty() {
        return CheckResult::not_evaluated(Reason::NoFacilitiesLayer);
    }
    let required = &t.required_facilities;
    // The unit's box is computed once and tested first: `intersects` on a multipolygon recomputes it per point.
    let Some(unit_box) = unit.geometry.bounding_rect() else {
        return CheckResult::evaluated(required.is_empty(), 0.0, Some(required.len() as f64));
    };
    let inside: Vec<_> = area
        .facilities
        .iter()
        .filter(|f| {
            required.contains(&f.kind)
                && unit_box.intersects(&f.location)
                && unit.geometry.intersects(&f.location)
        })
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .filter(|k| !inside.iter().any(|f| f.kind == **k))
        .map(|k| k.name())
        .collect();
    let planned_only: Vec<&str> = required
        .iter()
        .filter(|k| {
            let of: Vec<_> = inside.iter().filter(|f| f.kind == **k).collect();
            !of.is_empty() && of.iter().all(|f| f.status == FacilityStatus::Planned)
        })
        .map(|k| k.name())
        .collect();
    let present = required.len() - missing.len();
    let mut r = CheckResult::evaluated(missing.is_empty(), present as f64, Some(required.len() as f64))
        .with_detail("missing", missing.clone())
        .with_detail("planned_only", planned_only);
    if !missing.is_empty() {
        let types = required
            .iter()
            .filter(|k| !inside.iter().any(|f| f.kind == **k))
            .copied()
            .collect();
        r = r.with_reason(Reason::MissingFacilities { types });
    }
    r
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct FacilitiesCheck;

impl Check for FacilitiesCheck {
    fn name(&self) -> CheckName {
        CheckName::Facilities
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Facilities]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("“3+3”配置", "\"3+3\"")
    }
    fn column(&self) -> Option<&'static str> {
        Some("3+3")
    }
    fn legend(&self, _t: &crate::config::Thresholds) -> String {
        "required facilities".into()
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "一(三)",
        text: "配置社区事务、社区卫生、社区文化等3个服务设施,落实相应的公安、城管执法、市场监管等3类执法管理力量。",
        verbatim: true,
        translation: "Provide the three service facilities — community affairs, community health, community \
                      culture — and the three management forces — police, urban management, market supervision.",
        rule: (
            "单元内有每一类必需设施（现状或规划）各一处",
            "The unit holds one facility (existing or planned) of every required type",
        ),
        source: (super::check::DOC, super::check::DOC),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        if lang == crate::report::Lang::Zh {
            format!("{} 类必需设施", t.required_facilities.len())
        } else {
            format!("{} required types", t.required_facilities.len())
        }
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!(
            "{} / {}",
            t.required_facilities.len(),
            t.required_facilities.len()
        )
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0} / {}", e.value, e.threshold.unwrap_or(0.0))
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(facilities(unit.unit, ctx.area, ctx.thresholds).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FacilitiesConfig;
    use crate::model::{Facility, FacilityType};
    use crate::validate::testing::{area, rect, unit};
    use geo::Point;

    fn facility(kind: FacilityType, status: FacilityStatus, x: f64, y: f64) -> Facility {
        Facility {
            id: kind.name().into(),
            kind,
            status,
            name: None,
            location: Point::new(x, y),
        }
    }

    #[test]
    fn a_missing_type_is_named() {
        let t = Thresholds::default();
        let mut a = area(None);
        a.config.facilities = Some(FacilitiesConfig::default());
        for (i, k) in FacilityType::ALL[..6].iter().enumerate() {
            // Police sits outside the unit; health is only planned.
            let x = if *k == FacilityType::Police {
                5000.0
            } else {
                100.0 * i as f64 + 50.0
            };
            let s = if *k == FacilityType::Health {
                FacilityStatus::Planned
            } else {
                FacilityStatus::Existing
            };
            a.facilities.push(facility(*k, s, x, 500.0));
        }
        let r = facilities(&unit("u", rect(0.0, 0.0, 1000.0, 1000.0)), &a, &t);
        let CheckResult::Evaluated(e) = r else { panic!() };
        assert!(!e.pass);
        assert_eq!(e.value, 5.0);
        assert_eq!(e.detail["missing"], serde_json::json!(["police"]));
        assert_eq!(e.detail["planned_only"], serde_json::json!(["health"]));
        assert_eq!(
            e.reasons,
            vec![crate::validate::Reason::MissingFacilities {
                types: vec![crate::model::FacilityType::Police]
            }]
        );
    }

    #[test]
    fn no_layer_is_not_evaluated() {
        let r = facilities(
            &unit("u", rect(0.0, 0.0, 1.0, 1.0)),
            &area(None),
            &Thresholds::default(),
        );
        assert_eq!(r.pass(), None);
    }
}
