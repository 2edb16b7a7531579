//! Proposing units: max-p regionalisation of blocks under population, area and service bounds.
//!
//! The problem is max-p (Duque, Anselin & Rey 2012, *The max-p-regions problem*): group contiguous blocks into as
//! many units as possible such that every unit reaches a minimum population **and** a minimum area (and, optionally,
//! contains every required kind of facility); among partitions with the same p prefer compact units (normalised
//! moment of inertia, Σ aᵢ|cᵢ − c|² / (A²/2π)), then balanced populations.
//!
//! Compared with spopt's `MaxPHeuristic` this engine keeps memory O(blocks + adjacencies) (no n×n distance matrix),
//! enforces both bounds together, and solves each connected component on its own: a component that cannot reach the
//! bounds (an island too small) is reported with a reason and its blocks left unassigned instead of failing the run
//! — or, with [`Settings::exclaves`] = [`Exclaves::Merge`], merged into the unit with the nearest centroid.
//!
//! [`solve`] runs `starts` randomised constructions in parallel (rayon), improves the best of them (increase-p by
//! regrowing neighbourhoods, then compactness by simulated annealing; see `maxp`) and returns the `candidates` best
//! distinct partitions. Each start draws from its own ChaCha stream derived from `(seed, component, start)` and
//! results are reduced in start order, so the output is identical whatever the number of threads.

mod fixed;
mod graph;
pub(crate) mod maxp;
pub mod pipeline;

use std::cmp::Ordering;
use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{Error, Result};
use graph::{Acc, Bounds, Graph};
use maxp::{grow, improve, Growth, Layout, Scratch};

pub use crate::config::Exclaves;
pub use fixed::solve_locked;

/// A max-p instance: per-block attributes, the adjacency graph and the bounds every unit must meet.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Population per block (≥ 0).
    pub population: &'a [f64],
    /// Area per block, m² (≥ 0).
    pub area: &'a [f64],
    /// Centroid per block, projected metres.
    pub centroid: &'a [[f64; 2]],
    /// Neighbour lists (barriers already removed by the caller). Made symmetric here; self-loops are ignored.
    pub adjacency: &'a [Vec<usize>],
    /// Minimum population of a unit.
    pub min_population: f64,
    /// Minimum area of a unit, m²; 0 for no area bound.
    pub min_area: f64,
    /// Optional per-block bitmask of facility types present, and the mask every unit must cover.
    pub services: Option<(&'a [u32], u32)>,
}

/// How hard to search. The defaults suit a town of a few thousand blocks in well under a second.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Seed of every random choice; the same seed gives the same partitions.
    pub seed: u64,
    /// Number of randomised constructions (multi-start); at least 1 is run.
    pub starts: usize,
    /// Rounds of local improvement (increase p, then compactness) per improved start; 0 keeps the constructions.
    pub improve_iterations: usize,
    /// Number of best distinct partitions to return; at least 1.
    pub candidates: usize,
    /// What becomes of a component that cannot form a unit: its blocks left unassigned, or merged into the unit
    /// with the nearest centroid (even if not adjacent).
    pub exclaves: Exclaves,
}

/// The defaults of `bmu.toml`'s `[propose]`: one source for the library and every command.
impl Default for Settings {
    fn default() -> Self {
        Settings::from(&crate::config::ProposeConfig::default())
    }
}

impl From<&crate::config::ProposeConfig> for Settings {
    fn from(p: &crate::config::ProposeConfig) -> Self {
        Settings {
            seed: p.seed,
            starts: p.starts,
            improve_iterations: p.improve_iterations,
            candidates: p.candidates,
            // `merge_infeasible` is folded into `exclaves` at load; a config built in code may still hold it.
            exclaves: match p.merge_infeasible {
                Some(true) => Exclaves::Merge,
                _ => p.exclaves,
            },
        }
    }
}

/// The quality of a partition, ranked by [`Score::rank`]: more units first, then more compact, then more balanced.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Score {
    /// Number of units (higher is better).
    pub p: usize,
    /// Sum over units of the normalised moment of inertia (lower is better; a disc scores 1).
    pub compactness: f64,
    /// Coefficient of variation of unit populations (lower is better; 0 when p ≤ 1).
    pub balance: f64,
}

impl Score {
    /// Total order for ranking: `Less` means `self` is the better partition.
    pub fn rank(&self, other: &Score) -> Ordering {
        other
            .p
            .cmp(&self.p)
            .then(self.compactness.total_cmp(&other.compactness))
            .then(self.balance.total_cmp(&other.balance))
    }
}

/// One partition of the blocks into units.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Unit of each block, numbered `0..p` in order of each unit's first block; `None` for blocks of infeasible
    /// components.
    pub labels: Vec<Option<u32>>,
    /// Number of units.
    pub p: usize,
    /// How it ranks.
    pub score: Score,
}

/// What happened to one connected component of the adjacency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentReport {
    /// Its blocks, ascending.
    pub blocks: Vec<usize>,
    /// Its population.
    pub population: f64,
    /// Its area, m².
    pub area: f64,
    /// Whether its totals can meet every bound; if not its blocks are left unassigned.
    pub feasible: bool,
    /// Units in the best candidate.
    pub units: usize,
    /// Why it is infeasible.
    pub reason: Option<String>,
    /// With [`Exclaves::Merge`], the unit (label in the best candidate) its blocks were merged into.
    pub merged_into: Option<u32>,
}

/// The result of [`solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Distinct partitions, best first (at most `Settings::candidates`).
    pub candidates: Vec<Partition>,
    /// One report per connected component, in order of their first block.
    pub components: Vec<ComponentReport>,
}

/// Solves max-p for `problem`. Errors only on malformed input (mismatched lengths, neighbour index out of range,
/// negative or non-finite values); a component that cannot meet the bounds is reported, not an error.
///
/// ```
/// use bmu::propose::{solve, Problem, Settings};
/// // Four blocks in a row, population 1 each, units of at least 2 people: two units.
/// let adjacency = vec![vec![1], vec![0, 2], vec![1, 3], vec![2]];
/// let centroid = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
/// let problem = Problem {
///     population: &[1.0; 4], area: &[1.0; 4], centroid: &centroid, adjacency: &adjacency,
///     min_population: 2.0, min_area: 0.0, services: None,
/// };
/// let solution = solve(&problem, &Settings::default()).unwrap();
/// assert_eq!(solution.candidates[0].p, 2);
/// ```
pub fn solve(problem: &Problem, settings: &Settings) -> Result<Solution> {
    solve_from(problem, settings, None)
}

/// [`solve`] with an initial plan (a unit index per block, `None` for blocks in no unit) as one more start: its units
/// that are contiguous and meet every bound are kept and the blocks around them regrown, so the best candidate has
/// at least as many units as the plan had meeting the bounds.
pub fn solve_from(
    problem: &Problem,
    settings: &Settings,
    initial: Option<&[Option<u32>]>,
) -> Result<Solution> {
    let prepared = Prepared::new(problem)?;
    if initial.is_some_and(|i| i.len() != problem.population.len()) {
        return Err(Error::input(
            "max-p problem",
            "the initial plan does not cover every block",
        ));
    }
    let starts = settings.starts.max(1);
    let keep = settings.candidates.max(1);
    let mut per_component = Vec::with_capacity(prepared.components.len());
    for (index, component) in prepared.components.iter().enumerate() {
        let ranked = match &component.graph {
            Some(graph) => {
                let seed = initial.and_then(|plan| {
                    let local: Vec<Option<u32>> = component.blocks.iter().map(|&b| plan[b]).collect();
                    let mut rng = stream(settings.seed, index as u64, starts, 2);
                    fixed::seeded(graph, &prepared.bounds, &local, &mut rng)
                });
                solve_component(
                    graph,
                    &prepared.bounds,
                    settings,
                    index as u64,
                    starts,
                    keep,
                    seed,
                )
            }
            None => Vec::new(),
        };
        per_component.push(ranked);
    }
    let merge = settings.exclaves == Exclaves::Merge;
    Ok(prepared.assemble(problem, per_component, keep, merge))
}

/// The classic single-start greedy max-p (random seeds, growth towards the centroid, enclave assignment, no
/// improvement): the baseline [`solve`] never falls below, since its first start is this construction.
pub fn greedy_baseline(problem: &Problem, seed: u64) -> Result<Partition> {
    let prepared = Prepared::new(problem)?;
    let per_component = prepared
        .components
        .iter()
        .enumerate()
        .map(|(index, component)| match &component.graph {
            Some(graph) => construct(graph, &prepared.bounds, seed, index as u64, 0)
                .map(|(labels, _)| vec![labels])
                .unwrap_or_default(),
            None => Vec::new(),
        })
        .collect();
    let solution = prepared.assemble(problem, per_component, 1, false);
    solution
        .candidates
        .into_iter()
        .next()
        .ok_or_else(|| Error::input("max-p baseline", "no partition"))
}

/// A connected component, with its working graph when it is feasible.
struct Component {
    blocks: Vec<usize>,
    population: f64,
    area: f64,
    graph: Option<Graph>,
    reason: Option<String>,
}

struct Prepared {
    bounds: Bounds,
    components: Vec<Component>,
}

impl Prepared {
    fn new(problem: &Problem) -> Result<Self> {
        let n = problem.population.len();
        let context = "max-p problem";
        let lengths = [
            ("area", problem.area.len()),
            ("centroid", problem.centroid.len()),
            ("adjacency", problem.adjacency.len()),
            ("services", problem.services.map_or(n, |(s, _)| s.len())),
        ];
        for (name, len) in lengths {
            if len != n {
                return Err(Error::input(
                    context,
                    format!("{name} has {len} entries for {n} blocks"),
                ));
            }
        }
        for b in 0..n {
            let (pop, area, [x, y]) = (problem.population[b], problem.area[b], problem.centroid[b]);
            if !(pop.is_finite()
                && pop >= 0.0
                && area.is_finite()
                && area >= 0.0
                && x.is_finite()
                && y.is_finite())
            {
                return Err(Error::input(
                    context,
                    format!("block {b}: population, area and centroid must be finite and non-negative"),
                ));
            }
            if let Some(&v) = problem.adjacency[b].iter().find(|&&v| v >= n) {
                return Err(Error::input(
                    context,
                    format!("block {b}: neighbour {v} out of range"),
                ));
            }
        }
        for (name, value) in [
            ("min_population", problem.min_population),
            ("min_area", problem.min_area),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::input(
                    context,
                    format!("{name} must be finite and non-negative"),
                ));
            }
        }
        let bounds = Bounds {
            min_population: problem.min_population,
            min_area: problem.min_area,
            required: problem.services.map_or(0, |(_, mask)| mask),
        };
        // Symmetric neighbour lists without self-loops or duplicates.
        let mut neighbours: Vec<Vec<usize>> = problem.adjacency.to_vec();
        for (b, list) in problem.adjacency.iter().enumerate() {
            for &v in list {
                neighbours[v].push(b);
            }
        }
        for (b, list) in neighbours.iter_mut().enumerate() {
            list.retain(|&v| v != b);
            list.sort_unstable();
            list.dedup();
        }
        let mut local = vec![u32::MAX; n];
        let mut components = Vec::new();
        for root in 0..n {
            if local[root] != u32::MAX {
                continue;
            }
            let mut blocks = vec![root];
            local[root] = 0;
            let mut i = 0;
            while i < blocks.len() {
                for &v in &neighbours[blocks[i]] {
                    if local[v] == u32::MAX {
                        local[v] = 0;
                        blocks.push(v);
                    }
                }
                i += 1;
            }
            blocks.sort_unstable();
            for (i, &b) in blocks.iter().enumerate() {
                local[b] = i as u32;
            }
            components.push(Self::component(problem, &bounds, &neighbours, &local, blocks));
        }
        Ok(Prepared { bounds, components })
    }

    fn component(
        problem: &Problem,
        bounds: &Bounds,
        neighbours: &[Vec<usize>],
        local: &[u32],
        blocks: Vec<usize>,
    ) -> Component {
        let population: f64 = blocks.iter().map(|&b| problem.population[b]).sum();
        let area: f64 = blocks.iter().map(|&b| problem.area[b]).sum();
        let services = problem
            .services
            .map(|(s, _)| blocks.iter().fold(0u32, |acc, &b| acc | s[b]))
            .unwrap_or(0);
        let mut reasons = Vec::new();
        if population < bounds.min_population {
            reasons.push(format!(
                "population {population:.0} is below the minimum {:.0}",
                bounds.min_population
            ));
        }
        if area < bounds.min_area {
            // km² with two decimals, as every area a reader sees; rounded down, so that 1.999 km² never reads as
            // the 2.00 km² it falls short of.
            reasons.push(format!(
                "area {:.2} km² is below the minimum {:.2} km²",
                (area / 1e4).floor() / 100.0,
                bounds.min_area / 1e6
            ));
        }
        let missing = bounds.required & !services;
        if missing != 0 {
            reasons.push(format!("lacks required facility types (bitmask {missing:#x})"));
        }
        let graph = reasons.is_empty().then(|| {
            let list: Vec<Vec<u32>> = blocks
                .iter()
                .map(|&b| neighbours[b].iter().map(|&v| local[v]).collect())
                .collect();
            let centroid: Vec<[f64; 2]> = blocks.iter().map(|&b| problem.centroid[b]).collect();
            Graph::new(
                blocks.iter().map(|&b| problem.population[b]).collect(),
                blocks.iter().map(|&b| problem.area[b]).collect(),
                &centroid,
                problem
                    .services
                    .map(|(s, _)| blocks.iter().map(|&b| s[b]).collect())
                    .unwrap_or_default(),
                &list,
            )
        });
        Component {
            blocks,
            population,
            area,
            graph,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }

    /// Combines per-component ranked partitions into whole-map candidates: the best of every component, then
    /// variants that swap one component's partition for its next best, ranked by score. With `merge`, every
    /// component left without a partition joins the unit of that candidate whose centroid is nearest its own.
    fn assemble(
        &self,
        problem: &Problem,
        per_component: Vec<Vec<Vec<u32>>>,
        keep: usize,
        merge: bool,
    ) -> Solution {
        let n = problem.population.len();
        let build = |choice: &[usize]| {
            let mut labels = vec![None; n];
            let mut offset = 0u32;
            for ((component, ranked), &pick) in self.components.iter().zip(&per_component).zip(choice) {
                if let Some(local) = ranked.get(pick) {
                    for (&b, &l) in component.blocks.iter().zip(local) {
                        labels[b] = Some(offset + l);
                    }
                    offset += local.iter().map(|&l| l + 1).max().unwrap_or(0);
                }
            }
            if merge {
                let units = Centroids::of(problem, &labels, offset as usize);
                for (component, ranked) in self.components.iter().zip(&per_component) {
                    if ranked.is_empty() {
                        if let Some(unit) = units.nearest(centroid_of(problem, &component.blocks)) {
                            for &b in &component.blocks {
                                labels[b] = Some(unit);
                            }
                        }
                    }
                }
            }
            partition(problem, labels)
        };
        let best = vec![0; per_component.len()];
        let mut candidates = vec![build(&best)];
        for (c, ranked) in per_component.iter().enumerate() {
            for pick in 1..ranked.len().min(keep) {
                let mut choice = best.clone();
                choice[c] = pick;
                candidates.push(build(&choice));
            }
        }
        // Stable sort: ties keep the order above (component, then rank within it).
        candidates.sort_by(|a, b| a.score.rank(&b.score));
        candidates.truncate(keep);
        let components = self
            .components
            .iter()
            .zip(&per_component)
            .map(|(component, ranked)| ComponentReport {
                blocks: component.blocks.clone(),
                population: component.population,
                area: component.area,
                feasible: component.graph.is_some(),
                units: ranked
                    .first()
                    .map_or(0, |l| l.iter().map(|&x| x as usize + 1).max().unwrap_or(0)),
                reason: component.reason.clone().or_else(|| {
                    ranked
                        .is_empty()
                        .then(|| "no partition meeting every bound was found".to_string())
                }),
                merged_into: if ranked.is_empty() {
                    component
                        .blocks
                        .first()
                        .and_then(|&b| candidates.first().and_then(|c| c.labels[b]))
                } else {
                    None
                },
            })
            .collect();
        Solution {
            candidates,
            components,
        }
    }
}

/// Area-weighted centroid of some blocks (the mean of their centroids when they have no area).
fn centroid_of(problem: &Problem, blocks: &[usize]) -> [f64; 2] {
    let mut s = [0.0f64; 5]; // area, Σa·x, Σa·y, Σx, Σy
    for &b in blocks {
        let (a, [x, y]) = (problem.area[b], problem.centroid[b]);
        s = [s[0] + a, s[1] + a * x, s[2] + a * y, s[3] + x, s[4] + y];
    }
    if s[0] > 0.0 {
        [s[1] / s[0], s[2] / s[0]]
    } else {
        let k = blocks.len().max(1) as f64;
        [s[3] / k, s[4] / k]
    }
}

/// Centroids of the units of a labelling, for merging infeasible components.
struct Centroids(Vec<Option<[f64; 2]>>);

impl Centroids {
    fn of(problem: &Problem, labels: &[Option<u32>], p: usize) -> Self {
        let mut members = vec![Vec::new(); p];
        for (b, l) in labels.iter().enumerate() {
            if let Some(l) = l {
                members[*l as usize].push(b);
            }
        }
        Centroids(
            members
                .iter()
                .map(|m| (!m.is_empty()).then(|| centroid_of(problem, m)))
                .collect(),
        )
    }

    /// The unit whose centroid is nearest `at` (lowest label among ties); None when there is no unit.
    fn nearest(&self, at: [f64; 2]) -> Option<u32> {
        let mut best: Option<(f64, u32)> = None;
        for (u, c) in self.0.iter().enumerate() {
            if let Some([x, y]) = c {
                let d = (x - at[0]).powi(2) + (y - at[1]).powi(2);
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, u as u32));
                }
            }
        }
        best.map(|(_, u)| u)
    }
}

/// Numbers units by first block, and scores exactly (two-pass centroids, so no cancellation in projected metres).
fn partition(problem: &Problem, mut labels: Vec<Option<u32>>) -> Partition {
    let mut renumber: Vec<u32> = Vec::new();
    let mut next = 0u32;
    for label in labels.iter_mut().flatten() {
        let l = *label as usize;
        if renumber.len() <= l {
            renumber.resize(l + 1, u32::MAX);
        }
        if renumber[l] == u32::MAX {
            renumber[l] = next;
            next += 1;
        }
        *label = renumber[l];
    }
    let p = next as usize;
    let mut sums = vec![[0.0f64; 4]; p]; // population, area, Σa·x, Σa·y
    for (b, label) in labels.iter().enumerate() {
        if let Some(u) = label {
            let (a, [x, y]) = (problem.area[b], problem.centroid[b]);
            let s = &mut sums[*u as usize];
            s[0] += problem.population[b];
            s[1] += a;
            s[2] += a * x;
            s[3] += a * y;
        }
    }
    let mut moment = vec![0.0f64; p];
    for (b, label) in labels.iter().enumerate() {
        if let Some(u) = label {
            let s = &sums[*u as usize];
            if s[1] > 0.0 {
                let (a, [x, y]) = (problem.area[b], problem.centroid[b]);
                let (dx, dy) = (x - s[2] / s[1], y - s[3] / s[1]);
                moment[*u as usize] += a * (dx * dx + dy * dy);
            }
        }
    }
    let compactness = moment
        .iter()
        .zip(&sums)
        .map(|(m, s)| {
            if s[1] > 0.0 {
                m * std::f64::consts::TAU / (s[1] * s[1])
            } else {
                0.0
            }
        })
        .sum();
    let balance = if p > 1 {
        let mean = sums.iter().map(|s| s[0]).sum::<f64>() / p as f64;
        let variance = sums.iter().map(|s| (s[0] - mean).powi(2)).sum::<f64>() / p as f64;
        if mean > 0.0 {
            variance.sqrt() / mean
        } else {
            0.0
        }
    } else {
        0.0
    };
    Partition {
        labels,
        p,
        score: Score {
            p,
            compactness,
            balance,
        },
    }
}

/// The random stream of one start in one phase: ChaCha8 keyed by the seed, one stream per (component, start, phase).
fn stream(seed: u64, component: u64, start: usize, phase: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ component.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(((start as u64) << 2) | phase);
    rng
}

/// One construction of a component: local labels and the sum of the units' compactness.
fn construct(
    graph: &Graph,
    bounds: &Bounds,
    seed: u64,
    component: u64,
    start: usize,
) -> Option<(Vec<u32>, f64)> {
    let mut rng = stream(seed, component, start, 0);
    let growth = Growth::for_start(start, &mut rng);
    let all: Vec<u32> = (0..graph.len() as u32).collect();
    let mut scratch = Scratch::new(graph.len());
    let units = grow(graph, bounds, &all, &mut scratch, &mut rng, growth)?;
    let compactness = units.iter().map(Acc::inertia).sum();
    Some((all.iter().map(|&b| scratch.unit(b)).collect(), compactness))
}

/// Ranked distinct partitions (local labels) of one feasible component.
fn solve_component(
    graph: &Graph,
    bounds: &Bounds,
    settings: &Settings,
    component: u64,
    starts: usize,
    keep: usize,
    seeded: Option<Vec<u32>>,
) -> Vec<Vec<u32>> {
    let p_of = |labels: &[u32]| labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut built: Vec<(usize, usize, f64, Vec<u32>)> = (0..starts)
        .into_par_iter()
        .filter_map(|start| {
            construct(graph, bounds, settings.seed, component, start)
                .map(|(labels, compactness)| (start, p_of(&labels), compactness, labels))
        })
        .collect();
    built.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0)));
    // Improving is the expensive part: only the most promising constructions get it.
    built.truncate(keep.max(starts.div_ceil(8)));
    // The seeded start is improved whatever its rank, after the random ones (its start number is `starts`).
    if let Some(labels) = seeded {
        built.push((starts, p_of(&labels), 0.0, labels));
    }
    let mut improved: Vec<(usize, usize, f64, Vec<u32>)> = built
        .into_par_iter()
        .map(|(start, _, _, labels)| {
            let mut rng = stream(settings.seed, component, start, 1);
            let mut layout = Layout::new(graph, bounds, labels);
            let mut scratch = Scratch::new(graph.len());
            improve(
                graph,
                bounds,
                &mut layout,
                &mut scratch,
                &mut rng,
                settings.improve_iterations,
            );
            let (p, compactness) = (layout.p(), layout.compactness());
            (start, p, compactness, canonical(layout.labels))
        })
        .collect();
    improved.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0)));
    let mut seen = HashSet::new();
    improved
        .into_iter()
        .filter_map(|(_, _, _, labels)| seen.insert(labels.clone()).then_some(labels))
        .take(keep)
        .collect()
}

/// Renumbers units in order of first block, so equal partitions compare equal.
fn canonical(mut labels: Vec<u32>) -> Vec<u32> {
    let mut renumber = vec![u32::MAX; labels.len()];
    let mut next = 0;
    for l in labels.iter_mut() {
        let r = &mut renumber[*l as usize];
        if *r == u32::MAX {
            *r = next;
            next += 1;
        }
        *l = *r;
    }
    labels
}

#[cfg(test)]
mod tests;
