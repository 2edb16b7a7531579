//! Shapefile reader on arbitrary `.shp`/`.dbf`/`.shx`/`.prj`/`.cpg` bytes, then loaded as a town (see `harness.rs`).
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

static SCRATCH: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| harness::scratch("shapefile"));

fuzz_target!(|data: &[u8]| {
    harness::shapefile(data, &SCRATCH);
});
