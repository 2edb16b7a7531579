//! The `bmu` command line: a thin layer that turns flags into a [`bmu::config::Config`] and calls the library.
//!
//! Exit codes: 0 success, 1 checks found problems, 2 error (one line naming the file, the feature and the problem).

mod batch;
mod population;
mod serve;
mod summary;
mod table;

use anyhow::Context;
use bmu::config::{BlocksConfig, Config, FacilitiesConfig, FeatureLayerConfig, PopulationConfig, TownConfig};
use bmu::io::atomic::Staging;
use bmu::progress::{Progress, Stage};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "bmu",
    version,
    about = "Delineate and validate basic management units (基本管理单元)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress spinners or summaries on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More detail on stderr: the time of every stage, the files written; twice (-vv), the steps inside validation
    /// and each check's thread time.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Summarise a study area: layers, CRS, town area, features by class, facilities, warnings.
    Inspect {
        #[command(flatten)]
        area: AreaArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Population of polygons from a grid (exact cell fractions), points or nothing else.
    Population(population::Args),
    /// Propose candidate partitions of a town into units that meet every rule.
    Propose {
        #[command(flatten)]
        area: AreaArgs,
        /// Random seed (same seed, same output, whatever the thread count).
        #[arg(long)]
        seed: Option<u64>,
        /// Number of ranked candidate partitions.
        #[arg(long)]
        candidates: Option<usize>,
        /// Require every unit to hold every required "3+3" facility type.
        #[arg(long)]
        require_facilities: bool,
        /// Units layer (.geojson, .shp, .gpkg, .kml, .csv or .xlsx). Default: out/units.geojson in the study-area
        /// folder (else here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Blocks layer with each block's unit. Default: next to --out as blocks.geojson.
        #[arg(long)]
        blocks_out: Option<PathBuf>,
        /// Report JSON. Default: next to --out as report.json.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Problem geometries of the best candidate. Default: next to --out as problems.geojson.
        #[arg(long)]
        problems: Option<PathBuf>,
        /// Then site the missing "3+3" facilities for the best candidate (as `bmu site`): sites.geojson and
        /// site.json next to --out; the exit code judges the units with the proposed sites.
        #[arg(long)]
        site: bool,
        /// Keep the units of this `block_id,unit_id` plan exactly as listed and propose the other blocks.
        #[arg(long, value_name = "A.csv")]
        lock: Option<PathBuf>,
        /// Start the search from this `block_id,unit_id` plan (its units meeting the bounds are kept as a start).
        #[arg(long, value_name = "A.csv")]
        initial: Option<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Check units against every policy rule; exit 1 when any unit fails a check.
    ///
    /// `--id-field` names the id field of the UNITS layer here (blocks take theirs from bmu.toml).
    Validate {
        #[command(flatten)]
        area: AreaArgs,
        /// The units to validate (GeoJSON or Shapefile polygons).
        #[arg(long, required_unless_present = "assignment", conflicts_with = "assignment")]
        units: Option<PathBuf>,
        /// Or a plan: a `block_id,unit_id` CSV over the study area's blocks (given, or derived as propose derives
        /// them), as `bmu serve` saves it.
        #[arg(long, value_name = "A.csv")]
        assignment: Option<PathBuf>,
        /// Units with a value, threshold and pass column per check (.geojson, .shp, .gpkg, .kml, .csv or .xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Problem geometries: gaps, overlaps, spills, unclear boundaries, barrier crossings, uncovered areas
        /// (.geojson, .shp, .gpkg, .kml, .csv or .xlsx).
        #[arg(long)]
        problems: Option<PathBuf>,
        /// The full report as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// The live map editor: move blocks between units in the browser, every check updating as you go.
    Serve(serve::ServeArgs),
    /// Site the missing "3+3" facilities: for every unit and type it fails on, the fewest new sites that make it
    /// pass, covering the most residents; exit 1 when a unit still fails a check with them.
    ///
    /// `--id-field` names the id field of the UNITS layer here.
    Site {
        #[command(flatten)]
        area: AreaArgs,
        /// The units (GeoJSON or Shapefile polygons).
        #[arg(long, required_unless_present = "assignment", conflicts_with = "assignment")]
        units: Option<PathBuf>,
        /// Or a plan: a `block_id,unit_id` CSV over the study area's blocks, as `bmu serve` saves it.
        #[arg(long, value_name = "A.csv")]
        assignment: Option<PathBuf>,
        #[command(flatten)]
        site: SiteArgs,
        /// Proposed sites (.geojson or .shp). Default: out/sites.geojson in the study-area folder (else here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Before/after shares per unit and type, as JSON. Default: next to --out as site.json.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Every town of a towns layer proposed (or its given units validated) on its own, with a district summary.
    Batch(batch::BatchArgs),
}

/// How `bmu site` chooses.
#[derive(Args, Clone, Debug)]
struct SiteArgs {
    /// Facility types to site (default: the required "3+3" types and the service types).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Candidate sites: points, or polygons at their interior point (default: a lattice inside each unit).
    #[arg(long, value_name = "CANDIDATES")]
    sites: Option<PathBuf>,
    /// Exactly N new facilities of each type in each unit, covering the most residents (classic MCLP).
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Service radius in metres (default: thresholds.service_radius_m).
    #[arg(long, value_name = "M")]
    radius: Option<f64>,
    /// Spacing of the candidate lattice, metres.
    #[arg(long, value_name = "M", default_value_t = bmu::site::SiteOptions::default().spacing_m)]
    spacing: f64,
}

impl Default for SiteArgs {
    /// What `propose --site` uses: the same defaults as the flags.
    fn default() -> Self {
        SiteArgs {
            types: Vec::new(),
            sites: None,
            count: None,
            radius: None,
            spacing: bmu::site::SiteOptions::default().spacing_m,
        }
    }
}

impl SiteArgs {
    /// The radius goes into the thresholds, so the check that judges the plan uses it too.
    fn apply(&self, config: &mut Config) -> anyhow::Result<()> {
        if let Some(r) = self.radius {
            config.thresholds.service_radius_m = r;
        }
        config.check(Path::new("<flags>"))?;
        if !(self.spacing.is_finite() && self.spacing >= 1.0) {
            anyhow::bail!("--spacing must be at least 1 m, got {}", self.spacing);
        }
        Ok(())
    }

    fn options(&self) -> anyhow::Result<bmu::site::SiteOptions> {
        use bmu::vocab::Vocabulary;
        let types = if self.types.is_empty() {
            None
        } else {
            let t: Vec<bmu::model::FacilityType> = self
                .types
                .iter()
                .map(|w| {
                    bmu::model::FacilityType::from_word(w)
                        .ok_or_else(|| anyhow::anyhow!("--types: {}", bmu::model::FacilityType::unknown(w)))
                })
                .collect::<anyhow::Result<_>>()?;
            Some(t)
        };
        if self.count == Some(0) {
            anyhow::bail!("--count must be at least 1");
        }
        Ok(bmu::site::SiteOptions {
            types,
            count: self.count,
            spacing_m: self.spacing,
            ..Default::default()
        })
    }

    /// The job for [`bmu::run::site`]: options, the candidates read, where to write.
    fn job(
        &self,
        study: &bmu::model::StudyArea,
        out: &Path,
        report: &Path,
    ) -> anyhow::Result<bmu::run::SiteJob> {
        let candidates = match &self.sites {
            Some(p) => Some(bmu::site::candidates::read(p, study)?),
            None => None,
        };
        Ok(bmu::run::SiteJob {
            options: self.options()?,
            candidates,
            out: out.to_path_buf(),
            report: report.to_path_buf(),
        })
    }
}

/// The dossier and maps people hand in.
#[derive(Args, Clone, Debug, Default)]
struct ReportArgs {
    /// Self-contained HTML dossier: map, summary, checks by unit, policy basis (prints on A4).
    #[arg(long, value_name = "FILE")]
    report_html: Option<PathBuf>,
    /// The map alone, as .svg, .png or .pdf.
    #[arg(long, value_name = "FILE.svg|.png|.pdf")]
    map: Option<PathBuf>,
    /// Language of the dossier and the map.
    #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
    lang: String,
}

impl ReportArgs {
    /// Refuses a map format before the run rather than after it.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(m) = &self.map {
            let ext = m.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
            if !matches!(ext.as_deref(), Some("svg" | "png" | "pdf")) {
                anyhow::bail!("{}: --map writes .svg, .png or .pdf", m.display());
            }
        }
        Ok(())
    }

    /// Reserves the dossier and the map with the run's other outputs, before the work.
    fn claim(&self, staging: &mut Staging) -> anyhow::Result<()> {
        if let Some(p) = &self.report_html {
            staging.claim(p, "the dossier (--report-html)")?;
        }
        if let Some(p) = &self.map {
            staging.claim(p, "the map (--map)")?;
        }
        Ok(())
    }

    /// Writes the dossier and the map of an outcome into the run's staging.
    fn write(
        &self,
        study: &bmu::model::StudyArea,
        outcome: &bmu::run::Outcome,
        progress: &Spinners,
        staging: &mut Staging,
    ) -> anyhow::Result<()> {
        if self.report_html.is_none() && self.map.is_none() {
            return Ok(());
        }
        progress.enter(Stage::Report);
        let lang: bmu::report::Lang = self.lang.parse().map_err(anyhow::Error::msg)?;
        if let Some(p) = &self.report_html {
            bmu::report::write_html(p, study, outcome, lang, staging)?;
        }
        if let Some(p) = &self.map {
            bmu::report::write_map(p, study, outcome, lang, staging)?;
        }
        Ok(())
    }
}

/// Spinners on stderr, one line per stage: hidden when stderr is not a terminal or with `--quiet`; with `-v` each
/// finished stage prints its time (also when stderr is not a terminal), with `-vv` the steps inside it too.
struct Spinners {
    bar: ProgressBar,
    verbose: bool,
    /// `-vv`: also the steps inside a stage (validation's steps, and each check's thread time).
    timings: bool,
    quiet: bool,
    current: Mutex<Option<(Stage, Instant)>>,
}

impl Spinners {
    fn new(quiet: bool, verbose: u8) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinners {
            bar,
            verbose: verbose > 0 && !quiet,
            timings: verbose > 1 && !quiet,
            quiet,
            current: Mutex::new(None),
        }
    }

    fn enter(&self, stage: Stage) {
        self.close_stage();
        if let Ok(mut c) = self.current.lock() {
            *c = Some((stage, Instant::now()));
        }
        self.bar.set_message(stage.describe());
    }

    /// Ends the running stage, printing its time with `-v`.
    fn close_stage(&self) {
        let previous = self.current.lock().ok().and_then(|mut c| c.take());
        if let (Some((stage, start)), true) = (previous, self.verbose) {
            let line = format!("bmu: {stage}: {:.2} s\n", start.elapsed().as_secs_f64());
            // Timings are diagnostics: a stderr that cannot take them does not change the run's outcome.
            self.bar
                .suspend(|| drop(std::io::stderr().write_all(line.as_bytes())));
        }
    }

    /// A line of detail with `-v`.
    fn note(&self, text: &str) {
        if self.verbose {
            let line = format!("bmu: {text}\n");
            self.bar
                .suspend(|| drop(std::io::stderr().write_all(line.as_bytes())));
        }
    }

    fn finish(&self) {
        self.close_stage();
        self.bar.finish_and_clear();
    }

    fn quiet(&self) -> bool {
        self.quiet
    }
}

impl Progress for Spinners {
    fn stage(&self, stage: Stage) {
        self.enter(stage);
    }

    fn timing(&self, step: &str, seconds: f64) {
        if self.timings {
            self.bar
                .suspend(|| eprintln!("bmu: timing: {step}: {:.1} ms", seconds * 1e3));
        }
    }
}

impl Drop for Spinners {
    /// An error leaves no half-drawn spinner above its message.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The study area: a folder with `bmu.toml`, and flags that override it.
#[derive(Args, Clone, Debug, Default)]
struct AreaArgs {
    /// Study-area folder holding `bmu.toml`.
    dir: Option<PathBuf>,
    /// A `bmu.toml` elsewhere.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Town boundary layer (GeoJSON or Shapefile).
    #[arg(long)]
    town: Option<PathBuf>,
    /// Blocks layer (residential committees, villages, compounds).
    #[arg(long)]
    blocks: Option<PathBuf>,
    /// Id field of the blocks (or units) layer.
    #[arg(long)]
    id_field: Option<String>,
    /// Count field of the blocks layer (population taken as given).
    #[arg(long)]
    population_field: Option<String>,
    /// Linear feature layers (roads, rivers, railways); classes from OSM tags or a `class` field.
    #[arg(long, num_args = 1..)]
    features: Vec<PathBuf>,
    /// Facility points with `type` and `status` fields.
    #[arg(long)]
    facilities: Option<PathBuf>,
    /// Population grid (GeoTIFF, .asc) or points (CSV, GeoJSON).
    #[arg(long)]
    population: Option<PathBuf>,
    /// CRS of layers that declare none.
    #[arg(long)]
    crs: Option<String>,
    /// Projected CRS for measuring (default: UTM zone of the town).
    #[arg(long)]
    working_crs: Option<String>,
    /// Minimum population of a unit.
    #[arg(long)]
    min_population: Option<f64>,
    /// Minimum area of a unit, km².
    #[arg(long)]
    min_area_km2: Option<f64>,
    /// How the service radius is measured: `euclidean` (straight line) or `network` (along walkable lines).
    #[arg(long, value_parser = ["euclidean", "network"])]
    distance: Option<String>,
    /// Repair what can be repaired safely (open rings, ring orientation, self-intersections) and list each change.
    #[arg(long)]
    repair: bool,
    /// Any other `bmu.toml` setting, as KEY=VALUE in TOML syntax, e.g. `--set thresholds.boundary_share=0.7`
    /// or `--set 'thresholds.required_facilities=["affairs","health"]'`. Repeatable; overrides the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl AreaArgs {
    /// The `bmu.toml` the run reads, if any: an input like the layers, never to be overwritten.
    fn config_file(&self) -> Option<PathBuf> {
        let p = self.config.clone().or_else(|| self.dir.clone())?;
        Some(if p.is_dir() { p.join("bmu.toml") } else { p })
    }

    /// The study area's `bmu.toml` (if any) with every flag applied on top.
    fn config(&self) -> anyhow::Result<Config> {
        let file = self.config.clone().or_else(|| self.dir.clone());
        let mut c = match &file {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(p) = &self.town {
            c.town = Some(TownConfig {
                path: p.clone(),
                ..Default::default()
            });
        }
        if let Some(p) = &self.blocks {
            c.blocks = Some(BlocksConfig {
                path: p.clone(),
                ..Default::default()
            });
        }
        if let Some(b) = &mut c.blocks {
            if self.id_field.is_some() {
                b.id_field = self.id_field.clone();
            }
            if self.population_field.is_some() {
                b.population_field = self.population_field.clone();
            }
        }
        layer_flags(&mut c, &self.features, self.facilities.as_ref());
        if let Some(p) = &self.population {
            c.population.get_or_insert_with(PopulationConfig::default).grid = Some(p.clone());
        } else if self.population_field.is_some() {
            // Block counts named on the command line replace a grid named in bmu.toml.
            c.population = None;
        }
        if self.crs.is_some() {
            c.crs = self.crs.clone();
        }
        if self.working_crs.is_some() {
            c.working_crs = self.working_crs.clone();
        }
        if let Some(v) = self.min_population {
            c.thresholds.min_population = v;
        }
        if let Some(v) = self.min_area_km2 {
            c.thresholds.min_area_km2 = v;
        }
        if let Some(d) = self
            .distance
            .as_deref()
            .and_then(bmu::config::ServiceDistance::parse)
        {
            c.thresholds.service_distance = d;
        }
        c.repair |= self.repair;
        for assignment in &self.set {
            c = bmu::config::set(c, assignment)?;
        }
        c.check(Path::new("<flags>"))?;
        Ok(c)
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Population(args) => population::run(args, quiet, cli.verbose),
        Command::Propose {
            area,
            seed,
            candidates,
            require_facilities,
            out,
            blocks_out,
            report,
            problems,
            site,
            lock,
            initial,
            reports,
        } => {
            reports.check()?;
            let progress = Arc::new(Spinners::new(quiet, cli.verbose));
            progress.enter(Stage::Read);
            let mut config = area.config()?;
            if let Some(s) = seed {
                config.propose.seed = s;
            }
            if let Some(k) = candidates {
                config.propose.candidates = k;
            }
            config.propose.require_facilities |= require_facilities;
            config.check(Path::new("<flags>"))?;
            let site_args = SiteArgs::default();
            site_args.options()?;
            let study = load_study(&config, quiet)?;
            // Outputs go beside the inputs: `<study area>/out/` (or `./out/` without a study-area folder).
            let out = out.unwrap_or_else(|| {
                let base = area.dir.clone().or_else(|| {
                    area.config
                        .as_ref()
                        .and_then(|c| c.parent().map(Path::to_path_buf))
                });
                base.unwrap_or_default().join("out").join("units.geojson")
            });
            let sibling = |name: &str| out.with_file_name(name);
            let blocks_out = blocks_out.unwrap_or_else(|| sibling("blocks.geojson"));
            let report = report.unwrap_or_else(|| sibling("report.json"));
            let outputs = bmu::run::Outputs {
                units: out.clone(),
                blocks: Some(blocks_out),
                report: Some(report),
                inferred: Some(sibling("inferred.geojson")),
                problems: Some(problems.unwrap_or_else(|| sibling("problems.geojson"))),
            };
            // Every output is checked against the inputs and the other outputs before the expensive work.
            let mut inputs = run_inputs(&study, &area, None);
            inputs.extend(lock.iter().chain(&initial).cloned());
            let mut staging = Staging::new(&inputs);
            outputs.claim(&mut staging, config.propose.candidates)?;
            reports.claim(&mut staging)?;
            let site_out = site.then(|| (sibling("sites.geojson"), sibling("site.json")));
            if let Some((s, r)) = &site_out {
                staging.claim(s, "the proposed sites")?;
                staging.claim(r, "the site report")?;
            }
            let job = match &site_out {
                Some((s, r)) => Some(site_args.job(&study, s, r)?),
                None => None,
            };
            let (outcome, plan) = bmu::progress::observe(progress.clone(), || {
                let constraints = bmu::propose::pipeline::Constraints {
                    lock: lock.map(bmu::propose::pipeline::Plan::Csv),
                    initial: initial.map(bmu::propose::pipeline::Plan::Csv),
                };
                match &job {
                    Some(job) => bmu::run::propose_site(&study, &constraints, &outputs, job, &mut staging)
                        .map(|(o, p)| (o, Some(p))),
                    None => bmu::run::propose_with(&study, &constraints, &outputs, &mut staging)
                        .map(|o| (o, None)),
                }
            })?;
            let mut text = summary::propose(&outcome, &outputs.units);
            if let (Some(plan), Some(job)) = (&plan, &job) {
                text.push_str(&plan.summary(&job.out));
            }
            finish(&study, &outcome, &text, &reports, &progress, staging)
        }
        Command::Site {
            area,
            units,
            assignment,
            site,
            out,
            report,
            reports,
        } => site_command(
            area,
            (units, assignment),
            site,
            (out, report),
            reports,
            quiet,
            cli.verbose,
        ),
        Command::Batch(args) => batch::run(args, quiet),
        Command::Serve(args) => serve::run(args, quiet),
        Command::Inspect { area, json } => {
            let config = area.config()?;
            let study = load_study(&config, quiet)?;
            let summary = bmu::inspect::inspect(&study)?;
            let text = if json {
                serde_json::to_string_pretty(&summary).context("serialising the summary")? + "\n"
            } else {
                summary.to_string()
            };
            to_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            mut area,
            units,
            assignment,
            out,
            problems,
            report,
            reports,
        } => {
            reports.check()?;
            let progress = Arc::new(Spinners::new(quiet, cli.verbose));
            progress.enter(Stage::Read);
            let id_field = area.id_field.take();
            let config = area.config()?;
            let study = load_study(&config, quiet)?;
            let outputs = bmu::run::ValidateOutputs {
                units: out,
                problems,
                report,
            };
            let input = units.as_deref().or(assignment.as_deref());
            let mut staging = Staging::new(&run_inputs(&study, &area, input));
            outputs.claim(&mut staging)?;
            reports.claim(&mut staging)?;
            let outcome = bmu::progress::observe(progress.clone(), || match (&units, &assignment) {
                (Some(u), _) => bmu::run::validate(&study, u, id_field.as_deref(), &outputs, &mut staging),
                (None, Some(a)) => bmu::run::validate_assignment(&study, a, &outputs, &mut staging),
                (None, None) => Err(bmu::Error::input("validate", "give --units or --assignment")),
            })?;
            let text = summary::validate(&outcome);
            finish(&study, &outcome, &text, &reports, &progress, staging)
        }
    }
}

/// `bmu site`: reads the units (or a plan), plans, stages and commits the sites, their report and the dossier.
fn site_command(
    mut area: AreaArgs,
    (units, assignment): (Option<PathBuf>, Option<PathBuf>),
    site: SiteArgs,
    (out, report): (Option<PathBuf>, Option<PathBuf>),
    reports: ReportArgs,
    quiet: bool,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    reports.check()?;
    let progress = Arc::new(Spinners::new(quiet, verbose));
    progress.enter(Stage::Read);
    let id_field = area.id_field.take();
    let mut config = area.config()?;
    site.apply(&mut config)?;
    site.options()?;
    let study = load_study(&config, quiet)?;
    let out = out.unwrap_or_else(|| {
        let base = area.dir.clone().or_else(|| {
            area.config
                .as_ref()
                .and_then(|c| c.parent().map(Path::to_path_buf))
        });
        base.unwrap_or_default().join("out").join("sites.geojson")
    });
    let report = report.unwrap_or_else(|| out.with_file_name("site.json"));
    let mut inputs = run_inputs(&study, &area, units.as_deref().or(assignment.as_deref()));
    inputs.extend(site.sites.clone());
    let mut staging = Staging::new(&inputs);
    staging.claim(&out, "the proposed sites (--out)")?;
    staging.claim(&report, "the site report (--report)")?;
    reports.claim(&mut staging)?;
    let job = site.job(&study, &out, &report)?;
    let (outcome, plan) = bmu::progress::observe(progress.clone(), || match (&units, &assignment) {
        (Some(u), _) => {
            let mut notes = Vec::new();
            let units = bmu::validate::read_units(u, id_field.as_deref(), &study, &mut notes)?;
            bmu::run::site(&study, units, notes, &job, &mut staging)
        }
        (None, Some(a)) => bmu::run::site_assignment(&study, a, &job, &mut staging),
        (None, None) => Err(bmu::Error::input("site", "give --units or --assignment")),
    })?;
    let mut text = String::new();
    for n in &outcome.notes {
        text.push_str(&format!("bmu: note: {n}\n"));
    }
    text.push_str(&plan.summary(&out));
    finish(&study, &outcome, &text, &reports, &progress, staging)
}

/// Every file a study-area run reads: its layers and population source, `bmu.toml`, and `extra` (validate's units).
fn run_inputs(study: &bmu::model::StudyArea, area: &AreaArgs, extra: Option<&Path>) -> Vec<PathBuf> {
    let mut inputs = bmu::run::inputs(study);
    inputs.extend(area.config_file());
    inputs.extend(extra.map(Path::to_path_buf));
    inputs
}

/// Writes the dossier and map images, commits every output of the run at once, prints the summary, and turns the
/// outcome into the exit code.
fn finish(
    study: &bmu::model::StudyArea,
    outcome: &bmu::run::Outcome,
    summary: &str,
    reports: &ReportArgs,
    progress: &Arc<Spinners>,
    mut staging: Staging,
) -> anyhow::Result<ExitCode> {
    reports.write(study, outcome, progress, &mut staging)?;
    progress.finish();
    // The summary goes out before the commit, so that a stderr that fails (a full disk) fails the run with
    // nothing written; a closed one (`2>&1 | head`) only lost its reader, and the outputs are still committed.
    if !progress.quiet() {
        match to_stderr(summary) {
            Err(e) if !is_broken_pipe(&e) => return Err(e),
            _ => {}
        }
    }
    let written = staging.written();
    staging.commit()?;
    for p in &written {
        progress.note(&format!("wrote {}", p.display()));
    }
    Ok(if outcome.all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Loads the study area and prints its warnings (unless quiet).
fn load_study(config: &Config, quiet: bool) -> anyhow::Result<bmu::model::StudyArea> {
    let study = bmu::model::StudyArea::load(config)?;
    if !quiet {
        for w in &study.warnings {
            to_stderr(&format!("bmu: warning: {w}\n"))?;
        }
    }
    Ok(study)
}

/// Prints to stdout; a failure (closed pipe, full disk) is returned for `main` to judge, where `print!` would panic.
fn to_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("<stdout>: write")
}

/// Prints to stderr, failures returned as for [`to_stdout`].
fn to_stderr(text: &str) -> anyhow::Result<()> {
    std::io::stderr()
        .lock()
        .write_all(text.as_bytes())
        .context("<stderr>: write")
}

/// Whether an error is a write to a closed pipe (`bmu inspect … | head -1`): the reader has all it wanted, so the
/// run ends quietly with exit 0, as ripgrep does.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<bmu::Error>()
                .is_some_and(bmu::Error::is_broken_pipe)
    })
}

fn main() -> ExitCode {
    // With full PROJ (`--features proj`) a CRS PROJ refuses would also be logged by PROJ itself on stderr, a second
    // line beside bmu's one-line error: PROJ's own logging stays off unless the user asks for it.
    if std::env::var_os("PROJ_DEBUG").is_none() {
        std::env::set_var("PROJ_DEBUG", "0");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // If stderr itself is what failed, there is nowhere left to say so: the exit code does.
            let _ = writeln!(std::io::stderr(), "bmu: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `--features` and `--facilities` as they replace the layers of a `bmu.toml`: every verb that reads a study area
/// (and `batch`, for its city-wide layers) takes them the same way.
pub(crate) fn layer_flags(c: &mut Config, features: &[PathBuf], facilities: Option<&PathBuf>) {
    if !features.is_empty() {
        c.features = features
            .iter()
            .map(|p| FeatureLayerConfig {
                path: p.clone(),
                ..Default::default()
            })
            .collect();
    }
    if let Some(p) = facilities {
        c.facilities = Some(FacilitiesConfig {
            path: p.clone(),
            ..Default::default()
        });
    }
}
