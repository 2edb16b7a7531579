//! Proposing around a plan: locked units kept exactly as given, and a search seeded from an initial plan.
//!
//! Locking is done by taking the locked blocks out of the problem rather than by teaching every move of the search
//! to respect them: the unlocked blocks (with their adjacency restricted to each other) are an ordinary max-p
//! instance, so the locked units cannot grow, shrink or lend blocks, and the search stays as fast as without locks.
//! An initial plan's units that are contiguous and meet every bound become one more start of the search (the
//! blocks around them regrown), and since improvement never lowers p the best candidate keeps at least as many
//! units meeting the bounds as the plan had.

use super::graph::{Acc, Bounds, Graph};
use super::maxp::{grow, Growth, Scratch};
use super::{partition, solve_from, ComponentReport, Problem, Settings, Solution};
use crate::{Error, Result};

/// Solves `problem` with the blocks of `locked` (a unit index per block, `None` for free blocks) kept in their
/// units, and `initial` (same form, over every block; locked blocks ignored) as a seeded start.
pub fn solve_locked(
    problem: &Problem,
    settings: &Settings,
    locked: &[Option<u32>],
    initial: Option<&[Option<u32>]>,
) -> Result<Solution> {
    let n = problem.population.len();
    if locked.len() != n || initial.is_some_and(|i| i.len() != n) {
        return Err(Error::input("max-p problem", "a plan does not cover every block"));
    }
    let free: Vec<usize> = (0..n).filter(|&b| locked[b].is_none()).collect();
    let mut local = vec![usize::MAX; n];
    for (i, &b) in free.iter().enumerate() {
        local[b] = i;
    }
    let pick = |v: &[f64]| free.iter().map(|&b| v[b]).collect::<Vec<f64>>();
    let (population, area) = (pick(problem.population), pick(problem.area));
    let centroid: Vec<[f64; 2]> = free.iter().map(|&b| problem.centroid[b]).collect();
    let adjacency: Vec<Vec<usize>> = free
        .iter()
        .map(|&b| {
            problem.adjacency[b]
                .iter()
                .filter_map(|&v| local.get(v).copied().filter(|&l| l != usize::MAX))
                .collect()
        })
        .collect();
    let services: Option<(Vec<u32>, u32)> = problem
        .services
        .map(|(s, mask)| (free.iter().map(|&b| s[b]).collect(), mask));
    let sub = Problem {
        population: &population,
        area: &area,
        centroid: &centroid,
        adjacency: &adjacency,
        min_population: problem.min_population,
        min_area: problem.min_area,
        services: services.as_ref().map(|(s, mask)| (s.as_slice(), *mask)),
    };
    let initial_sub: Option<Vec<Option<u32>>> = initial.map(|i| free.iter().map(|&b| i[b]).collect());
    let solution = solve_from(&sub, settings, initial_sub.as_deref())?;
    let k = locked.iter().flatten().map(|&l| l + 1).max().unwrap_or(0);
    let mut candidates: Vec<_> = solution
        .candidates
        .iter()
        .map(|c| {
            let mut labels: Vec<Option<u32>> = locked.to_vec();
            for (&b, l) in free.iter().zip(&c.labels) {
                labels[b] = l.map(|l| l + k);
            }
            partition(problem, labels)
        })
        .collect();
    candidates.sort_by(|a, b| a.score.rank(&b.score));
    let components = solution
        .components
        .into_iter()
        .map(|c| {
            let blocks: Vec<usize> = c.blocks.iter().map(|&b| free[b]).collect();
            let merged_into = c.merged_into.and(
                blocks
                    .first()
                    .and_then(|&b| candidates.first().and_then(|p| p.labels[b])),
            );
            ComponentReport {
                blocks,
                merged_into,
                ..c
            }
        })
        .collect();
    Ok(Solution {
        candidates,
        components,
    })
}

/// The seeded start of one component (local block indices): the plan's units lying inside the component that are
/// contiguous and meet every bound are kept; the rest is regrown piece by piece, a piece that cannot form a unit
/// joining its lowest-numbered neighbouring unit (adding blocks to a unit keeps it contiguous and within bounds).
/// `None` when nothing of the plan is worth keeping and the remainder cannot be grown.
pub(super) fn seeded(
    g: &Graph,
    bounds: &Bounds,
    plan: &[Option<u32>],
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Option<Vec<u32>> {
    let m = g.len();
    let mut by_unit: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (b, l) in plan.iter().enumerate() {
        if let Some(l) = l {
            by_unit.entry(*l).or_default().push(b as u32);
        }
    }
    let mut labels = vec![u32::MAX; m];
    let mut next = 0u32;
    for members in by_unit.values() {
        let mut acc = Acc::default();
        let mut services = 0u32;
        for &b in members {
            acc.add(g, b);
            services |= g.services_of(b);
        }
        if acc.meets(bounds) && bounds.required & !services == 0 && connected(g, members, plan) {
            for &b in members {
                labels[b as usize] = next;
            }
            next += 1;
        }
    }
    let kept = next;
    let mut scratch = Scratch::new(m);
    for root in 0..m as u32 {
        if labels[root as usize] != u32::MAX {
            continue;
        }
        // One connected piece of the blocks not yet in a unit.
        let mut piece = vec![root];
        labels[root as usize] = u32::MAX - 1;
        let mut i = 0;
        while i < piece.len() {
            for &v in g.neighbours(piece[i]) {
                if labels[v as usize] == u32::MAX {
                    labels[v as usize] = u32::MAX - 1;
                    piece.push(v);
                }
            }
            i += 1;
        }
        match grow(g, bounds, &piece, &mut scratch, rng, Growth::CLASSIC) {
            Some(units) => {
                for &b in &piece {
                    labels[b as usize] = next + scratch.unit(b);
                }
                next += units.len() as u32;
            }
            None => {
                let host = piece
                    .iter()
                    .flat_map(|&b| g.neighbours(b))
                    .map(|&v| labels[v as usize])
                    .filter(|&l| l < kept)
                    .min()?;
                for &b in &piece {
                    labels[b as usize] = host;
                }
            }
        }
    }
    (next > 0).then_some(labels)
}

/// Whether `members` (all labelled alike in `plan`) form one contiguous piece.
fn connected(g: &Graph, members: &[u32], plan: &[Option<u32>]) -> bool {
    let Some(&first) = members.first() else {
        return false;
    };
    let unit = plan[first as usize];
    let mut seen = std::collections::HashSet::from([first]);
    let mut stack = vec![first];
    while let Some(b) = stack.pop() {
        for &v in g.neighbours(b) {
            if plan[v as usize] == unit && seen.insert(v) {
                stack.push(v);
            }
        }
    }
    seen.len() == members.len()
}
