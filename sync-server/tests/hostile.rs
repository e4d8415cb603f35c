//! Hostile and slow peers against the real `touchpoint-server` binary on
//! loopback: each attack a link holder could make, and what must still
//! hold for everyone else in the room (ARCHITECTURE.md, "Bounded, whatever
//! members send").

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use touchpoint_crdt::protocol::{ErrorCode, Frame, Hello};
use touchpoint_crdt::test_vectors::HALF_INTEGRATED;
use touchpoint_crdt::{Board, NewElement};
use yrs::sync::SyncMessage;

const MIB: u64 = 1 << 20;

/// A presence state of exactly `len` bytes of JSON.
fn state_of(name: &str, len: usize) -> String {
    let head = format!("{{\"user\":{{\"name\":\"{name}\",\"color\":\"#3366cc\"}},\"pad\":\"");
    let tail = "\"}";
    format!(
        "{head}{}{tail}",
        "x".repeat(len.saturating_sub(head.len() + tail.len()))
    )
}

/// The updates (Yjs v1) that `edit` makes on `board`, one per transaction.
fn updates_made(board: &mut Board, edit: impl FnOnce(&mut Board)) -> Vec<Vec<u8>> {
    let updates = Arc::new(Mutex::new(Vec::new()));
    let sink = updates.clone();
    let sub = board
        .observe_updates(move |u, _| sink.lock().unwrap().push(u.to_vec()))
        .unwrap();
    edit(board);
    drop(sub);
    updates.lock().unwrap().clone()
}

/// The updates of `n` stickies created one by one by a client with this id,
/// each with `text_len` bytes of text.
fn stickies_of(client: u64, n: usize, text_len: usize) -> Vec<Vec<u8>> {
    updates_made(&mut Board::with_client_id(client), |board| {
        for i in 0..n {
            let text = format!("{i}:{}", "x".repeat(text_len));
            board
                .create(NewElement::sticky(i as f64 * 10.0, 0.0, &text))
                .unwrap();
        }
    })
}

/// A raw member of room "r" on a connection of its own, its hello sent.
async fn raw_member(server: &ServerProc, token: &str, name: &str) -> (quinn::Connection, Peer) {
    let conn = connect(server).await;
    let mut peer = Peer::open(&conn).await;
    peer.send(&Frame::Hello(Hello::new("r", token, name))).await;
    (conn, peer)
}

/// Sends one update the room should refuse as suspect, and waits until the
/// attacker is refused and the room has reloaded its document.
async fn refused_and_reloaded(server: &ServerProc, token: &str, update: Vec<u8>) {
    let (_conn, mut attacker) = raw_member(server, token, "attacker").await;
    attacker
        .send(&Frame::Sync(SyncMessage::Update(update)))
        .await;
    let refusal = attacker.refusal().await;
    assert_eq!(refusal.code, ErrorCode::BadUpdate, "{refusal}");
    server
        .wait_logged("the room's document was reloaded from storage")
        .await;
}

/// Writes the updates as frames until the server stops taking them (it
/// stopped the stream or closed the connection); how many were written.
async fn send_all(peer: &mut Peer, updates: &[Vec<u8>]) -> usize {
    let mut sent = 0;
    for u in updates {
        let bytes = Frame::Sync(SyncMessage::Update(u.clone())).encode();
        if peer.send.write_all(&bytes).await.is_err() {
            break;
        }
        sent += 1;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_flooding_presence_cannot_lock_newcomers_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let viewer = server.link("dread", "viewer");
    let editor = server.link("dread", "editor");
    let mut host = SyncClient::join(connect(&server).await, &editor, "Facilitator").await;

    // Three viewers publish 12 MiB states each: together more than any
    // frame may hold, so today's server would then refuse every newcomer's
    // presence snapshot.
    for i in 0..3 {
        let mut v = SyncClient::join(connect(&server).await, &viewer, &format!("V{i}")).await;
        v.publish_presence(&state_of(&format!("V{i}"), 12 << 20))
            .await;
        v.pump_until("the oversized state refused", |c| c.refused.is_some())
            .await;
        let refusal = v.refused.unwrap();
        assert_eq!(refusal.code, ErrorCode::BadFrame, "{refusal}");
        assert!(
            refusal.reason.contains("awareness state too long"),
            "{refusal}"
        );
    }

    // A newcomer joins, syncs, and sees the facilitator's work; none of the
    // oversized states reached anyone.
    host.create("What frustrates you today?").await;
    let mut newcomer = SyncClient::join(connect(&server).await, &editor, "Ana").await;
    newcomer
        .pump_until("the facilitator's sticky", |c| {
            c.has_sticky("What frustrates you today?")
        })
        .await;
    host.settle(Duration::from_millis(300)).await;
    for seen in [&host.presence, &newcomer.presence] {
        assert!(
            seen.values().all(|json| json.len() <= 16 * 1024),
            "an oversized state was relayed"
        );
    }
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_presence_is_bounded_and_a_newcomer_gets_it_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--max-room-presence-bytes", "400K"]);
    let link = server.link("big", "viewer");
    // 40 participants at just under the 16 KiB per-state limit, ten to a
    // connection (a connection may join 16 rooms at once).
    let mut others = Vec::new();
    let mut conn = connect(&server).await;
    for i in 0..40 {
        if i % 10 == 0 && i > 0 {
            conn = connect(&server).await;
        }
        let mut p = SyncClient::join(conn.clone(), &link, &format!("P{i}")).await;
        p.publish_presence(&state_of(&format!("P{i}"), 15_000))
            .await;
        others.push(p);
    }
    let editor = server.link("big", "editor");
    let mut newcomer = SyncClient::join(connect(&server).await, &editor, "Ben").await;
    newcomer.settle(Duration::from_millis(500)).await;
    // 400 KiB holds 27 states of 15,000 bytes; the rest were dropped, not
    // relayed, and the snapshot came in batches of at most 256 KiB.
    let total: usize = newcomer.presence.values().map(String::len).sum();
    assert_eq!(newcomer.presence.len(), 27, "states seen");
    assert!(total <= 400 * 1024, "{total} bytes of presence");
    assert!(
        newcomer.presence_messages >= 2,
        "the snapshot came in {} message(s)",
        newcomer.presence_messages
    );
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_flooding_held_back_updates_is_refused_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("r", "editor");
    let mut honest = SyncClient::join(connect(&server).await, &link, "Chloe").await;
    honest.create("before").await;
    honest.settle(Duration::from_millis(300)).await;
    let rss_before = server.rss_bytes();
    let disk_before = server.storage_bytes();

    // Updates 2 to 41 of one client, each a 1 MiB sticky, without update 1:
    // none can be integrated, ever.
    let updates = stickies_of(0xA77AC, 41, 1 << 20);
    let (_conn, mut attacker) = raw_member(&server, &link.token, "attacker").await;
    let sent = send_all(&mut attacker, &updates[1..]).await;
    let refusal = attacker.refusal().await;
    assert_eq!(refusal.code, ErrorCode::BadUpdate, "{refusal}");
    assert!(refusal.reason.contains("depends on changes"), "{refusal}");
    assert!(
        sent < 40,
        "the server read all {sent} updates before refusing"
    );

    // Nothing of it was stored or relayed; the room goes on.
    honest.create("after").await;
    honest.settle(Duration::from_millis(500)).await;
    assert_eq!(honest.sticky_texts(), ["after", "before"]);
    let grown_disk = server.storage_bytes().saturating_sub(disk_before);
    let grown_rss = server.rss_bytes().saturating_sub(rss_before);
    assert!(grown_disk < 2 * MIB, "storage grew by {grown_disk} bytes");
    assert!(grown_rss < 48 * MIB, "memory grew by {grown_rss} bytes");
    let mut late = SyncClient::join(connect(&server).await, &link, "Dan").await;
    late.pump_until("both stickies", |c| c.sticky_texts().len() == 2)
        .await;
    assert_eq!(late.sticky_texts(), ["after", "before"]);
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_room_cannot_fully_integrate_reloads_the_room_and_members_converge() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("r", "editor");
    let mut ana = SyncClient::join(connect(&server).await, &link, "Ana").await;
    let mut ben = SyncClient::join(connect(&server).await, &link, "Ben").await;
    ana.create("kept").await;
    ben.pump_until("ana's sticky", |c| c.has_sticky("kept"))
        .await;

    // Typing by a client that starts at clock 0 (so no earlier update of
    // its own is missing) into a sticky the room has never had: yrs takes
    // the update and keeps the typing pending, waiting for its parent.
    let mut elsewhere = Board::with_client_id(0x5EED);
    let id = elsewhere
        .create(NewElement::sticky(0.0, 0.0, "elsewhere"))
        .unwrap();
    let mut typist = Board::from_update_with_client_id(&elsewhere.encode(), 0x7E57).unwrap();
    let orphan = updates_made(&mut typist, |b| b.insert_text(&id, 0, "orphan ").unwrap());
    refused_and_reloaded(&server, &link.token, orphan[0].clone()).await;

    // The members go on without reconnecting, and converge.
    ana.create("after the reload").await;
    ben.pump_until("the sticky after the reload", |c| {
        c.has_sticky("after the reload")
    })
    .await;
    ben.create("from ben").await;
    ana.pump_until("ben's sticky", |c| c.has_sticky("from ben"))
        .await;
    assert!(ana.refused.is_none() && ben.refused.is_none());
    let mut late = SyncClient::join(connect(&server).await, &link, "Chloe").await;
    late.pump_until("three stickies", |c| c.sticky_texts().len() == 3)
        .await;
    assert_eq!(late.sticky_texts(), ana.sticky_texts());
    assert_eq!(late.sticky_texts(), ben.sticky_texts());
    assert!(!late.board.has_missing_updates());
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_engine_fails_halfway_reloads_the_room_and_leaves_no_trace() {
    use yrs::{GetString, Transact};
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("r", "editor");
    let mut ana = SyncClient::join(connect(&server).await, &link, "Ana").await;
    ana.create("kept").await;

    refused_and_reloaded(&server, &link.token, HALF_INTEGRATED.to_vec()).await;

    // The half that yrs took is gone with the old document: a newcomer's
    // board has nothing in root `t`, and the room goes on.
    ana.create("after").await;
    let mut late = SyncClient::join(connect(&server).await, &link, "Ben").await;
    late.pump_until("both stickies", |c| c.sticky_texts().len() == 2)
        .await;
    let t = late.board.doc().get_or_insert_text("t");
    assert_eq!(t.get_string(&late.board.doc().transact()), "");
    assert!(ana.refused.is_none());
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_reading_is_cut_off_while_the_others_keep_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--max-send-queue-bytes", "1M"]);
    let link = server.link("r", "editor");
    let mut ana = SyncClient::join(connect(&server).await, &link, "Ana").await;
    let mut ben = SyncClient::join(connect(&server).await, &link, "Ben").await;

    // A member that joins and then never reads again.
    let (stalled, mut reader) = raw_member(&server, &link.token, "stalled").await;
    assert!(matches!(reader.next().await, Some(Frame::Welcome(_))));

    // 60 stickies of 100 KB: far more than the stalled member's flow
    // control window and send budget. Ben reads each before the next is
    // sent, so however slow this machine is, only the stalled member's
    // queue grows.
    for i in 0..60 {
        ana.create(&format!("{i}:{}", "x".repeat(100_000))).await;
        ben.pump_until("the sticky just sent", |c| c.sticky_texts().len() == i + 1)
            .await;
    }
    let closed = tokio::time::timeout(WAIT, stalled.closed())
        .await
        .expect("the member that stopped reading was not cut off");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(
                close.error_code,
                quinn::VarInt::from_u32(u32::from(ErrorCode::ServerError.code()))
            );
            assert!(String::from_utf8_lossy(&close.reason).contains("too slow"));
        }
        other => panic!("closed otherwise: {other}"),
    }
    assert!(server.logged("too slow to read"));
    // The others keep syncing.
    ben.create("still here").await;
    ana.pump_until("ben's sticky", |c| c.has_sticky("still here"))
        .await;
    assert!(server.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_storage_holds_senders_back_and_the_room_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &["--max-uncommitted-bytes", "1M"]);
    let link = server.link("r", "editor");
    let mut ana = SyncClient::join(connect(&server).await, &link, "Ana").await;
    let mut ben = SyncClient::join(connect(&server).await, &link, "Ben").await;
    ana.create("first").await;
    ben.pump_until("the first sticky", |c| c.has_sticky("first"))
        .await;
    let rss_before = server.rss_bytes();

    // Another process holds the database's write lock: every commit waits
    // (the server's busy timeout is 5 s).
    let db = rusqlite::Connection::open(server.dir.join("rooms.sqlite3")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let stalled_at = Instant::now();

    // Ana sends 120 stickies of 200 KB (24 MB) meanwhile.
    let sender = tokio::spawn(async move {
        for i in 0..120 {
            ana.create(&format!("{i}:{}", "y".repeat(200_000))).await;
        }
        ana
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let grown = server.rss_bytes().saturating_sub(rss_before);
    assert!(
        !sender.is_finished(),
        "all 24 MB were taken while storage was stalled"
    );
    db.execute_batch("COMMIT").unwrap();
    assert!(stalled_at.elapsed() < Duration::from_secs(5));
    assert!(
        grown < 40 * MIB,
        "server memory grew by {} MiB while storage was stalled",
        grown / MIB
    );

    // Storage is back: everything arrives, nothing was refused.
    let mut ana = tokio::time::timeout(Duration::from_secs(60), sender)
        .await
        .expect("the sender never finished")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ben.sticky_texts().len() < 121 {
        assert!(Instant::now() < deadline, "the room did not recover");
        ben.settle(Duration::from_millis(200)).await;
    }
    ana.settle(Duration::from_millis(200)).await;
    assert!(ana.refused.is_none() && ben.refused.is_none());
    assert!(server.stop().await.success());
}
