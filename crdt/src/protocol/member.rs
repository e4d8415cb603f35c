//! The server end of one member's stream, as a state machine without I/O,
//! and the room state it works on.
//!
//! The server accepts a stream, creates a [`ServerMember`], feeds it the
//! stream's bytes ([`ServerMember::receive`]) with the current time, and
//! carries out the [`MemberEvent`]s it yields: write a frame to this stream,
//! store and relay a document update to the room's other members, relay
//! presence, close. Token checking, room lookup and member counts stay with
//! the server, behind the [`Rooms`] trait.
//!
//! ```text
//!                 hello, admitted                 error sent or received,
//! AwaitingHello ------------------> Joined ----> Closed
//!       |  anything else, bad bytes, timeout        ^  bad bytes, rate, limits
//!       +-------------------------------------------+
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};

use super::PROTOCOL_VERSION;
use super::frame::{
    ErrorCode, Frame, FrameDecoder, Hello, Limits, Refusal, Role, Welcome, decode_presence_datagram,
};
use super::lib0::Reader;
use super::rate::TokenBucket;
use crate::board::Board;

/// Identifies a member (one stream in one room) across the server.
pub type MemberId = u64;

/// A Yjs update v1 that changes nothing: no structs, empty delete set.
pub const EMPTY_UPDATE: &[u8] = &[0, 0];

/// The server's side of a room: its document and its members' presence.
///
/// The document is a [`Board`] because `Board::apply_update` holds back
/// updates that arrive ahead of ones they depend on; a raw yrs 0.28 `Doc`
/// would integrate them behind a skip and then drop the missing update
/// (ARCHITECTURE.md, "Out-of-order updates are held back").
pub struct Room {
    board: Board,
    /// Latest presence per awareness client id, with the member that owns it.
    presence: BTreeMap<u64, PresenceEntry>,
    /// Bytes of presence JSON in `presence`, bounded by
    /// [`Limits::max_room_presence_bytes`].
    presence_bytes: usize,
    /// An upper bound of the document's encoded size: exact at the last
    /// measurement plus every update applied since (updates overlap, so the
    /// sum over-estimates). Re-measured only when it nears the limit.
    approx_len: usize,
    /// The document may hold part of a refused update (yrs panicked or
    /// kept a pending remnant): the server must replace it with the stored
    /// state ([`Room::replace_board`]) before serving anyone from it.
    suspect: bool,
}

/// Presence JSON per awareness frame of a newcomer's snapshot: far under
/// any frame limit, however many members the room has.
pub const PRESENCE_BATCH_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
struct PresenceEntry {
    clock: u32,
    json: Arc<str>,
    owner: MemberId,
}

impl PresenceEntry {
    fn is_removed(&self) -> bool {
        self.json.trim() == "null"
    }
}

impl Room {
    /// A room over a document loaded from storage.
    pub fn new(board: Board) -> Room {
        let approx_len = board.encode().len();
        Room {
            board,
            presence: BTreeMap::new(),
            presence_bytes: 0,
            approx_len,
            suspect: false,
        }
    }

    /// A room with an empty document: no meta written by the server (a
    /// [`Board::new`] would write its own title and schema, which would then
    /// race the first client's).
    pub fn empty() -> Room {
        match Board::from_update(EMPTY_UPDATE) {
            Ok(board) => Room::new(board),
            // The empty update always decodes; a fresh board is the fallback.
            Err(_) => Room::new(Board::new()),
        }
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Whether the document must be replaced before it serves anyone: it
    /// may hold part of an update that was refused (see [`Room::replace_board`]).
    pub fn is_suspect(&self) -> bool {
        self.suspect
    }

    /// Replaces the document (with the room's stored state, after a refused
    /// update left the old one suspect), keeping presence. The new board
    /// should hold nothing pending (see [`Board::discard_unintegrated`]).
    pub fn replace_board(&mut self, board: Board) {
        self.approx_len = board.encode().len();
        self.board = board;
        self.suspect = false;
    }

    /// An upper bound of the document's encoded size, in bytes.
    pub fn doc_len_estimate(&self) -> usize {
        self.approx_len
    }

    /// Every current presence state, in client order.
    pub fn presence(&self) -> AwarenessUpdate {
        AwarenessUpdate {
            clients: self.presence_entries().collect(),
        }
    }

    /// Every current presence state in client order, cut into updates of at
    /// most [`PRESENCE_BATCH_BYTES`] of JSON each (a single state is never
    /// longer than [`Limits::max_presence_bytes`]), so that a newcomer's
    /// snapshot never meets a frame limit. Empty when nobody has presence.
    pub fn presence_batches(&self) -> Vec<AwarenessUpdate> {
        let mut batches = Vec::new();
        let mut batch = AwarenessUpdate {
            clients: Default::default(),
        };
        let mut bytes = 0;
        for (client, entry) in self.presence_entries() {
            if bytes > 0 && bytes + entry.json.len() > PRESENCE_BATCH_BYTES {
                batches.push(std::mem::replace(
                    &mut batch,
                    AwarenessUpdate {
                        clients: Default::default(),
                    },
                ));
                bytes = 0;
            }
            bytes += entry.json.len();
            batch.clients.insert(client, entry);
        }
        if !batch.clients.is_empty() {
            batches.push(batch);
        }
        batches
    }

    fn presence_entries(&self) -> impl Iterator<Item = (ClientID, AwarenessUpdateEntry)> + '_ {
        self.presence
            .iter()
            .filter(|(_, e)| !e.is_removed())
            .map(|(&client, e)| {
                (
                    ClientID::new(client),
                    AwarenessUpdateEntry {
                        clock: e.clock,
                        json: e.json.clone(),
                    },
                )
            })
    }

    /// Applies a document update from a member, within the document limit.
    /// Only updates the document can integrate now are taken: the server
    /// holds nothing back (ARCHITECTURE.md, "Updates the room cannot
    /// integrate are refused").
    fn apply_update(&mut self, update: &[u8], limits: &Limits) -> Result<(), Refusal> {
        if self.approx_len.saturating_add(update.len()) > limits.max_doc_len {
            self.approx_len = self.board.encode().len();
            if self.approx_len.saturating_add(update.len()) > limits.max_doc_len {
                return Err(Refusal::new(
                    ErrorCode::DocTooLarge,
                    format!(
                        "the board would exceed {} bytes; nothing was applied",
                        limits.max_doc_len
                    ),
                ));
            }
        }
        if let Err(e) = self.board.apply_update_in_order(update) {
            if e.leaves_document_suspect() {
                tracing::warn!("a refused update may have left part of it in the document: {e}");
                self.suspect = true;
            }
            return Err(Refusal::new(
                ErrorCode::BadUpdate,
                format!("update refused, nothing applied: {e}"),
            ));
        }
        self.approx_len = self.approx_len.saturating_add(update.len());
        Ok(())
    }

    /// Merges a member's presence update by y-protocols' rule (a higher clock
    /// wins; at an equal clock a removal wins) and returns the entries that
    /// changed, to relay. Entries for a client id another member holds, and
    /// new ids past the member's allowance, are dropped: a member speaks only
    /// for itself.
    fn apply_presence(
        &mut self,
        owner: MemberId,
        update: AwarenessUpdate,
        limits: &Limits,
    ) -> AwarenessUpdate {
        let mut accepted = AwarenessUpdate {
            clients: Default::default(),
        };
        let mut entries: Vec<(ClientID, AwarenessUpdateEntry)> =
            update.clients.into_iter().collect();
        entries.sort_unstable_by_key(|(c, _)| c.get());
        for (client, entry) in entries {
            let removal = entry.json.trim() == "null";
            let held = self.presence.get(&client.get()).map_or(0, |e| e.json.len());
            let newer = match self.presence.get(&client.get()) {
                Some(current) if current.owner != owner && !current.is_removed() => {
                    tracing::debug!(
                        member = owner,
                        client = client.get(),
                        "presence for another member's client dropped"
                    );
                    false
                }
                Some(current) => {
                    current.clock < entry.clock
                        || (current.clock == entry.clock && removal && !current.is_removed())
                }
                None => {
                    let owned = self.presence.values().filter(|e| e.owner == owner).count();
                    owned < limits.max_presence_clients
                }
            };
            let total = self.presence_bytes - held + entry.json.len();
            if newer && !removal && total > limits.max_room_presence_bytes {
                tracing::warn!(
                    member = owner,
                    client = client.get(),
                    bytes = entry.json.len(),
                    room_bytes = self.presence_bytes,
                    limit = limits.max_room_presence_bytes,
                    "presence dropped: the room holds its maximum of presence"
                );
                continue;
            }
            if newer {
                self.presence_bytes = total;
                self.presence.insert(
                    client.get(),
                    PresenceEntry {
                        clock: entry.clock,
                        json: entry.json.clone(),
                        owner,
                    },
                );
                accepted.clients.insert(client, entry);
            }
        }
        accepted
    }

    /// Forgets a member's presence; the removals to relay, if any.
    fn remove_presence_of(&mut self, owner: MemberId) -> Option<AwarenessUpdate> {
        let mut removed = AwarenessUpdate {
            clients: Default::default(),
        };
        let mut freed = 0;
        self.presence.retain(|&client, e| {
            if e.owner != owner {
                return true;
            }
            freed += e.json.len();
            if !e.is_removed() {
                removed.clients.insert(
                    ClientID::new(client),
                    AwarenessUpdateEntry {
                        clock: e.clock.saturating_add(1),
                        json: Arc::from("null"),
                    },
                );
            }
            false
        });
        self.presence_bytes -= freed;
        (!removed.clients.is_empty()).then_some(removed)
    }
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("board", &self.board)
            .field("presence", &self.presence.len())
            .field("presence_bytes", &self.presence_bytes)
            .field("suspect", &self.suspect)
            .finish_non_exhaustive()
    }
}

/// What the server provides a member: admission and its room.
pub trait Rooms {
    /// Decides whether `hello` may join its room and as what: checks the
    /// token (signature, expiry, that it names `hello.room`), the room's
    /// member count, and makes sure the room is loaded. The refusal is sent
    /// to the client as an error frame (typically `Unauthorized` or
    /// `RoomFull`).
    fn admit(&mut self, member: MemberId, hello: &Hello) -> Result<Role, Refusal>;

    /// The room a member was admitted to.
    fn room_mut(&mut self, name: &str) -> Option<&mut Room>;
}

/// What the server must do for a member, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// Write this frame to the member's stream.
    Send(Frame),
    /// The room's document accepted this update (Yjs update v1) from the
    /// member. Store it durably, then send it as
    /// `Frame::Sync(SyncMessage::Update(..))` to every other joined member
    /// of the room: an update is durable before it is relayed.
    DocUpdate(Vec<u8>),
    /// Presence changed: send it to every other joined member of the room,
    /// as a datagram where it fits and as an awareness frame otherwise.
    Presence(AwarenessUpdate),
    /// Finish the stream once the frames before this event are written. The
    /// member is done; drop it.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberState {
    AwaitingHello { deadline: Instant },
    Joined,
    Closed,
}

/// One member's stream on the server. See the module docs.
pub struct ServerMember {
    id: MemberId,
    channel: u64,
    limits: Limits,
    state: MemberState,
    /// The room and role granted; kept after closing, so that the server
    /// can still relay the member's last events to the right room.
    joined: Option<(String, Role)>,
    decoder: FrameDecoder,
    rate: TokenBucket,
    client_name: String,
    events: VecDeque<MemberEvent>,
    /// It has asked for the room's state (sync step 1) and been answered.
    synced: bool,
}

impl ServerMember {
    /// A member for a newly accepted stream. `channel` names the room in
    /// presence datagrams on this connection: unique per connection (a
    /// counter is enough); the welcome tells the client.
    pub fn new(id: MemberId, channel: u64, now: Instant, limits: Limits) -> ServerMember {
        ServerMember {
            id,
            channel,
            limits,
            state: MemberState::AwaitingHello {
                deadline: now + limits.hello_timeout,
            },
            joined: None,
            decoder: FrameDecoder::new(limits),
            rate: TokenBucket::new(limits.messages_per_second, limits.message_burst, now),
            client_name: String::new(),
            events: VecDeque::new(),
            synced: false,
        }
    }

    /// Whether the member's sync step 1 has been answered. Until then, its
    /// next frames may ask for the whole document (costly on a large board).
    pub fn has_synced(&self) -> bool {
        self.synced
    }

    /// Bytes received and not yet decoded: a large frame on its way.
    pub fn buffered_len(&self) -> usize {
        self.decoder.buffered_len()
    }

    pub fn id(&self) -> MemberId {
        self.id
    }

    pub fn channel(&self) -> u64 {
        self.channel
    }

    /// The room, once joined; still set after closing, for relaying the
    /// member's last events (its presence removal).
    pub fn room(&self) -> Option<&str> {
        self.joined.as_ref().map(|(room, _)| room.as_str())
    }

    /// The role granted, once joined (also after closing).
    pub fn role(&self) -> Option<Role> {
        self.joined.as_ref().map(|(_, role)| *role)
    }

    /// The name the client gave in its hello (for logs; chosen by the user).
    pub fn client_name(&self) -> &str {
        &self.client_name
    }

    /// Joined and not closed: relays from the room go to this member.
    pub fn is_joined(&self) -> bool {
        self.state == MemberState::Joined
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, MemberState::Closed)
    }

    /// The next thing the server must do for this member.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            MemberState::AwaitingHello { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Refuses a stream that has not said hello by its deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let MemberState::AwaitingHello { deadline } = self.state
            && now >= deadline
        {
            self.refuse(Refusal::new(
                ErrorCode::Timeout,
                format!(
                    "no hello within {} s of opening the stream",
                    self.limits.hello_timeout.as_secs()
                ),
            ));
        }
    }

    /// Feeds bytes read from the stream and handles every complete frame.
    pub fn receive<R: Rooms>(&mut self, bytes: &[u8], now: Instant, rooms: &mut R) {
        if self.is_closed() {
            return;
        }
        if let Err(e) = self.decoder.feed(bytes) {
            self.leave_and_refuse(e.refusal(), rooms);
            return;
        }
        while !self.is_closed() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.handle_frame(frame, now, rooms),
                Ok(None) => break,
                Err(e) => self.leave_and_refuse(e.refusal(), rooms),
            }
        }
    }

    /// The client finished its side of the stream, or the connection is
    /// gone: leave the room (its presence is removed for the others).
    pub fn connection_lost<R: Rooms>(&mut self, rooms: &mut R) {
        if self.is_closed() {
            return;
        }
        if let Err(e) = self.decoder.finish() {
            tracing::debug!(member = self.id, "stream ended early: {e}");
        }
        self.leave(rooms);
        self.state = MemberState::Closed;
        self.events.push_back(MemberEvent::Close);
    }

    /// Handles one decoded frame from the client.
    pub fn handle_frame<R: Rooms>(&mut self, frame: Frame, now: Instant, rooms: &mut R) {
        if self.is_closed() {
            return;
        }
        if !self.rate.try_take(now) {
            self.leave_and_refuse(
                Refusal::new(
                    ErrorCode::RateLimited,
                    format!(
                        "more than {} messages per second",
                        self.limits.messages_per_second
                    ),
                ),
                rooms,
            );
            return;
        }
        let (room_name, role) = match (&self.state, &self.joined) {
            (MemberState::Joined, Some((room, role))) => (room.clone(), *role),
            (MemberState::AwaitingHello { .. }, _) => {
                match frame {
                    Frame::Hello(hello) => self.hello(hello, rooms),
                    other => self.refuse(Refusal::new(
                        ErrorCode::UnexpectedFrame,
                        format!("the first frame must be a hello, not {}", other.kind()),
                    )),
                }
                return;
            }
            _ => return,
        };
        if let Frame::Error(refusal) = &frame {
            tracing::info!(member = self.id, "client ended the stream: {refusal}");
            self.leave(rooms);
            self.state = MemberState::Closed;
            self.events.push_back(MemberEvent::Close);
            return;
        }
        let Some(room) = rooms.room_mut(&room_name) else {
            self.refuse(Refusal::new(
                ErrorCode::ServerError,
                "the room is no longer available",
            ));
            return;
        };
        let outcome = match frame {
            Frame::Sync(SyncMessage::SyncStep1(sv)) => {
                self.synced = true;
                Ok(Some(MemberEvent::Send(Frame::Sync(
                    SyncMessage::SyncStep2(room.board.encode_diff(&sv)),
                ))))
            }
            Frame::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                if update == EMPTY_UPDATE {
                    Ok(None)
                } else if !role.can_write() {
                    Err(Refusal::new(
                        ErrorCode::Forbidden,
                        "viewers cannot change the board; nothing was applied",
                    ))
                } else {
                    room.apply_update(&update, &self.limits)
                        .map(|()| Some(MemberEvent::DocUpdate(update)))
                }
            }
            Frame::Awareness(update) => {
                let accepted = room.apply_presence(self.id, update, &self.limits);
                Ok((!accepted.clients.is_empty()).then_some(MemberEvent::Presence(accepted)))
            }
            Frame::AwarenessQuery => {
                // An empty room still answers, with an empty update.
                let mut batches = room.presence_batches();
                if batches.is_empty() {
                    batches.push(room.presence());
                }
                for batch in batches {
                    self.events
                        .push_back(MemberEvent::Send(Frame::Awareness(batch)));
                }
                Ok(None)
            }
            other @ (Frame::Hello(_) | Frame::Welcome(_) | Frame::Error(_)) => Err(Refusal::new(
                ErrorCode::UnexpectedFrame,
                format!("unexpected {} after joining", other.kind()),
            )),
        };
        match outcome {
            Ok(Some(event)) => self.events.push_back(event),
            Ok(None) => {}
            Err(refusal) => self.leave_and_refuse(refusal, rooms),
        }
    }

    /// Handles a presence datagram the transport routed to this member (see
    /// [`datagram_channel`]). Bad, stray or over-rate datagrams are dropped:
    /// they are lossy extras and never end the stream.
    pub fn handle_datagram<R: Rooms>(&mut self, bytes: &[u8], now: Instant, rooms: &mut R) {
        let (MemberState::Joined, Some((room, _))) = (&self.state, &self.joined) else {
            return;
        };
        if !self.rate.try_take(now) {
            tracing::debug!(
                member = self.id,
                "presence datagram over the rate limit dropped"
            );
            return;
        }
        let update = match decode_presence_datagram(bytes, &self.limits) {
            Ok((channel, update)) if channel == self.channel => update,
            Ok((channel, _)) => {
                tracing::debug!(
                    member = self.id,
                    "presence datagram for channel {channel} dropped"
                );
                return;
            }
            Err(e) => {
                tracing::debug!(member = self.id, "presence datagram dropped: {e}");
                return;
            }
        };
        let Some(room) = rooms.room_mut(room) else {
            return;
        };
        let accepted = room.apply_presence(self.id, update, &self.limits);
        if !accepted.clients.is_empty() {
            self.events.push_back(MemberEvent::Presence(accepted));
        }
    }

    fn hello<R: Rooms>(&mut self, hello: Hello, rooms: &mut R) {
        if hello.version != PROTOCOL_VERSION {
            let refusal = Refusal::new(
                ErrorCode::VersionMismatch,
                format!(
                    "this server speaks protocol version {PROTOCOL_VERSION}, the client {}: update the app",
                    hello.version
                ),
            );
            self.refuse(refusal);
            return;
        }
        let role = match rooms.admit(self.id, &hello) {
            Ok(role) => role,
            Err(refusal) => {
                self.refuse(refusal);
                return;
            }
        };
        let Some(room) = rooms.room_mut(&hello.room) else {
            self.refuse(Refusal::new(
                ErrorCode::ServerError,
                "the room could not be opened",
            ));
            return;
        };
        tracing::info!(member = self.id, room = hello.room, %role, name = hello.client_name, "joined");
        self.events
            .push_back(MemberEvent::Send(Frame::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                role,
                channel: self.channel,
            })));
        // Only an editor is asked for its state: a viewer's answer could
        // only be refused.
        if role.can_write() {
            self.events
                .push_back(MemberEvent::Send(Frame::Sync(SyncMessage::SyncStep1(
                    room.board.state_vector(),
                ))));
        }
        for batch in room.presence_batches() {
            self.events
                .push_back(MemberEvent::Send(Frame::Awareness(batch)));
        }
        self.client_name = hello.client_name;
        self.joined = Some((hello.room, role));
        self.state = MemberState::Joined;
    }

    /// Removes this member's presence from its room, relaying the removal.
    fn leave<R: Rooms>(&mut self, rooms: &mut R) {
        if let (MemberState::Joined, Some((room, _))) = (&self.state, &self.joined)
            && let Some(room) = rooms.room_mut(room)
            && let Some(removed) = room.remove_presence_of(self.id)
        {
            self.events.push_back(MemberEvent::Presence(removed));
        }
    }

    /// Leaves the room (if joined), sends the error frame and closes.
    fn leave_and_refuse<R: Rooms>(&mut self, refusal: Refusal, rooms: &mut R) {
        self.leave(rooms);
        self.refuse(refusal);
    }

    /// Sends the error frame and closes.
    fn refuse(&mut self, refusal: Refusal) {
        tracing::info!(member = self.id, "closing: {refusal}");
        self.events.push_back(MemberEvent::Send(refusal.frame()));
        self.events.push_back(MemberEvent::Close);
        self.state = MemberState::Closed;
    }
}

impl std::fmt::Debug for ServerMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMember")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The channel a presence datagram is for, so the transport can route it to
/// the member joined under that channel; `None` for bytes that do not start
/// with a var uint.
pub fn datagram_channel(bytes: &[u8]) -> Option<u64> {
    Reader::new(bytes).read_var_uint().ok()
}
