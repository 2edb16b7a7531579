//! The unit × check table `bmu validate` and `bmu propose` print on stderr, drawn from a
//! [`bmu::validate::Validation`]: a terminal concern, so it lives in the binary and the library prints nothing.

use bmu::validate::Validation;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

/// Only a line under the header: no vertical rules, so that eleven columns fit in 80.
const PRESET: &str = "     ──            ";

/// The unit × check table (✓ pass, ✗ fail, – not evaluated), with population and area, then a legend, the problem
/// counts and the checks not evaluated, wrapped to `width` columns.
pub(crate) fn table(v: &Validation, width: u16) -> String {
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
            wrap(&mut out, &format!("  {name}: {reason}"), width as usize, "    ");
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
