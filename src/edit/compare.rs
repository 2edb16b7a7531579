//! Comparing a plan with another partition of the same blocks (a `propose` candidate): the other partition's units
//! take the plan's unit ids, so that a unit both share keeps its name and only real differences remain.
//!
//! The solver numbers each candidate's units in its own order, so a candidate's "U03" is rarely the plan's U03.
//! Unlike the dossier's candidate maps (matched by overlap area of the dissolved units), the editor matches units by
//! the population of the blocks they share, area and ids breaking ties: the blocks are the unit of the plan, and the
//! same sums over the same blocks give the same pairs on every machine, whatever the thread count.

use crate::report::i18n::Label;
use crate::report::Lang;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Another partition, relabelled to a plan's unit ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Relabelled {
    /// Each block's unit, under the plan's ids (new ids for units the plan has no partner for).
    pub assignment: Vec<Option<String>>,
    /// The other partition's own unit id → the id it takes.
    pub ids: BTreeMap<String, String>,
    /// Blocks whose unit differs from the plan's, in block order.
    pub differing: Vec<usize>,
}

/// Relabels `other` (each block's unit in the other partition) to the ids of `current` (each block's unit in the
/// plan). Units are paired one to one, greedily, by the population of the blocks they share, largest first (ties:
/// shared area, then the plan's id, then the other's id); an unpaired unit takes the lowest free `U01`, `U02`, …
/// not in `taken` (the plan's ids, empty units included) — the ids [`super::Plan::new_unit`] hands out in turn.
pub fn relabel(
    current: &[Option<&str>],
    other: &[Option<&str>],
    population: &[f64],
    area: &[f64],
    taken: &BTreeSet<String>,
) -> Relabelled {
    // (plan unit, other unit) → (population, area) of the blocks both hold.
    let mut shared: HashMap<(&str, &str), (f64, f64)> = HashMap::new();
    for (b, (c, o)) in current.iter().zip(other).enumerate() {
        if let (Some(c), Some(o)) = (c, o) {
            let e = shared.entry((c, o)).or_insert((0.0, 0.0));
            e.0 += population.get(b).copied().unwrap_or(0.0);
            e.1 += area.get(b).copied().unwrap_or(0.0);
        }
    }
    let mut pairs: Vec<_> = shared.into_iter().collect();
    pairs.sort_by(|(ka, (pa, aa)), (kb, (pb, ab))| {
        pb.total_cmp(pa)
            .then(ab.total_cmp(aa))
            .then(ka.0.cmp(kb.0))
            .then(ka.1.cmp(kb.1))
    });
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for ((c, o), _) in pairs {
        if !ids.contains_key(o) && !used.contains(c) {
            ids.insert(o.to_string(), c.to_string());
            used.insert(c);
        }
    }
    let others: BTreeSet<&str> = other.iter().flatten().copied().collect();
    let mut fresh = (1..)
        .map(|i| format!("U{i:02}"))
        .filter(|id| !taken.contains(id) && !used.contains(id.as_str()));
    for o in others {
        if !ids.contains_key(o) {
            ids.insert(o.to_string(), fresh.next().unwrap_or_default());
        }
    }
    let assignment: Vec<Option<String>> = other
        .iter()
        .map(|o| o.and_then(|o| ids.get(o).cloned()))
        .collect();
    let differing = current
        .iter()
        .zip(&assignment)
        .enumerate()
        .filter(|(_, (c, a))| **c != a.as_deref())
        .map(|(b, _)| b)
        .collect();
    Relabelled {
        assignment,
        ids,
        differing,
    }
}

/// A candidate's name as the dossier's candidate section gives it: "排名 1（推荐）" / "Rank 1 (best)" for the first
/// (`k` counts from 0).
pub fn candidate_label(k: usize, lang: Lang) -> String {
    let best = if k == 0 {
        lang.pick("（推荐）", " (best)")
    } else {
        ""
    };
    format!("{} {}{best}", Label::Rank.text(lang), k + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&'static str]) -> Vec<Option<&'static str>> {
        v.iter().map(|s| (!s.is_empty()).then_some(*s)).collect()
    }

    #[test]
    fn the_same_partition_under_other_names_relabels_to_the_plan_with_nothing_differing() {
        let current = ids(&["U01", "U01", "U02", "U02", "U03"]);
        let other = ids(&["U03", "U03", "U01", "U01", "U02"]);
        let r = relabel(&current, &other, &[1.0; 5], &[1.0; 5], &BTreeSet::new());
        assert_eq!(
            r.assignment,
            current.iter().map(|c| c.map(String::from)).collect::<Vec<_>>()
        );
        assert!(r.differing.is_empty());
        assert_eq!(r.ids["U03"], "U01");
    }

    #[test]
    fn a_moved_block_is_the_only_difference_after_relabelling() {
        let current = ids(&["U01", "U01", "U01", "U02", "U02", "U02"]);
        // The other partition calls the units A and B and gives block 2 to the second.
        let other = ids(&["B", "B", "A", "A", "A", "A"]);
        let r = relabel(&current, &other, &[10.0; 6], &[1.0; 6], &BTreeSet::new());
        assert_eq!(r.differing, vec![2]);
        assert_eq!(r.ids["B"], "U01");
        assert_eq!(r.ids["A"], "U02");
    }

    #[test]
    fn relabelling_ties_on_population_go_to_area_then_to_the_ids() {
        let current = ids(&["U01", "U02"]);
        let other = ids(&["X", "X"]);
        // Equal population shared with both units: the larger shared area wins.
        let r = relabel(&current, &other, &[5.0, 5.0], &[1.0, 2.0], &BTreeSet::new());
        assert_eq!(r.ids["X"], "U02");
        // Equal population and area: the lower plan id wins.
        let r = relabel(&current, &other, &[5.0, 5.0], &[1.0, 1.0], &BTreeSet::new());
        assert_eq!(r.ids["X"], "U01");
    }

    #[test]
    fn an_unpaired_unit_takes_the_lowest_free_id_outside_the_plan() {
        let current = ids(&["U01", "U01", ""]);
        let other = ids(&["a", "a", "b"]);
        let taken: BTreeSet<String> = ["U01", "U02"].iter().map(|s| s.to_string()).collect();
        let r = relabel(&current, &other, &[1.0; 3], &[1.0; 3], &taken);
        assert_eq!(r.ids["b"], "U03");
        assert_eq!(r.differing, vec![2]);
    }

    #[test]
    fn candidate_labels_use_the_dossiers_wording() {
        assert_eq!(candidate_label(0, Lang::Zh), "排名 1（推荐）");
        assert_eq!(candidate_label(1, Lang::English), "Rank 2");
    }
}
