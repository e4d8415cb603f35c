//! Newcomers joining a large room, for `scripts/bench-join-isolation`.
//!
//! ```text
//! join_storm seed N LINK                  # put a board of N stickies into the room
//! join_storm storm JOINERS SECONDS LINK   # JOINERS newcomers at a time, again and again
//! join_storm type SECONDS PER_S LINK      # a collaborator typing into one note
//! ```
//!
//! `type` is a full client (the headless `Client`, with its own copy of the
//! board) for `scripts/bench-app-joined`: it waits for the room's board,
//! then appends a character to the first sticky PER_S times a second.
//!
//! A newcomer here is light on purpose: it says hello, asks for the whole
//! document (sync step 1 with an empty state vector) and reads frames until
//! the server's sync step 2 is in, without decoding the document. So the
//! cost lands on the server (building step 2 from a large board), not on
//! this process, which shares the machine with the server and the load
//! generator whose relay latency the script measures in another room.

#![allow(clippy::print_stdout)] // a benchmark tool: its report is its output

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use quinn::crypto::rustls::QuicClientConfig;
use touchpoint_crdt::protocol::{Frame, FrameDecoder, Hello, Limits};
use touchpoint_crdt::{Board, Kind, NewElement};
use touchpoint_sync::client::{Client, ClientOptions};
use touchpoint_sync::link::ShareLink;
use yrs::StateVector;
use yrs::sync::SyncMessage;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", n, link] => seed(n.parse().context("N")?, &link.parse()?).await,
        ["storm", joiners, seconds, link] => {
            storm(
                joiners.parse().context("JOINERS")?,
                Duration::from_secs_f64(seconds.parse().context("SECONDS")?),
                &link.parse()?,
            )
            .await
        }
        ["type", seconds, per_second, link] => {
            type_into_a_note(
                Duration::from_secs_f64(seconds.parse().context("SECONDS")?),
                per_second.parse().context("PER_S")?,
                link.parse()?,
            )
            .await
        }
        _ => bail!(
            "usage: join_storm seed N LINK | join_storm storm JOINERS SECONDS LINK | \
             join_storm type SECONDS PER_S LINK"
        ),
    }
}

async fn connect(link: &ShareLink) -> Result<quinn::Connection> {
    let (crypto, _) = touchpoint_sync::client::tls::rustls_config(link.fingerprint)?;
    let config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(crypto)?));
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    endpoint.set_default_client_config(config);
    let addr = tokio::net::lookup_host(link.authority())
        .await?
        .next()
        .context("the link's host does not resolve")?;
    Ok(endpoint.connect(addr, "localhost")?.await?)
}

/// Joins with a fresh stream and returns it after the welcome.
async fn join(
    conn: &quinn::Connection,
    link: &ShareLink,
    name: &str,
) -> Result<(quinn::SendStream, quinn::RecvStream, FrameDecoder)> {
    let (mut send, mut recv) = conn.open_bi().await?;
    send.write_all(&Frame::Hello(Hello::new(&link.room, &link.token, name)).encode())
        .await?;
    let mut decoder = FrameDecoder::new(Limits::DEFAULT);
    match next_frame(&mut recv, &mut decoder).await? {
        Frame::Welcome(_) => Ok((send, recv, decoder)),
        other => bail!("expected a welcome, got {}", other.kind()),
    }
}

async fn next_frame(recv: &mut quinn::RecvStream, decoder: &mut FrameDecoder) -> Result<Frame> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if let Some(frame) = decoder.next_frame()? {
            if let Frame::Error(refusal) = &frame {
                bail!("refused: {refusal}");
            }
            return Ok(frame);
        }
        match recv.read(&mut buf).await? {
            Some(n) => decoder.feed(&buf[..n])?,
            None => bail!("the server ended the stream"),
        }
    }
}

/// Asks for the whole document and reads until the sync step 2; its size.
async fn fetch_all(conn: &quinn::Connection, link: &ShareLink, name: &str) -> Result<usize> {
    let (mut send, mut recv, mut decoder) = join(conn, link, name).await?;
    send.write_all(&Frame::Sync(SyncMessage::SyncStep1(StateVector::default())).encode())
        .await?;
    loop {
        if let Frame::Sync(SyncMessage::SyncStep2(update)) =
            next_frame(&mut recv, &mut decoder).await?
        {
            drop(send.finish());
            return Ok(update.len());
        }
    }
}

async fn seed(n: usize, link: &ShareLink) -> Result<()> {
    let started = Instant::now();
    let mut board = Board::new();
    for i in 0..n {
        let (x, y) = ((i % 300) as f64 * 220.0, (i / 300) as f64 * 220.0);
        board.create(NewElement::sticky(
            x,
            y,
            &format!("Note {i}: waiting times"),
        ))?;
    }
    let encoding = Instant::now();
    let update = board.encode();
    // What the server does for each newcomer's sync step 2 (its
    // `encode_diff` against an empty state vector is the same walk).
    let encode_ms = encoding.elapsed().as_secs_f64() * 1e3;
    let conn = connect(link).await?;
    let (mut send, _recv, _decoder) = join(&conn, link, "seed").await?;
    send.write_all(&Frame::Sync(SyncMessage::Update(update.clone())).encode())
        .await?;
    // Reading the document back (a step 2 is gated on commits) says it is
    // stored, once the update has finished arriving.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = fetch_all(&conn, link, "seed check").await?;
        if got >= update.len() / 2 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the room holds {got} bytes after seeding {}", update.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "seeded {n} stickies ({} bytes, encoded in {encode_ms:.0} ms) in {:.1} s",
        update.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn storm(joiners: usize, duration: Duration, link: &ShareLink) -> Result<()> {
    let conns = {
        let mut conns = Vec::new();
        // A connection may join 16 rooms at once.
        for _ in 0..joiners.div_ceil(10) {
            conns.push(connect(link).await?);
        }
        conns
    };
    let until = Instant::now() + duration;
    let mut rounds = 0;
    let mut joins: Vec<Duration> = Vec::new();
    while Instant::now() < until {
        let tasks: Vec<_> = (0..joiners)
            .map(|j| {
                let conn = conns[j / 10].clone();
                let link = link.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    fetch_all(&conn, &link, "newcomer")
                        .await
                        .map(|_| t.elapsed())
                })
            })
            .collect();
        for task in tasks {
            joins.push(task.await??);
        }
        rounds += 1;
    }
    joins.sort();
    let at = |q: f64| joins[((joins.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "storm: {rounds} rounds of {joiners} newcomers, {} joins; time to the whole board p50 {:.0} ms, p99 {:.0} ms",
        joins.len(),
        at(0.5),
        at(0.99)
    );
    Ok(())
}

async fn type_into_a_note(duration: Duration, per_second: f64, link: ShareLink) -> Result<()> {
    let board = Arc::new(Mutex::new(Board::from_update(&[0, 0])?));
    let client = Client::connect(link, board.clone(), ClientOptions::default())?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let (id, mut at) = loop {
        if client.state().is_synced() {
            let b = board
                .lock()
                .map_err(|_| anyhow::anyhow!("board lock poisoned"))?;
            if let Some(e) = b.elements().into_iter().find(|e| e.kind() == Kind::Sticky) {
                let chars = e.body.text().map_or(0, |t| t.chars().count());
                break (e.id, chars);
            }
        }
        if Instant::now() > deadline {
            bail!("the room's board did not arrive");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    let started = Instant::now();
    let mut typed = 0usize;
    while started.elapsed() < duration {
        tick.tick().await;
        let mut b = board
            .lock()
            .map_err(|_| anyhow::anyhow!("board lock poisoned"))?;
        b.insert_text(&id, at, "x")?;
        at += 1;
        typed += 1;
    }
    // Lets the last characters go out before leaving.
    tokio::time::sleep(Duration::from_secs(1)).await;
    client.shutdown().await;
    println!("typed {typed} characters into {id}");
    Ok(())
}
