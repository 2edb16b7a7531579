//! `bmu` delineates and validates *basic management units* (基本管理单元) in Shanghai's suburban towns, following
//! 沪民区划〔2018〕6号: a unit generally has at least 20,000 residents, at least 2 km², clear and recognisable
//! boundaries, and hosts the "3+3" facilities.
//!
//! # The pipeline, stage by stage
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | read | [`io`] | GeoJSON and Shapefile layers (GBK DBF text, `.prj`, legacy `crs`), atomic writers |
//! | place | [`crs`] | EPSG/ESRI/PROJ/WKT and GCJ-02/BD-09; pure-Rust or full-PROJ backend; metres only |
//! | model | [`config`], [`vocab`], [`model`] | `bmu.toml`, the study area in the working CRS |
//! | summarise | [`inspect`] | layers, areas (planar and geodesic), features, facilities, warnings |
//! | population | [`raster`], [`population`] | GeoTIFF/ASCII grids read by window; exact cell-fraction zonal sums |
//! | blocks | [`blocks`], `index` (internal) | clean feature lines, cut the town into blocks, adjacency, dissolve |
//! | check | [`mod@validate`] | one file per policy rule; values, thresholds, reasons, problem geometries |
//! | regionalise | [`mod@propose`] | max-p with population and area bounds, multi-start, seeded, deterministic |
//! | report | [`report`] | the HTML dossier (map, checks by unit, policy basis), maps as SVG or PNG |
//!
//! Long runs mark their stages, and validation the time of its steps, through [`progress`]; the binary draws them.
//! The library prints nothing: the `bmu` binary (behind the default `cli` feature, which alone brings in `clap`,
//! `anyhow`, `indicatif` and `comfy-table`) turns flags into a [`Config`] and an [`Outcome`] into the terminal
//! summary and table.
//!
//! Every error is an [`Error`] naming the file, the feature and the problem; broken policy rules are check results,
//! not errors.
//!
//! # Use
//!
//! The crate root holds what a caller needs: load a [`StudyArea`] from a [`Config`] (a study area's `bmu.toml`, or
//! one built in code), then run a verb — [`propose()`] or [`validate()`] — which writes its outputs and returns an
//! [`Outcome`] (its [`Validation`], the proposal, the report JSON). Outputs go through a [`Staging`]: checked
//! against the inputs before the work and renamed into place together by [`Staging::commit`] once all are
//! written. [`population`] sums a grid over any polygons.
//!
//! ```no_run
//! # fn main() -> bmu::Result<()> {
//! let config = bmu::Config::load(std::path::Path::new("data/jiangqiao"))?;
//! let area = bmu::StudyArea::load(&config)?;
//! let outputs = bmu::Outputs {
//!     units: "out/units.geojson".into(),
//!     report: Some("out/report.json".into()),
//!     ..Default::default()
//! };
//! let mut staging = bmu::Staging::new(&area.inputs);
//! outputs.claim(&mut staging, config.propose.candidates)?;
//! let outcome = bmu::propose(&area, &outputs, &mut staging)?;
//! staging.commit()?;
//! println!("{} units, all passing: {}", outcome.units.len(), outcome.all_pass);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod batch;
pub mod blocks;
pub mod config;
pub mod crs;
pub mod edit;
pub mod error;
pub(crate) mod index;
pub mod inspect;
pub mod io;
pub mod model;
pub mod network;
pub mod population;
pub mod progress;
pub mod propose;
pub mod raster;
pub mod report;
pub mod run;
pub mod site;
pub mod validate;
pub mod vocab;

pub use config::Config;
pub use error::{Error, Result};
pub use io::atomic::Staging;
pub use model::StudyArea;
pub use progress::{Progress, Stage};
pub use run::{propose, validate, Outcome, Outputs, ValidateOutputs};
pub use validate::Validation;
