//! Check `geometry`: each unit is a valid polygon in one contiguous part.
//!
//! A precondition of every rule of 沪民区划〔2018〕6号 一(一) (RULES.md): area, population and boundary are only
//! meaningful for a valid, single territory. Validity follows the OGC simple-features rules as geo's `Validation`
//! trait implements them (closed rings of ≥ 3 distinct points, no self-intersection, holes inside the shell, parts of
//! a multipolygon not overlapping); every violation is listed in words. The value is the number of parts.
//!
//! [`validation_errors`] runs geo 0.33's polygon and multipolygon rules step by step, returning geo's own error
//! values, with one change: geo tests a ring for self-intersection by comparing every segment with every other one
//! (O(n²): a 3,000-vertex township boundary costs 9 M segment tests), here only the pairs whose boxes meet, found
//! by an R-tree self-join, get the same test. A test holds the two to equal results.

use super::{CheckResult, Reason, Unit};
use geo::algorithm::validation::{CoordIndex, GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{
    Area, Intersects, LineString, MultiPolygon, Polygon, PreparedGeometry, Relate, RemoveRepeatedPoints,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

/// Validity and contiguity of one unit.
pub fn geometry(unit: &Unit) -> CheckResult {
    let errors = problems(&unit.geometry);
    let parts = unit.geometry.0.len();
    let pass = errors.is_empty() && parts == 1;
    let mut result =
        CheckResult::evaluated(pass, parts as f64, Some(1.0)).with_detail("valid", errors.is_empty());
    if parts != 1 {
        result = result.with_reason(Reason::SeparateParts { parts });
    }
    for e in errors {
        result = result.with_reason(Reason::InvalidGeometry { detail: e });
    }
    result
}

/// Every validity problem of a polygon layer's feature, in words: geo's rules ([`validation_errors`]; a single
/// polygon's without the "polygon at index 0" prefix) and rings that enclose no area.
///
/// A ring of collinear points (a hole drawn as a line, a spike left by an edit) passes geo's rules when its
/// segments do not cross, yet it encloses nothing: as a hole it cuts nothing out, as an exterior it holds nothing.
pub fn problems(mp: &MultiPolygon<f64>) -> Vec<String> {
    let mut out: Vec<String> = match mp.0.as_slice() {
        [one] => polygon_errors(one).iter().map(ToString::to_string).collect(),
        _ => validation_errors(mp).iter().map(ToString::to_string).collect(),
    };
    for (i, polygon) in mp.0.iter().enumerate() {
        for (k, ring) in std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
        {
            if ring.0.len() < 4 || Polygon::new(ring.clone(), vec![]).unsigned_area() > ZERO_AREA {
                continue;
            }
            let which = match k {
                0 => "exterior ring".to_string(),
                h => format!("interior ring {}", h - 1),
            };
            let part = if mp.0.len() > 1 {
                format!("polygon {i}: ")
            } else {
                String::new()
            };
            out.push(format!("{part}{which} encloses no area"));
        }
    }
    out
}

/// Below this area (in squared CRS units) a ring encloses nothing: far under a square millimetre in metres.
const ZERO_AREA: f64 = 1e-9;

/// Every OGC validity violation of a multipolygon, as geo's `Validation::validation_errors` reports them (same
/// values, same order), with ring self-intersection found through an R-tree instead of all pairs of segments.
pub fn validation_errors(mp: &MultiPolygon<f64>) -> Vec<InvalidMultiPolygon> {
    let mut errors = Vec::new();
    for (i, polygon) in mp.0.iter().enumerate() {
        for e in polygon_errors(polygon) {
            errors.push(InvalidMultiPolygon::InvalidPolygon(GeometryIndex(i), e));
        }
        for (j, other) in mp.0.iter().enumerate().skip(i + 1) {
            let im = polygon.relate(other);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                errors.push(InvalidMultiPolygon::ElementsOverlaps(
                    GeometryIndex(i),
                    GeometryIndex(j),
                ));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                errors.push(InvalidMultiPolygon::ElementsTouchOnALine(
                    GeometryIndex(i),
                    GeometryIndex(j),
                ));
            }
        }
    }
    errors
}

/// geo 0.33's `Polygon::visit_validation`, rule for rule.
fn polygon_errors(polygon: &Polygon<f64>) -> Vec<InvalidPolygon> {
    let mut errors = Vec::new();
    if polygon.exterior().0.is_empty() {
        return errors;
    }
    for (ring_idx, ring) in std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .enumerate()
    {
        if ring.0.is_empty() {
            continue;
        }
        let role = if ring_idx == 0 {
            RingRole::Exterior
        } else {
            RingRole::Interior(ring_idx - 1)
        };
        if ring.remove_repeated_points().0.len() < 4 {
            errors.push(InvalidPolygon::TooFewPointsInRing(role));
        }
        if ring_has_self_intersection(ring) {
            errors.push(InvalidPolygon::SelfIntersection(role));
        }
        for (k, c) in ring.0.iter().enumerate() {
            if !(c.x.is_finite() && c.y.is_finite()) {
                errors.push(InvalidPolygon::NonFiniteCoord(role, CoordIndex(k)));
            }
        }
    }
    if !polygon.interiors().iter().any(|r| !r.0.is_empty()) {
        return errors;
    }
    let exterior = Polygon::new(polygon.exterior().clone(), vec![]);
    let prepared_exterior = PreparedGeometry::from(&exterior);
    for (i1, interior_1) in polygon.interiors().iter().enumerate() {
        if interior_1.0.is_empty() {
            continue;
        }
        let hole_1 = Polygon::new(interior_1.clone(), vec![]);
        let prepared_1 = PreparedGeometry::from(&hole_1);
        let im = prepared_exterior.relate(&prepared_1);
        if !im.is_contains() {
            errors.push(InvalidPolygon::InteriorRingNotContainedInExteriorRing(
                RingRole::Interior(i1),
            ));
        }
        if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            errors.push(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Exterior,
                RingRole::Interior(i1),
            ));
        }
        for (i2, interior_2) in polygon.interiors().iter().enumerate().skip(i1 + 1) {
            if interior_2.0.is_empty() {
                continue;
            }
            let im = prepared_1.relate(&Polygon::new(interior_2.clone(), vec![]));
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                errors.push(InvalidPolygon::IntersectingRingsOnAnArea(
                    RingRole::Interior(i1),
                    RingRole::Interior(i2),
                ));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                errors.push(InvalidPolygon::IntersectingRingsOnALine(
                    RingRole::Interior(i1),
                    RingRole::Interior(i2),
                ));
            }
        }
    }
    errors
}

/// geo's test — two different segments that intersect, other than where one ends and the other starts — applied
/// to the pairs of segments whose (closed) bounding boxes meet: pairs whose boxes are apart cannot intersect.
fn ring_has_self_intersection(ring: &LineString<f64>) -> bool {
    let lines: Vec<geo::Line<f64>> = ring.lines().collect();
    let crossing = |i: usize, j: usize| {
        let (l, m) = (&lines[i], &lines[j]);
        i != j && l.intersects(m) && l.start != m.end && l.end != m.start
    };
    if lines.len() > SWEEP_MAX_SEGMENTS {
        let items: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| GeomWithData::new(Rectangle::from_corners(l.start.into(), l.end.into()), i))
            .collect();
        let tree = RTree::bulk_load(items);
        return tree
            .intersection_candidates_with_other_tree(&tree)
            .any(|(a, b)| crossing(a.data, b.data));
    }
    // The same pairs by a sweep along x: the test is symmetric, so each pair once. For a unit's ring (a few
    // hundred segments once densified) sorting beats building a tree: the R-tree self-join was nine tenths of the
    // geometry check's time on 5,000 units.
    let mut boxes: Vec<[f64; 4]> = lines
        .iter()
        .map(|l| {
            [
                l.start.x.min(l.end.x),
                l.start.x.max(l.end.x),
                l.start.y.min(l.end.y),
                l.start.y.max(l.end.y),
            ]
        })
        .collect();
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_unstable_by(|&a, &b| boxes[a][0].total_cmp(&boxes[b][0]).then(a.cmp(&b)));
    boxes = order.iter().map(|&i| boxes[i]).collect();
    for (k, a) in boxes.iter().enumerate() {
        for (m, b) in boxes.iter().enumerate().skip(k + 1) {
            if b[0] > a[1] {
                break;
            }
            if b[2] <= a[3] && a[2] <= b[3] && crossing(order[k], order[m]) {
                return true;
            }
        }
    }
    false
}

/// Rings longer than this are tested through an R-tree: a sweep along x meets every pair of segments that share an
/// x range, which grows quadratically on a long north–south boundary.
const SWEEP_MAX_SEGMENTS: usize = 2_000;

use super::check::{Basis, Check, Context, Evaluation, LayerResult, Subject};
use super::CheckName;
use crate::Result;

/// The check as the registry runs it.
pub struct GeometryCheck;

impl Check for GeometryCheck {
    fn name(&self) -> CheckName {
        CheckName::Geometry
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("几何有效", "Geometry")
    }
    fn column(&self) -> Option<&'static str> {
        Some("geo")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        if t.accept_exclaves_by_road {
            format!("valid, one part or joined by road within {} m", t.exclave_road_m)
        } else {
            "valid, one part".into()
        }
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "—",
        text: "",
        verbatim: false,
        translation: "",
        rule: (
            "单元为有效的单一面（ISO 19125 简单要素规则），是其余校核的前提",
            "The unit is one valid polygon (OGC simple-feature rules): a precondition of every other check",
        ),
        source: ("ISO 19125《地理信息 简单要素访问》", "OGC Simple Features"),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        if t.accept_exclaves_by_road {
            let m = crate::report::fmt_int(t.exclave_road_m);
            match lang {
                crate::report::Lang::Zh => format!("单一有效面；飞地经 {m} m 内的道路与主体相连者亦可"),
                crate::report::Lang::English => {
                    format!("one valid part, or parts joined by a road within {m} m")
                }
            }
        } else {
            lang.pick("单一有效面", "one valid part").into()
        }
    }
    fn short_threshold(&self, _t: &crate::config::Thresholds) -> String {
        "= 1".into()
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0}", e.value)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        let result = geometry(unit.unit);
        Ok(
            super::exclave::accept_joined(result, &unit.unit.geometry, &ctx.area.lines, ctx.thresholds)
                .into(),
        )
    }
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
    fn same_errors_as_geo_validation() {
        use geo::Validation;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let ring = |rng: &mut rand_chacha::ChaCha8Rng, cx: f64, cy: f64, r: f64, n: usize, jitter: f64| {
            let mut pts: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    let k = r * (1.0 - jitter * rng.random::<f64>());
                    (cx + k * a.cos(), cy + k * a.sin())
                })
                .collect();
            // Sometimes a repeated point, sometimes two swapped vertices (a self-intersection).
            if rng.random::<f64>() < 0.3 {
                let i = rng.random_range(0..n);
                pts.insert(i, pts[i]);
            }
            if rng.random::<f64>() < 0.3 {
                let i = rng.random_range(1..n - 1);
                pts.swap(i, i + 1);
            }
            pts.push(pts[0]);
            LineString::from(pts)
        };
        let mut invalid = 0;
        for _ in 0..300 {
            let n = rng.random_range(3..40);
            let jitter = if rng.random::<bool>() { 0.0 } else { 0.9 };
            let mut parts = vec![Polygon::new(ring(&mut rng, 0.0, 0.0, 10.0, n, jitter), vec![])];
            if rng.random::<f64>() < 0.4 {
                let (x, r) = (rng.random_range(-6.0..6.0), rng.random_range(1.0..6.0));
                let hole = ring(&mut rng, x, 0.0, r, 8, 0.0);
                parts[0].interiors_push(hole);
            }
            if rng.random::<f64>() < 0.4 {
                let x = rng.random_range(5.0..30.0);
                parts.push(Polygon::new(ring(&mut rng, x, 0.0, 10.0, 12, 0.0), vec![]));
            }
            let mp = MultiPolygon(parts);
            let ours = validation_errors(&mp);
            assert_eq!(ours, mp.validation_errors(), "{mp:?}");
            invalid += usize::from(!ours.is_empty());
        }
        assert!(invalid > 50, "only {invalid} invalid cases");
    }

    #[test]
    fn densified_rings_get_the_same_errors_as_geo_validation() {
        // Long collinear runs (edges densified for reprojection) share x ranges: the sweep meets them all, and must
        // find exactly the crossings geo finds, no more.
        use geo::line_measures::Densify;
        use geo::{Euclidean, Validation};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut invalid = 0;
        for _ in 0..200 {
            let (w, h) = (rng.random_range(10.0..400.0), rng.random_range(10.0..400.0));
            let mut pts = vec![(0.0, 0.0), (w, 0.0), (w, h), (w / 2.0, h / 2.0), (0.0, h)];
            if rng.random::<f64>() < 0.4 {
                // The notch pulled across the opposite edge: a self-intersection.
                pts[3] = (rng.random_range(-w..2.0 * w), rng.random_range(-h..2.0 * h));
            }
            pts.push((0.0, 0.0));
            let p = Euclidean.densify(
                &Polygon::new(LineString::from(pts), vec![]),
                rng.random_range(1.0..30.0),
            );
            let mp = MultiPolygon(vec![p]);
            let ours = validation_errors(&mp);
            assert_eq!(ours, mp.validation_errors(), "{mp:?}");
            invalid += usize::from(!ours.is_empty());
        }
        assert!(invalid > 10, "only {invalid} invalid cases");
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
        assert!(
            e.reasons.iter().any(|r| r.code() == "invalid_geometry"),
            "{:?}",
            e.reasons
        );
    }
}
