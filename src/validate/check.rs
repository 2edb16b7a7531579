//! The [`Check`] trait and the [`Registry`] of checks that `validate`, the dossier, the policy cards, the units
//! layer and the terminal table all read, so that adding a check is one file implementing [`Check`] and one line in
//! [`Registry::standard`] (or, for a study-specific rule, [`Registry::with`] at the call site).
//!
//! Composition follows georust/geo's `Validation` and GerryChain's `constraints/`: a check is a value, its result is
//! data. Evaluation is per unit over a [`Context`] built once per study area (feature indexes, the population
//! source), so the editor or a siting search can re-evaluate one changed unit without rebuilding anything; checks
//! that span units (partition, community integrity) compute a [`LayerResult`] once in [`Check::prepare`] and read it
//! per unit.

use super::{barriers, boundary_clarity, CheckName, CheckResult, Evaluated, PopulationSource, Problem, Unit};
use crate::config::Thresholds;
use crate::model::StudyArea;
use crate::report::Lang;
use crate::Result;
use geo::MultiPolygon;
use std::fmt;
use std::sync::Arc;

/// An input layer a check reads; a check whose layer is absent reports "not evaluated" rather than passing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The town boundary (or the union of the blocks).
    Town,
    /// Roads, waterways, railways.
    Features,
    /// Facility points.
    Facilities,
    /// Overlay facility points.
    Overlays,
    /// Blocks (residential committees, villages, compounds).
    Blocks,
    /// A population source.
    Population,
}

/// The policy document most checks cite.
pub const DOC: &str = "沪民区划〔2018〕6号";

/// Where one check comes from: the policy card the dossier prints, as `shared/policy/RULES.md` maps it — the
/// clause, its words, and where the threshold comes from. Quotations of 沪民区划〔2018〕6号 are verbatim (from
/// `hu-min-quhua-2018-6.txt`); the 2024 draft standard and the service-radius guidance are known from secondary
/// summaries only and are paraphrased, marked as such.
pub struct Basis {
    /// `一(一)`, `一(三)`, …
    pub clause: &'static str,
    /// The clause's words, verbatim when `verbatim`.
    pub text: &'static str,
    /// Whether `text` quotes the document word for word.
    pub verbatim: bool,
    /// English translation of `text`.
    pub translation: &'static str,
    /// The rule as `bmu` checks it, (Chinese, English).
    pub rule: (&'static str, &'static str),
    /// Where the threshold comes from, (Chinese, English).
    pub source: (&'static str, &'static str),
}

/// The unit a check looks at, with what the context measured for it.
pub struct Subject<'a> {
    /// Its position in the layer (the index into a [`LayerResult`]).
    pub index: usize,
    /// The unit.
    pub unit: &'a Unit,
    /// Its population; None without a population source.
    pub population: Option<f64>,
}

/// What one check found on one unit.
pub struct Evaluation {
    /// The result.
    pub result: CheckResult,
    /// Problem geometries located in this unit.
    pub problems: Vec<Problem>,
}

impl From<CheckResult> for Evaluation {
    fn from(result: CheckResult) -> Self {
        Evaluation {
            result,
            problems: Vec::new(),
        }
    }
}

impl From<(CheckResult, Vec<Problem>)> for Evaluation {
    fn from((result, problems): (CheckResult, Vec<Problem>)) -> Self {
        Evaluation { result, problems }
    }
}

/// A layer-wide check's result, computed once by [`Check::prepare`]: one result per unit, and problems that belong
/// to no single unit (gaps) or to several.
pub struct LayerResult {
    /// One per unit, in layer order.
    pub checks: Vec<CheckResult>,
    /// Problems found over the whole layer.
    pub problems: Vec<Problem>,
}

/// What the checks share, built once per study area and reused for every unit and every candidate.
pub struct Context<'a> {
    /// The study area (with any inferred lines added).
    pub area: &'a StudyArea,
    /// Its thresholds.
    pub thresholds: &'a Thresholds,
    /// The town, or the union of its blocks.
    pub town: Option<MultiPolygon<f64>>,
    /// Where population comes from.
    pub population: Option<&'a dyn PopulationSource>,
    pub(crate) recognisable: Option<boundary_clarity::FeatureIndex>,
    pub(crate) barriers: Option<barriers::Barriers>,
    /// The walking network and the facilities' reach along it, built at the first unit that needs it.
    pub(crate) service_areas: std::sync::OnceLock<crate::network::ServiceAreas>,
}

impl<'a> Context<'a> {
    /// Builds the shared indexes of `area`.
    pub fn new(area: &'a StudyArea, population: Option<&'a dyn PopulationSource>) -> Self {
        let has_features = !area.config.features.is_empty() || !area.lines.is_empty();
        Context {
            area,
            thresholds: &area.config.thresholds,
            town: area.town_or_blocks(),
            population,
            recognisable: has_features.then(|| boundary_clarity::FeatureIndex::new(area)),
            barriers: has_features.then(|| barriers::Barriers::new(area)),
            service_areas: std::sync::OnceLock::new(),
        }
    }
}

/// One policy rule: how it is evaluated and how every output names and formats it.
pub trait Check: Send + Sync {
    /// The stable name used as a JSON key, a column prefix and an HTML anchor.
    fn name(&self) -> CheckName;
    /// Whether a unit must pass it; a reported-only check never fails a unit.
    fn required(&self) -> bool {
        true
    }
    /// The layers it reads.
    fn layers(&self) -> &'static [Layer] {
        &[]
    }
    /// The column header in the dossier, (Chinese, English).
    fn label(&self) -> (&'static str, &'static str);
    /// The terminal table's three-letter column; None keeps the check off the table (it still counts).
    fn column(&self) -> Option<&'static str>;
    /// The terminal legend's words for the column, thresholds filled in.
    fn legend(&self, t: &Thresholds) -> String;
    /// The policy card.
    fn basis(&self) -> Basis;
    /// The threshold as the policy card states it.
    fn threshold(&self, t: &Thresholds, lang: Lang) -> String;
    /// The threshold under the dossier's column header: short, since eleven columns share an A4 width.
    fn short_threshold(&self, t: &Thresholds) -> String;
    /// A measured value in the unit of the check.
    fn value_text(&self, e: &Evaluated) -> String;
    /// Work over the whole layer, done once before the per-unit evaluations.
    fn prepare(&self, _units: &[Unit], _ctx: &Context) -> Result<Option<LayerResult>> {
        Ok(None)
    }
    /// [`Check::prepare`] again on a layer where few units changed since the last call with the same `state`:
    /// what the check keeps in `state` lets it redo only their share (the plan editor calls this after each move).
    /// The result must equal [`Check::prepare`]'s; by default it is [`Check::prepare`].
    fn prepare_again(
        &self,
        units: &[Unit],
        ctx: &Context,
        _state: &mut LayerState,
    ) -> Result<Option<LayerResult>> {
        self.prepare(units, ctx)
    }
    /// The check on one unit; `layer` is what [`Check::prepare`] returned.
    fn evaluate(&self, unit: &Subject, ctx: &Context, layer: Option<&LayerResult>) -> Result<Evaluation>;
}

/// What a layer-wide check keeps between calls of [`Check::prepare_again`] (its own cache type; None at first).
pub type LayerState = Option<Box<dyn std::any::Any + Send + Sync>>;

/// The cache of type `T` taken out of `state` (a new one when it holds none, or another check's); put it back after use.
pub fn take_cache<T: Default + Send + Sync + 'static>(state: &mut LayerState) -> Box<T> {
    state
        .take()
        .and_then(|s| s.downcast::<T>().ok())
        .unwrap_or_default()
}

/// The result of a layer-wide check for one unit, or "not evaluated" when `prepare` gave none.
pub fn from_layer(unit: &Subject, layer: Option<&LayerResult>) -> Evaluation {
    layer
        .and_then(|l| l.checks.get(unit.index).cloned())
        .unwrap_or_else(|| CheckResult::not_evaluated(super::Reason::NotPrepared))
        .into()
}

/// The checks a validation runs, in report order.
#[derive(Clone)]
pub struct Registry(Vec<Arc<dyn Check>>);

impl Registry {
    /// Every rule of 沪民区划〔2018〕6号 that geometry can check, in report order.
    pub fn standard() -> Registry {
        use super::*;
        Registry(vec![
            Arc::new(geometry::GeometryCheck),
            Arc::new(partition_check::PartitionCheck),
            Arc::new(min_population::MinPopulationCheck),
            Arc::new(min_area::MinAreaCheck),
            Arc::new(boundary_clarity::BoundaryClarityCheck),
            Arc::new(barriers::BarriersCheck),
            Arc::new(facilities::FacilitiesCheck),
            Arc::new(service_coverage::ServiceCoverageCheck),
            Arc::new(community_integrity::CommunityIntegrityCheck),
            Arc::new(compactness::CompactnessCheck),
            Arc::new(overlays::OverlaysCheck),
        ])
    }

    /// This registry with `check` added at the end.
    pub fn with(mut self, check: impl Check + 'static) -> Registry {
        self.0.push(Arc::new(check));
        self
    }

    /// The checks, in report order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Check> {
        self.0.iter().map(|c| c.as_ref())
    }

    /// The check of that name.
    pub fn get(&self, name: CheckName) -> Option<&dyn Check> {
        self.iter().find(|c| c.name() == name)
    }

    /// Whether the check of that name must pass (unknown names are not required).
    pub fn required(&self, name: CheckName) -> bool {
        self.get(name).is_some_and(|c| c.required())
    }

    /// How many checks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::standard()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|c| c.name())).finish()
    }
}

impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.iter().map(|c| c.name()).eq(other.iter().map(|c| c.name()))
    }
}
