//! GeoJSON reader on arbitrary bytes, then the bytes loaded as a town (see `harness.rs`).
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

static SCRATCH: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| harness::scratch("geojson"));

fuzz_target!(|data: &[u8]| {
    harness::geojson(data, &SCRATCH);
});
