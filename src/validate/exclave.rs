//! The exclave policy of the `geometry` check: when a unit in several parts is still one territory.
//!
//! 沪民区划〔2018〕6号 一(一) asks for a unit with clear boundaries, which a 飞地 (a detached piece of the unit) breaks
//! on the map; yet a small piece cut off by a river bend or a neighbour's road, reached along a road, is managed
//! from the main part in practice and must not doom a plan. With `thresholds.accept_exclaves_by_road` a unit in
//! several parts passes contiguity when every detached part is joined to the main part (the largest by area) by a
//! walkable line (`thresholds.walkable_classes`, as the walking network reads them) that comes within
//! `thresholds.exclave_road_m` of both. Lines the cleaning step inferred are no road anyone walks, so they never
//! join. A road is often drawn as many features, one per stretch between junctions: the features of one name count
//! as one road, so "华翔路" joins the parts when one stretch of it reaches each.

use super::{CheckResult, Reason};
use crate::config::Thresholds;
use crate::model::LineFeature;
use geo::{Area, BoundingRect, Distance, Euclidean, Intersects, MultiPolygon, Polygon, Rect};

/// The geometry check's result under the policy: a unit that failed for being in several parts and for nothing else
/// passes when `accept_exclaves_by_road` is on and [`joining_roads`] finds a road for every detached part; the
/// result then names the roads instead of the parts. Anything else is returned as it came.
pub(crate) fn accept_joined(
    result: CheckResult,
    geometry: &MultiPolygon<f64>,
    lines: &[LineFeature],
    t: &Thresholds,
) -> CheckResult {
    let CheckResult::Evaluated(mut e) = result else {
        return result;
    };
    let only_parts = !e.pass
        && e.reasons
            .iter()
            .all(|r| matches!(r, Reason::SeparateParts { .. }));
    if t.accept_exclaves_by_road && only_parts {
        if let Some(roads) = joining_roads(geometry, lines, t) {
            e.pass = true;
            e.reasons = vec![Reason::ExclaveJoinedByRoad { roads }];
        }
    }
    CheckResult::Evaluated(e)
}

/// The road joining each detached part of `geometry` to its main part, by name (by id where nameless), in part
/// order without repeats; None when some detached part has no road within reach, or the unit is in one part.
pub(crate) fn joining_roads(
    geometry: &MultiPolygon<f64>,
    lines: &[LineFeature],
    t: &Thresholds,
) -> Option<Vec<String>> {
    if geometry.0.len() < 2 {
        return None;
    }
    let main = (0..geometry.0.len()).max_by(|&a, &b| {
        let (x, y) = (geometry.0[a].unsigned_area(), geometry.0[b].unsigned_area());
        // The first of equal parts is the main one, so the choice depends only on the geometry.
        x.total_cmp(&y).then(b.cmp(&a))
    })?;
    let reach = t.exclave_road_m;
    let roads: Vec<&LineFeature> = lines
        .iter()
        .filter(|l| !l.inferred && t.walkable_classes.contains(&l.class))
        .collect();
    // Which roads come within reach of a part, by key (a feature without a name stands for itself).
    let near = |part: &Polygon<f64>| -> Vec<(String, String)> {
        let Some(frame) = part.bounding_rect().map(|r| grow(r, reach)) else {
            return Vec::new();
        };
        let mut names: Vec<(String, String)> = roads
            .iter()
            .filter(|l| l.geometry.bounding_rect().is_some_and(|b| b.intersects(&frame)))
            .filter(|l| Euclidean.distance(&l.geometry, part) <= reach)
            .map(|l| road_key(l))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let at_main = near(&geometry.0[main]);
    let mut joined: Vec<String> = Vec::new();
    for (i, part) in geometry.0.iter().enumerate() {
        if i == main {
            continue;
        }
        let (_, road) = near(part)
            .into_iter()
            .find(|n| at_main.binary_search(n).is_ok())?;
        if !joined.contains(&road) {
            joined.push(road);
        }
    }
    Some(joined)
}

/// What makes two features one road (their name; a nameless feature is only itself), and how the reason names it
/// (its name, or its id in the layer, as the barriers check names features).
fn road_key(l: &LineFeature) -> (String, String) {
    match l.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => (format!("name {n}"), n.to_string()),
        None => (format!("id {}", l.id), l.id.clone()),
    }
}

/// `r` grown by `d` on every side.
fn grow(r: Rect<f64>, d: f64) -> Rect<f64> {
    Rect::new((r.min().x - d, r.min().y - d), (r.max().x + d, r.max().y + d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::rect;
    use crate::vocab::FeatureClass;
    use geo::{LineString, MultiLineString};

    fn line(id: &str, name: Option<&str>, class: FeatureClass, pts: &[(f64, f64)]) -> LineFeature {
        LineFeature {
            id: id.into(),
            class,
            name: name.map(Into::into),
            geometry: MultiLineString(vec![LineString::from(pts.to_vec())]),
            inferred: false,
        }
    }

    /// A 1 km square and a 100 m square 300 m east of it.
    fn two_parts() -> MultiPolygon<f64> {
        let mut g = rect(0.0, 0.0, 1000.0, 1000.0);
        g.0.extend(rect(1300.0, 450.0, 1400.0, 550.0).0);
        g
    }

    fn on() -> Thresholds {
        Thresholds {
            accept_exclaves_by_road: true,
            ..Thresholds::default()
        }
    }

    #[test]
    fn a_unit_in_two_parts_joined_by_road_passes_only_with_the_setting() {
        let road = line(
            "r1",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1020.0, 500.0), (1290.0, 500.0)],
        );
        let unit = crate::validate::Unit::new("u", two_parts());
        let failed = crate::validate::geometry::geometry(&unit);
        let off = accept_joined(
            failed.clone(),
            &unit.geometry,
            std::slice::from_ref(&road),
            &Thresholds::default(),
        );
        assert_eq!(
            off, failed,
            "without the setting a unit in two parts fails as before"
        );
        let CheckResult::Evaluated(e) = accept_joined(failed, &unit.geometry, &[road], &on()) else {
            panic!("evaluated")
        };
        assert!(e.pass);
        assert_eq!(e.value, 2.0, "the value still counts the parts");
        assert_eq!(
            e.reasons,
            vec![Reason::ExclaveJoinedByRoad {
                roads: vec!["华翔路".into()]
            }]
        );
        assert_eq!(
            e.reasons[0].text(crate::report::Lang::Zh),
            "飞地经由华翔路与主体相连"
        );
        assert_eq!(
            e.reasons[0].text(crate::report::Lang::English),
            "exclave joined to the main part by 华翔路"
        );
    }

    #[test]
    fn an_invalid_unit_in_two_parts_is_not_rescued_by_a_road() {
        let mut g = two_parts();
        // A bow tie as the detached part: invalid, so the road does not make the unit pass.
        g.0[1] = geo::Polygon::new(
            LineString::from(vec![
                (1300.0, 450.0),
                (1400.0, 550.0),
                (1400.0, 450.0),
                (1300.0, 550.0),
                (1300.0, 450.0),
            ]),
            vec![],
        );
        let road = line(
            "r1",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1020.0, 500.0), (1290.0, 500.0)],
        );
        let unit = crate::validate::Unit::new("u", g);
        let r = accept_joined(
            crate::validate::geometry::geometry(&unit),
            &unit.geometry,
            &[road],
            &on(),
        );
        assert_eq!(r.pass(), Some(false));
    }

    #[test]
    fn a_road_reaching_both_parts_joins_them_by_name() {
        let road = line(
            "r1",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1020.0, 500.0), (1290.0, 500.0)],
        );
        assert_eq!(
            joining_roads(&two_parts(), &[road], &on()),
            Some(vec!["华翔路".to_string()])
        );
    }

    #[test]
    fn a_road_short_of_either_part_joins_nothing() {
        // 60 m short of the main part: beyond the default 50 m.
        let road = line(
            "r1",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1060.0, 500.0), (1290.0, 500.0)],
        );
        assert_eq!(
            joining_roads(&two_parts(), std::slice::from_ref(&road), &on()),
            None
        );
        let wider = Thresholds {
            exclave_road_m: 70.0,
            ..on()
        };
        assert!(joining_roads(&two_parts(), &[road], &wider).is_some());
    }

    #[test]
    fn only_walkable_drawn_lines_join() {
        let river = line(
            "w1",
            Some("蕰藻浜"),
            FeatureClass::River,
            &[(1000.0, 500.0), (1300.0, 500.0)],
        );
        assert_eq!(joining_roads(&two_parts(), &[river], &on()), None);
        let mut inferred = line(
            "i1",
            None,
            FeatureClass::Road,
            &[(1000.0, 500.0), (1300.0, 500.0)],
        );
        inferred.inferred = true;
        assert_eq!(joining_roads(&two_parts(), &[inferred], &on()), None);
    }

    #[test]
    fn stretches_of_one_named_road_join_but_nameless_ones_do_not() {
        let a = line(
            "a",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1000.0, 500.0), (1150.0, 500.0)],
        );
        let b = line(
            "b",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1150.0, 500.0), (1300.0, 500.0)],
        );
        assert_eq!(
            joining_roads(&two_parts(), &[a.clone(), b.clone()], &on()),
            Some(vec!["华翔路".to_string()])
        );
        let (mut a, mut b) = (a, b);
        a.name = None;
        b.name = None;
        assert_eq!(joining_roads(&two_parts(), &[a, b], &on()), None);
    }

    #[test]
    fn every_detached_part_needs_its_own_road() {
        let mut g = two_parts();
        g.0.extend(rect(-400.0, 450.0, -300.0, 550.0).0);
        let east = line(
            "e",
            Some("华翔路"),
            FeatureClass::Road,
            &[(1000.0, 500.0), (1300.0, 500.0)],
        );
        assert_eq!(joining_roads(&g, std::slice::from_ref(&east), &on()), None);
        let west = line("w", None, FeatureClass::Path, &[(-300.0, 500.0), (0.0, 500.0)]);
        assert_eq!(
            joining_roads(&g, &[east, west], &on()),
            Some(vec!["华翔路".to_string(), "w".to_string()])
        );
    }
}
