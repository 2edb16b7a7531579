//! `bmu` delineates and validates *basic management units* (基本管理单元) in Shanghai's suburban towns.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;

pub use error::{Error, Result};
pub mod config;
pub mod crs;
pub mod inspect;
pub mod io;
pub mod model;
pub mod validate;
