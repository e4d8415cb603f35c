//! What the UI thread spends per frame, for `scripts/bench-app-joined`.
//!
//! With `TOUCHPOINT_FRAME_LOG=FILE` the window appends one line per piece
//! of work: what, how long it took in microseconds, and when it ended in
//! microseconds since the log was opened:
//!
//! ```text
//! redraw US AT     building and submitting one frame (egui pass, scene, renderer)
//! pump US AT       the session's pump and applying what arrived
//! autosave US AT   one autosave tick that stored something
//! ```
//!
//! The time between two `redraw` ends is a frame time as the user sees it;
//! the other lines say what the UI thread did in between. Lines are written
//! as they happen (the benchmark kills the app).

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::time::{Duration, Instant};

pub const ENV: &str = "TOUCHPOINT_FRAME_LOG";

pub struct FrameLog {
    out: LineWriter<File>,
    opened: Instant,
}

impl FrameLog {
    /// The log the environment names, if any; one that cannot be opened is
    /// reported once and left out.
    pub fn from_env() -> Option<FrameLog> {
        let path = std::env::var_os(ENV)?;
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(FrameLog {
                out: LineWriter::new(f),
                opened: Instant::now(),
            }),
            Err(e) => {
                tracing::warn!("no frame log: cannot open {}: {e}", path.to_string_lossy());
                None
            }
        }
    }

    pub fn note(&mut self, what: &str, took: Duration) {
        // A full disk only loses benchmark lines.
        let at = self.opened.elapsed().as_micros();
        let _ = writeln!(self.out, "{what} {} {at}", took.as_micros());
    }
}
