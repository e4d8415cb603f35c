//! The client end of a room's stream, as a state machine without I/O.
//!
//! The transport opens a stream, calls [`ClientSession::connect`], writes
//! every frame [`ClientSession::poll_transmit`] gives, feeds what it reads to
//! [`ClientSession::receive`], and calls [`ClientSession::disconnected`] when
//! the stream is gone. Reconnecting is `connect` again: a fresh sync step 1/2
//! exchange carries every edit made offline, so nothing is queued by hand.
//!
//! ```text
//!            connect            welcome            sync step 2
//! Offline ----------> Connecting ------> Syncing ------------> Synced
//!    ^                    |                 |                    |
//!    +--- disconnected ---+-----------------+--------------------+
//!  error frame from the server: Refused; the server broke the protocol: Failed
//! ```
//!
//! Local edits reach the session through an observer on the board's
//! document: every transaction whose origin is not [`REMOTE_ORIGIN`] is a
//! local change. Once this connection has answered the server's sync step 1
//! (its step 2 carries everything made before), each later change goes out as
//! an update frame; before that, changes are only counted
//! ([`ClientSession::pending_local_changes`]), since the step 2 will carry them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::{Doc, Origin};

use super::PROTOCOL_VERSION;
use super::frame::{
    ErrorCode, Frame, FrameDecoder, Hello, Limits, Refusal, Role, decode_presence_datagram,
    encode_presence_datagram,
};
use crate::board::Board;
use crate::origin::REMOTE_ORIGIN;

/// Where the client stands with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientState {
    /// No stream. Local edits stay in the board and are counted as pending.
    Offline,
    /// Hello sent, waiting for the welcome.
    Connecting,
    /// Welcomed; waiting for the server's sync step 2.
    Syncing { role: Role },
    /// Holds everything the server held when it answered; updates flow both
    /// ways as they happen.
    Synced { role: Role },
    /// The server ended the stream with this error frame.
    Refused(Refusal),
    /// The server broke the protocol; this end queued an error frame with this
    /// content and ends the stream.
    Failed(Refusal),
}

impl ClientState {
    /// Welcomed into the room (syncing or synced).
    pub fn is_joined(&self) -> bool {
        matches!(
            self,
            ClientState::Syncing { .. } | ClientState::Synced { .. }
        )
    }

    /// Refused or failed: the stream is over, `connect` starts again.
    pub fn is_ended(&self) -> bool {
        matches!(self, ClientState::Refused(_) | ClientState::Failed(_))
    }
}

/// Something the app may want to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server accepted the hello. An editor may now publish its presence.
    Joined { role: Role },
    /// The first sync step 2 of this connection is applied to the board.
    Synced,
    /// Collaborators' presence (cursors, selections, gestures in progress):
    /// apply it to the app's awareness. Its states are JSON text, checked to
    /// parse but otherwise untrusted.
    Presence(AwarenessUpdate),
    /// The server asked for this client's presence: send it again.
    PresenceQueried,
    /// The stream is over; the state says why (refused or failed).
    Ended(Refusal),
}

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the board is inside a transaction; create the session between edits")]
    BoardBusy,
}

/// Local changes observed on the board, shared with the document observer.
#[derive(Debug, Default)]
struct LocalChanges {
    /// Whether changes go out as update frames now (the server's step 1 has
    /// been answered on a live stream by an editor).
    live: bool,
    /// Update bytes waiting for `poll_transmit`, while live.
    queued: Vec<Vec<u8>>,
    /// Changes not sent and not yet covered by a sync step 2.
    pending: usize,
}

/// Keeps the document observer registered; unregisters it when dropped.
struct LocalWatch {
    doc: Doc,
    key: Origin,
    changes: Arc<Mutex<LocalChanges>>,
}

static NEXT_WATCH: AtomicU64 = AtomicU64::new(0);

impl LocalWatch {
    fn new(board: &Board) -> Result<LocalWatch, SessionError> {
        let changes = Arc::new(Mutex::new(LocalChanges::default()));
        let sink = changes.clone();
        let remote = Origin::from(REMOTE_ORIGIN);
        let n = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
        let key = Origin::from(format!("touchpoint:sync-session:{n}").as_str());
        board
            .doc()
            .observe_update_v1(key.clone(), move |txn, event| {
                if txn.origin() == Some(&remote) {
                    return;
                }
                if let Ok(mut c) = sink.lock() {
                    if c.live {
                        c.queued.push(event.update.clone());
                    } else {
                        c.pending += 1;
                    }
                }
            })
            .map_err(|_| SessionError::BoardBusy)?;
        Ok(LocalWatch {
            doc: board.doc().clone(),
            key,
            changes,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut LocalChanges) -> R) -> R {
        match self.changes.lock() {
            Ok(mut c) => f(&mut c),
            // Only our own short critical sections hold this lock; a panic
            // inside one leaves plain counters and bytes, still usable.
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Stops sending: whatever was queued counts as pending again (the next
    /// connection's step 2 carries it).
    fn stop(&self) {
        self.with(|c| {
            c.live = false;
            c.pending += c.queued.len();
            c.queued.clear();
        });
    }
}

impl Drop for LocalWatch {
    fn drop(&mut self) {
        // Fails only while a transaction is open; the observer then stays
        // registered but writes into a queue nobody reads, which is harmless.
        let _ = self.doc.unobserve_update_v1(self.key.clone());
    }
}

/// One client's membership of one room, without I/O. See the module docs.
pub struct ClientSession {
    hello: Hello,
    limits: Limits,
    state: ClientState,
    decoder: FrameDecoder,
    outbox: VecDeque<Frame>,
    events: VecDeque<ClientEvent>,
    local: LocalWatch,
    /// The board this session watches, to catch a caller passing another.
    board_client: u64,
    /// From the welcome: names the room in presence datagrams.
    channel: Option<u64>,
    /// An update from the server may have left part of itself in the board
    /// (see [`Self::board_is_suspect`]).
    board_suspect: bool,
}

impl ClientSession {
    /// A session for `board` that will introduce itself with `hello`. It
    /// watches the board's local edits from now on; edits made before are
    /// carried by the first sync. Starts offline: call [`Self::connect`].
    pub fn new(board: &Board, hello: Hello, limits: Limits) -> Result<ClientSession, SessionError> {
        Ok(ClientSession {
            hello,
            limits,
            state: ClientState::Offline,
            decoder: FrameDecoder::new(limits),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            local: LocalWatch::new(board)?,
            board_client: board.client_id(),
            channel: None,
            board_suspect: false,
        })
    }

    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// Whether an update from the server failed in a way that may have
    /// left part of it in the board (`UpdateError::leaves_document_suspect`).
    /// The session has ended; the board's owner should discard that board,
    /// reload it from a trusted copy (its file) and sync again with a new
    /// session, rather than reconnect with it.
    pub fn board_is_suspect(&self) -> bool {
        self.board_suspect
    }

    /// The role the server granted, once welcomed.
    pub fn role(&self) -> Option<Role> {
        match self.state {
            ClientState::Syncing { role } | ClientState::Synced { role } => Some(role),
            _ => None,
        }
    }

    /// The channel naming this room in presence datagrams, once welcomed.
    pub fn channel(&self) -> Option<u64> {
        self.channel.filter(|_| self.state.is_joined())
    }

    /// Local changes (transactions) not yet handed to the transport: made
    /// offline, before this connection's sync step 2, or (for a viewer)
    /// never to be sent. Handing over is not delivery: if the stream dies
    /// with frames in flight, the next connection's sync carries them.
    pub fn pending_local_changes(&self) -> usize {
        self.local.with(|c| c.pending + c.queued.len())
    }

    /// Starts (or restarts) a connection: queues the hello. Frames still
    /// queued for an earlier stream are dropped; the sync exchange that
    /// follows the welcome makes up for them.
    pub fn connect(&mut self) {
        self.local.stop();
        self.decoder = FrameDecoder::new(self.limits);
        self.outbox.clear();
        self.channel = None;
        self.outbox.push_back(Frame::Hello(self.hello.clone()));
        self.state = ClientState::Connecting;
    }

    /// The stream is gone. Local edits from now on are counted as pending.
    /// A refusal stays the state, so the app can show why.
    pub fn disconnected(&mut self) {
        self.local.stop();
        self.outbox.clear();
        self.channel = None;
        if !self.state.is_ended() {
            self.state = ClientState::Offline;
        }
    }

    /// The next frame to write to the stream. Local changes made since the
    /// last call go out first, merged into one update frame.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        let queued = self.local.with(|c| std::mem::take(&mut c.queued));
        match queued.len() {
            0 => {}
            1 => self.push_updates(queued),
            _ => match yrs::merge_updates_v1(&queued) {
                Ok(merged) => self.push_updates(vec![merged]),
                // Our own updates always merge; if not, send them one by one.
                Err(_) => self.push_updates(queued),
            },
        }
        self.outbox.pop_front()
    }

    fn push_updates(&mut self, updates: Vec<Vec<u8>>) {
        self.outbox.extend(
            updates
                .into_iter()
                .map(|u| Frame::Sync(SyncMessage::Update(u))),
        );
    }

    /// The next event for the app.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Feeds bytes read from the stream and handles every complete frame.
    pub fn receive(&mut self, bytes: &[u8], board: &mut Board) {
        if !matches!(
            self.state,
            ClientState::Connecting | ClientState::Syncing { .. } | ClientState::Synced { .. }
        ) {
            return;
        }
        if let Err(e) = self.decoder.feed(bytes) {
            self.fail(e.refusal());
            return;
        }
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.handle_frame(frame, board),
                Ok(None) => break,
                Err(e) => {
                    self.fail(e.refusal());
                    break;
                }
            }
            if self.state.is_ended() {
                break;
            }
        }
    }

    /// The stream ended from the other side (read returned end of stream).
    /// A stream that ends inside a frame is a failure; otherwise offline.
    pub fn stream_finished(&mut self) {
        if let Err(e) = self.decoder.finish()
            && self.state.is_joined()
        {
            tracing::warn!("server stream ended early: {e}");
        }
        self.disconnected();
    }

    /// Handles one decoded frame from the server, applying document updates
    /// to `board` (the board this session was created for).
    pub fn handle_frame(&mut self, frame: Frame, board: &mut Board) {
        if board.client_id() != self.board_client {
            tracing::error!(
                "sync session for board {} was handed board {}; frame ignored",
                self.board_client,
                board.client_id()
            );
            return;
        }
        let role = match (&self.state, &frame) {
            (ClientState::Offline | ClientState::Refused(_) | ClientState::Failed(_), _) => {
                tracing::debug!("{} frame after the stream ended; ignored", frame.kind());
                return;
            }
            (_, Frame::Error(refusal)) => {
                tracing::info!("server refused: {refusal}");
                self.local.stop();
                self.outbox.clear();
                self.events.push_back(ClientEvent::Ended(refusal.clone()));
                self.state = ClientState::Refused(refusal.clone());
                return;
            }
            (ClientState::Connecting, Frame::Welcome(welcome)) => {
                self.welcome(welcome.version, welcome.role, welcome.channel, board);
                return;
            }
            (ClientState::Syncing { role } | ClientState::Synced { role }, _) => *role,
            (ClientState::Connecting, _) => {
                self.fail(Refusal::new(
                    ErrorCode::UnexpectedFrame,
                    format!("expected a welcome, got {}", frame.kind()),
                ));
                return;
            }
        };
        match frame {
            Frame::Sync(SyncMessage::SyncStep1(sv)) => {
                // A viewer has nothing the server may take; our server sends
                // step 1 to editors only.
                if role.can_write() {
                    self.outbox
                        .push_back(Frame::Sync(SyncMessage::SyncStep2(board.encode_diff(&sv))));
                    // Everything so far is in that step 2; later changes go
                    // out as they happen.
                    self.local.with(|c| {
                        c.live = true;
                        c.pending = 0;
                        c.queued.clear();
                    });
                }
            }
            Frame::Sync(SyncMessage::SyncStep2(update)) => {
                if self.apply(board, &update) && matches!(self.state, ClientState::Syncing { .. }) {
                    self.state = ClientState::Synced { role };
                    self.events.push_back(ClientEvent::Synced);
                }
            }
            Frame::Sync(SyncMessage::Update(update)) => {
                self.apply(board, &update);
            }
            Frame::Awareness(update) => self.events.push_back(ClientEvent::Presence(update)),
            Frame::AwarenessQuery => self.events.push_back(ClientEvent::PresenceQueried),
            other @ (Frame::Hello(_) | Frame::Welcome(_)) => self.fail(Refusal::new(
                ErrorCode::UnexpectedFrame,
                format!("unexpected {} from the server", other.kind()),
            )),
            // Handled above; kept so the match stays exhaustive.
            Frame::Error(_) => {}
        }
    }

    fn welcome(&mut self, version: u32, role: Role, channel: u64, board: &Board) {
        if version != PROTOCOL_VERSION {
            self.fail(Refusal::new(
                ErrorCode::VersionMismatch,
                format!(
                    "this client speaks protocol version {PROTOCOL_VERSION}, the server chose {version}"
                ),
            ));
            return;
        }
        self.channel = Some(channel);
        self.state = ClientState::Syncing { role };
        self.events.push_back(ClientEvent::Joined { role });
        self.outbox
            .push_back(Frame::Sync(SyncMessage::SyncStep1(board.state_vector())));
    }

    /// Applies a document update from the server; a bad one ends the stream.
    fn apply(&mut self, board: &mut Board, update: &[u8]) -> bool {
        match board.apply_update(update) {
            Ok(()) => true,
            Err(e) => {
                if e.leaves_document_suspect() {
                    self.board_suspect = true;
                }
                self.fail(Refusal::new(
                    ErrorCode::BadUpdate,
                    format!("update from the server refused: {e}"),
                ));
                false
            }
        }
    }

    /// Ends the stream from this side: only the error frame goes out.
    fn fail(&mut self, refusal: Refusal) {
        tracing::warn!("ending the sync stream: {refusal}");
        self.local.stop();
        self.outbox.clear();
        self.outbox.push_back(refusal.frame());
        self.events.push_back(ClientEvent::Ended(refusal.clone()));
        self.state = ClientState::Failed(refusal);
    }

    /// Queues this client's presence on the stream (reliable). Ignored until
    /// welcomed.
    pub fn send_presence(&mut self, update: AwarenessUpdate) {
        if self.state.is_joined() {
            self.outbox.push_back(Frame::Awareness(update));
        }
    }

    /// This client's presence as a datagram for the room (unreliable, latest
    /// wins), or `None` until welcomed. The transport checks that it fits the
    /// connection's datagram size and otherwise uses [`Self::send_presence`].
    pub fn presence_datagram(&self, update: &AwarenessUpdate) -> Option<Vec<u8>> {
        self.channel()
            .map(|channel| encode_presence_datagram(channel, update))
    }

    /// Handles a presence datagram the transport routed to this room. Bad or
    /// stray datagrams are dropped: they are lossy extras, never fatal.
    pub fn handle_datagram(&mut self, bytes: &[u8]) {
        let Some(channel) = self.channel() else {
            return;
        };
        match decode_presence_datagram(bytes, &self.limits) {
            Ok((c, update)) if c == channel => {
                self.events.push_back(ClientEvent::Presence(update));
            }
            Ok((c, _)) => tracing::debug!("presence datagram for channel {c} dropped"),
            Err(e) => tracing::debug!("presence datagram dropped: {e}"),
        }
    }
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("room", &self.hello.room)
            .field("state", &self.state)
            .field("outbox", &self.outbox.len())
            .field("pending_local_changes", &self.pending_local_changes())
            .finish_non_exhaustive()
    }
}
