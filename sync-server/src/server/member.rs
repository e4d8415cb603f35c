//! What a connection's stream task and a room task hand each other: the
//! room's messages ([`RoomMsg`], a [`Joiner`] on its way in), a member's
//! writer queue ([`MemberOut`]), its connection ([`ConnCtx`]), and how a
//! member that reaches no room is refused. `conn.rs` and `room.rs` both
//! import these, so the room task needs nothing from `conn.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use touchpoint_crdt::protocol::{
    ErrorCode, Frame, Hello, MemberEvent, MemberId, Refusal, Role, Room, Rooms, ServerMember,
};

/// A member on its way into a room: its state machine (before the hello
/// is handled), the bytes read so far, its writer's queue.
pub(crate) struct Joiner {
    pub(crate) member: ServerMember,
    pub(crate) buffered: Vec<u8>,
    pub(crate) out: MemberOut,
    pub(crate) conn: Arc<ConnCtx>,
}

/// The room task's answer to a join.
pub(crate) enum JoinReply {
    /// The room has the member now (admitted or refused by it).
    Taken,
    /// The room was unloading; join again (it will be loaded again).
    Bounced(Box<Joiner>),
}

pub(crate) enum RoomMsg {
    Join(Box<Joiner>, oneshot::Sender<JoinReply>),
    /// Bytes read from a member's stream.
    Bytes {
        member: MemberId,
        bytes: Vec<u8>,
    },
    /// A presence datagram for a member's channel.
    Datagram {
        member: MemberId,
        bytes: Vec<u8>,
    },
    /// The member's stream or connection ended.
    Ended {
        member: MemberId,
    },
}

/// Frames queued for one member's stream before the member counts as too
/// slow and is dropped (beside the byte budget,
/// [`super::ServerOptions::max_send_queue_bytes`]).
pub(crate) const OUT_QUEUE: usize = 4096;

/// A member's writer queue, with the bytes in it counted: the room checks a
/// member's send budget before queueing more, and the writer takes back
/// what it has written.
#[derive(Clone)]
pub(crate) struct MemberOut {
    tx: mpsc::Sender<Outgoing>,
    queued: Arc<AtomicUsize>,
}

/// Why [`MemberOut::offer`] did not queue the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The member has this many bytes queued already.
    Bytes(usize),
    /// The queue holds [`OUT_QUEUE`] frames.
    Frames,
}

impl MemberOut {
    pub(super) fn new() -> (MemberOut, mpsc::Receiver<Outgoing>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        (
            MemberOut {
                tx,
                queued: queued.clone(),
            },
            rx,
            queued,
        )
    }

    /// Queues bytes unless that would take the member past `budget` bytes
    /// queued (a frame larger than the budget is still queued when nothing
    /// else is, so a newcomer's large sync step 2 goes out). A writer that is
    /// gone (connection lost) counts as queued: the member's `Ended` is on
    /// its way.
    pub(crate) fn offer(&self, bytes: Arc<[u8]>, budget: usize) -> Result<(), Full> {
        let queued = self.queued.load(Ordering::Acquire);
        if queued > 0 && queued.saturating_add(bytes.len()) > budget {
            return Err(Full::Bytes(queued));
        }
        let len = bytes.len();
        self.queued.fetch_add(len, Ordering::AcqRel);
        match self.tx.try_send(Outgoing::Bytes(bytes)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                Err(Full::Frames)
            }
        }
    }

    /// Queues bytes, waiting for room in the queue (for members in no room,
    /// whose only frames are a refusal). `false` when the writer is gone.
    pub(crate) async fn send_bytes(&self, bytes: Arc<[u8]>) -> bool {
        self.queued.fetch_add(bytes.len(), Ordering::AcqRel);
        self.tx.send(Outgoing::Bytes(bytes)).await.is_ok()
    }

    /// Queues the stream's end, waiting for room in the queue.
    pub(crate) async fn finish(&self, close_connection: Option<Refusal>) {
        drop(self.tx.send(Outgoing::Finish { close_connection }).await);
    }

    /// Queues the stream's end if there is room; `false` if not (dropping
    /// the queue then resets the stream).
    pub(crate) fn try_finish(&self, close_connection: Option<Refusal>) -> bool {
        self.tx
            .try_send(Outgoing::Finish { close_connection })
            .is_ok()
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// What a member's writer task does next.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Write these bytes (one or more encoded frames).
    Bytes(Arc<[u8]>),
    /// Finish the stream, wait for the peer to read it, and close the whole
    /// connection with this error if it was a protocol violation.
    Finish { close_connection: Option<Refusal> },
}

/// One connection, as its members see it.
pub(crate) struct ConnCtx {
    /// The QUIC connection; `None` for a WebSocket member (no datagrams:
    /// its presence goes on the socket; closing it is its writer's job).
    pub(crate) conn: Option<quinn::Connection>,
    pub(crate) peer: SocketAddr,
    /// Presence datagram channel -> the member it belongs to.
    pub(super) channels: Mutex<HashMap<u64, (mpsc::Sender<RoomMsg>, MemberId)>>,
    pub(super) next_channel: AtomicU64,
}

impl ConnCtx {
    pub(super) fn channels(
        &self,
    ) -> MutexGuard<'_, HashMap<u64, (mpsc::Sender<RoomMsg>, MemberId)>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Refuses everything: a member before its hello is admitted here only if
/// its hello is fine, so any `admit` call means the pre-check said no.
pub(super) struct PreRooms(pub(super) Refusal);

impl Rooms for PreRooms {
    fn admit(&mut self, _member: MemberId, _hello: &Hello) -> Result<Role, Refusal> {
        Err(self.0.clone())
    }

    fn room_mut(&mut self, _name: &str) -> Option<&mut Room> {
        None
    }
}

/// Refuses a member that did not reach its room.
pub(crate) async fn refuse_joiner(joiner: Box<Joiner>, refusal: Refusal) {
    let Joiner {
        mut member,
        buffered,
        out,
        ..
    } = *joiner;
    member.receive(&buffered, Instant::now(), &mut PreRooms(refusal));
    forward_alone(&mut member, &out).await;
}

/// Carries out the events of a member that is in no room: only frames to
/// send and the close can come out of it.
pub(super) async fn forward_alone(member: &mut ServerMember, out: &MemberOut) {
    let mut last_error = None;
    while let Some(event) = member.poll_event() {
        match event {
            MemberEvent::Send(frame) => {
                if let Frame::Error(refusal) = &frame {
                    last_error = Some(refusal.clone());
                }
                if !out.send_bytes(frame.encode().into()).await {
                    return;
                }
            }
            MemberEvent::Close => {
                let close_connection = last_error.take().filter(|r| closes_connection(r.code));
                out.finish(close_connection).await;
                return;
            }
            MemberEvent::DocUpdate(_) | MemberEvent::Presence(_) => {}
        }
    }
}

/// Error codes after which the whole QUIC connection is closed, not just
/// the stream: the peer broke the protocol, so nothing else it sends on this
/// connection can be trusted either.
pub(crate) fn closes_connection(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::BadFrame
            | ErrorCode::FrameTooLarge
            | ErrorCode::UnexpectedFrame
            | ErrorCode::BadUpdate
    )
}

/// The QUIC application error code for a protocol error code.
pub(crate) fn quic_code(code: ErrorCode) -> quinn::VarInt {
    quinn::VarInt::from_u32(u32::from(code.code()))
}
