//! Check `geometry`: each unit is a valid polygon in one contiguous part.
//!
//! A precondition of every rule of 沪民区划〔2018〕6号 一(一) (RULES.md): area, population and boundary are only
//! meaningful for a valid, single territory. Validity follows the OGC simple-features rules as geo's `Validation`
//! trait implements them (closed rings of ≥ 3 distinct points, no self-intersection, holes inside the shell, parts of
//! a multipolygon not overlapping); every violation is listed in words. The value is the number of parts.

use super::{CheckResult, Unit};
use geo::Validation;

/// Validity and contiguity of one unit.
pub fn geometry(unit: &Unit) -> CheckResult {
    let errors = unit.geometry.validation_errors();
    let parts = unit.geometry.0.len();
    let pass = errors.is_empty() && parts == 1;
    let mut result =
        CheckResult::evaluated(pass, parts as f64, Some(1.0)).with_detail("valid", errors.is_empty());
    if parts != 1 {
        result = result.with_reason(format!(
            "{parts} separate parts; a unit must be one contiguous territory"
        ));
    }
    for e in errors {
        result = result.with_reason(format!("invalid geometry: {e}"));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{rect, unit};
    use geo::{LineString, MultiPolygon, Polygon};

    #[test]
    fn a_square_passes() {
        let r = geometry(&unit("a", rect(0.0, 0.0, 10.0, 10.0)));
        assert_eq!(r.pass(), Some(true));
    }

    #[test]
    fn two_parts_fail_with_the_count() {
        let mut g = rect(0.0, 0.0, 10.0, 10.0);
        g.0.extend(rect(20.0, 0.0, 30.0, 10.0).0);
        let r = geometry(&unit("a", g));
        assert_eq!(r.pass(), Some(false));
        assert_eq!(r.value(), Some(2.0));
    }

    #[test]
    fn a_bow_tie_is_invalid_with_a_reason() {
        let bow = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (10.0, 10.0),
                (10.0, 0.0),
                (0.0, 10.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let r = geometry(&unit("a", MultiPolygon(vec![bow])));
        let CheckResult::Evaluated(e) = r else { panic!() };
        assert!(!e.pass);
        assert!(e.reasons.iter().any(|r| r.contains("invalid")), "{:?}", e.reasons);
    }
}
