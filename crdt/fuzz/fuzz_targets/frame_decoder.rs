#![no_main]
//! See `touchpoint_crdt_fuzz::frame_decoder` (crdt/fuzz/src/lib.rs) for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| touchpoint_crdt_fuzz::frame_decoder(data));
