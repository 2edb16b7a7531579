//! The `bmu` command line: a thin layer that turns flags into a [`bmu::config::Config`] and calls the library.
//!
//! Exit codes: 0 success, 1 checks found problems, 2 error (one line naming the file, the feature and the problem).

use anyhow::Context;
use bmu::config::{BlocksConfig, Config, FacilitiesConfig, FeatureLayerConfig, PopulationConfig, TownConfig};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bmu",
    version,
    about = "Delineate and validate basic management units (基本管理单元)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bars or summaries on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More detail on stderr.
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
    /// Check units against every policy rule; exit 1 when any unit fails a check.
    ///
    /// `--id-field` names the id field of the UNITS layer here (blocks take theirs from bmu.toml).
    Validate {
        #[command(flatten)]
        area: AreaArgs,
        /// The units to validate (GeoJSON or Shapefile polygons).
        #[arg(long)]
        units: PathBuf,
        /// Units with a value, threshold and pass column per check (.geojson or .shp).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Problem geometries: gaps, overlaps, spills, unclear boundaries, barrier crossings, uncovered areas
        /// (.geojson or .shp).
        #[arg(long)]
        problems: Option<PathBuf>,
        /// The full report as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
    },
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
}

impl AreaArgs {
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
        if !self.features.is_empty() {
            c.features = self
                .features
                .iter()
                .map(|p| FeatureLayerConfig {
                    path: p.clone(),
                    ..Default::default()
                })
                .collect();
        }
        if let Some(p) = &self.facilities {
            c.facilities = Some(FacilitiesConfig {
                path: p.clone(),
                ..Default::default()
            });
        }
        if let Some(p) = &self.population {
            c.population.get_or_insert_with(PopulationConfig::default).grid = Some(p.clone());
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
        c.check(Path::new("<flags>"))?;
        Ok(c)
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Inspect { area, json } => {
            let config = area.config()?;
            let study = bmu::model::StudyArea::load(&config)?;
            let summary = bmu::inspect::inspect(&study)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).context("serialising the summary")?
                );
            } else {
                print!("{summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            mut area,
            units,
            out,
            problems,
            report,
        } => {
            let id_field = area.id_field.take();
            let config = area.config()?;
            let study = bmu::model::StudyArea::load(&config)?;
            let unit_list = bmu::validate::read_units(&units, id_field.as_deref(), &study)?;
            let blocks = bmu::validate::BlockCounts::from_area(&study);
            let no_population = match config.population.as_ref().and_then(|p| p.grid.as_ref()) {
                Some(grid) if blocks.is_none() => format!(
                    "population grid {} is configured but this build cannot yet sum grids: give --blocks with \
                     --population-field",
                    grid.display()
                ),
                _ => bmu::validate::NO_POPULATION.to_string(),
            };
            let source = blocks.as_ref().map(|b| b as &dyn bmu::validate::PopulationSource);
            let v = bmu::validate::validate_explained(&study, &unit_list, source, &no_population)?;

            let mut inputs: Vec<&Path> = study.inputs.iter().map(|p| p.as_path()).collect();
            inputs.push(&units);
            if let Some(p) = &out {
                bmu::validate::output::write_units(p, &study.working_crs, &v, &unit_list, &inputs)?;
            }
            let mut written = Vec::new();
            if let Some(p) = &problems {
                written = bmu::validate::output::write_problems(p, &study.working_crs, &v, &inputs)?;
            }
            if let Some(p) = &report {
                bmu::io::atomic::refuse_input_overwrite(p, &inputs)?;
                bmu::io::atomic::write_bytes(p, bmu::validate::output::report_json(&v)?.as_bytes())?;
            }
            if !cli.quiet {
                eprint!("{}", bmu::validate::output::table(&v, 80));
                if written.len() > 1 {
                    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
                    eprintln!("problems written to {}", names.join(" and "));
                }
            }
            Ok(if v.pass() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn main() -> ExitCode {
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
        Err(e) => {
            // A closed pipe (`bmu inspect … | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("bmu: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
