//! The real `touchpoint-server` binary on loopback, driven by minimal QUIC
//! clients written here: a pinning certificate verifier, raw frames, and
//! crdt's `ClientSession` for the sync conversation. Every test starts its
//! own server in its own data directory on port 0.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quinn::crypto::rustls::QuicClientConfig;
use touchpoint_crdt::protocol::{
    ClientEvent, ClientSession, ErrorCode, Frame, FrameDecoder, Hello, Limits, Refusal, Role,
};
use touchpoint_crdt::{Board, NewElement};
use touchpoint_sync::link::{ShareLink, parse_fingerprint};
use touchpoint_sync::token::{Grant, TokenKey, unix_now};
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};

const BIN: &str = env!("CARGO_BIN_EXE_touchpoint-server");
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The server process

struct ServerProc {
    child: Child,
    addr: SocketAddr,
    fingerprint: [u8; 32],
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProc {
    fn start(dir: &Path, extra: &[&str]) -> ServerProc {
        let started = Instant::now();
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("touchpoint-server: listening on ") {
                    drop(tx.send(line.clone()));
                }
                lines.lock().unwrap().push(line);
            }
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!(
                "the server did not start: {:?}",
                log.lock().unwrap().join("\n")
            )
        });
        // touchpoint-server: listening on ADDR, certificate sha256 HEX (self-signed), data in DIR
        let rest = line
            .strip_prefix("touchpoint-server: listening on ")
            .unwrap();
        let (addr, rest) = rest.split_once(", certificate sha256 ").unwrap();
        let (fp, _) = rest.split_once(' ').unwrap();
        eprintln!(
            "server started in {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        ServerProc {
            child,
            addr: addr.parse().unwrap(),
            fingerprint: parse_fingerprint(fp).unwrap(),
            dir: dir.to_owned(),
            log,
        }
    }

    /// A link from the real `share` command.
    fn link(&self, room: &str, role: &str) -> ShareLink {
        let out = Command::new(BIN)
            .args(["share", room, "--role", role, "--expires", "1h", "--host"])
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(&self.dir)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success());
        let link: ShareLink = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(link.fingerprint, Some(self.fingerprint));
        link
    }

    /// A link with a token made here (expired, forged, other room).
    fn link_with_token(&self, room: &str, token: String) -> ShareLink {
        ShareLink {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            room: room.to_owned(),
            fingerprint: Some(self.fingerprint),
            token,
        }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    async fn wait_logged(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.logged(needle) {
            assert!(Instant::now() < deadline, "never logged {needle:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then wait for the exit.
    async fn stop(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            drop(self.child.kill());
            drop(self.child.wait());
        }
        // TOUCHPOINT_SERVER_LOG=1 shows what the server logged.
        if std::env::var_os("TOUCHPOINT_SERVER_LOG").is_some() {
            eprintln!("--- server log\n{}", self.log.lock().unwrap().join("\n"));
        }
    }
}

// ---------------------------------------------------------------------------
// A minimal QUIC client

async fn connect_to(addr: SocketAddr, fingerprint: [u8; 32]) -> quinn::Connection {
    // The client library's pinning verifier; the rest of this client is
    // hand-made so the tests can send frames the library never would.
    let (crypto, _) = touchpoint_sync::client::tls::rustls_config(Some(fingerprint)).unwrap();
    let mut config =
        quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(crypto).unwrap()));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(500)));
    config.transport_config(Arc::new(transport));
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(config);
    endpoint.connect(addr, "localhost").unwrap().await.unwrap()
}

async fn connect(server: &ServerProc) -> quinn::Connection {
    connect_to(server.addr, server.fingerprint).await
}

/// One stream, frame by frame.
struct Peer {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

impl Peer {
    async fn open(conn: &quinn::Connection) -> Peer {
        let (send, recv) = conn.open_bi().await.unwrap();
        Peer {
            send,
            recv,
            decoder: FrameDecoder::new(Limits::DEFAULT),
        }
    }

    async fn send(&mut self, frame: &Frame) {
        self.raw(&frame.encode()).await;
    }

    /// Writes bytes. The server may refuse and stop reading before all of a
    /// refused message is written (that is its job): then the write ends
    /// with `Stopped`, and the refusal is read next.
    async fn raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.send.write_all(bytes).await {
            assert!(
                matches!(e, quinn::WriteError::Stopped(_)),
                "write failed: {e}"
            );
        }
    }

    /// The next frame; `None` when the server ended the stream.
    async fn next(&mut self) -> Option<Frame> {
        let mut buf = vec![0u8; 64 * 1024];
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(frame) = self.decoder.next_frame().unwrap() {
                    return Some(frame);
                }
                match self.recv.read(&mut buf).await {
                    Ok(Some(n)) => self.decoder.feed(&buf[..n]).unwrap(),
                    Ok(None) | Err(_) => return None,
                }
            }
        })
        .await
        .expect("no frame from the server")
    }

    /// Reads until the error frame, then checks that the stream ends.
    async fn refusal(&mut self) -> Refusal {
        loop {
            match self.next().await {
                Some(Frame::Error(refusal)) => {
                    assert_eq!(self.next().await, None, "stream goes on after {refusal}");
                    return refusal;
                }
                Some(_) => {}
                None => panic!("the stream ended without an error frame"),
            }
        }
    }
}

/// A client that joins with a link and syncs a board through crdt's
/// `ClientSession`.
struct SyncClient {
    conn: quinn::Connection,
    board: Board,
    session: ClientSession,
    peer: Peer,
    /// Latest presence seen per awareness client: JSON text.
    presence: HashMap<u64, String>,
    refused: Option<Refusal>,
}

impl SyncClient {
    async fn join(conn: quinn::Connection, link: &ShareLink, name: &str) -> SyncClient {
        let board = Board::new();
        let mut session = ClientSession::new(
            &board,
            Hello::new(link.room.clone(), link.token.clone(), name),
            Limits::DEFAULT,
        )
        .unwrap();
        session.connect();
        let peer = Peer::open(&conn).await;
        let mut client = SyncClient {
            conn,
            board,
            session,
            peer,
            presence: HashMap::new(),
            refused: None,
        };
        client
            .pump_until("synced", |c| {
                matches!(
                    c.session.state(),
                    touchpoint_crdt::protocol::ClientState::Synced { .. }
                )
            })
            .await;
        client
    }

    /// Sends whatever the session has queued (local edits, presence).
    async fn flush(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.peer.send(&frame).await;
        }
    }

    /// Creates a sticky note and sends the update.
    async fn create(&mut self, text: &str) {
        self.board.create(sticky(text)).unwrap();
        self.flush().await;
    }

    fn role(&self) -> Option<Role> {
        self.session.role()
    }

    /// Exchanges frames and datagrams until `done` holds.
    async fn pump_until(&mut self, what: &str, done: impl Fn(&SyncClient) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            self.flush().await;
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Presence(update) => {
                        for (client, entry) in update.clients {
                            self.presence.insert(client.get(), entry.json.to_string());
                        }
                    }
                    ClientEvent::Ended(refusal) => self.refused = Some(refusal),
                    _ => {}
                }
            }
            if done(self) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.session
            );
            tokio::select! {
                read = self.peer.recv.read(&mut buf) => match read {
                    Ok(Some(n)) => self.session.receive(&buf[..n], &mut self.board),
                    Ok(None) | Err(_) => self.session.stream_finished(),
                },
                datagram = self.conn.read_datagram() => {
                    if let Ok(bytes) = datagram {
                        self.session.handle_datagram(&bytes);
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Pumps for a while (to let anything that would arrive arrive).
    async fn settle(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        self.pump_until("nothing", |_| Instant::now() >= until)
            .await;
    }

    fn has_sticky(&self, text: &str) -> bool {
        self.board
            .elements()
            .iter()
            .any(|e| matches!(&e.body, touchpoint_crdt::Body::Sticky { text: t } if t == text))
    }

    fn sticky_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = self
            .board
            .elements()
            .into_iter()
            .filter_map(|e| match e.body {
                touchpoint_crdt::Body::Sticky { text } => Some(text),
                _ => None,
            })
            .collect();
        texts.sort();
        texts
    }

    async fn publish_presence(&mut self, json: &str) {
        let mut update = AwarenessUpdate {
            clients: Default::default(),
        };
        update.clients.insert(
            ClientID::new(self.board.client_id()),
            AwarenessUpdateEntry {
                clock: 1,
                json: Arc::from(json),
            },
        );
        self.session.send_presence(update);
        self.flush().await;
    }
}

fn sticky(text: &str) -> NewElement {
    NewElement::sticky(10.0, 20.0, text)
}

// ---------------------------------------------------------------------------
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
