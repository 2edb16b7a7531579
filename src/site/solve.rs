//! One siting problem — the candidates of one unit and one facility type — solved exactly as a set cover /
//! maximal covering model (`good_lp` with the pure-Rust `microlp`), or, past [`Limits::exact_nonzeros`], by greedy
//! choice and pairwise swaps with the gap to the LP relaxation reported.
//!
//! Every loop runs in index order and breaks ties on the lowest index, so the same problem gives the same sites.

use good_lp::{
    constraint, variable, Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable,
};
use serde::Serialize;

/// The demand and candidates of one problem: demand already covered by a facility of the type is left out.
#[derive(Clone, Debug, Default)]
pub struct Problem {
    /// For each candidate, the demand points within the radius (indices into `weight`, ascending).
    pub covers: Vec<Vec<usize>>,
    /// Residents at each demand point.
    pub weight: Vec<f64>,
    /// Whether a demand point is in the unit, so counts toward its share.
    pub counted: Vec<bool>,
    /// Residents of the unit the new sites must reach (0 when only the facility is missing).
    pub need: f64,
    /// Whether each candidate lies inside the unit.
    pub inside: Vec<bool>,
    /// The unit lacks the type: at least one new site must be inside it.
    pub inside_required: bool,
}

/// What to optimise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// The fewest sites meeting `need` and the inside rule, then the most residents covered.
    Fewest,
    /// Exactly this many sites covering the most residents (the classic maximal covering location problem).
    Exactly(usize),
}

/// How a problem was solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Optimal for the model.
    Exact,
    /// Greedy and swaps.
    GreedySwap,
}

/// Size limits: past `exact_nonzeros` (candidate–demand pairs) the heuristic runs; past `bound_nonzeros` no LP bound
/// is computed either.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest model solved exactly.
    pub exact_nonzeros: usize,
    /// Largest LP relaxation solved for the heuristic's bound.
    pub bound_nonzeros: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            exact_nonzeros: 20_000,
            bound_nonzeros: 50_000,
        }
    }
}

/// The sites chosen for one problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Solved {
    /// Chosen candidates, ascending.
    pub chosen: Vec<usize>,
    /// Exact or heuristic.
    pub method: Method,
    /// The LP bound: the fewest sites (rounded up) for [`Goal::Fewest`], the most residents for [`Goal::Exactly`];
    /// None when exact or too large to bound.
    pub bound: Option<f64>,
    /// Whether `need` and the inside rule are met.
    pub feasible: bool,
    /// Residents the chosen sites cover (all demand, the unit's and its neighbours').
    pub covered: f64,
}

/// Solves `p` for `goal` on the reduced model (`reduce`): exactly when small enough, else by local search with
/// the LP bound; a local search that meets its LP bound is reported exact.
pub fn solve(p: &Problem, goal: Goal, limits: Limits) -> Solved {
    let r = reduce(p);
    let q = &r.problem;
    let (chosen, method, bound) = match goal {
        Goal::Exactly(k) if q.need <= 0.0 => covering(q, k.min(q.covers.len()), limits),
        _ => general(q, goal, limits),
    };
    finish(p, r.original(chosen, goal), method, bound)
}

/// The fewest-sites model (and a count with a need to meet): the MILP when small, else greedy + swaps.
fn general(q: &Problem, goal: Goal, limits: Limits) -> (Vec<usize>, Method, Option<f64>) {
    let goal = match goal {
        Goal::Exactly(k) => Goal::Exactly(k.min(q.covers.len())),
        g => g,
    };
    let nonzeros: usize = q.covers.iter().map(Vec::len).sum();
    if nonzeros <= limits.exact_nonzeros {
        if let Ok(Some((x, _))) = exact(q, goal, false) {
            return (picked(&x), Method::Exact, None);
        }
    }
    let chosen = heuristic(q, goal);
    let bound = if nonzeros <= limits.bound_nonzeros {
        exact(q, goal, true)
            .ok()
            .flatten()
            .map(|(x, objective)| match goal {
                // Rounded down a hair first: an LP sum of 2.0000000001 still bounds at 2 sites.
                Goal::Fewest => (x.iter().sum::<f64>() - 1e-6).ceil(),
                Goal::Exactly(_) => objective,
            })
    } else {
        None
    };
    (chosen, Method::GreedySwap, bound)
}

/// Maximal covering with `k` sites: the local search first (fast, and usually optimal), then bounds: the Lagrangian
/// one (cheap), the LP relaxation where small enough. A search that meets a bound is optimal; else the MILP decides
/// when small enough, and past that the search stands with the tighter bound reported.
fn covering(q: &Problem, k: usize, limits: Limits) -> (Vec<usize>, Method, Option<f64>) {
    let chosen = search(q, k);
    let found = State::of(q, &chosen).total;
    let tol = tolerance(q);
    let mut bound = lagrangian(q, k, found);
    if bound <= found + tol {
        return (chosen, Method::Exact, None);
    }
    let nonzeros: usize = q.covers.iter().map(Vec::len).sum();
    let goal = Goal::Exactly(k);
    if nonzeros <= limits.bound_nonzeros {
        if let Ok(Some((_, lp))) = exact(q, goal, true) {
            if lp <= found + tol {
                return (chosen, Method::Exact, None);
            }
            bound = bound.min(lp);
        }
    }
    if nonzeros <= limits.exact_nonzeros {
        if let Ok(Some((x, _))) = exact(q, goal, false) {
            let x = picked(&x);
            // The MILP's own tolerances could leave it a hair below the search: keep the better.
            if State::of(q, &x).total > found + tol {
                return (x, Method::Exact, None);
            }
            return (chosen, Method::Exact, None);
        }
    }
    (chosen, Method::GreedySwap, Some(bound))
}

/// Subgradient steps on the Lagrangian relaxation of y_i ≤ Σ x_j.
const LAGRANGE_STEPS: usize = 300;

/// An upper bound on the residents `k` sites can cover (at least one inside where required): the Lagrangian
/// relaxation of "a point is covered only if a chosen site reaches it", with multipliers λ_i ∈ [0, w_i]:
/// L(λ) = Σ max(0, w_i − λ_i) + the `k` largest Σ_{i reached by j} λ_i, minimised by subgradient steps (Polyak's
/// step towards `found`). Its limit is the LP bound; any λ gives a valid bound, so stopping early is safe.
fn lagrangian(p: &Problem, k: usize, found: f64) -> f64 {
    let n = p.covers.len();
    let total: f64 = p.weight.iter().sum();
    if k == 0 || n == 0 {
        return 0.0;
    }
    let reach = reach_of(p);
    let mut lambda: Vec<f64> = p
        .weight
        .iter()
        .zip(&reach)
        .map(|(&w, r)| w / r.len().max(1) as f64)
        .collect();
    let mut best = total;
    let mut mu = 2.0;
    let mut stalled = 0;
    let mut order: Vec<usize> = (0..n).collect();
    let mut value = vec![0.0; n];
    let mut hits = vec![0u32; p.weight.len()];
    for _ in 0..LAGRANGE_STEPS {
        for (j, c) in p.covers.iter().enumerate() {
            value[j] = c.iter().map(|&i| lambda[i]).sum();
        }
        order.sort_by(|&a, &b| value[b].total_cmp(&value[a]).then(a.cmp(&b)));
        let mut top: Vec<usize> = order.iter().copied().take(k).collect();
        if p.inside_required && !top.iter().any(|&j| p.inside[j]) {
            match order.iter().find(|&&j| p.inside[j]) {
                Some(&j) => {
                    top.pop();
                    top.push(j);
                }
                // No inside candidate: nothing is feasible.
                None => return 0.0,
            }
        }
        let mut l: f64 = top.iter().map(|&j| value[j]).sum();
        l += p
            .weight
            .iter()
            .zip(&lambda)
            .map(|(w, y)| (w - y).max(0.0))
            .sum::<f64>();
        if l < best - 1e-12 * total {
            best = l;
            stalled = 0;
        } else {
            stalled += 1;
            if stalled >= 20 {
                mu /= 2.0;
                stalled = 0;
            }
        }
        if best <= found + tolerance(p) || mu < 1e-4 {
            break;
        }
        hits.iter_mut().for_each(|h| *h = 0);
        for &j in &top {
            for &i in &p.covers[j] {
                hits[i] += 1;
            }
        }
        // dL/dλ_i = (sites reaching i among the top) − (1 where w_i > λ_i).
        let grad: Vec<f64> = (0..p.weight.len())
            .map(|i| f64::from(hits[i]) - if p.weight[i] > lambda[i] { 1.0 } else { 0.0 })
            .collect();
        let norm: f64 = grad.iter().map(|g| g * g).sum();
        if norm <= 0.0 {
            break;
        }
        let step = mu * (l - found).max(tolerance(p)) / norm;
        for ((y, g), w) in lambda.iter_mut().zip(&grad).zip(&p.weight) {
            *y = (*y - step * g).clamp(0.0, *w);
        }
    }
    best
}

fn picked(x: &[f64]) -> Vec<usize> {
    (0..x.len()).filter(|&j| x[j] > 0.5).collect()
}

/// What counts as no improvement: float sums of residents differ in their last bits by summation order.
fn tolerance(p: &Problem) -> f64 {
    1e-9 * (1.0 + p.weight.iter().sum::<f64>())
}

fn finish(p: &Problem, chosen: Vec<usize>, method: Method, bound: Option<f64>) -> Solved {
    let state = State::of(p, &chosen);
    Solved {
        feasible: state.feasible(p, &chosen),
        covered: state.total,
        chosen,
        method,
        bound,
    }
}

/// A problem cut down to what decides its optimum, and the way back to the original candidates.
struct Reduced {
    problem: Problem,
    /// The original index of each kept candidate.
    kept: Vec<usize>,
    /// The original candidate count, and which are inside, for padding a count.
    inside: Vec<bool>,
}

impl Reduced {
    /// The original indices of `chosen`, ascending; a count larger than the kept candidates is filled with the
    /// lowest-numbered others (they add nobody, or they would have been kept).
    fn original(&self, chosen: Vec<usize>, goal: Goal) -> Vec<usize> {
        let mut out: Vec<usize> = chosen.into_iter().map(|j| self.kept[j]).collect();
        if let Goal::Exactly(k) = goal {
            let mut taken = vec![false; self.inside.len()];
            for &j in &out {
                taken[j] = true;
            }
            let fill: Vec<usize> = (0..self.inside.len())
                .filter(|&j| !taken[j])
                .take(k.saturating_sub(out.len()))
                .collect();
            out.extend(fill);
        }
        out.sort_unstable();
        out
    }
}

/// The reductions exact covering solvers make first, none of which changes the optimum: demand no candidate reaches
/// (or with nobody living there) drops; demand reached by the same candidates, and counting alike toward the unit,
/// merges into one point with the summed residents; a candidate reaching a subset of what another reaches (and not
/// inside the unit where the other is not) drops, as any choice using it does as well with the other instead —
/// of candidates reaching the same, the lowest-numbered stays. Demand is merged again over the candidates left.
fn reduce(p: &Problem) -> Reduced {
    let n = p.covers.len();
    let everyone: Vec<usize> = (0..n).collect();
    let (rows, weight, counted) = merge(p, &everyone);
    let mut covers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (r, reach) in rows.iter().enumerate() {
        for &j in reach {
            covers[j].push(r);
        }
    }
    let dominated = |j: usize| {
        let others: &[usize] = covers[j].first().map_or(everyone.as_slice(), |&r| &rows[r]);
        others.iter().any(|&k| {
            k != j
                && covers[j].len() <= covers[k].len()
                && (!p.inside[j] || p.inside[k])
                && subset(&covers[j], &covers[k])
                // Reaching the same and alike inside: the lower index stays.
                && (covers[j].len() < covers[k].len() || p.inside[j] != p.inside[k] || k < j)
        })
    };
    let kept: Vec<usize> = (0..n).filter(|&j| !dominated(j)).collect();
    let (rows, weight, counted) = {
        // Merge the merged points again over the kept candidates only.
        let merged = Problem {
            covers: kept.iter().map(|&j| covers[j].clone()).collect(),
            weight,
            counted,
            need: p.need,
            inside: Vec::new(),
            inside_required: false,
        };
        let all: Vec<usize> = (0..kept.len()).collect();
        merge(&merged, &all)
    };
    let mut covers: Vec<Vec<usize>> = vec![Vec::new(); kept.len()];
    for (r, reach) in rows.iter().enumerate() {
        for &j in reach {
            covers[j].push(r);
        }
    }
    Reduced {
        problem: Problem {
            covers,
            weight,
            counted,
            need: p.need,
            inside: kept.iter().map(|&j| p.inside[j]).collect(),
            inside_required: p.inside_required,
        },
        kept,
        inside: p.inside.clone(),
    }
}

/// Demand points of `p` grouped by the candidates (of `among`, renumbered to their position there) reaching them and
/// whether they count: each group's candidates (ascending), residents and count flag, in order of first appearance.
fn merge(p: &Problem, among: &[usize]) -> (Vec<Vec<usize>>, Vec<f64>, Vec<bool>) {
    let mut reach: Vec<Vec<usize>> = vec![Vec::new(); p.weight.len()];
    for (local, &j) in among.iter().enumerate() {
        for &i in &p.covers[j] {
            reach[i].push(local);
        }
    }
    let mut index: std::collections::HashMap<(&[usize], bool), usize> = std::collections::HashMap::new();
    let (mut rows, mut weight, mut counted) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in reach.iter().enumerate() {
        if r.is_empty() || p.weight[i] <= 0.0 {
            continue;
        }
        let row = *index.entry((r.as_slice(), p.counted[i])).or_insert_with(|| {
            rows.push(r.clone());
            weight.push(0.0);
            counted.push(p.counted[i]);
            rows.len() - 1
        });
        weight[row] += p.weight[i];
    }
    (rows, weight, counted)
}

/// Whether ascending `a` is a subset of ascending `b`.
fn subset(a: &[usize], b: &[usize]) -> bool {
    let mut b = b.iter();
    a.iter().all(|x| b.by_ref().any(|y| y == x))
}

/// The model, as a MILP (or its LP relaxation with `relax`): x_j site j chosen, y_i demand i covered,
/// y_i ≤ Σ x_j over the sites reaching i. Fewest: minimise Σx − ε·Σ w y / W with ε·Σ w y / W < 1, so the count
/// comes first and coverage breaks ties. Returns the x values and the covered residents; None when infeasible.
/// Demand is expected merged ([`reduce`]): one y per distinct set of candidates.
fn exact(p: &Problem, goal: Goal, relax: bool) -> Result<Option<(Vec<f64>, f64)>, ResolutionError> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = (0..p.covers.len())
        .map(|_| {
            let v = variable().min(0).max(1);
            vars.add(if relax { v } else { v.integer() })
        })
        .collect();
    let mut reach: Vec<Vec<usize>> = vec![Vec::new(); p.weight.len()];
    for (j, c) in p.covers.iter().enumerate() {
        for &i in c {
            reach[i].push(j);
        }
    }
    let rows: Vec<usize> = (0..p.weight.len()).filter(|&i| !reach[i].is_empty()).collect();
    let y: Vec<Variable> = rows.iter().map(|_| vars.add(variable().min(0).max(1))).collect();
    let total: f64 = p.weight.iter().sum::<f64>() + 1.0;
    let covered: Expression = rows.iter().zip(&y).map(|(&i, &v)| p.weight[i] * v).sum();
    let count: Expression = x.iter().copied().sum();
    let mut model = match goal {
        Goal::Fewest => vars
            .minimise(count.clone() - covered.clone() * (0.5 / total))
            .using(good_lp::microlp),
        Goal::Exactly(_) => vars.maximise(covered.clone()).using(good_lp::microlp),
    };
    for (&i, &v) in rows.iter().zip(&y) {
        let sites: Expression = reach[i].iter().map(|&j| x[j]).sum();
        model = model.with(constraint!(v <= sites));
    }
    match goal {
        Goal::Fewest => {
            if p.need > 0.0 {
                let unit: Expression = rows
                    .iter()
                    .zip(&y)
                    .filter(|(&i, _)| p.counted[i])
                    .map(|(&i, &v)| p.weight[i] * v)
                    .sum();
                model = model.with(constraint!(unit >= p.need));
            }
        }
        Goal::Exactly(n) => model = model.with(constraint!(count == n as f64)),
    }
    if p.inside_required {
        let inside: Expression = x.iter().zip(&p.inside).filter(|(_, &a)| a).map(|(&v, _)| v).sum();
        model = model.with(constraint!(inside >= 1));
    }
    match model.solve() {
        Ok(s) => {
            let values = x.iter().map(|&v| s.value(v)).collect();
            let reached = rows.iter().zip(&y).map(|(&i, &v)| p.weight[i] * s.value(v)).sum();
            Ok(Some((values, reached)))
        }
        Err(ResolutionError::Infeasible) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deterministic restarts of the covering search: the greedy choice begun from each of this many best single sites.
const STARTS: usize = 24;

/// Maximal covering with `k` sites (no need to meet): greedy from several starts, each improved by best-improvement
/// 1-swaps; the most residents wins, the first found on ties. Gains are kept per candidate and per demand point
/// (how many chosen sites reach it), so a swap pass costs one sweep of the model, not one per pair.
fn search(p: &Problem, k: usize) -> Vec<usize> {
    let n = p.covers.len();
    if k == 0 || n == 0 {
        return Vec::new();
    }
    let reach = reach_of(p);
    let single: Vec<f64> = p
        .covers
        .iter()
        .map(|c| c.iter().map(|&i| p.weight[i]).sum())
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&j| !p.inside_required || p.inside[j]).collect();
    order.sort_by(|&a, &b| single[b].total_cmp(&single[a]).then(a.cmp(&b)));
    let eps = tolerance(p);
    let mut seen: Vec<Vec<usize>> = Vec::new();
    for &first in order.iter().take(STARTS) {
        let mut chosen = greedy(p, &reach, k, first);
        improve(p, &reach, &mut chosen, eps);
        chosen.sort_unstable();
        if seen.contains(&chosen) {
            continue;
        }
        seen.push(chosen);
    }
    // The best few local optima, each improved further by moving two sites at once (then single swaps again).
    let mut optima: Vec<(f64, Vec<usize>)> = seen.into_iter().map(|c| (State::of(p, &c).total, c)).collect();
    optima.sort_by(|a, b| b.0.total_cmp(&a.0));
    // A pass of two-site moves costs about pairs × candidates × (points per site × sites per point + candidates);
    // past PAIR_WORK in all the search stands on single swaps.
    let nonzeros: usize = p.covers.iter().map(Vec::len).sum();
    let per_pair =
        n as f64 * (nonzeros as f64 / n as f64 * nonzeros as f64 / p.weight.len().max(1) as f64 + n as f64);
    let pairs = (k * k.saturating_sub(1) / 2) as f64;
    // The passes allowed are counted from the model's size, not the clock, so the same problem gives the same sites.
    let mut passes = (PAIR_WORK / (pairs * per_pair).max(1.0)).min(200.0) as usize;
    let mut best: Option<(f64, Vec<usize>)> = None;
    for (_, mut chosen) in optima.into_iter().take(PAIR_STARTS) {
        while passes > 0 {
            passes -= 1;
            if !pair_move(p, &reach, &mut chosen, eps) {
                break;
            }
            improve(p, &reach, &mut chosen, eps);
        }
        chosen.sort_unstable();
        let total = State::of(p, &chosen).total;
        if best.as_ref().is_none_or(|(b, _)| total > b + eps) {
            best = Some((total, chosen));
        }
    }
    best.map(|(_, c)| c).unwrap_or_default()
}

/// How many of the best local optima get the (costlier) two-site moves.
const PAIR_STARTS: usize = 4;

/// The most work (see [`search`]) all passes of two-site moves together may cost, about a second.
const PAIR_WORK: f64 = 1.5e9;

/// The best move of two chosen sites at once, made if it adds more than `eps` residents; returns whether it did.
/// Single swaps miss it where two sites share residents and each alone would lose by moving. The first new site is
/// sought among the candidates sharing a demand point with either site removed; the second among all.
fn pair_move(p: &Problem, reach: &[Vec<usize>], chosen: &mut [usize], eps: f64) -> bool {
    let n = p.covers.len();
    let m = p.weight.len();
    let mut best: Option<(f64, usize, usize, usize, usize)> = None;
    let mut hits = vec![0u32; m];
    let mut overlap = vec![0.0; n];
    let mut near = vec![false; n];
    let before = State::of(p, chosen).total;
    for s1 in 0..chosen.len() {
        for s2 in s1 + 1..chosen.len() {
            let (a, b) = (chosen[s1], chosen[s2]);
            hits.iter_mut().for_each(|h| *h = 0);
            let mut taken = vec![false; n];
            for (s, &j) in chosen.iter().enumerate() {
                taken[j] = true;
                if s != s1 && s != s2 {
                    for &i in &p.covers[j] {
                        hits[i] += 1;
                    }
                }
            }
            let now: f64 = (0..m).filter(|&i| hits[i] > 0).map(|i| p.weight[i]).sum();
            let inside_left = chosen
                .iter()
                .enumerate()
                .any(|(s, &j)| s != s1 && s != s2 && p.inside[j]);
            let gain: Vec<f64> = p
                .covers
                .iter()
                .map(|c| c.iter().filter(|&&i| hits[i] == 0).map(|&i| p.weight[i]).sum())
                .collect();
            near.iter_mut().for_each(|v| *v = false);
            for &i in p.covers[a].iter().chain(&p.covers[b]) {
                for &c in &reach[i] {
                    near[c] = true;
                }
            }
            for c in (0..n).filter(|&c| near[c] && (!taken[c] || c == a || c == b)) {
                for &i in p.covers[c].iter().filter(|&&i| hits[i] == 0) {
                    for &d in &reach[i] {
                        overlap[d] += p.weight[i];
                    }
                }
                for d in 0..n {
                    if d == c || (taken[d] && d != a && d != b) {
                        continue;
                    }
                    if p.inside_required && !inside_left && !p.inside[c] && !p.inside[d] {
                        continue;
                    }
                    let delta = now + gain[c] + gain[d] - overlap[d] - before;
                    if delta > eps && best.is_none_or(|x| delta > x.0) {
                        best = Some((delta, s1, s2, c, d));
                    }
                }
                for &i in p.covers[c].iter().filter(|&&i| hits[i] == 0) {
                    for &d in &reach[i] {
                        overlap[d] = 0.0;
                    }
                }
            }
        }
    }
    match best {
        Some((_, s1, s2, c, d)) => {
            chosen[s1] = c;
            chosen[s2] = d;
            true
        }
        None => false,
    }
}

/// For each demand point, the candidates reaching it (ascending).
fn reach_of(p: &Problem) -> Vec<Vec<usize>> {
    let mut reach: Vec<Vec<usize>> = vec![Vec::new(); p.weight.len()];
    for (j, c) in p.covers.iter().enumerate() {
        for &i in c {
            reach[i].push(j);
        }
    }
    reach
}

/// `first`, then the candidate adding the most residents until `k` are chosen (an inside one first where required
/// and `first` is not inside); ties to the lowest index.
fn greedy(p: &Problem, reach: &[Vec<usize>], k: usize, first: usize) -> Vec<usize> {
    let n = p.covers.len();
    let mut gain: Vec<f64> = p
        .covers
        .iter()
        .map(|c| c.iter().map(|&i| p.weight[i]).sum())
        .collect();
    let mut hit = vec![false; p.weight.len()];
    let mut taken = vec![false; n];
    let mut chosen = Vec::with_capacity(k);
    let mut next = Some(first);
    while let Some(j) = next {
        taken[j] = true;
        chosen.push(j);
        for &i in &p.covers[j] {
            if !hit[i] {
                hit[i] = true;
                for &c in &reach[i] {
                    gain[c] -= p.weight[i];
                }
            }
        }
        if chosen.len() >= k {
            break;
        }
        let inside_needed = p.inside_required && !chosen.iter().any(|&c| p.inside[c]);
        next = None;
        for c in 0..n {
            if taken[c] || (inside_needed && !p.inside[c]) {
                continue;
            }
            if next.is_none_or(|b: usize| gain[c] > gain[b]) {
                next = Some(c);
            }
        }
    }
    chosen
}

/// Best-improvement 1-swaps until none adds more than `eps` residents (bounded passes). For each chosen site the
/// residents only it reaches are credited to every candidate also reaching them, so the gain of swapping `out` for
/// `in` is `gain[in] + shared[in] − alone(out)` without re-evaluating the pair.
fn improve(p: &Problem, reach: &[Vec<usize>], chosen: &mut [usize], eps: f64) {
    let n = p.covers.len();
    let mut shared = vec![0.0; n];
    for _ in 0..100 {
        let mut hits = vec![0u32; p.weight.len()];
        let mut taken = vec![false; n];
        for &j in chosen.iter() {
            taken[j] = true;
            for &i in &p.covers[j] {
                hits[i] += 1;
            }
        }
        let gain: Vec<f64> = p
            .covers
            .iter()
            .map(|c| c.iter().filter(|&&i| hits[i] == 0).map(|&i| p.weight[i]).sum())
            .collect();
        let inside = chosen.iter().filter(|&&j| p.inside[j]).count();
        let mut best: Option<(f64, usize, usize)> = None;
        for (slot, &out) in chosen.iter().enumerate() {
            let mut alone = 0.0;
            for &i in p.covers[out].iter().filter(|&&i| hits[i] == 1) {
                alone += p.weight[i];
                for &c in &reach[i] {
                    shared[c] += p.weight[i];
                }
            }
            let inside_needed = p.inside_required && p.inside[out] && inside == 1;
            for c in 0..n {
                if taken[c] || (inside_needed && !p.inside[c]) {
                    continue;
                }
                let delta = gain[c] + shared[c] - alone;
                if delta > eps && best.is_none_or(|(b, _, _)| delta > b) {
                    best = Some((delta, slot, c));
                }
            }
            for &i in p.covers[out].iter().filter(|&&i| hits[i] == 1) {
                for &c in &reach[i] {
                    shared[c] = 0.0;
                }
            }
        }
        let Some((_, slot, c)) = best else { break };
        chosen[slot] = c;
    }
}

/// How many chosen sites reach each demand point, and the residents covered in total and in the unit.
struct State {
    hits: Vec<u32>,
    total: f64,
    unit: f64,
}

impl State {
    fn of(p: &Problem, chosen: &[usize]) -> State {
        let mut s = State {
            hits: vec![0; p.weight.len()],
            total: 0.0,
            unit: 0.0,
        };
        for &j in chosen {
            s.add(p, j);
        }
        s
    }

    fn add(&mut self, p: &Problem, j: usize) {
        for &i in &p.covers[j] {
            if self.hits[i] == 0 {
                self.total += p.weight[i];
                if p.counted[i] {
                    self.unit += p.weight[i];
                }
            }
            self.hits[i] += 1;
        }
    }

    fn remove(&mut self, p: &Problem, j: usize) {
        for &i in &p.covers[j] {
            self.hits[i] -= 1;
            if self.hits[i] == 0 {
                self.total -= p.weight[i];
                if p.counted[i] {
                    self.unit -= p.weight[i];
                }
            }
        }
    }

    /// Residents (unit, total) newly covered by adding `j`.
    fn gain(&self, p: &Problem, j: usize) -> (f64, f64) {
        let mut g = (0.0, 0.0);
        for &i in &p.covers[j] {
            if self.hits[i] == 0 {
                g.1 += p.weight[i];
                if p.counted[i] {
                    g.0 += p.weight[i];
                }
            }
        }
        g
    }

    fn feasible(&self, p: &Problem, chosen: &[usize]) -> bool {
        self.unit >= p.need - 1e-9 && (!p.inside_required || chosen.iter().any(|&j| p.inside[j]))
    }

    /// What swaps compare: the shortfall first (smaller is better), then the residents covered.
    fn score(&self, p: &Problem) -> (f64, f64) {
        ((p.need - self.unit).max(0.0), self.total)
    }
}

fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    const EPS: f64 = 1e-9;
    a.0 < b.0 - EPS || (a.0 <= b.0 + EPS && a.1 > b.1 + EPS)
}

/// Greedy choice (shortfall first, then residents), pairwise swaps, and dropping sites no longer needed.
fn heuristic(p: &Problem, goal: Goal) -> Vec<usize> {
    let n = p.covers.len();
    let mut chosen: Vec<usize> = Vec::new();
    let mut state = State::of(p, &chosen);
    let limit = match goal {
        Goal::Fewest => n,
        Goal::Exactly(k) => k.min(n),
    };
    while chosen.len() < limit {
        if goal == Goal::Fewest && state.feasible(p, &chosen) {
            break;
        }
        let must_be_inside = p.inside_required && !chosen.iter().any(|&j| p.inside[j]);
        let mut best: Option<(usize, (f64, f64))> = None;
        for j in 0..n {
            if chosen.contains(&j) || (must_be_inside && !p.inside[j]) {
                continue;
            }
            let g = state.gain(p, j);
            if best.is_none_or(|(_, b)| g.0 > b.0 + 1e-9 || (g.0 >= b.0 - 1e-9 && g.1 > b.1 + 1e-9)) {
                best = Some((j, g));
            }
        }
        let Some((j, g)) = best else { break };
        // Nothing more to gain and the inside rule already met: more sites would not help.
        if g.1 <= 0.0 && !must_be_inside {
            break;
        }
        state.add(p, j);
        chosen.push(j);
    }
    loop {
        swap(p, &mut chosen, &mut state);
        if goal != Goal::Fewest || !drop_one(p, &mut chosen, &mut state) {
            break;
        }
    }
    chosen.sort_unstable();
    chosen
}

/// First-improvement pairwise swaps until none improves the score (bounded passes).
fn swap(p: &Problem, chosen: &mut [usize], state: &mut State) {
    for _ in 0..20 {
        let mut improved = false;
        for slot in 0..chosen.len() {
            let out = chosen[slot];
            for j in 0..p.covers.len() {
                if chosen.contains(&j) {
                    continue;
                }
                let before = state.score(p);
                state.remove(p, out);
                state.add(p, j);
                chosen[slot] = j;
                let keeps_inside = !p.inside_required || chosen.iter().any(|&k| p.inside[k]);
                if keeps_inside && better(state.score(p), before) {
                    improved = true;
                    break;
                }
                state.remove(p, j);
                state.add(p, out);
                chosen[slot] = out;
            }
        }
        if !improved {
            break;
        }
    }
}

/// Drops the first site without which the choice stays feasible.
fn drop_one(p: &Problem, chosen: &mut Vec<usize>, state: &mut State) -> bool {
    for slot in 0..chosen.len() {
        let j = chosen.remove(slot);
        state.remove(p, j);
        if state.feasible(p, chosen) {
            return true;
        }
        state.add(p, j);
        chosen.insert(slot, j);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_candidates_are_left_out_of_the_model() {
        // 1 reaches a subset of 0; 2 equals 0 but lies inside, so it outranks 0; 3 reaches nothing.
        let mut p = Problem {
            covers: vec![vec![0, 1, 2], vec![1, 2], vec![0, 1, 2], vec![], vec![3]],
            weight: vec![10.0; 4],
            counted: vec![true; 4],
            need: 0.0,
            inside: vec![false, true, true, false, false],
            inside_required: false,
        };
        assert_eq!(reduce(&p).kept, vec![2, 4]);
        // An inside candidate is kept beside an outside one reaching more: the inside rule may need it.
        p.inside = vec![false, true, false, false, false];
        assert_eq!(reduce(&p).kept, vec![0, 1, 4]);
        // A `--count 4` model gets back dropped candidates until it has four sites.
        let s = solve(&p, Goal::Exactly(4), Limits::default());
        assert_eq!(s.chosen.len(), 4, "{:?}", s.chosen);
    }

    /// Three candidates on a line of six demand points: 0 reaches {0,1,2}, 1 reaches {2,3}, 2 reaches {3,4,5}.
    fn line() -> Problem {
        Problem {
            covers: vec![vec![0, 1, 2], vec![2, 3], vec![3, 4, 5]],
            weight: vec![10.0; 6],
            counted: vec![true; 6],
            need: 60.0,
            inside: vec![true; 3],
            inside_required: false,
        }
    }

    #[test]
    fn fewest_sites_cover_the_need() {
        for limits in [
            Limits::default(),
            Limits {
                exact_nonzeros: 0,
                bound_nonzeros: 100,
            },
        ] {
            let s = solve(&line(), Goal::Fewest, limits);
            assert_eq!(s.chosen, vec![0, 2]);
            assert!(s.feasible);
            assert_eq!(s.covered, 60.0);
        }
    }

    #[test]
    fn one_site_inside_is_placed_even_when_residents_are_covered() {
        let p = Problem {
            need: 0.0,
            inside: vec![false, true, false],
            inside_required: true,
            ..line()
        };
        for limits in [
            Limits::default(),
            Limits {
                exact_nonzeros: 0,
                bound_nonzeros: 0,
            },
        ] {
            let s = solve(&p, Goal::Fewest, limits);
            assert_eq!(s.chosen, vec![1]);
            assert!(s.feasible);
        }
    }

    #[test]
    fn exactly_n_sites_cover_the_most_residents() {
        let mut p = line();
        p.weight = vec![1.0, 1.0, 1.0, 50.0, 1.0, 1.0];
        for limits in [
            Limits::default(),
            Limits {
                exact_nonzeros: 0,
                bound_nonzeros: 100,
            },
        ] {
            let s = solve(&p, Goal::Exactly(1), limits);
            assert_eq!(s.chosen, vec![2]);
            assert_eq!(s.covered, 52.0);
        }
    }

    #[test]
    fn an_unreachable_need_is_reported_infeasible() {
        let p = Problem {
            need: 1000.0,
            ..line()
        };
        let s = solve(&p, Goal::Fewest, Limits::default());
        assert!(!s.feasible);
    }
    /// A seeded random instance: each candidate reaches each demand point with probability `density`.
    fn random(seed: u64, n: usize, m: usize, density: f64) -> Problem {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let covers = (0..n)
            .map(|_| (0..m).filter(|_| rng.random_bool(density)).collect())
            .collect();
        let weight = (0..m).map(|_| f64::from(rng.random_range(0..20u32))).collect();
        let counted = (0..m).map(|_| rng.random_bool(0.7)).collect();
        let inside = (0..n).map(|_| rng.random_bool(0.5)).collect();
        Problem {
            covers,
            weight,
            counted,
            need: 0.0,
            inside,
            inside_required: rng.random_bool(0.5),
        }
    }

    /// Every subset of `0..n`, as bit masks.
    fn subsets(n: usize) -> impl Iterator<Item = Vec<usize>> {
        (0u32..(1 << n)).map(move |mask| (0..n).filter(|&j| (mask >> j) & 1 == 1).collect())
    }

    /// The most residents `k` sites can cover (None: no feasible choice), by trying every choice.
    fn brute_exactly(p: &Problem, k: usize) -> Option<f64> {
        subsets(p.covers.len())
            .filter(|c| c.len() == k && (!p.inside_required || c.iter().any(|&j| p.inside[j])))
            .map(|c| State::of(p, &c).total)
            .max_by(f64::total_cmp)
    }

    /// The fewest sites meeting the need and inside rule, and the most residents they cover, by trying every choice.
    fn brute_fewest(p: &Problem) -> Option<(usize, f64)> {
        subsets(p.covers.len())
            .filter(|c| State::of(p, c).feasible(p, c))
            .map(|c| (c.len(), State::of(p, &c).total))
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
    }

    #[test]
    fn the_reduction_keeps_the_optimum() {
        let mut shrunk = 0;
        for seed in 0..60 {
            let mut p = random(seed, 10, 24, if seed % 2 == 0 { 0.25 } else { 0.5 });
            let r = reduce(&p);
            shrunk += p.covers.len() - r.problem.covers.len();
            for k in 1..=3 {
                let full = brute_exactly(&p, k);
                let small = brute_exactly(&r.problem, k.min(r.problem.covers.len()));
                match (full, small) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "seed {seed} k {k}: {a} vs {b}"),
                    (a, b) => assert_eq!(a.is_some(), b.is_some(), "seed {seed} k {k}"),
                }
                // And the solver, exact on a model this small, reaches it through the way back.
                let s = solve(&p, Goal::Exactly(k), Limits::default());
                assert_eq!(s.chosen.len(), k);
                if let Some(a) = full {
                    assert!(
                        (s.covered - a).abs() < 1e-9,
                        "seed {seed} k {k}: {} vs {a}",
                        s.covered
                    );
                    assert_eq!(s.method, Method::Exact);
                }
            }
            p.need = 0.4
                * p.weight
                    .iter()
                    .zip(&p.counted)
                    .filter(|(_, &c)| c)
                    .map(|(w, _)| w)
                    .sum::<f64>();
            let r = reduce(&p);
            let full = brute_fewest(&p);
            let small = brute_fewest(&r.problem);
            assert_eq!(full.map(|f| f.0), small.map(|f| f.0), "seed {seed}");
            if let (Some(a), Some(b)) = (full, small) {
                assert!((a.1 - b.1).abs() < 1e-9, "seed {seed}: {} vs {}", a.1, b.1);
            }
        }
        // Honest only if the reduction did something on these instances.
        assert!(shrunk > 0);
    }

    #[test]
    fn the_lagrangian_bound_is_never_below_the_optimum() {
        for seed in 100..140 {
            let p = random(seed, 10, 24, 0.3);
            for k in 1..=3 {
                let Some(best) = brute_exactly(&p, k) else {
                    continue;
                };
                assert!(lagrangian(&p, k, 0.0) >= best - 1e-6, "seed {seed} k {k}");
            }
        }
    }

    #[test]
    fn the_covering_search_finds_the_optimum_of_small_instances() {
        let heuristic_only = Limits {
            exact_nonzeros: 0,
            bound_nonzeros: 0,
        };
        for seed in 200..240 {
            let p = random(seed, 12, 30, 0.25);
            for k in 1..=4 {
                let Some(best) = brute_exactly(&p, k) else {
                    continue;
                };
                let s = solve(&p, Goal::Exactly(k), heuristic_only);
                assert!(
                    s.covered >= best - 1e-9,
                    "seed {seed} k {k}: {} < {best}",
                    s.covered
                );
                if s.method == Method::GreedySwap {
                    assert!(s.bound.is_some_and(|b| b >= best - 1e-6));
                }
            }
        }
    }

    #[test]
    fn the_covering_search_is_deterministic() {
        let p = random(7, 80, 400, 0.05);
        let heuristic_only = Limits {
            exact_nonzeros: 0,
            bound_nonzeros: 0,
        };
        let first = solve(&p, Goal::Exactly(5), heuristic_only);
        let again: Vec<Solved> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| solve(&p, Goal::Exactly(5), heuristic_only)))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        assert_eq!(again.len(), 4);
        for s in again {
            assert_eq!(s, first);
        }
    }
}
