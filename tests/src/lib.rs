//! Helpers shared by the end-to-end tests: where things are (the repository,
//! the built `touchpoint` binary, the JavaScript side), running them, the Rust
//! reference boards committed under `tests/fixtures/`, and an independent model
//! of SCHEMA.md's reading rules to compare raw documents with what Touchpoint
//! reads.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub mod fixtures;
pub mod json;
pub mod module_graph;
pub mod schema_model;

/// Set to `1` to skip the JavaScript interop tests when node or the npm
/// packages are not installed (they fail otherwise).
pub const SKIP_INTEROP_VAR: &str = "TOUCHPOINT_SKIP_INTEROP";

/// Set to `1` to rewrite the committed fixtures instead of checking them.
pub const UPDATE_FIXTURES_VAR: &str = "TOUCHPOINT_UPDATE_FIXTURES";

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_owned()
}

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// `tests/js/`, the npm package holding the JavaScript side.
pub fn js_dir() -> PathBuf {
    repo_root().join("tests").join("js")
}

/// Whether `TOUCHPOINT_UPDATE_FIXTURES=1` asks for fixtures to be rewritten.
pub fn updating_fixtures() -> bool {
    env_is_set(UPDATE_FIXTURES_VAR)
}

fn env_is_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

/// The `touchpoint` binary of this build: a test runs as
/// `target/<profile>/deps/<test>-<hash>`, the binary is `target/<profile>/touchpoint`.
/// `cargo test -p touchpoint-tests` does not build it, so fail with the command
/// that does.
pub fn touchpoint_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("touchpoint{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace` first (cargo test -p touchpoint-tests does not build the app)",
        bin.display()
    );
    bin
}

/// Whether the JavaScript side can run: `node` on the PATH and the npm packages
/// installed in `tests/js`. When it cannot, the test fails with what to do,
/// unless `TOUCHPOINT_SKIP_INTEROP=1`: then this says so on stderr and returns
/// false, and the caller returns early.
pub fn js_available(test: &str) -> bool {
    let problem = match Command::new("node").arg("--version").output() {
        Err(e) => Some(format!(
            "cannot run `node` ({e}): install Node.js 20 or newer"
        )),
        Ok(out) if !out.status.success() => Some("`node --version` failed".to_owned()),
        Ok(_) if !js_dir().join("node_modules").join("yjs").is_dir() => Some(format!(
            "{} has no node_modules/yjs: run `npm ci` in tests/js",
            js_dir().display()
        )),
        Ok(_) => None,
    };
    match problem {
        None => true,
        Some(p) if env_is_set(SKIP_INTEROP_VAR) => {
            // Straight to stderr, past the test harness's capture, so the
            // skip is visible in a normal `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: SKIPPED ({SKIP_INTEROP_VAR}=1): {p}"
            );
            false
        }
        Some(p) => panic!(
            "{test}: the JavaScript interop tests need node and npm `yjs`: {p}. \
             Set {SKIP_INTEROP_VAR}=1 to skip them."
        ),
    }
}

/// Runs `node tests/js/<script> args...` in `tests/js` and returns its stdout;
/// panics with its stderr when it fails.
pub fn node<S: AsRef<OsStr>>(script: &str, args: &[S]) -> String {
    let out = Command::new("node")
        .current_dir(js_dir())
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {script}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node {script} failed ({}):\n{stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("node prints UTF-8")
}

/// [`node`], parsing stdout as JSON.
pub fn node_json<S: AsRef<OsStr>>(script: &str, args: &[S]) -> Value {
    let stdout = node(script, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("node {script} printed invalid JSON ({e}):\n{stdout}"))
}

/// The raw content of a board as the JavaScript side reads it
/// (`tests/js/read_board.mjs`).
pub fn js_read(board: &Path) -> Value {
    node_json("read_board.mjs", &[board])
}

/// What `touchpoint inspect` printed and logged.
#[derive(Debug)]
pub struct Inspect {
    pub json: Value,
    pub stderr: String,
}

/// Runs the real `touchpoint inspect BOARD`; panics unless it exits 0 with JSON.
pub fn inspect(board: &Path) -> Inspect {
    let out = Command::new(touchpoint_bin())
        .arg("inspect")
        .arg(board)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("cannot run touchpoint");
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "touchpoint inspect {} failed ({}):\n{stderr}",
        board.display(),
        out.status
    );
    let stdout = String::from_utf8(out.stdout).expect("inspect prints UTF-8");
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("touchpoint inspect printed invalid JSON ({e}):\n{stdout}"));
    Inspect { json, stderr }
}

/// Removes terminal colour sequences (`ESC [ ... m`), in case the log writer
/// colours its output despite `NO_COLOR`.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_ansi_keeps_text() {
        assert_eq!(
            super::strip_ansi("\u{1b}[33m WARN\u{1b}[0m x \u{1b}[3mfield\u{1b}[0m=\"é\""),
            " WARN x field=\"é\""
        );
    }
}
