//! Check `service_coverage`: RULES.md "card" rule — share of the unit's population within `service_radius_m`
//! (1,000 m, GB 50180-2018's 15-minute life circle) of the nearest facility of each service type (affairs, health,
//! culture) ≥ 80 %, serving the "3+3" centres of 沪民区划〔2018〕6号 一(三).
//!
//! Any facility of the type counts, inside the unit or not, existing or planned. Coverage is
//! `population(unit ∩ ⋃ discs) / population(unit)`, both from the [`PopulationSource`] — exact cell fractions for a
//! grid, areal weighting for blocks — so coverage is never approximated by cell centres. Discs are 128-gons
//! (geo `Buffer`; area within 0.04 % of the circle). The uncovered part of the unit (unit − discs) is reported per
//! service type. Without a population source or a facilities layer the check is not evaluated.
//!
//! With `service_distance = "network"` the radius is walked along the network ([`crate::network`]): the covered
//! part of the unit is the union of the `network_cell_m` squares whose centres are within the radius along
//! walkable lines, the uncovered part the rest of the unit; population is measured in both the same way.

use super::{significant_parts, CheckResult, PopulationSource, Problem, ProblemKind, Reason, Unit};
use crate::config::{ServiceDistance, Thresholds};
use crate::model::StudyArea;
use crate::network::{reached_cells, Cells, ServiceAreas};
use crate::Result;
use geo::algorithm::buffer::{BufferStyle, LineCap};
use geo::{Area, BooleanOps, BoundingRect, Buffer, MultiPolygon};
use rayon::prelude::*;

/// Sides of the polygon standing for a service disc.
const DISC_SIDES: f64 = 128.0;

/// Population share within reach of each service type, the minimum against `service_share`. `network`: the
/// study area's service areas when `service_distance` is `network` (built here when None).
pub fn service_coverage(
    unit: &Unit,
    area: &StudyArea,
    population: Option<&dyn PopulationSource>,
    unit_population: Option<f64>,
    t: &Thresholds,
    network: Option<&ServiceAreas>,
) -> Result<(CheckResult, Vec<Problem>)> {
    if area.config.facilities.is_none() && area.facilities.is_empty() {
        return Ok((CheckResult::not_evaluated(Reason::NoFacilitiesLayer), Vec::new()));
    }
    let (Some(source), Some(total)) = (population, unit_population) else {
        return Ok((CheckResult::not_evaluated(Reason::NoPopulationSource), Vec::new()));
    };
    let Some(unit_box) = unit.geometry.bounding_rect() else {
        return Ok((
            CheckResult::evaluated(true, 1.0, Some(t.service_share)),
            Vec::new(),
        ));
    };
    let types = &t.service_types;
    let radius = t.service_radius_m;
    let built;
    let walk = match (t.service_distance, network) {
        (ServiceDistance::Euclidean, _) => None,
        (ServiceDistance::Network, Some(n)) => Some(n),
        (ServiceDistance::Network, None) => {
            built = ServiceAreas::new(area);
            Some(&built)
        }
    };
    let cells = walk.map(|w| Cells::new(&w.network, &unit.geometry, t));
    // The service types one by one are independent overlays of the unit: measured in parallel (the plan editor
    // waits on them after each move), collected in type order so the output does not depend on the thread count.
    let per_type: Vec<(MultiPolygon<f64>, Vec<Problem>, f64)> = types
        .par_iter()
        .map(|kind| {
            let mut problems = Vec::new();
            let covered = if let (Some(w), Some(cells)) = (walk, &cells) {
                let reached = match w.reach(*kind) {
                    Some(r) => reached_cells(&w.network, cells, r, &unit.geometry, radius),
                    None => MultiPolygon(Vec::new()),
                };
                for piece in significant_parts(unit.geometry.difference(&reached), t.partition_tolerance_m2) {
                    problems.push(
                        Problem::area(ProblemKind::Uncovered, &unit.id, piece)
                            .with("service", kind.name())
                            .with("distance", ServiceDistance::Network.name()),
                    );
                }
                reached
            } else {
                let discs: Vec<MultiPolygon<f64>> = area
                    .facilities
                    .iter()
                    .filter(|f| f.kind == *kind)
                    .filter(|f| {
                        let p = f.location;
                        p.x() >= unit_box.min().x - radius
                            && p.x() <= unit_box.max().x + radius
                            && p.y() >= unit_box.min().y - radius
                            && p.y() <= unit_box.max().y + radius
                    })
                    .map(|f| disc(f.location, radius))
                    .collect();
                let reach = geo::unary_union(discs.iter());
                for piece in significant_parts(unit.geometry.difference(&reach), t.partition_tolerance_m2) {
                    problems.push(
                        Problem::area(ProblemKind::Uncovered, &unit.id, piece).with("service", kind.name()),
                    );
                }
                unit.geometry.intersection(&reach)
            };
            // One call per type: the reaches of different types overlap, and a point source counts each resident
            // in one polygon of a call only (it is built for partitions).
            let pop = source
                .population(std::slice::from_ref(&covered))?
                .first()
                .copied()
                .unwrap_or(0.0);
            Ok((covered, problems, pop))
        })
        .collect::<Result<_>>()?;
    let mut covered = Vec::with_capacity(types.len());
    let mut problems = Vec::new();
    let mut reached = Vec::with_capacity(types.len());
    for (c, p, pop) in per_type {
        covered.push(c);
        problems.extend(p);
        reached.push(pop);
    }
    let mut worst = 1.0_f64;
    let mut r_detail = Vec::new();
    let mut reasons = Vec::new();
    for (kind, (pop, cover)) in types.iter().zip(reached.iter().zip(&covered)) {
        let share = if total > 0.0 {
            (pop / total).min(1.0)
        } else {
            // No residents: fall back to the covered share of the area, so an empty unit is still judged.
            let a = unit.geometry.unsigned_area();
            if a > 0.0 {
                cover.unsigned_area() / a
            } else {
                1.0
            }
        };
        worst = worst.min(share);
        r_detail.push((format!("{kind}_share"), share));
        if share < t.service_share {
            reasons.push(Reason::ServiceBelow {
                service: *kind,
                share,
                radius_m: radius,
                needs: t.service_share,
                along_network: t.service_distance == ServiceDistance::Network,
            });
        }
    }
    let mut r = CheckResult::evaluated(worst >= t.service_share, worst, Some(t.service_share));
    if total <= 0.0 {
        r = r.with_reason(Reason::NoResidents);
    }
    for (k, v) in r_detail {
        r = r.with_detail(k, v);
    }
    if t.service_distance == ServiceDistance::Network {
        r = r.with_detail("distance", ServiceDistance::Network.name());
    }
    for reason in reasons {
        r = r.with_reason(reason);
    }
    Ok((r, problems))
}

/// The disc of `radius` around a facility, as the check draws it.
fn disc(location: geo::Point<f64>, radius: f64) -> MultiPolygon<f64> {
    let style = BufferStyle::new(radius).line_cap(LineCap::Round(2.0 * std::f64::consts::PI / DISC_SIDES));
    location.buffer_with_style(style)
}

/// Where facilities of type `kind` reach, in the working CRS, as the check measures it (for a map, not for the
/// check itself, which works unit by unit): the union of their discs of `service_radius_m`, or with
/// `service_distance = "network"` the `network_cell_m` squares of the town within the radius along the network
/// (`network`: the study area's service areas, built here when None). Empty when no facility has the type.
pub fn service_reach(
    area: &StudyArea,
    kind: crate::model::FacilityType,
    network: Option<&ServiceAreas>,
) -> MultiPolygon<f64> {
    let t = &area.config.thresholds;
    let radius = t.service_radius_m;
    let discs: Vec<MultiPolygon<f64>> = area
        .facilities
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| disc(f.location, radius))
        .collect();
    if t.service_distance == ServiceDistance::Euclidean || discs.is_empty() {
        return geo::unary_union(discs.iter());
    }
    let built;
    let walk = match network {
        Some(n) => n,
        None => {
            built = ServiceAreas::new(area);
            &built
        }
    };
    let Some(reach) = walk.reach(kind) else {
        return MultiPolygon(Vec::new());
    };
    // Cells only where a walk can end: the town, else everywhere within the radius of a facility.
    let over = match &area.town {
        Some(town) => town.geometry.clone(),
        None => geo::unary_union(discs.iter()),
    };
    let cells = Cells::new(&walk.network, &over, t);
    reached_cells(&walk.network, &cells, reach, &over, radius)
}

use super::check::{Basis, Check, Context, Evaluation, Layer, LayerResult, Subject};
use super::CheckName;

/// The check as the registry runs it.
pub struct ServiceCoverageCheck;

impl Check for ServiceCoverageCheck {
    fn name(&self) -> CheckName {
        CheckName::ServiceCoverage
    }
    fn layers(&self) -> &'static [Layer] {
        &[Layer::Facilities, Layer::Population]
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("服务覆盖", "Service radius")
    }
    fn column(&self) -> Option<&'static str> {
        Some("srv")
    }
    fn legend(&self, t: &crate::config::Thresholds) -> String {
        let along = match t.service_distance {
            ServiceDistance::Euclidean => "",
            ServiceDistance::Network => " along the walking network",
        };
        format!(
            "≥ {:.0} % of residents within {:.0} m{along}",
            t.service_share * 100.0,
            t.service_radius_m
        )
    }
    fn basis(&self) -> Basis {
        Basis {
        clause: "服务半径",
        text: "GB 50180-2018《城市居住区规划设计标准》：15分钟生活圈约800–1000米；\
               《上海市15分钟社区生活圈规划导则》（2016）：步行15分钟、约1公里。",
        verbatim: false,
        translation: "GB 50180-2018: the 15-minute walking life circle is about 800–1,000 m; Shanghai's \
                      15-minute community life circle guidance (2016): facilities within a 15-minute walk, about 1 km.",
        rule: (
            "每类服务设施半径内的单元常住人口比例 ≥ 阈值（设施可在单元外）",
            "For each service type, the share of the unit's residents within the radius of such a facility \
             (anywhere) ≥ threshold",
        ),
        source: (
            "GB 50180-2018；上海15分钟社区生活圈导则（2016）",
            "GB 50180-2018; Shanghai 15-minute life circle guidance (2016)",
        ),
        }
    }
    fn threshold(&self, t: &crate::config::Thresholds, lang: crate::report::Lang) -> String {
        let along = match t.service_distance {
            ServiceDistance::Euclidean => "",
            ServiceDistance::Network => lang.pick("（步行网络）", " along the network"),
        };
        let types = match lang {
            crate::report::Lang::English => crate::vocab::names(&t.service_types),
            crate::report::Lang::Zh => t
                .service_types
                .iter()
                .map(|f| crate::report::i18n::facility(lang, *f))
                .collect::<Vec<_>>()
                .join("、"),
        };
        format!(
            "≥ {:.0}% / {} m{along} ({types})",
            t.service_share * 100.0,
            crate::report::fmt_int(t.service_radius_m),
        )
    }
    fn short_threshold(&self, t: &crate::config::Thresholds) -> String {
        format!("≥ {:.0}%", t.service_share * 100.0)
    }
    fn value_text(&self, e: &super::Evaluated) -> String {
        format!("{:.0}%", e.value * 100.0)
    }
    fn evaluate(&self, unit: &Subject, ctx: &Context, _layer: Option<&LayerResult>) -> Result<Evaluation> {
        let network = (ctx.thresholds.service_distance == ServiceDistance::Network)
            .then(|| ctx.service_areas.get_or_init(|| ServiceAreas::new(ctx.area)));
        service_coverage(
            unit.unit,
            ctx.area,
            ctx.population,
            unit.population,
            ctx.thresholds,
            network,
        )
        .map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FacilitiesConfig;
    use crate::model::{Facility, FacilityStatus, FacilityType};
    use crate::validate::testing::{area, rect, unit};
    use crate::validate::BlockCounts;
    use geo::Point;

    #[test]
    fn population_share_within_the_radius() {
        let t = Thresholds {
            service_types: vec![FacilityType::Health],
            ..Default::default()
        };
        let mut a = area(None);
        a.config.facilities = Some(FacilitiesConfig::default());
        // A health centre at the west edge: reaches the western block (1,000 people) but not the eastern (3,000).
        a.facilities.push(Facility {
            id: "h".into(),
            kind: FacilityType::Health,
            status: FacilityStatus::Planned,
            name: None,
            location: Point::new(0.0, 250.0),
        });
        let blocks = BlockCounts::new(vec![
            (rect(0.0, 0.0, 500.0, 500.0), 1000.0),
            (rect(3000.0, 0.0, 3500.0, 500.0), 3000.0),
        ]);
        let u = unit("u", rect(0.0, 0.0, 3500.0, 500.0));
        let (r, problems) = service_coverage(&u, &a, Some(&blocks), Some(4000.0), &t, None).unwrap();
        approx::assert_relative_eq!(r.value().unwrap(), 0.25, epsilon = 1e-6);
        assert_eq!(r.pass(), Some(false));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].detail["service"], "health");
        // Uncovered: the unit minus the part of the disc inside it (x from 0 to between 968 m and 1,000 m).
        let uncovered = problems[0].area_m2.unwrap();
        assert!((1.25e6..1.267e6).contains(&uncovered), "{uncovered}");
    }

    /// Two health centres 5 km apart: their reach is two whole discs (the check's 128-gons), holding both.
    #[test]
    fn service_reach_is_the_union_of_the_discs_the_check_uses() {
        use geo::Contains;
        let mut a = area(None);
        for (id, x) in [("h1", 0.0), ("h2", 5000.0)] {
            a.facilities.push(Facility {
                id: id.into(),
                kind: FacilityType::Health,
                status: FacilityStatus::Existing,
                name: None,
                location: Point::new(x, 0.0),
            });
        }
        let r = a.config.thresholds.service_radius_m;
        let reach = service_reach(&a, FacilityType::Health, None);
        let expected = 2.0 * std::f64::consts::PI * r * r;
        assert!(
            (reach.unsigned_area() / expected - 1.0).abs() < 1e-3,
            "{}",
            reach.unsigned_area()
        );
        assert!(a.facilities.iter().all(|f| reach.contains(&f.location)));
        assert!(service_reach(&a, FacilityType::Culture, None).0.is_empty());
    }

    #[test]
    fn no_population_is_not_evaluated() {
        let mut a = area(None);
        a.config.facilities = Some(FacilitiesConfig::default());
        let u = unit("u", rect(0.0, 0.0, 1.0, 1.0));
        let (r, _) = service_coverage(&u, &a, None, None, &Thresholds::default(), None).unwrap();
        assert_eq!(r.pass(), None);
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;
    use crate::config::FacilitiesConfig;
    use crate::model::{Facility, FacilityStatus, FacilityType, FeatureClass};
    use crate::validate::testing::{area, line, rect, unit};
    use crate::validate::BlockCounts;
    use geo::Point;

    /// A 1,200 × 400 m unit cut by a north-south canal at x = 600: a street on each bank (no bridge), a health
    /// centre on the west street; 1,000 residents on each bank.
    fn canal_town(bridge: bool) -> (StudyArea, Unit, BlockCounts) {
        let mut a = area(None);
        a.config.facilities = Some(FacilitiesConfig::default());
        a.lines
            .push(line("w", FeatureClass::Road, &[(0.0, 200.0), (580.0, 200.0)]));
        a.lines
            .push(line("e", FeatureClass::Road, &[(620.0, 200.0), (1200.0, 200.0)]));
        a.lines.push(line(
            "canal",
            FeatureClass::Canal,
            &[(600.0, -10.0), (600.0, 410.0)],
        ));
        if bridge {
            a.lines.push(line(
                "bridge",
                FeatureClass::Road,
                &[(580.0, 200.0), (620.0, 200.0)],
            ));
        }
        a.facilities.push(Facility {
            id: "h".into(),
            kind: FacilityType::Health,
            status: FacilityStatus::Existing,
            name: None,
            location: Point::new(300.0, 210.0),
        });
        let blocks = BlockCounts::new(vec![
            (rect(0.0, 0.0, 600.0, 400.0), 1000.0),
            (rect(600.0, 0.0, 1200.0, 400.0), 1000.0),
        ]);
        (a, unit("u", rect(0.0, 0.0, 1200.0, 400.0)), blocks)
    }

    fn thresholds(distance: ServiceDistance) -> Thresholds {
        Thresholds {
            service_types: vec![FacilityType::Health],
            service_distance: distance,
            // 300 m to the nearest street at most; the farthest corner of each bank is 300 + 200 m from the centre.
            max_access_m: 300.0,
            ..Default::default()
        }
    }

    /// Along the network the reach is the check's own: the west bank's cells, not the east bank's.
    #[test]
    fn service_reach_along_the_network_is_the_cells_the_check_counts() {
        use geo::Contains;
        let (mut a, unit, _) = canal_town(false);
        a.config.thresholds = thresholds(ServiceDistance::Network);
        a.town = Some(crate::model::Town {
            id: "t".into(),
            name: "t".into(),
            geometry: unit.geometry.clone(),
        });
        let reach = service_reach(&a, FacilityType::Health, None);
        assert!(reach.contains(&Point::new(300.0, 200.0)));
        assert!(
            !reach.contains(&Point::new(900.0, 200.0)),
            "the east bank is out of reach"
        );
        let west = 600.0 * 400.0;
        assert!(reach.unsigned_area() <= west + 1.0 && reach.unsigned_area() > 0.5 * west);
    }

    #[test]
    fn residents_across_a_canal_without_a_bridge_are_not_covered_along_the_network() {
        let (a, u, blocks) = canal_town(false);
        let (r, _) = service_coverage(
            &u,
            &a,
            Some(&blocks),
            Some(2000.0),
            &thresholds(ServiceDistance::Euclidean),
            None,
        )
        .unwrap();
        // The straight-line disc (1 km) covers both banks.
        approx::assert_relative_eq!(r.value().unwrap(), 1.0, epsilon = 1e-6);
        let t = thresholds(ServiceDistance::Network);
        let (r, problems) = service_coverage(&u, &a, Some(&blocks), Some(2000.0), &t, None).unwrap();
        // Along the network only the west bank is within 1 km: the east street is not joined to the west one.
        approx::assert_relative_eq!(r.value().unwrap(), 0.5, epsilon = 1e-6);
        assert_eq!(r.pass(), Some(false));
        let CheckResult::Evaluated(e) = &r else { panic!() };
        assert_eq!(e.detail["distance"], "network");
        assert!(
            e.reasons[0]
                .text(crate::report::Lang::English)
                .contains("along the walking network"),
            "{:?}",
            e.reasons
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].detail["distance"], "network");
        approx::assert_relative_eq!(problems[0].area_m2.unwrap(), 600.0 * 400.0, epsilon = 1e-6);
    }

    #[test]
    fn residents_in_reach_of_several_types_count_for_each_type_with_a_point_source() {
        let (mut a, u, _) = canal_town(false);
        a.facilities.push(Facility {
            id: "c".into(),
            kind: FacilityType::Culture,
            status: FacilityStatus::Existing,
            name: None,
            location: Point::new(300.0, 190.0),
        });
        let points = crate::population::source::PointSource {
            path: "points.csv".into(),
            points: vec![
                (Point::new(100.0, 100.0), 500.0),
                (Point::new(900.0, 100.0), 500.0),
            ],
        };
        for distance in [ServiceDistance::Euclidean, ServiceDistance::Network] {
            let t = Thresholds {
                service_types: vec![FacilityType::Health, FacilityType::Culture],
                ..thresholds(distance)
            };
            let (r, _) = service_coverage(&u, &a, Some(&points), Some(1000.0), &t, None).unwrap();
            let CheckResult::Evaluated(e) = &r else { panic!() };
            // The western resident is within reach of both centres, so each type's share counts them.
            assert_eq!(
                e.detail["health_share"], e.detail["culture_share"],
                "{distance:?}"
            );
            assert!(
                e.detail["culture_share"].as_f64().unwrap() >= 0.5,
                "{distance:?}: {:?}",
                e.detail
            );
        }
    }

    #[test]
    fn a_bridge_sharing_vertices_joins_the_banks() {
        let (a, u, blocks) = canal_town(true);
        let t = thresholds(ServiceDistance::Network);
        let (r, problems) = service_coverage(&u, &a, Some(&blocks), Some(2000.0), &t, None).unwrap();
        // Farthest cell centre east: 300 m along the west street, 600 m to x = 1175, 175 m off the street = 1,085 m;
        // the east bank is covered up to x = 300 + (1000 − 10 − access): part of it only.
        let v = r.value().unwrap();
        assert!(v > 0.5 && v < 1.0, "{v}");
        assert!(!problems.is_empty());
    }
}
