#![no_main]
//! See `touchpoint_sync_fuzz::token` (sync-server/fuzz/src/lib.rs) for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| touchpoint_sync_fuzz::token(data));
