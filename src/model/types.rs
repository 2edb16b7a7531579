//! The domain types a [`super::StudyArea`] holds, in the working CRS (metres).

use crate::crs::Crs;
use crate::vocab::{FacilityStatus, FacilityType, FeatureClass};
use geo::{Geometry, MultiLineString, MultiPolygon, Point};

/// The town boundary.
#[derive(Clone, Debug)]
pub struct Town {
    /// The town's id.
    pub id: String,
    /// The town's name.
    pub name: String,
    /// The boundary, in the working CRS.
    pub geometry: MultiPolygon<f64>,
}

/// A block: residential committee, village or compound.
#[derive(Clone, Debug)]
pub struct Block {
    /// The block's id.
    pub id: String,
    /// The block, in the working CRS.
    pub geometry: MultiPolygon<f64>,
    /// A count carried by the layer, taken as given.
    pub population: Option<f64>,
    /// The block as its file holds it, from which a grid measures its population.
    pub source: Option<SourceGeometry>,
}

/// A polygon as its file holds it, in the file's own CRS.
///
/// Population is measured from this, not from the working-CRS copy: a grid transforms it straight into its own CRS
/// (densified), so `population`, `validate` and `propose` give one polygon the same number whatever the working CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceGeometry {
    /// The polygon, oriented, in `crs`.
    pub geometry: MultiPolygon<f64>,
    /// The CRS of the file it came from (shared by every feature of that file).
    pub crs: std::sync::Arc<Crs>,
}

impl SourceGeometry {
    /// The polygon of a read feature, when it is one.
    pub fn of(geometry: Option<&Geometry<f64>>, crs: &std::sync::Arc<Crs>) -> Option<SourceGeometry> {
        let geometry = match geometry? {
            Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
            Geometry::MultiPolygon(mp) => mp.clone(),
            _ => return None,
        };
        Some(SourceGeometry {
            geometry,
            crs: crs.clone(),
        })
    }
}

/// A linear feature.
#[derive(Clone, Debug)]
pub struct LineFeature {
    /// The feature's id.
    pub id: String,
    /// Its class.
    pub class: FeatureClass,
    /// Its name, when the layer has one.
    pub name: Option<String>,
    /// The line, in the working CRS.
    pub geometry: MultiLineString<f64>,
    /// Added by `propose`'s cleaning step rather than read from a layer.
    pub inferred: bool,
}

/// A facility point.
#[derive(Clone, Debug)]
pub struct Facility {
    /// The facility's id.
    pub id: String,
    /// Its type.
    pub kind: FacilityType,
    /// Existing or planned.
    pub status: FacilityStatus,
    /// Its name, when the layer has one.
    pub name: Option<String>,
    /// Where it is, in the working CRS.
    pub location: Point<f64>,
}
