//! The real `touchpoint-server` binary on loopback, driven by the minimal
//! QUIC clients of `support/`: convergence, tokens, viewers, malformed
//! input, restarts, kill -9, limits, vanished peers.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{ErrorCode, Frame, Hello, Role};
use touchpoint_sync::token::{Grant, TokenKey, unix_now};
use yrs::sync::SyncMessage;

// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_and_rooms_reload_from_storage() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--room-idle", "1s"]);
    let link = server.link("journey", "editor");

    let t = Instant::now();
    let conn = connect(&server).await;
    let connected = t.elapsed();
    let mut a = SyncClient::join(conn, &link, "Ana").await;
    eprintln!(
        "connect (QUIC + TLS handshake) {:.1} ms, then join + first sync {:.1} ms",
        connected.as_secs_f64() * 1e3,
        (t.elapsed() - connected).as_secs_f64() * 1e3
    );
    assert_eq!(a.role(), Some(Role::Editor));
    let mut b = SyncClient::join(connect(&server).await, &link, "Ben").await;

    a.create("from Ana").await;
    b.pump_until("Ana's sticky", |c| c.has_sticky("from Ana"))
        .await;
    b.create("from Ben").await;
    a.pump_until("Ben's sticky", |c| c.has_sticky("from Ben"))
        .await;
    // Concurrent edits from both sides converge.
    for i in 0..20 {
        a.board.create(sticky(&format!("a{i}"))).unwrap();
        b.board.create(sticky(&format!("b{i}"))).unwrap();
    }
    a.flush().await;
    b.flush().await;
    a.pump_until("everything", |c| c.sticky_texts().len() == 42)
        .await;
    b.pump_until("everything", |c| c.sticky_texts().len() == 42)
        .await;
    assert_eq!(a.sticky_texts(), b.sticky_texts());

    // Presence goes to the other member...
    a.publish_presence(r#"{"user":{"name":"Ana"},"cursor":[1,2]}"#)
        .await;
    let ana = a.board.client_id();
    b.pump_until("Ana's presence", |c| {
        c.presence.get(&ana).is_some_and(|j| j.contains("cursor"))
    })
    .await;
    // ...and is removed for everyone when she leaves.
    a.conn.close(0u32.into(), b"bye");
    b.pump_until("Ana's presence removed", |c| {
        c.presence.get(&ana).is_some_and(|j| j == "null")
    })
    .await;
    b.conn.close(0u32.into(), b"bye");

    // The idle room is unloaded; a newcomer gets it back from storage.
    server.wait_logged("room unloaded").await;
    let c = SyncClient::join(connect(&server).await, &link, "Cy").await;
    assert_eq!(c.sticky_texts(), a.sticky_texts());
    assert!(server.logged("room loaded"));
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_other_room_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let key = TokenKey::load_or_create(dir.path()).unwrap();
    let grant = |room: &str, expires_at| Grant {
        room: room.to_owned(),
        role: Role::Editor,
        expires_at,
        id: 7,
    };
    let cases = [
        (
            "forged",
            TokenKey::from_secret(&[1; 32]).issue(&grant("r", None)),
            "not issued by this server",
        ),
        (
            "expired",
            key.issue(&grant("r", Some(unix_now() - 10))),
            "expired",
        ),
        (
            "other room",
            key.issue(&grant("other", None)),
            "for room \"other\"",
        ),
        ("garbage", "!!".to_owned(), "malformed"),
    ];
    let conn = connect(&server).await;
    for (what, token, reason) in cases {
        let link = server.link_with_token("r", token);
        let mut peer = Peer::open(&conn).await;
        peer.send(&Frame::Hello(Hello::new(&link.room, &link.token, "x")))
            .await;
        let refusal = peer.refusal().await;
        assert_eq!(refusal.code, ErrorCode::Unauthorized, "{what}: {refusal}");
        assert!(refusal.reason.contains(reason), "{what}: {refusal}");
    }
    // The connection itself is still fine: a good token joins on it.
    let link = server.link("r", "editor");
    let joined = SyncClient::join(conn, &link, "ok").await;
    assert_eq!(joined.role(), Some(Role::Editor));
    // No room was loaded for the refused ones (only "r", by the good one).
    assert!(!server.logged("room=other"));
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_updates_are_refused_never_relayed_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let editor_link = server.link("board", "editor");
    let viewer_link = server.link("board", "viewer");
    let mut editor = SyncClient::join(connect(&server).await, &editor_link, "E").await;
    editor.create("before the viewer").await;
    editor.settle(Duration::from_millis(100)).await;
    editor.publish_presence(r#"{"name":"E"}"#).await;
    editor.settle(Duration::from_millis(100)).await;

    let mut viewer = SyncClient::join(connect(&server).await, &viewer_link, "V").await;
    assert_eq!(viewer.role(), Some(Role::Viewer));
    assert!(
        viewer.has_sticky("before the viewer"),
        "viewer gets the board"
    );
    let e = editor.board.client_id();
    viewer
        .pump_until("editor's presence", |c| c.presence.contains_key(&e))
        .await;
    // Live updates reach the viewer too.
    editor.create("live").await;
    viewer
        .pump_until("live sticky", |c| c.has_sticky("live"))
        .await;

    // The viewer sends an update by hand: refused with forbidden.
    let mut forged = Board::new();
    forged.create(sticky("viewer was here")).unwrap();
    viewer
        .peer
        .send(&Frame::Sync(SyncMessage::Update(forged.encode())))
        .await;
    let refusal = viewer.peer.refusal().await;
    assert_eq!(refusal.code, ErrorCode::Forbidden, "{refusal}");
    editor.settle(Duration::from_millis(300)).await;
    assert!(!editor.has_sticky("viewer was here"), "never relayed");

    // Never stored: after a restart a newcomer has the editor's work only.
    drop(editor);
    drop(viewer);
    assert!(server.stop().await.success());
    let server = ServerProc::start(dir.path(), &[]);
    let late = SyncClient::join(connect(&server).await, &editor_link, "L").await;
    assert_eq!(late.sticky_texts(), ["before the viewer", "live"]);
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_an_error_and_a_closed_connection_while_others_keep_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("room", "editor");
    let mut a = SyncClient::join(connect(&server).await, &link, "A").await;
    let mut b = SyncClient::join(connect(&server).await, &link, "B").await;
    a.create("first").await;
    b.pump_until("first", |c| c.has_sticky("first")).await;

    let bad_inputs: [(&str, Vec<u8>, ErrorCode); 4] = [
        // An unknown frame type after joining.
        (
            "unknown frame type",
            vec![0, 0, 0, 2, 99, 0],
            ErrorCode::BadFrame,
        ),
        // A length prefix far over the limit.
        (
            "oversized frame",
            vec![0x7f, 0, 0, 0],
            ErrorCode::FrameTooLarge,
        ),
        // A sync update that is not a Yjs update.
        (
            "undecodable update",
            Frame::Sync(SyncMessage::Update(vec![5, 200, 1, 2, 3])).encode(),
            ErrorCode::BadUpdate,
        ),
        // A second hello.
        (
            "second hello",
            Frame::Hello(Hello::new("room", &link.token, "again")).encode(),
            ErrorCode::UnexpectedFrame,
        ),
    ];
    for (what, bytes, code) in bad_inputs {
        let conn = connect(&server).await;
        let mut bad = Peer::open(&conn).await;
        bad.send(&Frame::Hello(Hello::new("room", &link.token, "bad")))
            .await;
        assert!(
            matches!(bad.next().await, Some(Frame::Welcome(_))),
            "{what}"
        );
        bad.raw(&bytes).await;
        let refusal = bad.refusal().await;
        assert_eq!(refusal.code, code, "{what}: {refusal}");
        let closed = tokio::time::timeout(WAIT, conn.closed()).await.unwrap();
        match closed {
            quinn::ConnectionError::ApplicationClosed(close) => {
                assert_eq!(close.error_code, u32::from(code.code()).into(), "{what}");
            }
            other => panic!("{what}: connection ended with {other}"),
        }
        // Everyone else carries on.
        a.create(what).await;
        b.pump_until(what, |c| c.has_sticky(what)).await;
    }
    // Garbage before any hello: the same.
    let conn = connect(&server).await;
    let mut bad = Peer::open(&conn).await;
    bad.raw(b"GET / HTTP/1.1\r\n\r\n").await;
    let refusal = bad.refusal().await;
    assert!(
        matches!(refusal.code, ErrorCode::BadFrame | ErrorCode::FrameTooLarge),
        "{refusal}"
    );
    // A first frame far larger than a hello, though under the frame limit:
    // refused from its length, nothing buffered.
    let conn = connect(&server).await;
    let mut big = Peer::open(&conn).await;
    big.raw(&100_000u32.to_be_bytes()).await;
    let refusal = big.refusal().await;
    assert_eq!(refusal.code, ErrorCode::FrameTooLarge, "{refusal}");
    assert!(refusal.reason.contains("hello"), "{refusal}");
    // Stray and garbage datagrams are dropped without harm.
    for junk in [&b"\xff\xff\xff"[..], &[1, 2, 3], &[]] {
        drop(b.conn.send_datagram(junk.to_vec().into()));
    }
    a.create("still fine").await;
    b.pump_until("still fine", |c| c.has_sticky("still fine"))
        .await;
    assert_eq!(a.sticky_texts(), b.sticky_texts());
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_the_data_and_the_certificate_and_shutdown_says_going_away() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("kept", "editor");
    let mut a = SyncClient::join(connect(&server).await, &link, "A").await;
    for i in 0..10 {
        a.create(&format!("note {i}")).await;
    }
    // Let the updates reach the server before it is told to stop.
    a.settle(Duration::from_millis(300)).await;
    let before = a.sticky_texts();
    let fingerprint = server.fingerprint;

    // SIGTERM: what was sent is committed, then the member hears going_away.
    let stopping = tokio::spawn(server.stop());
    a.pump_until("going away", |c| c.refused.is_some()).await;
    assert_eq!(a.refused.as_ref().unwrap().code, ErrorCode::GoingAway);
    assert!(stopping.await.unwrap().success(), "clean exit on SIGTERM");

    let server = ServerProc::start(dir.path(), &[]);
    assert_eq!(server.fingerprint, fingerprint, "same certificate");
    // The old link still works (same token secret).
    let b = SyncClient::join(connect(&server).await, &link, "B").await;
    assert_eq!(b.sticky_texts(), before);
    assert_eq!(before.len(), 10);
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_anyone_has_seen_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProc::start(dir.path(), &[]);
    let link = server.link("durable", "editor");
    let mut a = SyncClient::join(connect(&server).await, &link, "A").await;
    let mut b = SyncClient::join(connect(&server).await, &link, "B").await;
    for i in 0..50 {
        a.create(&format!("n{i}")).await;
    }
    b.pump_until("all 50", |c| c.sticky_texts().len() == 50)
        .await;
    // SIGKILL: no shutdown, no flush. What B has seen was committed first.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let seen = b.sticky_texts();
    drop((a, b));
    let server = ServerProc::start(dir.path(), &[]);
    let c = SyncClient::join(connect(&server).await, &link, "C").await;
    assert_eq!(c.sticky_texts(), seen);
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(
        dir.path(),
        &[
            "--max-frame-bytes",
            "64K",
            "--max-doc-bytes",
            "16K",
            "--max-room-members",
            "1",
            "--max-rooms",
            "2",
            "--messages-per-second",
            "5",
            "--message-burst",
            "10",
        ],
    );
    let conn = connect(&server).await;
    let mut a = SyncClient::join(conn.clone(), &server.link("a", "editor"), "A").await;

    // Connections per room.
    let mut second = Peer::open(&conn).await;
    let link = server.link("a", "editor");
    second
        .send(&Frame::Hello(Hello::new("a", &link.token, "second")))
        .await;
    let refusal = second.refusal().await;
    assert_eq!(refusal.code, ErrorCode::RoomFull, "{refusal}");

    // Rooms: "a" and "b" are loaded, "c" would be one too many.
    let mut b = SyncClient::join(conn.clone(), &server.link("b", "editor"), "B").await;
    let mut c = Peer::open(&conn).await;
    let link = server.link("c", "editor");
    c.send(&Frame::Hello(Hello::new("c", &link.token, "c")))
        .await;
    let refusal = c.refusal().await;
    assert_eq!(refusal.code, ErrorCode::RoomFull, "{refusal}");
    assert!(refusal.reason.contains("rooms"), "{refusal}");

    // Document size per room.
    a.create(&"x".repeat(20_000)).await;
    a.pump_until("doc_too_large", |c| c.refused.is_some()).await;
    assert_eq!(a.refused.as_ref().unwrap().code, ErrorCode::DocTooLarge);

    // Messages per second.
    for _ in 0..30 {
        b.peer.send(&Frame::AwarenessQuery).await;
    }
    b.pump_until("rate_limited", |c| c.refused.is_some()).await;
    assert_eq!(b.refused.as_ref().unwrap().code, ErrorCode::RateLimited);

    // Frame size, before the hello.
    let mut big = Peer::open(&conn).await;
    big.raw(&(1u32 << 20).to_be_bytes()).await;
    let refusal = big.refusal().await;
    assert_eq!(refusal.code, ErrorCode::FrameTooLarge, "{refusal}");
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--max-connections-per-ip", "2"]);
    let link = server.link("r", "editor");
    let _one = connect(&server).await;
    let _two = connect(&server).await;
    let three = connect(&server).await;
    let mut peer = Peer::open(&three).await;
    peer.send(&Frame::Hello(Hello::new("r", &link.token, "3")))
        .await;
    let refusal = peer.refusal().await;
    assert_eq!(refusal.code, ErrorCode::RoomFull, "{refusal}");
    assert!(refusal.reason.contains("too many connections"), "{refusal}");
    drop(_one);
    assert!(server.stop().await.success());
}

/// A UDP relay between a client and the server that can go silent, to make
/// a peer vanish without a goodbye.
struct Blackhole {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

async fn blackhole(server: SocketAddr) -> Blackhole {
    let front = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(server).await.unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
    let addr = front.local_addr().unwrap();
    {
        let (front, back, cut, client) = (front.clone(), back.clone(), cut.clone(), client.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = front.recv_from(&mut buf).await {
                *client.lock().unwrap() = Some(from);
                if !cut.load(Ordering::Relaxed) {
                    drop(back.send(&buf[..n]).await);
                }
            }
        });
    }
    {
        let cut = cut.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = back.recv(&mut buf).await {
                let to = *client.lock().unwrap();
                if let Some(to) = to
                    && !cut.load(Ordering::Relaxed)
                {
                    drop(front.send_to(&buf[..n], to).await);
                }
            }
        });
    }
    Blackhole { addr, cut }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_vanishes_leaves_everyones_awareness_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--idle-timeout", "2s"]);
    let link = server.link("r", "editor");
    let hole = blackhole(server.addr).await;
    let mut gone =
        SyncClient::join(connect_to(hole.addr, server.fingerprint).await, &link, "G").await;
    let mut stays = SyncClient::join(connect(&server).await, &link, "S").await;
    gone.publish_presence(r#"{"name":"G"}"#).await;
    gone.settle(Duration::from_millis(50)).await;
    let g = gone.board.client_id();
    stays
        .pump_until("G's presence", |c| {
            c.presence.get(&g).is_some_and(|j| j != "null")
        })
        .await;
    hole.cut.store(true, Ordering::Relaxed);
    let t = Instant::now();
    stays
        .pump_until("G's presence removed", |c| {
            c.presence.get(&g).is_some_and(|j| j == "null")
        })
        .await;
    let took = t.elapsed();
    eprintln!(
        "vanished peer's presence removed after {:.2} s (idle timeout 2 s)",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(server.stop().await.success());
}
