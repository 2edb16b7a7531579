//! Integration tests: the real `bmu` binary run on the demo study area and on bad inputs in temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_inputs;
mod determinism;
mod dirty_realdata;
mod foundation;
mod outputs;
mod population;
mod propose;
mod report;
mod validate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo study area.
pub fn demo() -> PathBuf {
    root().join("data/jiangqiao")
}

/// `../shared/realdata`, when this checkout sits beside `shared/` (CI and developers); None elsewhere.
pub fn realdata() -> Option<PathBuf> {
    let p = root().join("../shared/realdata");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/realdata is absent; real-data checks not run");
        None
    }
}

/// Runs `bmu` with arguments in `cwd`, on two threads.
pub fn bmu(args: &[&str], cwd: &Path) -> Output {
    bmu_threads(args, cwd, 2)
}

/// Runs `bmu` with arguments in `cwd` on `threads` rayon threads.
pub fn bmu_threads(args: &[&str], cwd: &Path, threads: usize) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bmu"))
        .args(args)
        .current_dir(cwd)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("bmu runs")
}

/// Asserts exit code 2 with exactly one line on stderr that mentions every `needle`, and no panic.
pub fn assert_error(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
}
