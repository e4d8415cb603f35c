//! `touchpoint-load fanout URL --clients N [--rate EDITS_PER_S] [--duration SECONDS]`
//!
//! Light clients for measuring a server's fan-out, with the same load and
//! the same measurement whatever the server: N WebSocket clients in one
//! room speaking y-websocket's protocol (Touchpoint's `--ws-listen`, or
//! y-websocket's reference server: URL `ws://HOST:PORT/ROOM[?token=T]`).
//!
//! A light client keeps no replica. It joins with sync step 1 and an empty
//! state vector; to edit, it changes a map of its own in a small yrs
//! document that holds only its own edits (each update depends only on the
//! client's previous ones, so any server can integrate it), and notes the
//! update's client id and first clock with the time, just before sending. A
//! receiver decodes each update it gets (without applying it anywhere),
//! reads the lowest clock of each author in it, and counts the delivery of
//! the edit with that client and clock: latency is send-to-receipt on one monotonic clock, in
//! one process. Deliveries of a client's own edits are never counted (the
//! servers do not echo them); a client's first sync step 2 is not either.
//!
//! Prints one line: `fanout: N clients x R edits/s for S s: D deliveries
//! (D/s), latency p50 .. p99 .. max .. ms, E of E*(N-1) expected`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use yrs::sync::{Message as YMessage, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Map, ReadTxn, StateVector, Transact};

#[derive(Parser)]
#[command(
    name = "touchpoint-load fanout",
    about = "Light WebSocket clients measuring a server's fan-out"
)]
struct Args {
    /// The room's WebSocket URL (`touchpoint-server share` prints it).
    url: String,
    /// Clients, all in one room.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Edits per second, per client.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// How long the clients edit, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

/// When each edit was sent: (client id, first clock) -> send time.
type Sent = Mutex<HashMap<(u64, u32), Instant>>;

#[derive(Default)]
struct Tally {
    sent: Sent,
    latencies_us: Mutex<Vec<u64>>,
    edits: AtomicU64,
}

pub fn main() -> ExitCode {
    let args = Args::parse_from(std::env::args().skip(1));
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if args.clients < 2 || !positive(args.rate) || !positive(args.duration) {
        eprintln!("touchpoint-load fanout: --clients at least 2, --rate and --duration above 0");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("touchpoint-load fanout: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(line) => {
            #[allow(clippy::print_stdout, reason = "the report is the tool's output")]
            {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("touchpoint-load fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<String, String> {
    let tally = Arc::new(Tally::default());
    let duration = Duration::from_secs_f64(args.duration);
    // Everyone joins before anyone edits, so every edit has N-1 receivers.
    let mut sockets = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let (ws, _) = tokio_tungstenite::connect_async(&args.url)
            .await
            .map_err(|e| format!("client {i} cannot connect to {}: {e}", args.url))?;
        sockets.push(ws);
    }
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        tasks.push(tokio::spawn(client(
            i,
            ws,
            tally.clone(),
            start,
            duration,
            Duration::from_secs_f64(1.0 / args.rate),
        )));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let edits = tally.edits.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *tally.latencies_us.lock().map_err(|_| "poisoned")?);
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    let expected = edits * (args.clients as u64 - 1);
    Ok(format!(
        "fanout: {} clients x {} edits/s for {} s: {} deliveries ({:.0}/s), latency p50 {:.2} p99 {:.2} max {:.2} ms, {} of {} expected",
        args.clients,
        args.rate,
        args.duration,
        lat.len(),
        lat.len() as f64 / args.duration,
        q(0.5),
        q(0.99),
        lat.last().map_or(0.0, |&us| us as f64 / 1000.0),
        lat.len(),
        expected
    ))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn client(
    i: usize,
    ws: Socket,
    tally: Arc<Tally>,
    start: tokio::time::Instant,
    duration: Duration,
    interval: Duration,
) -> Result<(), String> {
    let (mut sink, mut stream) = ws.split();
    let step1 = YMessage::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    sink.send(Message::Binary(step1.into()))
        .await
        .map_err(|e| format!("client {i}: {e}"))?;
    let doc = Doc::new();
    let id = doc.client_id().get();
    let map = doc.get_or_insert_map("fanout");
    // Spread the clients' edits over the interval.
    let offset = interval.mul_f64(i as f64 / 64.0 % 1.0);
    let mut tick = tokio::time::interval_at(start + offset, interval);
    let end = start + duration;
    // Receipts keep coming for a moment after the last edit.
    let drain = end + Duration::from_secs(2);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick(), if tokio::time::Instant::now() < end => {
                n += 1;
                let clock = doc.transact().state_vector().get(&doc.client_id());
                let update = {
                    let mut txn = doc.transact_mut();
                    map.insert(&mut txn, "n", n as f64);
                    txn.encode_update_v1()
                };
                if let Ok(mut sent) = tally.sent.lock() {
                    sent.insert((id, clock), Instant::now());
                }
                tally.edits.fetch_add(1, Ordering::Relaxed);
                let msg = YMessage::Sync(SyncMessage::Update(update)).encode_v1();
                if sink.send(Message::Binary(msg.into())).await.is_err() {
                    return Err(format!("client {i}: the server closed the connection"));
                }
            }
            next = stream.next() => match next {
                Some(Ok(Message::Binary(bytes))) => receipt(&bytes, id, &tally),
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("client {i}: closed by the server: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("client {i}: {e}")),
                None => return Err(format!("client {i}: the connection ended")),
            },
            () = tokio::time::sleep_until(drain) => break,
        }
    }
    drop(sink.close().await);
    Ok(())
}

/// Counts the delivery of every edit an update (sync step 2 or update)
/// carries, by its authors' first clocks in it (an update's plain state
/// vector is empty unless it starts at clock 0).
fn receipt(bytes: &[u8], own: u64, tally: &Tally) {
    let now = Instant::now();
    let Ok(YMessage::Sync(SyncMessage::Update(update) | SyncMessage::SyncStep2(update))) =
        YMessage::decode_v1(bytes)
    else {
        return;
    };
    let Ok(update) = yrs::Update::decode_v1(&update) else {
        return;
    };
    let Ok(sent) = tally.sent.lock() else { return };
    let mut got = Vec::new();
    for (client, clock) in update.state_vector_lower().iter() {
        let client = client.get();
        if client == own {
            continue;
        }
        if let Some(at) = sent.get(&(client, *clock)) {
            got.push(now.duration_since(*at).as_micros() as u64);
        }
    }
    drop(sent);
    if let Ok(mut lat) = tally.latencies_us.lock() {
        lat.extend(got);
    }
}
