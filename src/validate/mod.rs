//! `bmu validate`: every rule of 沪民区划〔2018〕6号 that geometry can check, per unit.
//!
//! The table in `shared/policy/RULES.md` maps each clause to one check; each check lives in its own file here,
//! cites its clause and implements [`Check`]; [`Registry::standard`] lists them in report order, and every output
//! (report JSON, units layer, dossier, policy cards, terminal table) reads its columns from the registry a
//! [`Validation`] carries. Following geo's `Validation`, a broken rule is a *value* ([`CheckResult::Evaluated`] with
//! `pass: false`, reasons and problem geometries), never an `Err`; a check whose input layer is missing is
//! [`CheckResult::NotEvaluated`] with the reason, never a silent pass. Errors are reserved for unusable input.
//!
//! | check | clause | file |
//! |---|---|---|
//! | `geometry` | (precondition) valid polygon, one part (or joined by road) | `geometry`, `exclave` |
//! | `partition` | 一(一) units lie inside the town, no gaps or overlaps | `partition` |
//! | `min_population` | 一(一) 常住人口在2万人以上 | `min_population` |
//! | `min_area` | 一(一) 地域面积在2平方公里以上 | `min_area` |
//! | `boundary_clarity` | 一(一) 区域边界清晰可辨 | `boundary_clarity` |
//! | `barriers` | 2024 draft: not split by expressways or railways | `barriers` |
//! | `facilities` | 一(三) "3+3" | `facilities` |
//! | `service_coverage` | service radii (card) | `service_coverage` |
//! | `community_integrity` | 一(一) 社区认同 | `community_integrity` |
//! | `compactness`, `overlays` | reported only | `compactness`, `overlays` |
//!
//! Population enters through [`PopulationSource`], so block counts ([`BlockCounts`]) and exact grid zonal sums
//! plug in the same way.

pub(crate) mod barriers;
pub(crate) mod block_counts;
pub(crate) mod boundary_clarity;
pub mod check;
pub(crate) mod community_integrity;
pub(crate) mod compactness;
pub(crate) mod exclave;
pub(crate) mod facilities;
pub(crate) mod geometry;
pub(crate) mod min_area;
pub(crate) mod min_population;
pub(crate) mod output;
pub(crate) mod overlays;
pub mod partition;
pub(crate) mod partition_check;
pub mod reason;
pub mod service_coverage;
pub(crate) mod units;

pub use block_counts::BlockCounts;
pub use check::{Check, Context, Registry};
pub use output::problem_features;
pub use reason::Reason;
pub use units::read_units;

use crate::config::Thresholds;
use crate::model::StudyArea;
use crate::{Error, Result};
use geo::{Area, BoundingRect, Geometry, MultiPolygon, Rect};
use indexmap::IndexMap;
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// A unit to validate, in the working CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// The unit's id.
    pub id: String,
    /// The unit, in the working CRS.
    pub geometry: MultiPolygon<f64>,
    /// The unit as its file holds it: a grid measures population from this, in the file's own CRS.
    pub source: Option<crate::model::SourceGeometry>,
    /// Population already counted — `propose`'s units carry the sum of their blocks, the very number max-p compared
    /// with the bound — used instead of measuring again.
    pub population: Option<f64>,
}

impl Unit {
    /// A unit with only an id and a working-CRS geometry.
    pub fn new(id: impl Into<String>, geometry: MultiPolygon<f64>) -> Unit {
        Unit {
            id: id.into(),
            geometry,
            source: None,
            population: None,
        }
    }
}

pub use crate::population::source::PopulationSource;

/// A check's stable name, used as its JSON key, its column prefix in the units layer and its HTML anchor. The
/// standard checks have constants named as the enum variants they once were, so matching code reads the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CheckName(pub &'static str);

#[allow(non_upper_case_globals)]
impl CheckName {
    /// The `geometry` check.
    pub const Geometry: CheckName = CheckName("geometry");
    /// The `partition` check.
    pub const Partition: CheckName = CheckName("partition");
    /// The `min_population` check.
    pub const MinPopulation: CheckName = CheckName("min_population");
    /// The `min_area` check.
    pub const MinArea: CheckName = CheckName("min_area");
    /// The `boundary_clarity` check.
    pub const BoundaryClarity: CheckName = CheckName("boundary_clarity");
    /// The `barriers` check.
    pub const Barriers: CheckName = CheckName("barriers");
    /// The `facilities` check.
    pub const Facilities: CheckName = CheckName("facilities");
    /// The `service_coverage` check.
    pub const ServiceCoverage: CheckName = CheckName("service_coverage");
    /// The `community_integrity` check.
    pub const CommunityIntegrity: CheckName = CheckName("community_integrity");
    /// The `compactness` check.
    pub const Compactness: CheckName = CheckName("compactness");
    /// The `overlays` check.
    pub const Overlays: CheckName = CheckName("overlays");

    /// The stable name used in files and reports.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of one check on one unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CheckResult {
    /// The check ran.
    Evaluated(Evaluated),
    /// The check could not run (no population source, no blocks…).
    NotEvaluated(NotEvaluated),
}

/// A check that ran: its measured value against its threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// Whether the unit passes.
    pub pass: bool,
    /// The measured value.
    pub value: f64,
    /// None for checks that are reported only.
    pub threshold: Option<f64>,
    /// Why it failed (or what limited it), as data each output renders in its language.
    pub reasons: Vec<Reason>,
    /// Check-specific measurements (shares per service type, missing facility types…).
    pub detail: BTreeMap<String, serde_json::Value>,
}

/// The report JSON keeps its English `reasons` sentences and adds `reason_codes` beside them (code and parameters
/// of each, in the same order), so that old readers see the same file and new ones need not parse words.
impl Serialize for Evaluated {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            pass: bool,
            value: f64,
            #[serde(skip_serializing_if = "Option::is_none")]
            threshold: Option<f64>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            reasons: Vec<String>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            reason_codes: &'a Vec<Reason>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            detail: &'a BTreeMap<String, serde_json::Value>,
        }
        Out {
            pass: self.pass,
            value: self.value,
            threshold: self.threshold,
            reasons: self
                .reasons
                .iter()
                .map(|r| r.text(crate::report::Lang::English))
                .collect(),
            reason_codes: &self.reasons,
            detail: &self.detail,
        }
        .serialize(s)
    }
}

/// A check that could not run, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct NotEvaluated {
    /// Always false; present so JSON readers can tell the two shapes apart.
    pub evaluated: bool,
    /// Why not.
    pub reason: Reason,
}

/// Written as `evaluated: false`, the English `reason`, then `reason_code` and `reason_params`.
impl Serialize for NotEvaluated {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            evaluated: bool,
            #[serde(flatten)]
            reason: reason::Written<'a>,
        }
        Out {
            evaluated: self.evaluated,
            reason: reason::Written::new(&self.reason),
        }
        .serialize(s)
    }
}

impl CheckResult {
    /// A check that ran.
    pub fn evaluated(pass: bool, value: f64, threshold: Option<f64>) -> Self {
        CheckResult::Evaluated(Evaluated {
            pass,
            value,
            threshold,
            reasons: Vec::new(),
            detail: BTreeMap::new(),
        })
    }

    /// A check that could not run.
    pub fn not_evaluated(reason: Reason) -> Self {
        CheckResult::NotEvaluated(NotEvaluated {
            evaluated: false,
            reason,
        })
    }

    /// Adds a reason (evaluated checks only).
    pub fn with_reason(mut self, reason: Reason) -> Self {
        if let CheckResult::Evaluated(e) = &mut self {
            e.reasons.push(reason);
        }
        self
    }

    /// Adds a detail (evaluated checks only).
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        if let CheckResult::Evaluated(e) = &mut self {
            e.detail.insert(key.into(), value.into());
        }
        self
    }

    /// `Some(pass)` when evaluated.
    pub fn pass(&self) -> Option<bool> {
        match self {
            CheckResult::Evaluated(e) => Some(e.pass),
            CheckResult::NotEvaluated(_) => None,
        }
    }

    /// The measured value when evaluated.
    pub fn value(&self) -> Option<f64> {
        match self {
            CheckResult::Evaluated(e) => Some(e.value),
            CheckResult::NotEvaluated(_) => None,
        }
    }

    /// The threshold when evaluated against one.
    pub fn threshold(&self) -> Option<f64> {
        match self {
            CheckResult::Evaluated(e) => e.threshold,
            CheckResult::NotEvaluated(_) => None,
        }
    }
}

/// What kind of problem a problem geometry shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Part of the town in no unit.
    Gap,
    /// Part of the town in two units.
    Overlap,
    /// Part of a unit outside the town.
    Spill,
    /// Boundary stretch far from any feature.
    UnclearBoundary,
    /// Expressway or railway crossing a unit.
    BarrierCrossing,
    /// Residents beyond reach of a service.
    Uncovered,
    /// Block split between units.
    SplitBlock,
}

impl ProblemKind {
    /// The kind as written in the problems layer.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Gap => "gap",
            ProblemKind::Overlap => "overlap",
            ProblemKind::Spill => "spill",
            ProblemKind::UnclearBoundary => "unclear_boundary",
            ProblemKind::BarrierCrossing => "barrier_crossing",
            ProblemKind::Uncovered => "uncovered",
            ProblemKind::SplitBlock => "split_block",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A located problem: a gap, an overlap, an unclear stretch of boundary…
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// What the problem is.
    pub kind: ProblemKind,
    /// The unit it belongs to; for gaps, the units that border it, comma-separated (empty when none does).
    pub unit_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Area of a polygon problem, m².
    pub area_m2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Length of a line problem, m.
    pub length_m: Option<f64>,
    /// Extra attributes: the other unit of an overlap, the service type, the barrier class, the block id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
    /// In the working CRS.
    #[serde(skip)]
    pub geometry: Geometry<f64>,
}

impl Problem {
    /// A polygonal problem measured by its area.
    pub fn area(kind: ProblemKind, unit_id: impl Into<String>, geometry: MultiPolygon<f64>) -> Self {
        Problem {
            kind,
            unit_id: unit_id.into(),
            area_m2: Some(geometry.unsigned_area()),
            length_m: None,
            detail: BTreeMap::new(),
            geometry: Geometry::MultiPolygon(geometry),
        }
    }

    /// A linear problem measured by its length.
    pub fn length(
        kind: ProblemKind,
        unit_id: impl Into<String>,
        geometry: geo::MultiLineString<f64>,
        length_m: f64,
    ) -> Self {
        Problem {
            kind,
            unit_id: unit_id.into(),
            area_m2: None,
            length_m: Some(length_m),
            detail: BTreeMap::new(),
            geometry: Geometry::MultiLineString(geometry),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.detail.insert(key.to_string(), value.into());
        self
    }
}

/// The result for one unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitReport {
    /// The unit's id.
    pub unit_id: String,
    /// None when no population source was given.
    pub population: Option<f64>,
    /// Its area, km².
    pub area_km2: f64,
    /// Every evaluated required check passed.
    pub pass: bool,
    /// Every check's result, in registry order.
    pub checks: IndexMap<CheckName, CheckResult>,
}

/// Counts over all units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of units.
    pub units: usize,
    /// Units passing every required check.
    pub passing: usize,
    /// Problem geometries by kind.
    pub problems: BTreeMap<ProblemKind, usize>,
    /// Checks not evaluated for any unit, with the reason (the first one met); the JSON has it in English.
    #[serde(serialize_with = "english_reasons")]
    pub not_evaluated: IndexMap<CheckName, Reason>,
}

impl Summary {
    /// Counts over the unit reports and problems of one validation: units, those passing, problems by kind, and the
    /// first reason each check was not evaluated (in registry order). `validate` and the editor both build it here.
    pub(crate) fn of(registry: &Registry, reports: &[UnitReport], problems: &[Problem]) -> Summary {
        let mut by_kind = BTreeMap::new();
        for p in problems {
            *by_kind.entry(p.kind).or_insert(0) += 1;
        }
        let mut not_evaluated = IndexMap::new();
        for c in registry.iter() {
            let first = reports.iter().find_map(|r| match r.checks.get(&c.name()) {
                Some(CheckResult::NotEvaluated(n)) => Some(n.reason.clone()),
                _ => None,
            });
            if let Some(reason) = first {
                not_evaluated.insert(c.name(), reason);
            }
        }
        Summary {
            units: reports.len(),
            passing: reports.iter().filter(|r| r.pass).count(),
            problems: by_kind,
            not_evaluated,
        }
    }
}

fn english_reasons<S: serde::Serializer>(
    m: &IndexMap<CheckName, Reason>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(m.iter().map(|(k, r)| (k, r.text(crate::report::Lang::English))))
}

/// Everything `validate` found: the report JSON is this struct (problem geometries go to their own layer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Validation {
    /// Counts over all units.
    pub summary: Summary,
    /// One report per unit.
    pub units: Vec<UnitReport>,
    /// The thresholds used.
    pub thresholds: Thresholds,
    #[serde(skip)]
    /// Every problem geometry (kept out of the JSON; written as a layer).
    pub problems: Vec<Problem>,
    /// The checks that ran: every output names, orders and formats its columns from these.
    #[serde(skip)]
    pub registry: Registry,
}

impl Validation {
    /// True when every unit passes every evaluated required check.
    pub fn pass(&self) -> bool {
        self.units.iter().all(|u| u.pass)
    }
}

/// The population of each unit: the count it carries, else measured from its source geometry in its own CRS where
/// the source can (grids), else from its working-CRS geometry.
fn unit_populations(units: &[Unit], source: &dyn PopulationSource) -> Result<Vec<f64>> {
    let mut out: Vec<Option<f64>> = units.iter().map(|u| u.population).collect();
    let todo: Vec<usize> = (0..units.len()).filter(|&i| out[i].is_none()).collect();
    if todo.is_empty() {
        return Ok(out.into_iter().map(|p| p.unwrap_or(0.0)).collect());
    }
    // Units of one file share its CRS; measure them from their own geometry when they all have one.
    let sources: Option<Vec<&crate::model::SourceGeometry>> =
        todo.iter().map(|&i| units[i].source.as_ref()).collect();
    let measured = match sources {
        Some(s) if s.windows(2).all(|w| w[0].crs == w[1].crs) && !s.is_empty() => {
            let polygons: Vec<MultiPolygon<f64>> = s.iter().map(|g| g.geometry.clone()).collect();
            match source.population_in(&polygons, &s[0].crs) {
                Some(v) => v?,
                None => source.population(&working(units, &todo))?,
            }
        }
        _ => source.population(&working(units, &todo))?,
    };
    if measured.len() != todo.len() {
        return Err(Error::input(
            "population source",
            format!("returned {} values for {} units", measured.len(), todo.len()),
        ));
    }
    for (&i, v) in todo.iter().zip(measured) {
        out[i] = Some(v);
    }
    Ok(out.into_iter().map(|p| p.unwrap_or(0.0)).collect())
}

fn working(units: &[Unit], which: &[usize]) -> Vec<MultiPolygon<f64>> {
    which.iter().map(|&i| units[i].geometry.clone()).collect()
}

/// Validates `units` against every rule of the standard [`Registry`], with the study area's thresholds and layers.
/// Population checks are "not evaluated" when `population` is None.
pub fn validate(
    area: &StudyArea,
    units: &[Unit],
    population: Option<&dyn PopulationSource>,
) -> Result<Validation> {
    let ctx = crate::progress::timed("feature indexes", || Context::new(area, population));
    validate_with(&ctx, &Registry::standard(), units)
}

thread_local! {
    static RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many validations this thread has run: lets a test hold a verb to validating each candidate once.
pub fn runs_on_this_thread() -> usize {
    RUNS.with(|r| r.get())
}

/// Validates `units` with the checks of `registry` over a [`Context`] built once (and reusable for other unit
/// layers of the same study area: `propose` validates every candidate over one context).
pub fn validate_with(ctx: &Context, registry: &Registry, units: &[Unit]) -> Result<Validation> {
    RUNS.with(|r| r.set(r.get() + 1));
    let timings = Timings::new(registry);
    if units.is_empty() {
        return Err(Error::input("units", "no units to validate"));
    }
    let t = ctx.thresholds;
    if let Some(town) = &ctx.town {
        timings.stage("overlap with the town", || {
            units::check_overlap_town(units, town, |u, problem| {
                Error::input(format!("unit {}", u.id), problem)
            })
        })?;
    }
    let populations = match ctx.population {
        Some(p) => {
            let v = timings.stage("population", || unit_populations(units, p))?;
            if v.len() != units.len() {
                return Err(Error::input(
                    "population source",
                    format!("returned {} values for {} units", v.len(), units.len()),
                ));
            }
            Some(v)
        }
        None => None,
    };
    // Layer-wide checks (partition, community integrity) run once here; per unit they are read back.
    let layers: Vec<Option<check::LayerResult>> = registry
        .iter()
        .map(|c| {
            let started = std::time::Instant::now();
            let layer = c.prepare(units, ctx)?;
            if layer.is_some() {
                crate::progress::timing(c.name().name(), started.elapsed().as_secs_f64());
            }
            Ok(layer)
        })
        .collect::<Result<_>>()?;
    let started = std::time::Instant::now();

    let per_unit: Vec<(IndexMap<CheckName, CheckResult>, Vec<Problem>)> = units
        .par_iter()
        .enumerate()
        .map(|(i, unit)| {
            let subject = check::Subject {
                index: i,
                unit,
                population: populations.as_ref().map(|p| p[i]),
            };
            let mut checks = IndexMap::with_capacity(registry.len());
            let mut problems = Vec::new();
            for (k, (c, layer)) in registry.iter().zip(&layers).enumerate() {
                let e = timings.check(k, || c.evaluate(&subject, ctx, layer.as_ref()))?;
                checks.insert(c.name(), e.result);
                problems.extend(e.problems);
            }
            Ok((checks, problems))
        })
        .collect::<Result<_>>()?;
    timings.per_unit(started);

    // Layer-wide problems first, in check order, then each unit's problems in unit order: the same order at any
    // thread count.
    let mut problems: Vec<Problem> = layers.into_iter().flatten().flat_map(|l| l.problems).collect();
    let mut reports = Vec::with_capacity(units.len());
    for ((unit, (checks, unit_problems)), i) in units.iter().zip(per_unit).zip(0..) {
        problems.extend(unit_problems);
        let pass = checks
            .iter()
            .all(|(name, c)| !registry.required(*name) || c.pass() != Some(false));
        reports.push(UnitReport {
            unit_id: unit.id.clone(),
            population: populations.as_ref().map(|p| p[i]),
            area_km2: unit.geometry.unsigned_area() / 1e6,
            pass,
            checks,
        });
    }

    Ok(Validation {
        summary: Summary::of(registry, &reports, &problems),
        units: reports,
        thresholds: t.clone(),
        problems,
        registry: registry.clone(),
    })
}

/// Where `validate` spends its time, reported through [`crate::progress::timing`] (the library prints nothing):
/// whole stages as they finish, and per-unit checks as thread time summed over units (so with two threads the
/// per-check total is about twice the wall time of the per-unit stage). Measuring costs two clock reads per check.
struct Timings {
    names: Vec<CheckName>,
    nanos: Vec<std::sync::atomic::AtomicU64>,
}

impl Timings {
    fn new(registry: &Registry) -> Self {
        Timings {
            names: registry.iter().map(|c| c.name()).collect(),
            nanos: registry.iter().map(|_| Default::default()).collect(),
        }
    }

    fn stage<T>(&self, name: &str, f: impl FnOnce() -> T) -> T {
        crate::progress::timed(name, f)
    }

    fn check<T>(&self, k: usize, f: impl FnOnce() -> T) -> T {
        let start = std::time::Instant::now();
        let out = f();
        if let Some(n) = self.nanos.get(k) {
            n.fetch_add(
                start.elapsed().as_nanos() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        out
    }

    fn per_unit(&self, started: std::time::Instant) {
        crate::progress::timing("per-unit checks", started.elapsed().as_secs_f64());
        for (name, n) in self.names.iter().zip(&self.nanos) {
            let ns = n.load(std::sync::atomic::Ordering::Relaxed);
            if ns > 0 {
                crate::progress::timing(&format!("  {name} (thread time)"), ns as f64 / 1e9);
            }
        }
    }
}

/// An R-tree item: a bounding box and the index of what it bounds.
pub(crate) type BoxItem = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The R-tree item of a geometry's bounding box, or None for an empty geometry.
pub(crate) fn box_item(rect: Option<Rect<f64>>, index: usize) -> Option<BoxItem> {
    let r = rect?;
    Some(GeomWithData::new(
        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
        index,
    ))
}

/// An R-tree over the bounding boxes of polygons, bulk-loaded.
pub(crate) fn box_tree<'a>(polygons: impl Iterator<Item = &'a MultiPolygon<f64>>) -> rstar::RTree<BoxItem> {
    rstar::RTree::bulk_load(
        polygons
            .enumerate()
            .filter_map(|(i, p)| box_item(p.bounding_rect(), i))
            .collect(),
    )
}

/// The envelope of a rectangle grown by `margin`, for R-tree queries.
pub(crate) fn envelope(rect: Rect<f64>, margin: f64) -> rstar::AABB<[f64; 2]> {
    rstar::AABB::from_corners(
        [rect.min().x - margin, rect.min().y - margin],
        [rect.max().x + margin, rect.max().y + margin],
    )
}

/// The parts of `town` whose bounding boxes meet `rect`: the only ones a polygon inside `rect` can touch, so a
/// Boolean operation with them equals one with the whole town while staying as small as the neighbourhood (a town of
/// many parts — a city with its islands, or tiled copies — no longer makes every per-unit operation city-sized).
pub(crate) fn parts_near(town: &MultiPolygon<f64>, rect: Rect<f64>) -> MultiPolygon<f64> {
    use geo::Intersects;
    MultiPolygon(
        town.0
            .iter()
            .filter(|p| p.bounding_rect().is_some_and(|b| b.intersects(&rect)))
            .cloned()
            .collect(),
    )
}

/// The parts of a polygonal result at least `tolerance` m² in area.
pub(crate) fn significant_parts(mp: MultiPolygon<f64>, tolerance: f64) -> Vec<MultiPolygon<f64>> {
    Noise::new(tolerance, 0.0).significant(mp)
}

/// What the partition check dismisses as digitising noise: a piece under `area_m2`, or one whose mean width
/// (2 · area / perimeter, holes included) is under `width_m` and that holds nothing wider (see [`Noise::counts`]).
/// The area alone cannot tell a sliver 1 cm wide and 12 km long — the rounding of lon/lat written with 7 decimals,
/// or an edge that is straight in one CRS and curved in another — from a real 10 × 12 m gap; the width can.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    /// Pieces under this area (m²) are noise.
    pub area_m2: f64,
    /// Pieces narrower than this on average (m) are noise; 0 turns the width rule off.
    pub width_m: f64,
}

impl Noise {
    /// The tolerances by hand (tests, callers with their own thresholds).
    pub fn new(area_m2: f64, width_m: f64) -> Noise {
        Noise { area_m2, width_m }
    }

    /// The partition tolerances of `t`.
    pub fn of(t: &Thresholds) -> Noise {
        Noise::new(t.partition_tolerance_m2, t.partition_sliver_width_m)
    }

    /// Whether `p` counts (is not noise). A piece narrow on average may still hold a real gap: the slivers along a
    /// town edge join the gap they touch, and a 1 × 200 m gap with 12 km of sliver attached averages 1 cm. So a narrow
    /// piece is opened (eroded and grown back by half the width, which removes every part narrower than the width)
    /// and counts when what is left reaches the area tolerance. Only pieces over the area tolerance and under the
    /// width are opened: a handful on a whole city.
    pub fn counts(&self, p: &geo::Polygon<f64>) -> bool {
        use geo::Buffer;
        let area = p.unsigned_area();
        if area <= 0.0 || area < self.area_m2 {
            return false;
        }
        if self.width_m <= 0.0 || mean_width(p, area) >= self.width_m {
            return true;
        }
        let half = self.width_m / 2.0;
        let core = p.buffer(-half);
        !core.0.is_empty() && core.buffer(half).unsigned_area() >= self.area_m2.max(f64::MIN_POSITIVE)
    }

    /// The parts of a polygonal result that count.
    pub fn significant(&self, mp: MultiPolygon<f64>) -> Vec<MultiPolygon<f64>> {
        mp.0.into_iter()
            .filter(|p| self.counts(p))
            .map(|p| MultiPolygon(vec![p]))
            .collect()
    }
}

/// 2 · area / perimeter: the width of a long strip, half the side of a square.
fn mean_width(p: &geo::Polygon<f64>, area: f64) -> f64 {
    use geo::{Euclidean, Length};
    let perimeter: f64 = std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| Euclidean.length(r))
        .sum();
    if perimeter > 0.0 {
        2.0 * area / perimeter
    } else {
        0.0
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small synthetic study areas for the unit tests of each check.
    use crate::config::Config;
    use crate::crs::Crs;
    use crate::model::{FeatureClass, LineFeature, StudyArea, Town};
    use geo::{LineString, MultiLineString, MultiPolygon, Rect};

    /// An axis-aligned square (or rectangle) as a multipolygon.
    pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()])
    }

    /// A unit.
    pub fn unit(id: &str, geometry: MultiPolygon<f64>) -> super::Unit {
        super::Unit::new(id, geometry)
    }

    /// A line feature.
    pub fn line(id: &str, class: FeatureClass, coords: &[(f64, f64)]) -> LineFeature {
        LineFeature {
            id: id.into(),
            class,
            name: None,
            geometry: MultiLineString(vec![LineString::from(coords.to_vec())]),
            inferred: false,
        }
    }

    /// A study area in UTM 51N with a town and nothing else.
    pub fn area(town: Option<MultiPolygon<f64>>) -> StudyArea {
        StudyArea {
            name: "test".into(),
            config: Config::default(),
            working_crs: Crs::parse("EPSG:32651").unwrap(),
            town: town.map(|geometry| Town {
                id: "t".into(),
                name: "t".into(),
                geometry,
            }),
            blocks: None,
            lines: Vec::new(),
            facilities: Vec::new(),
            overlays: Vec::new(),
            layers: Vec::new(),
            warnings: Vec::new(),
            inputs: Vec::new(),
            blocks_union: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{area, line, rect, unit};
    use super::*;
    use crate::model::{Block, FeatureClass};

    /// A 4 × 2 km town cut into two 2 × 2 km units along a road, with blocks of 12,000 people per km².
    fn two_units() -> (StudyArea, Vec<Unit>, BlockCounts) {
        let mut a = area(Some(rect(0.0, 0.0, 4000.0, 2000.0)));
        a.lines.push(line(
            "mid",
            FeatureClass::Road,
            &[(2000.0, -50.0), (2000.0, 2050.0)],
        ));
        let mut blocks = Vec::new();
        for i in 0..4 {
            for j in 0..2 {
                let (x, y) = (i as f64 * 1000.0, j as f64 * 1000.0);
                blocks.push(Block {
                    id: format!("b{i}{j}"),
                    geometry: rect(x, y, x + 1000.0, y + 1000.0),
                    population: Some(12_000.0),
                    source: None,
                });
            }
        }
        a.blocks = Some(blocks);
        let counts = BlockCounts::from_area(&a).unwrap();
        let units = vec![
            unit("W", rect(0.0, 0.0, 2000.0, 2000.0)),
            unit("E", rect(2000.0, 0.0, 4000.0, 2000.0)),
        ];
        (a, units, counts)
    }

    #[test]
    fn missing_layers_are_not_evaluated_and_do_not_fail() {
        let (a, units, counts) = two_units();
        let v = validate(&a, &units, Some(&counts)).unwrap();
        assert!(v.pass(), "{:#?}", v.units);
        let w = &v.units[0];
        assert_eq!(w.population, Some(48_000.0));
        assert_eq!(w.checks[&CheckName::BoundaryClarity].pass(), Some(true));
        assert_eq!(w.checks[&CheckName::Facilities].pass(), None);
        assert_eq!(w.checks[&CheckName::ServiceCoverage].pass(), None);
        assert!(v.summary.not_evaluated.contains_key(&CheckName::Facilities));
        assert!(v.problems.is_empty());
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["units"][0]["checks"]["facilities"]["evaluated"], false);
        assert_eq!(json["units"][0]["checks"]["min_area"]["threshold"], 2.0);
    }

    #[test]
    fn a_failing_rule_fails_the_unit_and_the_run() {
        let (mut a, units, counts) = two_units();
        a.config.thresholds.min_population = 50_000.0;
        let v = validate(&a, &units, Some(&counts)).unwrap();
        assert!(!v.pass());
        assert_eq!(v.summary.passing, 0);
        assert_eq!(v.units[1].checks[&CheckName::MinPopulation].pass(), Some(false));
    }

    #[test]
    fn output_is_identical_at_one_and_two_threads() {
        let (a, mut units, counts) = two_units();
        // Add an overlap and a spill so that problems exist.
        units[1].geometry = rect(1900.0, 0.0, 4100.0, 2000.0);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| validate(&a, &units, Some(&counts)).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one, two);
        assert!(one.problems.iter().any(|p| p.kind == ProblemKind::Overlap));
        assert!(one.problems.iter().any(|p| p.kind == ProblemKind::Spill));
    }

    #[test]
    fn units_outside_the_town_are_an_error() {
        let (a, _, _) = two_units();
        let e = validate(&a, &[unit("far", rect(1e5, 1e5, 1e5 + 10.0, 1e5 + 10.0))], None).unwrap_err();
        assert!(e.to_string().contains("far"), "{e}");
    }
}
