//! The sync client against a minimal in-process relay server on loopback:
//! real QUIC, real TLS, the crdt's `ServerMember` for the protocol, rooms kept
//! in memory (kept across a "restart" to stand in for durable storage). It
//! tests the client without the real server; `client_e2e.rs` runs it against
//! `touchpoint-server`.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;
use touchpoint_crdt::protocol::{
    ALPN, ErrorCode, Frame, Hello, Limits, MemberEvent, MemberId, Refusal, Role, Room, Rooms,
    ServerMember, datagram_channel, encode_presence_datagram,
};
use touchpoint_crdt::test_vectors::HALF_INTEGRATED;
use touchpoint_crdt::{Board, Element, NewElement};
use touchpoint_sync::client::tls::fingerprint;
use touchpoint_sync::client::{Client, ClientOptions, ConnectionState, Event, lock};
use touchpoint_sync::link::ShareLink;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};

// ---------------------------------------------------------------------------
// A relay server

/// Tokens: `edit:<room>` admits as editor, `view:<room>` as viewer,
/// anything else is refused.
#[derive(Default)]
struct TestRooms {
    rooms: HashMap<String, Room>,
}

impl Rooms for TestRooms {
    fn admit(&mut self, _member: MemberId, hello: &Hello) -> Result<Role, Refusal> {
        let role = if hello.token == format!("edit:{}", hello.room) {
            Role::Editor
        } else if hello.token == format!("view:{}", hello.room) {
            Role::Viewer
        } else {
            return Err(Refusal::new(
                ErrorCode::Unauthorized,
                "unknown access token",
            ));
        };
        self.rooms
            .entry(hello.room.clone())
            .or_insert_with(Room::empty);
        Ok(role)
    }

    fn room_mut(&mut self, name: &str) -> Option<&mut Room> {
        self.rooms.get_mut(name)
    }
}

#[derive(Default)]
struct State {
    rooms: TestRooms,
    /// Joined members: their room, their stream's writer, and their
    /// connection and channel for presence datagrams.
    members: HashMap<MemberId, Joined>,
    next_id: MemberId,
}

struct Joined {
    room: String,
    out: mpsc::UnboundedSender<Vec<u8>>,
    conn: quinn::Connection,
    channel: u64,
}

struct Identity {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Identity {
    fn new() -> Identity {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        Identity {
            cert: c.cert.der().clone(),
            key: c.signing_key.serialize_der(),
        }
    }

    fn fingerprint(&self) -> [u8; 32] {
        fingerprint(&self.cert)
    }
}

struct TestServer {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(identity: &Identity, port: u16, rooms: TestRooms) -> TestServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![identity.cert.clone()],
                PrivateKeyDer::try_from(identity.key.clone()).unwrap(),
            )
            .unwrap();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(Arc::new(tls)).unwrap();
        let config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // A restarted server may find the port briefly busy.
        let mut tries = 0;
        let endpoint = loop {
            match quinn::Endpoint::server(config.clone(), addr) {
                Ok(e) => break e,
                Err(e) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = e;
                }
                Err(e) => panic!("cannot bind {addr}: {e}"),
            }
        };
        let addr = endpoint.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            rooms,
            ..State::default()
        }));
        let task = tokio::spawn(accept(endpoint.clone(), state.clone()));
        TestServer {
            endpoint,
            addr,
            state,
            task,
        }
    }

    fn link(&self, identity: &Identity, room: &str) -> ShareLink {
        ShareLink {
            host: "127.0.0.1".to_owned(),
            port: self.addr.port(),
            room: room.to_owned(),
            fingerprint: Some(identity.fingerprint()),
            token: format!("edit:{room}"),
        }
    }

    /// Stops as a restarting server does (connections closed), keeping its
    /// rooms as durable storage would.
    async fn stop(self) -> TestRooms {
        self.endpoint.close(0u32.into(), b"restarting");
        self.task.abort();
        self.endpoint.wait_idle().await;
        let mut state = self.state.lock().unwrap();
        state.members.clear();
        std::mem::take(&mut state.rooms)
    }
}

async fn accept(endpoint: quinn::Endpoint, state: Arc<Mutex<State>>) {
    while let Some(incoming) = endpoint.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            // Datagrams go to the stream task of the channel they name.
            let routes: Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>>> = Arc::default();
            let datagrams = {
                let (conn, routes) = (conn.clone(), routes.clone());
                tokio::spawn(async move {
                    while let Ok(d) = conn.read_datagram().await {
                        let to = datagram_channel(&d)
                            .and_then(|c| routes.lock().unwrap().get(&c).cloned());
                        if let Some(to) = to {
                            let _ = to.send(d.to_vec());
                        }
                    }
                })
            };
            let mut channel = 0;
            while let Ok((send, recv)) = conn.accept_bi().await {
                channel += 1;
                let (tx, rx) = mpsc::unbounded_channel();
                routes.lock().unwrap().insert(channel, tx);
                tokio::spawn(serve_stream(
                    state.clone(),
                    conn.clone(),
                    channel,
                    send,
                    recv,
                    rx,
                ));
            }
            datagrams.abort();
        });
    }
}

async fn serve_stream(
    state: Arc<Mutex<State>>,
    conn: quinn::Connection,
    channel: u64,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    mut datagrams: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if send.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = send.finish();
    });
    let id = {
        let mut s = state.lock().unwrap();
        s.next_id += 1;
        s.next_id
    };
    let mut member = ServerMember::new(id, channel, Instant::now(), Limits::DEFAULT);
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    let mut injected = false;
    while open {
        enum Input {
            Bytes(usize),
            Datagram(Vec<u8>),
            End,
        }
        let input = tokio::select! {
            read = recv.read(&mut buf) => match read {
                Ok(Some(n)) => Input::Bytes(n),
                _ => Input::End,
            },
            Some(d) = datagrams.recv() => Input::Datagram(d),
        };
        let mut s = state.lock().unwrap();
        match input {
            Input::Bytes(n) => member.receive(&buf[..n], Instant::now(), &mut s.rooms),
            Input::Datagram(d) => member.handle_datagram(&d, Instant::now(), &mut s.rooms),
            Input::End => {
                member.connection_lost(&mut s.rooms);
                open = false;
            }
        }
        if let Some(room) = member.room()
            && member.is_joined()
        {
            s.members.insert(
                id,
                Joined {
                    room: room.to_owned(),
                    out: tx.clone(),
                    conn: conn.clone(),
                    channel,
                },
            );
        }
        let room = member.room().map(str::to_owned);
        let others = |s: &State| -> Vec<(mpsc::UnboundedSender<Vec<u8>>, quinn::Connection, u64)> {
            s.members
                .iter()
                .filter(|(other, j)| **other != id && Some(&j.room) == room.as_ref())
                .map(|(_, j)| (j.out.clone(), j.conn.clone(), j.channel))
                .collect()
        };
        while let Some(event) = member.poll_event() {
            match event {
                MemberEvent::Send(frame) => {
                    let _ = tx.send(frame.encode());
                }
                MemberEvent::DocUpdate(update) => {
                    let frame = Frame::Sync(SyncMessage::Update(update)).encode();
                    for (out, _, _) in others(&s) {
                        let _ = out.send(frame.clone());
                    }
                }
                MemberEvent::Presence(update) => {
                    // As a datagram where it fits, as the protocol says.
                    for (out, conn, channel) in others(&s) {
                        let d = encode_presence_datagram(channel, &update);
                        if conn.max_datagram_size().is_some_and(|m| d.len() <= m) {
                            let _ = conn.send_datagram(d.into());
                        } else {
                            let _ = out.send(Frame::Awareness(update.clone()).encode());
                        }
                    }
                }
                MemberEvent::Close => open = false,
            }
        }
        // A broken or hostile server: in rooms named "broken ...", each
        // member gets an update that yrs integrates only half of.
        if !injected && member.is_joined() && member.room().is_some_and(|r| r.starts_with("broken"))
        {
            injected = true;
            let _ = tx.send(Frame::Sync(SyncMessage::Update(HALF_INTEGRATED.to_vec())).encode());
        }
        if !open {
            s.members.remove(&id);
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn board() -> Arc<Mutex<Board>> {
    Arc::new(Mutex::new(Board::new()))
}

fn elements(client: &Client) -> Vec<Element> {
    lock(client.board()).elements()
}

fn options() -> ClientOptions {
    ClientOptions::default().with_backoff(
        touchpoint_sync::client::BackoffOptions::DEFAULT
            .with_initial(Duration::from_millis(50))
            .with_max(Duration::from_millis(500)),
    )
}

async fn synced(client: &Client) {
    let state = tokio::time::timeout(
        Duration::from_secs(20),
        client.wait_for(ConnectionState::is_synced),
    )
    .await
    .expect("client did not sync");
    assert!(state.is_synced(), "{state}");
}

async fn converged(a: &Client, b: &Client) {
    eventually("the boards to converge", || {
        let (ea, eb) = (elements(a), elements(b));
        !ea.is_empty() && ea == eb
    })
    .await;
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_and_see_each_others_presence() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let link = server.link(&id, "journey map");
    let a = Client::connect(link.clone(), board(), options().with_name("Ana")).unwrap();
    let mut b = Client::connect(link, board(), options().with_name("Ben")).unwrap();
    synced(&a).await;
    synced(&b).await;
    assert!(matches!(
        a.state(),
        ConnectionState::Synced {
            role: Role::Editor,
            ..
        }
    ));

    let note = lock(a.board())
        .create(NewElement::sticky(10.0, 20.0, "hello"))
        .unwrap();
    eventually("b to see a's sticky", || {
        lock(b.board()).element(&note).is_some()
    })
    .await;
    lock(b.board()).move_by(&[&note], 5.0, 5.0).unwrap();
    lock(b.board()).insert_text(&note, 5, " from Ben").unwrap();
    lock(a.board()).insert_text(&note, 0, "Ana: ").unwrap();
    converged(&a, &b).await;
    let el = lock(a.board()).element(&note).unwrap();
    assert_eq!(el.body.text(), Some("Ana: hello from Ben"));
    assert_eq!((el.geom.x, el.geom.y), (15.0, 25.0));

    // Presence, as a datagram, reaches the other member.
    let presence = AwarenessUpdate {
        clients: [(
            ClientID::new(lock(a.board()).client_id()),
            AwarenessUpdateEntry {
                clock: 1,
                json: Arc::from(r#"{"cursor":[1,2]}"#),
            },
        )]
        .into_iter()
        .collect(),
    };
    a.send_presence(presence.clone());
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match b.next_event().await {
                Some(Event::Presence(p)) => break p,
                Some(_) => {}
                None => panic!("b closed"),
            }
        }
    })
    .await
    .expect("no presence arrived");
    assert_eq!(got, presence);

    a.shutdown().await;
    b.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_offline_merge_when_back_online() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let link = server.link(&id, "offline");
    let a = Client::connect(link.clone(), board(), options()).unwrap();
    let b = Client::connect(link, board(), options()).unwrap();
    synced(&a).await;
    synced(&b).await;
    let note = lock(a.board())
        .create(NewElement::sticky(0.0, 0.0, "ab"))
        .unwrap();
    converged(&a, &b).await;

    a.set_online(false);
    let state = a
        .wait_for(|s| matches!(s, ConnectionState::Offline { retry_in: None, .. }))
        .await;
    assert!(
        matches!(state, ConnectionState::Offline { pending: 0, .. }),
        "{state}"
    );
    // Both edit the same note while apart, and a makes a new one.
    lock(a.board()).insert_text(&note, 1, "X").unwrap();
    let offline_note = lock(a.board())
        .create(NewElement::sticky(50.0, 0.0, "made offline"))
        .unwrap();
    lock(b.board()).insert_text(&note, 2, "Y").unwrap();
    let state = a
        .wait_for(|s| matches!(s, ConnectionState::Offline { pending: 2, .. }))
        .await;
    assert!(
        state
            .to_string()
            .contains("offline with 2 pending local changes"),
        "{state}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(lock(b.board()).element(&offline_note).is_none());

    a.set_online(true);
    synced(&a).await;
    eventually("the offline note to reach b", || {
        lock(b.board()).element(&offline_note).is_some()
    })
    .await;
    converged(&a, &b).await;
    assert_eq!(
        lock(b.board()).element(&note).unwrap().body.text(),
        Some("aXbY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_after_a_server_restart_and_merge_what_happened_meanwhile() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let port = server.addr.port();
    let link = server.link(&id, "restart");
    let a = Client::connect(link.clone(), board(), options()).unwrap();
    let b = Client::connect(link, board(), options()).unwrap();
    synced(&a).await;
    synced(&b).await;
    let before = lock(a.board())
        .create(NewElement::sticky(0.0, 0.0, "before"))
        .unwrap();
    converged(&a, &b).await;

    let rooms = server.stop().await;
    for c in [&a, &b] {
        let s = c
            .wait_for(|s| {
                matches!(
                    s,
                    ConnectionState::Offline {
                        retry_in: Some(_),
                        ..
                    }
                )
            })
            .await;
        assert!(matches!(s, ConnectionState::Offline { .. }), "{s}");
    }
    let during_a = lock(a.board())
        .create(NewElement::sticky(1.0, 0.0, "a, server down"))
        .unwrap();
    let during_b = lock(b.board())
        .create(NewElement::sticky(2.0, 0.0, "b, server down"))
        .unwrap();
    lock(b.board()).move_by(&[&before], 100.0, 0.0).unwrap();

    let server = TestServer::start(&id, port, rooms).await;
    synced(&a).await;
    synced(&b).await;
    converged(&a, &b).await;
    for note in [&before, &during_a, &during_b] {
        assert!(lock(a.board()).element(note).is_some(), "{note} lost");
    }
    assert_eq!(lock(a.board()).element(&before).unwrap().geom.x, 100.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_leaves_the_board_suspect_stops_the_client_and_says_so() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let link = server.link(&id, "broken room");
    let mut client = Client::connect(link, board(), options().with_name("Ana")).unwrap();
    let reported = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = client.next_event().await {
            if let Event::BoardSuspect { reason } = event {
                return reason;
            }
        }
        panic!("the client ended without reporting the suspect board");
    })
    .await
    .expect("no BoardSuspect event");
    assert!(
        reported.contains("update from the server refused"),
        "{reported}"
    );
    // It does not reconnect with that board.
    let state = tokio::time::timeout(
        Duration::from_secs(20),
        client.wait_for(|s| matches!(s, ConnectionState::Refused { .. })),
    )
    .await
    .expect("the client did not stop");
    assert!(
        matches!(
            state,
            ConnectionState::Refused {
                code: Some(ErrorCode::BadUpdate),
                ..
            }
        ),
        "{state}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_fingerprint_is_refused_with_a_clear_error() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let mut link = server.link(&id, "pinned");
    link.fingerprint = Some([0xab; 32]);
    let c = Client::connect(link, board(), options()).unwrap();
    let state = c
        .wait_for(|s| matches!(s, ConnectionState::Refused { .. }))
        .await;
    let ConnectionState::Refused { code, reason } = state else {
        panic!("{state}")
    };
    assert_eq!(code, None);
    let expected = format!(
        "server certificate does not match the link's fingerprint (expected {}, got {})",
        "ab".repeat(32),
        touchpoint_sync::link::hex(&id.fingerprint())
    );
    assert_eq!(reason, expected);
    // Refused for good: no retry follows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(c.state(), ConnectionState::Refused { .. }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_refused_with_the_servers_reason() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let mut link = server.link(&id, "locked");
    link.token = "edit:another-room".to_owned();
    let c = Client::connect(link, board(), options()).unwrap();
    let state = c
        .wait_for(|s| matches!(s, ConnectionState::Refused { .. }))
        .await;
    assert_eq!(
        state,
        ConnectionState::Refused {
            code: Some(ErrorCode::Unauthorized),
            reason: "unknown access token".to_owned()
        }
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_retrying_until_the_server_appears() {
    let id = Identity::new();
    // Reserve a port, then free it: nothing listens there yet.
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let link = ShareLink {
        host: "localhost".to_owned(),
        port,
        room: "late".to_owned(),
        fingerprint: Some(id.fingerprint()),
        token: "edit:late".to_owned(),
    };
    let c = Client::connect(link, board(), options()).unwrap();
    lock(c.board())
        .create(NewElement::sticky(0.0, 0.0, "early"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.state().is_synced());
    let server = TestServer::start(&id, port, TestRooms::default()).await;
    synced(&c).await;
    eventually("the early note on the server", || {
        server
            .state
            .lock()
            .unwrap()
            .rooms
            .rooms
            .get("late")
            .is_some_and(|r| r.board().len() == 1)
    })
    .await;
    server.stop().await;
}

#[test]
fn the_load_generator_passes_through_a_server_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let id = Identity::new();
    let server = runtime.block_on(TestServer::start(&id, 0, TestRooms::default()));
    let port = server.addr.port();
    let links = [server.link(&id, "load-1"), server.link(&id, "load-2")];
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_touchpoint-load"))
        .args(links.iter().map(|l| l.to_string()))
        .args([
            "--clients",
            "4",
            "--rate",
            "20",
            "--duration",
            "4",
            "--settle",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Restart the server while they edit.
    std::thread::sleep(Duration::from_millis(2000));
    let rooms = runtime.block_on(server.stop());
    std::thread::sleep(Duration::from_millis(500));
    let server = runtime.block_on(TestServer::start(&id, port, rooms));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        out.status.success() && last.starts_with("PASS "),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("identical"), "{stdout}");
    runtime.block_on(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fingerprint_a_self_signed_server_is_not_trusted() {
    let id = Identity::new();
    let server = TestServer::start(&id, 0, TestRooms::default()).await;
    let mut link = server.link(&id, "unpinned");
    link.fingerprint = None;
    let c = Client::connect(link, board(), options()).unwrap();
    let state = c
        .wait_for(|s| matches!(s, ConnectionState::Refused { .. }))
        .await;
    let ConnectionState::Refused { code: None, reason } = state else {
        panic!("{state}")
    };
    // Checked against the system's roots, which do not include it (or, on a
    // machine without a root store, none could be loaded).
    assert!(
        reason.contains("UnknownIssuer") || reason.contains("no trusted root certificates"),
        "{reason}"
    );
    server.stop().await;
}
