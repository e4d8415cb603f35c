//! `touchpoint-load LINK... --clients N [--rooms K] [--rate EDITS_PER_S] [--duration SECONDS]`
//!
//! N headless clients (one QUIC connection each, all in this process) join
//! the rooms the links name (one link per room: tokens are per room) and edit
//! at a set rate: create stickies, move elements (their own and others'),
//! type into stickies (their own and others'). It measures how long each
//! edit takes to reach every other client in its room, the server's
//! delivery throughput, and at the end checks that every client of a room
//! holds the same board. The last line is `PASS ...` or `FAIL ...` with the
//! figures; FAIL exits with 1.
//!
//! Latency is measured without markers in the content: every yrs update
//! carries its author's client id and clock range, so the sender notes, just
//! before each edit, its own clock and the time; a receiver, after applying
//! a remote update, reads its state vector and counts as received every edit
//! whose starting clock is now below what it holds of that author. All
//! clients share one process and one monotonic clock.
//!
//! It keeps going through a server restart: clients reconnect with backoff,
//! and edits made offline merge. Edits made while the sender was offline, or
//! delivered across a reconnect of the sender or the receiver, are reported
//! apart ("across an outage") and kept out of the live latency figures.

#![allow(
    clippy::print_stdout,
    reason = "the load generator reports on stdout by design"
)]

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::watch;
use touchpoint_crdt::{Board, Element, Kind, Meta, NewElement, REMOTE_ORIGIN};
use touchpoint_sync::client::stats::{Latencies, Summary, millis};
use touchpoint_sync::client::{
    BackoffOptions, Client, ClientOptions, ConnectionState, Event, Jitter, lock,
};
use touchpoint_sync::link::ShareLink;
use yrs::{Origin, StateVector, TransactionMut};

#[derive(Parser, Debug)]
#[command(
    name = "touchpoint-load",
    about = "Load generator for the Touchpoint sync server: N editing clients, latency, throughput, and a convergence check"
)]
struct Args {
    /// Share links, one per room (an access token admits to one room).
    /// Clients are spread over the rooms in turn.
    #[arg(required = true, value_name = "LINK")]
    links: Vec<String>,
    /// Number of clients, all in this process.
    #[arg(long, value_name = "N")]
    clients: usize,
    /// Number of rooms; must match the number of links (default: that number).
    #[arg(long, value_name = "K")]
    rooms: Option<usize>,
    /// Edits per second, per client.
    #[arg(long, value_name = "EDITS_PER_S", default_value_t = 5.0)]
    rate: f64,
    /// How long the clients edit, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    duration: f64,
    /// How long to wait for every client to connect at the start, and for
    /// the rooms to converge at the end, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    settle: f64,
    /// Seed for the edits' randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Validated run settings.
#[derive(Debug, Clone)]
struct Config {
    links: Vec<ShareLink>,
    clients: usize,
    rate: f64,
    duration: Duration,
    settle: Duration,
    seed: u64,
}

impl Config {
    fn from_args(args: Args) -> Result<Config, String> {
        let links = args
            .links
            .iter()
            .map(|s| s.parse::<ShareLink>().map_err(|e| format!("{e}: {s:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(k) = args.rooms
            && k != links.len()
        {
            return Err(format!(
                "--rooms {k} needs {k} links, one per room (an access token admits to one room); got {}",
                links.len()
            ));
        }
        if args.clients == 0 {
            return Err("--clients must be at least 1".to_owned());
        }
        if args.clients < links.len() {
            return Err(format!(
                "--clients {} leaves some of the {} rooms empty",
                args.clients,
                links.len()
            ));
        }
        if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 10_000.0) {
            return Err("--rate must be a number of edits per second above 0".to_owned());
        }
        let seconds = |name: &str, v: f64| {
            if (0.0..1e6).contains(&v) {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("--{name} must be a number of seconds"))
            }
        };
        Ok(Config {
            links,
            clients: args.clients,
            rate: args.rate,
            duration: seconds("duration", args.duration)?,
            settle: seconds("settle", args.settle)?,
            seed: args.seed,
        })
    }

    fn room_of(&self, client: usize) -> usize {
        client % self.links.len()
    }
}

mod fanout;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("fanout") {
        return fanout::main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_args(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("touchpoint-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("touchpoint-load: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(run(config));
    println!("{}", outcome.last_line);
    if outcome.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------
// Measurement

/// One edit, noted by its sender just before making it.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The sender's own yrs clock before the edit: the edit has arrived
    /// where the receiver holds more than this of the sender.
    clock: u32,
    at: Instant,
    /// The sender's connection (`Synced { since }`) when it edited; `None`
    /// when it was not synced.
    connection: Option<Instant>,
}

#[derive(Debug, Default)]
struct Receipts {
    /// Per sender: how many of its edits this receiver has seen.
    cursor: HashMap<usize, usize>,
    live: Latencies,
    outage: Latencies,
    last_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct ClientStats {
    edits: u64,
    edits_offline: u64,
    edit_errors: u64,
    disconnects: u64,
    refused: Option<String>,
}

/// What every client's callbacks and tasks share.
struct Shared {
    /// yrs client id -> client index.
    index_of: HashMap<u64, usize>,
    sent: Vec<Mutex<Vec<Sent>>>,
    receipts: Vec<Mutex<Receipts>>,
    stats: Vec<Mutex<ClientStats>>,
    states: OnceLock<Vec<watch::Receiver<ConnectionState>>>,
    delivered: AtomicU64,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Shared {
    /// The connection (its `since`) a client is synced on now.
    fn connection(&self, client: usize) -> Option<Instant> {
        let states = self.states.get()?;
        match &*states.get(client)?.borrow() {
            ConnectionState::Synced { since, .. } => Some(*since),
            _ => None,
        }
    }

    /// Receiver `r` applied a remote transaction and now holds `after`.
    fn received(&self, r: usize, after: &StateVector, now: Instant) {
        let receiver_connection = self.connection(r);
        let mut receipts = guard(&self.receipts[r]);
        let Receipts {
            cursor,
            live,
            outage,
            last_at,
        } = &mut *receipts;
        for (client, clock) in after.iter() {
            let Some(&s) = self.index_of.get(&client.get()) else {
                continue;
            };
            if s == r {
                continue;
            }
            let sent = guard(&self.sent[s]);
            let seen = cursor.entry(s).or_insert(0);
            let start = *seen;
            while *seen < sent.len() && sent[*seen].clock < *clock {
                *seen += 1;
            }
            if *seen == start {
                continue;
            }
            let sender_connection = self.connection(s);
            for e in &sent[start..*seen] {
                let latency = now.saturating_duration_since(e.at);
                // Live: both ends on the connection they had when the edit
                // was made, all the way through.
                let is_live = e.connection.is_some()
                    && e.connection == sender_connection
                    && receiver_connection.is_some_and(|since| since <= e.at);
                if is_live {
                    live.record(latency);
                } else {
                    outage.record(latency);
                }
            }
            self.delivered
                .fetch_add((*seen - start) as u64, Ordering::Relaxed);
            *last_at = Some(now);
        }
    }
}

/// Calls [`Shared::received`] after every remote transaction on client `r`'s
/// board. The observer lives as long as the board.
fn watch_receipts(board: &Board, r: usize, shared: Arc<Shared>) -> Result<(), String> {
    let remote = Origin::from(REMOTE_ORIGIN);
    board
        .doc()
        .observe_transaction_cleanup(
            "touchpoint-load:receipts",
            move |txn: &TransactionMut, event| {
                if txn.origin() == Some(&remote) {
                    shared.received(r, &event.after_state, Instant::now());
                }
            },
        )
        .map_err(|e| format!("cannot observe a board: {e}"))
}

// ---------------------------------------------------------------------------
// Editing

/// One random edit by client `i`, noted in `sent` first.
fn edit(
    board: &mut Board,
    i: usize,
    rng: &mut Jitter,
    own: &mut Vec<String>,
    sent: &Mutex<Vec<Sent>>,
    connection: Option<Instant>,
) -> Result<(), String> {
    let me = yrs::ClientID::new(board.client_id());
    let before = board.state_vector().get(&me);
    guard(sent).push(Sent {
        clock: before,
        at: Instant::now(),
        connection,
    });
    let result = random_edit(board, i, rng, own);
    // An edit that failed or changed nothing sent nothing: forget it, or a
    // later edit's arrival would be counted for it too.
    if board.state_vector().get(&me) == before {
        guard(sent).pop();
        return Err(result
            .err()
            .unwrap_or_else(|| "edit changed nothing".to_owned()));
    }
    result
}

fn pick<'a>(rng: &mut Jitter, items: &'a [String]) -> Option<&'a String> {
    if items.is_empty() {
        return None;
    }
    items.get((rng.next_u64() % items.len() as u64) as usize)
}

fn random_edit(
    board: &mut Board,
    i: usize,
    rng: &mut Jitter,
    own: &mut Vec<String>,
) -> Result<(), String> {
    let roll = rng.unit();
    if own.len() < 2 || roll < 0.2 {
        let (x, y) = (rng.unit() * 4000.0, rng.unit() * 4000.0);
        let id = board
            .create(
                NewElement::sticky(x, y, &format!("client {i}")).with_author(&format!("load {i}")),
            )
            .map_err(|e| e.to_string())?;
        own.push(id);
        return Ok(());
    }
    // Mostly one's own elements; sometimes anyone's, so edits overlap.
    let target = if rng.unit() < 0.7 {
        pick(rng, own).cloned()
    } else {
        let all = board.z_order();
        pick(rng, &all).cloned()
    };
    let Some(id) = target else {
        return Err("nothing to edit".to_owned());
    };
    if roll < 0.6 {
        let (dx, dy) = (rng.unit() * 40.0 - 20.0, rng.unit() * 40.0 - 20.0);
        board.move_by(&[&id], dx, dy).map_err(|e| e.to_string())
    } else {
        let element = board.element(&id);
        let id = match element {
            Some(e) if e.kind() == Kind::Sticky => id,
            _ => pick(rng, own).cloned().unwrap_or(id),
        };
        let len = board
            .element(&id)
            .and_then(|e| e.body.text().map(|t| t.chars().count()))
            .unwrap_or(0);
        let at = (rng.next_u64() % (len as u64 + 1)) as usize;
        let letters = ["a", "é", "k", " ", "z", "🙂", "q"];
        let s = letters[(rng.next_u64() % letters.len() as u64) as usize];
        board.insert_text(&id, at, s).map_err(|e| e.to_string())
    }
}

/// A client's life: edit at the rate until `edit_until`, keep reading its
/// events until `stop` turns true, then leave.
async fn client_task(
    i: usize,
    mut client: Client,
    shared: Arc<Shared>,
    config: Arc<Config>,
    edit_from: Instant,
    edit_until: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = Jitter::new(config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
    let period = Duration::from_secs_f64(1.0 / config.rate);
    // Spread the clients' ticks over one period.
    let offset = period.mul_f64(rng.unit());
    let mut ticks = tokio::time::interval_at((edit_from + offset).into(), period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut own = Vec::new();
    let state = client.watch_state();
    let board = client.board().clone();
    let mut editing = true;
    let mut synced = state.borrow().is_synced();
    loop {
        tokio::select! {
            _ = ticks.tick(), if editing => {
                if Instant::now() >= edit_until {
                    editing = false;
                    continue;
                }
                let connection = match &*state.borrow() {
                    ConnectionState::Synced { since, .. } => Some(*since),
                    _ => None,
                };
                let result = {
                    let mut b = lock(&board);
                    edit(&mut b, i, &mut rng, &mut own, &shared.sent[i], connection)
                };
                let mut stats = guard(&shared.stats[i]);
                match result {
                    Ok(()) => {
                        stats.edits += 1;
                        if connection.is_none() {
                            stats.edits_offline += 1;
                        }
                    }
                    Err(e) => {
                        stats.edit_errors += 1;
                        tracing::debug!("client {i}: edit failed: {e}");
                    }
                }
            }
            event = client.next_event() => match event {
                // A disconnect is the loss of a synced connection (failed
                // attempts while the server is away do not count again).
                Some(Event::State(ConnectionState::Synced { .. })) => synced = true,
                Some(Event::State(ConnectionState::Offline { .. })) => {
                    if std::mem::replace(&mut synced, false) {
                        guard(&shared.stats[i]).disconnects += 1;
                    }
                }
                Some(Event::State(ConnectionState::Refused { reason, .. })) => {
                    guard(&shared.stats[i]).refused = Some(reason);
                }
                Some(_) => {}
                None => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    client.shutdown().await;
}

// ---------------------------------------------------------------------------
// The run

struct Outcome {
    pass: bool,
    last_line: String,
}

fn fail(why: impl Into<String>) -> Outcome {
    Outcome {
        pass: false,
        last_line: format!("FAIL {}", why.into()),
    }
}

fn sorted_sv(board: &Board) -> BTreeMap<u64, u32> {
    board
        .state_vector()
        .iter()
        .map(|(c, k)| (c.get(), *k))
        .collect()
}

async fn run(config: Config) -> Outcome {
    let config = Arc::new(config);
    let n = config.clients;
    let k = config.links.len();
    println!(
        "touchpoint-load: {n} clients in {k} room(s), {} edits/s each, {:.1} s",
        config.rate,
        config.duration.as_secs_f64()
    );

    // Boards first, so every callback knows every author.
    let boards: Vec<Arc<Mutex<Board>>> =
        (0..n).map(|_| Arc::new(Mutex::new(Board::new()))).collect();
    let index_of = boards
        .iter()
        .enumerate()
        .map(|(i, b)| (lock(b).client_id(), i))
        .collect::<HashMap<_, _>>();
    if index_of.len() != n {
        return fail("two boards drew the same random client id; run again");
    }
    let shared = Arc::new(Shared {
        index_of,
        sent: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
        receipts: (0..n).map(|_| Mutex::new(Receipts::default())).collect(),
        stats: (0..n).map(|_| Mutex::new(ClientStats::default())).collect(),
        states: OnceLock::new(),
        delivered: AtomicU64::new(0),
    });
    for (i, b) in boards.iter().enumerate() {
        if let Err(e) = watch_receipts(&lock(b), i, shared.clone()) {
            return fail(e);
        }
    }

    // Connect everyone; wait until all are synced.
    let started = Instant::now();
    let mut clients = Vec::with_capacity(n);
    for (i, board) in boards.iter().enumerate() {
        let options = ClientOptions::default()
            .with_name(format!("load {i}"))
            .with_backoff(BackoffOptions::DEFAULT.with_max(Duration::from_secs(5)));
        match Client::connect(
            config.links[config.room_of(i)].clone(),
            board.clone(),
            options,
        ) {
            Ok(c) => clients.push(c),
            Err(e) => return fail(format!("client {i} could not start: {e}")),
        }
    }
    let states: Vec<_> = clients.iter().map(|c| c.watch_state()).collect();
    let _ = shared.states.set(states.clone());
    let synced_count = || states.iter().filter(|s| s.borrow().is_synced()).count();
    let connect_deadline = started + config.settle;
    while synced_count() < n {
        if let Some((i, reason)) = states
            .iter()
            .enumerate()
            .find_map(|(i, s)| match &*s.borrow() {
                ConnectionState::Refused { reason, .. } => Some((i, reason.clone())),
                _ => None,
            })
        {
            return fail(format!("client {i} was refused: {reason}"));
        }
        if Instant::now() >= connect_deadline {
            let example = states
                .iter()
                .map(|s| s.borrow().clone())
                .find(|s| !s.is_synced())
                .map(|s| s.to_string())
                .unwrap_or_default();
            return fail(format!(
                "only {}/{n} clients synced within {:.0} s (one is {example})",
                synced_count(),
                config.settle.as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "connected: {n}/{n} synced in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Edit.
    let edit_from = Instant::now();
    let edit_until = edit_from + config.duration;
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            tokio::spawn(client_task(
                i,
                client,
                shared.clone(),
                config.clone(),
                edit_from,
                edit_until,
                stop_rx.clone(),
            ))
        })
        .collect();
    let mut next_report = edit_from + Duration::from_secs(1);
    while Instant::now() < edit_until {
        tokio::time::sleep_until(next_report.min(edit_until).into()).await;
        if Instant::now() >= next_report {
            let edits: u64 = shared.stats.iter().map(|s| guard(s).edits).sum();
            eprintln!(
                "t={:.0}s edits={edits} delivered={} synced={}/{n}",
                edit_from.elapsed().as_secs_f64(),
                shared.delivered.load(Ordering::Relaxed),
                synced_count()
            );
            next_report += Duration::from_secs(1);
        }
    }
    let edit_time = edit_from.elapsed();

    // Settle: everyone synced and, per room, every board holding the same
    // state vector (the same updates, hence the same document).
    let settle_from = Instant::now();
    let rooms: Vec<Vec<usize>> = (0..k)
        .map(|r| (0..n).filter(|i| config.room_of(*i) == r).collect())
        .collect();
    let converged = loop {
        let all_synced = synced_count() == n;
        let same = rooms.iter().all(|members| {
            let first = sorted_sv(&lock(&boards[members[0]]));
            members[1..]
                .iter()
                .all(|m| sorted_sv(&lock(&boards[*m])) == first)
        });
        if all_synced && same {
            break true;
        }
        if settle_from.elapsed() >= config.settle {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let settle_time = settle_from.elapsed();
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }

    // Figures.
    let stats: Vec<ClientStats> = shared
        .stats
        .iter()
        .map(|s| std::mem::take(&mut *guard(s)))
        .collect();
    let edits: u64 = stats.iter().map(|s| s.edits).sum();
    let edits_offline: u64 = stats.iter().map(|s| s.edits_offline).sum();
    let disconnects: u64 = stats.iter().map(|s| s.disconnects).sum();
    let edit_errors: u64 = stats.iter().map(|s| s.edit_errors).sum();
    let mut live = Latencies::new();
    let mut outage = Latencies::new();
    let mut last_receipt = edit_from;
    for r in &shared.receipts {
        let mut r = guard(r);
        live.extend(std::mem::take(&mut r.live));
        outage.extend(std::mem::take(&mut r.outage));
        if let Some(at) = r.last_at {
            last_receipt = last_receipt.max(at);
        }
    }
    let expected: u64 = (0..n)
        .map(|s| guard(&shared.sent[s]).len() as u64 * (rooms[config.room_of(s)].len() as u64 - 1))
        .sum();
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let edits_per_s = edits as f64 / edit_time.as_secs_f64().max(1e-9);
    let delivery_window = last_receipt.saturating_duration_since(edit_from);
    let delivered_per_s = delivered as f64
        / delivery_window
            .as_secs_f64()
            .max(edit_time.as_secs_f64())
            .max(1e-9);

    println!(
        "edits: {edits} ({edits_offline} made offline, {edit_errors} skipped); deliveries {delivered}/{expected}; disconnects {disconnects}"
    );
    let live_summary = live.summary();
    match &live_summary {
        Some(s) => println!("latency, edit to remote receipt (live): {s}"),
        None => println!("latency, edit to remote receipt (live): no samples"),
    }
    if let Some(s) = outage.summary() {
        println!("latency across an outage (made offline or delivered after a reconnect): {s}");
    }
    println!(
        "throughput: {edits_per_s:.1} edits/s in (target {:.1}), {delivered_per_s:.1} deliveries/s out of the server",
        config.rate * n as f64
    );
    println!(
        "converged in {:.2} s after the last edit",
        settle_time.as_secs_f64()
    );

    // The check: identical boards per room.
    let mut problems = Vec::new();
    if let Some((i, why)) = stats
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.refused.as_ref().map(|r| (i, r)))
    {
        problems.push(format!("client {i} was refused: {why}"));
    }
    if !converged {
        problems.push(format!(
            "rooms did not converge within {:.0} s ({}/{n} synced)",
            config.settle.as_secs_f64(),
            synced_count()
        ));
    }
    for (r, members) in rooms.iter().enumerate() {
        let snapshot = |i: usize| -> (Vec<Element>, Meta) {
            let b = lock(&boards[i]);
            (b.elements(), b.meta())
        };
        let first = snapshot(members[0]);
        let differing = members[1..]
            .iter()
            .filter(|m| snapshot(**m) != first)
            .count();
        println!(
            "room {:?}: {} clients, {} elements, {}",
            config.links[r].room,
            members.len(),
            first.0.len(),
            if differing == 0 {
                "identical".to_owned()
            } else {
                format!("{differing} differ from the first client")
            }
        );
        if differing > 0 {
            problems.push(format!(
                "room {:?}: {differing} of {} clients hold a different board",
                config.links[r].room,
                members.len()
            ));
        }
    }
    if converged && delivered != expected {
        problems.push(format!(
            "{delivered} deliveries counted, {expected} expected"
        ));
    }
    if edits == 0 && !config.duration.is_zero() {
        problems.push("no edit was made".to_owned());
    }

    let figures = |s: Option<Summary>| match s {
        Some(s) => format!(
            "p50={}ms p99={}ms max={}ms",
            millis(s.p50),
            millis(s.p99),
            millis(s.max)
        ),
        None => "p50=- p99=- max=-".to_owned(),
    };
    let line = format!(
        "clients={n} rooms={k} edits={edits} {} edits/s={edits_per_s:.1} deliveries/s={delivered_per_s:.1} outage_edits={} disconnects={disconnects}",
        figures(live_summary),
        outage.len()
    );
    if problems.is_empty() {
        Outcome {
            pass: true,
            last_line: format!("PASS {line}"),
        }
    } else {
        fail(format!("{}: {line}", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["touchpoint-load"];
        argv.extend_from_slice(extra);
        Config::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    const LINK_A: &str = "touchpoint://127.0.0.1:4433/a?token=t";
    const LINK_B: &str = "touchpoint://127.0.0.1:4433/b?token=u";

    #[test]
    fn rooms_must_match_the_links() {
        let c = args(&[LINK_A, LINK_B, "--clients", "5"]).unwrap();
        assert_eq!(c.links.len(), 2);
        assert_eq!(
            (0..5).map(|i| c.room_of(i)).collect::<Vec<_>>(),
            [0, 1, 0, 1, 0]
        );
        let e = args(&[LINK_A, "--clients", "5", "--rooms", "3"]).unwrap_err();
        assert!(e.contains("--rooms 3 needs 3 links"), "{e}");
        assert!(args(&[LINK_A, LINK_B, "--clients", "1"]).is_err());
        assert!(args(&[LINK_A, "--clients", "2", "--rate", "0"]).is_err());
        assert!(args(&["nonsense", "--clients", "2"]).is_err());
    }

    #[test]
    fn receipts_count_each_edit_once_and_split_live_from_outage() {
        let now = Instant::now();
        let synced = Some(now - Duration::from_secs(10));
        let shared = Shared {
            index_of: [(100, 0), (200, 1)].into_iter().collect(),
            sent: vec![
                Mutex::new(vec![
                    Sent {
                        clock: 5,
                        at: now,
                        connection: synced,
                    },
                    Sent {
                        clock: 7,
                        at: now,
                        connection: None,
                    },
                    Sent {
                        clock: 9,
                        at: now,
                        connection: synced,
                    },
                ]),
                Mutex::new(Vec::new()),
            ],
            receipts: (0..2).map(|_| Mutex::new(Receipts::default())).collect(),
            stats: (0..2).map(|_| Mutex::new(ClientStats::default())).collect(),
            states: OnceLock::new(),
            delivered: AtomicU64::new(0),
        };
        let sv = |clock: u32| -> StateVector {
            [(yrs::ClientID::new(100), clock)].into_iter().collect()
        };
        // Holding 8 of client 100: its edits starting at 5 and 7 arrived.
        shared.received(1, &sv(8), now + Duration::from_millis(3));
        assert_eq!(shared.delivered.load(Ordering::Relaxed), 2);
        // The same state again counts nothing new; then the third arrives.
        shared.received(1, &sv(8), now + Duration::from_millis(4));
        shared.received(1, &sv(12), now + Duration::from_millis(5));
        assert_eq!(shared.delivered.load(Ordering::Relaxed), 3);
        // No connection states published: nothing counts as live.
        let r = guard(&shared.receipts[1]);
        assert_eq!((r.live.len(), r.outage.len()), (0, 3));
        assert_eq!(r.outage.summary().unwrap().max, Duration::from_millis(5));
    }
}
