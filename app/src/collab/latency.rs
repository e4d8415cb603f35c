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
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use touchpoint_crdt::{Board, UpdateSubscription};
use yrs::block::ClientID;
use yrs::updates::decoder::Decode;

/// The app's own edits as committed: its yrs clock after each, and when.
type Edits = Arc<Mutex<Vec<(u32, SystemTime)>>>;

pub const ENV: &str = "TOUCHPOINT_LATENCY_LOG";

pub struct LatencyLog {
    out: BufWriter<File>,
    own: u64,
    /// Highest clock already reported shown, per other client.
    shown: HashMap<u64, u32>,
    edits: Edits,
    _edits: UpdateSubscription,
}

fn unix_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl LatencyLog {
    /// Opens the log the environment names, if any (appending), and notes
    /// each of `board`'s local edits as it is committed.
    pub fn from_env(board: &Board) -> Option<LatencyLog> {
        let path = std::env::var_os(ENV)?;
        let own = board.client_id();
        let edits: Edits = Arc::default();
        let sink = edits.clone();
        // The clock after an edit is the end of its own blocks in the
        // update; the document cannot be read inside its own commit.
        let subscription = board.observe_updates(move |update, remote| {
            if remote {
                return;
            }
            let Ok(update) = yrs::Update::decode_v1(update) else {
                return;
            };
            let clock = update.state_vector().get(&ClientID::new(own));
            if clock > 0
                && let Ok(mut q) = sink.lock()
            {
                q.push((clock, SystemTime::now()));
            }
        })?;
        match File::options().create(true).append(true).open(&path) {
            Ok(f) => Some(LatencyLog {
                out: BufWriter::new(f),
                own,
                shown: HashMap::new(),
                edits,
                _edits: subscription,
            }),
            Err(e) => {
                tracing::warn!("{ENV}: cannot open {}: {e}", path.to_string_lossy());
                None
            }
        }
    }

    /// Writes the edits committed since the last call.
    pub fn edits(&mut self) {
        let edits = match self.edits.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        for (clock, committed) in &edits {
            let _ = writeln!(
                self.out,
                "edit {} {} {}",
                self.own,
                clock,
                unix_ns(*committed)
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
