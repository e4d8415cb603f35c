//! The client's network task: I/O only.
//!
//! It resolves the link's host, connects (pinning the link's certificate,
//! see [`super::tls`]), opens the room's stream and then moves bytes: what
//! it reads goes to the owner as [`Inbound`] messages, what the owner hands
//! it is written. When a connection is lost it reconnects with backoff
//! ([`super::backoff`]). It knows nothing of frames, sessions or boards:
//! whoever owns the board drives the sans-io
//! [`ClientSession`](touchpoint_crdt::protocol::ClientSession) against it
//! with these bytes (see [`super::Driver`]), and tells the transport when
//! the protocol says a connection is over ([`Transport::end`]).
//!
//! Both directions are bounded in bytes, so a slow owner or a slow network
//! never lets memory grow: reads stop once [`INBOUND_CHUNKS`] chunks wait
//! for the owner (QUIC flow control then holds the server back), and the
//! owner stops taking frames from its session once
//! [`OUTBOUND_BYTES`] wait to be written ([`Transport::has_room`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use super::Waker;
use super::backoff::{Backoff, BackoffOptions, Jitter};
use super::tls::{self, PinnedCertVerifier};
use crate::link::ShareLink;

/// How long leaving waits for the server to acknowledge the end of the stream.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Read buffer per connection: the largest [`Inbound::Bytes`] chunk.
pub const READ_CHUNK: usize = 64 * 1024;

/// Messages that may wait for the owner: at most this many read chunks
/// (16 MiB) are held before the reader stops reading.
pub const INBOUND_CHUNKS: usize = 256;

/// Bytes the owner may hand over before they are written; past this
/// [`Transport::has_room`] says no and frames stay in the session.
pub const OUTBOUND_BYTES: usize = 8 * 1024 * 1024;

/// Identifies one connection, so that bytes and requests meant for one are
/// never applied to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// What the transport tells the owner, in order.
#[derive(Debug)]
pub enum Inbound {
    /// A connection attempt started (1 for the first since the last sync).
    Connecting { attempt: u32 },
    /// The room's stream is open: start the session on it.
    Open {
        conn: ConnId,
        /// The largest presence datagram the connection takes now.
        max_datagram: Option<usize>,
    },
    /// Bytes read from the stream.
    Bytes { conn: ConnId, bytes: Vec<u8> },
    /// A datagram (presence).
    Datagram { conn: ConnId, bytes: Vec<u8> },
    /// Not connected any more (or the attempt failed): why, and what next.
    Down { reason: String, next: Next },
}

/// What the transport does after a connection went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Tries again after this delay.
    RetryIn(Duration),
    /// Stays offline until [`Transport::set_online`].
    Offline,
    /// Refused for good (by the owner, or by TLS): waits for
    /// [`Transport::reconnect`].
    Refused,
    /// Shut down; the task has ended.
    Closed,
}

/// How the owner ends a connection the protocol says is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Worth trying again after the backoff delay.
    Retry { reason: String },
    /// Retrying unchanged cannot help: wait for [`Transport::reconnect`].
    Refuse { reason: String },
}

/// How a transport connects.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    pub backoff: BackoffOptions,
    /// Seed for the backoff jitter; `None` seeds from the clock.
    pub jitter_seed: Option<u64>,
    /// Start connected, or offline until [`Transport::set_online`].
    pub online: bool,
    /// Called from the task after each [`Inbound`] message and when room
    /// frees up for writing: an owner whose loop sleeps until woken passes
    /// its waker here.
    pub waker: Option<Waker>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            backoff: BackoffOptions::DEFAULT,
            jitter_seed: None,
            online: true,
            waker: None,
        }
    }
}

#[derive(Debug)]
enum Command {
    Send { conn: ConnId, bytes: Vec<u8> },
    Datagram { conn: ConnId, bytes: Vec<u8> },
    End { conn: ConnId, end: End },
    Synced,
    SetOnline(bool),
    Reconnect,
    Shutdown,
}

/// Bytes handed over and not yet written, shared by the owner and the task.
#[derive(Debug, Default)]
struct Outbound {
    queued: AtomicUsize,
    /// Signalled when `queued` falls below [`OUTBOUND_BYTES`].
    room: Notify,
}

impl Outbound {
    fn release(&self, n: usize, waker: Option<&Waker>) {
        let before = self.queued.fetch_sub(n, Ordering::AcqRel);
        if before >= OUTBOUND_BYTES && before - n < OUTBOUND_BYTES {
            self.room.notify_one();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// Waits for the transport to have room for more bytes.
#[derive(Debug, Clone)]
pub struct Room(Arc<Outbound>);

impl Room {
    /// Returns once fewer than [`OUTBOUND_BYTES`] wait to be written.
    pub async fn wait(&self) {
        loop {
            let room = self.0.room.notified();
            if self.0.queued.load(Ordering::Acquire) < OUTBOUND_BYTES {
                return;
            }
            room.await;
        }
    }
}

/// The owner's handle on the network task. Dropping it ends the task (the
/// stream is finished, the server sees the member leave).
pub struct Transport {
    commands: mpsc::UnboundedSender<Command>,
    inbound: mpsc::Receiver<Inbound>,
    outbound: Arc<Outbound>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Transport {
    /// Starts the task for `link` on `endpoint`. Must be called inside a
    /// tokio runtime.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        endpoint: quinn::Endpoint,
        link: ShareLink,
        options: TransportOptions,
    ) -> Transport {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (inbound_tx, inbound) = mpsc::channel(INBOUND_CHUNKS);
        let outbound = Arc::new(Outbound::default());
        let jitter = options
            .jitter_seed
            .map(Jitter::new)
            .unwrap_or_else(Jitter::from_entropy);
        let task = Task {
            endpoint,
            link,
            commands,
            inbound: inbound_tx,
            outbound: outbound.clone(),
            backoff: Backoff::new(options.backoff),
            jitter,
            online: options.online,
            attempt: 0,
            waker: options.waker,
            next_conn: 0,
        };
        Transport {
            commands: commands_tx,
            inbound,
            outbound,
            task: Some(runtime.spawn(task.run())),
        }
    }

    /// The next message, waiting for it; `None` once the task has ended.
    pub async fn recv(&mut self) -> Option<Inbound> {
        self.inbound.recv().await
    }

    /// The next message if there is one (for a UI frame loop).
    pub fn try_recv(&mut self) -> Option<Inbound> {
        self.inbound.try_recv().ok()
    }

    /// Whether the owner may hand over more bytes now.
    pub fn has_room(&self) -> bool {
        self.queued() < OUTBOUND_BYTES
    }

    /// Bytes handed over and not yet written (or dropped).
    pub fn queued(&self) -> usize {
        self.outbound.queued.load(Ordering::Acquire)
    }

    /// Something to wait on for [`Self::has_room`], apart from the handle.
    pub fn room(&self) -> Room {
        Room(self.outbound.clone())
    }

    /// Writes `bytes` to `conn`'s stream, in order; dropped if that
    /// connection is gone (the next sync carries what they held).
    pub fn send(&self, conn: ConnId, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.outbound
            .queued
            .fetch_add(bytes.len(), Ordering::AcqRel);
        let n = bytes.len();
        if self.commands.send(Command::Send { conn, bytes }).is_err() {
            self.outbound.release(n, None);
        }
    }

    /// Sends a datagram on `conn`: lossy, for presence.
    pub fn send_datagram(&self, conn: ConnId, bytes: Vec<u8>) {
        let _ = self.commands.send(Command::Datagram { conn, bytes });
    }

    /// Ends `conn` (after writing what was handed over for it) because the
    /// protocol says it is over.
    pub fn end(&self, conn: ConnId, end: End) {
        let _ = self.commands.send(Command::End { conn, end });
    }

    /// The session synced: the next loss starts the backoff afresh.
    pub fn synced(&self) {
        let _ = self.commands.send(Command::Synced);
    }

    /// Goes offline (`false`: the connection is closed) or back online.
    pub fn set_online(&self, online: bool) {
        let _ = self.commands.send(Command::SetOnline(online));
    }

    /// Drops the current connection (if any) and connects again now, also
    /// after a refusal.
    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }

    /// Asks the task to leave: it finishes the stream, closes the
    /// connection (a second at most), sends [`Next::Closed`] and ends.
    /// Returns at once.
    pub fn request_shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    /// Leaves and waits for the task to end.
    pub async fn shutdown(mut self) {
        self.request_shutdown();
        // Keep reading so that a task blocked on a full channel can finish.
        while self.inbound.recv().await.is_some() {}
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.request_shutdown();
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

/// How one connection ended.
enum Outcome {
    Shutdown,
    Paused,
    Restart,
    Lost {
        reason: String,
    },
    /// The owner ended the connection; worth retrying after the backoff.
    Retry {
        reason: String,
    },
    Refused {
        reason: String,
    },
    /// The receiving end is gone: nobody to work for.
    Orphaned,
}

/// What a command means for the loop that received it.
enum Flow {
    Continue,
    Shutdown,
    Paused,
    Restart,
    /// The owner ended the live connection.
    Ended(End),
}

/// The live parts of one connection.
struct Live {
    id: ConnId,
    conn: quinn::Connection,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes given to this connection's writer and not yet written.
    pending: Arc<AtomicUsize>,
    writer: tokio::task::JoinHandle<()>,
}

struct Task {
    endpoint: quinn::Endpoint,
    link: ShareLink,
    commands: mpsc::UnboundedReceiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    outbound: Arc<Outbound>,
    backoff: Backoff,
    jitter: Jitter,
    online: bool,
    /// Attempts since the last sync.
    attempt: u32,
    waker: Option<Waker>,
    next_conn: u64,
}

impl Task {
    /// Hands a message to the owner; false when the owner is gone.
    async fn emit(&self, message: Inbound) -> bool {
        let ok = self.inbound.send(message).await.is_ok();
        if let Some(w) = &self.waker {
            w.wake();
        }
        ok
    }

    async fn run(mut self) {
        // Set when waiting for the next attempt: until when (`None`: until
        // asked), and whether the wait follows a refusal.
        let mut wait: Option<Option<Instant>> = None;
        loop {
            if !self.online && wait.is_none() {
                if !self.down("offline by request", Next::Offline).await {
                    return;
                }
                wait = Some(None);
            }
            if let Some(until) = wait.take() {
                match self.idle(until).await {
                    Flow::Shutdown => break,
                    Flow::Restart => {
                        self.backoff.reset();
                        self.attempt = 0;
                    }
                    Flow::Continue | Flow::Paused | Flow::Ended(_) => {}
                }
                if !self.online {
                    wait = Some(None);
                    continue;
                }
            }
            self.attempt += 1;
            if !self
                .emit(Inbound::Connecting {
                    attempt: self.attempt,
                })
                .await
            {
                return;
            }
            match self.connect_once().await {
                Outcome::Shutdown => break,
                Outcome::Orphaned => return,
                Outcome::Paused => {}
                Outcome::Restart => {
                    self.backoff.reset();
                    self.attempt = 0;
                }
                Outcome::Lost { reason } | Outcome::Retry { reason } => {
                    let delay = self.backoff.next_delay(self.jitter.unit());
                    tracing::info!(
                        room = %self.link.room,
                        "sync connection lost ({reason}); retrying in {:.1} s",
                        delay.as_secs_f64()
                    );
                    if !self.down(&reason, Next::RetryIn(delay)).await {
                        return;
                    }
                    wait = Some(Some(Instant::now() + delay));
                }
                Outcome::Refused { reason } => {
                    tracing::warn!(room = %self.link.room, "sync refused: {reason}");
                    if !self.down(&reason, Next::Refused).await {
                        return;
                    }
                    wait = Some(None);
                }
            }
        }
        self.down("closed", Next::Closed).await;
    }

    async fn down(&self, reason: &str, next: Next) -> bool {
        self.emit(Inbound::Down {
            reason: reason.to_owned(),
            next,
        })
        .await
    }

    /// Waits offline until `until` (forever when `None`), a command to
    /// reconnect, or shutdown.
    async fn idle(&mut self, until: Option<Instant>) -> Flow {
        let sleep = async {
            match until {
                Some(u) => tokio::time::sleep_until(u.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Flow::Continue,
                cmd = self.commands.recv() => match self.command(cmd, None) {
                    Flow::Continue | Flow::Ended(_) => {}
                    Flow::Paused => {
                        if !self.down("offline by request", Next::Offline).await {
                            return Flow::Shutdown;
                        }
                        // Offline now: wait for a command, not the timer.
                        return Box::pin(self.idle(None)).await;
                    }
                    flow @ (Flow::Restart | Flow::Shutdown) => return flow,
                }
            }
        }
    }

    /// Applies a command. `live` is the open connection, if any.
    fn command(&mut self, cmd: Option<Command>, live: Option<&Live>) -> Flow {
        let current = |conn: ConnId| live.filter(|l| l.id == conn);
        match cmd {
            None | Some(Command::Shutdown) => Flow::Shutdown,
            Some(Command::Send { conn, bytes }) => {
                let n = bytes.len();
                // A closed channel means the writer saw the stream fail; the
                // read side reports the loss.
                let sent = current(conn).is_some_and(|l| {
                    l.pending.fetch_add(n, Ordering::AcqRel);
                    let ok = l.out.send(bytes).is_ok();
                    if !ok {
                        l.pending.fetch_sub(n, Ordering::AcqRel);
                    }
                    ok
                });
                if !sent {
                    self.outbound.release(n, self.waker.as_ref());
                }
                Flow::Continue
            }
            Some(Command::Datagram { conn, bytes }) => {
                if let Some(l) = current(conn) {
                    let _ = l.conn.send_datagram(bytes.into());
                }
                Flow::Continue
            }
            Some(Command::End { conn, end }) => match current(conn) {
                Some(_) => Flow::Ended(end),
                None => Flow::Continue,
            },
            Some(Command::Synced) => {
                self.backoff.reset();
                self.attempt = 0;
                Flow::Continue
            }
            Some(Command::SetOnline(online)) => {
                let was = std::mem::replace(&mut self.online, online);
                match (was, online) {
                    (true, false) => Flow::Paused,
                    (false, true) => Flow::Restart,
                    _ => Flow::Continue,
                }
            }
            Some(Command::Reconnect) => {
                self.online = true;
                Flow::Restart
            }
        }
    }

    /// Resolves the link's host to an address the endpoint can reach
    /// (IPv4 first; IPv6 when the socket is dual-stack). Owns what it needs so
    /// that commands can be served while it runs.
    fn resolve_owned(
        &self,
    ) -> impl std::future::Future<Output = Result<SocketAddr, String>> + use<> {
        let authority = self.link.authority();
        let ipv6 = self
            .endpoint
            .local_addr()
            .map(|a| a.is_ipv6())
            .unwrap_or(false);
        async move {
            let addrs = tokio::net::lookup_host(authority.as_str())
                .await
                .map_err(|e| format!("cannot resolve {authority}: {e}"))?;
            let mut fallback = None;
            for addr in addrs {
                if addr.is_ipv4() {
                    return Ok(addr);
                }
                if ipv6 && fallback.is_none() {
                    fallback = Some(addr);
                }
            }
            fallback.ok_or_else(|| format!("{authority} has no address this machine can reach"))
        }
    }

    /// Maps a command received before the stream is open.
    fn early(&mut self, cmd: Option<Command>) -> Option<Outcome> {
        match self.command(cmd, None) {
            Flow::Continue | Flow::Ended(_) => None,
            Flow::Shutdown => Some(Outcome::Shutdown),
            Flow::Paused => Some(Outcome::Paused),
            Flow::Restart => Some(Outcome::Restart),
        }
    }

    /// One connection: handshake, stream, and the loop until it ends.
    async fn connect_once(&mut self) -> Outcome {
        let resolving = self.resolve_owned();
        tokio::pin!(resolving);
        let addr = loop {
            tokio::select! {
                r = &mut resolving => match r {
                    Ok(addr) => break addr,
                    Err(reason) => return Outcome::Lost { reason },
                },
                cmd = self.commands.recv() => if let Some(o) = self.early(cmd) { return o },
            }
        };
        let client_tls = match tls::client_tls(self.link.fingerprint) {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Refused {
                    reason: e.to_string(),
                };
            }
        };
        let connecting = match self
            .endpoint
            .connect_with(client_tls.config, addr, &self.link.host)
        {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Refused {
                    reason: format!("cannot connect to {}: {e}", self.link.authority()),
                };
            }
        };
        tokio::pin!(connecting);
        let conn = loop {
            tokio::select! {
                r = &mut connecting => break r,
                cmd = self.commands.recv() => if let Some(o) = self.early(cmd) { return o },
            }
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => return self.handshake_failed(e, client_tls.pinned.as_deref()),
        };
        let (send, recv) = match conn.open_bi().await {
            Ok(streams) => streams,
            Err(e) => {
                return Outcome::Lost {
                    reason: format!("connection lost while opening the stream: {e}"),
                };
            }
        };
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let (out, out_rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(write_frames(
            send,
            out_rx,
            Written {
                pending: pending.clone(),
                outbound: self.outbound.clone(),
                waker: self.waker.clone(),
            },
        ));
        let live = Live {
            id,
            conn,
            out,
            pending,
            writer,
        };
        let outcome = self.stream_loop(&live, recv).await;
        self.close(live, &outcome).await;
        outcome
    }

    /// Why a handshake failed, and whether retrying makes sense.
    fn handshake_failed(
        &self,
        e: quinn::ConnectionError,
        pinned: Option<&PinnedCertVerifier>,
    ) -> Outcome {
        if let Some(mismatch) = pinned.and_then(|v| v.mismatch()) {
            return Outcome::Refused {
                reason: mismatch.to_string(),
            };
        }
        let authority = self.link.authority();
        // TLS alerts travel as QUIC CRYPTO_ERROR codes 0x100-0x1ff, from
        // either side: a certificate we reject, or an ALPN the server refuses.
        let crypto = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
        match &e {
            quinn::ConnectionError::TransportError(t) if crypto(t.code) => Outcome::Refused {
                reason: format!("TLS handshake with {authority} failed: {}", t.reason),
            },
            quinn::ConnectionError::ConnectionClosed(c) if crypto(c.error_code) => {
                Outcome::Refused {
                    reason: format!("{authority} refused the TLS handshake: {c}"),
                }
            }
            quinn::ConnectionError::VersionMismatch => Outcome::Refused {
                reason: format!("{authority} speaks no QUIC version this client does"),
            },
            _ => Outcome::Lost {
                reason: format!("cannot connect to {authority}: {e}"),
            },
        }
    }

    /// The stream's life: bytes both ways until it ends.
    async fn stream_loop(&mut self, live: &Live, mut recv: quinn::RecvStream) -> Outcome {
        if !self
            .emit(Inbound::Open {
                conn: live.id,
                max_datagram: live.conn.max_datagram_size(),
            })
            .await
        {
            return Outcome::Orphaned;
        }
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let message = tokio::select! {
                read = recv.read(&mut buf) => match read {
                    Ok(Some(n)) => Inbound::Bytes { conn: live.id, bytes: buf[..n].to_vec() },
                    Ok(None) => return Outcome::Lost { reason: "the server ended the stream".to_owned() },
                    Err(e) => return Outcome::Lost { reason: describe_read_error(&e) },
                },
                datagram = live.conn.read_datagram() => match datagram {
                    Ok(bytes) => Inbound::Datagram { conn: live.id, bytes: bytes.to_vec() },
                    Err(e) => return Outcome::Lost { reason: format!("connection lost: {e}") },
                },
                cmd = self.commands.recv() => match self.command(cmd, Some(live)) {
                    Flow::Continue => continue,
                    Flow::Shutdown => return Outcome::Shutdown,
                    Flow::Paused => return Outcome::Paused,
                    Flow::Restart => return Outcome::Restart,
                    Flow::Ended(End::Retry { reason }) => return Outcome::Retry { reason },
                    Flow::Ended(End::Refuse { reason }) => return Outcome::Refused { reason },
                },
            };
            if !self.emit(message).await {
                return Outcome::Orphaned;
            }
        }
    }

    /// Ends a connection: one the owner or the user ended finishes the
    /// stream and waits a moment for the server to take what was written;
    /// a lost one is just dropped. Bytes never written are given back to
    /// the owner's budget.
    async fn close(&mut self, live: Live, outcome: &Outcome) {
        let Live {
            conn,
            out,
            pending,
            mut writer,
            ..
        } = live;
        drop(out);
        let graceful = !matches!(outcome, Outcome::Lost { .. } | Outcome::Orphaned);
        if !graceful
            || tokio::time::timeout(CLOSE_GRACE, &mut writer)
                .await
                .is_err()
        {
            writer.abort();
            let _ = writer.await;
        }
        self.outbound
            .release(pending.swap(0, Ordering::AcqRel), self.waker.as_ref());
        conn.close(0u32.into(), b"leaving");
    }
}

/// Where the writer reports what it wrote.
struct Written {
    /// This connection's share of the budget.
    pending: Arc<AtomicUsize>,
    outbound: Arc<Outbound>,
    waker: Option<Waker>,
}

/// The stream's writer: bytes in order, coalesced; on the end of the
/// channel, finishes the stream and waits for the server to read it.
async fn write_frames(
    mut send: quinn::SendStream,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    written: Written,
) {
    while let Some(mut bytes) = frames.recv().await {
        while let Ok(more) = frames.try_recv() {
            bytes.extend_from_slice(&more);
        }
        let n = bytes.len();
        let ok = send.write_all(&bytes).await.is_ok();
        written.pending.fetch_sub(n, Ordering::AcqRel);
        written.outbound.release(n, written.waker.as_ref());
        if !ok {
            // The read side reports the loss; `close` gives back the rest.
            return;
        }
    }
    if send.finish().is_ok() {
        let _ = send.stopped().await;
    }
}

fn describe_read_error(e: &quinn::ReadError) -> String {
    match e {
        quinn::ReadError::ConnectionLost(c) => format!("connection lost: {c}"),
        other => format!("stream failed: {other}"),
    }
}
