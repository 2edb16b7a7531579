//! GeoTIFF reader on arbitrary bytes, then windows read and zonal sums taken (see `harness.rs`).
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

static SCRATCH: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| harness::scratch("geotiff"));

fuzz_target!(|data: &[u8]| {
    harness::geotiff(data, &SCRATCH);
});
