//! From a study area to proposed units: blocks (given, or derived from the town and its features), their population
//! and facilities, adjacency across everything but barriers, max-p, and dissolved unit polygons.
//!
//! A unit made of blocks follows features by construction — the reason blocks are cut along roads, rivers, canals
//! and railways (沪民区划〔2018〕6号 一(一): 区域边界清晰可辨).

use super::{greedy_baseline, solve_locked, Partition, Problem, Settings, Solution};
use crate::blocks::{
    adjacency, clean_lines, derive_blocks, dissolve, node_shared_vertices, Adjacency, CleanSettings,
};
use crate::model::StudyArea;
use crate::{Error, Result};
use geo::{Area, BoundingRect, Centroid, Contains, LineString, MultiPolygon};
use rayon::prelude::*;

/// Population of each polygon (working CRS): exact cell fractions for grids, areal weighting for counts.
pub type PopulationFn<'a> =
    dyn Fn(&[MultiPolygon<f64>], Option<&SourcePolygons>) -> Result<Vec<f64>> + Sync + 'a;

/// Given blocks as their file holds them (polygons and the file's CRS), for sources that measure in their own CRS.
pub type SourcePolygons = (Vec<MultiPolygon<f64>>, crate::crs::Crs);

/// The blocks a proposal is built from.
#[derive(Clone, Debug)]
pub struct Blocks {
    /// Each block's id.
    pub ids: Vec<String>,
    /// Each block, in the working CRS.
    pub geometry: Vec<MultiPolygon<f64>>,
    /// Each block's population.
    pub population: Vec<f64>,
    /// Each block's area, m².
    pub area: Vec<f64>,
    /// Facility types present in each block, as a bit mask ([`crate::vocab::FacilityType::bit`]).
    pub services: Vec<u32>,
    /// True when cut from the town by its features rather than given.
    pub derived: bool,
    /// Segments the cleaning step added to close the feature network (derived blocks only).
    pub inferred: Vec<LineString<f64>>,
}

/// A proposal: the blocks, the adjacency, the solver's answer and each candidate's dissolved units.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// The blocks.
    pub blocks: Blocks,
    /// Which blocks touch, and along how long a boundary.
    pub adjacency: Adjacency,
    /// The solver's answer: candidates and components.
    pub solution: Solution,
    /// Per candidate, the units in label order.
    pub units: Vec<Vec<ProposedUnit>>,
    /// Wall time of the max-p solve alone, seconds (reported on the terminal, never in output files, so that
    /// outputs stay byte-identical between runs).
    pub solve_seconds: f64,
    /// p of the single-start greedy construction on the same problem ([`greedy_baseline`]): what the multi-start
    /// search is measured against, reported as `proposal.greedy_baseline_p`.
    pub baseline_p: usize,
    /// Ids of the locked units, in label order (labels `0..locked.len()` of every candidate's unrenumbered plan).
    pub locked: Vec<String>,
}

/// A plan given to propose: a `block_id,unit_id` CSV (read against the blocks, errors naming its rows) or the
/// pairs themselves (from `bmu serve`).
#[derive(Clone, Debug)]
pub enum Plan {
    /// An assignment table.
    Csv(std::path::PathBuf),
    /// `(block_id, unit_id)` pairs; blocks not listed are in no unit.
    Pairs(Vec<(String, String)>),
}

impl Plan {
    /// Each block's unit (None where none), in block order.
    fn resolve(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        match self {
            Plan::Csv(path) => crate::edit::assignment::read(path, ids),
            Plan::Pairs(pairs) => {
                let index: std::collections::HashMap<&str, usize> =
                    ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
                let mut out = vec![None; ids.len()];
                for (block, unit) in pairs {
                    let &b = index
                        .get(block.as_str())
                        .ok_or_else(|| Error::input("plan", format!("no such block: {block}")))?;
                    out[b] = Some(unit.clone());
                }
                Ok(out)
            }
        }
    }
}

/// Plans that constrain a proposal.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    /// Units kept exactly as listed (their blocks neither given away nor joined by others); the rest is proposed.
    pub lock: Option<Plan>,
    /// A plan the search starts from.
    pub initial: Option<Plan>,
}

/// Unit names to label indices: each name numbered in order of its first block.
fn labels_of(units: &[Option<String>]) -> (Vec<Option<u32>>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let labels = units
        .iter()
        .map(|u| {
            u.as_ref().map(|name| {
                *index.entry(name.clone()).or_insert_with(|| {
                    names.push(name.clone());
                    names.len() as u32 - 1
                })
            })
        })
        .collect();
    (labels, names)
}

/// One unit of one candidate partition.
#[derive(Clone, Debug)]
pub struct ProposedUnit {
    /// The unit's id.
    pub id: String,
    /// The dissolved unit, in the working CRS.
    pub geometry: MultiPolygon<f64>,
    /// Indices into [`Blocks`].
    pub members: Vec<usize>,
    /// Its population.
    pub population: f64,
    /// Its area, m².
    pub area: f64,
}

/// The blocks of a study area: given ones as they are, else derived from the town and its recognisable features.
pub fn prepare_blocks(area: &StudyArea, population: Option<&PopulationFn>) -> Result<Blocks> {
    let p = &area.config.propose;
    let (ids, geometry, counts, derived, inferred) = match &area.blocks {
        Some(given) => (
            given.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
            given.iter().map(|b| b.geometry.clone()).collect::<Vec<_>>(),
            given.iter().map(|b| b.population).collect::<Option<Vec<f64>>>(),
            false,
            Vec::new(),
        ),
        None => {
            let town = area.town.as_ref().ok_or_else(|| {
                Error::input(
                    "propose",
                    "needs a town boundary (--town) or a blocks layer (--blocks)",
                )
            })?;
            let recognisable = &area.config.thresholds.recognisable_classes;
            let lines: Vec<LineString<f64>> = area
                .lines
                .iter()
                .filter(|l| recognisable.contains(&l.class))
                .flat_map(|l| l.geometry.0.iter().cloned())
                .collect();
            let cleaned = clean_lines(
                &lines,
                &town.geometry,
                &CleanSettings {
                    snap_tolerance_m: p.snap_tolerance_m,
                    max_extension_m: p.max_extension_m,
                },
            );
            let polygons = derive_blocks(&town.geometry, &cleaned.network(), p.min_block_area_m2)?;
            (
                (1..=polygons.len()).map(|i| format!("B{i:03}")).collect(),
                polygons
                    .into_iter()
                    .map(|poly| MultiPolygon(vec![poly]))
                    .collect(),
                None,
                true,
                cleaned.inferred,
            )
        }
    };
    let population = match (counts, population) {
        (Some(c), _) => c,
        (None, Some(f)) => {
            // Given blocks are measured from their own geometry in their file's CRS, as `bmu population` would.
            let sources: Option<SourcePolygons> = area.blocks.as_ref().and_then(|given| {
                let s: Option<Vec<&crate::model::SourceGeometry>> =
                    given.iter().map(|b| b.source.as_ref()).collect();
                let s = s?;
                let crs = (*s.first()?.crs).clone();
                Some((s.iter().map(|g| g.geometry.clone()).collect(), crs))
            });
            f(&geometry, sources.as_ref())?
        }
        (None, None) => {
            return Err(Error::input(
                "propose",
                "no population: give a grid (--population) or block counts (--population-field)",
            ))
        }
    };
    let area_m2: Vec<f64> = geometry.iter().map(|g| g.unsigned_area()).collect();
    let mut services = vec![0u32; geometry.len()];
    let boxes: Vec<_> = geometry.iter().map(|g| g.bounding_rect()).collect();
    for f in &area.facilities {
        if let Some(i) = (0..geometry.len())
            .find(|&i| boxes[i].is_some_and(|r| r.contains(&f.location)) && geometry[i].contains(&f.location))
        {
            services[i] |= f.kind.bit();
        }
    }
    Ok(Blocks {
        ids,
        geometry,
        population,
        area: area_m2,
        services,
        derived,
        inferred,
    })
}

/// Runs the whole proposal.
pub fn propose(area: &StudyArea, population: Option<&PopulationFn>) -> Result<Proposal> {
    propose_with(area, population, &Constraints::default())
}

/// Runs the whole proposal around locked units and from an initial plan.
pub fn propose_with(
    area: &StudyArea,
    population: Option<&PopulationFn>,
    constraints: &Constraints,
) -> Result<Proposal> {
    propose_over(area, prepare_blocks(area, population)?, constraints)
}

/// The proposal over blocks already prepared (by [`prepare_blocks`]; `bmu serve` holds them).
pub fn propose_over(area: &StudyArea, blocks: Blocks, constraints: &Constraints) -> Result<Proposal> {
    let (locked, locked_names) = match &constraints.lock {
        Some(plan) => labels_of(&plan.resolve(&blocks.ids)?),
        None => (vec![None; blocks.ids.len()], Vec::new()),
    };
    let initial = match &constraints.initial {
        Some(plan) => Some(labels_of(&plan.resolve(&blocks.ids)?).0),
        None => None,
    };
    let t = &area.config.thresholds;
    let p = &area.config.propose;
    let barrier_classes = &t.barrier_classes;
    let barriers: Vec<LineString<f64>> = if p.barriers_separate {
        area.lines
            .iter()
            .filter(|l| barrier_classes.contains(&l.class))
            .flat_map(|l| l.geometry.0.iter().cloned())
            .collect()
    } else {
        Vec::new()
    };
    let graph = adjacency(
        &blocks.geometry,
        p.min_shared_boundary_m,
        &barriers,
        t.boundary_tolerance_m,
    );
    let centroid: Vec<[f64; 2]> = blocks
        .geometry
        .iter()
        .map(|g| g.centroid().map_or([0.0, 0.0], |c| [c.x(), c.y()]))
        .collect();
    let required: u32 = t.required_facilities.iter().fold(0, |m, f| m | f.bit());
    let problem = Problem {
        population: &blocks.population,
        area: &blocks.area,
        centroid: &centroid,
        adjacency: &graph.neighbours,
        min_population: t.min_population,
        min_area: t.min_area_km2 * 1e6,
        services: p
            .require_facilities
            .then_some((blocks.services.as_slice(), required)),
    };
    let settings = Settings::from(p);
    let started = std::time::Instant::now();
    let solution = solve_locked(&problem, &settings, &locked, initial.as_deref())?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let baseline_p = greedy_baseline(&problem, p.seed)?.p;
    let units = solution
        .candidates
        .iter()
        .map(|c| units_of(&blocks, c, &locked, &locked_names))
        .collect();
    Ok(Proposal {
        blocks,
        adjacency: graph,
        solution,
        units,
        solve_seconds,
        baseline_p,
        locked: locked_names,
    })
}

/// Dissolves the blocks of each unit of a partition (in parallel; order is the label order). A locked unit keeps its
/// id; the others are numbered `U01`, `U02`, … skipping the locked ids.
fn units_of(
    blocks: &Blocks,
    partition: &Partition,
    locked: &[Option<u32>],
    names: &[String],
) -> Vec<ProposedUnit> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); partition.p];
    for (b, label) in partition.labels.iter().enumerate() {
        if let Some(l) = label {
            members[*l as usize].push(b);
        }
    }
    let taken: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut fresh = (1..)
        .map(|i| format!("U{i:02}"))
        .filter(|id| !taken.contains(id.as_str()));
    let ids: Vec<String> = members
        .iter()
        .map(|m| {
            let name = m.first().and_then(|&b| locked.get(b).copied().flatten());
            match name.and_then(|l| names.get(l as usize)) {
                Some(n) => n.clone(),
                None => fresh.next().unwrap_or_default(),
            }
        })
        .collect();
    let mut units: Vec<ProposedUnit> = members
        .into_par_iter()
        .zip(ids)
        .map(|(m, id)| {
            let parts: Vec<&MultiPolygon<f64>> = m.iter().map(|&b| &blocks.geometry[b]).collect();
            ProposedUnit {
                id,
                geometry: dissolve(&parts),
                population: m.iter().map(|&b| blocks.population[b]).sum(),
                area: m.iter().map(|&b| blocks.area[b]).sum(),
                members: m,
            }
        })
        .collect();
    // Every junction a vertex of every unit it lies on, so that the written layer, rounded, still shares its
    // boundaries exactly (and `validate` reading it back can prove the units tile the town without an overlay).
    let mut geometry: Vec<MultiPolygon<f64>> = units
        .iter_mut()
        .map(|u| std::mem::replace(&mut u.geometry, MultiPolygon::new(Vec::new())))
        .collect();
    node_shared_vertices(&mut geometry, NODE_EPS_M);
    for (u, g) in units.iter_mut().zip(geometry) {
        u.geometry = g;
    }
    units
}

/// How close (metres) a vertex must be to another unit's vertex or edge to be shared: well above the overlay's own
/// rounding (micrometres over a town), far below anything drawn.
const NODE_EPS_M: f64 = 1e-4;

/// Output layers and the report of a proposal.
pub mod output {
    use super::Proposal;
    use crate::io::OutFeature;
    use geo::{Geometry, Length};
    use serde_json::json;

    fn round(v: f64, digits: i32) -> f64 {
        let m = 10f64.powi(digits);
        (v * m).round() / m
    }

    /// Every block with the unit it joined in candidate `k` (null when unassigned).
    pub fn block_features(p: &Proposal, k: usize) -> Vec<OutFeature> {
        let labels = p
            .solution
            .candidates
            .get(k)
            .map(|c| c.labels.clone())
            .unwrap_or_default();
        (0..p.blocks.ids.len())
            .map(|b| {
                let unit = labels
                    .get(b)
                    .copied()
                    .flatten()
                    .and_then(|l| p.units.get(k).and_then(|u| u.get(l as usize)))
                    .map(|u| u.id.clone());
                OutFeature {
                    geometry: Some(Geometry::MultiPolygon(p.blocks.geometry[b].clone())),
                    properties: [
                        ("block_id".to_string(), json!(p.blocks.ids[b])),
                        ("unit_id".to_string(), json!(unit)),
                        ("population".to_string(), json!(round(p.blocks.population[b], 1))),
                        ("area_km2".to_string(), json!(round(p.blocks.area[b] / 1e6, 4))),
                        ("derived".to_string(), json!(p.blocks.derived)),
                    ]
                    .into_iter()
                    .collect(),
                }
            })
            .collect()
    }

    /// The lines the cleaning step added, marked inferred.
    pub fn inferred_features(p: &Proposal) -> Vec<OutFeature> {
        p.blocks
            .inferred
            .iter()
            .enumerate()
            .map(|(i, l)| OutFeature {
                geometry: Some(Geometry::LineString(l.clone())),
                properties: [
                    ("id".to_string(), json!(format!("I{:03}", i + 1))),
                    ("inferred".to_string(), json!(true)),
                    ("length_m".to_string(), json!(round(geo::Euclidean.length(l), 1))),
                ]
                .into_iter()
                .collect(),
            })
            .collect()
    }
}
