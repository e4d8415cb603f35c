//! Rough throughput of durable appends: one transaction per update versus
//! group commit, with SQLite at `synchronous=FULL` and `NORMAL`.
//!
//! ```sh
//! cargo run --release -p touchpoint-sync --example storage_throughput [-- DIR]
//! ```
//!
//! The database goes in a temporary directory under DIR (default: the system
//! temporary directory), which should be on the disk the server would use:
//! the numbers are mostly the disk's fsync latency. Updates are real board
//! updates (one sticky moved per update, about 30-60 bytes), spread over 8
//! rooms; compaction is off except where a line says so. Not a benchmark
//! with statistics: a quick look, one run per line.

// An example prints its report.
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use touchpoint_crdt::{Board, NewElement};
use touchpoint_sync::storage::{
    CompactionPolicy, Durability, GroupCommit, GroupCommitOptions, RoomStore, SqliteOptions,
    SqliteStore,
};

const ROOMS: usize = 8;

/// `n` move updates made on one board, as its client would send them.
fn move_updates(client: u64, n: usize) -> Vec<Vec<u8>> {
    let mut board = Board::with_client_id(client);
    let ids: Vec<String> = (0..20)
        .map(|i| {
            board
                .create(NewElement::sticky(f64::from(i) * 10.0, 0.0, "note"))
                .expect("create a sticky")
        })
        .collect();
    let updates = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let sink = updates.clone();
    board
        .doc()
        .observe_update_v1("throughput", move |_, e| {
            sink.lock().expect("sink").push(e.update.clone());
        })
        .expect("observe updates");
    for i in 0..n {
        board
            .move_by(&[ids[i % ids.len()].as_str()], 1.0, 1.0)
            .expect("move");
    }
    drop(board);
    std::mem::take(&mut *updates.lock().expect("sink"))
}

fn options(durability: Durability) -> SqliteOptions {
    SqliteOptions::DEFAULT
        .with_durability(durability)
        .with_compaction(CompactionPolicy::NEVER)
}

fn report(label: &str, updates: usize, elapsed: Duration, batches: Option<u64>) {
    let rate = updates as f64 / elapsed.as_secs_f64();
    let per_batch = batches.map_or(String::new(), |b| {
        format!(
            ", {b} transactions ({:.1} updates each)",
            updates as f64 / b as f64
        )
    });
    println!(
        "{label:<58} {updates:>6} updates in {:>7.1} ms: {rate:>9.0} updates/s{per_batch}",
        elapsed.as_secs_f64() * 1e3
    );
}

/// One transaction (one commit) per update, from one thread.
fn one_per_transaction(dir: &std::path::Path, durability: Durability, n: usize) {
    let path = dir.join(format!("single-{durability:?}.sqlite3"));
    let mut store = SqliteStore::open_with(&path, options(durability)).expect("open");
    let updates = move_updates(1, n);
    let started = Instant::now();
    for (i, u) in updates.iter().enumerate() {
        store
            .append(&format!("room-{}", i % ROOMS), &[u])
            .expect("append");
    }
    report(
        &format!("one transaction per update, {durability:?}"),
        n,
        started.elapsed(),
        Some(n as u64),
    );
}

/// `producers` threads, each waiting for every acknowledgement before its
/// next update (a client whose update must be committed before it is
/// relayed), through one group-commit writer.
fn group_commit(
    dir: &std::path::Path,
    durability: Durability,
    producers: usize,
    per_producer: usize,
    compact: bool,
) {
    let path = dir.join(format!(
        "group-{durability:?}-{producers}-{compact}.sqlite3"
    ));
    let mut opts = options(durability);
    if compact {
        opts = opts.with_compaction(CompactionPolicy::DEFAULT);
    }
    let store = SqliteStore::open_with(&path, opts).expect("open");
    let compactor = store.reopen().expect("reopen");
    let writer = GroupCommit::spawn_with_compactor(store, compactor, GroupCommitOptions::DEFAULT)
        .expect("writer");
    let work: Vec<Vec<Vec<u8>>> = (0..producers)
        .map(|p| move_updates(100 + p as u64, per_producer))
        .collect();
    let started = Instant::now();
    let threads: Vec<_> = work
        .into_iter()
        .enumerate()
        .map(|(p, updates)| {
            let handle = writer.handle();
            std::thread::spawn(move || {
                let room = format!("room-{}", p % ROOMS);
                for u in updates {
                    handle.append(room.clone(), u).expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("producer");
    }
    let elapsed = started.elapsed();
    let stats = writer.handle().stats();
    writer.shutdown().expect("shutdown");
    report(
        &format!(
            "group commit, {producers} waiting producers, {durability:?}{}",
            if compact { ", compaction on" } else { "" }
        ),
        producers * per_producer,
        elapsed,
        Some(stats.batches),
    );
}

/// One producer that submits everything without waiting (acknowledgements
/// arrive through callbacks): the writer's ceiling.
fn pipelined(dir: &std::path::Path, durability: Durability, n: usize) {
    let path = dir.join(format!("pipelined-{durability:?}.sqlite3"));
    let store = SqliteStore::open_with(&path, options(durability)).expect("open");
    let writer = GroupCommit::spawn(store, GroupCommitOptions::DEFAULT).expect("writer");
    let handle = writer.handle();
    let updates = move_updates(1, n);
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    for (i, u) in updates.into_iter().enumerate() {
        let tx = tx.clone();
        handle.submit(format!("room-{}", i % ROOMS), u, move |r| {
            let _ = tx.send(r.is_ok());
        });
    }
    drop(tx);
    let ok = rx.iter().filter(|ok| *ok).count();
    let elapsed = started.elapsed();
    assert_eq!(ok, n, "every update acknowledged");
    let stats = handle.stats();
    writer.shutdown().expect("shutdown");
    report(
        &format!("group commit, 1 pipelined producer, {durability:?}"),
        n,
        elapsed,
        Some(stats.batches),
    );
}

fn main() {
    let base = std::env::args_os()
        .nth(1)
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::tempdir_in(&base).expect("temporary directory");
    println!("database directory: {}", dir.path().display());
    for durability in [Durability::Full, Durability::Normal] {
        one_per_transaction(dir.path(), durability, 2_000);
        for producers in [1, 8, 64] {
            group_commit(dir.path(), durability, producers, 8_000 / producers, false);
        }
        pipelined(dir.path(), durability, 50_000);
    }
    group_commit(dir.path(), Durability::Full, 64, 500, true);
}
