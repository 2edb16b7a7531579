//! Progress of a long run, for whoever shows it (the binary draws spinners and prints timings; the library never
//! prints).
//!
//! The verbs mark the stage they enter with [`stage`]; an observer installed with [`observe`] for the duration of a
//! call hears of it. The observer lives in a thread-local of the calling thread, so the verbs keep their signatures,
//! parallel tests never hear each other's stages, and a library user who installs nothing pays one empty check.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// The stages of `propose` and `validate`, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading and projecting the layers.
    Read,
    /// Cutting the town into blocks (or taking the given ones).
    Blocks,
    /// Population of blocks or units from the grid or counts.
    Population,
    /// Max-p regionalisation and dissolving the units.
    Propose,
    /// Every policy check on the units.
    Validate,
    /// Writing layers and the JSON report.
    Write,
    /// Writing the HTML dossier and maps.
    Report,
}

impl Stage {
    /// What the stage does, for a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Read => "reading the study area",
            Stage::Blocks => "deriving blocks",
            Stage::Population => "computing population",
            Stage::Propose => "proposing units (max-p)",
            Stage::Validate => "validating units",
            Stage::Write => "writing outputs",
            Stage::Report => "writing the report",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Hears which stage a run has entered, and how long its steps took.
pub trait Progress: Send + Sync {
    /// The run has entered `stage`.
    fn stage(&self, stage: Stage);

    /// A step inside a stage took `seconds` (wall time, or thread time summed over units where `step` says so).
    /// Ignored unless the observer wants it: the binary prints these with `-vv`.
    fn timing(&self, step: &str, seconds: f64) {
        let _ = (step, seconds);
    }
}

thread_local! {
    static OBSERVER: RefCell<Option<Arc<dyn Progress>>> = const { RefCell::new(None) };
}

/// Runs `f` with `observer` hearing every [`stage`] marked on this thread; the previous observer comes back after.
pub fn observe<R>(observer: Arc<dyn Progress>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn Progress>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            OBSERVER.with(|o| *o.borrow_mut() = previous);
        }
    }
    let _restore = Restore(OBSERVER.with(|o| o.borrow_mut().replace(observer)));
    f()
}

/// Marks the start of `stage` for the current observer, if any.
pub fn stage(stage: Stage) {
    let observer = OBSERVER.with(|o| o.borrow().clone());
    if let Some(o) = observer {
        o.stage(stage);
    }
}

/// Reports how long `step` took to the current observer, if any.
pub fn timing(step: &str, seconds: f64) {
    let observer = OBSERVER.with(|o| o.borrow().clone());
    if let Some(o) = observer {
        o.timing(step, seconds);
    }
}

/// Runs `f` and reports its wall time as `step` to the current observer, if any.
pub fn timed<T>(step: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    timing(step, start.elapsed().as_secs_f64());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<Stage>>);
    impl Progress for Record {
        fn stage(&self, stage: Stage) {
            self.0.lock().unwrap().push(stage);
        }
    }

    #[test]
    fn observer_hears_stages_only_while_installed() {
        let record = Arc::new(Record::default());
        stage(Stage::Read);
        observe(record.clone(), || {
            stage(Stage::Blocks);
            stage(Stage::Propose);
        });
        stage(Stage::Write);
        assert_eq!(*record.0.lock().unwrap(), vec![Stage::Blocks, Stage::Propose]);
    }

    #[derive(Default)]
    struct Steps(Mutex<Vec<String>>);
    impl Progress for Steps {
        fn stage(&self, _: Stage) {}
        fn timing(&self, step: &str, seconds: f64) {
            assert!(seconds >= 0.0);
            self.0.lock().unwrap().push(step.to_string());
        }
    }

    #[test]
    fn validate_timings_reach_the_observer_instead_of_stderr() {
        let steps = Arc::new(Steps::default());
        assert_eq!(timed("outside", || 1), 1);
        let got = observe(steps.clone(), || timed("inside", || 2));
        assert_eq!(got, 2);
        assert_eq!(*steps.0.lock().unwrap(), vec!["inside".to_string()]);
    }
}
