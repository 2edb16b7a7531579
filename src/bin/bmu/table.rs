//! The unit × check table `bmu validate` and `bmu propose` print on stderr, drawn from a
//! [`bmu::validate::Validation`]: a terminal concern, so it lives in the binary and the library prints nothing.

use bmu::validate::{Reason, Validation};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

/// Only a line under the header: no vertical rules, so that eleven columns fit in 80.
const PRESET: &str = "     ──            ";

/// Which command printed the table: the hints for a check not evaluated name that command's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Validate,
    Propose,
}

/// What to give on the command line so that a check not evaluated for `reason` runs: the library's reasons name no
/// flags (the dossier is read by people who never see a terminal), so the terminal adds them here.
pub(crate) fn hint(reason: &Reason, verb: Verb) -> Option<&'static str> {
    Some(match reason {
        Reason::NoPopulationSource => "give --population GRID, or --blocks with --population-field",
        Reason::NoFeatureLayers | Reason::NoBarrierLayers => "give --features",
        Reason::NoFacilitiesLayer => "give --facilities",
        // Blocks propose derives are whole in its units by construction; given blocks replace them.
        Reason::NoBlocksLayer if verb == Verb::Propose => {
            "units are made of whole derived blocks; give --blocks to use residential committees / villages instead"
        }
        Reason::NoBlocksLayer => "give --blocks",
        _ => return None,
    })
}

/// The unit × check table (✓ pass, ✗ fail, – not evaluated), with population and area, then a legend, the problem
/// counts and the checks not evaluated (with the flags that would evaluate them), wrapped to `width` columns.
pub(crate) fn table(v: &Validation, width: u16, verb: Verb) -> String {
    let mut t = Table::new();
    t.load_preset(PRESET)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    let mut header = vec![Cell::new("unit"), Cell::new("people"), Cell::new("km²")];
    // Three-letter headers, so that the table fits 80 columns; the legend explains them.
    let columns: Vec<_> = v.registry.iter().filter_map(|c| Some((c, c.column()?))).collect();
    header.extend(columns.iter().map(|(_, h)| Cell::new(h)));
    header.push(Cell::new("pass"));
    t.set_header(header);
    for u in &v.units {
        let id: String = if u.unit_id.chars().count() > 14 {
            u.unit_id.chars().take(13).chain(['…']).collect()
        } else {
            u.unit_id.clone()
        };
        let mut row = vec![
            Cell::new(id),
            Cell::new(u.population.map_or("–".into(), |p| format!("{p:.0}")))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", u.area_km2)).set_alignment(CellAlignment::Right),
        ];
        for (check, _) in &columns {
            let text = match (u.checks.get(&check.name()), check.required()) {
                (Some(c), false) => c.value().map_or("–".into(), |x| format!("{x:.2}")),
                (Some(c), true) => match c.pass() {
                    Some(true) => "✓".into(),
                    Some(false) => "✗".into(),
                    None => "–".into(),
                },
                (None, _) => "–".into(),
            };
            row.push(Cell::new(text).set_alignment(CellAlignment::Center));
        }
        row.push(Cell::new(if u.pass { "✓" } else { "✗" }).set_alignment(CellAlignment::Center));
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 1));
    }
    let th = &v.thresholds;
    let mut out = t.to_string();
    out.push('\n');
    let entries: Vec<String> = columns
        .iter()
        .map(|(c, h)| format!("{h} {}", c.legend(th)))
        .collect();
    let legend = format!(
        "{} of {} units pass. ✓ pass, ✗ fail, – not evaluated. {}.",
        v.summary.passing,
        v.summary.units,
        entries.join("; ")
    );
    wrap(&mut out, &legend, width as usize, "");
    if !v.summary.problems.is_empty() {
        let p: Vec<String> = v
            .summary
            .problems
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        wrap(
            &mut out,
            &format!("Problems: {}.", p.join(", ")),
            width as usize,
            "",
        );
    }
    if !v.summary.not_evaluated.is_empty() {
        out.push_str("Not evaluated:\n");
        for (name, reason) in &v.summary.not_evaluated {
            let mut line = format!("  {name}: {}", reason.text(bmu::report::Lang::English));
            if let Some(h) = hint(reason, verb) {
                line = format!("{line}: {h}");
            }
            wrap(&mut out, &line, width as usize, "    ");
        }
    }
    out
}

/// Appends `text` word-wrapped to `width` columns (its leading spaces kept), continuation lines starting with `indent`.
fn wrap(out: &mut String, text: &str, width: usize, indent: &str) {
    let body = text.trim_start();
    let mut line = text[..text.len() - body.len()].to_string();
    let mut fresh = true;
    for word in body.split_whitespace() {
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bmu::config::Thresholds;
    use bmu::report::Lang;
    use bmu::validate::check::{Basis, Check, Context, Evaluation, LayerResult, Subject};
    use bmu::validate::{CheckName, CheckResult, Evaluated, Registry, Summary, UnitReport};

    /// A check that exists only in this test.
    struct Cap;

    impl Check for Cap {
        fn name(&self) -> CheckName {
            CheckName("cap")
        }
        fn label(&self) -> (&'static str, &'static str) {
            ("上限", "Cap")
        }
        fn column(&self) -> Option<&'static str> {
            Some("cap")
        }
        fn legend(&self, _t: &Thresholds) -> String {
            "at most 3 things".into()
        }
        fn basis(&self) -> Basis {
            Basis {
                clause: "test",
                text: "",
                verbatim: false,
                translation: "",
                rule: ("", ""),
                source: ("", ""),
            }
        }
        fn threshold(&self, _t: &Thresholds, _lang: Lang) -> String {
            "≤ 3".into()
        }
        fn short_threshold(&self, _t: &Thresholds) -> String {
            "≤ 3".into()
        }
        fn value_text(&self, e: &Evaluated) -> String {
            format!("{}", e.value)
        }
        fn evaluate(&self, _u: &Subject, _c: &Context, _l: Option<&LayerResult>) -> bmu::Result<Evaluation> {
            Ok(CheckResult::evaluated(false, 4.0, Some(3.0)).into())
        }
    }

    #[test]
    fn a_check_added_to_the_registry_gets_a_column_and_a_legend_entry() {
        let registry = Registry::standard().with(Cap);
        let mut checks = indexmap::IndexMap::new();
        checks.insert(CheckName::MinArea, CheckResult::evaluated(true, 3.0, Some(2.0)));
        checks.insert(CheckName("cap"), CheckResult::evaluated(false, 4.0, Some(3.0)));
        let v = Validation {
            summary: Summary {
                units: 1,
                passing: 0,
                problems: Default::default(),
                not_evaluated: Default::default(),
            },
            units: vec![UnitReport {
                unit_id: "U1".into(),
                population: None,
                area_km2: 3.0,
                pass: false,
                checks,
            }],
            thresholds: Thresholds::default(),
            problems: Vec::new(),
            registry,
        };
        let text = table(&v, 200, Verb::Validate);
        let header = text.lines().next().unwrap();
        assert!(header.contains(" PP ") && header.contains(" cap "), "{header}");
        assert!(header.find(" PP ") < header.find(" cap "));
        let row = text.lines().nth(2).unwrap();
        assert_eq!(row.matches('✗').count(), 2, "{row}");
        assert!(text.contains("PP Polsby–Popper compactness (reported only); cap at most 3 things."));
    }

    #[test]
    fn check_reasons_name_no_flags_but_the_terminal_adds_them() {
        let mut checks = indexmap::IndexMap::new();
        checks.insert(
            CheckName::CommunityIntegrity,
            CheckResult::not_evaluated(Reason::NoBlocksLayer),
        );
        let mut not_evaluated = indexmap::IndexMap::new();
        not_evaluated.insert(CheckName::CommunityIntegrity, Reason::NoBlocksLayer);
        let v = Validation {
            summary: Summary {
                units: 1,
                passing: 1,
                problems: Default::default(),
                not_evaluated,
            },
            units: vec![UnitReport {
                unit_id: "U1".into(),
                population: None,
                area_km2: 3.0,
                pass: true,
                checks,
            }],
            thresholds: Thresholds::default(),
            problems: Vec::new(),
            registry: Registry::standard(),
        };
        assert!(!Reason::NoBlocksLayer.text(Lang::English).contains("--"));
        let text = table(&v, 200, Verb::Validate);
        assert!(
            text.contains(
                "community_integrity: no blocks layer (residential committees / villages): give --blocks"
            ),
            "{text}"
        );
        let text = table(&v, 200, Verb::Propose);
        assert!(text.contains("units are made of whole derived blocks"), "{text}");
    }
}
