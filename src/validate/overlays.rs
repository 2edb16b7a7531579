//! Check `overlays` (reported, not required): 沪民区划〔2018〕6号 一(三) overlays — 城市网格化综合管理分中心,
//! 房管工作站, 养老, 休闲娱乐, 交通出行, 公园绿地, 商业配套 (RULES.md: "reported per unit (present / nearest
//! distance); not required by default").
//!
//! For every overlay type present in the study area, the distance from the unit to the nearest point of that type
//! (0 inside). The value is the number of overlay types with a point inside the unit.

use super::{CheckResult, Unit};
use crate::model::{FacilityType, StudyArea};
use geo::{Distance, Euclidean};
use std::collections::BTreeMap;

/// Nearest distance per overlay type; always passes.
pub fn overlays(unit: &Unit, area: &StudyArea) -> CheckResult {
    if area.overlays.is_empty() {
        return CheckResult::not_evaluated(
            "no overlay layers (e.g. metro stations, parks) in the study area",
        );
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
