//! Edit-to-remote-render latency between two app windows on loopback.
//!
//! App A opens a board and hosts it (`touchpoint share`, the embedded sync
//! server); app B joins with the editor link (`touchpoint join`). Both run
//! on one Xvfb display (Mesa's lavapipe draws) with
//! `TOUCHPOINT_LATENCY_LOG` set. xdotool types into a sticky note in A, one
//! character (one edit, one yrs transaction) every `TYPE_DELAY_MS`. Each
//! edit's latency is the time from A committing it to B presenting the
//! first frame that shows it (yrs clocks pair them; see
//! `touchpoint::collab::latency`). The peer figure, measured in the same
//! run, is A's own edit-to-render time for the same edits.
//!
//! Run: `cargo bench -p touchpoint --bench collab_latency` (needs Xvfb,
//! xdotool and a Vulkan driver; prints p50/p90/p99 and writes
//! `target/collab_latency.txt`).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a measuring program

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::{BIN, Guard, wait_exit};

/// Characters typed (edits measured).
const EDITS: usize = 300;
const TYPE_DELAY_MS: u32 = 50;

/// (client, clock, unix ns) lines of one kind from a latency log.
fn read_log(path: &Path, kind: &str) -> Vec<(u64, u32, u128)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            if f.next()? != kind {
                return None;
            }
            Some((
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
            ))
        })
        .collect()
}

/// For each edit, milliseconds until the first `shown` line at or past its clock.
fn latencies(edits: &[(u64, u32, u128)], shown: &[(u64, u32, u128)]) -> Vec<f64> {
    let mut by_client: HashMap<u64, Vec<(u32, u128)>> = HashMap::new();
    for &(c, clock, t) in shown {
        by_client.entry(c).or_default().push((clock, t));
    }
    edits
        .iter()
        .filter_map(|&(c, clock, t0)| {
            let frames = by_client.get(&c)?;
            let &(_, t1) = frames.iter().find(|(k, _)| *k >= clock)?;
            Some((t1.saturating_sub(t0)) as f64 / 1e6)
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return format!("{name}: no samples");
    }
    format!(
        "{name}: n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.9),
        percentile(&v, 0.99),
        v[v.len() - 1]
    )
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // and must not start windows.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_xvfb, s) = support::display(dir.path());
    let (log_a, log_b) = (dir.path().join("a.lat"), dir.path().join("b.lat"));
    let board = dir.path().join("bench.tpboard");
    for (who, name) in [("a", "Host"), ("b", "Guest")] {
        let data = dir.path().join(who);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("profile.json"),
            format!(r##"{{"name":"{name}","color":"#1e88e5"}}"##),
        )
        .unwrap();
    }

    let mut host = s
        .command(BIN)
        .arg("share")
        .arg(&board)
        .env("TOUCHPOINT_DATA_DIR", dir.path().join("a"))
        .env("TOUCHPOINT_SHARE_LISTEN", "127.0.0.1:0")
        .env("TOUCHPOINT_LATENCY_LOG", &log_a)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut link = String::new();
    BufReader::new(host.stdout.take().unwrap())
        .read_line(&mut link)
        .unwrap();
    let mut app_a = Guard(host);
    let mut app_b = Guard(
        s.command(BIN)
            .args(["join", link.trim()])
            .env("TOUCHPOINT_DATA_DIR", dir.path().join("b"))
            .env("TOUCHPOINT_LATENCY_LOG", &log_b)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let win_a = s.window_of(&mut app_a, None);
    let win_b = s.window_of(&mut app_b, None);
    s.place(&win_a, 0, 0, 640, 800);
    s.place(&win_b, 640, 0, 640, 800);
    s.focus(&win_a);
    s.xdotool(&["mousemove", "320", "400"]);
    s.key("n");
    s.click_at(320, 400);
    let text: String = "touchpoint ".chars().cycle().take(EDITS).collect();
    s.xdotool(&["type", "--delay", &TYPE_DELAY_MS.to_string(), &text]);
    std::thread::sleep(Duration::from_secs(3));
    s.key("Escape");
    for (app, win) in [(&mut app_b, &win_b), (&mut app_a, &win_a)] {
        s.focus(win);
        s.key("ctrl+q");
        wait_exit(app);
    }

    let edits = read_log(&log_a, "edit");
    let remote = latencies(&edits, &read_log(&log_b, "shown"));
    let local = latencies(&edits, &read_log(&log_a, "shown"));
    let report = format!(
        "collab_latency: {} edits typed in A ({} ms apart), release build, lavapipe, loopback\n{}\n{}\n",
        edits.len(),
        TYPE_DELAY_MS,
        summary("edit in A -> frame presented in B", remote),
        summary("edit in A -> frame presented in A (peer)", local),
    );
    print!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/collab_latency.txt");
    let _ = std::fs::write(out, &report);
}
