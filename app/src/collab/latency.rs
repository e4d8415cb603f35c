//! Edit-to-remote-render tracing, for the collaboration latency benchmark
//! (`app/benches/collab_latency.rs`).
//!
//! With `TOUCHPOINT_LATENCY_LOG=FILE`, an app appends two kinds of lines:
//!
//! ```text
//! edit CLIENT CLOCK UNIX_NS    this app committed an edit; its yrs clock after it
//! shown CLIENT CLOCK UNIX_NS   a frame showing CLIENT's edits up to CLOCK was presented
//! ```
//!
//! An app also logs `shown` for its own edits: the local edit-to-render
//! time is the benchmark's peer figure.
//!
//! yrs clocks identify edits across processes (as `touchpoint-load` uses
//! them), so the benchmark pairs each edit with the first frame of another
//! app that shows it. Both apps run on one machine, so their wall clocks agree.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use touchpoint_crdt::Board;

use super::bridge::PushedEdit;

pub const ENV: &str = "TOUCHPOINT_LATENCY_LOG";

pub struct LatencyLog {
    out: BufWriter<File>,
    own: u64,
    /// Highest clock already reported shown, per other client.
    shown: HashMap<u64, u32>,
}

fn unix_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl LatencyLog {
    /// Opens the log the environment names, if any (appending).
    pub fn from_env(own: u64) -> Option<LatencyLog> {
        let path = std::env::var_os(ENV)?;
        match File::options().create(true).append(true).open(&path) {
            Ok(f) => Some(LatencyLog {
                out: BufWriter::new(f),
                own,
                shown: HashMap::new(),
            }),
            Err(e) => {
                tracing::warn!("{ENV}: cannot open {}: {e}", path.to_string_lossy());
                None
            }
        }
    }

    pub fn edits(&mut self, edits: &[PushedEdit]) {
        for e in edits {
            let _ = writeln!(
                self.out,
                "edit {} {} {}",
                self.own,
                e.clock,
                unix_ns(e.committed)
            );
        }
        if !edits.is_empty() {
            let _ = self.out.flush();
        }
    }

    /// After a frame was presented: which other clients' edits it showed.
    pub fn presented(&mut self, board: &Board) {
        let now = unix_ns(SystemTime::now());
        let mut wrote = false;
        for (client, clock) in board.state_vector().iter() {
            let client = client.get();
            let seen = self.shown.entry(client).or_insert(0);
            if *clock > *seen {
                *seen = *clock;
                let _ = writeln!(self.out, "shown {client} {clock} {now}");
                wrote = true;
            }
        }
        if wrote {
            let _ = self.out.flush();
        }
    }
}
