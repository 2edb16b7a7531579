//! The verbs as whole jobs: open the population source a study area names, run the stage, write every output.
//!
//! The binary only parses flags; everything a verb does to files lives here, so tests and other programs can run
//! exactly what `bmu` runs.

use crate::io::{self, atomic, OutFeature};
use crate::model::StudyArea;
use crate::population::report::open_source;
use crate::population::source::{BlockCounts, PopulationSource};
use crate::propose::pipeline::{self, output};
use crate::{Error, Result};
use geo::{Geometry, MultiPolygon};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where a verb writes.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub units: PathBuf,
    pub blocks: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub inferred: Option<PathBuf>,
}

/// What a verb found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Human-readable summary for the terminal.
    pub summary: String,
    /// Every unit passes every evaluated check.
    pub all_pass: bool,
    pub report: Value,
}

/// The population source of a study area: its grid or points when configured, else the blocks' counts.
pub fn population_source(area: &StudyArea) -> Result<Option<Box<dyn PopulationSource>>> {
    if let Some(p) = &area.config.population {
        if let Some(grid) = &p.grid {
            return Ok(Some(open_source(
                grid,
                p.grid_crs.as_deref(),
                p.field.as_deref(),
                &area.working_crs,
            )?));
        }
    }
    if let Some(blocks) = &area.blocks {
        if blocks.iter().all(|b| b.population.is_some()) {
            return Ok(Some(Box::new(BlockCounts {
                blocks: blocks
                    .iter()
                    .map(|b| (b.geometry.clone(), b.population.unwrap_or(0.0)))
                    .collect(),
            })));
        }
    }
    Ok(None)
}

fn inputs(area: &StudyArea) -> Vec<&Path> {
    let mut v: Vec<&Path> = area.inputs.iter().map(PathBuf::as_path).collect();
    if let Some(g) = area.config.population.as_ref().and_then(|p| p.grid.as_deref()) {
        v.push(g);
    }
    v
}

fn write_json(path: &Path, value: &Value, inputs: &[&Path]) -> Result<()> {
    atomic::refuse_input_overwrite(path, inputs)?;
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::format(path, e.to_string()))?;
    s.push('\n');
    atomic::write_bytes(path, s.as_bytes())
}

/// `bmu propose`: blocks, max-p, dissolved units, outputs.
pub fn propose(area: &StudyArea, outputs: &Outputs) -> Result<Outcome> {
    let source = population_source(area)?;
    let population = |polys: &[MultiPolygon<f64>]| match &source {
        Some(s) => s.population(polys),
        None => Err(Error::input("propose", "no population source")),
    };
    let has_source = source.is_some();
    let proposal = pipeline::propose(area, has_source.then_some(&population as &pipeline::PopulationFn))?;
    let ins = inputs(area);

    let best = proposal.units.first().cloned().unwrap_or_default();
    let t = &area.config.thresholds;
    let unit_features: Vec<OutFeature> = best
        .iter()
        .map(|u| {
            let mut props = output::unit_properties(&proposal, u);
            let pop_ok = u.population >= t.min_population;
            let area_ok = u.area / 1e6 >= t.min_area_km2;
            props.insert("min_population_pass".into(), json!(pop_ok));
            props.insert("min_area_pass".into(), json!(area_ok));
            props.insert("pass".into(), json!(pop_ok && area_ok));
            OutFeature {
                geometry: Some(Geometry::MultiPolygon(u.geometry.clone())),
                properties: props,
            }
        })
        .collect();
    io::write_layer(&outputs.units, &area.working_crs, &unit_features, &ins)?;
    if let Some(path) = &outputs.blocks {
        io::write_layer(path, &area.working_crs, &output::block_features(&proposal, 0), &ins)?;
    }
    if let Some(path) = &outputs.inferred {
        if !proposal.blocks.inferred.is_empty() {
            io::write_layer(path, &area.working_crs, &output::inferred_features(&proposal), &ins)?;
        }
    }
    let unassigned = output::unassigned_blocks(&proposal, 0);
    let passing = unit_features
        .iter()
        .filter(|f| f.properties.get("pass") == Some(&Value::Bool(true)))
        .count();
    let report = json!({
        "study_area": area.name,
        "working_crs": area.working_crs.to_string(),
        "population_source": source.as_ref().map(|s| s.describe()),
        "thresholds": t,
        "settings": area.config.propose,
        "summary": {
            "units": best.len(),
            "passing": passing,
            "unassigned_blocks": unassigned.len(),
        },
        "proposal": output::proposal_json(&proposal),
        "unassigned_blocks": unassigned,
    });
    if let Some(path) = &outputs.report {
        write_json(path, &report, &ins)?;
    }

    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "bmu: {} blocks ({}), {} units proposed, {} passing; {} blocks unassigned",
        proposal.blocks.ids.len(),
        if proposal.blocks.derived { "derived from features" } else { "given" },
        best.len(),
        passing,
        unassigned.len()
    );
    for u in &best {
        let _ = writeln!(
            summary,
            "  {:<5} {:>9.0} people  {:>6.2} km²  {:>3} blocks",
            u.id,
            u.population,
            u.area / 1e6,
            u.members.len()
        );
    }
    for c in proposal.solution.components.iter().filter(|c| !c.feasible) {
        let _ = writeln!(
            summary,
            "  component of {} blocks ({:.0} people, {:.2} km²) cannot form a unit: {}",
            c.blocks.len(),
            c.population,
            c.area / 1e6,
            c.reason.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(summary, "  -> {}", outputs.units.display());
    Ok(Outcome {
        summary,
        all_pass: passing == best.len() && unassigned.is_empty(),
        report,
    })
}
