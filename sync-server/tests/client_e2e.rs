//! The sync client and the load generator against the real server binary
//! (`touchpoint-server`) on loopback, with links made by `touchpoint-server
//! share`. Server restarts here are graceful (SIGTERM: members get
//! `going_away`), so clients notice at once; a killed server is noticed
//! only after the QUIC idle timeout, which would make these tests slow.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use touchpoint_crdt::{Board, Element, NewElement};
use touchpoint_sync::client::{
    BackoffOptions, Client, ClientOptions, ConnectionState, Event, lock,
};
use touchpoint_sync::link::ShareLink;
use yrs::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;

const SERVER: &str = env!("CARGO_BIN_EXE_touchpoint-server");
const LOAD: &str = env!("CARGO_BIN_EXE_touchpoint-load");

/// A `touchpoint-server` child process.
struct Server {
    child: Child,
    addr: SocketAddr,
    data: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server on `listen` and waits for its start-up line.
    fn start(data: &Path, listen: &str) -> Server {
        let mut child = Command::new(SERVER)
            .args(["--listen", listen, "--data"])
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("touchpoint-server: listening on ") {
                        let addr = rest.split(',').next().unwrap_or_default().to_owned();
                        let _ = tx.send(addr);
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child,
            addr,
            data: data.to_owned(),
            log,
        }
    }

    /// An editor link for `room`, from `touchpoint-server share`.
    fn share(&self, room: &str) -> ShareLink {
        let out = Command::new(SERVER)
            .args(["share", room, "--role", "editor", "--data"])
            .arg(&self.data)
            .args(["--host", &self.addr.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Graceful stop (SIGTERM), waiting for the process to exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "server exited with {status}:\n{}",
                    self.log.lock().unwrap()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not stop:\n{}", self.log.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn options() -> ClientOptions {
    ClientOptions::default().with_backoff(
        BackoffOptions::DEFAULT
            .with_initial(Duration::from_millis(50))
            .with_max(Duration::from_millis(500)),
    )
}

fn board() -> Arc<Mutex<Board>> {
    Arc::new(Mutex::new(Board::new()))
}

fn elements(c: &Client) -> Vec<Element> {
    lock(c.board()).elements()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn synced(c: &Client) {
    let state = tokio::time::timeout(
        Duration::from_secs(30),
        c.wait_for(ConnectionState::is_synced),
    )
    .await
    .expect("client did not sync");
    assert!(state.is_synced(), "{state}");
}

async fn converged(clients: &[&Client]) {
    eventually("the boards to converge", || {
        let first = elements(clients[0]);
        !first.is_empty() && clients[1..].iter().all(|c| elements(c) == first)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_converge_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let link = server.share("workshop");
    let a = Client::connect(link.clone(), board(), options().with_name("Ana")).unwrap();
    let mut b = Client::connect(link, board(), options().with_name("Ben")).unwrap();
    synced(&a).await;
    synced(&b).await;

    let note = lock(a.board())
        .create(NewElement::sticky(0.0, 0.0, "pain point"))
        .unwrap();
    eventually("b to see the note", || {
        lock(b.board()).element(&note).is_some()
    })
    .await;
    lock(b.board()).insert_text(&note, 10, "s").unwrap();
    lock(a.board()).move_by(&[&note], 30.0, 0.0).unwrap();
    converged(&[&a, &b]).await;
    let el = lock(b.board()).element(&note).unwrap();
    assert_eq!((el.body.text(), el.geom.x), (Some("pain points"), 30.0));

    let presence = AwarenessUpdate {
        clients: [(
            ClientID::new(lock(a.board()).client_id()),
            AwarenessUpdateEntry {
                clock: 1,
                json: Arc::from(r#"{"user":{"name":"Ana"},"cursor":[3,4]}"#),
            },
        )]
        .into_iter()
        .collect(),
    };
    a.send_presence(presence.clone());
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match b.next_event().await {
                Some(Event::Presence(p)) if p == presence => break p,
                Some(_) => {}
                None => panic!("b closed"),
            }
        }
    })
    .await
    .expect("presence did not arrive");
    assert_eq!(got, presence);

    a.shutdown().await;
    b.shutdown().await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_while_the_server_is_down_merge_after_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let addr = server.addr;
    let link = server.share("restart");
    let a = Client::connect(link.clone(), board(), options()).unwrap();
    let b = Client::connect(link.clone(), board(), options()).unwrap();
    synced(&a).await;
    synced(&b).await;
    let note = lock(a.board())
        .create(NewElement::sticky(0.0, 0.0, "ab"))
        .unwrap();
    converged(&[&a, &b]).await;

    server.stop();
    for c in [&a, &b] {
        let s = c
            .wait_for(|s| matches!(s, ConnectionState::Offline { .. }))
            .await;
        assert!(matches!(s, ConnectionState::Offline { .. }), "{s}");
    }
    // Both edit the same note, and a makes a new one, while apart.
    lock(a.board()).insert_text(&note, 1, "X").unwrap();
    let offline = lock(a.board())
        .create(NewElement::sticky(9.0, 9.0, "made offline"))
        .unwrap();
    lock(b.board()).insert_text(&note, 2, "Y").unwrap();
    let s = a
        .wait_for(|s| matches!(s, ConnectionState::Offline { pending: 2.., .. }))
        .await;
    assert!(matches!(s, ConnectionState::Offline { .. }), "{s}");

    let server = Server::start(dir.path(), &addr.to_string());
    synced(&a).await;
    synced(&b).await;
    converged(&[&a, &b]).await;
    assert_eq!(
        lock(b.board()).element(&note).unwrap().body.text(),
        Some("aXbY")
    );
    assert!(lock(b.board()).element(&offline).is_some());

    // The server kept all of it: a newcomer gets the same board.
    let c = Client::connect(link, board(), options()).unwrap();
    synced(&c).await;
    converged(&[&a, &b, &c]).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_with_the_wrong_fingerprint_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let real = server.share("pinned");
    let mut link = real.clone();
    let mut wrong = real.fingerprint.unwrap();
    wrong[0] ^= 0xff;
    link.fingerprint = Some(wrong);
    let c = Client::connect(link, board(), options()).unwrap();
    let state = tokio::time::timeout(
        Duration::from_secs(30),
        c.wait_for(|s| matches!(s, ConnectionState::Refused { .. })),
    )
    .await
    .unwrap();
    let ConnectionState::Refused { code: None, reason } = state else {
        panic!("{state}")
    };
    assert_eq!(
        reason,
        format!(
            "server certificate does not match the link's fingerprint (expected {}, got {})",
            touchpoint_sync::link::hex(&wrong),
            touchpoint_sync::link::hex(&real.fingerprint.unwrap())
        )
    );
    server.stop();
}

#[test]
fn the_load_generator_passes_through_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let addr = server.addr;
    let links = [server.share("load-a"), server.share("load-b")];
    let child = Command::new(LOAD)
        .args(links.iter().map(|l| l.to_string()))
        .args([
            "--clients",
            "4",
            "--rooms",
            "2",
            "--rate",
            "20",
            "--duration",
            "4",
            "--settle",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    server.stop();
    let server = Server::start(dir.path(), &addr.to_string());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        out.status.success() && last.starts_with("PASS "),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(stdout.matches("identical").count(), 2, "{stdout}");
    server.stop();
}
