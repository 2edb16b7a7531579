//! The study-area configuration: `bmu.toml`.
//!
//! A study area is a folder whose `bmu.toml` names its layers, their field mappings, the CRS, the working CRS and
//! the thresholds. Paths are relative to the file. Every setting can also be given as a command-line flag; the binary
//! applies flags on top of this struct, so a flag overrides the file. Unknown keys and wrong types are errors
//! (a misspelt threshold must never silently fall back to a default).
//!
//! Threshold defaults are the numbers of 沪民区划〔2018〕6号 as mapped in `shared/policy/RULES.md`.

use crate::vocab::{FacilityType, FeatureClass, Vocabulary};
use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole `bmu.toml`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Display name of the study area.
    pub name: Option<String>,
    /// CRS of layers that declare none (Shapefiles without `.prj`, GeoJSON in legacy CRSs without a `crs` member).
    pub crs: Option<String>,
    /// Projected CRS in which everything is measured; `utm` or absent = the UTM zone of the town.
    pub working_crs: Option<String>,
    /// Repair what can be repaired safely while reading polygons (open rings, ring orientation, self-intersections
    /// through `MakeValid`), listing every change; off by default: bad geometry is an error or a check failure.
    #[serde(default)]
    pub repair: bool,
    /// The town boundary layer.
    pub town: Option<TownConfig>,
    /// The blocks layer (residential committees, villages, compounds), when given rather than derived.
    pub blocks: Option<BlocksConfig>,
    #[serde(default)]
    /// Linear feature layers: roads, rivers, canals, railways.
    pub features: Vec<FeatureLayerConfig>,
    /// The facility points ("3+3" and others).
    pub facilities: Option<FacilitiesConfig>,
    #[serde(default)]
    /// Overlay layers (leisure, transit, parks, commerce), reported only.
    pub overlays: Vec<OverlayConfig>,
    /// The population grid or points.
    pub population: Option<PopulationConfig>,
    #[serde(default)]
    /// Policy thresholds of the checks.
    pub thresholds: Thresholds,
    #[serde(default)]
    /// Settings of `propose`.
    pub propose: ProposeConfig,
    #[serde(default)]
    /// What the dossier's cover says about who made it and when.
    pub report: ReportConfig,
    /// `[batch]`: the flags of `bmu batch` (a study-area run ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
}

/// `[batch]`: what `bmu batch` runs, so that a district's run is one file. Every key is a flag of `bmu batch` of the
/// same name (a flag overrides it); the layers every town shares come from the file's own tables (`[population]`,
/// `[[features]]`, `[facilities]`), the town and blocks tables are ignored. Paths are relative to the file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// The towns layer.
    pub towns: Option<PathBuf>,
    /// Field holding each town's name.
    pub name_field: Option<String>,
    /// Field holding each town's id.
    pub town_id_field: Option<String>,
    /// Only these towns, by id or name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// The district's units, validated instead of proposing.
    pub units: Option<PathBuf>,
    /// Id field of the units layer.
    pub id_field: Option<String>,
    /// Propose units in every town (the default without `units`).
    #[serde(default)]
    pub propose: bool,
    /// Then site the missing "3+3" facilities in every town.
    #[serde(default)]
    pub site: bool,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Only part K of N of the towns, as `K/N`.
    pub shard: Option<String>,
    /// Towns run at once.
    pub jobs: Option<usize>,
    /// Language of the dossiers and the index page (`zh` or `en`).
    pub lang: Option<String>,
}

/// `[report]`: the dossier's cover. Every field is optional; none is invented (no date is taken from the clock, so
/// a dossier stays byte-identical for the same inputs).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// 编制单位: who prepared the dossier.
    pub author: Option<String>,
    /// The date printed on the cover, as written (e.g. `2026年12月`).
    pub date: Option<String>,
    /// A title replacing the town's name on the cover.
    pub title: Option<String>,
}

/// The town boundary layer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TownConfig {
    /// The layer file.
    pub path: PathBuf,
    /// Field holding the town's id.
    pub id_field: Option<String>,
    /// Field holding the town's name.
    pub name_field: Option<String>,
    /// Which feature is the town when the layer holds several: the value of `id_field` or `name_field`.
    pub select: Option<String>,
    /// CRS of the layer when its file declares none.
    pub crs: Option<String>,
}

/// Blocks: residential committees / villages or compounds, the building bricks of units.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlocksConfig {
    /// The layer file.
    pub path: PathBuf,
    /// Field holding each block's id (default: the feature index).
    pub id_field: Option<String>,
    /// A population count per block, taken as given.
    pub population_field: Option<String>,
    /// CRS of the layer when its file declares none.
    pub crs: Option<String>,
}

/// A layer of linear features (roads, rivers, railways).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureLayerConfig {
    /// The layer file.
    pub path: PathBuf,
    /// Attribute holding the class (OSM `highway`/`waterway`/`railway` values or bmu's class names).
    pub class_field: Option<String>,
    /// One class for the whole layer.
    pub class: Option<String>,
    /// Extra value → class mappings (e.g. `"快速路" = "expressway"`).
    #[serde(default)]
    pub class_map: BTreeMap<String, String>,
    /// Field holding each feature's id.
    pub id_field: Option<String>,
    /// Field holding each feature's name.
    pub name_field: Option<String>,
    /// CRS of the layer when its file declares none.
    pub crs: Option<String>,
    /// OSM `highway=trunk` ways on a bridge (`bridge=*` other than `no`) or above ground (`layer` ≥ 1) are
    /// expressways, hence barriers: Shanghai's elevated roads (高架) are tagged `trunk`.
    #[serde(default)]
    pub elevated_barriers: bool,
}

/// Facility points ("3+3" and overlays) with a type and a status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FacilitiesConfig {
    /// The layer file.
    pub path: PathBuf,
    /// Field holding each facility's id.
    pub id_field: Option<String>,
    /// Field holding the facility type.
    pub type_field: Option<String>,
    /// Field holding the status (existing or planned).
    pub status_field: Option<String>,
    /// Field holding each facility's name.
    pub name_field: Option<String>,
    /// Source values → vocabulary types (e.g. `"社区卫生服务中心" = "health"`).
    #[serde(default)]
    pub type_map: BTreeMap<String, String>,
    /// CRS of the layer when its file declares none.
    pub crs: Option<String>,
}

/// A point layer whose every point has one overlay type (metro stations → `transit`, parks → `park`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OverlayConfig {
    /// The layer file.
    pub path: PathBuf,
    #[serde(rename = "type")]
    /// What the layer holds (leisure, transit, park, commerce).
    pub kind: String,
    /// Field holding each feature's id.
    pub id_field: Option<String>,
    /// Field holding each feature's name.
    pub name_field: Option<String>,
    /// CRS of the layer when its file declares none.
    pub crs: Option<String>,
}

/// The population source.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// A population grid (GeoTIFF, ESRI ASCII grid) or points (CSV x,y,pop; GeoJSON points).
    pub grid: Option<PathBuf>,
    /// Overrides the grid's own CRS.
    pub grid_crs: Option<String>,
    /// Field holding the count for point sources.
    pub field: Option<String>,
}

/// The policy thresholds and check tolerances. Defaults: `shared/policy/RULES.md`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// 一(一): resident population above 20,000.
    pub min_population: f64,
    /// 一(一): area above 2 km².
    pub min_area_km2: f64,
    /// 一(一) "clear, recognisable boundaries": distance within which a boundary follows a feature.
    pub boundary_tolerance_m: f64,
    /// Share of a unit's boundary that must follow a recognisable feature.
    pub boundary_share: f64,
    /// Feature classes that count as recognisable (the town boundary always does).
    #[serde(deserialize_with = "recognisable_classes")]
    pub recognisable_classes: Vec<FeatureClass>,
    /// Whether lines inferred by `propose`'s cleaning step count as recognisable.
    pub accept_inferred: bool,
    /// Gaps/overlaps/spills smaller than this are ignored.
    pub partition_tolerance_m2: f64,
    /// Gaps/overlaps/spills narrower than this on average (2 · area / perimeter) are ignored: slivers of coordinate
    /// rounding and reprojection, millimetres wide however long.
    pub partition_sliver_width_m: f64,
    /// Classes a unit may not straddle (2024 draft standard: expressways and railways).
    #[serde(deserialize_with = "barrier_classes")]
    pub barrier_classes: Vec<FeatureClass>,
    /// Length of barrier allowed inside a unit's interior before the unit counts as split by it.
    pub barrier_tolerance_m: f64,
    /// 一(三) "3+3": facility types every unit needs.
    #[serde(deserialize_with = "required_facilities")]
    pub required_facilities: Vec<FacilityType>,
    /// Service types whose coverage is checked.
    #[serde(deserialize_with = "service_types")]
    pub service_types: Vec<FacilityType>,
    /// Service radius.
    pub service_radius_m: f64,
    /// Share of a unit's population that must be within the radius.
    pub service_share: f64,
    /// Share of a block's area that must lie in one unit (community integrity).
    pub community_share: f64,
    /// How the service radius is measured: `euclidean` (a disc) or `network` (along walkable lines).
    pub service_distance: ServiceDistance,
    /// Network distance: the longest straight walk from a point to the nearest walkable line; further is
    /// unreachable.
    pub max_access_m: f64,
    /// Network distance: the feature classes people walk along.
    #[serde(deserialize_with = "walkable_classes")]
    pub walkable_classes: Vec<FeatureClass>,
    /// Network distance: side of the squares whose centres are measured (coverage is the union of the squares
    /// within reach).
    pub network_cell_m: f64,
    /// Accept a unit in several parts (a 飞地) when every detached part is joined to the main part by a walkable
    /// line (`walkable_classes`) that comes within `exclave_road_m` of both.
    pub accept_exclaves_by_road: bool,
    /// How near both parts the joining line must come, m.
    pub exclave_road_m: f64,
}

/// How `service_radius_m` is measured.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServiceDistance {
    /// Straight line: a disc around each facility.
    #[default]
    Euclidean,
    /// Along the walking network: access to the nearest walkable line, the shortest path along walkable lines
    /// (joined only where they share a vertex), and access from it to the facility.
    Network,
}

impl ServiceDistance {
    /// The word used in `bmu.toml`, `--distance` and reports.
    pub fn name(self) -> &'static str {
        match self {
            ServiceDistance::Euclidean => "euclidean",
            ServiceDistance::Network => "network",
        }
    }

    /// `euclidean` or `network`.
    pub fn parse(word: &str) -> Option<ServiceDistance> {
        match word.trim().to_ascii_lowercase().as_str() {
            "euclidean" => Some(ServiceDistance::Euclidean),
            "network" => Some(ServiceDistance::Network),
            _ => None,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        use FacilityType::*;
        use FeatureClass::*;
        Thresholds {
            min_population: 20_000.0,
            min_area_km2: 2.0,
            boundary_tolerance_m: 30.0,
            boundary_share: 0.8,
            recognisable_classes: vec![Expressway, Arterial, Road, River, Canal, Railway],
            accept_inferred: false,
            partition_tolerance_m2: 100.0,
            partition_sliver_width_m: 0.1,
            barrier_classes: vec![Expressway, Railway],
            barrier_tolerance_m: 200.0,
            required_facilities: vec![
                Affairs,
                Health,
                Culture,
                Police,
                UrbanManagement,
                MarketSupervision,
            ],
            service_types: vec![Affairs, Health, Culture],
            service_radius_m: 1000.0,
            service_share: 0.8,
            community_share: 0.95,
            service_distance: ServiceDistance::Euclidean,
            max_access_m: 300.0,
            walkable_classes: vec![Road, Arterial, Path],
            network_cell_m: 50.0,
            accept_exclaves_by_road: false,
            exclave_road_m: 50.0,
        }
    }
}

/// A list of vocabulary words under `thresholds.<key>`, each parsed once here; an unknown word names the key.
fn words<'de, D: Deserializer<'de>, T: Vocabulary>(d: D, key: &str) -> std::result::Result<Vec<T>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|w| {
            T::from_word(w)
                .ok_or_else(|| serde::de::Error::custom(format!("thresholds.{key}: {}", T::unknown(w))))
        })
        .collect()
}

fn recognisable_classes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<FeatureClass>, D::Error> {
    words(d, "recognisable_classes")
}

fn barrier_classes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<FeatureClass>, D::Error> {
    words(d, "barrier_classes")
}

fn required_facilities<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<FacilityType>, D::Error> {
    words(d, "required_facilities")
}

fn service_types<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<FacilityType>, D::Error> {
    words(d, "service_types")
}

fn walkable_classes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<FeatureClass>, D::Error> {
    words(d, "walkable_classes")
}

/// Settings of `propose`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProposeConfig {
    /// Random seed: the same seed gives the same output at any thread count.
    pub seed: u64,
    /// How many ranked candidate partitions to output.
    pub candidates: usize,
    /// Multi-start constructions.
    pub starts: usize,
    /// Rounds of local improvement (raise p, then compactness) on the best starts; more rounds give more compact
    /// units at more time (2 keeps a 10,000-block lattice under a second).
    pub improve_iterations: usize,
    /// Require every unit to hold every required facility type.
    pub require_facilities: bool,
    /// Blocks smaller than this merge into a neighbour when derived from features.
    pub min_block_area_m2: f64,
    /// Endpoint snapping tolerance when cleaning feature lines.
    pub snap_tolerance_m: f64,
    /// Longest extension of a dangling line end.
    pub max_extension_m: f64,
    /// Minimum shared boundary for two blocks to be adjacent.
    pub min_shared_boundary_m: f64,
    /// Whether expressways/railways separate blocks (no adjacency across them).
    pub barriers_separate: bool,
    /// What becomes of a component that cannot form a unit on its own (an island, a 飞地).
    pub exclaves: Exclaves,
    /// Deprecated alias of `exclaves`: `true` is `exclaves = "merge"`, `false` is `"unassigned"`. Folded into
    /// `exclaves` at load ([`Config::parse`], [`set`]), so nothing else reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_infeasible: Option<bool>,
}

/// `[propose] exclaves`: what becomes of a connected component of the block graph too small to form a unit.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Exclaves {
    /// Its blocks stay in no unit (`unassigned_blocks`; the run exits 1).
    #[default]
    Unassigned,
    /// It joins the unit whose centroid is nearest its own: that unit is then in several parts, which the
    /// geometry check accepts only with `thresholds.accept_exclaves_by_road`.
    Merge,
}

impl Exclaves {
    /// The word used in `bmu.toml` and `--set`.
    pub fn name(self) -> &'static str {
        match self {
            Exclaves::Unassigned => "unassigned",
            Exclaves::Merge => "merge",
        }
    }
}

impl Default for ProposeConfig {
    fn default() -> Self {
        ProposeConfig {
            seed: 2018,
            candidates: 1,
            starts: 64,
            improve_iterations: 2,
            require_facilities: false,
            min_block_area_m2: 20_000.0,
            snap_tolerance_m: 15.0,
            max_extension_m: 300.0,
            min_shared_boundary_m: 10.0,
            barriers_separate: true,
            exclaves: Exclaves::Unassigned,
            merge_infeasible: None,
        }
    }
}

impl ProposeConfig {
    /// Moves the deprecated `merge_infeasible` into `exclaves`. A file that sets both must agree with itself:
    /// `merge_infeasible = true` beside `exclaves = "unassigned"` names the contradiction rather than picking one.
    fn fold_alias(&mut self, source: &Path) -> Result<()> {
        let Some(merge) = self.merge_infeasible.take() else {
            return Ok(());
        };
        let alias = if merge {
            Exclaves::Merge
        } else {
            Exclaves::Unassigned
        };
        if self.exclaves != Exclaves::default() && self.exclaves != alias {
            return Err(Error::config(
                source,
                format!(
                    "propose.merge_infeasible = {merge} (deprecated) contradicts propose.exclaves = \"{}\": \
                     keep exclaves only",
                    self.exclaves.name()
                ),
            ));
        }
        self.exclaves = alias;
        Ok(())
    }
}

impl Config {
    /// Reads `bmu.toml` from a study-area folder (or a file path), resolving layer paths against its folder.
    pub fn load(path: &Path) -> Result<Config> {
        if !path.exists() {
            return Err(Error::config(path, "no such study-area folder or bmu.toml"));
        }
        let file = if path.is_dir() {
            path.join("bmu.toml")
        } else {
            path.to_path_buf()
        };
        if !file.exists() {
            return Err(Error::config(&file, "the study-area folder has no bmu.toml"));
        }
        // A layer given where the folder goes (`bmu inspect town.geojson`) would otherwise be read as TOML and
        // answered with a TOML syntax error about its first line.
        // The vector formats by the one extension table (`io::Format`), and the grids population reads.
        let ext = crate::io::extension(&file);
        if crate::io::Format::of(&file).is_ok() || matches!(ext.as_str(), "tif" | "tiff" | "asc") {
            return Err(Error::config(
                &file,
                format!(
                    "a .{ext} layer, not a study-area folder or bmu.toml: give the folder, or name the layer with \
                     its flag (--town, --units, --blocks, --polygons…)"
                ),
            ));
        }
        crate::io::check_input_file(&file)?;
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, "open", e))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::config(&file, format!("not UTF-8 text (TOML must be UTF-8): {e}")))?;
        Config::parse(&text, &file)
    }

    /// Parses the text of a `bmu.toml`; `file` names it in messages and anchors relative paths.
    pub fn parse(text: &str, file: &Path) -> Result<Config> {
        // A byte-order mark from a Windows editor is not TOML, but it is not the planner's mistake either.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            let at = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|before| format!(" (line {})", before.matches('\n').count() + 1))
                .unwrap_or_default();
            Error::config(file, format!("{msg}{at}"))
        })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        config.resolve_paths(&base);
        config.propose.fold_alias(file)?;
        config.check(file)?;
        Ok(config)
    }

    /// Makes every layer path relative to `base` (the folder of `bmu.toml`).
    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(t) = &mut self.town {
            fix(&mut t.path);
        }
        if let Some(b) = &mut self.blocks {
            fix(&mut b.path);
        }
        self.features.iter_mut().for_each(|f| fix(&mut f.path));
        if let Some(f) = &mut self.facilities {
            fix(&mut f.path);
        }
        self.overlays.iter_mut().for_each(|o| fix(&mut o.path));
        if let Some(g) = self.population.as_mut().and_then(|p| p.grid.as_mut()) {
            fix(g);
        }
        if let Some(b) = &mut self.batch {
            for p in [&mut b.towns, &mut b.units, &mut b.out].into_iter().flatten() {
                fix(p);
            }
        }
    }

    /// Range checks a planner can get wrong; `source` names the file (or `<flags>`).
    pub fn check(&self, source: &Path) -> Result<()> {
        let bad = |what: &str| Err(Error::config(source, what.to_string()));
        for range in RANGES {
            let value = (range.get)(self);
            if !range.contains(value) {
                return bad(&format!(
                    "{} = {value} is out of range: allowed {} ({})",
                    range.key,
                    range.allowed(),
                    range.why
                ));
            }
        }
        self.check_crs(source)?;
        Ok(())
    }
}

/// The allowed range of one numeric setting. Checked once at load, so that a value that would make a run
/// meaningless (a 10^12 m service radius covering nobody) or unbounded (a billion starts, each holding a partition
/// in memory) is refused with the key's name instead of surfacing as a strange result or an exhausted machine.
pub struct Range {
    /// The dotted `bmu.toml` key, as `--set` takes it.
    pub key: &'static str,
    /// Smallest allowed value; excluded when `above` is set.
    pub min: f64,
    /// The value must be strictly greater than `min` (shares: 0 would make the check pass vacuously).
    pub above: bool,
    /// Largest allowed value (inclusive).
    pub max: f64,
    /// The unit and the reason for the bounds, for the message and the README table.
    pub why: &'static str,
    get: fn(&Config) -> f64,
}

impl Range {
    fn contains(&self, v: f64) -> bool {
        let low = if self.above { v > self.min } else { v >= self.min };
        low && v <= self.max
    }

    /// `0 < value ≤ 1`, `1 ≤ value ≤ 1000`.
    pub fn allowed(&self) -> String {
        let op = if self.above { "<" } else { "≤" };
        format!("{} {op} value ≤ {}", self.min, self.max)
    }
}

/// Every numeric setting with its allowed range (the README's configuration table lists the same).
pub const RANGES: &[Range] = &[
    Range {
        key: "thresholds.min_population",
        min: 0.0,
        above: false,
        max: 10_000_000.0,
        why: "residents; no Shanghai town has ten million",
        get: |c| c.thresholds.min_population,
    },
    Range {
        key: "thresholds.min_area_km2",
        min: 0.0,
        above: false,
        max: 10_000.0,
        why: "km²; Shanghai is 6,340 km²",
        get: |c| c.thresholds.min_area_km2,
    },
    Range {
        key: "thresholds.boundary_tolerance_m",
        min: 0.0,
        above: false,
        max: 1_000.0,
        why: "metres from a boundary to the feature it follows",
        get: |c| c.thresholds.boundary_tolerance_m,
    },
    Range {
        key: "thresholds.boundary_share",
        min: 0.0,
        above: true,
        max: 1.0,
        why: "a share of the boundary",
        get: |c| c.thresholds.boundary_share,
    },
    Range {
        key: "thresholds.partition_tolerance_m2",
        min: 0.0,
        above: false,
        max: 1_000_000.0,
        why: "m²; gaps and overlaps up to 1 km² ignored at most",
        get: |c| c.thresholds.partition_tolerance_m2,
    },
    Range {
        key: "thresholds.partition_sliver_width_m",
        min: 0.0,
        above: false,
        max: 10.0,
        why: "metres of mean width; a 10 m wide gap is a street, not noise",
        get: |c| c.thresholds.partition_sliver_width_m,
    },
    Range {
        key: "thresholds.barrier_tolerance_m",
        min: 0.0,
        above: false,
        max: 10_000.0,
        why: "metres of barrier inside a unit",
        get: |c| c.thresholds.barrier_tolerance_m,
    },
    Range {
        key: "thresholds.service_radius_m",
        min: 0.0,
        above: true,
        max: 20_000.0,
        why: "metres; a radius beyond a town's size checks nothing",
        get: |c| c.thresholds.service_radius_m,
    },
    Range {
        key: "thresholds.service_share",
        min: 0.0,
        above: true,
        max: 1.0,
        why: "a share of the population",
        get: |c| c.thresholds.service_share,
    },
    Range {
        key: "thresholds.max_access_m",
        min: 0.0,
        above: false,
        max: 5_000.0,
        why: "metres from a point to the nearest walkable line",
        get: |c| c.thresholds.max_access_m,
    },
    Range {
        key: "thresholds.network_cell_m",
        min: 5.0,
        above: false,
        max: 500.0,
        why: "metres; squares measured along the network (a 5 m lattice over a town is millions of squares)",
        get: |c| c.thresholds.network_cell_m,
    },
    Range {
        key: "thresholds.community_share",
        min: 0.0,
        above: true,
        max: 1.0,
        why: "a share of a block's area",
        get: |c| c.thresholds.community_share,
    },
    Range {
        key: "thresholds.exclave_road_m",
        min: 0.0,
        above: false,
        max: 1_000.0,
        why: "metres from each part of a unit to the road joining them",
        get: |c| c.thresholds.exclave_road_m,
    },
    Range {
        key: "propose.candidates",
        min: 1.0,
        above: false,
        max: 20.0,
        why: "partitions written, each with its own files",
        get: |c| c.propose.candidates as f64,
    },
    Range {
        key: "propose.starts",
        min: 1.0,
        above: false,
        max: 1_000.0,
        why: "constructions, each held in memory until ranked",
        get: |c| c.propose.starts as f64,
    },
    Range {
        key: "propose.improve_iterations",
        min: 0.0,
        above: false,
        max: 50.0,
        why: "rounds of improvement; each costs as much as the first",
        get: |c| c.propose.improve_iterations as f64,
    },
    Range {
        key: "propose.min_block_area_m2",
        min: 0.0,
        above: false,
        max: 10_000_000.0,
        why: "m²; 10 km² would merge whole towns",
        get: |c| c.propose.min_block_area_m2,
    },
    Range {
        key: "propose.snap_tolerance_m",
        min: 0.0,
        above: false,
        max: 500.0,
        why: "metres between line ends that are joined",
        get: |c| c.propose.snap_tolerance_m,
    },
    Range {
        key: "propose.max_extension_m",
        min: 0.0,
        above: false,
        max: 5_000.0,
        why: "metres a dangling line is extended",
        get: |c| c.propose.max_extension_m,
    },
    Range {
        key: "propose.min_shared_boundary_m",
        min: 0.0,
        above: false,
        max: 1_000.0,
        why: "metres of common boundary that make blocks adjacent",
        get: |c| c.propose.min_shared_boundary_m,
    },
];

impl Config {
    /// Every CRS the configuration names must parse, and the working CRS must be projected: caught here, a wrong
    /// code names the `bmu.toml` key rather than surfacing later without a file.
    fn check_crs(&self, source: &Path) -> Result<()> {
        let mut named: Vec<(String, String)> = Vec::new();
        let mut add = |key: String, v: &Option<String>| {
            if let Some(v) = v {
                named.push((key, v.clone()));
            }
        };
        add("crs".into(), &self.crs);
        if let Some(t) = &self.town {
            add("town.crs".into(), &t.crs);
        }
        if let Some(b) = &self.blocks {
            add("blocks.crs".into(), &b.crs);
        }
        for (i, f) in self.features.iter().enumerate() {
            add(format!("features[{i}].crs"), &f.crs);
        }
        if let Some(f) = &self.facilities {
            add("facilities.crs".into(), &f.crs);
        }
        for (i, o) in self.overlays.iter().enumerate() {
            add(format!("overlays[{i}].crs"), &o.crs);
        }
        if let Some(p) = &self.population {
            add("population.grid_crs".into(), &p.grid_crs);
        }
        let working = self
            .working_crs
            .as_ref()
            .filter(|w| !w.trim().eq_ignore_ascii_case("utm"));
        add("working_crs".into(), &working.cloned());
        for (key, value) in named {
            let crs = crate::crs::Crs::parse(&value)
                .map_err(|e| Error::config(source, format!("{key} = {}", crate::io::crs_problem(e))))?;
            if key == "working_crs" && crs.is_geographic() {
                return Err(Error::config(
                    source,
                    format!(
                        "working_crs = `{crs}` is geographic (degrees); bmu measures in metres: \
                         choose a projected CRS such as EPSG:32651 (UTM 51N) or EPSG:4549, or `utm`"
                    ),
                ));
            }
            if key == "working_crs" {
                if let Some(problem) = crs.measuring_problem() {
                    return Err(Error::config(source, format!("working_crs = `{crs}` {problem}")));
                }
            }
        }
        Ok(())
    }
}

/// Applies one `KEY=VALUE` assignment (dotted key, TOML value) to a configuration — the `--set` flag, so that every
/// setting of `bmu.toml` can be given on the command line. A bare word that is not TOML is taken as a string.
pub fn set(config: Config, assignment: &str) -> Result<Config> {
    let flags = Path::new("<flags>");
    // One setting per flag: a line break would let TOML read a second assignment that is then dropped unseen.
    if assignment.chars().any(char::is_control) {
        return Err(Error::config(
            flags,
            format!(
                "--set `{}`: holds a line break or control character; give one KEY=VALUE per --set",
                crate::io::shown(assignment)
            ),
        ));
    }
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| Error::config(flags, format!("--set `{assignment}`: expected KEY=VALUE")))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|part| part.trim().is_empty()) {
        return Err(Error::config(
            flags,
            format!("--set `{assignment}`: `{key}` is not a setting's dotted name"),
        ));
    }
    // The value alone, as TOML: trailing text is an error, never a second key.
    let raw = raw.trim();
    let value = toml::Value::deserialize(toml::de::ValueDeserializer::new(raw))
        .unwrap_or_else(|_| toml::Value::String(raw.to_string()));
    let mut root =
        toml::Value::try_from(&config).map_err(|e| Error::config(flags, format!("--set {key}: {e}")))?;
    let mut node = &mut root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| Error::config(flags, format!("--set {key}: `{part}` is not inside a table")))?;
        if i + 1 == parts.len() {
            table.insert(part.to_string(), value.clone());
            break;
        }
        node = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    let mut config: Config = root
        .try_into()
        .map_err(|e: toml::de::Error| Error::config(flags, format!("--set {key}: {}", e.message())))?;
    // The last word wins between the flag and the file: the alias is folded at once, into whatever `exclaves` the
    // file gave.
    if let Some(merge) = config.propose.merge_infeasible.take() {
        config.propose.exclaves = if merge {
            Exclaves::Merge
        } else {
            Exclaves::Unassigned
        };
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn batch_table_is_read_with_paths_relative_to_the_file() {
        let c = Config::parse(
            "[batch]\ntowns = \"towns.geojson\"\nname_field = \"town\"\nselect = [\"江桥镇\"]\nsite = true\n\
             out = \"batch\"\nshard = \"1/2\"\njobs = 2\nlang = \"en\"\n",
            Path::new("/d/bmu.toml"),
        )
        .unwrap();
        let b = c.batch.unwrap();
        assert_eq!(b.towns, Some(PathBuf::from("/d/towns.geojson")));
        assert_eq!(b.out, Some(PathBuf::from("/d/batch")));
        assert_eq!(b.select, vec!["江桥镇".to_string()]);
        assert!(b.site && !b.propose);
        assert_eq!((b.shard.as_deref(), b.jobs), (Some("1/2"), Some(2)));
        assert!(Config::parse("[batch]\ntown = \"x\"\n", Path::new("bmu.toml")).is_err());
        assert_eq!(Config::parse("", Path::new("bmu.toml")).unwrap().batch, None);
    }

    #[test]
    fn report_table_is_read_and_optional() {
        let c = Config::parse(
            "[report]\nauthor = \"江桥镇人民政府\"\ndate = \"2026年12月\"\ntitle = \"江桥镇基本管理单元\"\n",
            Path::new("bmu.toml"),
        )
        .unwrap();
        assert_eq!(c.report.author.as_deref(), Some("江桥镇人民政府"));
        assert_eq!(c.report.date.as_deref(), Some("2026年12月"));
        assert_eq!(c.report.title.as_deref(), Some("江桥镇基本管理单元"));
        assert_eq!(
            Config::parse("", Path::new("bmu.toml")).unwrap().report,
            ReportConfig::default()
        );
        assert!(Config::parse("[report]\nauthr = \"x\"\n", Path::new("bmu.toml")).is_err());
    }

    use super::*;

    #[test]
    fn defaults_are_the_policy_numbers() {
        let t = Thresholds::default();
        assert_eq!(t.min_population, 20_000.0);
        assert_eq!(t.min_area_km2, 2.0);
        assert_eq!(t.required_facilities.len(), 6);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_with_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bmu.toml");
        std::fs::write(&path, "[thresholds]\nmin_populaton = 1\n").unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bmu.toml") && e.contains("min_populaton"), "{e}");
        // A key at the start of its line is on that line, not the one before (regression: "line 1" was reported).
        assert!(e.contains("line 2"), "{e}");
        std::fs::write(&path, "[thresholds]\nmin_population = \"many\"\n").unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_layer_given_as_the_study_area_is_named_as_a_layer_not_a_toml_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("town.GeoJSON");
        std::fs::write(&path, "{\"type\":\"FeatureCollection\",\"features\":[]}").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("town.GeoJSON") && e.contains("a .geojson layer, not a study-area folder"),
            "{e}"
        );
        // A bmu.toml under another name is still read as one.
        let toml = dir.path().join("area.toml");
        std::fs::write(&toml, "[thresholds]\nmin_population = 15000\n").unwrap();
        assert_eq!(Config::load(&toml).unwrap().thresholds.min_population, 15_000.0);
    }

    #[test]
    fn every_crs_is_checked_at_load_and_the_working_crs_must_be_projected() {
        let file = Path::new("area/bmu.toml");
        let e = Config::parse("[town]\npath = \"t.geojson\"\ncrs = \"EPSG:999999\"\n", file)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "area/bmu.toml: town.crs = `EPSG:999999`: unknown code");
        let e = Config::parse("working_crs = \"EPSG:4326\"\n", file)
            .unwrap_err()
            .to_string();
        assert!(e.contains("geographic"), "{e}");
        assert!(Config::parse("working_crs = \"utm\"\ncrs = \"EPSG:4490\"\n", file).is_ok());
    }

    #[test]
    fn set_reaches_every_setting_and_refuses_unknown_keys() {
        let c = set(Config::default(), "thresholds.boundary_share=0.7").unwrap();
        assert_eq!(c.thresholds.boundary_share, 0.7);
        let c = set(c, r#"thresholds.required_facilities=["affairs","health"]"#).unwrap();
        assert_eq!(
            c.thresholds.required_facilities,
            vec![FacilityType::Affairs, FacilityType::Health]
        );
        let c = set(c, "working_crs=EPSG:4549").unwrap();
        assert_eq!(c.working_crs.as_deref(), Some("EPSG:4549"));
        let c = set(c, "propose.seed=7").unwrap();
        assert_eq!(c.propose.seed, 7);
        assert!(set(c.clone(), "thresholds.min_populaton=1").is_err());
        assert!(set(c.clone(), "thresholds.min_population=many").is_err());
        assert!(set(c, "no_equals_sign").is_err());
    }

    #[test]
    fn set_with_a_line_break_is_refused_not_cut_short() {
        // Regression: TOML read `1\nfoo = 1` as two keys, applied the first and dropped the second unseen.
        for assignment in [
            "thresholds.min_population=1\nfoo",
            "thresholds.boundary_share=0.7\nfoo=1",
        ] {
            let e = set(Config::default(), assignment).unwrap_err().to_string();
            assert!(e.contains("line break") && e.contains(r"\n"), "{e}");
        }
        // Text after the value is part of it, so a number with a tail is a type error, not a number.
        assert!(set(Config::default(), "thresholds.boundary_share=0.7 foo=1").is_err());
        assert!(set(Config::default(), ".seed=1").is_err());
    }

    #[test]
    fn unbounded_propose_starts_is_refused_naming_the_key_and_range() {
        let c = set(Config::default(), "propose.starts=1000000000").unwrap();
        let e = c.check(Path::new("<flags>")).unwrap_err().to_string();
        assert_eq!(
            e,
            "<flags>: propose.starts = 1000000000 is out of range: allowed 1 ≤ value ≤ 1000 \
             (constructions, each held in memory until ranked)"
        );
    }

    #[test]
    fn huge_service_radius_is_refused_naming_the_key_and_range() {
        let e = Config::parse("[thresholds]\nservice_radius_m = 1e12\n", Path::new("bmu.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("bmu.toml: thresholds.service_radius_m = 1000000000000 is out of range: allowed 0 < value ≤ 20000"),
            "{e}"
        );
    }

    #[test]
    fn every_numeric_setting_is_range_checked_and_defaults_lie_inside() {
        let defaults = Config::default();
        assert!(defaults.check(Path::new("<flags>")).is_ok());
        for range in RANGES {
            assert!(range.contains((range.get)(&defaults)), "{}", range.key);
            // Just outside either end, and NaN, are refused with the key named.
            let outside = [
                range.max * 2.0 + 1.0,
                if range.above { range.min } else { range.min - 1.0 },
            ];
            for v in outside.into_iter().chain([f64::NAN]) {
                let Ok(c) = set(defaults.clone(), &format!("{}={v:?}", range.key)) else {
                    continue; // a negative or NaN count is already a type error
                };
                let e = c.check(Path::new("<flags>")).unwrap_err().to_string();
                assert!(e.contains(range.key) && e.contains("out of range"), "{e}");
            }
        }
        // Shares exclude 0: a check that asks for no share at all passes vacuously.
        let c = set(defaults, "thresholds.service_share=0.0").unwrap();
        assert!(c.check(Path::new("<flags>")).is_err());
    }

    #[test]
    fn degenerate_working_crs_is_refused_naming_working_crs() {
        // Regression: `+k=0` collapsed the town to a line and the town was blamed ("town polygon is invalid").
        let e = Config::parse(
            "working_crs = \"+proj=tmerc +lon_0=121 +k=0 +units=m\"\n",
            Path::new("bmu.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("bmu.toml: working_crs = `+proj=tmerc +lon_0=121 +k=0 +units=m` is degenerate"),
            "{e}"
        );
        let e = Config::parse(
            "working_crs = \"+proj=utm +zone=51 +units=km\"\n",
            Path::new("bmu.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("measures 0.001 east"), "{e}");
        for sound in ["EPSG:32651", "EPSG:4549", "EPSG:3857", "ESRI:54009", "utm"] {
            let text = format!("working_crs = \"{sound}\"\n");
            assert!(Config::parse(&text, Path::new("bmu.toml")).is_ok(), "{sound}");
        }
    }

    #[test]
    fn thresholds_hold_typed_words_and_an_unknown_word_names_the_key() {
        // Parsed once at load, aliases included: no call site re-parses or silently drops a word.
        let c = Config::parse(
            "[thresholds]\nbarrier_classes = [\"motorway\", \"铁路\"]\nservice_types = [\"社区卫生服务中心\"]\n",
            Path::new("bmu.toml"),
        )
        .unwrap();
        assert_eq!(
            c.thresholds.barrier_classes,
            vec![FeatureClass::Expressway, FeatureClass::Railway]
        );
        assert_eq!(c.thresholds.service_types, vec![FacilityType::Health]);
        let e = Config::parse(
            "[thresholds]\nbarrier_classes = [\"railway\", \"canall\"]\n",
            Path::new("bmu.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("bmu.toml: thresholds.barrier_classes: `canall` is not a feature class (expected one of expressway,")
                && e.contains("(line 2)"),
            "{e}"
        );
        let e = set(
            Config::default(),
            r#"thresholds.required_facilities=["affairs","hospital"]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("thresholds.required_facilities: `hospital` is not a facility type"),
            "{e}"
        );
    }

    #[test]
    fn propose_settings_and_config_share_one_set_of_defaults() {
        // Regression: the library defaulted to seed 0 / 32 starts / 3 candidates, bmu.toml to 2018 / 64 / 1.
        let s = crate::propose::Settings::default();
        assert_eq!(
            (s.seed, s.starts, s.candidates, s.improve_iterations, s.exclaves),
            (2018, 64, 1, 2, Exclaves::Unassigned)
        );
        let p = ProposeConfig::default();
        assert_eq!(
            (p.seed, p.starts, p.candidates, p.improve_iterations, p.exclaves),
            (2018, 64, 1, 2, Exclaves::Unassigned)
        );
    }

    #[test]
    fn merge_infeasible_is_a_deprecated_alias_of_exclaves_merge() {
        let file = Path::new("bmu.toml");
        let c = Config::parse("[propose]\nmerge_infeasible = true\n", file).unwrap();
        assert_eq!(
            (c.propose.exclaves, c.propose.merge_infeasible),
            (Exclaves::Merge, None)
        );
        let c = Config::parse("[propose]\nmerge_infeasible = false\n", file).unwrap();
        assert_eq!(c.propose.exclaves, Exclaves::Unassigned);
        let c = Config::parse("[propose]\nexclaves = \"merge\"\nmerge_infeasible = true\n", file).unwrap();
        assert_eq!(c.propose.exclaves, Exclaves::Merge);
        let e = Config::parse(
            "[propose]\nexclaves = \"merge\"\nmerge_infeasible = false\n",
            file,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("contradicts propose.exclaves"), "{e}");
        let e = Config::parse("[propose]\nexclaves = \"island\"\n", file)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unassigned") && e.contains("merge"), "{e}");
        // On the command line the last word wins, the alias included.
        let c = set(Config::default(), "propose.exclaves=merge").unwrap();
        assert_eq!(c.propose.exclaves, Exclaves::Merge);
        let c = set(c, "propose.merge_infeasible=false").unwrap();
        assert_eq!(
            (c.propose.exclaves, c.propose.merge_infeasible),
            (Exclaves::Unassigned, None)
        );
        let c = set(c, "thresholds.accept_exclaves_by_road=true").unwrap();
        assert!(c.thresholds.accept_exclaves_by_road);
    }

    #[test]
    fn paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bmu.toml"), "[town]\npath = \"town.geojson\"\n").unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.town.unwrap().path, dir.path().join("town.geojson"));
    }
}
