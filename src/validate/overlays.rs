//! Check `overlays` (reported, not required): 沪民区划〔2018〕6号 一(三) overlays — 城市网格化综合管理分中心,
//! 房管工作站, 养老, 休闲娱乐, 交通出行, 公园绿地, 商业配套 (RULES.md: "reported per unit (present / nearest
//! distance); not required by default").
//!
//! For every overlay type present in the study area, the distance from the unit to the nearest point of that type
//! (0 inside). The value is the number of overlay types with a point inside the unit.

use super::{CheckResult, Reason, Unit};
use crate::model::{FacilityType, StudyArea};
use geo::{Distance, Euclidean};
use std::collections::BTreeMap;

/// Nearest distance per overlay type; always passes.
pub fn overlays(unit: &Unit, area: &StudyArea) -> CheckResult {
    if area.overlays.is_empty() {
        return CheckResult::not_evaluated(Reason::NoOverlayLayers);
    }
    let mut nearest: BTreeMap<FacilityType, f64> = BTreeMap::new();
    for o in &area.overlays {
        let d = Euclidean.distance(&o.location, &unit.geometry);
        let e = nearest.entry(o.kind).or_insert(f64::INFINITY);
        *e = e.min(d);
    }
    let present = nearest.values().filter(|d| **d == 0.0).count();
    let mut r = CheckResult::evaluated(true, present as f64, None);
    for (k, d) in nearest {
        r = r.with_detail(format!("{k}_distance_m"), d);
    }
    r
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct OverlaysCheck;

impl Check for OverlaysCheck {
    fn name(&self) -> CheckName {
        CheckName::Overlays
    }
    fn required(&self) -> bool {
        false
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Overlays]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("叠加配置", "Overlays")
    }
    fn column(&self) -> Option<&'static str> {
        None
    }
    fn legend(&self, _t: &crate::config::Thresholds) -> String {
        String::new()
    }
    fn basis(&self) -> Basis {
        Basis {
            clause: "一(三)",
            text: "结合社区实际需求,叠加配置城市网格化综合管理分中心、房管工作站等机构……\
               合理布局养老服务、休闲娱乐、交通出行、公园绿地和商业配套等公共服务设施",
            verbatim: true,
            translation:
                "As communities need, add grid-management centres and housing stations; place elderly care, \
                      leisure, transit, parks and commerce.",
            rule: (
                "单元内已有的叠加配置类型数，仅报告",
                "Overlay types present in the unit, reported only",
            ),
            source: (super::check::DOC, super::check::DOC),
        }
    }
    fn threshold(&self, _t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        lang.pick("仅报告", "reported only").into()
    }
    fn short_threshold(&self, _t: &crate::config::Thresholds) -> String {
        "–".into()
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0}", e.value)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        Ok(overlays(unit.unit, ctx.area).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Facility, FacilityStatus};
    use crate::validate::testing::{area, rect, unit};
    use geo::Point;

    #[test]
    fn nearest_distance_per_type() {
        let mut a = area(None);
        for (kind, x) in [
            (FacilityType::Transit, 50.0),
            (FacilityType::Park, 400.0),
            (FacilityType::Park, 300.0),
        ] {
            a.overlays.push(Facility {
                id: "o".into(),
                kind,
                status: FacilityStatus::Existing,
                name: None,
                location: Point::new(x, 50.0),
            });
        }
        let CheckResult::Evaluated(e) = overlays(&unit("u", rect(0.0, 0.0, 100.0, 100.0)), &a) else {
            panic!()
        };
        assert_eq!(e.value, 1.0);
        assert_eq!(e.detail["transit_distance_m"], 0.0);
        assert_eq!(e.detail["park_distance_m"], 200.0);
    }
}
