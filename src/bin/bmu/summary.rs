//! What `bmu validate` and `bmu propose` print on stderr when they finish: the `bmu:`-prefixed lines and the check
//! table, drawn from the library's [`bmu::run::Outcome`] and wrapped for an 80-column terminal.

use crate::table::{table, Verb};
use bmu::run::Outcome;
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
    if outcome.problem_files.len() > 1 {
        let names: Vec<String> = outcome
            .problem_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let _ = writeln!(s, "problems written to {}", names.join(" and "));
    }
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
    fit_terminal(&s, WIDTH)
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
