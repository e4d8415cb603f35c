#![no_main]
//! See `touchpoint_crdt_fuzz::awareness` (crdt/fuzz/src/lib.rs) for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| touchpoint_crdt_fuzz::awareness(data));
