//! The harness shared by the server's end-to-end tests: the real
//! `touchpoint-server` binary on loopback, driven by minimal QUIC clients
//! written here: a pinning certificate verifier, raw frames, and crdt's
//! `ClientSession` for the sync conversation. Every test starts its own
//! server in its own data directory on port 0.

#![allow(dead_code)] // each test binary uses part of the harness

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quinn::crypto::rustls::QuicClientConfig;
use touchpoint_crdt::protocol::{
    ClientEvent, ClientSession, Frame, FrameDecoder, Hello, Limits, Refusal, Role,
};
use touchpoint_crdt::{Board, NewElement};
use touchpoint_sync::link::{ShareLink, parse_fingerprint};
use yrs::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;

/// The server binary under test: this build's, or another build named by
/// `TOUCHPOINT_SERVER_BIN` (to show that a test fails against an older one).
pub fn bin() -> std::ffi::OsString {
    std::env::var_os("TOUCHPOINT_SERVER_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_touchpoint-server").into())
}
pub const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The server process

pub struct ServerProc {
    pub child: Child,
    pub addr: SocketAddr,
    pub fingerprint: [u8; 32],
    pub dir: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServerProc {
    pub fn start(dir: &Path, extra: &[&str]) -> ServerProc {
        let started = Instant::now();
        let mut child = Command::new(bin())
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
    pub fn link(&self, room: &str, role: &str) -> ShareLink {
        let link: ShareLink = self.share_lines(room, role)[0].parse().unwrap();
        assert_eq!(link.fingerprint, Some(self.fingerprint));
        link
    }

    /// What the real `share` command prints, line by line: the link, then
    /// (when the server listens for WebSockets) the `ws://` URL.
    pub fn share_lines(&self, room: &str, role: &str) -> Vec<String> {
        let out = Command::new(bin())
            .args(["share", room, "--role", role, "--expires", "1h", "--host"])
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(&self.dir)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A link with a token made here (expired, forged, other room).
    pub fn link_with_token(&self, room: &str, token: String) -> ShareLink {
        ShareLink {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            room: room.to_owned(),
            fingerprint: Some(self.fingerprint),
            token,
        }
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    pub async fn wait_logged(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.logged(needle) {
            assert!(Instant::now() < deadline, "never logged {needle:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server process's resident memory, from /proc.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    /// Bytes of the server's database and its write-ahead log.
    pub fn storage_bytes(&self) -> u64 {
        ["rooms.sqlite3", "rooms.sqlite3-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// SIGTERM, then wait for the exit.
    pub async fn stop(mut self) -> ExitStatus {
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

pub async fn connect_to(addr: SocketAddr, fingerprint: [u8; 32]) -> quinn::Connection {
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

pub async fn connect(server: &ServerProc) -> quinn::Connection {
    connect_to(server.addr, server.fingerprint).await
}

/// One stream, frame by frame.
pub struct Peer {
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
    pub decoder: FrameDecoder,
}

impl Peer {
    pub async fn open(conn: &quinn::Connection) -> Peer {
        let (send, recv) = conn.open_bi().await.unwrap();
        Peer {
            send,
            recv,
            decoder: FrameDecoder::new(Limits::DEFAULT),
        }
    }

    pub async fn send(&mut self, frame: &Frame) {
        self.raw(&frame.encode()).await;
    }

    /// Writes bytes. The server may refuse and stop reading before all of a
    /// refused message is written (that is its job): then the write ends
    /// with `Stopped`, and the refusal is read next.
    pub async fn raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.send.write_all(bytes).await {
            assert!(
                matches!(e, quinn::WriteError::Stopped(_)),
                "write failed: {e}"
            );
        }
    }

    /// The next frame; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Frame> {
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
    pub async fn refusal(&mut self) -> Refusal {
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
pub struct SyncClient {
    pub conn: quinn::Connection,
    pub board: Board,
    pub session: ClientSession,
    pub peer: Peer,
    /// Latest presence seen per awareness client: JSON text.
    pub presence: HashMap<u64, String>,
    /// Awareness messages received (a snapshot may come in several).
    pub presence_messages: usize,
    pub refused: Option<Refusal>,
}

impl SyncClient {
    pub async fn join(conn: quinn::Connection, link: &ShareLink, name: &str) -> SyncClient {
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
            presence_messages: 0,
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
    pub async fn flush(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.peer.send(&frame).await;
        }
    }

    /// Creates a sticky note and sends the update.
    pub async fn create(&mut self, text: &str) {
        self.board.create(sticky(text)).unwrap();
        self.flush().await;
    }

    pub fn role(&self) -> Option<Role> {
        self.session.role()
    }

    /// Exchanges frames and datagrams until `done` holds.
    pub async fn pump_until(&mut self, what: &str, done: impl Fn(&SyncClient) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            self.flush().await;
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Presence(update) => {
                        self.presence_messages += 1;
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
    pub async fn settle(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        self.pump_until("nothing", |_| Instant::now() >= until)
            .await;
    }

    pub fn has_sticky(&self, text: &str) -> bool {
        self.board
            .elements()
            .iter()
            .any(|e| matches!(&e.body, touchpoint_crdt::Body::Sticky { text: t } if t == text))
    }

    pub fn sticky_texts(&self) -> Vec<String> {
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

    pub async fn publish_presence(&mut self, json: &str) {
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

pub fn sticky(text: &str) -> NewElement {
    NewElement::sticky(10.0, 20.0, text)
}
