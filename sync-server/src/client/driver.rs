//! The client's task: connection attempts, the stream loop, backoff.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{ClientEvent, ClientSession, ClientState, ErrorCode, Hello, Role};
use yrs::sync::AwarenessUpdate;
use yrs::{Origin, TransactionMut};

use super::backoff::{Backoff, Jitter};
use super::tls::{self, PinnedCertVerifier};
use super::{ClientOptions, Command, ConnectionState, EVENT_BUFFER, Event, lock};
use crate::link::ShareLink;

/// How long leaving waits for the server to acknowledge the end of the stream.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Read buffer per connection.
const READ_CHUNK: usize = 64 * 1024;

/// The handle's ends of the task's channels.
pub(super) struct Handles {
    pub commands: mpsc::UnboundedSender<Command>,
    pub state: watch::Receiver<ConnectionState>,
    pub events: mpsc::Receiver<Event>,
}

/// How one connection attempt ended.
enum Outcome {
    /// The handle asked to leave.
    Shutdown,
    /// The handle asked to go offline.
    Paused,
    /// The handle asked to reconnect now.
    Restart,
    /// Lost or refused for a reason worth retrying after a delay.
    Lost { reason: String },
    /// Refused for a reason retrying cannot fix.
    Refused {
        code: Option<ErrorCode>,
        reason: String,
    },
}

/// What a command means for the loop that received it.
enum Flow {
    Continue,
    Shutdown,
    Paused,
    Restart,
}

/// Wakes the task when the app edits the board, so local changes go out at
/// once; unregisters its observer when dropped.
struct LocalNotify {
    doc: yrs::Doc,
    key: Origin,
}

impl LocalNotify {
    fn new(board: &Board, notify: Arc<Notify>) -> Result<LocalNotify, ()> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let key = Origin::from(
            format!(
                "touchpoint:sync-client:{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            )
            .as_str(),
        );
        let remote = Origin::from(touchpoint_crdt::REMOTE_ORIGIN);
        board
            .doc()
            .observe_update_v1(key.clone(), move |txn: &TransactionMut, _| {
                if txn.origin() != Some(&remote) {
                    notify.notify_one();
                }
            })
            .map_err(|_| ())?;
        Ok(LocalNotify {
            doc: board.doc().clone(),
            key,
        })
    }
}

impl Drop for LocalNotify {
    fn drop(&mut self) {
        // Fails only while a transaction is open; the observer then only
        // pokes a Notify nobody waits on.
        let _ = self.doc.unobserve_update_v1(self.key.clone());
    }
}

pub(super) struct Driver {
    endpoint: quinn::Endpoint,
    link: ShareLink,
    board: Arc<Mutex<Board>>,
    session: ClientSession,
    local: Arc<Notify>,
    _local_watch: LocalNotify,
    commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<ConnectionState>,
    events: mpsc::Sender<Event>,
    backoff: Backoff,
    jitter: Jitter,
    /// This user's latest presence, sent again after a reconnect.
    presence: Option<AwarenessUpdate>,
    online: bool,
    /// Attempts since the last sync.
    attempt: u32,
    waker: Option<super::Waker>,
}

/// The live parts of one connection.
struct Link {
    conn: quinn::Connection,
    out: mpsc::UnboundedSender<Vec<u8>>,
    writer: tokio::task::JoinHandle<()>,
}

impl Driver {
    pub(super) fn new(
        endpoint: quinn::Endpoint,
        link: ShareLink,
        board: &Board,
        shared: Arc<Mutex<Board>>,
        hello: Hello,
        options: &ClientOptions,
    ) -> Result<(Driver, Handles), ()> {
        let session = ClientSession::new(board, hello, options.limits).map_err(|_| ())?;
        let local = Arc::new(Notify::new());
        let local_watch = LocalNotify::new(board, local.clone())?;
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (state, state_rx) = watch::channel(ConnectionState::Connecting { attempt: 0 });
        let (events, events_rx) = mpsc::channel(EVENT_BUFFER);
        let jitter = options
            .jitter_seed
            .map(Jitter::new)
            .unwrap_or_else(Jitter::from_entropy);
        let driver = Driver {
            endpoint,
            link,
            board: shared,
            session,
            local,
            _local_watch: local_watch,
            commands,
            state,
            events,
            backoff: Backoff::new(options.backoff),
            jitter,
            presence: None,
            online: options.online,
            attempt: 0,
            waker: options.waker.clone(),
        };
        Ok((
            driver,
            Handles {
                commands: commands_tx,
                state: state_rx,
                events: events_rx,
            },
        ))
    }

    fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake();
        }
    }

    fn set_state(&self, state: ConnectionState) {
        if *self.state.borrow() == state {
            return;
        }
        tracing::debug!(room = %self.link.room, "sync client: {state}");
        self.state.send_replace(state.clone());
        if self.events.try_send(Event::State(state)).is_err() {
            tracing::debug!("sync client: event buffer full; state change not queued");
        }
        self.wake();
    }

    fn offline(&self, retry_in: Option<Duration>, reason: &str) {
        self.set_state(ConnectionState::Offline {
            pending: self.session.pending_local_changes(),
            retry_in,
            reason: reason.to_owned(),
        });
    }

    pub(super) async fn run(mut self) {
        // Set when waiting for the next attempt: until when, and why.
        let mut wait: Option<(Option<Instant>, String)> = None;
        let mut refused = false;
        loop {
            if !self.online {
                wait = Some((None, "offline by request".to_owned()));
            }
            if let Some((until, reason)) = wait.take() {
                match self.idle(until, &reason, refused).await {
                    Flow::Shutdown => break,
                    Flow::Restart => {
                        refused = false;
                        self.backoff.reset();
                        self.attempt = 0;
                    }
                    Flow::Continue | Flow::Paused => {}
                }
                if !self.online {
                    continue;
                }
            }
            self.attempt += 1;
            self.set_state(ConnectionState::Connecting {
                attempt: self.attempt,
            });
            match self.connect_once().await {
                Outcome::Shutdown => break,
                Outcome::Paused => {}
                Outcome::Restart => {
                    self.backoff.reset();
                    self.attempt = 0;
                }
                Outcome::Lost { reason } => {
                    let delay = self.backoff.next_delay(self.jitter.unit());
                    tracing::info!(
                        room = %self.link.room,
                        "sync connection lost ({reason}); retrying in {:.1} s",
                        delay.as_secs_f64()
                    );
                    self.offline(Some(delay), &reason);
                    wait = Some((Some(Instant::now() + delay), reason));
                }
                Outcome::Refused { code, reason } => {
                    tracing::warn!(room = %self.link.room, "sync refused: {reason}");
                    self.set_state(ConnectionState::Refused {
                        code,
                        reason: reason.clone(),
                    });
                    refused = true;
                    wait = Some((None, reason));
                }
            }
        }
        self.set_state(ConnectionState::Closed);
    }

    /// Waits offline until `until` (forever when `None`), a command to
    /// reconnect, or shutdown. Keeps the pending count in the state fresh.
    async fn idle(&mut self, until: Option<Instant>, reason: &str, refused: bool) -> Flow {
        let retry_in = until.map(|u| u.saturating_duration_since(Instant::now()));
        if !refused {
            self.offline(retry_in, reason);
        }
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
                _ = self.local.notified() => {
                    if !refused {
                        let retry_in = until.map(|u| u.saturating_duration_since(Instant::now()));
                        self.offline(retry_in, reason);
                    }
                }
                cmd = self.commands.recv() => match self.command(cmd, None) {
                    Flow::Continue => {}
                    Flow::Paused => {
                        if !refused {
                            self.offline(None, "offline by request");
                        }
                    }
                    Flow::Restart => return Flow::Restart,
                    Flow::Shutdown => return Flow::Shutdown,
                }
            }
        }
    }

    /// Applies a command. `link` is the live connection, if any.
    fn command(&mut self, cmd: Option<Command>, link: Option<&Link>) -> Flow {
        match cmd {
            None | Some(Command::Shutdown) => Flow::Shutdown,
            Some(Command::Presence { update, reliable }) => {
                if let Some(link) = link {
                    self.publish(link, &update, reliable);
                }
                self.presence = Some(update);
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

    /// Sends presence on a joined connection: as a datagram when asked and
    /// when it fits, otherwise on the stream.
    fn publish(&mut self, link: &Link, update: &AwarenessUpdate, reliable: bool) {
        if !reliable
            && let Some(datagram) = self.session.presence_datagram(update)
            && link
                .conn
                .max_datagram_size()
                .is_some_and(|max| datagram.len() <= max)
            && link.conn.send_datagram(datagram.into()).is_ok()
        {
            return;
        }
        self.session.send_presence(update.clone());
        self.flush(link);
    }

    /// Writes every frame the session has queued.
    fn flush(&mut self, link: &Link) {
        let mut bytes = Vec::new();
        while let Some(frame) = self.session.poll_transmit() {
            frame.encode_into(&mut bytes);
        }
        if !bytes.is_empty() {
            // A closed channel means the writer saw the stream fail; the read
            // side reports the loss.
            let _ = link.out.send(bytes);
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
                cmd = self.commands.recv() => match self.command(cmd, None) {
                    Flow::Continue => {}
                    Flow::Shutdown => return Outcome::Shutdown,
                    Flow::Paused => return Outcome::Paused,
                    Flow::Restart => return Outcome::Restart,
                },
            }
        };
        let client_tls = match tls::client_tls(self.link.fingerprint) {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Refused {
                    code: None,
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
                    code: None,
                    reason: format!("cannot connect to {}: {e}", self.link.authority()),
                };
            }
        };
        tokio::pin!(connecting);
        let conn = loop {
            tokio::select! {
                r = &mut connecting => break r,
                cmd = self.commands.recv() => match self.command(cmd, None) {
                    Flow::Continue => {}
                    Flow::Shutdown => return Outcome::Shutdown,
                    Flow::Paused => return Outcome::Paused,
                    Flow::Restart => return Outcome::Restart,
                },
                _ = self.local.notified() => {}
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
        let (out, out_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_frames(send, out_rx));
        let link = Link { conn, out, writer };
        let outcome = self.stream_loop(&link, recv).await;
        self.session.disconnected();
        self.close(link, &outcome).await;
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
                code: None,
                reason: mismatch.to_string(),
            };
        }
        let authority = self.link.authority();
        // TLS alerts travel as QUIC CRYPTO_ERROR codes 0x100-0x1ff, from
        // either side: a certificate we reject, or an ALPN the server refuses.
        let crypto = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
        match &e {
            quinn::ConnectionError::TransportError(t) if crypto(t.code) => Outcome::Refused {
                code: None,
                reason: format!("TLS handshake with {authority} failed: {}", t.reason),
            },
            quinn::ConnectionError::ConnectionClosed(c) if crypto(c.error_code) => {
                Outcome::Refused {
                    code: None,
                    reason: format!("{authority} refused the TLS handshake: {c}"),
                }
            }
            quinn::ConnectionError::VersionMismatch => Outcome::Refused {
                code: None,
                reason: format!("{authority} speaks no QUIC version this client does"),
            },
            _ => Outcome::Lost {
                reason: format!("cannot connect to {authority}: {e}"),
            },
        }
    }

    /// The stream's life: hello, sync, updates both ways, until it ends.
    async fn stream_loop(&mut self, link: &Link, mut recv: quinn::RecvStream) -> Outcome {
        let mut link_role = None;
        self.session.connect();
        self.flush(link);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            tokio::select! {
                read = recv.read(&mut buf) => match read {
                    Ok(Some(n)) => {
                        {
                            let mut board = lock(&self.board);
                            self.session.receive(&buf[..n], &mut board);
                        }
                        self.wake();
                        if let Some(outcome) = self.after_session(link, &mut link_role) {
                            return outcome;
                        }
                    }
                    Ok(None) => {
                        self.session.stream_finished();
                        return Outcome::Lost { reason: "the server ended the stream".to_owned() };
                    }
                    Err(e) => return Outcome::Lost { reason: describe_read_error(&e) },
                },
                datagram = link.conn.read_datagram() => match datagram {
                    Ok(bytes) => {
                        self.session.handle_datagram(&bytes);
                        if let Some(outcome) = self.after_session(link, &mut link_role) {
                            return outcome;
                        }
                    }
                    Err(e) => return Outcome::Lost { reason: format!("connection lost: {e}") },
                },
                _ = self.local.notified() => {
                    // The notifying observer may run before the session's
                    // own observer has queued the change; both run while the
                    // editor holds the board's lock, so taking it once
                    // means the change is queued. Without this, an edit
                    // could wait for the next one to be sent.
                    drop(lock(&self.board));
                    self.flush(link);
                }
                cmd = self.commands.recv() => match self.command(cmd, Some(link)) {
                    Flow::Continue => {}
                    Flow::Shutdown => return Outcome::Shutdown,
                    Flow::Paused => return Outcome::Paused,
                    Flow::Restart => return Outcome::Restart,
                },
            }
        }
    }

    /// Handles what the session has to say after input, writes its frames,
    /// and says whether the stream is over.
    fn after_session(&mut self, link: &Link, role: &mut Option<Role>) -> Option<Outcome> {
        let mut ended = None;
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Joined { role: r } => {
                    *role = Some(r);
                    // Our presence, again, for the members who joined since.
                    if let Some(update) = self.presence.clone() {
                        self.session.send_presence(update);
                    }
                }
                ClientEvent::Synced => {
                    self.backoff.reset();
                    self.attempt = 0;
                    self.set_state(ConnectionState::Synced {
                        role: role.unwrap_or(Role::Viewer),
                        since: Instant::now(),
                    });
                }
                ClientEvent::Presence(update) => {
                    if self.events.try_send(Event::Presence(update)).is_err() {
                        tracing::debug!("sync client: event buffer full; presence dropped");
                    }
                    self.wake();
                }
                ClientEvent::PresenceQueried => {
                    if let Some(update) = self.presence.clone() {
                        self.session.send_presence(update);
                    }
                }
                ClientEvent::Ended(refusal) => ended = Some(refusal),
            }
        }
        // Also writes the error frame of a session that failed.
        self.flush(link);
        let refusal = ended.or_else(|| match self.session.state() {
            ClientState::Refused(r) | ClientState::Failed(r) => Some(r.clone()),
            _ => None,
        })?;
        if self.session.board_is_suspect() {
            let reason = refusal.reason.clone();
            if self
                .events
                .try_send(Event::BoardSuspect { reason })
                .is_err()
            {
                tracing::warn!("sync client: event buffer full; a suspect board not reported");
            }
            self.wake();
            return Some(Outcome::Refused {
                code: Some(refusal.code),
                reason: refusal.reason,
            });
        }
        if refusal.code.is_retryable() {
            Some(Outcome::Lost {
                reason: refusal.to_string(),
            })
        } else {
            Some(Outcome::Refused {
                code: Some(refusal.code),
                reason: refusal.reason,
            })
        }
    }

    /// Ends a connection: a clean leave finishes the stream and waits a
    /// moment for the server to take it; a lost one is just dropped.
    async fn close(&mut self, link: Link, outcome: &Outcome) {
        let Link { conn, out, writer } = link;
        drop(out);
        let graceful = matches!(
            outcome,
            Outcome::Shutdown | Outcome::Paused | Outcome::Restart | Outcome::Refused { .. }
        );
        if graceful {
            let _ = tokio::time::timeout(CLOSE_GRACE, writer).await;
        } else {
            writer.abort();
        }
        conn.close(0u32.into(), b"leaving");
    }
}

/// The stream's writer: frames in order, coalesced; on the end of the
/// channel, finishes the stream and waits for the server to read it.
async fn write_frames(mut send: quinn::SendStream, mut frames: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut bytes) = frames.recv().await {
        while let Ok(more) = frames.try_recv() {
            bytes.extend_from_slice(&more);
        }
        if send.write_all(&bytes).await.is_err() {
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
