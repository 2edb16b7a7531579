//! `bmu.toml` parser on arbitrary text (see `harness.rs`).
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::bmu_toml(data);
});
