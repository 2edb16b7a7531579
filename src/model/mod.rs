//! The study-area model: the town, its blocks, linear features, facilities — all in the working CRS (metres).
//!
//! Split by job, every item re-exported here so that `bmu::model::X` names stay as they were:
//! - `types`: the domain types a study area holds (town, blocks, lines, facilities);
//! - `area`: [`StudyArea`] itself and what is derived from it (the town or the union of the blocks, made once);
//! - `load`: [`StudyArea::load`], which reads every layer a [`crate::config::Config`] names, checks that configured
//!   fields exist, maps OSM tags and source vocabularies onto `bmu`'s classes and facility types, and transforms
//!   everything into the working CRS;
//! - `ids`: the one rule that names a feature;
//! - `summary`: what `inspect` reports of each layer.

mod area;
pub mod ids;
mod load;
mod summary;
mod types;

pub use crate::vocab::{FacilityStatus, FacilityType, FeatureClass};
pub use area::StudyArea;
pub use load::{count, geometry_kind};
pub use summary::{tally, LayerSummary};
pub use types::{Block, Facility, LineFeature, SourceGeometry, Town};
