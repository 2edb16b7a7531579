//! Check `facilities`: 沪民区划〔2018〕6号 一(三) "3+3" — every unit hosts a community affairs, health and culture
//! centre, and police, urban-management and market-supervision forces (RULES.md: all six types required by default,
//! `required_facilities`).
//!
//! A facility counts when its point lies in the unit or on its boundary, existing or planned (the policy allows
//! facilities "assigned" by plan). The value is the number of required types present; missing types are listed.

use super::{CheckResult, Unit};
use crate::config::Thresholds;
use crate::model::{FacilityStatus, StudyArea};
use geo::{BoundingRect, Intersects};

/// Required facility types present in the unit.
pub fn facilities(unit: &Unit, area: &StudyArea, t: &Thresholds) -> CheckResult {
    if area.config.facilities.is_none() && area.facilities.is_empty() {
        return CheckResult::not_evaluated("no facilities layer: give --facilities");
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
        r = r.with_reason(format!("missing: {}", missing.join(", ")));
    }
    r
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
        assert!(e.reasons[0].contains("police"));
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
