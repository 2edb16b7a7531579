//! The full-PROJ backend (cargo feature `proj`): PROJ 9.6 built from source, with its EPSG database and WKT2.

use geo::Coord;
use std::sync::Mutex;

use super::Crs;
use crate::{Error, Result};

/// A PROJ pipeline; PROJ objects are not thread-safe, so calls are serialised.
pub(super) struct ProjStep(Mutex<proj::Proj>);

impl ProjStep {
    pub(super) fn new(from: &Crs, to: &Crs) -> Result<ProjStep> {
        proj::Proj::new_known_crs(&from.proj_definition(), &to.proj_definition(), None)
            .map(|p| ProjStep(Mutex::new(p)))
            .map_err(|e| Error::Crs {
                context: format!("PROJ pipeline to {to}"),
                crs: from.to_string(),
                problem: e.to_string(),
            })
    }

    pub(super) fn transform(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        let guard = self.0.lock().map_err(|_| "PROJ pipeline poisoned".to_string())?;
        guard
            .convert((c.x, c.y))
            .map(|(x, y)| Coord { x, y })
            .map_err(|e| e.to_string())
    }
}
