//! Replays the committed fuzz corpus (`sync-server/fuzz/corpus/<target>/*`)
//! and every saved crash reproducer (`sync-server/fuzz/regressions/...`)
//! through the fuzz targets' own code (`sync-server/fuzz/src/lib.rs`). A
//! missing or empty corpus directory fails. Run the fuzzers themselves with
//! `scripts/fuzz` (see RELIABILITY.md).

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
fn share_link_corpus() {
    replay_corpus("share_link");
}

#[test]
fn token_corpus() {
    replay_corpus("token");
}

/// Finding 1 (fixed): `touchpoint://a]b:c:1/r?token=t` parsed with host
/// `a]b:c`, which printed as `[a]b:c]:1` and no longer parsed.
#[test]
fn share_link_regression_host_with_bracket_and_colon() {
    replay_regression("share_link", "host_with_bracket_and_colon");
    replay_regression("share_link", "host_with_bracket_and_colon_min");
}

/// Finding 1 (fixed), second shape: `touchpoint://[[x]:1/r?token=t` parsed
/// with host `[x`, which printed as `[x:1` and no longer parsed.
#[test]
fn share_link_regression_host_starting_with_bracket() {
    replay_regression("share_link", "host_starting_with_bracket");
    replay_regression("share_link", "host_starting_with_bracket_min");
}

#[test]
#[should_panic(expected = "is empty")]
fn an_empty_corpus_fails() {
    let dir = std::env::temp_dir().join(format!("touchpoint-empty-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating an empty directory");
    replay_dir("token", &dir);
}
