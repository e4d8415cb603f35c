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
//! With `--hocuspocus DOC` the clients speak Hocuspocus's framing instead
//! (npm `@hocuspocus/server`): every message starts with the document name
//! as a lib0 string, the first is an auth message (type 2, token, empty),
//! and the server's sync replies have type 4; the y-protocols sync content
//! is the same.
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
    /// Speak Hocuspocus's framing for this document name.
    #[arg(long, value_name = "DOC")]
    hocuspocus: Option<String>,
}

/// How messages are framed on the socket.
#[derive(Clone)]
enum Framing {
    /// One y-protocols message per WebSocket message.
    YWebsocket,
    /// Hocuspocus: the document name first.
    Hocuspocus(String),
}

impl Framing {
    fn wrap(&self, message: Vec<u8>) -> Vec<u8> {
        match self {
            Framing::YWebsocket => message,
            Framing::Hocuspocus(doc) => {
                let mut out = Vec::with_capacity(doc.len() + message.len() + 4);
                write_var_string(&mut out, doc);
                out.extend(message);
                out
            }
        }
    }

    /// The first message, if the framing asks for one: an empty token.
    fn hello(&self) -> Option<Vec<u8>> {
        match self {
            Framing::YWebsocket => None,
            Framing::Hocuspocus(_) => {
                let mut auth = vec![2u8, 0];
                write_var_string(&mut auth, "");
                Some(self.wrap(auth))
            }
        }
    }

    /// The y-protocols message in what arrived, if it is one.
    fn unwrap<'a>(&self, bytes: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        match self {
            Framing::YWebsocket => Some(bytes.into()),
            Framing::Hocuspocus(_) => {
                let (len, used) = read_var_uint(bytes)?;
                let rest = bytes.get(used + usize::try_from(len).ok()?..)?;
                match rest.split_first() {
                    // Sync, and Hocuspocus's sync reply: y-protocols sync content.
                    Some((0 | 4, sync)) => {
                        let mut message = vec![0u8];
                        message.extend_from_slice(sync);
                        Some(message.into())
                    }
                    _ => None,
                }
            }
        }
    }
}

fn write_var_uint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_var_string(out: &mut Vec<u8>, s: &str) {
    write_var_uint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A lib0 var uint and the bytes it took.
fn read_var_uint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
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
        let framing = match &args.hocuspocus {
            Some(doc) => Framing::Hocuspocus(doc.clone()),
            None => Framing::YWebsocket,
        };
        tasks.push(tokio::spawn(client(
            i,
            ws,
            framing,
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
    framing: Framing,
    tally: Arc<Tally>,
    start: tokio::time::Instant,
    duration: Duration,
    interval: Duration,
) -> Result<(), String> {
    let (mut sink, mut stream) = ws.split();
    let step1 = YMessage::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    for message in framing.hello().into_iter().chain([framing.wrap(step1)]) {
        sink.send(Message::Binary(message.into()))
            .await
            .map_err(|e| format!("client {i}: {e}"))?;
    }
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
                let msg = framing.wrap(YMessage::Sync(SyncMessage::Update(update)).encode_v1());
                if sink.send(Message::Binary(msg.into())).await.is_err() {
                    return Err(format!("client {i}: the server closed the connection"));
                }
            }
            next = stream.next() => match next {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some(message) = framing.unwrap(&bytes) {
                        receipt(&message, id, &tally);
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hocuspocus_framing_names_the_document_and_reads_sync_replies() {
        let framing = Framing::Hocuspocus("room".to_owned());
        let step1 = YMessage::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
        let wrapped = framing.wrap(step1.clone());
        assert_eq!(&wrapped[..5], b"\x04room");
        assert_eq!(&wrapped[5..], &step1[..]);
        // The auth message: type 2, token submessage 0, an empty token.
        assert_eq!(framing.hello().unwrap(), b"\x04room\x02\x00\x00");
        // A sync reply (type 4) reads as the y-protocols sync message.
        let mut reply = b"\x04room\x04".to_vec();
        reply.extend_from_slice(&step1[1..]);
        assert_eq!(framing.unwrap(&reply).unwrap().as_ref(), &step1[..]);
        // Awareness and anything cut short are not sync messages.
        assert!(framing.unwrap(b"\x04room\x01\x00").is_none());
        assert!(framing.unwrap(b"\x09ro").is_none());
        let plain = Framing::YWebsocket;
        assert_eq!(plain.wrap(step1.clone()), step1);
        assert!(plain.hello().is_none());
    }

    #[test]
    fn var_uints_round_trip() {
        for n in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_var_uint(&mut out, n);
            assert_eq!(read_var_uint(&out), Some((n, out.len())));
        }
        assert_eq!(read_var_uint(&[0x80]), None);
    }
}
