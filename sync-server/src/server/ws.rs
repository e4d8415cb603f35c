//! The WebSocket endpoint: unmodified Yjs clients (npm `y-websocket`, in
//! Node or a browser) join the same rooms as QUIC members.
//!
//! A WebSocket member is a QUIC member in all but transport (PROTOCOL.md,
//! "WebSocket"): the URL `/ROOM?token=TOKEN` stands in for the hello, each
//! binary message is one y-protocols message (a type-4 frame's body), and
//! the same `ServerMember` state machine in the same room task admits it,
//! checks its token, role, limits and rate, and relays what is committed.
//! Only the edges differ: the welcome is not sent (y-websocket has no such
//! message), a refusal is a close code after the closing handshake, and
//! presence always goes on the socket (there are no datagrams).
//!
//! Liveness: y-websocket closes a connection that brought no message for
//! 30 s, so a member that has been sent nothing for [`KEEPALIVE`] gets an
//! empty awareness update (a valid y-protocols message that changes
//! nothing).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::SinkExt;
use tokio::sync::mpsc;
use touchpoint_crdt::protocol::{
    ErrorCode, Frame, Hello, MemberId, PROTOCOL_VERSION, Refusal, ServerMember, frame_type,
};
use tracing::Instrument;

use super::conn::{Opening, check_hello, join};
use super::member::{ConnCtx, MemberOut, Outgoing, RoomMsg};
use super::shared::{IpGuard, RoomHandle, Shared, shutdown_begun};
use super::ws_listener::{Peer, WsListener};

/// Outbound silence after which a member gets an empty awareness update.
pub(crate) const KEEPALIVE: Duration = Duration::from_secs(15);

/// An awareness message with no states: `[1 (awareness), len 1, 0 states]`.
const EMPTY_AWARENESS: [u8; 3] = [1, 1, 0];

/// The socket's read buffer. tungstenite zero-fills the free part of its
/// read buffer before every read, so its 128 KiB default cost a 128 KiB
/// memset per read: 44% of the server's CPU at 100 clients x 2 edits/s
/// (perf, BENCHMARKS.md). Yjs messages are small; a larger one is read in
/// several reads.
const READ_BUFFER: usize = 4 * 1024;

/// Queued sends written before one flush.
const MAX_BATCH: usize = 64;

/// How long to wait for the client's half of the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Serves WebSocket members on `listener` until shutdown.
pub(crate) async fn serve(listener: WsListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let app = Router::new()
        .route("/{room}", get(upgrade))
        .with_state(shared);
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(async move { shutdown_begun(&mut shutdown).await })
        .await;
    if let Err(e) = served {
        tracing::error!("the WebSocket listener failed: {e}");
    }
}

async fn upgrade(
    ws: WebSocketUpgrade,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    let limits = shared.options.limits;
    let max = limits.max_frame_len as usize;
    let (guard, before) = shared.count_connection(peer.ip());
    let hello = Hello {
        version: PROTOCOL_VERSION,
        room,
        token: query.get("token").cloned().unwrap_or_default(),
        client_name: query
            .get("name")
            .cloned()
            .unwrap_or_else(|| "yjs (websocket)".to_owned()),
    };
    let span = tracing::info_span!("ws", %peer);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            serve_socket(shared, socket, peer, hello, before, guard).instrument(span)
        })
}

async fn serve_socket(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    peer: SocketAddr,
    hello: Hello,
    connections_before: usize,
    _guard: IpGuard,
) {
    let limits = shared.options.limits;
    let cap = shared.options.max_connections_per_ip;
    if connections_before >= cap {
        let refusal = Refusal::new(
            ErrorCode::RoomFull,
            format!(
                "too many connections from {}: the limit is {cap}; close some and try again",
                peer.ip()
            ),
        );
        tracing::info!("connection refused: {refusal}");
        close(&mut socket, &refusal).await;
        return;
    }
    if hello.room.len() > limits.max_room_len
        || hello.token.len() > limits.max_token_len
        || hello.client_name.len() > limits.max_name_len
    {
        let refusal = Refusal::new(
            ErrorCode::BadFrame,
            "the room name, token or client name is too long",
        );
        close(&mut socket, &refusal).await;
        return;
    }
    let hello = match check_hello(&shared, hello) {
        Opening::Join(hello) => hello,
        Opening::Refuse(Some(refusal)) => {
            close(&mut socket, &refusal).await;
            return;
        }
        _ => {
            let refusal = Refusal::new(ErrorCode::ServerError, "the server could not admit you");
            close(&mut socket, &refusal).await;
            return;
        }
    };
    let id: MemberId = shared.next_member.fetch_add(1, Ordering::Relaxed);
    let _tasks = shared.stream_tasks.guard();
    let (out, mut out_rx, queued) = MemberOut::new();
    let member = ServerMember::new(id, 0, Instant::now(), limits);
    let ctx = Arc::new(ConnCtx {
        conn: None,
        peer,
        channels: Mutex::new(HashMap::new()),
        next_channel: AtomicU64::new(1),
    });
    let room_name = hello.room.clone();
    let buffered = Frame::Hello(hello).encode();
    let room = join(&shared, &ctx, member, buffered, out, &room_name).await;
    let ended = pump(&mut socket, room.as_ref(), id, &mut out_rx, &queued).await;
    tracing::info!(room = %room_name, member = id, "websocket member ended: {ended}");
    if let Some(room) = room {
        drop(room.tx.send(RoomMsg::Ended { member: id }).await);
    }
}

/// Moves messages both ways until either side ends: the socket's to the
/// room (as type-4 frames), the room's frames to the socket (their bodies).
async fn pump(
    socket: &mut WebSocket,
    room: Option<&RoomHandle>,
    id: MemberId,
    out_rx: &mut mpsc::Receiver<Outgoing>,
    queued: &std::sync::atomic::AtomicUsize,
) -> &'static str {
    let mut last_error: Option<Refusal> = None;
    let mut last_sent = tokio::time::Instant::now();
    loop {
        let keepalive = tokio::time::sleep_until(last_sent + KEEPALIVE);
        tokio::select! {
            incoming = socket.recv(), if room.is_some() => {
                let Some(room) = room else { continue };
                let bytes = match incoming {
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    // Not a y-protocols message: the member refuses it as
                    // a bad frame, as it would on QUIC.
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return "closed by the client",
                    Some(Err(e)) => {
                        tracing::debug!("websocket read failed: {e}");
                        let refusal = Refusal::new(
                            ErrorCode::FrameTooLarge,
                            format!("the message could not be read: {e}"),
                        );
                        close(socket, &refusal).await;
                        return "unreadable message";
                    }
                };
                let msg = RoomMsg::Bytes { member: id, bytes: as_frame(&bytes) };
                if room.tx.send(msg).await.is_err() {
                    return "room closed";
                }
            }
            out = out_rx.recv() => match out {
                Some(Outgoing::Bytes(bytes)) => {
                    // What else is queued goes out with it, in one flush: a
                    // send per message was most of the cost under fan-out.
                    let mut next = Some(bytes);
                    let mut finish = false;
                    let mut batched = 0;
                    while let Some(bytes) = next.take() {
                        queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                        for message in messages_of(&bytes, &mut last_error) {
                            if socket.feed(Message::Binary(message.into())).await.is_err() {
                                return "write failed";
                            }
                        }
                        batched += 1;
                        if batched < MAX_BATCH {
                            match out_rx.try_recv() {
                                Ok(Outgoing::Bytes(more)) => next = Some(more),
                                Ok(Outgoing::Finish { .. }) => finish = true,
                                Err(_) => {}
                            }
                        }
                    }
                    if socket.flush().await.is_err() {
                        return "write failed";
                    }
                    last_sent = tokio::time::Instant::now();
                    if finish {
                        finish_session(socket, last_error.take()).await;
                        return "closed by the server";
                    }
                }
                Some(Outgoing::Finish { .. }) => {
                    finish_session(socket, last_error.take()).await;
                    return "closed by the server";
                }
                None => {
                    // The room dropped the member's queue: too slow to read.
                    let refusal = Refusal::new(
                        ErrorCode::ServerError,
                        "too slow to read the room's updates",
                    );
                    close(socket, &refusal).await;
                    return "dropped by the room";
                }
            },
            () = keepalive => {
                if socket.send(Message::Binary(EMPTY_AWARENESS.to_vec().into())).await.is_err() {
                    return "write failed";
                }
                last_sent = tokio::time::Instant::now();
            }
        }
    }
}

/// Ends the session the room finished: with the refusal it sent, else
/// `going_away`.
async fn finish_session(socket: &mut WebSocket, refusal: Option<Refusal>) {
    let refusal = refusal
        .unwrap_or_else(|| Refusal::new(ErrorCode::GoingAway, "the server ended the session"));
    close(socket, &refusal).await;
}

/// A y-protocols message as the type-4 frame a QUIC member would send.
fn as_frame(message: &[u8]) -> Vec<u8> {
    let len = u32::try_from(message.len() + 1).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.push(frame_type::YJS);
    frame.extend_from_slice(message);
    frame
}

/// The WebSocket messages in `bytes` (one or more frames the room encoded):
/// the bodies of y-protocols frames; a welcome is left out, an error frame
/// is kept in `last_error` for the close that follows it.
fn messages_of(bytes: &[u8], last_error: &mut Option<Refusal>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(body) = rest.get(4..4 + len) else {
            break;
        };
        match body.first() {
            Some(&frame_type::YJS) => out.push(body[1..].to_vec()),
            Some(&frame_type::ERROR) => {
                if let Ok((Frame::Error(refusal), _)) = Frame::decode(
                    &rest[..4 + len],
                    &touchpoint_crdt::protocol::Limits::DEFAULT,
                ) {
                    *last_error = Some(refusal);
                }
            }
            _ => {}
        }
        rest = &rest[4 + len..];
    }
    out
}

/// The WebSocket close code for a refusal: 4400-4499 for what reconnecting
/// unchanged cannot fix (y-websocket then stops retrying), 4500-4599 for
/// what may pass. PROTOCOL.md lists them.
pub fn close_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadFrame => 4400,
        ErrorCode::Unauthorized => 4401,
        ErrorCode::Forbidden => 4403,
        ErrorCode::UnexpectedFrame => 4405,
        ErrorCode::FrameTooLarge => 4413,
        ErrorCode::DocTooLarge => 4414,
        ErrorCode::BadUpdate => 4422,
        ErrorCode::VersionMismatch => 4426,
        ErrorCode::ServerError => 4500,
        ErrorCode::GoingAway => 4501,
        ErrorCode::RoomFull => 4503,
        ErrorCode::Timeout => 4508,
        ErrorCode::RateLimited => 4529,
        other if other.is_retryable() => 4599,
        _ => 4499,
    }
}

/// Sends the close frame for `refusal` and waits (briefly) for the client's
/// close, so the client sees the code rather than a dropped connection.
async fn close(socket: &mut WebSocket, refusal: &Refusal) {
    // A close frame's reason holds at most 123 bytes.
    let mut reason = refusal.reason.clone();
    while reason.len() > 123 {
        reason.pop();
    }
    let frame = CloseFrame {
        code: close_code(refusal.code),
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_refusals_close_in_the_4400s_and_transient_ones_in_the_4500s() {
        for code in ErrorCode::KNOWN {
            let ws = close_code(code);
            if code.is_retryable() {
                assert!((4500..4600).contains(&ws), "{code:?}: {ws}");
            } else {
                assert!((4400..4500).contains(&ws), "{code:?}: {ws}");
            }
        }
        assert_eq!(close_code(ErrorCode::Unauthorized), 4401);
        assert_eq!(close_code(ErrorCode::Forbidden), 4403);
    }

    #[test]
    fn frames_become_messages_and_back() {
        let message = [0u8, 0, 1, 0];
        let frame = as_frame(&message);
        let mut err = None;
        let mut bytes = Frame::Welcome(touchpoint_crdt::protocol::Welcome {
            version: PROTOCOL_VERSION,
            role: touchpoint_crdt::protocol::Role::Editor,
            channel: 1,
        })
        .encode();
        bytes.extend_from_slice(&frame);
        bytes.extend(Refusal::new(ErrorCode::Forbidden, "no").frame().encode());
        assert_eq!(messages_of(&bytes, &mut err), vec![message.to_vec()]);
        assert_eq!(err.map(|r| r.code), Some(ErrorCode::Forbidden));
    }
}
