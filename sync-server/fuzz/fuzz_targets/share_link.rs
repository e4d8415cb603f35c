#![no_main]
//! See `touchpoint_sync_fuzz::share_link` (sync-server/fuzz/src/lib.rs) for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| touchpoint_sync_fuzz::share_link(data));
