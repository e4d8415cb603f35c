#![no_main]
//! See `touchpoint_crdt_fuzz::tpboard_load` (crdt/fuzz/src/lib.rs) for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| touchpoint_crdt_fuzz::tpboard_load(data));
