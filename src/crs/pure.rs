//! The pure-Rust backend: `proj4rs` (a port of proj4js). Geographic coordinates travel in radians inside it.

use geo::Coord;
use proj4rs::transform::{Transform, TransformClosure};
use proj4rs::Proj;

use super::Crs;
use crate::{Error, Result};

/// Checks that `proj4rs` understands a PROJ string.
pub(super) fn check_proj_string(s: &str) -> std::result::Result<(), String> {
    Proj::from_proj_string(s)
        .map(|_| ())
        .map_err(|e| format!("PROJ string not understood: {e}"))
}

pub(super) struct PureStep {
    src: Proj,
    dst: Proj,
    src_geographic: bool,
    dst_geographic: bool,
}

impl PureStep {
    pub(super) fn new(from: &Crs, to: &Crs) -> Result<PureStep> {
        let make = |crs: &Crs| {
            let text = crs.proj_string().ok_or_else(|| Error::Crs {
                context: "pure-Rust backend".into(),
                crs: crs.to_string(),
                problem: "no PROJ string for this CRS".into(),
            })?;
            Proj::from_proj_string(text).map_err(|e| Error::Crs {
                context: "pure-Rust backend".into(),
                crs: crs.to_string(),
                problem: e.to_string(),
            })
        };
        Ok(PureStep {
            src: make(from)?,
            dst: make(to)?,
            src_geographic: from.is_geographic(),
            dst_geographic: to.is_geographic(),
        })
    }

    pub(super) fn transform(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        let mut p = Xyz(c.x, c.y, 0.0);
        if self.src_geographic {
            p.0 = p.0.to_radians();
            p.1 = p.1.to_radians();
        }
        proj4rs::transform::transform(&self.src, &self.dst, &mut p).map_err(|e| e.to_string())?;
        if self.dst_geographic {
            p.0 = p.0.to_degrees();
            p.1 = p.1.to_degrees();
        }
        Ok(Coord { x: p.0, y: p.1 })
    }
}

struct Xyz(f64, f64, f64);

impl Transform for Xyz {
    fn transform_coordinates<F: TransformClosure>(&mut self, f: &mut F) -> proj4rs::errors::Result<()> {
        let (x, y, z) = f(self.0, self.1, self.2)?;
        *self = Xyz(x, y, z);
        Ok(())
    }
}
