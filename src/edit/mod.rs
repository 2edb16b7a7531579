//! The plan editor's engine: a plan is the study area's blocks, each assigned to a unit (or to none), with locked
//! units and an undo/redo history. [`Plan::apply`] moves blocks and re-checks only the units it changed, through the
//! same [`Registry`] and [`Context`] as `bmu validate` (the context is built once per session); layer-wide checks
//! (partition, community integrity) are prepared again over the whole layer, because a gap or an overlap a move opens
//! is shared with units it did not touch, but through [`crate::validate::Check::prepare_again`]: each keeps its
//! pieces between moves and measures again only those a changed unit takes part in.
//!
//! The invariant the tests hold: after any sequence of moves, [`Plan::validation`] equals
//! [`crate::validate::validate_with`] run from scratch on [`Plan::units`] — the dissolved plan `bmu validate
//! --assignment` checks. A unit's population is the sum of its blocks', as `propose` counts it, so the editor, the
//! solver and `validate --assignment` never disagree on a unit built at the bound.
//!
//! The engine prints nothing and knows nothing of HTTP: `bmu serve` drives it behind one lock.

pub mod assignment;
pub mod compare;
mod tiling;

use crate::blocks::dissolve;
use crate::model::{FeatureClass, LineFeature, StudyArea};
use crate::population::source::PopulationSource;
use crate::propose::pipeline::{self, Blocks};
use crate::validate::check::{Evaluation, LayerResult, LayerState, Subject};
use crate::validate::{
    CheckName, CheckResult, Context, Problem, Registry, Summary, Unit, UnitReport, Validation,
};
use crate::{Error, Result};
use geo::{Area, MultiLineString, MultiPolygon};
use indexmap::IndexMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// What a plan is edited over: the study area (with the lines block derivation inferred, as `propose` checks it),
/// its population source and its blocks. Built once; every [`Plan`] of the session borrows it.
pub struct Session {
    /// The study area, with inferred lines added.
    pub area: StudyArea,
    /// The population source (None: population checks are not evaluated).
    pub source: Option<Box<dyn PopulationSource>>,
    /// The blocks: the study area's, or derived from its town and features as `propose` derives them.
    pub blocks: Blocks,
    /// The blocks' own gaps, overlaps and spill (m², every piece), measured at the first plan that asks.
    residue: OnceLock<f64>,
}

impl Session {
    /// The blocks of `area` (given, or derived as `propose` derives them) and its population source.
    pub fn open(area: &StudyArea) -> Result<Session> {
        let source = crate::run::population_source(area)?;
        let population = |polys: &[MultiPolygon<f64>], given: Option<&pipeline::SourcePolygons>| match &source
        {
            Some(s) => given
                .and_then(|(g, crs)| s.population_in(g, crs))
                .unwrap_or_else(|| s.population(polys)),
            None => Err(Error::input("blocks", "no population source")),
        };
        let blocks = pipeline::prepare_blocks(
            area,
            source.is_some().then_some(&population as &pipeline::PopulationFn),
        )?;
        Ok(Session {
            area: with_inferred(area, &blocks),
            source,
            blocks,
            residue: OnceLock::new(),
        })
    }

    /// A session over blocks already prepared (by `propose`, whose proposal holds them).
    pub fn with_blocks(
        area: &StudyArea,
        source: Option<Box<dyn PopulationSource>>,
        blocks: Blocks,
    ) -> Session {
        Session {
            area: with_inferred(area, &blocks),
            source,
            blocks,
            residue: OnceLock::new(),
        }
    }

    /// Each block's index, by id.
    pub fn block_index(&self) -> HashMap<String, usize> {
        self.blocks
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect()
    }
}

/// `area` with the segments block derivation inferred added as roads, numbered as `propose` numbers them, so
/// boundary clarity counts them the same way in `propose`, the editor and `validate --assignment`.
fn with_inferred(area: &StudyArea, blocks: &Blocks) -> StudyArea {
    let mut a = area.clone();
    a.lines
        .extend(blocks.inferred.iter().enumerate().map(|(i, l)| LineFeature {
            id: format!("I{:03}", i + 1),
            class: FeatureClass::Road,
            name: None,
            geometry: MultiLineString(vec![l.clone()]),
            inferred: true,
        }));
    a
}

/// One block moved into a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The block.
    pub block_id: String,
    /// The unit it goes to; None (JSON null) leaves it in no unit.
    pub unit_id: Option<String>,
}

/// Why a request to the editor was refused; the plan is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// A move names a block, unit or state the plan does not have.
    #[error("{0}")]
    Refused(String),
    /// A check failed to run (unusable input, not the request's fault).
    #[error(transparent)]
    Check(#[from] Error),
}

/// One unit of the plan: its blocks, whether it is locked, and what the last check found.
#[derive(Clone, Debug)]
struct Slot {
    id: String,
    members: BTreeSet<usize>,
    locked: bool,
    /// The dissolved unit; None while it has no block.
    unit: Option<Unit>,
    /// How far the dissolve moved from the blocks' summed area (m²; see [`tiling`]).
    drift: f64,
    /// Per check, in registry order, its last evaluation (layer-wide checks are read again on every refresh).
    cache: Vec<Cached>,
}

/// One check's result on one unit, with the problems it located there.
type Cached = Option<(CheckResult, Vec<Problem>)>;

/// One step of the history: each block's unit before and after.
#[derive(Clone, Debug)]
struct Step {
    changes: Vec<(usize, Option<usize>, Option<usize>)>,
}

/// What a change did: the units whose results changed (and units now empty), and the new summary.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// The units whose report changed, in plan order.
    pub units: Vec<UnitReport>,
    /// Units that hold no block any more (not validated until they get one).
    pub empty: Vec<String>,
    /// Counts over the whole plan.
    pub summary: Summary,
    /// Blocks in no unit.
    pub unassigned: usize,
}

/// A plan under edit.
pub struct Plan<'s> {
    session: &'s Session,
    ctx: Context<'s>,
    registry: Registry,
    blocks: HashMap<String, usize>,
    ids: HashMap<String, usize>,
    assign: Vec<Option<usize>>,
    slots: Vec<Slot>,
    undo: Vec<Step>,
    redo: Vec<Step>,
    validation: Option<Validation>,
    /// Per check, in registry order, what a layer-wide check keeps between moves to redo only the changed units'
    /// share (see [`crate::validate::Check::prepare_again`]).
    layer_states: Vec<LayerState>,
    /// Each block's area (m²), for the dissolve's drift.
    block_area: Vec<f64>,
    /// Whether the last refresh read the partition check from the blocks rather than the overlay.
    partition_from_blocks: bool,
}

impl<'s> Plan<'s> {
    /// A plan of `session`'s blocks assigned as `assignment` says (block index → unit id); units are created in the
    /// order of their ids.
    pub fn new(session: &'s Session, assignment: &[Option<String>]) -> Result<Plan<'s>> {
        let ctx = Context::new(&session.area, session.source.as_deref());
        let n = session.blocks.ids.len();
        if assignment.len() != n {
            return Err(Error::input(
                "assignment",
                format!("{} entries for {n} blocks", assignment.len()),
            ));
        }
        let unit_ids: BTreeSet<&String> = assignment.iter().flatten().collect();
        let mut slots: Vec<Slot> = unit_ids.iter().map(|id| Slot::new(id)).collect();
        let by_id: HashMap<String, usize> =
            slots.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let mut assign = vec![None; n];
        for (b, u) in assignment.iter().enumerate() {
            if let Some(&k) = u.as_deref().and_then(|u| by_id.get(u)) {
                assign[b] = Some(k);
                slots[k].members.insert(b);
            }
        }
        let ids = slots.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let registry = Registry::standard();
        let mut plan = Plan {
            session,
            ctx,
            layer_states: registry.iter().map(|_| None).collect(),
            registry,
            blocks: session.block_index(),
            ids,
            assign,
            slots,
            undo: Vec::new(),
            redo: Vec::new(),
            validation: None,
            block_area: session
                .blocks
                .geometry
                .iter()
                .map(|g| g.unsigned_area())
                .collect(),
            partition_from_blocks: false,
        };
        let all: BTreeSet<usize> = (0..plan.slots.len()).collect();
        plan.refresh(&all)?;
        Ok(plan)
    }

    /// The session the plan edits.
    pub fn session(&self) -> &'s Session {
        self.session
    }

    /// The current validation (None while no unit holds a block).
    pub fn validation(&self) -> Option<&Validation> {
        self.validation.as_ref()
    }

    /// The dissolved units that hold blocks, in plan order (by id): what `validate` checks.
    pub fn units(&self) -> Vec<Unit> {
        self.order()
            .iter()
            .filter_map(|&k| self.slots[k].unit.clone())
            .collect()
    }

    /// Every unit id (empty units included), with whether it is locked.
    pub fn unit_ids(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self.slots.iter().map(|s| (s.id.clone(), s.locked)).collect();
        v.sort();
        v
    }

    /// Each block's unit id, in block order.
    pub fn assignment(&self) -> Vec<Option<&str>> {
        self.assign
            .iter()
            .map(|a| a.map(|k| self.slots[k].id.as_str()))
            .collect()
    }

    /// The block indices of each unit, by unit id.
    pub fn members(&self) -> BTreeMap<&str, Vec<usize>> {
        self.slots
            .iter()
            .map(|s| (s.id.as_str(), s.members.iter().copied().collect()))
            .collect()
    }

    /// Whether there is a step to undo, and one to redo.
    pub fn history(&self) -> (usize, usize) {
        (self.undo.len(), self.redo.len())
    }

    /// Moves blocks; refused as a whole (nothing changes) when a block or unit is unknown, a block is named twice,
    /// or a move takes a block into or out of a locked unit. A move that changes nothing is not a step.
    pub fn apply(&mut self, moves: &[Move]) -> std::result::Result<Change, EditError> {
        let mut seen = BTreeSet::new();
        let mut changes = Vec::new();
        for m in moves {
            let b = *self
                .blocks
                .get(m.block_id.as_str())
                .ok_or_else(|| EditError::Refused(format!("unknown block {:?}", m.block_id)))?;
            if !seen.insert(b) {
                return Err(EditError::Refused(format!("block {:?} moved twice", m.block_id)));
            }
            let to = match &m.unit_id {
                Some(u) => Some(
                    *self
                        .ids
                        .get(u)
                        .ok_or_else(|| EditError::Refused(format!("unknown unit {u:?}")))?,
                ),
                None => None,
            };
            let from = self.assign[b];
            for k in [from, to].into_iter().flatten() {
                if self.slots[k].locked && from != to {
                    return Err(EditError::Refused(format!(
                        "unit {} is locked: unlock it to move block {}",
                        self.slots[k].id, m.block_id
                    )));
                }
            }
            if from != to {
                changes.push((b, from, to));
            }
        }
        if changes.is_empty() {
            return self.change(&BTreeSet::new(), Vec::new());
        }
        let step = Step { changes };
        let before = self.reports();
        let touched = self.replay(&step, false);
        let change = self.change(&touched, before)?;
        self.undo.push(step);
        self.redo.clear();
        Ok(change)
    }

    /// Undoes the last step; refused when there is none.
    pub fn undo(&mut self) -> std::result::Result<Change, EditError> {
        let step = self
            .undo
            .pop()
            .ok_or_else(|| EditError::Refused("nothing to undo".into()))?;
        let before = self.reports();
        let touched = self.replay(&step, true);
        self.redo.push(step);
        self.change(&touched, before)
    }

    /// Redoes the last undone step; refused when there is none.
    pub fn redo(&mut self) -> std::result::Result<Change, EditError> {
        let step = self
            .redo
            .pop()
            .ok_or_else(|| EditError::Refused("nothing to redo".into()))?;
        let before = self.reports();
        let touched = self.replay(&step, false);
        self.undo.push(step);
        self.change(&touched, before)
    }

    /// Locks or unlocks a unit: a locked unit's blocks stay put (moves, undo across it and re-optimising leave it).
    pub fn lock(&mut self, unit_id: &str, locked: bool) -> std::result::Result<(), EditError> {
        let k = *self
            .ids
            .get(unit_id)
            .ok_or_else(|| EditError::Refused(format!("unknown unit {unit_id:?}")))?;
        self.slots[k].locked = locked;
        Ok(())
    }

    /// Whether a unit is locked.
    pub fn is_locked(&self, unit_id: &str) -> bool {
        self.ids.get(unit_id).is_some_and(|&k| self.slots[k].locked)
    }

    /// A new empty unit with the next free id `U01`, `U02`, …; returns its id.
    pub fn new_unit(&mut self) -> String {
        let id = (1..)
            .map(|i| format!("U{i:02}"))
            .find(|id| !self.ids.contains_key(id))
            .unwrap_or_default();
        self.ids.insert(id.clone(), self.slots.len());
        self.slots.push(Slot::new(&id));
        id
    }

    /// Applies a step forwards, or backwards; returns the slots it touched.
    fn replay(&mut self, step: &Step, backwards: bool) -> BTreeSet<usize> {
        let mut touched = BTreeSet::new();
        for &(b, from, to) in &step.changes {
            let (from, to) = if backwards { (to, from) } else { (from, to) };
            if let Some(k) = from {
                self.slots[k].members.remove(&b);
                touched.insert(k);
            }
            if let Some(k) = to {
                self.slots[k].members.insert(b);
                touched.insert(k);
            }
            self.assign[b] = to;
        }
        touched
    }

    /// The units' reports of the current validation: what a change is compared against (the problems, with their
    /// geometries, are not needed for that, and copying them was a visible share of a move).
    fn reports(&self) -> Vec<UnitReport> {
        self.validation
            .as_ref()
            .map(|v| v.units.clone())
            .unwrap_or_default()
    }

    /// Refreshes the touched slots and reports what changed against `before`.
    fn change(
        &mut self,
        touched: &BTreeSet<usize>,
        before: Vec<UnitReport>,
    ) -> std::result::Result<Change, EditError> {
        if !touched.is_empty() {
            self.refresh(touched)?;
        }
        let old: HashMap<&str, &UnitReport> = before.iter().map(|u| (u.unit_id.as_str(), u)).collect();
        let units = self
            .validation
            .as_ref()
            .map(|v| {
                v.units
                    .iter()
                    .filter(|u| old.get(u.unit_id.as_str()) != Some(u))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let empty = self
            .slots
            .iter()
            .filter(|s| s.members.is_empty())
            .map(|s| s.id.clone())
            .collect();
        Ok(Change {
            units,
            empty,
            summary: self.summary(),
            unassigned: self.assign.iter().filter(|a| a.is_none()).count(),
        })
    }

    /// The summary of the current validation (zeros while no unit holds a block).
    pub fn summary(&self) -> Summary {
        match &self.validation {
            Some(v) => v.summary.clone(),
            None => Summary {
                units: 0,
                passing: 0,
                problems: BTreeMap::new(),
                not_evaluated: IndexMap::new(),
            },
        }
    }

    /// Slots holding blocks, in id order: the order `validate` sees the units in.
    fn order(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.slots.len())
            .filter(|&k| !self.slots[k].members.is_empty())
            .collect();
        v.sort_by(|&a, &b| self.slots[a].id.cmp(&self.slots[b].id));
        v
    }

    /// Dissolves the touched slots, evaluates the per-unit checks on them alone, prepares the layer-wide checks over
    /// the whole layer, and assembles the validation exactly as `validate_with` does.
    fn refresh(&mut self, touched: &BTreeSet<usize>) -> Result<()> {
        let blocks = &self.session.blocks;
        let has_population = self.ctx.population.is_some();
        let block_area = &self.block_area;
        let dissolved: Vec<(usize, Option<(Unit, f64)>)> = touched
            .par_iter()
            .map(|&k| {
                let s = &self.slots[k];
                if s.members.is_empty() {
                    return (k, None);
                }
                let parts: Vec<&MultiPolygon<f64>> = s.members.iter().map(|&b| &blocks.geometry[b]).collect();
                let population = s.members.iter().map(|&b| blocks.population[b]).sum();
                let unit = Unit {
                    population: has_population.then_some(population),
                    ..Unit::new(s.id.clone(), dissolve(&parts))
                };
                let drift = tiling::dissolve_drift(&unit.geometry, s.members.iter().map(|&b| block_area[b]));
                (k, Some((unit, drift)))
            })
            .collect();
        for (k, unit) in dissolved {
            let slot = &mut self.slots[k];
            slot.drift = unit.as_ref().map_or(0.0, |u| u.1);
            slot.unit = unit.map(|u| u.0);
            slot.cache = Vec::new();
        }
        let order = self.order();
        if order.is_empty() {
            self.validation = None;
            return Ok(());
        }
        let units: Vec<Unit> = order.iter().filter_map(|&k| self.slots[k].unit.clone()).collect();
        self.partition_from_blocks = self.partition_from_blocks(&order);
        let from_blocks = self.partition_from_blocks;
        let tolerance = self.ctx.thresholds.partition_tolerance_m2;
        let layers: Vec<Option<LayerResult>> = self
            .registry
            .iter()
            .zip(&mut self.layer_states)
            .map(|(c, state)| {
                if from_blocks && c.name() == CheckName::Partition {
                    // The overlay's cache keeps its last pieces: it compares geometry, so it catches up with
                    // every unit changed meanwhile the next time it runs.
                    return Ok(Some(tiling::clean(units.len(), tolerance)));
                }
                c.prepare_again(&units, &self.ctx, state)
            })
            .collect::<Result<_>>()?;
        let (ctx, slots) = (&self.ctx, &self.slots);
        let checks: Vec<&dyn crate::validate::Check> = self.registry.iter().collect();
        let evaluated: Vec<Vec<Cached>> = order
            .par_iter()
            .zip(&units)
            .enumerate()
            .map(|(i, (&k, unit))| {
                let subject = Subject {
                    index: i,
                    unit,
                    population: unit.population,
                };
                let cache = &slots[k].cache;
                // The checks of a changed unit in parallel too: a move changes two units, so the units alone
                // would keep two threads busy while the rest wait.
                checks
                    .par_iter()
                    .zip(&layers)
                    .enumerate()
                    .map(|(c, (check, layer))| match (layer, cache.get(c)) {
                        // A per-unit check of an unchanged unit reads only that unit: its last result stands.
                        (None, Some(Some(kept))) => Ok(Some(kept.clone())),
                        _ => {
                            let Evaluation { result, problems } =
                                check.evaluate(&subject, ctx, layer.as_ref())?;
                            Ok(Some((result, problems)))
                        }
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        for (&k, e) in order.iter().zip(evaluated) {
            self.slots[k].cache = e;
        }
        self.validation = Some(self.assemble(&order, &units, layers));
        Ok(())
    }

    /// Whether the partition check can be read from the block assignment (see [`tiling`]): every block in a unit,
    /// and the blocks' own residue plus every unit's dissolve drift under the tolerance.
    fn partition_from_blocks(&self, order: &[usize]) -> bool {
        let tolerance = self.ctx.thresholds.partition_tolerance_m2;
        let Some(town) = self.ctx.town.as_ref() else {
            return false;
        };
        if self.assign.iter().any(Option::is_none) {
            return false;
        }
        let drift: f64 = order.iter().map(|&k| self.slots[k].drift).sum();
        if drift >= tolerance {
            return false;
        }
        let blocks = &self.session.blocks;
        let residue = self
            .session
            .residue
            .get_or_init(|| tiling::blocks_residue(&blocks.ids, &blocks.geometry, town));
        residue + drift < tolerance
    }

    /// The validation from the cached evaluations, in `validate_with`'s order: layer-wide problems first, in check
    /// order, then each unit's problems in unit order.
    fn assemble(&self, order: &[usize], units: &[Unit], layers: Vec<Option<LayerResult>>) -> Validation {
        let registry = &self.registry;
        let mut problems: Vec<Problem> = layers.into_iter().flatten().flat_map(|l| l.problems).collect();
        let mut reports = Vec::with_capacity(units.len());
        for (&k, unit) in order.iter().zip(units) {
            let mut checks = IndexMap::with_capacity(registry.len());
            for (check, cached) in registry.iter().zip(&self.slots[k].cache) {
                if let Some((result, unit_problems)) = cached {
                    checks.insert(check.name(), result.clone());
                    problems.extend(unit_problems.iter().cloned());
                }
            }
            let pass = checks
                .iter()
                .all(|(name, c)| !registry.required(*name) || c.pass() != Some(false));
            reports.push(UnitReport {
                unit_id: unit.id.clone(),
                population: self.ctx.population.and(unit.population),
                area_km2: unit.geometry.unsigned_area() / 1e6,
                pass,
                checks,
            });
        }
        Validation {
            summary: Summary::of(registry, &reports, &problems),
            units: reports,
            thresholds: self.ctx.thresholds.clone(),
            problems,
            registry: registry.clone(),
        }
    }
}

impl Slot {
    fn new(id: &str) -> Slot {
        Slot {
            id: id.to_string(),
            members: BTreeSet::new(),
            locked: false,
            unit: None,
            drift: 0.0,
            cache: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
