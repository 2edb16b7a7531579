//! Integration tests: the real `bmu` binary run on the demo study area and on bad inputs in temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_inputs;
mod batch;
mod checks;
mod demo_figures;
mod determinism;
mod dirty_realdata;
mod dossier;
mod exclave;
mod formats;
mod foundation;
mod lock;
mod network;
mod osm;
mod outputs;
mod partition;
mod population;
mod propose;
mod reasons;
mod report;
mod scale;
mod serve;
mod site;
mod trust;
mod validate;
mod zh;

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

/// Copies the demo's files (not a leftover `out/` of a quickstart run) into `to`, which must exist.
pub fn copy_demo_files(to: &std::path::Path) {
    for entry in std::fs::read_dir(demo()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// `../shared/realdata`, when this checkout sits beside `shared/` (CI and developers); None elsewhere, after
/// [`skip`] (so CI fails without it).
pub fn realdata() -> Option<PathBuf> {
    let p = root().join("../shared/realdata");
    if p.is_dir() {
        Some(p)
    } else {
        skip("../shared/realdata is absent; real-data checks not run");
        None
    }
}

/// Every test that cannot run here (no Chromium, no real data) calls this before returning: under `CI=true` it
/// fails the test, because CI installs everything and a skip there hides a broken setup; elsewhere it prints a
/// SKIPPED line that stands out in the test output.
pub fn skip(why: &str) {
    skip_under(std::env::var("CI").ok().as_deref(), why);
}

fn skip_under(ci: Option<&str>, why: &str) {
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    if matches!(ci, Some("true" | "1")) {
        panic!("{test} cannot run: {why} (CI=true: tests may not skip)");
    }
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
}

#[test]
fn a_missing_outside_program_fails_the_run_under_ci() {
    let caught = std::panic::catch_unwind(|| skip_under(Some("true"), "chromium not installed"));
    assert!(caught.is_err(), "a skip under CI=true must fail");
}

#[test]
fn a_skip_outside_ci_returns_after_saying_so() {
    skip_under(None, "nothing missing: the helper's own test");
    skip_under(Some("false"), "nothing missing: the helper's own test");
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

/// The system's Chromium, when installed (tests that need it call [`skip`] without it).
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Headless Chromium with its own throwaway profile and nothing fetched in the background.
pub fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}
