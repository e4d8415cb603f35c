//! One room task per loaded room: it owns the room's document, its
//! members' state machines, the commit order and the fan-out.
//!
//! **Commit before relay, in order.** Every frame that leaves the room goes
//! through one FIFO, the outbox, tagged with the number of updates the room
//! had submitted to storage when it was queued. An item leaves only once
//! that many updates are committed. So an update is relayed from its commit
//! acknowledgement; a sync step 2 that already holds an uncommitted update
//! waits for that commit too (otherwise a new member could see, and keep,
//! an update a crash would lose); and each member's frames keep their order
//! (welcome before anything else, relays in commit order).
//!
//! A storage failure closes the room: every member gets `server_error` and
//! the in-memory document, which holds the update storage refused, is
//! dropped. Members reconnect and their sync step 2 resends what they have.
//!
//! **Bounded, whatever members send.** While more than
//! [`super::ServerOptions::max_uncommitted_bytes`] of updates wait for
//! storage, the task stops taking messages from its inbox: stream tasks then
//! wait to hand over what they read, stop reading, and QUIC flow control
//! pushes back on the senders. Each member's writer queue has a byte budget
//! ([`super::ServerOptions::max_send_queue_bytes`]); a member that does not
//! read what it is sent is cut off when it fills.
//!
//! **A suspect document is replaced.** When a refused update may have left
//! part of itself in the document (yrs panicked, or kept a pending
//! remnant), the task waits for what is being committed, reloads the room
//! from storage on a blocking thread, and asks every editor for what it
//! has (sync step 1), so members resync without reconnecting.
//!
//! **Heavy document work leaves the shared workers.** Answering a
//! newcomer's sync step 1 on a large board, integrating a large update or
//! measuring a document near its limit runs under `block_in_place`, so
//! other rooms' tasks move to another worker meanwhile.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::mpsc;
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{
    EMPTY_UPDATE, ErrorCode, Frame, Hello, MemberEvent, MemberId, Refusal, Role, Room, Rooms,
    ServerMember, encode_presence_datagram,
};
use tracing::Instrument;
use yrs::sync::{AwarenessUpdate, SyncMessage};

use super::member::{
    ConnCtx, Full, JoinReply, Joiner, MemberOut, RoomMsg, closes_connection, quic_code,
    refuse_joiner,
};
use super::shared::{RoomHandle, Shared, TaskGuard, shutdown_begun};
use crate::storage::{Committed, StoreError};
use crate::token::{TokenKey, unix_now};

/// Messages queued for one room task before a sender waits (each at most
/// 64 KiB read from a stream, so at most 4 MiB per room).
const ROOM_INBOX: usize = 64;

/// The room's inbox, starting its task (which loads it) if it is not
/// loaded. Refused when the server holds its maximum of rooms.
pub(super) fn handle(shared: &Arc<Shared>, name: &str) -> Result<RoomHandle, Refusal> {
    let mut rooms = shared.rooms();
    if let Some(handle) = rooms.get(name) {
        return Ok(handle.clone());
    }
    if *shared.shutdown.borrow() {
        return Err(Refusal::new(
            ErrorCode::GoingAway,
            "the server is shutting down; reconnect in a moment",
        ));
    }
    if rooms.len() >= shared.options.max_rooms {
        tracing::warn!(
            room = name,
            max_rooms = shared.options.max_rooms,
            "room refused: the server holds its maximum of rooms"
        );
        return Err(Refusal::new(
            ErrorCode::RoomFull,
            format!(
                "the server has {} rooms open, its limit; try again later",
                shared.options.max_rooms
            ),
        ));
    }
    let (tx, rx) = mpsc::channel(ROOM_INBOX);
    let generation = shared.next_room_generation.fetch_add(1, Ordering::Relaxed);
    let handle = RoomHandle { tx, generation };
    rooms.insert(name.to_owned(), handle.clone());
    let guard = shared.room_tasks.guard();
    tokio::spawn(
        run(shared.clone(), name.to_owned(), rx, generation, guard)
            // Not inside the span of the member whose join started it.
            .instrument(tracing::info_span!(parent: None, "room", room = name)),
    );
    Ok(handle)
}

/// Runs a room: loads it, serves it, and ends when it has been idle for
/// [`super::ServerOptions::room_idle`], at shutdown, or when storage fails.
pub(crate) async fn run(
    shared: Arc<Shared>,
    name: String,
    mut inbox: mpsc::Receiver<RoomMsg>,
    generation: u64,
    _guard: TaskGuard,
) {
    let started = Instant::now();
    let room = match load(&shared, &name).await {
        Ok((board, updates)) => {
            tracing::info!(updates, ms = millis(started.elapsed()), "room loaded");
            Room::new(board)
        }
        Err(reason) => {
            tracing::error!("room could not be loaded: {reason}");
            shared.remove_room(&name, generation);
            inbox.close();
            let refusal = Refusal::new(
                ErrorCode::ServerError,
                "the server could not load this room; try again later",
            );
            while let Some(msg) = inbox.recv().await {
                if let RoomMsg::Join(joiner, reply) = msg {
                    refuse_joiner(joiner, refusal.clone()).await;
                    drop(reply.send(JoinReply::Taken));
                }
            }
            return;
        }
    };
    let (acks_tx, mut acks_rx) = mpsc::unbounded_channel();
    let mut task = RoomTask {
        shared: shared.clone(),
        name,
        room,
        members: BTreeMap::new(),
        submitted: 0,
        committed: 0,
        uncommitted: VecDeque::new(),
        uncommitted_bytes: 0,
        outbox: VecDeque::new(),
        acks_tx,
        too_slow: Vec::new(),
        shutting_down: false,
        failed: false,
    };
    let mut shutdown = shared.shutdown.clone();
    // Idle from the start: a room whose joiner never arrives unloads too.
    let mut idle_since = Some(tokio::time::Instant::now());
    loop {
        let idle_at = idle_since.map(|t| t + shared.options.room_idle);
        let mut unload = false;
        let backlogged = task.is_backlogged();
        tokio::select! {
            Some((seq, result)) = acks_rx.recv() => task.on_ack(seq, result),
            msg = inbox.recv(), if !backlogged => match msg {
                Some(msg) => task.on_msg(msg).await,
                None => break,
            },
            () = sleep_until(idle_at), if idle_at.is_some() => unload = true,
            () = shutdown_begun(&mut shutdown), if !task.shutting_down => task.begin_shutdown(),
        }
        if task.room.is_suspect() && !task.failed {
            task.reload(&mut acks_rx).await;
        }
        if task.failed || (task.shutting_down && task.is_quiet()) {
            break;
        }
        if unload {
            if task.try_unload(&mut inbox, generation).await {
                tracing::info!(
                    "room unloaded after {} s idle",
                    shared.options.room_idle.as_secs()
                );
                return;
            }
            idle_since = None;
        }
        if !task.is_quiet() {
            idle_since = None;
        } else if idle_since.is_none() {
            idle_since = Some(tokio::time::Instant::now());
        }
    }
    // Shut down or failed: nobody may join this copy of the room again.
    shared.remove_room(&task.name, generation);
    inbox.close();
    while let Some(msg) = inbox.recv().await {
        if let RoomMsg::Join(joiner, reply) = msg {
            if task.failed {
                drop(reply.send(JoinReply::Bounced(joiner)));
            } else {
                refuse_joiner(joiner, going_away()).await;
                drop(reply.send(JoinReply::Taken));
            }
        }
    }
    // At shutdown, wait for what is still being committed: its members are
    // gone, but the updates must reach storage before it stops.
    while task.committed < task.submitted && !task.failed {
        match acks_rx.recv().await {
            Some((seq, result)) => task.on_ack(seq, result),
            None => break,
        }
    }
    tracing::debug!("room task ended");
}

/// Milliseconds with one decimal, for logs.
pub(crate) fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn going_away() -> Refusal {
    Refusal::new(
        ErrorCode::GoingAway,
        "the server is shutting down; reconnect in a moment",
    )
}

/// Reads a room from storage and rebuilds its document (on a blocking
/// thread: both are synchronous and may take a while for a large room); the
/// board and how many stored updates it was built from.
async fn load(shared: &Arc<Shared>, name: &str) -> Result<(Board, usize), String> {
    let shared = shared.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let state = {
            let mut store = shared.loader.lock().unwrap_or_else(|e| e.into_inner());
            crate::storage::RoomStore::load(&mut *store, &name).map_err(|e| e.to_string())?
        };
        Ok((board_from_stored(&state.updates)?, state.updates.len()))
    })
    .await
    .map_err(|e| format!("the loading thread failed: {e}"))?
}

/// Rebuilds a room's document from its stored updates. Stored updates
/// that wait for changes that never arrived (possible in rooms written
/// before the server refused such updates) are dropped from memory, not
/// from storage: the room's document holds only what it can integrate.
fn board_from_stored(updates: &[Vec<u8>]) -> Result<Board, String> {
    let mut board = Board::from_update(EMPTY_UPDATE).map_err(|e| e.to_string())?;
    for (i, update) in updates.iter().enumerate() {
        board
            .apply_update(update)
            .map_err(|e| format!("stored update {} of {}: {e}", i + 1, updates.len()))?;
    }
    if board.has_missing_updates() {
        let bytes = board.discard_unintegrated();
        tracing::warn!(
            bytes,
            "stored updates wait for changes that never arrived; left out of the room's document"
        );
    }
    Ok(board)
}

struct Slot {
    member: ServerMember,
    out: MemberOut,
    conn: Arc<ConnCtx>,
    /// Its welcome has been queued to the writer: it may receive relays.
    welcomed: bool,
    /// Its close is queued: it receives no more relays.
    closing: bool,
    /// The error frame it was sent, if any (decides whether its whole
    /// connection is closed).
    last_error: Option<Refusal>,
}

impl Slot {
    fn receives_relays(&self) -> bool {
        self.welcomed && !self.closing
    }
}

/// Something to send once enough updates are committed.
enum Action {
    Send {
        to: MemberId,
        bytes: Arc<[u8]>,
        welcome: bool,
    },
    /// A committed update, to every member but its author.
    Relay { from: MemberId, bytes: Arc<[u8]> },
    /// Presence, to every member but its author.
    Presence {
        from: MemberId,
        update: AwarenessUpdate,
    },
    /// Finish the member's stream and forget it.
    Finish { member: MemberId },
}

type Ack = (u64, Result<Committed, StoreError>);

struct RoomTask {
    shared: Arc<Shared>,
    name: String,
    room: Room,
    members: BTreeMap<MemberId, Slot>,
    /// Updates handed to storage, and acknowledged as committed.
    submitted: u64,
    committed: u64,
    /// (sequence number, bytes) of each update handed to storage and not
    /// yet acknowledged, and their total.
    uncommitted: VecDeque<(u64, usize)>,
    uncommitted_bytes: usize,
    /// Frames waiting for commits, tagged with `submitted` at queueing.
    outbox: VecDeque<(u64, Action)>,
    acks_tx: mpsc::UnboundedSender<Ack>,
    /// Members whose writer queue overflowed during a fan-out.
    too_slow: Vec<(MemberId, Full)>,
    shutting_down: bool,
    failed: bool,
}

/// The view of the room a member gets while it handles input.
struct RoomCtx<'a> {
    name: &'a str,
    room: &'a mut Room,
    tokens: &'a TokenKey,
    joined: usize,
    max_members: usize,
}

impl Rooms for RoomCtx<'_> {
    fn admit(&mut self, member: MemberId, hello: &Hello) -> Result<Role, Refusal> {
        if hello.room != self.name {
            return Err(Refusal::new(
                ErrorCode::ServerError,
                "the hello reached the wrong room",
            ));
        }
        let grant = self
            .tokens
            .verify(&hello.token, &hello.room, unix_now())
            .map_err(|e| e.refusal())?;
        if self.joined >= self.max_members {
            tracing::warn!(member, limit = self.max_members, "room full");
            return Err(Refusal::new(
                ErrorCode::RoomFull,
                format!(
                    "the room has {} members, the most it may hold; try again later",
                    self.max_members
                ),
            ));
        }
        tracing::debug!(member, token = grant.id, "token accepted");
        Ok(grant.role)
    }

    fn room_mut(&mut self, name: &str) -> Option<&mut Room> {
        (name == self.name).then_some(&mut *self.room)
    }
}

impl RoomTask {
    /// Nothing in flight and nobody here.
    fn is_quiet(&self) -> bool {
        self.members.is_empty() && self.outbox.is_empty() && self.committed == self.submitted
    }

    /// Storage is behind by more than the room may hold: take no more input
    /// until it catches up.
    fn is_backlogged(&self) -> bool {
        self.uncommitted_bytes > self.shared.options.max_uncommitted_bytes
    }

    /// Whether handling the member's next input may be costly: its first
    /// sync on a large board, a large frame completing, or an update that
    /// may make the room measure a document near its limit.
    fn is_heavy(&self, id: MemberId, incoming: usize) -> bool {
        let Some(slot) = self.members.get(&id) else {
            return false;
        };
        let doc = self.room.doc_len_estimate();
        let limit = self.shared.options.limits.max_doc_len;
        (doc >= HEAVY_DOC_BYTES && !slot.member.has_synced())
            || slot.member.buffered_len() + incoming >= HEAVY_FRAME_BYTES
            || doc + incoming >= limit / 4 * 3
    }

    /// Replaces a suspect document with the room's stored state: waits for
    /// every update already handed to storage (their relays are queued),
    /// loads on a blocking thread, then asks each editor for what it has.
    async fn reload(&mut self, acks: &mut mpsc::UnboundedReceiver<Ack>) {
        let started = Instant::now();
        while self.committed < self.submitted && !self.failed {
            match acks.recv().await {
                Some((seq, result)) => self.on_ack(seq, result),
                None => break,
            }
        }
        if self.failed {
            return;
        }
        match load(&self.shared, &self.name).await {
            Ok((board, _)) => {
                self.room.replace_board(board);
                let step1: Arc<[u8]> =
                    Frame::Sync(SyncMessage::SyncStep1(self.room.board().state_vector()))
                        .encode()
                        .into();
                let editors: Vec<MemberId> = self
                    .members
                    .iter()
                    .filter(|(_, s)| s.receives_relays() && s.member.role() == Some(Role::Editor))
                    .map(|(&id, _)| id)
                    .collect();
                for to in &editors {
                    self.outbox.push_back((
                        self.submitted,
                        Action::Send {
                            to: *to,
                            bytes: step1.clone(),
                            welcome: false,
                        },
                    ));
                }
                self.drain();
                tracing::warn!(
                    ms = millis(started.elapsed()),
                    editors = editors.len(),
                    "the room's document was reloaded from storage after a refused update"
                );
            }
            Err(reason) => {
                tracing::error!("the room could not be reloaded after a refused update: {reason}");
                self.fail();
            }
        }
    }

    async fn on_msg(&mut self, msg: RoomMsg) {
        match msg {
            RoomMsg::Join(joiner, reply) => {
                if self.shutting_down {
                    refuse_joiner(joiner, going_away()).await;
                    drop(reply.send(JoinReply::Taken));
                    return;
                }
                let Joiner {
                    member,
                    buffered,
                    out,
                    conn,
                } = *joiner;
                let id = member.id();
                self.members.insert(
                    id,
                    Slot {
                        member,
                        out,
                        conn,
                        welcomed: false,
                        closing: false,
                        last_error: None,
                    },
                );
                drop(reply.send(JoinReply::Taken));
                self.receive(id, &buffered);
                if let Some(slot) = self.members.get(&id)
                    && slot.member.is_joined()
                {
                    tracing::info!(
                        member = id,
                        peer = %slot.conn.peer,
                        role = %slot.member.role().map(|r| r.to_string()).unwrap_or_default(),
                        members = self.members.len(),
                        "member joined"
                    );
                }
            }
            RoomMsg::Bytes { member, bytes } => {
                self.receive(member, &bytes);
            }
            RoomMsg::Datagram { member, bytes } => {
                self.with_member(member, |m, ctx| {
                    m.handle_datagram(&bytes, Instant::now(), ctx);
                });
            }
            RoomMsg::Ended { member } => {
                self.with_member(member, |m, ctx| m.connection_lost(ctx));
            }
        }
    }

    /// Hands bytes read from a member's stream to its state machine, off the
    /// shared workers when that may be heavy (see [`Self::is_heavy`]).
    fn receive(&mut self, id: MemberId, bytes: &[u8]) {
        let is_heavy = self.is_heavy(id, bytes.len());
        let mut handle = || self.with_member(id, |m, ctx| m.receive(bytes, Instant::now(), ctx));
        if is_heavy {
            heavy(handle);
        } else {
            handle();
        }
    }

    /// Lets a member handle input with the room, then queues what it asks.
    fn with_member(&mut self, id: MemberId, f: impl FnOnce(&mut ServerMember, &mut RoomCtx<'_>)) {
        let joined = self
            .members
            .values()
            .filter(|s| s.member.is_joined() && !s.closing)
            .count();
        let Some(slot) = self.members.get_mut(&id) else {
            return;
        };
        let mut ctx = RoomCtx {
            name: &self.name,
            room: &mut self.room,
            tokens: &self.shared.tokens,
            joined,
            max_members: self.shared.options.max_members_per_room,
        };
        f(&mut slot.member, &mut ctx);
        let events: Vec<MemberEvent> = std::iter::from_fn(|| slot.member.poll_event()).collect();
        self.queue_events(id, events);
        self.drain();
    }

    fn queue_events(&mut self, id: MemberId, events: Vec<MemberEvent>) {
        for event in events {
            match event {
                MemberEvent::Send(frame) => {
                    let welcome = matches!(frame, Frame::Welcome(_));
                    if let Frame::Error(refusal) = &frame
                        && let Some(slot) = self.members.get_mut(&id)
                    {
                        slot.last_error = Some(refusal.clone());
                    }
                    self.outbox.push_back((
                        self.submitted,
                        Action::Send {
                            to: id,
                            bytes: frame.encode().into(),
                            welcome,
                        },
                    ));
                }
                MemberEvent::DocUpdate(update) => {
                    self.submitted += 1;
                    let seq = self.submitted;
                    self.uncommitted.push_back((seq, update.len()));
                    self.uncommitted_bytes += update.len();
                    tracing::debug!(member = id, bytes = update.len(), seq, "update accepted");
                    let relay: Arc<[u8]> = Frame::Sync(SyncMessage::Update(update.clone()))
                        .encode()
                        .into();
                    let acks = self.acks_tx.clone();
                    self.shared
                        .commit
                        .submit(self.name.clone(), update, move |result| {
                            // The room task may be gone (failed); nothing to tell it.
                            drop(acks.send((seq, result)));
                        });
                    self.outbox.push_back((
                        seq,
                        Action::Relay {
                            from: id,
                            bytes: relay,
                        },
                    ));
                }
                MemberEvent::Presence(update) => {
                    self.outbox
                        .push_back((self.submitted, Action::Presence { from: id, update }));
                }
                MemberEvent::Close => {
                    if let Some(slot) = self.members.get_mut(&id) {
                        slot.closing = true;
                    }
                    self.outbox
                        .push_back((self.submitted, Action::Finish { member: id }));
                }
            }
        }
    }

    fn on_ack(&mut self, seq: u64, result: Result<Committed, StoreError>) {
        match result {
            Ok(committed) => {
                if seq != self.committed + 1 {
                    tracing::warn!(
                        seq,
                        expected = self.committed + 1,
                        "commit acknowledged out of order"
                    );
                }
                self.committed = self.committed.max(seq);
                while let Some(&(s, len)) = self.uncommitted.front() {
                    if s > self.committed {
                        break;
                    }
                    self.uncommitted.pop_front();
                    self.uncommitted_bytes -= len;
                }
                tracing::trace!(seq, log_seq = committed.seq, "committed");
                self.drain();
            }
            Err(e) => {
                tracing::error!(seq, "an update could not be stored, closing the room: {e}");
                self.fail();
            }
        }
    }

    /// Sends what the commits allow, in order.
    fn drain(&mut self) {
        loop {
            while let Some((gate, _)) = self.outbox.front() {
                if *gate > self.committed {
                    break;
                }
                let Some((_, action)) = self.outbox.pop_front() else {
                    break;
                };
                self.dispatch(action);
            }
            if self.too_slow.is_empty() {
                return;
            }
            for (id, full) in std::mem::take(&mut self.too_slow) {
                self.drop_slow(id, full);
            }
        }
    }

    fn dispatch(&mut self, action: Action) {
        let budget = self.shared.options.max_send_queue_bytes;
        match action {
            Action::Send { to, bytes, welcome } => {
                if let Some(slot) = self.members.get_mut(&to) {
                    slot.welcomed |= welcome;
                    if let Err(full) = slot.out.offer(bytes, budget) {
                        self.too_slow.push((to, full));
                    }
                }
            }
            Action::Relay { from, bytes } => {
                for (&id, slot) in &mut self.members {
                    if id != from
                        && slot.receives_relays()
                        && let Err(full) = slot.out.offer(bytes.clone(), budget)
                    {
                        self.too_slow.push((id, full));
                    }
                }
            }
            Action::Presence { from, update } => {
                // Removals must not be lost: they go on the stream.
                let reliable = update.clients.values().any(|e| e.json.trim() == "null");
                let mut frame: Option<Arc<[u8]>> = None;
                for (&id, slot) in &mut self.members {
                    if id == from || !slot.receives_relays() {
                        continue;
                    }
                    if !reliable
                        && let Some(conn) = &slot.conn.conn
                        && let Some(max) = conn.max_datagram_size()
                    {
                        let datagram = encode_presence_datagram(slot.member.channel(), &update);
                        if datagram.len() <= max && conn.send_datagram(datagram.into()).is_ok() {
                            continue;
                        }
                    }
                    let bytes = frame
                        .get_or_insert_with(|| Frame::Awareness(update.clone()).encode().into())
                        .clone();
                    if let Err(full) = slot.out.offer(bytes, budget) {
                        self.too_slow.push((id, full));
                    }
                }
            }
            Action::Finish { member } => {
                if let Some(slot) = self.members.remove(&member) {
                    let close_connection = slot
                        .last_error
                        .clone()
                        .filter(|r| closes_connection(r.code));
                    match &slot.last_error {
                        Some(refusal) => tracing::info!(
                            member,
                            peer = %slot.conn.peer,
                            members = self.members.len(),
                            "member refused: {refusal}"
                        ),
                        None => tracing::info!(
                            member,
                            peer = %slot.conn.peer,
                            members = self.members.len(),
                            "member left"
                        ),
                    }
                    if !slot.out.try_finish(close_connection) {
                        // Its queue is full or its writer gone: dropping the
                        // queue resets the stream.
                        tracing::debug!(member, "could not queue the stream's end");
                    }
                }
            }
        }
    }

    /// A member that does not read what the room sends it is cut off, with
    /// its connection: holding an ever longer queue for it is not an option.
    fn drop_slow(&mut self, id: MemberId, full: Full) {
        let Some(mut slot) = self.members.remove(&id) else {
            return;
        };
        tracing::warn!(
            member = id,
            peer = %slot.conn.peer,
            queued_bytes = slot.out.queued(),
            budget = self.shared.options.max_send_queue_bytes,
            full = ?full,
            "member too slow to read the room's updates; disconnected"
        );
        let mut ctx = RoomCtx {
            name: &self.name,
            room: &mut self.room,
            tokens: &self.shared.tokens,
            joined: 0,
            max_members: 0,
        };
        slot.member.connection_lost(&mut ctx);
        let presence: Vec<MemberEvent> = std::iter::from_fn(|| slot.member.poll_event())
            .filter(|e| matches!(e, MemberEvent::Presence(_)))
            .collect();
        // A WebSocket member's writer closes its socket when the queue goes.
        if let Some(conn) = &slot.conn.conn {
            conn.close(
                quic_code(ErrorCode::ServerError),
                b"too slow to read the room's updates",
            );
        }
        self.queue_events(id, presence);
    }

    /// Every member gets `going_away` once what it sent is committed and
    /// relayed; the task ends when the outbox is empty.
    fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        let frame: Arc<[u8]> = going_away().frame().encode().into();
        let ids: Vec<MemberId> = self
            .members
            .iter()
            .filter(|(_, s)| !s.closing)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let Some(slot) = self.members.get_mut(&id) else {
                continue;
            };
            let mut ctx = RoomCtx {
                name: &self.name,
                room: &mut self.room,
                tokens: &self.shared.tokens,
                joined: 0,
                max_members: 0,
            };
            // Everyone is leaving: their presence removals need no relay.
            slot.member.connection_lost(&mut ctx);
            while slot.member.poll_event().is_some() {}
            slot.closing = true;
            self.outbox.push_back((
                self.submitted,
                Action::Send {
                    to: id,
                    bytes: frame.clone(),
                    welcome: false,
                },
            ));
            self.outbox
                .push_back((self.submitted, Action::Finish { member: id }));
        }
        self.drain();
    }

    /// Storage refused an update this room's document already holds: close
    /// every member and drop the document.
    fn fail(&mut self) {
        self.failed = true;
        self.outbox.clear();
        let frame: Arc<[u8]> = Refusal::new(
            ErrorCode::ServerError,
            "the server could not store an update; reconnect to sync again",
        )
        .frame()
        .encode()
        .into();
        for (_, slot) in std::mem::take(&mut self.members) {
            let _ = slot.out.offer(frame.clone(), usize::MAX);
            slot.out.try_finish(None);
        }
    }

    /// Unloads the room if no message is waiting: removes it from the
    /// server's rooms, then bounces any join that slipped in meanwhile (it
    /// loads the room again).
    async fn try_unload(&mut self, inbox: &mut mpsc::Receiver<RoomMsg>, generation: u64) -> bool {
        {
            // Under the rooms lock: no joiner can find this room after the
            // check without its join being drained below.
            let mut rooms = self.shared.rooms();
            if !inbox.is_empty() || !self.is_quiet() {
                return false;
            }
            if rooms
                .get(&self.name)
                .is_some_and(|h| h.generation == generation)
            {
                rooms.remove(&self.name);
            }
        }
        inbox.close();
        while let Some(msg) = inbox.recv().await {
            if let RoomMsg::Join(joiner, reply) = msg {
                drop(reply.send(JoinReply::Bounced(joiner)));
            }
        }
        true
    }
}

/// A document at least this large (encoded) makes a newcomer's first sync
/// heavy work.
const HEAVY_DOC_BYTES: usize = 1 << 20;

/// A frame at least this large is heavy work to integrate.
const HEAVY_FRAME_BYTES: usize = 256 << 10;

/// Runs document work that may take a while without stalling the other
/// tasks of this worker thread (other rooms): on a multi-threaded runtime
/// they move to another worker while it runs. `TOUCHPOINT_SERVER_INLINE_HEAVY=1`
/// runs it inline on the worker instead, as the server did before, for
/// `scripts/bench-join-isolation` to compare the two in one run.
fn heavy<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    static INLINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let inline = *INLINE.get_or_init(|| {
        std::env::var_os("TOUCHPOINT_SERVER_INLINE_HEAVY").is_some_and(|v| v == "1")
    });
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) if !inline => tokio::task::block_in_place(f),
        _ => f(),
    }
}
