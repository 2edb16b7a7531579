//! The verbs as whole jobs: open the population source a study area names, run the stage, write every output.
//!
//! The binary only parses flags; everything a verb does to files lives here, so tests and other programs can run
//! exactly what `bmu` runs.

use crate::io::{self, atomic::Staging};
use crate::model::StudyArea;
use crate::model::{FeatureClass, LineFeature};
use crate::population::report::open_source;
use crate::population::source::PopulationSource;
use crate::progress::{self, Stage};
use crate::propose::pipeline::{self, output};
use crate::report::json::{self as rjson, ProposalDetail, ProposalReport, Report, StudyInfo};
use crate::validate::output as vout;
use crate::validate::BlockCounts;
use crate::validate::{Unit, Validation};
use crate::{Error, Result};
use geo::{MultiLineString, MultiPolygon};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where a verb writes.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// The units layer.
    pub units: PathBuf,
    /// The blocks layer with each block's unit.
    pub blocks: Option<PathBuf>,
    /// The report JSON.
    pub report: Option<PathBuf>,
    /// The segments the cleaning step inferred (written only when there are any).
    pub inferred: Option<PathBuf>,
    /// The problem geometries of the best candidate.
    pub problems: Option<PathBuf>,
}

impl Outputs {
    /// Reserves every file `propose` may write (with `candidates` ranked candidates), before the work, so that an
    /// output that is an input or another output is refused before anything is computed.
    pub fn claim(&self, staging: &mut Staging, candidates: usize) -> Result<()> {
        claim_layer(&self.units, "the units output (--out)", staging)?;
        for k in 2..=candidates {
            let role = format!("the units of candidate {k} (beside --out)");
            staging.claim(&candidate_path(&self.units, k), &role)?;
        }
        if let Some(p) = &self.blocks {
            claim_layer(p, "the blocks output (--blocks-out)", staging)?;
        }
        if let Some(p) = &self.report {
            staging.claim(p, "the report (--report)")?;
        }
        claim_problems(self.problems.as_deref(), staging)?;
        if let Some(p) = &self.inferred {
            staging.claim(p, "the inferred lines (beside --out)")?;
        }
        Ok(())
    }
}

/// Claims a layer output after checking that its extension names a format `bmu` writes, so that a misnamed `--out`
/// is refused before the work, not after it.
fn claim_layer(path: &Path, role: &str, staging: &mut Staging) -> Result<()> {
    io::Format::of(path)?;
    staging.claim(path, role)
}

fn claim_problems(problems: Option<&Path>, staging: &mut Staging) -> Result<()> {
    if let Some(p) = problems {
        claim_layer(p, "the problems output (--problems)", staging)?;
        if io::Format::of(p)? == io::Format::Shapefile {
            staging.claim(
                &vout::problem_lines_path(p),
                "the problem lines (beside --problems)",
            )?;
        }
    }
    Ok(())
}

/// What a verb found: data for the caller to show (the binary draws the terminal summary and table from it).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every unit passes every evaluated check.
    pub all_pass: bool,
    /// The report, as `report.json` holds it.
    pub report: Report,
    /// The units checked (best candidate for `propose`).
    pub units: Vec<Unit>,
    /// The validation of `units` (None when there were no units).
    pub validation: Option<Validation>,
    /// The proposal (`propose` only): blocks, candidates, components.
    pub proposal: Option<pipeline::Proposal>,
    /// Notes on reading the units (`validate` only), such as parts dropped or ids made up.
    pub notes: Vec<String>,
    /// Every problems file written: a Shapefile's lines go to a second file beside its polygons.
    pub problem_files: Vec<PathBuf>,
    /// The candidates after the best (`propose` only), ranked 2, 3, ….
    pub other_candidates: Vec<Candidate>,
    /// Blocks in no unit of the best candidate (`propose` only).
    pub unassigned_blocks: usize,
    /// The population source, as the report names it.
    pub population_source: Option<String>,
}

/// A ranked candidate partition of `propose` beyond the best one.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Where its units layer went ([`candidate_path`]).
    pub units_path: PathBuf,
    /// How many units it has.
    pub units: usize,
    /// How many of them pass every check.
    pub passing: usize,
    /// Its validation (None when it has no units), kept so that reports never validate it again.
    pub validation: Option<Validation>,
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
    Ok(BlockCounts::from_area(area).map(|b| Box::new(b) as Box<dyn PopulationSource>))
}

/// Every file a study area was read from (layers and the population source; `bmu.toml` is the caller's to add),
/// for [`Staging::new`].
pub fn inputs(area: &StudyArea) -> Vec<PathBuf> {
    let mut v = area.inputs.clone();
    if let Some(g) = area.config.population.as_ref().and_then(|p| p.grid.as_ref()) {
        v.push(g.clone());
    }
    v
}

fn write_json(path: &Path, value: &Report, staging: &mut Staging) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::format(path, e.to_string()))?;
    s.push('\n');
    staging.write(path, s.as_bytes())
}

/// Where `bmu validate` writes.
#[derive(Clone, Debug, Default)]
pub struct ValidateOutputs {
    /// The units with a value, threshold and pass column per check.
    pub units: Option<PathBuf>,
    /// The problem geometries.
    pub problems: Option<PathBuf>,
    /// The report JSON.
    pub report: Option<PathBuf>,
}

impl ValidateOutputs {
    /// Reserves every file `validate` may write, before the work (see [`Outputs::claim`]).
    pub fn claim(&self, staging: &mut Staging) -> Result<()> {
        if let Some(p) = &self.units {
            claim_layer(p, "the units output (--out)", staging)?;
        }
        claim_problems(self.problems.as_deref(), staging)?;
        if let Some(p) = &self.report {
            staging.claim(p, "the report (--report)")?;
        }
        Ok(())
    }
}

/// Writes a validation's units, problems and report; returns the paths of the problem files written.
fn write_validation(
    area: &StudyArea,
    v: &Validation,
    units: &[Unit],
    out: &ValidateOutputs,
    extra: impl Fn(usize, &mut serde_json::Map<String, Value>),
    report: &Report,
    staging: &mut Staging,
) -> Result<Vec<PathBuf>> {
    if let Some(p) = &out.units {
        // Uncut: the Shapefile writer moves text too long for a DBF to a side table instead of cutting it.
        let mut features = vout::unit_features(v, units, None);
        for (i, f) in features.iter_mut().enumerate() {
            extra(i, &mut f.properties);
        }
        io::stage_layer(p, &area.working_crs, &features, staging)?;
    }
    let mut written = Vec::new();
    if let Some(p) = &out.problems {
        written = vout::write_problems(p, &area.working_crs, v, staging)?;
    }
    if let Some(p) = &out.report {
        write_json(p, report, staging)?;
    }
    Ok(written)
}

/// `bmu validate`: every policy rule checked on a drawn partition. Outputs go into `staging`, for the caller to
/// commit once everything else the run writes is written too.
pub fn validate(
    area: &StudyArea,
    units_path: &Path,
    id_field: Option<&str>,
    out: &ValidateOutputs,
    staging: &mut Staging,
) -> Result<Outcome> {
    use crate::progress::timed;
    let mut notes = Vec::new();
    let units = timed("read units", || {
        crate::validate::read_units(units_path, id_field, area, &mut notes)
    })?;
    validate_units(area, units, notes, out, staging)
}

/// [`validate`] of units already read (`bmu batch` reads a district's units once and hands each town its own).
pub fn validate_units(
    area: &StudyArea,
    units: Vec<Unit>,
    notes: Vec<String>,
    out: &ValidateOutputs,
    staging: &mut Staging,
) -> Result<Outcome> {
    use crate::progress::timed;
    let source = timed("open population source", || population_source(area))?;
    if let Some(s) = &source {
        let all: Vec<MultiPolygon<f64>> = units.iter().map(|u| u.geometry.clone()).collect();
        s.check_covers(&all)?;
    }
    progress::stage(Stage::Validate);
    let v = timed("validate", || {
        crate::validate::validate(area, &units, source.as_deref())
    })?;
    let report = Report::of_validation(&v, source.as_ref().map(|s| s.describe()));
    progress::stage(Stage::Write);
    let written = timed("write outputs", || {
        write_validation(area, &v, &units, out, |_, _| {}, &report, staging)
    })?;
    Ok(Outcome {
        all_pass: v.pass(),
        report,
        units,
        validation: Some(v),
        proposal: None,
        notes,
        problem_files: written,
        other_candidates: Vec::new(),
        unassigned_blocks: 0,
        population_source: source.as_ref().map(|s| s.describe()),
    })
}

/// Where candidate `rank` (2, 3, …) of `propose` goes, beside the main units layer: `units.geojson` →
/// `units.cand2.geojson`.
pub fn candidate_path(units: &Path, rank: usize) -> PathBuf {
    let stem = units
        .file_stem()
        .map_or_else(|| "units".into(), |s| s.to_string_lossy().into_owned());
    let ext = units
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    units.with_file_name(format!("{stem}.cand{rank}{ext}"))
}

/// `bmu propose`: blocks, max-p, dissolved units, every candidate validated, outputs. The best candidate is the
/// main output (units, blocks, problems, report); candidate k > 1 writes its units to [`candidate_path`]. Outputs go
/// into `staging`, for the caller to commit.
pub fn propose(area: &StudyArea, outputs: &Outputs, staging: &mut Staging) -> Result<Outcome> {
    propose_with(area, &pipeline::Constraints::default(), outputs, staging)
}

/// [`propose`] around locked units and from an initial plan (`bmu propose --lock/--initial`).
pub fn propose_with(
    area: &StudyArea,
    constraints: &pipeline::Constraints,
    outputs: &Outputs,
    staging: &mut Staging,
) -> Result<Outcome> {
    propose_then_site(area, constraints, outputs, None, staging).map(|(o, _)| o)
}

/// What `bmu site` (and `propose --site`) is asked for: how to choose, the planner's candidates, where to write.
#[derive(Clone, Debug)]
pub struct SiteJob {
    /// How to choose.
    pub options: crate::site::SiteOptions,
    /// The planner's candidate sites (None: a lattice in each unit).
    pub candidates: Option<Vec<crate::site::candidates::SiteCandidate>>,
    /// The sites layer.
    pub out: PathBuf,
    /// The site report (before/after per unit and type).
    pub report: PathBuf,
}

/// `bmu propose --site`: [`propose_with`], then the missing facilities sited for the best candidate, so that every
/// output (units with their check columns, problems, report, dossier) shows the plan with the proposed sites.
pub fn propose_site(
    area: &StudyArea,
    constraints: &pipeline::Constraints,
    outputs: &Outputs,
    job: &SiteJob,
    staging: &mut Staging,
) -> Result<(Outcome, crate::site::Plan)> {
    let (outcome, plan) = propose_then_site(area, constraints, outputs, Some(job), staging)?;
    let plan = plan.ok_or_else(|| Error::input("site", "propose found no units to site facilities for"))?;
    Ok((outcome, plan))
}

fn propose_then_site(
    area: &StudyArea,
    constraints: &pipeline::Constraints,
    outputs: &Outputs,
    site: Option<&SiteJob>,
    staging: &mut Staging,
) -> Result<(Outcome, Option<crate::site::Plan>)> {
    let source = population_source(area)?;
    let population = |polys: &[MultiPolygon<f64>], given: Option<&pipeline::SourcePolygons>| {
        progress::stage(Stage::Population);
        let counts = match &source {
            Some(s) => given
                .and_then(|(g, crs)| s.population_in(g, crs))
                .unwrap_or_else(|| s.population(polys)),
            None => Err(Error::input("propose", "no population source")),
        };
        // Population is the last step before max-p.
        progress::stage(Stage::Propose);
        counts
    };
    if let (Some(s), Some(town)) = (&source, area.town_or_blocks()) {
        s.check_covers(&[town])?;
    }
    let has_source = source.is_some();
    progress::stage(Stage::Blocks);
    let proposal = pipeline::propose_with(
        area,
        has_source.then_some(&population as &pipeline::PopulationFn),
        constraints,
    )?;

    // Validate with the lines the cleaning step inferred, so boundary clarity can count them when configured.
    // Cloned only when there are inferred lines to add: a clone holds every given block twice more (working and
    // source geometry), the largest single cost of memory at a million blocks.
    let checked_area: std::borrow::Cow<StudyArea> = if proposal.blocks.inferred.is_empty() {
        std::borrow::Cow::Borrowed(area)
    } else {
        let mut a = area.clone();
        a.lines.extend(
            proposal
                .blocks
                .inferred
                .iter()
                .enumerate()
                .map(|(i, l)| LineFeature {
                    id: format!("I{:03}", i + 1),
                    class: FeatureClass::Road,
                    name: None,
                    geometry: MultiLineString(vec![l.clone()]),
                    inferred: true,
                }),
        );
        std::borrow::Cow::Owned(a)
    };
    progress::stage(Stage::Validate);
    // One context (feature indexes) for every candidate.
    let ctx = progress::timed("feature indexes", || {
        crate::validate::Context::new(&checked_area, source.as_deref())
    });
    let registry = crate::validate::Registry::standard();
    // Every candidate through the validate engine: its units and their validation (None without units).
    let mut checked: Vec<(Vec<Unit>, Option<Validation>)> = Vec::with_capacity(proposal.units.len());
    for candidate in &proposal.units {
        let units: Vec<Unit> = candidate
            .iter()
            .map(|u| Unit {
                // The sum of the unit's blocks: the number max-p held against the bound, so the solver and the
                // check never disagree on a unit built at exactly the bound.
                population: has_source.then_some(u.population),
                ..Unit::new(u.id.clone(), u.geometry.clone())
            })
            .collect();
        let v = if units.is_empty() {
            None
        } else {
            Some(crate::validate::validate_with(&ctx, &registry, &units)?)
        };
        checked.push((units, v));
    }
    let (units, mut v) = checked.first().cloned().unwrap_or_default();
    // The plan with the proposed sites replaces the best candidate's validation in every output.
    let plan = match site {
        None => None,
        Some(_) if units.is_empty() => {
            return Err(Error::input(
                "site",
                "propose found no units to site facilities for",
            ))
        }
        Some(job) => {
            let s = source
                .as_deref()
                .ok_or_else(|| Error::input("site", "no population source"))?;
            progress::stage(Stage::Validate);
            let plan = crate::site::plan(area, &units, s, job.candidates.as_deref(), &job.options)?;
            v = Some(plan.after.clone());
            if let Some(first) = checked.first_mut() {
                first.1 = v.clone();
            }
            Some(plan)
        }
    };
    let unassigned = rjson::unassigned_blocks(&proposal, 0);
    let described = source.as_ref().map(|s| s.describe());
    let mut report = match &v {
        Some(v) => Report::of_validation(v, described),
        None => Report::empty(&area.config.thresholds, described),
    };
    report.study = Some(StudyInfo {
        study_area: area.name.clone(),
        working_crs: area.working_crs.to_string(),
    });
    report.proposed_sites = plan.as_ref().map(crate::site::Plan::sites_report);
    report.proposal = Some(ProposalReport {
        settings: area.config.propose.clone(),
        proposal: ProposalDetail::of(&proposal),
        unassigned_blocks: unassigned.clone(),
        candidates: proposal
            .solution
            .candidates
            .iter()
            .zip(&checked)
            .enumerate()
            .map(|(k, (c, (_, v)))| {
                let path = if k == 0 {
                    outputs.units.clone()
                } else {
                    candidate_path(&outputs.units, k + 1)
                };
                rjson::CandidateRow {
                    rank: k + 1,
                    p: c.p,
                    passing: v.as_ref().map_or(0, |v| v.summary.passing),
                    score: rjson::Score {
                        p: c.score.p,
                        compactness: (c.score.compactness * 1e4).round() / 1e4,
                        balance: (c.score.balance * 1e4).round() / 1e4,
                    },
                    units: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                }
            })
            .collect(),
    });
    let members_of = |k: usize| {
        let candidate = proposal.units.get(k).cloned().unwrap_or_default();
        let ids = proposal.blocks.ids.clone();
        move |i: usize, props: &mut serde_json::Map<String, Value>| {
            if let Some(u) = candidate.get(i) {
                props.insert(
                    "blocks".into(),
                    Value::Array(u.members.iter().map(|&b| json!(ids[b])).collect()),
                );
            }
        }
    };
    progress::stage(Stage::Write);
    let mut problem_files = Vec::new();
    if let Some(v) = &v {
        let vouts = ValidateOutputs {
            units: Some(outputs.units.clone()),
            problems: outputs.problems.clone(),
            report: outputs.report.clone(),
        };
        problem_files = write_validation(area, v, &units, &vouts, members_of(0), &report, staging)?;
    } else if let Some(path) = &outputs.report {
        write_json(path, &report, staging)?;
    }
    for (k, (cand_units, cand_v)) in checked.iter().enumerate().skip(1) {
        if let Some(cv) = cand_v {
            let vouts = ValidateOutputs {
                units: Some(candidate_path(&outputs.units, k + 1)),
                ..Default::default()
            };
            write_validation(area, cv, cand_units, &vouts, members_of(k), &report, staging)?;
        }
    }
    if let (Some(plan), Some(job)) = (&plan, site) {
        plan.stage(area, &job.out, Some(&job.report), staging)?;
    }
    if let Some(path) = &outputs.blocks {
        io::stage_layer(
            path,
            &area.working_crs,
            &output::block_features(&proposal, 0),
            staging,
        )?;
    }
    if let Some(path) = &outputs.inferred {
        if !proposal.blocks.inferred.is_empty() {
            io::stage_layer(
                path,
                &area.working_crs,
                &output::inferred_features(&proposal),
                staging,
            )?;
        }
    }
    let other_candidates = checked
        .into_iter()
        .enumerate()
        .skip(1)
        .map(|(k, (cand_units, cv))| Candidate {
            units_path: candidate_path(&outputs.units, k + 1),
            units: cand_units.len(),
            passing: cv.as_ref().map_or(0, |v| v.summary.passing),
            validation: cv,
        })
        .collect();
    let outcome = Outcome {
        all_pass: v.as_ref().is_some_and(|v| v.pass()) && unassigned.is_empty(),
        report,
        units,
        validation: v,
        proposal: Some(proposal),
        notes: Vec::new(),
        problem_files,
        other_candidates,
        unassigned_blocks: unassigned.len(),
        population_source: source.as_ref().map(|s| s.describe()),
    };
    Ok((outcome, plan))
}

/// `bmu site`: the missing facilities of `units` sited and staged (sites, site report); the outcome is the units
/// judged with the sites, for the dossier and the map.
pub fn site(
    area: &StudyArea,
    units: Vec<Unit>,
    notes: Vec<String>,
    job: &SiteJob,
    staging: &mut Staging,
) -> Result<(Outcome, crate::site::Plan)> {
    let source = population_source(area)?.ok_or_else(|| {
        Error::input(
            "site",
            "no population source: give --population GRID, or --blocks with --population-field",
        )
    })?;
    site_units(area, source.as_ref(), units, notes, job, staging)
}

/// `bmu site --assignment`: the units of a `block_id,unit_id` plan (read as `validate --assignment` reads it, so
/// a plan the editor saved), sited as [`site`] sites them.
pub fn site_assignment(
    area: &StudyArea,
    assignment: &Path,
    job: &SiteJob,
    staging: &mut Staging,
) -> Result<(Outcome, crate::site::Plan)> {
    progress::stage(Stage::Blocks);
    let session = crate::edit::Session::open(area)?;
    let table = crate::edit::assignment::read(assignment, &session.blocks.ids)?;
    let plan = crate::edit::Plan::new(&session, &table)?;
    let units = plan.units();
    if units.is_empty() {
        return Err(Error::format(assignment, "assigns no block to a unit"));
    }
    let unassigned = table.iter().filter(|u| u.is_none()).count();
    let mut notes = Vec::new();
    if unassigned > 0 {
        notes.push(format!("{unassigned} block(s) in no unit"));
    }
    let source = session
        .source
        .as_deref()
        .ok_or_else(|| Error::input("site", "no population source"))?;
    let (mut outcome, plan) = site_units(&session.area, source, units, notes, job, staging)?;
    outcome.report.plan_unassigned_blocks = Some(unassigned);
    outcome.unassigned_blocks = unassigned;
    outcome.all_pass &= unassigned == 0;
    Ok((outcome, plan))
}

fn site_units(
    area: &StudyArea,
    source: &dyn PopulationSource,
    units: Vec<Unit>,
    notes: Vec<String>,
    job: &SiteJob,
    staging: &mut Staging,
) -> Result<(Outcome, crate::site::Plan)> {
    progress::stage(Stage::Validate);
    let plan = crate::site::plan(area, &units, source, job.candidates.as_deref(), &job.options)?;
    progress::stage(Stage::Write);
    plan.stage(area, &job.out, Some(&job.report), staging)?;
    let mut report = Report::of_validation(&plan.after, Some(source.describe()));
    report.proposed_sites = Some(plan.sites_report());
    let outcome = Outcome {
        all_pass: plan.all_pass(),
        report,
        units,
        validation: Some(plan.after.clone()),
        proposal: None,
        notes,
        problem_files: Vec::new(),
        other_candidates: Vec::new(),
        unassigned_blocks: 0,
        population_source: Some(source.describe()),
    };
    Ok((outcome, plan))
}

/// `bmu validate --assignment`: the study area's blocks (given, or derived as `propose` derives them) grouped into
/// units as the `block_id,unit_id` table says, dissolved, and checked — the plan `bmu serve` saves, validated by the
/// same engine. Outputs go into `staging`, for the caller to commit.
pub fn validate_assignment(
    area: &StudyArea,
    assignment: &Path,
    out: &ValidateOutputs,
    staging: &mut Staging,
) -> Result<Outcome> {
    use crate::progress::timed;
    progress::stage(Stage::Blocks);
    let session = crate::edit::Session::open(area)?;
    let table = timed("read assignment", || {
        crate::edit::assignment::read(assignment, &session.blocks.ids)
    })?;
    progress::stage(Stage::Validate);
    let plan = crate::edit::Plan::new(&session, &table)?;
    let v = plan
        .validation()
        .cloned()
        .ok_or_else(|| Error::format(assignment, "assigns no block to a unit"))?;
    let units = plan.units();
    let unassigned = table.iter().filter(|u| u.is_none()).count();
    let source = session.source.as_ref().map(|s| s.describe());
    let mut report = Report::of_validation(&v, source.clone());
    report.plan_unassigned_blocks = Some(unassigned);
    progress::stage(Stage::Write);
    let written = timed("write outputs", || {
        write_validation(area, &v, &units, out, |_, _| {}, &report, staging)
    })?;
    let mut notes = Vec::new();
    if unassigned > 0 {
        notes.push(format!("{unassigned} block(s) in no unit"));
    }
    Ok(Outcome {
        all_pass: v.pass() && unassigned == 0,
        report,
        units,
        validation: Some(v),
        proposal: None,
        notes,
        problem_files: written,
        other_candidates: Vec::new(),
        unassigned_blocks: unassigned,
        population_source: source,
    })
}
