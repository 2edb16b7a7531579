//! `bmu batch`: every town of a district (or a city, or a country) in one run, and the district's summary.
//!
//! 沪民区划〔2018〕6号 leaves the review to the district: "各镇根据标准和需求提出申请，经区政府综合评估和审核同意后，
//! 报市民政局审定". A district reviews all its towns' units side by side, so this module runs each town of a towns
//! layer on its own — `propose`, or `validate` of the units a district drew — through exactly the machinery of the
//! single-town verbs ([`crate::run`]), and then builds the district summary ([`summary`]).
//!
//! * **City-wide layers, clipped per town.** Features and facilities are read once; each town gets those whose
//!   bounding box meets its own (widened by the distances the checks look across its boundary), found through an
//!   R-tree. The population grid is opened per town and read by window, so memory follows the largest town.
//! * **Parallel and deterministic.** Towns run in parallel (rayon); each town's outputs depend on that town alone,
//!   and the summary lists towns in the order of the towns layer, so every byte is the same at any thread count.
//! * **A failing town never stops the others.** Its error is recorded in the summary.
//! * **Given units crossing a town boundary** are reported: a unit belongs to the town it overlaps most, and every
//!   other town it overlaps (by more than `partition_tolerance_m2`) is listed against it.
//! * **Shards.** [`Shard`] `K/N` runs the towns whose id hashes to `K` (stable whatever the layer's order), and
//!   [`merge`] rebuilds the same summary from the shards' folders.
//! * **Outputs together.** Town folders are written into a hidden work folder inside the output folder as each town
//!   finishes (so finished towns leave memory); at the end the summary is staged through [`Staging`] and the town
//!   folders are moved into place just before the summary is committed.

pub mod summary;

use crate::config::{Config, TownConfig};
use crate::crs::{Crs, Transformer};
use crate::io::{self, atomic::Staging, read_layer, Feature, Layer, OutFeature, ReadOptions};
use crate::model::{StudyArea, Town};
use crate::report::Lang;
use crate::run::{self, Outputs, ValidateOutputs};
use crate::validate::Unit;
use crate::{Error, Result};
use geo::{Area, BooleanOps, BoundingRect, Geometry, MultiPolygon, Rect};
use indexmap::IndexMap;
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What each town runs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// `propose` in every town.
    Propose,
    /// `validate` of a district's units layer, each unit checked in the town it overlaps most.
    Validate {
        /// The units layer.
        units: PathBuf,
        /// Its id field (default: the feature id or index).
        id_field: Option<String>,
    },
}

/// One of N parts of a run: `K/N`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, 1 ≤ k ≤ n.
    pub k: usize,
    /// How many parts.
    pub n: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("`{}`: a shard is K/N with 1 ≤ K ≤ N, e.g. 2/8", io::shown(s));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl Shard {
    /// Whether the town `id` belongs to this shard. FNV-1a of the id: std's hasher may change between Rust
    /// releases, and shards of one national run may be run by different builds; a crate for eight lines of a
    /// published constant-driven hash would not earn its place.
    pub fn holds(&self, id: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.n as u64) as usize == self.k - 1
    }
}

/// Everything a batch run needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The towns layer.
    pub towns: PathBuf,
    /// The field holding each town's id; features sharing an id form one town. Default: the name field, else the
    /// feature id or index.
    pub id_field: Option<String>,
    /// The field holding each town's name.
    pub name_field: Option<String>,
    /// Only these towns (ids or names); empty = all.
    pub select: Vec<String>,
    /// The city-wide layers, thresholds and settings every town shares (`town` and `blocks` are ignored).
    pub config: Config,
    /// Propose, or validate given units.
    pub mode: Mode,
    /// The output folder.
    pub out: PathBuf,
    /// Only this part of the towns.
    pub shard: Option<Shard>,
    /// Language of the dossiers and the index page.
    pub lang: Lang,
    /// Files the run read besides the layers (`bmu.toml`), never to be written.
    pub extra_inputs: Vec<PathBuf>,
    /// Then site the missing "3+3" facilities in every town, as `bmu propose --site` does (`sites.geojson` and
    /// `site.json` in each town folder); the summary then judges the units with their proposed sites.
    pub site: bool,
}

/// A unit of the given layer that crosses its town's boundary into other towns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    /// The unit's id.
    pub unit: String,
    /// The ids of the other towns it overlaps.
    pub towns: Vec<String>,
}

/// What one town's run found, as `town.json` in its folder holds it: the summary is built from these alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TownRecord {
    /// Position of the town's first feature in the towns layer: the summary's order.
    pub index: usize,
    /// The town's id.
    pub id: String,
    /// The town's name.
    pub name: String,
    /// Its folder inside the output folder.
    pub folder: String,
    /// Planar area in the working CRS, km² (None when its geometry could not be read).
    pub area_km2: Option<f64>,
    /// Population of the town from the population source.
    pub population: Option<f64>,
    /// Units proposed or given.
    pub units: usize,
    /// Units passing every check.
    pub passing: usize,
    /// Units failing each check, by check name (registry order).
    pub failing_checks: IndexMap<String, usize>,
    /// Given units that cross into other towns.
    pub crossing_units: Vec<Crossing>,
    /// Blocks left out of every unit (`propose`).
    pub unassigned_blocks: usize,
    /// New facilities proposed by siting (None: siting was not run).
    #[serde(default)]
    pub proposed_sites: Option<usize>,
    /// Units passing every check with the proposed sites added (None: siting was not run).
    #[serde(default)]
    pub passing_with_sites: Option<usize>,
    /// Why the town could not be run.
    pub error: Option<String>,
}

impl TownRecord {
    /// Whether the town ran and everything in it passes.
    pub fn all_pass(&self) -> bool {
        self.error.is_none()
            && self.passing_with_sites.unwrap_or(self.passing) == self.units
            && self.unassigned_blocks == 0
            && self.crossing_units.is_empty()
    }
}

/// What a batch (or a merge) did: totals, not the towns' records (a national run's would grow with its towns; the
/// records are in the town folders and the summary).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Towns run (or merged).
    pub towns: usize,
    /// The towns that could not be run, in the towns layer's order.
    pub failed: Vec<FailedTown>,
    /// Units proposed or given, in all towns.
    pub units: usize,
    /// Units passing every check, in all towns.
    pub passing: usize,
    /// Given units crossing a town boundary.
    pub crossing: usize,
    /// Towns whose run did not pass everything ([`TownRecord::all_pass`]).
    pub not_passing: usize,
    /// Given units that lie in no town.
    pub unplaced_units: Vec<String>,
}

/// A town that could not be run.
#[derive(Clone, Debug)]
pub struct FailedTown {
    /// Its position in the towns layer.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Why.
    pub error: String,
}

impl Outcome {
    /// Towns that could not be run.
    pub fn failed(&self) -> usize {
        self.failed.len()
    }

    /// Whether every town ran and every unit passes.
    pub fn all_pass(&self) -> bool {
        self.not_passing == 0 && self.unplaced_units.is_empty()
    }

    /// Counts one town.
    fn add(mut self, r: &TownRecord) -> Outcome {
        self.towns += 1;
        if let Some(e) = &r.error {
            self.failed.push(FailedTown {
                index: r.index,
                name: r.name.clone(),
                error: e.clone(),
            });
        }
        self.units += r.units;
        self.passing += r.passing;
        self.crossing += r.crossing_units.len();
        self.not_passing += usize::from(!r.all_pass());
        self
    }

    /// The totals of two runs of towns, `self` first.
    fn join(mut self, other: Outcome) -> Outcome {
        self.towns += other.towns;
        self.failed.extend(other.failed);
        self.units += other.units;
        self.passing += other.passing;
        self.crossing += other.crossing;
        self.not_passing += other.not_passing;
        self.unplaced_units.extend(other.unplaced_units);
        self
    }
}

/// A town as read from the towns layer.
struct TownInput {
    index: usize,
    id: String,
    name: String,
    folder: String,
    /// In the working CRS, or why it cannot be used.
    geometry: std::result::Result<MultiPolygon<f64>, String>,
}

/// How far beyond a town's box its features are kept: block derivation extends dangling lines and looks for
/// the lines just outside the boundary, the checks measure clarity and barriers along it.
const FEATURE_MARGIN_M: f64 = 1_000.0;

/// Progress of a batch: towns done of the total, and the town just started or finished.
pub trait BatchProgress: Sync {
    /// `town` has started; `done` of `total` towns are finished.
    fn started(&self, town: &str, done: usize, total: usize);
    /// `town` has finished; `done` of `total` towns are finished now.
    fn finished(&self, town: &str, done: usize, total: usize);
}

/// Hears nothing.
pub struct Silent;

impl BatchProgress for Silent {
    fn started(&self, _: &str, _: usize, _: usize) {}
    fn finished(&self, _: &str, _: usize, _: usize) {}
}

/// Runs every selected town of the towns layer and writes the district summary into `options.out`.
pub fn run(options: &Options, progress: &dyn BatchProgress) -> Result<Outcome> {
    let mut config = options.config.clone();
    config.town = None;
    config.blocks = None;
    let towns_layer = read_layer(&options.towns, &read_options(&config, None)?)?;
    if towns_layer.features.is_empty() {
        return Err(Error::format(&options.towns, "towns layer has no features"));
    }
    for f in [&options.id_field, &options.name_field].into_iter().flatten() {
        towns_layer.require_field(f)?;
    }
    if config
        .working_crs
        .as_deref()
        .is_none_or(|w| w.eq_ignore_ascii_case("utm"))
    {
        config.working_crs = Some(utm_of(&towns_layer)?.to_string());
    }
    // The city-wide layers, read and projected once; no town, so nothing is cut here.
    let city = StudyArea::load(&config)?;
    let towns = read_towns(&towns_layer, options, &city.working_crs)?;
    // The towns are held as their polygons from here on: a national layer's records need not be.
    drop(towns_layer);

    let mut selected: Vec<&TownInput> = if options.select.is_empty() {
        towns.iter().collect()
    } else {
        for s in &options.select {
            if !towns.iter().any(|t| &t.id == s || &t.name == s) {
                return Err(Error::format(
                    &options.towns,
                    format!("no town matches --select `{}`", io::shown(s)),
                ));
            }
        }
        towns
            .iter()
            .filter(|t| options.select.iter().any(|s| s == &t.id || s == &t.name))
            .collect()
    };
    if let Some(shard) = options.shard {
        selected.retain(|t| shard.holds(&t.id));
    }

    let mut inputs = run::inputs(&city);
    inputs.push(options.towns.clone());
    inputs.extend(options.extra_inputs.iter().cloned());
    let (assigned, unplaced) = match &options.mode {
        Mode::Propose => (BTreeMap::new(), Vec::new()),
        Mode::Validate { units, id_field } => {
            inputs.push(units.clone());
            let mut notes = Vec::new();
            let all = crate::validate::read_units(units, id_field.as_deref(), &city, &mut notes)?;
            assign_units(all, &towns, config.thresholds.partition_tolerance_m2)
        }
    };
    refuse_inputs_under(&options.out, &selected, &inputs)?;
    // Sites are weighed by the residents they reach: refused before any town runs, as `bmu propose --site` does.
    if options.site && run::population_source(&city)?.is_none() {
        return Err(Error::input(
            options.towns.display().to_string(),
            "--site needs a population source: give --population GRID",
        ));
    }

    let work = WorkDir::new(&options.out)?;
    let index = CityIndex::new(&city);
    let done = AtomicUsize::new(0);
    let total = selected.len();
    // Each record is counted and dropped as its town finishes (it is in the town's folder): rayon's ordered
    // reduce keeps the failed towns in the layer's order.
    let mut outcome = selected
        .par_iter()
        .map(|t| {
            progress.started(&t.name, done.load(Ordering::Relaxed), total);
            let given = assigned.get(&t.index);
            let record = run_town(
                t,
                &city,
                &index,
                &options.mode,
                given,
                options,
                &inputs,
                &work.path,
            );
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.finished(&t.name, n, total);
            Outcome::default().add(&record)
        })
        .reduce(Outcome::default, Outcome::join);
    if outcome.towns > 0 && outcome.failed() == outcome.towns {
        let first = outcome
            .failed
            .first()
            .map(|f| f.error.clone())
            .unwrap_or_default();
        return Err(Error::input(
            options.towns.display().to_string(),
            format!(
                "no town could be run ({} failed); the first: {first}",
                outcome.towns
            ),
        ));
    }
    summary::finish(&work, &options.out, &inputs, options.lang)?;
    outcome.unplaced_units = unplaced;
    Ok(outcome)
}

/// Rebuilds one district folder from the folders of shard runs: every town folder copied, the summary made again.
/// The result equals, byte for byte, the folder a single run of all the shards' towns writes.
pub fn merge(dirs: &[PathBuf], out: &Path, lang: Lang) -> Result<Outcome> {
    if dirs.is_empty() {
        return Err(Error::input("merge", "no shard folders given"));
    }
    let work = WorkDir::new(out)?;
    // Folder name -> the shard it came from (its position in `dirs`): a few bytes a town.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcome = Outcome::default();
    for (d, dir) in dirs.iter().enumerate() {
        if !dir.is_dir() {
            return Err(Error::input(
                dir.display().to_string(),
                "not a folder (a shard's --out)",
            ));
        }
        summary::each_town(dir, |folder, record| {
            if let Some(first) = seen.insert(record.folder.clone(), d) {
                return Err(Error::input(
                    folder.display().to_string(),
                    format!(
                        "town `{}` is also in {}: shards overlap",
                        record.id,
                        dirs[first].display()
                    ),
                ));
            }
            copy_folder(folder, &work.path.join(&record.folder))?;
            outcome = std::mem::take(&mut outcome).add(&record);
            Ok(())
        })?;
    }
    // Counted in shard order, reported in the towns layer's order.
    outcome.failed.sort_by_key(|f| f.index);
    let inputs: Vec<PathBuf> = dirs.to_vec();
    summary::finish(&work, out, &inputs, lang)?;
    Ok(outcome)
}

fn copy_folder(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, "create folder", e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, "read folder", e))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(from, "read folder", e))?;
        names.push(e.path());
    }
    names.sort();
    for p in names {
        let Some(name) = p.file_name() else { continue };
        // Temporaries of an interrupted shard run are not part of it.
        if name.to_string_lossy().starts_with(".bmu-") {
            continue;
        }
        if p.is_file() {
            std::fs::copy(&p, to.join(name)).map_err(|e| Error::io(&p, "copy", e))?;
        }
    }
    Ok(())
}

/// The hidden folder inside the output folder where town folders wait for the end of the run; removed with what is
/// left in it when the run ends, successfully or not, and the output folder with it when the run created it and
/// leaves it empty (a failed run).
pub struct WorkDir {
    /// Where it is.
    pub path: PathBuf,
    dir: Option<tempfile::TempDir>,
    created: Vec<PathBuf>,
}

impl WorkDir {
    fn new(out: &Path) -> Result<WorkDir> {
        let created: Vec<PathBuf> = out
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, "create folder", e))?;
        let dir = tempfile::Builder::new()
            .prefix(".bmu-batch-")
            .tempdir_in(out)
            .map_err(|e| Error::io(out, "create folder", e))?;
        Ok(WorkDir {
            path: dir.path().to_path_buf(),
            dir: Some(dir),
            created,
        })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        drop(self.dir.take());
        // Deepest first; `remove_dir` leaves a folder that holds anything.
        for d in &self.created {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn read_options(config: &Config, crs: Option<&str>) -> Result<ReadOptions> {
    Ok(ReadOptions {
        repair: config.repair,
        crs: crs.map(Crs::parse).transpose()?,
        default_crs: config.crs.as_deref().map(Crs::parse).transpose()?,
        encoding: None,
        window: None,
    })
}

/// The UTM zone of the towns layer's centre: one working CRS for the whole run, so that towns compare.
fn utm_of(layer: &Layer) -> Result<Crs> {
    let t = Transformer::new(&layer.crs, &Crs::wgs84())?;
    let mut ext: Option<[f64; 4]> = None;
    for g in layer.features.iter().filter_map(|f| f.geometry.as_ref()) {
        let Some(r) = g.bounding_rect() else { continue };
        for c in [r.min(), r.max()] {
            let Ok(p) = t.transform(c) else { continue };
            let e = ext.get_or_insert([p.x, p.y, p.x, p.y]);
            *e = [e[0].min(p.x), e[1].min(p.y), e[2].max(p.x), e[3].max(p.y)];
        }
    }
    let [x0, y0, x1, y1] =
        ext.ok_or_else(|| Error::format(&layer.path, "towns layer has no usable geometry"))?;
    Crs::utm_for((x0 + x1) / 2.0, (y0 + y1) / 2.0)
}

/// A folder name from a town id: path separators, characters Windows refuses, `%#?` (they would break the index
/// page's links) and control characters become `_`; a leading dot would hide it.
fn folder_name(id: &str) -> String {
    let mut s: String = id
        .trim()
        .chars()
        .map(|c| {
            if c.is_control()
                || matches!(
                    c,
                    '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '%' | '#' | ' '
                )
            {
                '_'
            } else {
                c
            }
        })
        .take(80)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// Reads the towns: features sharing an id are the parts of one town (a town split over several records).
fn read_towns(layer: &Layer, options: &Options, working: &Crs) -> Result<Vec<TownInput>> {
    let t = Transformer::new(&layer.crs, working)?;
    let key_field = options.id_field.as_deref().or(options.name_field.as_deref());
    let mut groups: IndexMap<String, Vec<&Feature>> = IndexMap::new();
    for f in &layer.features {
        let key = f
            .key(key_field)
            .filter(|k| !k.trim().is_empty())
            .unwrap_or_else(|| format!("feature-{}", f.index));
        groups.entry(key).or_default().push(f);
    }
    let mut folders: BTreeMap<String, usize> = BTreeMap::new();
    let mut towns = Vec::with_capacity(groups.len());
    for (id, features) in groups {
        let first = features[0];
        let name = options
            .name_field
            .as_deref()
            .and_then(|k| first.text(k))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| id.clone());
        let mut folder = folder_name(&id);
        // Two ids that differ only in characters a folder name cannot hold still get folders of their own.
        let n = folders.entry(folder.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            folder = format!("{folder}-{n}");
        }
        let geometry = town_geometry(layer, &features, key_field, &t);
        towns.push(TownInput {
            index: first.index,
            id,
            name,
            folder,
            geometry,
        });
    }
    Ok(towns)
}

/// One town's polygon in the working CRS, or why it cannot be used (the town then fails, the others go on).
fn town_geometry(
    layer: &Layer,
    features: &[&Feature],
    id_field: Option<&str>,
    t: &Transformer,
) -> std::result::Result<MultiPolygon<f64>, String> {
    let mut parts = Vec::new();
    for f in features {
        let mut g = match &f.geometry {
            Some(g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_))) => g.clone(),
            Some(other) => {
                return Err(layer
                    .error(
                        f,
                        id_field,
                        format!(
                            "expected a polygon, found a {}",
                            crate::model::geometry_kind(other)
                        ),
                    )
                    .to_string())
            }
            None => return Err(layer.error(f, id_field, "geometry is null").to_string()),
        };
        t.transform_geometry_densified(&mut g)
            .map_err(|e| layer.error(f, id_field, e.to_string()).to_string())?;
        let mp = match g {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(mp) => mp,
            _ => {
                return Err(layer
                    .error(f, id_field, "geometry changed type in transformation")
                    .to_string())
            }
        };
        // Every unit is cut from the town: an invalid town would corrupt every area and partition check.
        let problems = crate::validate::geometry::problems(&mp);
        if let Some(p) = problems.first() {
            let more = match problems.len() {
                n if n > 1 => format!(" (and {} more)", n - 1),
                _ => String::new(),
            };
            return Err(layer
                .error(f, id_field, format!("town polygon is invalid: {p}{more}"))
                .to_string());
        }
        parts.extend(mp.0);
    }
    if parts.is_empty() {
        return Err(format!("{}: town has no polygon", layer.path.display()));
    }
    Ok(if features.len() == 1 {
        MultiPolygon(parts)
    } else {
        geo::unary_union(&parts)
    })
}

/// Given units assigned to towns (by town index): each to the town it overlaps most; the other towns it overlaps
/// are listed as crossings. Units in no town are returned by id.
type Assigned = BTreeMap<usize, (Vec<Unit>, Vec<Crossing>)>;

fn assign_units(units: Vec<Unit>, towns: &[TownInput], tolerance_m2: f64) -> (Assigned, Vec<String>) {
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = towns
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let r = t.geometry.as_ref().ok()?.bounding_rect()?;
            Some(GeomWithData::new(
                Rectangle::from_corners(r.min().into(), r.max().into()),
                i,
            ))
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    let mut assigned: Assigned = BTreeMap::new();
    let mut unplaced = Vec::new();
    for u in units {
        let Some(r) = u.geometry.bounding_rect() else {
            unplaced.push(u.id);
            continue;
        };
        let env = AABB::from_corners(r.min().into(), r.max().into());
        let mut overlaps: Vec<(usize, f64)> = tree
            .locate_in_envelope_intersecting(env)
            .filter_map(|c| {
                let t = towns[c.data].geometry.as_ref().ok()?;
                let a = u.geometry.intersection(t).unsigned_area();
                (a > 0.0).then_some((c.data, a))
            })
            .collect();
        // Largest overlap first; ties to the earlier town, so the assignment never depends on the tree's order.
        overlaps.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let Some(&(home, _)) = overlaps.first() else {
            unplaced.push(u.id);
            continue;
        };
        let others: Vec<String> = overlaps[1..]
            .iter()
            .filter(|(_, a)| *a > tolerance_m2)
            .map(|(i, _)| towns[*i].id.clone())
            .collect();
        let entry = assigned.entry(towns[home].index).or_default();
        if !others.is_empty() {
            entry.1.push(Crossing {
                unit: u.id.clone(),
                towns: others,
            });
        }
        entry.0.push(u);
    }
    (assigned, unplaced)
}

/// An input inside a town folder would be replaced with the folder: refused before any work.
fn refuse_inputs_under(out: &Path, towns: &[&TownInput], inputs: &[PathBuf]) -> Result<()> {
    let Ok(out) = std::fs::canonicalize(out) else {
        return Ok(());
    };
    for i in inputs {
        let Ok(p) = std::fs::canonicalize(i) else { continue };
        if let Ok(rest) = p.strip_prefix(&out) {
            let first = rest
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            if towns.iter().any(|t| Some(&t.folder) == first.as_ref()) || summary::is_summary_file(rest) {
                return Err(Error::Output {
                    path: out.join(rest),
                    problem: "is an input of this run and would be replaced by its outputs (--out)".into(),
                });
            }
        }
    }
    Ok(())
}

/// The city-wide features and facilities, indexed by bounding box.
struct CityIndex {
    lines: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    facilities: RTree<GeomWithData<[f64; 2], usize>>,
    overlays: RTree<GeomWithData<[f64; 2], usize>>,
}

impl CityIndex {
    fn new(city: &StudyArea) -> CityIndex {
        let lines = city
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let r = l.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners(r.min().into(), r.max().into()),
                    i,
                ))
            })
            .collect();
        let points = |v: &[crate::model::Facility]| {
            RTree::bulk_load(
                v.iter()
                    .enumerate()
                    .map(|(i, f)| GeomWithData::new([f.location.x(), f.location.y()], i))
                    .collect(),
            )
        };
        CityIndex {
            lines: RTree::bulk_load(lines),
            facilities: points(&city.facilities),
            overlays: points(&city.overlays),
        }
    }
}

fn widen(r: Rect<f64>, m: f64) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x - m, r.min().y - m], [r.max().x + m, r.max().y + m])
}

/// The study area of one town: its polygon, and the city's features and facilities near it (in layer order, so
/// the town's outputs do not depend on the R-tree).
fn town_area(
    t: &TownInput,
    geometry: &MultiPolygon<f64>,
    city: &StudyArea,
    index: &CityIndex,
    options: &Options,
) -> Result<StudyArea> {
    let r = geometry
        .bounding_rect()
        .ok_or_else(|| Error::input(t.name.clone(), "town polygon is empty"))?;
    let th = &city.config.thresholds;
    let line_box = widen(r, FEATURE_MARGIN_M.max(th.boundary_tolerance_m));
    let mut lines: Vec<usize> = index
        .lines
        .locate_in_envelope_intersecting(line_box)
        .map(|g| g.data)
        .collect();
    lines.sort_unstable();
    // Facilities within the service radius of the town can serve its residents.
    let reach = th.service_radius_m.max(0.0);
    let near = |tree: &RTree<GeomWithData<[f64; 2], usize>>| {
        let mut v: Vec<usize> = tree.locate_in_envelope(widen(r, reach)).map(|g| g.data).collect();
        v.sort_unstable();
        v
    };
    let mut config = city.config.clone();
    config.name = Some(t.name.clone());
    config.town = Some(TownConfig {
        path: options.towns.clone(),
        id_field: options.id_field.clone(),
        name_field: options.name_field.clone(),
        select: Some(t.id.clone()),
        crs: None,
    });
    let mut inputs = city.inputs.clone();
    inputs.push(options.towns.clone());
    Ok(StudyArea {
        name: t.name.clone(),
        config,
        working_crs: city.working_crs.clone(),
        town: Some(Town {
            id: t.id.clone(),
            name: t.name.clone(),
            geometry: geometry.clone(),
        }),
        blocks: None,
        lines: lines
            .into_iter()
            .filter_map(|i| clip_line(&city.lines[i], line_box))
            .collect(),
        facilities: near(&index.facilities)
            .into_iter()
            .map(|i| city.facilities[i].clone())
            .collect(),
        overlays: near(&index.overlays)
            .into_iter()
            .map(|i| city.overlays[i].clone())
            .collect(),
        layers: city.layers.clone(),
        warnings: Vec::new(),
        inputs,
        blocks_union: std::sync::OnceLock::new(),
    })
}

/// The part of a city-wide line near a town: the runs of consecutive segments that meet `bounds`. A ring road or
/// a river crossing a whole city (densified to thousands of vertices when projected) would otherwise be cut,
/// snapped and measured in full in every town it passes.
fn clip_line(line: &crate::model::LineFeature, bounds: AABB<[f64; 2]>) -> Option<crate::model::LineFeature> {
    use rstar::Envelope;
    let mut runs = Vec::new();
    for ls in &line.geometry.0 {
        let mut run: Vec<geo::Coord<f64>> = Vec::new();
        for w in ls.0.windows(2) {
            let seg = AABB::from_corners([w[0].x, w[0].y], [w[1].x, w[1].y]);
            if seg.intersects(&bounds) {
                if run.is_empty() {
                    run.push(w[0]);
                }
                run.push(w[1]);
            } else if !run.is_empty() {
                runs.push(geo::LineString(std::mem::take(&mut run)));
            }
        }
        if run.len() > 1 {
            runs.push(geo::LineString(run));
        }
    }
    if runs.is_empty() {
        return None;
    }
    Some(crate::model::LineFeature {
        id: line.id.clone(),
        class: line.class,
        name: line.name.clone(),
        geometry: geo::MultiLineString(runs),
        inferred: line.inferred,
    })
}

/// Runs one town into `work/<folder>/` and returns its record; an error becomes the record's `error` (and its
/// folder holds `town.json` alone), so the other towns go on.
#[allow(clippy::too_many_arguments)]
fn run_town(
    t: &TownInput,
    city: &StudyArea,
    index: &CityIndex,
    mode: &Mode,
    given: Option<&(Vec<Unit>, Vec<Crossing>)>,
    options: &Options,
    inputs: &[PathBuf],
    work: &Path,
) -> TownRecord {
    let mut record = TownRecord {
        index: t.index,
        id: t.id.clone(),
        name: t.name.clone(),
        folder: t.folder.clone(),
        area_km2: t
            .geometry
            .as_ref()
            .ok()
            .map(|g| round(g.unsigned_area() / 1e6, 4)),
        population: None,
        units: 0,
        passing: 0,
        failing_checks: IndexMap::new(),
        crossing_units: given.map(|g| g.1.clone()).unwrap_or_default(),
        unassigned_blocks: 0,
        proposed_sites: None,
        passing_with_sites: None,
        error: None,
    };
    let dir = work.join(&t.folder);
    let result = t.geometry.clone().and_then(|g| {
        run_town_outputs(
            t,
            &g,
            city,
            index,
            mode,
            given,
            options,
            inputs,
            &dir,
            &mut record,
        )
        .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        record.error = Some(e);
        record.units = 0;
        record.passing = 0;
        record.failing_checks.clear();
        record.population = None;
        record.proposed_sites = None;
        record.passing_with_sites = None;
        // A failed town leaves its record only: nothing half-written from its run.
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = write_record(&dir, &record, inputs) {
            record.error = Some(format!(
                "{}; and its record could not be written: {e}",
                record.error.unwrap_or_default()
            ));
        }
    }
    record
}

#[allow(clippy::too_many_arguments)]
fn run_town_outputs(
    t: &TownInput,
    geometry: &MultiPolygon<f64>,
    city: &StudyArea,
    index: &CityIndex,
    mode: &Mode,
    given: Option<&(Vec<Unit>, Vec<Crossing>)>,
    options: &Options,
    inputs: &[PathBuf],
    dir: &Path,
    record: &mut TownRecord,
) -> Result<()> {
    let area = town_area(t, geometry, city, index, options)?;
    let mut staging = Staging::new(inputs);
    let sites = options
        .site
        .then(|| (dir.join("sites.geojson"), dir.join("site.json")));
    if let Some((s, r)) = &sites {
        staging.claim(s, "the proposed sites")?;
        staging.claim(r, "the site report")?;
    }
    let outcome = match mode {
        Mode::Propose => {
            let outputs = Outputs {
                units: dir.join("units.geojson"),
                blocks: Some(dir.join("blocks.geojson")),
                report: Some(dir.join("report.json")),
                inferred: Some(dir.join("inferred.geojson")),
                problems: Some(dir.join("problems.geojson")),
            };
            outputs.claim(&mut staging, area.config.propose.candidates)?;
            run::propose(&area, &outputs, &mut staging)?
        }
        Mode::Validate { .. } => {
            let units = given.map(|g| g.0.clone()).unwrap_or_default();
            if units.is_empty() {
                return Err(Error::input(
                    format!("town {}", io::shown(&t.id)),
                    "no unit of the units layer lies in this town",
                ));
            }
            let outputs = ValidateOutputs {
                units: Some(dir.join("units.geojson")),
                problems: Some(dir.join("problems.geojson")),
                report: Some(dir.join("report.json")),
            };
            outputs.claim(&mut staging)?;
            run::validate_units(&area, units, Vec::new(), &outputs, &mut staging)?
        }
    };
    crate::report::write_html(
        &dir.join("dossier.html"),
        &area,
        &outcome,
        options.lang,
        &mut staging,
    )?;
    // The town's boundary beside its units, for the district map.
    let boundary = OutFeature {
        geometry: Some(Geometry::MultiPolygon(geometry.clone())),
        properties: io::geojson::properties([
            ("town_id", t.id.clone().into()),
            ("town", t.name.clone().into()),
        ]),
    };
    io::stage_layer(
        &dir.join("town.geojson"),
        &area.working_crs,
        &[boundary],
        &mut staging,
    )?;

    let source = run::population_source(&area)?;
    if let Some(source) = &source {
        let p = source.population(std::slice::from_ref(geometry))?;
        record.population = p.first().map(|x| round(*x, 1));
    }
    if let Some(v) = &outcome.validation {
        record.units = v.summary.units;
        record.passing = v.summary.passing;
        for c in v.registry.iter() {
            let name = c.name().0;
            let failing = v
                .units
                .iter()
                .filter(|u| u.checks.get(&c.name()).and_then(|r| r.pass()) == Some(false))
                .count();
            record.failing_checks.insert(name.to_string(), failing);
        }
    }
    record.unassigned_blocks = outcome.unassigned_blocks;
    if let (Some((s, r)), Some(source)) = (&sites, &source) {
        if outcome.units.is_empty() {
            return Err(Error::input(
                format!("town {}", io::shown(&t.id)),
                "site: propose found no units to site facilities for",
            ));
        }
        let plan = crate::site::plan(
            &area,
            &outcome.units,
            source.as_ref(),
            None,
            &crate::site::SiteOptions::default(),
        )?;
        plan.stage(&area, s, Some(r), &mut staging)?;
        record.proposed_sites = Some(plan.sites.len());
        record.passing_with_sites = Some(plan.after.summary.passing);
    }
    stage_record(dir, record, &mut staging)?;
    staging.commit()
}

fn stage_record(dir: &Path, record: &TownRecord, staging: &mut Staging) -> Result<()> {
    let path = dir.join(summary::RECORD);
    let mut s = serde_json::to_string_pretty(record).map_err(|e| Error::format(&path, e.to_string()))?;
    s.push('\n');
    staging.write(&path, s.as_bytes())
}

fn write_record(dir: &Path, record: &TownRecord, inputs: &[PathBuf]) -> Result<()> {
    let mut staging = Staging::new(inputs);
    stage_record(dir, record, &mut staging)?;
    staging.commit()
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_and_refuses() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { k: 2, n: 8 }));
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_split_towns_exactly_once() {
        let ids: Vec<String> = (0..1000).map(|i| format!("T{i}")).collect();
        let n = 3;
        for id in &ids {
            let holders = (1..=n).filter(|&k| Shard { k, n }.holds(id)).count();
            assert_eq!(holders, 1, "{id}");
        }
        // Roughly balanced.
        let first = ids.iter().filter(|id| Shard { k: 1, n }.holds(id)).count();
        assert!((250..420).contains(&first), "{first}");
    }

    #[test]
    fn folder_names_are_safe() {
        assert_eq!(folder_name("江桥镇"), "江桥镇");
        assert_eq!(folder_name("../x"), "_.._x");
        assert_eq!(folder_name("a/b#c?d%e f"), "a_b_c_d_e_f");
        assert_eq!(folder_name(""), "_");
    }
}
