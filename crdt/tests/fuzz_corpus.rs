//! Replays the committed fuzz corpus (`crdt/fuzz/corpus/<target>/*`) and
//! every saved crash reproducer (`crdt/fuzz/regressions/<target>/*`)
//! through the fuzz targets' own code (`crdt/fuzz/src/lib.rs`), so that
//! `cargo test` keeps what hours of fuzzing found. A missing or empty corpus
//! directory fails: a replay that reads nothing proves nothing. Run the
//! fuzzers themselves with `scripts/fuzz` (see RELIABILITY.md).

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; panics when it is missing or empty.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading the corpus directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus directory {} is empty",
        dir.display()
    );
    files
}

fn target(name: &str) -> targets::Target {
    targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
}

/// Runs every file of `dir` through `name`; fails naming each file that fails.
fn replay_dir(name: &str, dir: &Path) {
    let run = target(name);
    let failed: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|file| {
            let bytes = std::fs::read(file).expect("reading a corpus file");
            std::panic::catch_unwind(|| run(&bytes)).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{name} fails on {failed:#?}");
}

fn replay_corpus(name: &str) {
    replay_dir(name, &fuzz_dir().join("corpus").join(name));
}

/// One saved reproducer, by file name.
fn replay_regression(name: &str, file: &str) {
    let path = fuzz_dir().join("regressions").join(name).join(file);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("reproducer {} is missing: {e}", path.display()));
    target(name)(&bytes);
}

/// Finding 2 (tpboard_load): legacy JSON content with a count yrs 0.28 reads
/// one string past, after which yrs took later bytes for counts and tried to
/// reserve tens of GB (AddressSanitizer: out of memory). `wire_check` now
/// refuses JSON content.
#[test]
fn tpboard_load_regression_legacy_json_content() {
    replay_regression("tpboard_load", "legacy_json_content_min");
    replay_regression("tpboard_load", "legacy_json_content_oom");
    // Two more shapes of the same desync from the same run (32 bytes each):
    // the misread count reached a struct count (`Update::decode`) and an
    // `Any` content count instead of a string count.
    replay_regression("tpboard_load", "legacy_json_content_block_count");
    replay_regression("tpboard_load", "legacy_json_content_any_count");
}

/// Every saved reproducer of every target, so that one added without a
/// named test still runs.
#[test]
fn every_regression_replays() {
    for (name, _) in targets::TARGETS {
        let dir = fuzz_dir().join("regressions").join(name);
        if dir.is_dir() {
            replay_dir(name, &dir);
        }
    }
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in targets::TARGETS {
        files_in(&fuzz_dir().join("corpus").join(name));
    }
}

#[test]
fn frame_decoder_corpus() {
    replay_corpus("frame_decoder");
}

#[test]
fn awareness_corpus() {
    replay_corpus("awareness");
}

#[test]
fn apply_update_corpus() {
    replay_corpus("apply_update");
}

#[test]
fn tpboard_load_corpus() {
    replay_corpus("tpboard_load");
}

#[test]
fn server_member_corpus() {
    replay_corpus("server_member");
}

#[test]
#[should_panic(expected = "is missing")]
fn a_missing_corpus_fails() {
    replay_dir(
        "frame_decoder",
        &fuzz_dir().join("corpus").join("no-such-target"),
    );
}
