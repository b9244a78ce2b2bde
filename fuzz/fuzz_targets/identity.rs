#![no_main]
//! cargo fuzz target `identity`; the body is shared with `cargo test` (tests/fuzz_bodies).

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::identity(data));
