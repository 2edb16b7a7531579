//! `bmu site`: where to put the missing "3+3" facilities. For every unit and facility type it fails on, the fewest
//! new sites that make it pass — at least one inside a unit lacking the type, and enough to bring the share of its
//! residents within `service_radius_m` up to `service_share` — and among those the sites covering the most residents
//! (maximal covering location); with `count`, exactly that many sites per unit and type (the classic MCLP).
//!
//! Demand is the population source summed exactly (cell fractions for a grid) over squares of `demand_cell_m`
//! clipped to each unit, each standing at its centroid; a site covers a demand point within the radius: straight
//! (working CRS), or with `service_distance = "network"` along the walking network ([`crate::network`]: one
//! Dijkstra per candidate, cut off at the radius, over the demand points the straight-line radius preselects — a
//! network distance is never shorter). Existing, planned and already proposed facilities count as there, and a site reaches residents of
//! neighbouring units too. Candidates are the planner's layer or a lattice inside the unit away from water and
//! barrier lines. Because demand points stand for areas, the plan is checked by the real `validate` with the sites
//! added as planned facilities; a unit and type still short gets a higher target and more sites (a few rounds).
//!
//! The solver reduces each model first ([`solve::solve`]): a candidate whose residents another candidate reaches
//! too (and that is inside the unit whenever it is) never improves a plan, and along the network, where neighbouring
//! lattice points join the same street, most candidates are such; without the reduction the exact models of the
//! demo grew too hard for branch and bound.

pub mod candidates;
pub mod solve;

use crate::config::ServiceDistance;
use crate::model::{Facility, FacilityStatus, FacilityType, StudyArea};
use crate::network::{Access, Network};
use crate::validate::{CheckName, PopulationSource, Reason, Unit, Validation};
use crate::{Error, Result, Staging};
use candidates::{demand, Demand, SiteCandidate};
use geo::{BoundingRect, Intersects, Point};
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::Serialize;
use serde_json::{json, Map, Value};
use solve::{Goal, Limits, Method, Problem};
use std::path::Path;

/// Settings of a siting run.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// Facility types to site (default: the required "3+3" types and the service types).
    pub types: Option<Vec<FacilityType>>,
    /// Exactly this many new sites per unit and type, covering the most residents, instead of the fewest that pass.
    pub count: Option<usize>,
    /// Spacing of the candidate lattice, metres.
    pub spacing_m: f64,
    /// Side of the demand squares, metres.
    pub demand_cell_m: f64,
    /// Lattice candidates closer than this to a water or barrier line are dropped, metres.
    pub clearance_m: f64,
    /// Model sizes for the exact solver and the LP bound.
    pub limits: Limits,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            types: None,
            count: None,
            spacing_m: 100.0,
            demand_cell_m: 100.0,
            clearance_m: 25.0,
            limits: Limits::default(),
        }
    }
}

/// One proposed facility.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProposedSite {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FacilityType,
    /// The unit it was sited for.
    pub unit_id: String,
    /// The candidate it stands on.
    pub candidate_id: String,
    /// Where, in the working CRS.
    #[serde(skip)]
    pub location: Point<f64>,
    /// Residents within the radius (demand points of every unit).
    pub covers_population: f64,
    /// Of those, residents of other units.
    pub covers_other_units: f64,
}

/// Before and after for one unit and type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareRow {
    /// The unit.
    pub unit_id: String,
    /// The facility type.
    #[serde(rename = "type")]
    pub kind: FacilityType,
    /// Share of residents within the radius before (service types; from `validate`).
    pub share_before: Option<f64>,
    /// And after the proposed sites.
    pub share_after: Option<f64>,
    /// Whether the unit held the type before.
    pub present_before: bool,
    /// And after.
    pub present_after: bool,
    /// New sites for this unit and type.
    pub new_sites: usize,
    /// How they were chosen (None when none were needed).
    pub method: Option<Method>,
    /// The LP bound of the heuristic (fewest sites, or most residents with `count`).
    pub bound: Option<f64>,
}

/// A siting plan, checked.
#[derive(Debug)]
pub struct Plan {
    /// The proposed sites, in the order placed (units, then types, as given).
    pub sites: Vec<ProposedSite>,
    /// Before and after per unit and type.
    pub rows: Vec<ShareRow>,
    /// `validate` before.
    pub before: Validation,
    /// `validate` with the sites added as planned facilities.
    pub after: Validation,
    /// The types sited.
    pub types: Vec<FacilityType>,
    /// The service radius used, metres.
    pub radius_m: f64,
    /// How the radius was measured.
    pub distance: ServiceDistance,
}

impl Plan {
    /// Every unit passes every check with the sites added.
    pub fn all_pass(&self) -> bool {
        self.after.pass()
    }

    /// One line for the terminal.
    pub fn summary(&self, out: &Path) -> String {
        format!(
            "bmu: site: {} new facilities proposed; without them {} of {} units pass, with them {} of {} units \
             pass -> {}\n",
            self.sites.len(),
            self.before.summary.passing,
            self.before.summary.units,
            self.after.summary.passing,
            self.after.summary.units,
            out.display()
        )
    }

    /// What the dossier and `report.json` show of the plan: the sites, and one finding per unit and type sited.
    pub fn sites_report(&self) -> SitesReport {
        let along_network = self.distance == ServiceDistance::Network;
        let findings = self
            .rows
            .iter()
            .filter(|r| r.new_sites > 0)
            .map(|r| {
                let sites = self
                    .sites
                    .iter()
                    .filter(|s| s.kind == r.kind && s.unit_id == r.unit_id)
                    .map(|s| s.candidate_id.clone())
                    .collect();
                Finding::new(Reason::SitesProposed {
                    service: r.kind,
                    unit: r.unit_id.clone(),
                    sites,
                    share_before: r.share_before,
                    share_after: r.share_after,
                    along_network,
                })
            })
            .collect();
        SitesReport {
            service_distance: self.distance,
            passing_before: self.before.summary.passing,
            passing_after: self.after.summary.passing,
            sites: self.sites.clone(),
            findings,
        }
    }

    /// The report JSON: settings, sites, before/after rows, passing counts.
    pub fn report(&self) -> Value {
        json!({
            "types": self.types,
            "service_radius_m": self.radius_m,
            "service_distance": self.distance,
            "service_share": self.after.thresholds.service_share,
            "sites": self.sites,
            "units": self.rows,
            "passing_before": self.before.summary.passing,
            "passing_after": self.after.summary.passing,
            "units_total": self.after.summary.units,
        })
    }

    /// Stages the sites layer (points: `type`, `status = "proposed"`, `unit_id`, `covers_population`,
    /// `covers_other_units`, `candidate_id`) and the report.
    pub fn stage(
        &self,
        area: &StudyArea,
        sites: &Path,
        report: Option<&Path>,
        staging: &mut Staging,
    ) -> Result<()> {
        let features: Vec<crate::io::OutFeature> = self
            .sites
            .iter()
            .map(|s| {
                let mut p = Map::new();
                p.insert("type".into(), json!(s.kind.name()));
                p.insert("status".into(), json!("proposed"));
                p.insert("unit_id".into(), json!(s.unit_id));
                p.insert("covers_population".into(), json!(s.covers_population.round()));
                p.insert("covers_other_units".into(), json!(s.covers_other_units.round()));
                p.insert("candidate_id".into(), json!(s.candidate_id));
                crate::io::OutFeature {
                    geometry: Some(geo::Geometry::Point(s.location)),
                    properties: p,
                }
            })
            .collect();
        crate::io::stage_layer(sites, &area.working_crs, &features, staging)?;
        if let Some(r) = report {
            let mut text = serde_json::to_string_pretty(&self.report())
                .map_err(|e| Error::input("site report", e.to_string()))?;
            text.push('\n');
            staging.write(r, text.as_bytes())?;
        }
        Ok(())
    }
}

/// The proposed sites as `report.json` (`proposed_sites`) and the dossier show them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SitesReport {
    /// How the radius was measured.
    pub service_distance: ServiceDistance,
    /// Units passing every check without the sites.
    pub passing_before: usize,
    /// And with them (the report's `summary` counts the plan with them).
    pub passing_after: usize,
    /// The sites, in the order placed.
    pub sites: Vec<ProposedSite>,
    /// One per unit and type sited: which sites, and the unit's share before and after.
    pub findings: Vec<Finding>,
}

/// A finding as `report.json` writes reasons: the English sentence beside the code and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The English sentence.
    pub reason: String,
    /// The structured reason, rendered per language by the dossier.
    #[serde(flatten)]
    pub data: Reason,
}

impl Finding {
    fn new(data: Reason) -> Self {
        Finding {
            reason: data.text(crate::report::Lang::English),
            data,
        }
    }
}

/// The default types: required "3+3" types, then service types not among them.
pub fn default_types(area: &StudyArea) -> Vec<FacilityType> {
    let t = &area.config.thresholds;
    let mut v = t.required_facilities.clone();
    v.extend(
        t.service_types
            .iter()
            .filter(|k| !v.contains(k))
            .copied()
            .collect::<Vec<_>>(),
    );
    v
}

/// Sites the missing facilities of `units` (see the module docs). `candidates` None: a lattice in each unit.
pub fn plan(
    area: &StudyArea,
    units: &[Unit],
    source: &dyn PopulationSource,
    candidates: Option<&[SiteCandidate]>,
    options: &SiteOptions,
) -> Result<Plan> {
    let t = &area.config.thresholds;
    let radius = t.service_radius_m;
    let types = options.types.clone().unwrap_or_else(|| default_types(area));
    let before = crate::validate::validate(area, units, Some(source))?;
    let demand = demand(units, source, options.demand_cell_m)?;
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        demand
            .iter()
            .enumerate()
            .map(|(i, d)| GeomWithData::new([d.location.x(), d.location.y()], i))
            .collect(),
    );
    let unit_total: Vec<f64> = (0..units.len())
        .map(|u| demand.iter().filter(|d| d.unit == u).map(|d| d.population).sum())
        .collect();
    let per_unit: Vec<Vec<SiteCandidate>> = units
        .iter()
        .map(|u| match candidates {
            Some(c) => candidates::given_for(u, c, radius),
            None => candidates::lattice(u, area, options.spacing_m, options.clearance_m),
        })
        .collect();
    let walk = (t.service_distance == ServiceDistance::Network).then(|| {
        let network = Network::of(area);
        let access = demand
            .par_iter()
            .map(|d| network.access(d.location, t.max_access_m))
            .collect();
        Walk {
            network,
            demand: access,
            max_access: t.max_access_m,
            cache: std::collections::HashMap::new(),
        }
    });
    let mut ctx = Ctx {
        area,
        units,
        demand: &demand,
        tree: &tree,
        radius,
        placed: Vec::new(),
        walk,
    };
    let mut solved: Vec<Sited> = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        for &kind in &types {
            let s = ctx.site_one(u, unit, kind, &per_unit[u], unit_total[u], 0.0, options)?;
            solved.push((u, kind, s.0, s.1, s.2));
        }
    }
    // Demand points stand for areas: re-check with the real validate and raise the target where a share fell short.
    let mut after = validate_with(area, units, source, &ctx.placed)?;
    if options.count.is_none() {
        for round in 1..=4 {
            let short = shortfalls(&after, units, &types, t);
            if short.is_empty() {
                break;
            }
            for (u, kind) in short {
                let margin = 0.01 * f64::from(round);
                let s = ctx.site_one(u, &units[u], kind, &per_unit[u], unit_total[u], margin, options)?;
                if let Some(row) = solved.iter_mut().find(|r| r.0 == u && r.1 == kind) {
                    row.2 += s.0;
                    row.3 = s.1.or(row.3);
                    row.4 = s.2.or(row.4);
                }
            }
            after = validate_with(area, units, source, &ctx.placed)?;
        }
    }
    let rows = solved
        .into_iter()
        .map(|(u, kind, n, method, bound)| ShareRow {
            unit_id: units[u].id.clone(),
            kind,
            share_before: share(&before, u, kind),
            share_after: share(&after, u, kind),
            present_before: holds(&area.facilities, &units[u], kind),
            present_after: holds(&area.facilities, &units[u], kind)
                || ctx
                    .placed
                    .iter()
                    .any(|s| s.kind == kind && units[u].geometry.intersects(&s.location)),
            new_sites: n,
            method,
            bound,
        })
        .collect();
    Ok(Plan {
        sites: ctx.placed,
        rows,
        before,
        after,
        types,
        radius_m: radius,
        distance: t.service_distance,
    })
}

/// Unit index, type, new sites, method, bound.
type Sited = (usize, FacilityType, usize, Option<Method>, Option<f64>);

struct Ctx<'a> {
    area: &'a StudyArea,
    units: &'a [Unit],
    demand: &'a [Demand],
    tree: &'a RTree<GeomWithData<[f64; 2], usize>>,
    radius: f64,
    placed: Vec<ProposedSite>,
    /// The walking network, with `service_distance = "network"`.
    walk: Option<Walk>,
}

/// The network, where each demand point joins it, and each candidate's reach once measured.
struct Walk {
    network: Network,
    demand: Vec<Option<Access>>,
    max_access: f64,
    /// Demand points within the radius along the network, by the point's coordinates: a candidate serves every
    /// type, so its Dijkstra runs once.
    cache: std::collections::HashMap<(u64, u64), Vec<usize>>,
}

impl Ctx<'_> {
    /// The demand points within the radius of `p`, in the R-tree's order (straight line) or ascending (network).
    fn within(&mut self, p: Point<f64>) -> Vec<usize> {
        // Within the radius to the millimetre: demand points are centroids, off by rounding at UTM magnitudes.
        let r = self.radius + 1e-3;
        let near = self
            .tree
            .locate_within_distance([p.x(), p.y()], r * r)
            .map(|g| g.data);
        let Some(w) = &mut self.walk else {
            return near.collect();
        };
        let key = (p.x().to_bits(), p.y().to_bits());
        if let Some(v) = w.cache.get(&key) {
            return v.clone();
        }
        let mut v: Vec<usize> = match w.network.access(p, w.max_access) {
            None => Vec::new(),
            Some(a) => {
                let reach = w.network.reach(&[a], self.radius);
                near.filter(|&i| {
                    w.demand[i]
                        .as_ref()
                        .and_then(|d| w.network.distance(&reach, d))
                        .is_some_and(|d| d <= r)
                })
                .collect()
            }
        };
        v.sort_unstable();
        w.cache.insert(key, v.clone());
        v
    }

    /// Sites one unit and type; returns (new sites, method, bound).
    #[allow(clippy::too_many_arguments)]
    fn site_one(
        &mut self,
        u: usize,
        unit: &Unit,
        kind: FacilityType,
        candidates: &[SiteCandidate],
        unit_total: f64,
        margin: f64,
        options: &SiteOptions,
    ) -> Result<(usize, Option<Method>, Option<f64>)> {
        let t = &self.area.config.thresholds;
        // Within the radius to the millimetre: demand points are centroids, off by rounding at UTM magnitudes.
        let r2 = (self.radius + 1e-3) * (self.radius + 1e-3);
        let there: Vec<Point<f64>> = self
            .area
            .facilities
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.location)
            .chain(self.placed.iter().filter(|s| s.kind == kind).map(|s| s.location))
            .collect();
        // Along the network, what the facilities already there reach, measured from each of them.
        let reached_there: Option<Vec<bool>> = match self.walk.is_some() {
            false => None,
            true => {
                let mut v = vec![false; self.demand.len()];
                for q in &there {
                    for i in self.within(*q) {
                        v[i] = true;
                    }
                }
                Some(v)
            }
        };
        let covered_already = |i: usize| {
            if let Some(v) = &reached_there {
                return v[i];
            }
            let p = self.demand[i].location;
            there.iter().any(|q| {
                let (dx, dy) = (p.x() - q.x(), p.y() - q.y());
                dx * dx + dy * dy <= r2
            })
        };
        let lacks =
            t.required_facilities.contains(&kind) && !there.iter().any(|q| unit.geometry.intersects(q));
        let goal = match options.count {
            Some(n) => Goal::Exactly(n),
            None => Goal::Fewest,
        };
        let need = if options.count.is_some() || !t.service_types.contains(&kind) {
            0.0
        } else {
            let reached: f64 = (0..self.demand.len())
                .filter(|&i| self.demand[i].unit == u && covered_already(i))
                .map(|i| self.demand[i].population)
                .sum();
            let target = ((t.service_share + margin).min(1.0) * unit_total).min(unit_total);
            (target - reached).max(0.0)
        };
        if goal == Goal::Fewest && need <= 0.0 && !lacks {
            return Ok((0, None, None));
        }
        // Local demand indices: the uncovered demand any candidate reaches.
        let mut local: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        let mut covers: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
        let reach: Vec<Vec<usize>> = candidates.iter().map(|c| self.within(c.location)).collect();
        for near in reach {
            let mut near: Vec<usize> = near.into_iter().filter(|&i| !covered_already(i)).collect();
            near.sort_unstable();
            covers.push(near);
        }
        for &i in covers.iter().flatten() {
            let n = local.len();
            local.entry(i).or_insert(n);
        }
        // Renumber in ascending global order so the model does not depend on candidate order.
        let globals: Vec<usize> = local.keys().copied().collect();
        for (k, g) in globals.iter().enumerate() {
            local.insert(*g, k);
        }
        let covers: Vec<Vec<usize>> = covers
            .into_iter()
            .map(|c| c.into_iter().filter_map(|i| local.get(&i).copied()).collect())
            .collect();
        let inside: Vec<bool> = candidates
            .iter()
            .map(|c| unit.geometry.intersects(&c.location))
            .collect();
        // The solver reduces the model itself (dominated candidates, unreached and identical demand): see
        // `solve::solve`.
        let problem = Problem {
            covers,
            weight: globals.iter().map(|&i| self.demand[i].population).collect(),
            counted: globals.iter().map(|&i| self.demand[i].unit == u).collect(),
            need,
            inside,
            inside_required: lacks,
        };
        let s = solve::solve(&problem, goal, options.limits);
        for &j in &s.chosen {
            let c = &candidates[j];
            let (mut all, mut other) = (0.0, 0.0);
            for i in self.within(c.location) {
                let d = &self.demand[i];
                all += d.population;
                if d.unit != u {
                    other += d.population;
                }
            }
            self.placed.push(ProposedSite {
                kind,
                unit_id: self.units[u].id.clone(),
                candidate_id: c.id.clone(),
                location: c.location,
                covers_population: all,
                covers_other_units: other,
            });
        }
        Ok((s.chosen.len(), Some(s.method), s.bound))
    }
}

fn validate_with(
    area: &StudyArea,
    units: &[Unit],
    source: &dyn PopulationSource,
    sites: &[ProposedSite],
) -> Result<Validation> {
    let mut a = area.clone();
    a.facilities
        .extend(sites.iter().enumerate().map(|(i, s)| Facility {
            id: format!("proposed-{}", i + 1),
            kind: s.kind,
            status: FacilityStatus::Planned,
            name: None,
            location: s.location,
        }));
    crate::validate::validate(&a, units, Some(source))
}

/// The service share of `kind` in unit `u`, as `validate` measured it.
fn share(v: &Validation, u: usize, kind: FacilityType) -> Option<f64> {
    let r = v.units.get(u)?.checks.get(&CheckName::ServiceCoverage)?;
    match r {
        crate::validate::CheckResult::Evaluated(e) => e.detail.get(&format!("{kind}_share"))?.as_f64(),
        crate::validate::CheckResult::NotEvaluated(_) => None,
    }
}

/// Units and service types still below the bound after a round.
fn shortfalls(
    v: &Validation,
    units: &[Unit],
    types: &[FacilityType],
    t: &crate::config::Thresholds,
) -> Vec<(usize, FacilityType)> {
    (0..units.len())
        .flat_map(|u| types.iter().map(move |&k| (u, k)))
        .filter(|&(u, k)| t.service_types.contains(&k) && share(v, u, k).is_some_and(|s| s < t.service_share))
        .collect()
}

fn holds(facilities: &[Facility], unit: &Unit, kind: FacilityType) -> bool {
    let Some(b) = unit.geometry.bounding_rect() else {
        return false;
    };
    facilities
        .iter()
        .any(|f| f.kind == kind && b.intersects(&f.location) && unit.geometry.intersects(&f.location))
}
