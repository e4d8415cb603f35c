//! What the UI thread spends per frame, for `scripts/bench-app-joined`.
//!
//! With `TOUCHPOINT_FRAME_LOG=FILE` the window appends one line per piece
//! of work, in microseconds:
//!
//! ```text
//! redraw US     building and submitting one frame (egui pass, scene, renderer)
//! pump US       between frames: the session's pump and applying what arrived
//! autosave US   one autosave tick on the UI thread
//! ```
//!
//! Lines are written as they happen (the benchmark kills the app).

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::time::Duration;

pub const ENV: &str = "TOUCHPOINT_FRAME_LOG";

pub struct FrameLog {
    out: LineWriter<File>,
}

impl FrameLog {
    /// The log the environment names, if any; one that cannot be opened is
    /// reported once and left out.
    pub fn from_env() -> Option<FrameLog> {
        let path = std::env::var_os(ENV)?;
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(FrameLog {
                out: LineWriter::new(f),
            }),
            Err(e) => {
                tracing::warn!("no frame log: cannot open {}: {e}", path.to_string_lossy());
                None
            }
        }
    }

    pub fn note(&mut self, what: &str, took: Duration) {
        // A full disk only loses benchmark lines.
        let _ = writeln!(self.out, "{what} {}", took.as_micros());
    }
}
