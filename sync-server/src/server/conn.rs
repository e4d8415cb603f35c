//! Connections and streams: the I/O side of a member.
//!
//! A stream task reads until its first frame is complete. A hello with a
//! valid token is handed, with every byte read so far, to its room's task
//! (loading the room if needed); everything else (garbage, another frame
//! first, a bad token, an old protocol version, silence) is answered here
//! by a `ServerMember` of its own, so that no room is loaded for a client
//! that may not join one. After the join the stream task only forwards
//! bytes; a writer task writes what the room queues for the member.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use touchpoint_crdt::protocol::{
    ErrorCode, Frame, FrameDecoder, Hello, MemberId, PROTOCOL_VERSION, Refusal, ServerMember,
    datagram_channel,
};
use tracing::Instrument;

use super::member::{
    ConnCtx, JoinReply, Joiner, MemberOut, Outgoing, PreRooms, RoomMsg, closes_connection,
    forward_alone, quic_code, refuse_joiner,
};
use super::room;
use super::shared::{IpGuard, RoomHandle, Shared, TaskGuard, shutdown_begun};
use crate::token::unix_now;

/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = shutdown_begun(&mut shutdown) => break,
        };
        let Some(incoming) = incoming else { break };
        let peer = incoming.remote_address();
        let (guard, before) = shared.count_connection(peer.ip());
        let cap = shared.options.max_connections_per_ip;
        if before >= cap.saturating_mul(2) {
            // Far over the limit: not even worth a handshake.
            tracing::debug!(%peer, "connection refused: too many from this address");
            incoming.refuse();
            continue;
        }
        let span = tracing::info_span!("conn", %peer);
        if before >= cap {
            tracing::info!(
                %peer,
                limit = cap,
                "connection refused: too many from this address"
            );
            let refusal = Refusal::new(
                ErrorCode::RoomFull,
                format!(
                    "too many connections from {}: the limit is {cap}; close some and try again",
                    peer.ip()
                ),
            );
            tokio::spawn(refuse_connection(incoming, refusal, guard).instrument(span));
            continue;
        }
        tokio::spawn(serve_connection(shared.clone(), incoming, guard).instrument(span));
    }
    tracing::debug!("no longer accepting connections");
}

/// Accepts a connection only to refuse its first stream with `refusal`.
async fn refuse_connection(incoming: quinn::Incoming, refusal: Refusal, _guard: IpGuard) {
    let Ok(conn) = incoming.await else { return };
    if let Ok(Ok((mut send, _recv))) =
        tokio::time::timeout(Duration::from_secs(5), conn.accept_bi()).await
        && send.write_all(&refusal.frame().encode()).await.is_ok()
        && send.finish().is_ok()
    {
        drop(tokio::time::timeout(Duration::from_secs(2), send.stopped()).await);
    }
    conn.close(quic_code(refusal.code), refusal.reason.as_bytes());
}

async fn serve_connection(shared: Arc<Shared>, incoming: quinn::Incoming, _guard: IpGuard) {
    let peer = incoming.remote_address();
    let started = Instant::now();
    let conn = match incoming.await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::debug!("handshake failed: {e}");
            return;
        }
    };
    tracing::info!(handshake_ms = room::millis(started.elapsed()), "connected");
    let ctx = Arc::new(ConnCtx {
        conn: Some(conn.clone()),
        peer,
        channels: Mutex::new(HashMap::new()),
        next_channel: AtomicU64::new(1),
    });
    let why = loop {
        tokio::select! {
            stream = conn.accept_bi() => match stream {
                Ok((send, recv)) => {
                    let channel = ctx.next_channel.fetch_add(1, Ordering::Relaxed);
                    let member = shared.next_member.fetch_add(1, Ordering::Relaxed);
                    let guard = shared.stream_tasks.guard();
                    tokio::spawn(
                        serve_stream(shared.clone(), ctx.clone(), send, recv, member, channel, guard)
                            .instrument(tracing::info_span!("member", member)),
                    );
                }
                Err(e) => break e,
            },
            datagram = conn.read_datagram() => match datagram {
                Ok(bytes) => route_datagram(&ctx, &bytes),
                Err(e) => break e,
            },
        }
    };
    match why {
        quinn::ConnectionError::ApplicationClosed(_) | quinn::ConnectionError::LocallyClosed => {
            tracing::info!("disconnected: {why}");
        }
        other => tracing::info!("connection lost: {other}"),
    }
}

/// Hands a presence datagram to the member whose channel it names. Bad or
/// stray datagrams are dropped (they are lossy extras).
fn route_datagram(ctx: &ConnCtx, bytes: &[u8]) {
    let Some(channel) = datagram_channel(bytes) else {
        tracing::debug!(len = bytes.len(), "datagram without a channel dropped");
        return;
    };
    let target = ctx.channels().get(&channel).cloned();
    match target {
        Some((room, member)) => {
            let msg = RoomMsg::Datagram {
                member,
                bytes: bytes.to_vec(),
            };
            if room.try_send(msg).is_err() {
                tracing::debug!(member, "datagram dropped: the room is busy");
            }
        }
        None => tracing::debug!(channel, "datagram for an unknown channel dropped"),
    }
}

/// What the first frame (or its absence) decided.
pub(super) enum Opening {
    /// A hello with a valid token: join its room.
    Join(Hello),
    /// Refuse with what the member makes of these bytes (garbage, another
    /// frame first, a wrong version) or of this admission refusal.
    Refuse(Option<Refusal>),
    /// The first frame is too large for a hello, or does not decode.
    Fail(Refusal),
    /// No hello in time.
    Timeout,
    /// The stream ended (or the server is stopping) before a hello.
    Gone,
    ShuttingDown,
}

async fn serve_stream(
    shared: Arc<Shared>,
    ctx: Arc<ConnCtx>,
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    id: MemberId,
    channel: u64,
    guard: TaskGuard,
) {
    let limits = shared.options.limits;
    let (out_tx, out_rx, queued) = MemberOut::new();
    let (stop_tx, mut stop_rx) = oneshot::channel();
    tokio::spawn(
        write_loop(
            send,
            out_rx,
            queued,
            ctx.conn.clone(),
            stop_tx,
            shared.options.shutdown_grace,
            guard,
        )
        .in_current_span(),
    );
    let mut member = ServerMember::new(id, channel, Instant::now(), limits);

    // Until the first frame is complete.
    let mut buffered = Vec::new();
    // Before the hello nobody is authenticated: its frame may not make us
    // buffer more than a hello needs.
    let mut scratch =
        FrameDecoder::new(limits.with_max_frame_len(limits.max_frame_len.min(MAX_FIRST_FRAME_LEN)));
    let mut buf = vec![0u8; READ_CHUNK];
    let deadline = tokio::time::Instant::now() + limits.hello_timeout;
    let mut shutdown = shared.shutdown.clone();
    let opening = loop {
        let read = tokio::select! {
            read = tokio::time::timeout_at(deadline, recv.read(&mut buf)) => read,
            () = shutdown_begun(&mut shutdown) => break Opening::ShuttingDown,
        };
        match read {
            Err(_elapsed) => break Opening::Timeout,
            Ok(Ok(Some(n))) => {
                buffered.extend_from_slice(&buf[..n]);
                if let Err(e) = scratch.feed(&buf[..n]) {
                    break Opening::Fail(first_frame_refusal(&e));
                }
                match scratch.next_frame() {
                    Ok(None) => continue,
                    Ok(Some(Frame::Hello(hello))) => break check_hello(&shared, hello),
                    Ok(Some(_)) => break Opening::Refuse(None),
                    Err(e) => break Opening::Fail(first_frame_refusal(&e)),
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => break Opening::Gone,
        }
    };
    drop(scratch);
    let hello = match opening {
        Opening::Join(hello) => hello,
        Opening::Refuse(refusal) => {
            let fallback = refusal.unwrap_or_else(|| {
                Refusal::new(
                    ErrorCode::ServerError,
                    "the server could not admit the stream",
                )
            });
            member.receive(&buffered, Instant::now(), &mut PreRooms(fallback));
            forward_alone(&mut member, &out_tx).await;
            return;
        }
        Opening::Timeout => {
            // The member's own deadline started a moment before ours; make
            // sure it counts as passed.
            member.handle_timeout(Instant::now() + limits.hello_timeout);
            forward_alone(&mut member, &out_tx).await;
            return;
        }
        Opening::ShuttingDown => {
            let refusal = Refusal::new(ErrorCode::GoingAway, "the server is shutting down");
            refuse_directly(&out_tx, refusal).await;
            return;
        }
        Opening::Fail(refusal) => {
            tracing::info!("refused before the hello: {refusal}");
            refuse_directly(&out_tx, refusal).await;
            return;
        }
        Opening::Gone => {
            tracing::debug!("stream ended before a hello");
            out_tx.finish(None).await;
            return;
        }
    };

    let room_name = hello.room.clone();
    let Some(room) = join(&shared, &ctx, member, buffered, out_tx, &room_name).await else {
        return;
    };
    ctx.channels().insert(channel, (room.tx.clone(), id));

    // Joined (or being refused by the room): forward until either side ends.
    let ended = loop {
        tokio::select! {
            read = recv.read(&mut buf) => match read {
                Ok(Some(n)) => {
                    let msg = RoomMsg::Bytes { member: id, bytes: buf[..n].to_vec() };
                    if room.tx.send(msg).await.is_err() {
                        break "room closed";
                    }
                }
                Ok(None) => break "finished by the client",
                Err(quinn::ReadError::ConnectionLost(_)) => break "connection lost",
                Err(_) => break "reset by the client",
            },
            _ = &mut stop_rx => {
                // The room closed the member; stop reading what it sends.
                drop(recv.stop(quinn::VarInt::from_u32(0)));
                break "closed by the server";
            }
        }
    };
    ctx.channels().remove(&channel);
    tracing::debug!(room = %room_name, "stream ended: {ended}");
    drop(room.tx.send(RoomMsg::Ended { member: id }).await);
}

/// The longest first frame read before the client is authenticated: a
/// hello with every field at its limit is under 5 KiB; the rest leaves room
/// for fields a later protocol version appends.
const MAX_FIRST_FRAME_LEN: u32 = 64 * 1024;

fn first_frame_refusal(e: &touchpoint_crdt::protocol::FrameError) -> Refusal {
    match e {
        touchpoint_crdt::protocol::FrameError::TooLarge { len, limit } => Refusal::new(
            ErrorCode::FrameTooLarge,
            format!("the first frame must be a hello of at most {limit} bytes, not {len}"),
        ),
        other => other.refusal(),
    }
}

/// Sends an error frame and ends the stream, closing the connection after
/// a protocol violation.
async fn refuse_directly(out: &MemberOut, refusal: Refusal) {
    let close_connection = closes_connection(refusal.code).then(|| refusal.clone());
    if out.send_bytes(refusal.frame().encode().into()).await {
        out.finish(close_connection).await;
    }
}

/// Checks a hello before any room is touched: the protocol version first
/// (so that a client of another version always learns it), then the token.
pub(super) fn check_hello(shared: &Shared, hello: Hello) -> Opening {
    if hello.version != PROTOCOL_VERSION {
        return Opening::Refuse(None);
    }
    match shared.tokens.verify(&hello.token, &hello.room, unix_now()) {
        Ok(_) => Opening::Join(hello),
        Err(e) => {
            tracing::info!(room = %hello.room, "token refused: {e}");
            Opening::Refuse(Some(e.refusal()))
        }
    }
}

/// Hands the member to its room's task, loading the room if needed. `None`
/// when it was refused here (the refusal has been queued to the writer).
pub(super) async fn join(
    shared: &Arc<Shared>,
    ctx: &Arc<ConnCtx>,
    member: ServerMember,
    buffered: Vec<u8>,
    out: MemberOut,
    room_name: &str,
) -> Option<RoomHandle> {
    let mut joiner = Box::new(Joiner {
        member,
        buffered,
        out,
        conn: ctx.clone(),
    });
    // A room unloading at the moment we join bounces the joiner back; the
    // next attempt loads it again.
    for _ in 0..5 {
        let room = match room::handle(shared, room_name) {
            Ok(room) => room,
            Err(refusal) => {
                refuse_joiner(joiner, refusal).await;
                return None;
            }
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        match room.tx.send(RoomMsg::Join(joiner, reply_tx)).await {
            Ok(()) => {}
            Err(mpsc::error::SendError(msg)) => {
                let RoomMsg::Join(back, _) = msg else {
                    return None;
                };
                joiner = back;
                continue;
            }
        }
        match reply_rx.await {
            Ok(JoinReply::Taken) => return Some(room),
            Ok(JoinReply::Bounced(back)) => joiner = back,
            Err(_) => return None,
        }
        tokio::task::yield_now().await;
    }
    refuse_joiner(
        joiner,
        Refusal::new(ErrorCode::ServerError, "the room is busy; try again"),
    )
    .await;
    None
}

/// Writes what the room queues for one member. When the room drops the
/// queue without a `Finish` (the member was too slow, or the room failed)
/// the stream is reset.
async fn write_loop(
    mut send: quinn::SendStream,
    mut rx: mpsc::Receiver<Outgoing>,
    queued: Arc<AtomicUsize>,
    conn: Option<quinn::Connection>,
    stop_reader: oneshot::Sender<()>,
    grace: Duration,
    _guard: TaskGuard,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Bytes(bytes) => {
                let written = send.write_all(&bytes).await;
                queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                if let Err(e) = written {
                    tracing::debug!("write failed: {e}");
                    let _ = stop_reader.send(());
                    return;
                }
            }
            Outgoing::Finish { close_connection } => {
                let _ = stop_reader.send(());
                if send.finish().is_ok() {
                    // Let the peer read the last frames (the error frame)
                    // before anything closes the connection under them.
                    drop(tokio::time::timeout(grace, send.stopped()).await);
                }
                if let Some(refusal) = close_connection {
                    tracing::info!(
                        "closing the connection: {} ({})",
                        refusal.reason,
                        refusal.code.name()
                    );
                    if let Some(conn) = &conn {
                        conn.close(quic_code(refusal.code), refusal.reason.as_bytes());
                    }
                }
                return;
            }
        }
    }
    let _ = stop_reader.send(());
    drop(send.reset(quic_code(ErrorCode::ServerError)));
}
