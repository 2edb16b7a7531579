//! Max-p regionalisation of one connected component.
//!
//! Construction follows the greedy region growing of Duque, Anselin & Rey (2012) and pygeoda's `maxp_greedy`: pick a
//! seed, add neighbours until the unit meets every bound, repeat; blocks that can no longer reach the bounds
//! (enclaves) join an adjacent unit at the end. Two refinements raise p: seeds may be taken from the front of
//! already-grown units, preferring blocks with few free neighbours (so growth sweeps the area instead of leaving
//! stranded pockets), and each unit grows by the frontier block nearest its centroid, with a pull towards blocks
//! with few free neighbours (so corners are filled rather than left behind).
//!
//! Improvement alternates two steps:
//! * **increase p** — a large-neighbourhood search: a unit and its neighbouring units are dissolved and regrown,
//!   several times with different seeds, and replaced when the regrowth holds one unit more;
//! * **compactness** — simulated annealing on boundary-block moves that keep the donor unit contiguous (BFS within
//!   the unit) and above every bound.
//!
//! Everything here works on component-local indices and never allocates n×n.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::graph::{Acc, Bounds, Graph};

/// State of a block during construction: free, or unable to reach the bounds; otherwise a unit id.
const FREE: u32 = u32::MAX;
const ENCLAVE: u32 = u32::MAX - 1;

/// How a construction picks seeds and scores frontier blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Growth {
    /// Take seeds next to grown units (few free neighbours first) rather than uniformly at random.
    pub front_seeding: bool,
    /// Weight of "few free neighbours" against squared distance (in mean block areas) to the unit's centroid.
    pub corner_weight: f64,
    /// Amplitude of random noise added to frontier scores (diversifies starts, breaks lattice ties).
    pub noise: f64,
}

impl Growth {
    /// The classic max-p construction: random seeds, nearest-to-centroid growth.
    pub const CLASSIC: Growth = Growth {
        front_seeding: false,
        corner_weight: 0.0,
        noise: 1e-9,
    };

    /// A random mix of the refinements; the first start always uses [`Growth::CLASSIC`].
    pub fn for_start(start: usize, rng: &mut ChaCha8Rng) -> Growth {
        if start == 0 {
            return Growth::CLASSIC;
        }
        Growth {
            front_seeding: start % 4 != 1,
            corner_weight: rng.random_range(0.0..1.5),
            noise: if rng.random_bool(0.5) {
                1e-9
            } else {
                rng.random_range(0.0..0.6)
            },
        }
    }
}

/// Reusable per-thread scratch arrays, all of component size.
pub(crate) struct Scratch {
    member: Vec<u32>,
    member_stamp: u32,
    state: Vec<u32>,
    free_degree: Vec<u32>,
    mark: Vec<u32>,
    mark_stamp: u32,
}

impl Scratch {
    pub fn new(m: usize) -> Self {
        Scratch {
            member: vec![0; m],
            member_stamp: 0,
            state: vec![FREE; m],
            free_degree: vec![0; m],
            mark: vec![0; m],
            mark_stamp: 0,
        }
    }

    fn next_mark(&mut self) -> u32 {
        self.mark_stamp = self.mark_stamp.wrapping_add(1);
        if self.mark_stamp == 0 {
            self.mark.fill(0);
            self.mark_stamp = 1;
        }
        self.mark_stamp
    }

    fn next_member(&mut self) -> u32 {
        self.member_stamp = self.member_stamp.wrapping_add(1);
        if self.member_stamp == 0 {
            self.member.fill(0);
            self.member_stamp = 1;
        }
        self.member_stamp
    }

    /// Unit of `b` after the last [`grow`] (only meaningful for blocks of its subset).
    pub fn unit(&self, b: u32) -> u32 {
        self.state[b as usize]
    }
}

/// Grows units over `subset` (a connected set of blocks). On success every block of the subset has a unit id
/// `0..p` in the scratch (see [`Scratch::unit`]) and the units' sums are returned; `None` when no unit could be
/// formed.
pub(crate) fn grow(
    g: &Graph,
    bounds: &Bounds,
    subset: &[u32],
    scratch: &mut Scratch,
    rng: &mut ChaCha8Rng,
    growth: Growth,
) -> Option<Vec<Acc>> {
    let inside = scratch.next_member();
    for &b in subset {
        scratch.member[b as usize] = inside;
        scratch.state[b as usize] = FREE;
    }
    for &b in subset {
        let free = g
            .neighbours(b)
            .iter()
            .filter(|&&v| scratch.member[v as usize] == inside)
            .count();
        scratch.free_degree[b as usize] = free as u32;
    }
    let mut order = subset.to_vec();
    order.shuffle(rng);
    let mut next_in_order = 0;
    let front_stamp = scratch.next_mark();
    let mut front: Vec<u32> = Vec::new();
    let mut units: Vec<Acc> = Vec::new();
    let mut members: Vec<u32> = Vec::new();
    let mut frontier: Vec<u32> = Vec::new();
    // Frontier membership uses `member` stamps above `inside`, one fresh stamp per unit, so no clearing is needed.
    loop {
        let seed = if growth.front_seeding {
            pick_front_seed(
                scratch,
                &mut front,
                &order,
                &mut next_in_order,
                rng,
                units.is_empty(),
            )
        } else {
            next_free(scratch, &order, &mut next_in_order)
        };
        let Some(seed) = seed else { break };
        let unit = units.len() as u32;
        let mut acc = Acc::default();
        let mut services = 0u32;
        members.clear();
        frontier.clear();
        let in_frontier = scratch.next_mark();
        let mut add = |b: u32,
                       scratch: &mut Scratch,
                       acc: &mut Acc,
                       services: &mut u32,
                       frontier: &mut Vec<u32>,
                       front: &mut Vec<u32>| {
            scratch.state[b as usize] = unit;
            acc.add(g, b);
            *services |= g.services_of(b);
            members.push(b);
            for &v in g.neighbours(b) {
                let vi = v as usize;
                if scratch.member[vi] != inside || scratch.state[vi] != FREE {
                    continue;
                }
                scratch.free_degree[vi] = scratch.free_degree[vi].saturating_sub(1);
                if scratch.mark[vi] != in_frontier {
                    scratch.mark[vi] = in_frontier;
                    frontier.push(v);
                }
                front.push(v);
            }
        };
        add(seed, scratch, &mut acc, &mut services, &mut frontier, &mut front);
        let complete = loop {
            let missing = bounds.required & !services;
            if acc.meets(bounds) && missing == 0 {
                break true;
            }
            if frontier.is_empty() {
                break false;
            }
            let (cx, cy) = acc.centroid().unwrap_or((g.x[seed as usize], g.y[seed as usize]));
            let mut best = 0;
            let mut best_score = f64::INFINITY;
            for (i, &v) in frontier.iter().enumerate() {
                let vi = v as usize;
                let (dx, dy) = (g.x[vi] - cx, g.y[vi] - cy);
                let mut score = (dx * dx + dy * dy) / g.scale
                    + growth.corner_weight * f64::from(scratch.free_degree[vi])
                    + growth.noise * rng.random::<f64>();
                if missing & g.services_of(v) != 0 {
                    score -= 1e12;
                }
                if score < best_score {
                    best_score = score;
                    best = i;
                }
            }
            let b = frontier.swap_remove(best);
            add(b, scratch, &mut acc, &mut services, &mut frontier, &mut front);
        };
        if complete {
            units.push(acc);
        } else {
            // The unit swallowed every free block it could reach and still falls short: they are enclaves.
            for &b in &members {
                scratch.state[b as usize] = ENCLAVE;
            }
        }
    }
    let _ = front_stamp;
    if units.is_empty() {
        return None;
    }
    assign_enclaves(g, subset, scratch, inside, &mut units).then_some(units)
}

fn next_free(scratch: &Scratch, order: &[u32], next: &mut usize) -> Option<u32> {
    while *next < order.len() {
        let b = order[*next];
        *next += 1;
        if scratch.state[b as usize] == FREE {
            return Some(b);
        }
    }
    None
}

/// The free block on the front of grown units with the fewest free neighbours (random among ties); for the first
/// unit, the free block of the subset with the fewest free neighbours (the periphery).
fn pick_front_seed(
    scratch: &Scratch,
    front: &mut Vec<u32>,
    order: &[u32],
    next: &mut usize,
    rng: &mut ChaCha8Rng,
    first: bool,
) -> Option<u32> {
    let pool: &[u32] = if first { order } else { front };
    let mut best = None;
    let mut best_degree = u32::MAX;
    let mut ties = 0u32;
    for &b in pool {
        let bi = b as usize;
        if scratch.state[bi] != FREE {
            continue;
        }
        let d = scratch.free_degree[bi];
        if d < best_degree {
            best_degree = d;
            best = Some(b);
            ties = 1;
        } else if d == best_degree && best != Some(b) {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = Some(b);
            }
        }
    }
    if !first {
        front.retain(|&b| scratch.state[b as usize] == FREE);
    }
    best.or_else(|| next_free(scratch, order, next))
}

/// Gives every enclave of the subset to the adjacent unit with the nearest centroid, in breadth-first order from the
/// units. Returns false if some enclave is not connected to any unit within the subset.
fn assign_enclaves(g: &Graph, subset: &[u32], scratch: &mut Scratch, inside: u32, units: &mut [Acc]) -> bool {
    let mut queue: std::collections::VecDeque<u32> = subset
        .iter()
        .copied()
        .filter(|&b| scratch.state[b as usize] == ENCLAVE)
        .collect();
    let mut stalled = 0;
    while let Some(b) = queue.pop_front() {
        if scratch.state[b as usize] != ENCLAVE {
            continue;
        }
        let mut best: Option<(f64, u32)> = None;
        for &v in g.neighbours(b) {
            let vi = v as usize;
            if scratch.member[vi] != inside || scratch.state[vi] >= ENCLAVE {
                continue;
            }
            let unit = scratch.state[vi];
            let (cx, cy) = units[unit as usize].centroid().unwrap_or((g.x[vi], g.y[vi]));
            let (dx, dy) = (g.x[b as usize] - cx, g.y[b as usize] - cy);
            let d = dx * dx + dy * dy;
            if best.is_none_or(|(bd, bu)| d < bd || (d == bd && unit < bu)) {
                best = Some((d, unit));
            }
        }
        match best {
            Some((_, unit)) => {
                scratch.state[b as usize] = unit;
                units[unit as usize].add(g, b);
                stalled = 0;
            }
            None => {
                // Not yet next to a unit: retry after the others; give up once a full cycle makes no progress.
                stalled += 1;
                if stalled > queue.len() + 1 {
                    return false;
                }
                queue.push_back(b);
            }
        }
    }
    true
}

/// A complete partition of a component, kept consistent under block moves and unit replacement.
pub(crate) struct Layout {
    pub labels: Vec<u32>,
    members: Vec<Vec<u32>>,
    position: Vec<u32>,
    acc: Vec<Acc>,
    /// Per unit, how many member blocks offer each facility type (empty when no mask is required).
    service_counts: Vec<[u32; 32]>,
    visit: Vec<u32>,
    visit_stamp: u32,
    queue: Vec<u32>,
}

impl Layout {
    pub fn new(g: &Graph, bounds: &Bounds, labels: Vec<u32>) -> Self {
        let p = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
        let mut layout = Layout {
            members: vec![Vec::new(); p],
            position: vec![0; labels.len()],
            acc: vec![Acc::default(); p],
            service_counts: if bounds.required != 0 {
                vec![[0; 32]; p]
            } else {
                Vec::new()
            },
            visit: vec![0; labels.len()],
            visit_stamp: 0,
            queue: Vec::new(),
            labels,
        };
        for b in 0..layout.labels.len() as u32 {
            layout.insert(g, b, layout.labels[b as usize]);
        }
        layout
    }

    pub fn p(&self) -> usize {
        self.members.len()
    }

    pub fn compactness(&self) -> f64 {
        self.acc.iter().map(Acc::inertia).sum()
    }

    fn insert(&mut self, g: &Graph, b: u32, unit: u32) {
        let u = unit as usize;
        self.labels[b as usize] = unit;
        self.position[b as usize] = self.members[u].len() as u32;
        self.members[u].push(b);
        self.acc[u].add(g, b);
        if let Some(counts) = self.service_counts.get_mut(u) {
            let s = g.services_of(b);
            for (bit, count) in counts.iter_mut().enumerate() {
                *count += (s >> bit) & 1;
            }
        }
    }

    fn detach(&mut self, g: &Graph, b: u32) {
        let u = self.labels[b as usize] as usize;
        let at = self.position[b as usize] as usize;
        self.members[u].swap_remove(at);
        if let Some(&moved) = self.members[u].get(at) {
            self.position[moved as usize] = at as u32;
        }
        self.acc[u].remove(g, b);
        if let Some(counts) = self.service_counts.get_mut(u) {
            let s = g.services_of(b);
            for (bit, count) in counts.iter_mut().enumerate() {
                *count -= (s >> bit) & 1;
            }
        }
    }

    fn move_block(&mut self, g: &Graph, b: u32, to: u32) {
        self.detach(g, b);
        self.insert(g, b, to);
    }

    /// Whether `b` can leave its unit: the unit stays non-empty, above both bounds, covers the required services,
    /// and stays contiguous (breadth-first search within the unit from one neighbour of `b`, stopping as soon as
    /// all of `b`'s neighbours in the unit are reached).
    fn can_leave(&mut self, g: &Graph, bounds: &Bounds, b: u32) -> bool {
        let u = self.labels[b as usize];
        if self.members[u as usize].len() < 2 || !self.acc[u as usize].without(g, b).meets(bounds) {
            return false;
        }
        if let Some(counts) = self.service_counts.get(u as usize) {
            let lost = g.services_of(b) & bounds.required;
            if (0..32).any(|bit| (lost >> bit) & 1 == 1 && counts[bit] < 2) {
                return false;
            }
        }
        let mut targets = 0usize;
        let mut start = None;
        for &v in g.neighbours(b) {
            if self.labels[v as usize] == u {
                targets += 1;
                start.get_or_insert(v);
            }
        }
        let Some(start) = start else { return false };
        if targets == 1 {
            return true;
        }
        self.visit_stamp = self.visit_stamp.wrapping_add(1);
        if self.visit_stamp == 0 {
            self.visit.fill(0);
            self.visit_stamp = 1;
        }
        let stamp = self.visit_stamp;
        self.visit[b as usize] = stamp;
        self.visit[start as usize] = stamp;
        self.queue.clear();
        self.queue.push(start);
        let mut found = 1;
        while let Some(x) = self.queue.pop() {
            for &v in g.neighbours(x) {
                let vi = v as usize;
                if self.labels[vi] != u || self.visit[vi] == stamp {
                    continue;
                }
                self.visit[vi] = stamp;
                if g.neighbours(b).contains(&v) {
                    found += 1;
                    if found == targets {
                        return true;
                    }
                }
                self.queue.push(v);
            }
        }
        false
    }

    /// Units adjacent to `unit`, and `unit` itself first.
    fn neighbourhood(&self, g: &Graph, unit: u32) -> Vec<u32> {
        let mut units = vec![unit];
        for &b in &self.members[unit as usize] {
            for &v in g.neighbours(b) {
                let l = self.labels[v as usize];
                if !units.contains(&l) {
                    units.push(l);
                }
            }
        }
        units
    }

    /// Replaces `units` by the units the last [`grow`] over `blocks` produced (at least as many).
    fn replace(&mut self, g: &Graph, units: &[u32], blocks: &[u32], scratch: &Scratch, grown: usize) {
        for &u in units {
            self.members[u as usize].clear();
            self.acc[u as usize] = Acc::default();
            if let Some(counts) = self.service_counts.get_mut(u as usize) {
                *counts = [0; 32];
            }
        }
        let mut ids = units.to_vec();
        while ids.len() < grown {
            ids.push(self.members.len() as u32);
            self.members.push(Vec::new());
            self.acc.push(Acc::default());
            if !self.service_counts.is_empty() {
                self.service_counts.push([0; 32]);
            }
        }
        for &b in blocks {
            self.insert(g, b, ids[scratch.unit(b) as usize]);
        }
    }
}

/// Regrowth attempts per neighbourhood in the increase-p step.
const REGROW_TRIES: usize = 6;

/// Local improvement: `rounds` alternations of increase-p and compactness annealing, stopping early when a round
/// changes nothing. Never lowers p; never leaves a unit below a bound or non-contiguous.
pub(crate) fn improve(
    g: &Graph,
    bounds: &Bounds,
    layout: &mut Layout,
    scratch: &mut Scratch,
    rng: &mut ChaCha8Rng,
    rounds: usize,
) {
    for _ in 0..rounds {
        let before = (layout.p(), layout.compactness());
        increase_p(g, bounds, layout, scratch, rng);
        anneal(g, bounds, layout, rng);
        if layout.p() == before.0 && layout.compactness() >= before.1 - 1e-9 * before.1.abs().max(1.0) {
            break;
        }
    }
}

/// Dissolves each unit with its neighbours and regrows them; keeps the regrowth when it holds more units.
fn increase_p(g: &Graph, bounds: &Bounds, layout: &mut Layout, scratch: &mut Scratch, rng: &mut ChaCha8Rng) {
    const MAX_PASSES: usize = 8;
    for _ in 0..MAX_PASSES {
        let mut improved = false;
        let mut order: Vec<u32> = (0..layout.p() as u32).collect();
        order.shuffle(rng);
        for unit in order {
            let units = layout.neighbourhood(g, unit);
            let total = units
                .iter()
                .fold(Acc::default(), |t, &u| t.merged(&layout.acc[u as usize]));
            let wanted = units.len() as f64 + 1.0;
            if total.population < wanted * bounds.min_population || total.area < wanted * bounds.min_area {
                continue;
            }
            let blocks: Vec<u32> = units
                .iter()
                .flat_map(|&u| layout.members[u as usize].iter().copied())
                .collect();
            let mut best: Option<(usize, f64, Vec<u32>)> = None;
            for _ in 0..REGROW_TRIES {
                let growth = Growth {
                    front_seeding: rng.random_bool(0.75),
                    corner_weight: rng.random_range(0.0..1.5),
                    noise: rng.random_range(0.0..0.6),
                };
                let Some(grown) = grow(g, bounds, &blocks, scratch, rng, growth) else {
                    continue;
                };
                if grown.len() <= units.len() {
                    continue;
                }
                let compactness: f64 = grown.iter().map(Acc::inertia).sum();
                let better = best
                    .as_ref()
                    .is_none_or(|(p, c, _)| grown.len() > *p || (grown.len() == *p && compactness < *c));
                if better {
                    let labels = blocks.iter().map(|&b| scratch.unit(b)).collect();
                    best = Some((grown.len(), compactness, labels));
                }
            }
            if let Some((grown, _, labels)) = best {
                for (&b, &l) in blocks.iter().zip(&labels) {
                    scratch.state[b as usize] = l;
                }
                layout.replace(g, &units, &blocks, scratch, grown);
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
}

/// Simulated annealing on single boundary-block moves, minimising the sum of normalised moments of inertia. Keeps
/// the best layout seen (the schedule ends cold, so that is usually the last).
fn anneal(g: &Graph, bounds: &Bounds, layout: &mut Layout, rng: &mut ChaCha8Rng) {
    const MOVES_PER_BLOCK: usize = 12;
    const T_START: f64 = 0.02;
    const T_END: f64 = 1e-5;
    let m = g.len();
    if m < 2 || layout.p() < 2 {
        return;
    }
    let start_labels = layout.labels.clone();
    let start_compactness = layout.compactness();
    let attempts = MOVES_PER_BLOCK * m;
    let cooling = (T_END / T_START).powf(1.0 / attempts as f64);
    let mut temperature = T_START;
    let mut candidates: Vec<u32> = Vec::with_capacity(8);
    for _ in 0..attempts {
        temperature *= cooling;
        let b = rng.random_range(0..m as u32);
        let from = layout.labels[b as usize];
        candidates.clear();
        for &v in g.neighbours(b) {
            let l = layout.labels[v as usize];
            if l != from && !candidates.contains(&l) {
                candidates.push(l);
            }
        }
        if candidates.is_empty() {
            continue;
        }
        let to = candidates[rng.random_range(0..candidates.len())];
        let (a, t) = (&layout.acc[from as usize], &layout.acc[to as usize]);
        let delta = a.without(g, b).inertia() + t.with(g, b).inertia() - a.inertia() - t.inertia();
        if delta > 0.0 && rng.random::<f64>() >= (-delta / temperature).exp() {
            continue;
        }
        if layout.can_leave(g, bounds, b) {
            layout.move_block(g, b, to);
        }
    }
    if layout.compactness() > start_compactness {
        *layout = Layout::new(g, bounds, start_labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn lattice(side: usize, population: f64) -> Graph {
        let m = side * side;
        let mut neighbours = vec![Vec::new(); m];
        let mut centroid = Vec::with_capacity(m);
        for r in 0..side {
            for c in 0..side {
                let i = r * side + c;
                centroid.push([c as f64 * 10.0, r as f64 * 10.0]);
                if c + 1 < side {
                    neighbours[i].push((i + 1) as u32);
                    neighbours[i + 1].push(i as u32);
                }
                if r + 1 < side {
                    neighbours[i].push((i + side) as u32);
                    neighbours[i + side].push(i as u32);
                }
            }
        }
        Graph::new(
            vec![population; m],
            vec![100.0; m],
            &centroid,
            Vec::new(),
            &neighbours,
        )
    }

    #[test]
    fn grow_covers_the_subset_with_units_meeting_the_bounds() {
        let g = lattice(10, 1.0);
        let bounds = Bounds {
            min_population: 5.0,
            min_area: 0.0,
            required: 0,
        };
        let all: Vec<u32> = (0..100).collect();
        let mut scratch = Scratch::new(100);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let units = grow(&g, &bounds, &all, &mut scratch, &mut rng, Growth::CLASSIC).unwrap();
        assert!(units.iter().all(|u| u.meets(&bounds)));
        assert!(all.iter().all(|&b| (scratch.unit(b) as usize) < units.len()));
        let total: f64 = units.iter().map(|u| u.population).sum();
        assert_eq!(total, 100.0);
    }

    #[test]
    fn a_block_whose_removal_splits_its_unit_cannot_leave() {
        // A 1×3 strip in one unit: the middle block is an articulation point, the ends are not.
        let g = lattice(3, 1.0);
        let bounds = Bounds {
            min_population: 1.0,
            min_area: 0.0,
            required: 0,
        };
        let labels = vec![0, 0, 0, 1, 1, 1, 1, 1, 1];
        let mut layout = Layout::new(&g, &bounds, labels);
        assert!(!layout.can_leave(&g, &bounds, 1));
        assert!(layout.can_leave(&g, &bounds, 0));
        assert!(layout.can_leave(&g, &bounds, 2));
    }

    #[test]
    fn a_square_is_more_compact_than_a_strip() {
        let g = lattice(4, 1.0);
        let square = [0u32, 1, 4, 5].iter().fold(Acc::default(), |a, &b| a.with(&g, b));
        let strip = [0u32, 1, 2, 3].iter().fold(Acc::default(), |a, &b| a.with(&g, b));
        assert!(square.inertia() < strip.inertia());
    }
}
