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
//! | blocks | [`blocks`], [`index`] | clean feature lines, cut the town into blocks, adjacency, dissolve |
//! | check | [`validate`] | one file per policy rule; values, thresholds, reasons, problem geometries |
//! | regionalise | [`propose`] | max-p with population and area bounds, multi-start, seeded, deterministic |
//! | report | [`report`] | the HTML dossier (map, checks by unit, policy basis), maps as SVG or PNG |
//!
//! Long runs mark their stages through [`progress`]; the binary draws them.
//!
//! Every error is an [`Error`] naming the file, the feature and the problem; broken policy rules are check results,
//! not errors.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod blocks;
pub mod config;
pub mod crs;
pub mod error;
pub mod index;
pub mod inspect;
pub mod io;
pub mod model;
pub mod population;
pub mod progress;
pub mod propose;
pub mod raster;
pub mod report;
pub mod run;
pub mod validate;
pub mod vocab;

pub use error::{Error, Result};
