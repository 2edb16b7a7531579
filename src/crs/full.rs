//! The full-PROJ backend (cargo feature `proj`): PROJ 9.6 built from source, with its EPSG database and WKT2.
//!
//! A PROJ object belongs to the thread that made it (`proj::Proj` is neither `Send` nor `Sync`), while `bmu`
//! transforms from rayon's threads. So a step keeps only the two definitions, and each thread builds its own
//! pipeline once and keeps it in a thread-local cache.

use geo::Coord;
use std::cell::RefCell;
use std::collections::HashMap;

use super::Crs;
use crate::{Error, Result};

thread_local! {
    static PIPELINES: RefCell<HashMap<(String, String), proj::Proj>> = RefCell::new(HashMap::new());
}

/// A PROJ transformation between two definitions.
pub(super) struct ProjStep {
    from: String,
    to: String,
}

impl ProjStep {
    pub(super) fn new(from: &Crs, to: &Crs) -> Result<ProjStep> {
        let step = ProjStep {
            from: from.proj_definition(),
            to: to.proj_definition(),
        };
        // Build it once here so that a bad definition is an error now, not at the first coordinate.
        step.with_pipeline(|_| Ok(())).map_err(|problem| Error::Crs {
            context: format!("PROJ pipeline to {to}"),
            crs: from.to_string(),
            problem,
        })?;
        Ok(step)
    }

    fn with_pipeline<T>(
        &self,
        f: impl FnOnce(&proj::Proj) -> std::result::Result<T, String>,
    ) -> std::result::Result<T, String> {
        PIPELINES.with(|cell| {
            let mut cache = cell.borrow_mut();
            let key = (self.from.clone(), self.to.clone());
            if !cache.contains_key(&key) {
                let p = proj::Proj::new_known_crs(&self.from, &self.to, None).map_err(|e| e.to_string())?;
                cache.insert(key.clone(), p);
            }
            match cache.get(&key) {
                Some(p) => f(p),
                None => Err("PROJ pipeline missing from the cache".into()),
            }
        })
    }

    pub(super) fn transform(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        self.with_pipeline(|p| {
            p.convert((c.x, c.y))
                .map(|(x, y)| Coord { x, y })
                .map_err(|e| e.to_string())
        })
    }
}
