//! The study-area configuration: `bmu.toml`.
//!
//! A study area is a folder whose `bmu.toml` names its layers, their field mappings, the CRS, the working CRS and
//! the thresholds. Paths are relative to the file. Every setting can also be given as a command-line flag; the binary
//! applies flags on top of this struct, so a flag overrides the file. Unknown keys and wrong types are errors
//! (a misspelt threshold must never silently fall back to a default).
//!
//! Threshold defaults are the numbers of 沪民区划〔2018〕6号 as mapped in `shared/policy/RULES.md`.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
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
    pub town: Option<TownConfig>,
    pub blocks: Option<BlocksConfig>,
    #[serde(default)]
    pub features: Vec<FeatureLayerConfig>,
    pub facilities: Option<FacilitiesConfig>,
    #[serde(default)]
    pub overlays: Vec<OverlayConfig>,
    pub population: Option<PopulationConfig>,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub propose: ProposeConfig,
}

/// The town boundary layer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TownConfig {
    pub path: PathBuf,
    pub id_field: Option<String>,
    pub name_field: Option<String>,
    /// Which feature is the town when the layer holds several: the value of `id_field` or `name_field`.
    pub select: Option<String>,
    pub crs: Option<String>,
}

/// Blocks: residential committees / villages or compounds, the building bricks of units.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlocksConfig {
    pub path: PathBuf,
    pub id_field: Option<String>,
    /// A population count per block, taken as given.
    pub population_field: Option<String>,
    pub crs: Option<String>,
}

/// A layer of linear features (roads, rivers, railways).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureLayerConfig {
    pub path: PathBuf,
    /// Attribute holding the class (OSM `highway`/`waterway`/`railway` values or bmu's class names).
    pub class_field: Option<String>,
    /// One class for the whole layer.
    pub class: Option<String>,
    /// Extra value → class mappings (e.g. `"快速路" = "expressway"`).
    #[serde(default)]
    pub class_map: BTreeMap<String, String>,
    pub id_field: Option<String>,
    pub name_field: Option<String>,
    pub crs: Option<String>,
}

/// Facility points ("3+3" and overlays) with a type and a status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FacilitiesConfig {
    pub path: PathBuf,
    pub id_field: Option<String>,
    pub type_field: Option<String>,
    pub status_field: Option<String>,
    pub name_field: Option<String>,
    /// Source values → vocabulary types (e.g. `"社区卫生服务中心" = "health"`).
    #[serde(default)]
    pub type_map: BTreeMap<String, String>,
    pub crs: Option<String>,
}

/// A point layer whose every point has one overlay type (metro stations → `transit`, parks → `park`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OverlayConfig {
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: String,
    pub id_field: Option<String>,
    pub name_field: Option<String>,
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
    pub recognisable_classes: Vec<String>,
    /// Whether lines inferred by `propose`'s cleaning step count as recognisable.
    pub accept_inferred: bool,
    /// Gaps/overlaps/spills smaller than this are ignored.
    pub partition_tolerance_m2: f64,
    /// Classes a unit may not straddle (2024 draft standard: expressways and railways).
    pub barrier_classes: Vec<String>,
    /// Length of barrier allowed inside a unit's interior before the unit counts as split by it.
    pub barrier_tolerance_m: f64,
    /// 一(三) "3+3": facility types every unit needs.
    pub required_facilities: Vec<String>,
    /// Service types whose coverage is checked.
    pub service_types: Vec<String>,
    /// Service radius.
    pub service_radius_m: f64,
    /// Share of a unit's population that must be within the radius.
    pub service_share: f64,
    /// Share of a block's area that must lie in one unit (community integrity).
    pub community_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Thresholds {
            min_population: 20_000.0,
            min_area_km2: 2.0,
            boundary_tolerance_m: 30.0,
            boundary_share: 0.8,
            recognisable_classes: s(&["expressway", "arterial", "road", "river", "canal", "railway"]),
            accept_inferred: false,
            partition_tolerance_m2: 100.0,
            barrier_classes: s(&["expressway", "railway"]),
            barrier_tolerance_m: 200.0,
            required_facilities: s(&[
                "affairs",
                "health",
                "culture",
                "police",
                "urban_management",
                "market_supervision",
            ]),
            service_types: s(&["affairs", "health", "culture"]),
            service_radius_m: 1000.0,
            service_share: 0.8,
            community_share: 0.95,
        }
    }
}

/// Settings of `propose`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProposeConfig {
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
    /// Merge a component that cannot reach the bounds into a neighbouring unit.
    pub merge_infeasible: bool,
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
            merge_infeasible: false,
        }
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
    }

    /// Range checks a planner can get wrong; `source` names the file (or `<flags>`).
    pub fn check(&self, source: &Path) -> Result<()> {
        let t = &self.thresholds;
        let bad = |what: &str| Err(Error::config(source, what.to_string()));
        for (name, v) in [
            ("thresholds.min_population", t.min_population),
            ("thresholds.min_area_km2", t.min_area_km2),
            ("thresholds.boundary_tolerance_m", t.boundary_tolerance_m),
            ("thresholds.partition_tolerance_m2", t.partition_tolerance_m2),
            ("thresholds.barrier_tolerance_m", t.barrier_tolerance_m),
            ("thresholds.service_radius_m", t.service_radius_m),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(&format!("{name} must be a number ≥ 0, got {v}"));
            }
        }
        for (name, v) in [
            ("thresholds.boundary_share", t.boundary_share),
            ("thresholds.service_share", t.service_share),
            ("thresholds.community_share", t.community_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(&format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        for class in t.recognisable_classes.iter().chain(&t.barrier_classes) {
            if crate::model::FeatureClass::parse(class).is_none() {
                return bad(&format!("unknown feature class `{class}` in thresholds"));
            }
        }
        for kind in t.required_facilities.iter().chain(&t.service_types) {
            if crate::model::FacilityType::parse(kind).is_none() {
                return bad(&format!("unknown facility type `{kind}` in thresholds"));
            }
        }
        self.check_crs(source)?;
        if self.propose.candidates == 0 || self.propose.starts == 0 {
            return bad("propose.candidates and propose.starts must be ≥ 1");
        }
        Ok(())
    }
}

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
        }
        Ok(())
    }
}

/// Applies one `KEY=VALUE` assignment (dotted key, TOML value) to a configuration — the `--set` flag, so that every
/// setting of `bmu.toml` can be given on the command line. A bare word that is not TOML is taken as a string.
pub fn set(config: Config, assignment: &str) -> Result<Config> {
    let flags = Path::new("<flags>");
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| Error::config(flags, format!("--set `{assignment}`: expected KEY=VALUE")))?;
    let key = key.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {}", raw.trim()))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
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
    root.try_into()
        .map_err(|e: toml::de::Error| Error::config(flags, format!("--set {key}: {}", e.message())))
}

#[cfg(test)]
mod tests {
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
        assert_eq!(c.thresholds.required_facilities, vec!["affairs", "health"]);
        let c = set(c, "working_crs=EPSG:4549").unwrap();
        assert_eq!(c.working_crs.as_deref(), Some("EPSG:4549"));
        let c = set(c, "propose.seed=7").unwrap();
        assert_eq!(c.propose.seed, 7);
        assert!(set(c.clone(), "thresholds.min_populaton=1").is_err());
        assert!(set(c.clone(), "thresholds.min_population=many").is_err());
        assert!(set(c, "no_equals_sign").is_err());
    }

    #[test]
    fn paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bmu.toml"), "[town]\npath = \"town.geojson\"\n").unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.town.unwrap().path, dir.path().join("town.geojson"));
    }
}
