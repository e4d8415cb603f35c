//! The owner's side of a room: the sans-io session driven against the one
//! board, with what the [`Transport`] carries.
//!
//! Whoever owns the board owns a [`Driver`]: the app on its UI thread
//! (it calls [`Driver::poll`] when woken and [`Driver::flush`] after its
//! edits), the headless [`Client`](super::Client) on a task of its own.
//! Remote updates are integrated once, into that board, by whoever holds it;
//! nothing is copied between documents.

use std::collections::VecDeque;
use std::time::Instant;

use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{
    ClientEvent, ClientSession, ClientState, ErrorCode, Hello, Limits, Role, SessionError,
};
use yrs::sync::AwarenessUpdate;

use super::transport::{ConnId, End, Inbound, Next, Transport};
use super::{ConnectionState, Event};

/// The protocol side of one board's membership of one room.
pub struct Driver {
    transport: Transport,
    session: ClientSession,
    room: String,
    /// The open connection, and the largest datagram it takes.
    conn: Option<(ConnId, Option<usize>)>,
    /// The role of the current connection's welcome.
    role: Option<Role>,
    /// The error code of the refusal that ended the last connection.
    refusal: Option<ErrorCode>,
    /// This user's latest presence, sent again after a reconnect.
    presence: Option<AwarenessUpdate>,
    state: ConnectionState,
    events: VecDeque<Event>,
    /// The last flush stopped because the transport had no room.
    held_back: bool,
}

impl Driver {
    /// A driver for `board` (which may already hold edits: the first sync
    /// carries them) over `transport`.
    pub fn new(
        transport: Transport,
        board: &Board,
        hello: Hello,
        limits: Limits,
    ) -> Result<Driver, SessionError> {
        let room = hello.room.clone();
        Ok(Driver {
            transport,
            session: ClientSession::new(board, hello, limits)?,
            room,
            conn: None,
            role: None,
            refusal: None,
            presence: None,
            state: ConnectionState::Connecting { attempt: 0 },
            events: VecDeque::new(),
            held_back: false,
        })
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }

    /// Ends the driver, keeping the transport (to shut it down).
    pub fn into_transport(self) -> Transport {
        self.transport
    }

    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// Local changes not yet handed to the transport (see
    /// [`ClientSession::pending_local_changes`]).
    pub fn pending_local_changes(&self) -> usize {
        self.session.pending_local_changes()
    }

    /// Whether an update from the room may have left part of itself in the
    /// board: drop it and reload it from a trusted copy.
    pub fn board_is_suspect(&self) -> bool {
        self.session.board_is_suspect()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Handles every message the transport has ready, without waiting.
    /// Returns how many there were.
    pub fn poll(&mut self, board: &mut Board) -> usize {
        let mut n = 0;
        while let Some(message) = self.transport.try_recv() {
            self.handle(message, board);
            n += 1;
        }
        n
    }

    /// Handles one message from the transport (remote updates are applied
    /// to `board`, the board this driver was made for), then writes what
    /// the session has to say.
    pub fn handle(&mut self, message: Inbound, board: &mut Board) {
        match message {
            Inbound::Connecting { attempt } => {
                self.set_state(ConnectionState::Connecting { attempt });
            }
            Inbound::Open { conn, max_datagram } => {
                self.conn = Some((conn, max_datagram));
                self.role = None;
                self.refusal = None;
                self.session.connect();
            }
            Inbound::Bytes { conn, bytes } => {
                if self.is_current(conn) {
                    self.session.receive(&bytes, board);
                }
            }
            Inbound::Datagram { conn, bytes } => {
                if self.is_current(conn) {
                    self.session.handle_datagram(&bytes);
                }
            }
            Inbound::Down { reason, next } => {
                self.conn = None;
                self.session.stream_finished();
                let state = match next {
                    Next::RetryIn(delay) => ConnectionState::Offline {
                        pending: self.pending_local_changes(),
                        retry_in: Some(delay),
                        reason,
                    },
                    Next::Offline => ConnectionState::Offline {
                        pending: self.pending_local_changes(),
                        retry_in: None,
                        reason,
                    },
                    Next::Refused => ConnectionState::Refused {
                        code: self.refusal,
                        reason,
                    },
                    Next::Closed => ConnectionState::Closed,
                };
                self.set_state(state);
            }
        }
        self.after_session();
    }

    fn is_current(&self, conn: ConnId) -> bool {
        self.conn.is_some_and(|(c, _)| c == conn)
    }

    /// While offline, keeps the pending count in the state fresh (call
    /// after local edits).
    pub fn local_changed(&mut self) {
        if let ConnectionState::Offline {
            pending,
            retry_in,
            reason,
        } = &self.state
        {
            let now = self.pending_local_changes();
            if *pending != now {
                let state = ConnectionState::Offline {
                    pending: now,
                    retry_in: *retry_in,
                    reason: reason.clone(),
                };
                self.set_state(state);
            }
        }
    }

    /// Hands the transport every frame the session has queued (local edits
    /// first), as long as the transport has room; the rest waits in the
    /// session for the next flush.
    pub fn flush(&mut self) {
        let Some((conn, _)) = self.conn else {
            return;
        };
        let mut bytes = Vec::new();
        self.held_back = loop {
            if self.transport.queued() + bytes.len() >= super::transport::OUTBOUND_BYTES {
                break true;
            }
            match self.session.poll_transmit() {
                Some(frame) => frame.encode_into(&mut bytes),
                None => break false,
            }
        };
        self.transport.send(conn, bytes);
    }

    /// Whether frames wait in the session for the transport to have room
    /// ([`Transport::room`]); flush again when it has.
    pub fn is_held_back(&self) -> bool {
        self.held_back && self.conn.is_some()
    }

    /// Publishes this user's presence: as a datagram when `reliable` is
    /// false and it fits (latest wins, loss tolerated), otherwise on the
    /// stream. Remembered and sent again after every reconnect.
    pub fn publish_presence(&mut self, update: AwarenessUpdate, reliable: bool) {
        if let Some((conn, max)) = self.conn
            && self.session.channel().is_some()
        {
            match self.session.presence_datagram(&update) {
                Some(datagram) if !reliable && max.is_some_and(|m| datagram.len() <= m) => {
                    self.transport.send_datagram(conn, datagram);
                }
                _ => {
                    self.session.send_presence(update.clone());
                    self.flush();
                }
            }
        }
        self.presence = Some(update);
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state == state {
            return;
        }
        tracing::debug!(room = %self.room, "sync client: {state}");
        self.state = state.clone();
        self.events.push_back(Event::State(state));
    }

    /// Acts on what the session says after input, writes its frames, and
    /// ends the connection when the protocol says it is over.
    fn after_session(&mut self) {
        let mut ended = None;
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Joined { role } => {
                    self.role = Some(role);
                    // Our presence, again, for the members who joined since.
                    if let Some(update) = self.presence.clone() {
                        self.session.send_presence(update);
                    }
                }
                ClientEvent::Synced => {
                    self.transport.synced();
                    self.set_state(ConnectionState::Synced {
                        role: self.role.unwrap_or(Role::Viewer),
                        since: Instant::now(),
                    });
                }
                ClientEvent::Presence(update) => self.events.push_back(Event::Presence(update)),
                ClientEvent::PresenceQueried => {
                    if let Some(update) = self.presence.clone() {
                        self.session.send_presence(update);
                    }
                }
                ClientEvent::Ended(refusal) => ended = Some(refusal),
            }
        }
        // Also writes the error frame of a session that failed.
        self.flush();
        let Some((conn, _)) = self.conn else {
            return;
        };
        let Some(refusal) = ended.or_else(|| match self.session.state() {
            ClientState::Refused(r) | ClientState::Failed(r) => Some(r.clone()),
            _ => None,
        }) else {
            return;
        };
        self.refusal = Some(refusal.code);
        let end = if self.session.board_is_suspect() {
            self.events.push_back(Event::BoardSuspect {
                reason: refusal.reason.clone(),
            });
            End::Refuse {
                reason: refusal.reason,
            }
        } else if refusal.code.is_retryable() {
            End::Retry {
                reason: refusal.to_string(),
            }
        } else {
            End::Refuse {
                reason: refusal.reason,
            }
        };
        self.transport.end(conn, end);
        // Nothing more goes to or comes from this connection.
        self.conn = None;
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("room", &self.room)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
