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

/// Solves `p` for `goal`: exactly when small enough, else greedy + swap with an LP bound.
pub fn solve(p: &Problem, goal: Goal, limits: Limits) -> Solved {
    let nonzeros: usize = p.covers.iter().map(Vec::len).sum();
    if nonzeros <= limits.exact_nonzeros {
        if let Ok(Some(chosen)) = exact(p, goal, false).map(|r| r.map(|(x, _)| x)) {
            let chosen: Vec<usize> = (0..chosen.len()).filter(|&j| chosen[j] > 0.5).collect();
            return finish(p, chosen, Method::Exact, None);
        }
    }
    let chosen = heuristic(p, goal);
    let bound = if nonzeros <= limits.bound_nonzeros {
        exact(p, goal, true)
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
    finish(p, chosen, Method::GreedySwap, bound)
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

/// The model, as a MILP (or its LP relaxation with `relax`): x_j site j chosen, y_i demand i covered,
/// y_i ≤ Σ x_j over the sites reaching i. Fewest: minimise Σx − ε·Σ w y / W with ε·Σ w y / W < 1, so the count
/// comes first and coverage breaks ties. Returns the x values and the covered residents; None when infeasible.
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
    // Demand points reached by the same sites (and counting alike) share one y: the same optimum, a smaller model.
    let mut groups: std::collections::BTreeMap<(&[usize], bool), f64> = std::collections::BTreeMap::new();
    for i in (0..p.weight.len()).filter(|&i| !reach[i].is_empty()) {
        *groups.entry((reach[i].as_slice(), p.counted[i])).or_insert(0.0) += p.weight[i];
    }
    let groups: Vec<(&[usize], bool, f64)> = groups.into_iter().map(|((r, c), w)| (r, c, w)).collect();
    let y: Vec<Variable> = groups
        .iter()
        .map(|_| vars.add(variable().min(0).max(1)))
        .collect();
    let total: f64 = p.weight.iter().sum::<f64>() + 1.0;
    let covered: Expression = groups.iter().zip(&y).map(|(g, &v)| g.2 * v).sum();
    let count: Expression = x.iter().copied().sum();
    let mut model = match goal {
        Goal::Fewest => vars
            .minimise(count.clone() - covered.clone() * (0.5 / total))
            .using(good_lp::microlp),
        Goal::Exactly(_) => vars.maximise(covered.clone()).using(good_lp::microlp),
    };
    for (g, &v) in groups.iter().zip(&y) {
        let sites: Expression = g.0.iter().map(|&j| x[j]).sum();
        model = model.with(constraint!(v <= sites));
    }
    match goal {
        Goal::Fewest => {
            if p.need > 0.0 {
                let unit: Expression = groups
                    .iter()
                    .zip(&y)
                    .filter(|(g, _)| g.1)
                    .map(|(g, &v)| g.2 * v)
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
            let reached = groups.iter().zip(&y).map(|(g, &v)| g.2 * s.value(v)).sum();
            Ok(Some((values, reached)))
        }
        Err(ResolutionError::Infeasible) => Ok(None),
        Err(e) => Err(e),
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
}
