//! `bmu batch`: the flags of a district run and of `bmu batch merge`, the towns progress bar, the exit code.

use anyhow::Context;
use bmu::batch::{self, BatchProgress, Mode, Shard};
use bmu::config::{Config, PopulationConfig};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every town of a towns layer proposed (or its given units validated) on its own, and the district summary.
#[derive(Args, Clone, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BatchArgs {
    #[command(subcommand)]
    command: Option<BatchCommand>,
    /// The towns layer (GeoJSON, Shapefile, GeoPackage): one town per feature, or per id when towns are split
    /// over several features (default: `towns` in the `[batch]` table of --config).
    towns: Option<PathBuf>,
    /// Field holding each town's name.
    #[arg(long)]
    name_field: Option<String>,
    /// Field holding each town's id (default: the name field, else the feature id or index); features sharing
    /// an id are one town.
    #[arg(long)]
    town_id_field: Option<String>,
    /// Only these towns, by id or name.
    #[arg(long, num_args = 1..)]
    select: Vec<String>,
    /// Population grid (GeoTIFF, .asc) or points (CSV, GeoJSON) covering the towns.
    #[arg(long)]
    population: Option<PathBuf>,
    /// City-wide linear feature layers (roads, rivers, railways).
    #[arg(long, num_args = 1..)]
    features: Vec<PathBuf>,
    /// City-wide facility points with `type` and `status` fields.
    #[arg(long)]
    facilities: Option<PathBuf>,
    /// The district's units, each validated in the town it overlaps most (instead of proposing).
    #[arg(long, conflicts_with = "propose")]
    units: Option<PathBuf>,
    /// Id field of the units layer.
    #[arg(long)]
    id_field: Option<String>,
    /// Propose units in every town (the default without --units).
    #[arg(long)]
    propose: bool,
    /// Then site the missing "3+3" facilities in every town (as `bmu propose --site`): `sites.geojson` and
    /// `site.json` in each town folder, proposed sites and passing units with them in the summary.
    #[arg(long)]
    site: bool,
    /// Output folder: one folder per town and the district summary [default: batch].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only part K of N of the towns (stable by town id), e.g. 3/8; `bmu batch merge` joins the parts.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Towns run at once (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// A `bmu.toml` whose thresholds, settings and layers every town shares (its town and blocks are ignored);
    /// its `[batch]` table gives any of these flags (a flag overrides it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// CRS of layers that declare none.
    #[arg(long)]
    crs: Option<String>,
    /// Projected CRS for measuring (default: UTM zone of the towns layer's centre).
    #[arg(long)]
    working_crs: Option<String>,
    /// Minimum population of a unit.
    #[arg(long)]
    min_population: Option<f64>,
    /// Minimum area of a unit, km².
    #[arg(long)]
    min_area_km2: Option<f64>,
    /// Any other `bmu.toml` setting as KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Language of the dossiers and the index page [default: zh].
    #[arg(long, value_parser = ["zh", "en"])]
    lang: Option<String>,
}

#[derive(Subcommand, Clone, Debug)]
enum BatchCommand {
    /// Build one district folder (town folders and summary) from the folders of `--shard` runs.
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "batch")]
        out: PathBuf,
        /// Language of the index page.
        #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
        lang: String,
    },
}

impl BatchArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        crate::layer_flags(&mut c, &self.features, self.facilities.as_ref());
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
        for assignment in &self.set {
            c = bmu::config::set(c, assignment)?;
        }
        c.check(Path::new("<flags>"))?;
        Ok(c)
    }
}

/// The towns bar: towns done of the total, and the town last started.
struct TownsBar(ProgressBar);

impl TownsBar {
    fn new(quiet: bool) -> TownsBar {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} towns {elapsed:.dim} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        TownsBar(bar)
    }
}

impl BatchProgress for TownsBar {
    fn started(&self, town: &str, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0.set_message(town.to_string());
    }

    fn finished(&self, _town: &str, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
    }
}

impl Drop for TownsBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn lang(code: &str) -> anyhow::Result<bmu::report::Lang> {
    code.parse().map_err(anyhow::Error::msg)
}

/// `bmu batch …` and `bmu batch merge …`.
pub fn run(args: BatchArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    if let Some(BatchCommand::Merge { dirs, out, lang: l }) = &args.command {
        let outcome = batch::merge(dirs, out, lang(l)?)?;
        return report(&outcome, out, quiet);
    }
    let config = args.config()?;
    // The `[batch]` table, under the flags.
    let file = config.batch.clone().unwrap_or_default();
    let source = args.config.clone().unwrap_or_else(|| PathBuf::from("bmu.toml"));
    let in_file =
        |key: &str, problem: String| bmu::Error::config(&source, format!("[batch] {key}: {problem}"));
    let towns = args
        .towns
        .clone()
        .or(file.towns.clone())
        .context("bmu batch: give the towns layer (or `towns` in the [batch] table of --config)")?;
    let units = if args.propose { None } else { args.units.clone() };
    let mode = match (units, args.propose, &file.units, file.propose) {
        (Some(u), ..) => Some(u),
        (None, true, ..) => None,
        (None, false, Some(_), true) => {
            return Err(in_file("units", "give `units` or `propose = true`, not both".into()).into())
        }
        (None, false, Some(u), false) => Some(u.clone()),
        (None, false, None, _) => None,
    };
    let id_field = args.id_field.clone().or(file.id_field.clone());
    let mode = match mode {
        Some(u) => Mode::Validate { units: u, id_field },
        None if args.id_field.is_some() => anyhow::bail!("--id-field is the units layer's: give --units"),
        None => Mode::Propose,
    };
    let shard = match (args.shard, &file.shard) {
        (Some(s), _) => Some(s),
        (None, Some(s)) => Some(s.parse::<Shard>().map_err(|e| in_file("shard", e))?),
        (None, None) => None,
    };
    let lang_code = args
        .lang
        .clone()
        .or(file.lang.clone())
        .unwrap_or_else(|| "zh".into());
    let lang = lang(&lang_code).map_err(|e| in_file("lang", e.to_string()))?;
    let out = args
        .out
        .clone()
        .or(file.out.clone())
        .unwrap_or_else(|| PathBuf::from("batch"));
    let options = batch::Options {
        towns,
        id_field: args.town_id_field.clone().or(file.town_id_field.clone()),
        name_field: args.name_field.clone().or(file.name_field.clone()),
        select: if args.select.is_empty() {
            file.select.clone()
        } else {
            args.select.clone()
        },
        config,
        mode,
        out: out.clone(),
        shard,
        lang,
        extra_inputs: args.config.iter().cloned().collect(),
        site: args.site || file.site,
    };
    let bar = TownsBar::new(quiet);
    let outcome = match args.jobs.or(file.jobs) {
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("--jobs: starting the threads")?
            .install(|| batch::run(&options, &bar))?,
        None => batch::run(&options, &bar)?,
    };
    drop(bar);
    report(&outcome, &out, quiet)
}

/// The summary lines on stderr, and the exit code: 0 every town ran and every unit passes, 1 otherwise.
fn report(outcome: &batch::Outcome, out: &Path, quiet: bool) -> anyhow::Result<ExitCode> {
    if !quiet {
        let mut text = String::new();
        for t in &outcome.failed {
            text.push_str(&format!("bmu: town {} failed: {}\n", t.name, t.error));
        }
        for u in &outcome.unplaced_units {
            text.push_str(&format!("bmu: warning: unit {u} lies in no town\n"));
        }
        let (units, passing, crossing) = (outcome.units, outcome.passing, outcome.crossing);
        text.push_str(&format!(
            "bmu: {} towns, {} failed; {units} units, {passing} passing, {crossing} crossing a town boundary -> {}\n",
            outcome.towns,
            outcome.failed(),
            out.join("index.html").display()
        ));
        // A closed stderr only lost its reader: the outputs are written.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
    Ok(if outcome.all_pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
