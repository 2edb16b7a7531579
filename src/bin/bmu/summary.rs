//! What `bmu validate` and `bmu propose` print on stderr when they finish: the `bmu:`-prefixed lines and the check
//! table, drawn from the library's [`bmu::run::Outcome`] and wrapped for an 80-column terminal.

use crate::table::{table, Verb};
use bmu::propose::pipeline::Proposal;
use bmu::run::Outcome;
use bmu::validate::{CheckResult, Reason, Validation};
use std::fmt::Write as _;
use std::path::Path;

/// Width the summary is wrapped to: the narrowest common terminal.
const WIDTH: usize = 80;

/// The summary of `bmu validate`: notes on the units read, the check table, and where the problems went when a
/// Shapefile split them in two.
pub(crate) fn validate(outcome: &Outcome) -> String {
    let mut s = String::new();
    for n in &outcome.notes {
        let _ = writeln!(s, "bmu: {n}");
    }
    if let Some(v) = &outcome.validation {
        s.push_str(&table(v, WIDTH as u16, Verb::Validate));
    }
    let steps = outcome
        .validation
        .as_ref()
        .map_or_else(Vec::new, |v| next_steps(v, Verb::Validate, None));
    if outcome.problem_files.len() > 1 {
        let names: Vec<String> = outcome
            .problem_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let _ = writeln!(s, "problems written to {}", names.join(" and "));
    }
    push_next_steps(&mut s, &steps);
    fit_terminal(&s, WIDTH)
}

/// The summary of `bmu propose`: blocks and units, max-p's components (and why a component forms no unit), the other
/// candidates, the check table of the best one and where its units went.
pub(crate) fn propose(outcome: &Outcome, units_path: &Path) -> String {
    let mut s = String::new();
    let passing = outcome.validation.as_ref().map_or(0, |v| v.summary.passing);
    if let Some(proposal) = &outcome.proposal {
        let _ = writeln!(
            s,
            "bmu: {} blocks ({}), {} units proposed, {} passing; {} blocks unassigned",
            proposal.blocks.ids.len(),
            if proposal.blocks.derived {
                "derived from features"
            } else {
                "given"
            },
            outcome.units.len(),
            passing,
            outcome.unassigned_blocks
        );
        let _ = writeln!(
            s,
            "  max-p: {} components, {} candidate(s), solved in {:.3} s",
            proposal.solution.components.len(),
            proposal.solution.candidates.len(),
            proposal.solve_seconds
        );
        for c in proposal.solution.components.iter().filter(|c| c.reason.is_some()) {
            let merged = c
                .merged_into
                .and_then(|l| outcome.units.get(l as usize))
                .map_or(String::new(), |u| format!("; merged into {}", u.id));
            let _ = writeln!(
                s,
                "  component of {} blocks ({:.0} people, {:.2} km²) cannot form a unit: {}{merged}",
                c.blocks.len(),
                c.population,
                c.area / 1e6,
                c.reason.as_deref().unwrap_or("")
            );
        }
    }
    for (k, c) in outcome.other_candidates.iter().enumerate() {
        let _ = writeln!(
            s,
            "  candidate {}: {} units, {} passing -> {}",
            k + 2,
            c.units,
            c.passing,
            c.units_path.display()
        );
    }
    if let Some(v) = &outcome.validation {
        s.push_str(&table(v, WIDTH as u16, Verb::Propose));
    }
    let _ = writeln!(s, "  -> {}", units_path.display());
    if let Some(v) = &outcome.validation {
        push_next_steps(&mut s, &next_steps(v, Verb::Propose, outcome.proposal.as_ref()));
    }
    fit_terminal(&s, WIDTH)
}

/// What to do about the failures of a run, one line per kind of failure, each naming its units and the command,
/// layer or edit that addresses it; empty when every unit passes. Exit 1 should never leave a planner guessing.
pub(crate) fn next_steps(v: &Validation, verb: Verb, proposal: Option<&Proposal>) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_code: BTreeMap<&'static str, (Vec<&str>, BTreeSet<String>)> = BTreeMap::new();
    for u in v.units.iter().filter(|u| !u.pass) {
        for (name, c) in &u.checks {
            let CheckResult::Evaluated(e) = c else { continue };
            if e.pass || !v.registry.required(*name) {
                continue;
            }
            for r in &e.reasons {
                let entry = by_code.entry(r.code()).or_default();
                if entry.0.last() != Some(&u.unit_id.as_str()) {
                    entry.0.push(&u.unit_id);
                }
                match r {
                    Reason::MissingFacilities { types } => {
                        entry.1.extend(types.iter().map(|t| t.to_string()))
                    }
                    Reason::ServiceBelow { service, .. } => {
                        entry.1.insert(service.to_string());
                    }
                    Reason::BarrierInside { features, .. } => entry.1.extend(features.iter().cloned()),
                    Reason::SplitsBlocks { blocks, .. } => entry.1.extend(blocks.iter().cloned()),
                    _ => {}
                }
            }
        }
    }
    let site = match verb {
        Verb::Propose => "bmu propose DIR --site",
        Verb::Validate => "bmu site DIR --units UNITS",
    };
    let list = |units: &[&str]| {
        let mut s = units.iter().take(6).copied().collect::<Vec<_>>().join(", ");
        if units.len() > 6 {
            let _ = write!(s, " and {} more", units.len() - 6);
        }
        s
    };
    let words = |w: &BTreeSet<String>| w.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for (code, (units, what)) in &by_code {
        let u = list(units);
        let line = match *code {
            "missing_facilities" => format!(
                "{u} lack required facilities ({} between them): `{site}` proposes where to put them",
                words(what)
            ),
            "service_below" => format!(
                "{u}: too few residents within reach of {}: `{site}` adds the sites that reach them",
                words(what)
            ),
            "population_below" => format!("{u}: below the minimum population: merge each with a neighbour"),
            "area_below" => format!("{u}: below the minimum area: merge each with a neighbour"),
            "unclear_boundary" => format!(
                "{u}: boundary off roads and rivers: redraw it along them, or give the layer of the lines it follows \
                 (--features)"
            ),
            "barrier_inside" => format!(
                "{u}: crossed by {}: split the unit along it, or move the boundary onto it",
                words(what)
            ),
            "splits_blocks" => format!("{u}: split blocks {}: put each block wholly in one unit", words(what)),
            "separate_parts" => format!(
                "{u}: more than one part (an exclave): join each part to the unit it touches, or make it a unit of \
                 its own; a detached part reached by road passes with `--set thresholds.accept_exclaves_by_road=true` \
                 (a road within thresholds.exclave_road_m of both parts)"
            ),
            "invalid_geometry" => format!("{u}: invalid geometry: redraw it, or run with --repair"),
            "overlaps" => format!("{u}: overlap other units: see the overlap pieces in the problems layer"),
            "borders_gaps" => format!("{u}: border gaps in the partition: see the gap pieces in the problems layer"),
            "outside_town" => format!("{u}: reach outside the town: clip them to the town boundary"),
            _ => continue,
        };
        out.push(line);
    }
    if let Some(p) = proposal {
        out.extend(exclaves_left(p));
        out.extend(under_split(v, p));
    }
    out
}

/// Components of `propose` too small for a unit whose blocks were left in no unit (`exclaves = "unassigned"`):
/// name them, and the settings that would place them.
fn exclaves_left(p: &Proposal) -> Option<String> {
    let left: Vec<&str> = p
        .solution
        .components
        .iter()
        .filter(|c| !c.feasible && c.merged_into.is_none())
        .filter_map(|c| c.blocks.first().map(|&b| p.blocks.ids[b].as_str()))
        .collect();
    if left.is_empty() {
        return None;
    }
    let mut blocks = left.iter().take(6).copied().collect::<Vec<_>>().join(", ");
    if left.len() > 6 {
        let _ = write!(blocks, " and {} more", left.len() - 6);
    }
    Some(format!(
        "{} piece(s) of the area too small for a unit left unassigned (holding block(s) {blocks}): \
         `--set propose.exclaves=merge` joins each to the nearest unit, and \
         `--set thresholds.accept_exclaves_by_road=true` accepts the unit in two parts where a road joins them",
        left.len()
    ))
}

/// Units of `propose` big enough for two units whose largest block alone is: no line of the layers crosses that
/// block, so no solver could split it; say which block, and which layers would.
fn under_split(v: &Validation, p: &Proposal) -> Vec<String> {
    let t = &v.thresholds;
    let mut out = Vec::new();
    for unit in p.units.first().into_iter().flatten() {
        if unit.population < 2.0 * t.min_population || unit.area / 1e6 < 2.0 * t.min_area_km2 {
            continue;
        }
        let Some(&big) = unit
            .members
            .iter()
            .max_by(|a, b| p.blocks.area[**a].total_cmp(&p.blocks.area[**b]))
        else {
            continue;
        };
        let (pop, km2) = (p.blocks.population[big], p.blocks.area[big] / 1e6);
        if pop < 2.0 * t.min_population && km2 < 2.0 * t.min_area_km2 {
            continue;
        }
        let split_by = if p.blocks.derived {
            "give the roads, rivers or canals that run through it (--features), or residential committees / \
             villages as blocks (--blocks)"
        } else {
            "give smaller blocks (--blocks)"
        };
        out.push(format!(
            "{} ({:.0} people, {:.2} km²) could hold two units, but its block {} alone has {:.0} people on {km2:.2} \
             km² and no line crosses it: {split_by}",
            unit.id, unit.population, unit.area / 1e6, p.blocks.ids[big], pop
        ));
    }
    out
}

/// `next_steps` as the summary's closing lines.
fn push_next_steps(s: &mut String, steps: &[String]) {
    if steps.is_empty() {
        return;
    }
    s.push_str("What next:\n");
    for step in steps {
        let _ = writeln!(s, "  - {step}");
    }
}

/// Word-wraps every line longer than `width` columns (continuations indented by two spaces), so that the summary
/// reads on an 80-column terminal; the check table already fits and passes through unchanged.
fn fit_terminal(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            let extra = usize::from(!current.trim().is_empty());
            if !current.trim().is_empty() && current.chars().count() + extra + word.chars().count() > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current = "  ".to_string();
            } else if extra == 1 {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(current.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fit_terminal;

    #[test]
    fn long_summary_lines_wrap_to_the_width() {
        let text = "bmu: 90 blocks (derived from features), 8 units proposed, 0 passing; 0 blocks unassigned\nshort\n";
        let out = fit_terminal(text, 80);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        assert_eq!(out.lines().count(), 3);
        assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("  ")));
        assert_eq!(fit_terminal("a\n  b\n", 80), "a\n  b\n");
    }
}
