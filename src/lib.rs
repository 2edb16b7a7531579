//! `bmu` delineates and validates *basic management units* (基本管理单元) in Shanghai's suburban towns.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod population;
pub mod raster;

pub use error::{Error, Result};
