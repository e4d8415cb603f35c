//! Live collaboration with real processes: a `touchpoint-server` on
//! loopback, two app windows (`touchpoint join LINK`) side by side on one
//! Xvfb display driven by xdotool, a viewer's app, and headless clients (the
//! sync client library in this process) that watch the room and edit it.
//!
//! One scenario, in order, because each step builds on the last:
//! presence appears (the apps' names reach a headless client; a headless
//! participant's colour shows in an app's participants card) and disappears
//! when the headless client leaves; a sticky made in app A shows in app B
//! (its autosaved local copy, and yellow pixels in B's half of a
//! screenshot); a headless client (offline, then reconnecting) and app A
//! edit the same sticky's text concurrently and everyone converges; the
//! server is killed with SIGKILL while A keeps working, A is quit and
//! started again while the server is still down, the server restarts, and
//! A's offline sticky reaches B with nothing lost; a viewer's app cannot
//! change the board; quitting an app removes its presence.
//!
//! Screenshots are left in `target/tmp/collab_e2e_*.png`. Without Xvfb,
//! xdotool or ImageMagick this test FAILS unless `TOUCHPOINT_SKIP_WINDOW=1`.
//! It needs the `touchpoint-server` binary beside `touchpoint` (`cargo build
//! --workspace`, which `scripts/test` runs first).

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod support;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{
    Guard, Session, WAIT, count_pixels, have, inspect, server_bin, skip_or_fail, wait_exit,
};
use touchpoint::collab::presence::{LocalPresence, Peers};
use touchpoint::profile::Profile;
use touchpoint_crdt::{Board, Kind};
use touchpoint_sync::client::{Client, ClientOptions, Event};

const STICKY_YELLOW: [u8; 3] = [0xff, 0xf9, 0xb1];
/// The headless participant's colour: in no palette, so any pixel of it on
/// screen is its presence.
const MAGENTA: [u8; 3] = [0xff, 0x00, 0xff];

/// A free UDP port on loopback (the server is restarted on the same one).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(data: &Path, addr: &str) -> Guard {
    support::start_server(data, &["--listen", addr]).0
}

fn share(data: &Path, room: &str, role: &str, addr: &str) -> String {
    let out = Command::new(server_bin())
        .args(["share", room, "--role", role, "--host", addr, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A participant without a window: the sync client library on a board of
/// its own, with presence, in this process.
struct Headless {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    board: Arc<Mutex<Board>>,
    peers: Peers,
    me: LocalPresence,
}

impl Headless {
    fn join(link: &str, name: &str, color: &str) -> Headless {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let board = Arc::new(Mutex::new(Board::from_update(&[0, 0]).unwrap()));
        let client = {
            let _g = rt.enter();
            Client::connect(
                link.parse().unwrap(),
                board.clone(),
                ClientOptions::default().with_name(name),
            )
            .unwrap()
        };
        let own = board.lock().unwrap().client_id();
        let me = LocalPresence::new(
            own,
            &Profile {
                name: name.into(),
                color: color.into(),
            },
        );
        let mut h = Headless {
            rt,
            client: Some(client),
            board,
            peers: Peers::default(),
            me,
        };
        h.wait("the headless client to sync", |h| {
            h.client.as_ref().unwrap().state().is_synced()
        });
        h
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    fn pump(&mut self) {
        let own = self.me.client();
        if let Some(c) = self.client.as_mut() {
            while let Some(e) = c.try_next_event() {
                if let Event::Presence(update) = e {
                    self.peers.apply(&update, own);
                }
            }
        }
    }

    fn wait(&mut self, what: &str, mut ok: impl FnMut(&Headless) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.pump();
            if ok(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} (state {}, peers {:?}, stickies {:?})",
                self.client().state(),
                self.peer_names(),
                self.texts()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn peer_names(&self) -> Vec<String> {
        let mut n: Vec<String> = self
            .peers
            .iter()
            .map(|p| p.state.user.name.clone())
            .collect();
        n.sort();
        n
    }

    fn publish(&mut self) {
        let update = self.me.poll(Instant::now(), true).unwrap();
        self.client().send_presence_reliably(update);
    }

    fn texts(&self) -> Vec<String> {
        sticky_texts_of(&self.board.lock().unwrap())
    }

    fn leave(mut self) {
        let bye = self.me.leave();
        let client = self.client.take().unwrap();
        client.send_presence_reliably(bye);
        self.rt.block_on(client.shutdown());
    }
}

fn sticky_texts_of(board: &Board) -> Vec<String> {
    let mut t: Vec<String> = board
        .elements()
        .into_iter()
        .filter(|e| e.kind() == Kind::Sticky)
        .filter_map(|e| e.body.text().map(str::to_owned))
        .collect();
    t.sort();
    t
}

/// The stickies' texts in an app's local copy (its autosave).
fn file_texts(data: &Path) -> Vec<String> {
    let dir = data.join("shared");
    let Some(file) = std::fs::read_dir(&dir).ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "tpboard"))
    }) else {
        return Vec::new();
    };
    let json = inspect(&file);
    let mut t: Vec<String> = json["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sticky")
        .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    t.sort();
    t
}

/// Polls `ok`; on time-out leaves a screenshot for the person debugging.
fn wait_until(s: &Session, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        if Instant::now() >= deadline {
            let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("collab_e2e_timeout.png");
            s.screenshot(&shot);
            panic!("timed out waiting for {what} (screen: {})", shot.display());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn write_profile(data: &Path, name: &str, color: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(
        data.join("profile.json"),
        format!(r#"{{"name":"{name}","color":"{color}"}}"#),
    )
    .unwrap();
}

/// Right half of the 1280x800 display: app B's window.
const B_REGION: (u32, u32, u32, u32) = (640, 0, 1280, 800);

#[test]
fn two_apps_collaborate_through_a_server_restart() {
    for tool in ["Xvfb", "xdotool", "import"] {
        if !have(tool) && skip_or_fail(&format!("{tool} is not installed")) {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (_xvfb, s) = support::display(dir.path());
    let server_data = dir.path().join("server");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = start_server(&server_data, &addr);
    let editor = share(&server_data, "workshop", "editor", &addr);
    let viewer = share(&server_data, "workshop", "viewer", &addr);

    let (data_a, data_b, data_c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    write_profile(&data_a, "Ana", "#e53935");
    write_profile(&data_b, "Ben", "#43a047");
    write_profile(&data_c, "Cleo", "#3f51b5");
    let mut app_a = s.spawn(&["join", &editor], &data_a, &dir.path().join("a.log"));
    let mut app_b = s.spawn(&["join", &editor], &data_b, &dir.path().join("b.log"));
    let win_a = s.window_of(&mut app_a, Some(&dir.path().join("a.log")));
    let win_b = s.window_of(&mut app_b, Some(&dir.path().join("b.log")));
    s.place(&win_a, 0, 0, 640, 800);
    s.place(&win_b, 640, 0, 640, 800);

    // Presence appears: both apps' names reach a headless participant...
    let mut watcher = Headless::join(&editor, "Headless", "#ff00ff");
    watcher.wait("Ana and Ben's presence", |h| {
        h.peer_names() == ["Ana", "Ben"]
    });
    // ...and the headless participant's colour appears in B's window.
    let before = shots.join("collab_e2e_before_presence.png");
    s.screenshot(&before);
    assert_eq!(count_pixels(&before, B_REGION, MAGENTA, 2), 0);
    watcher.publish();
    let joined = shots.join("collab_e2e_presence.png");
    wait_until(&s, "the headless participant in B's window", || {
        s.screenshot(&joined);
        count_pixels(&joined, B_REGION, MAGENTA, 2) > 100
    });

    // An edit in A shows in B: its local copy and its window.
    assert_eq!(count_pixels(&before, B_REGION, STICKY_YELLOW, 6), 0);
    s.focus(&win_a);
    s.xdotool(&["mousemove", "320", "420"]);
    s.key("n");
    s.click_at(320, 420);
    s.xdotool(&["type", "--delay", "60", "From Ana"]);
    s.pause();
    s.key("Escape");
    wait_until(&s, "A's sticky in B's local copy", || {
        file_texts(&data_b) == ["From Ana"]
    });
    let edited = shots.join("collab_e2e_edit.png");
    wait_until(&s, "A's sticky drawn in B's window", || {
        s.screenshot(&edited);
        count_pixels(&edited, B_REGION, STICKY_YELLOW, 6) > 2000
    });
    watcher.wait("A's sticky at the watcher", |h| h.texts() == ["From Ana"]);

    // Presence disappears when a participant leaves.
    watcher.leave();
    let left = shots.join("collab_e2e_left.png");
    wait_until(&s, "the headless participant gone from B's window", || {
        s.screenshot(&left);
        count_pixels(&left, B_REGION, MAGENTA, 2) == 0
    });

    // Concurrent edits of one sticky's text: a headless client edits it
    // offline while A types into it; both edits survive, everyone converges.
    let mut other = Headless::join(&editor, "Offline editor", "#00897b");
    other.wait("the sticky at the headless editor", |h| {
        h.texts() == ["From Ana"]
    });
    other.client().set_online(false);
    other.wait("the headless editor offline", |h| {
        !h.client().state().is_synced()
    });
    {
        let mut board = other.board.lock().unwrap();
        let id = board
            .elements()
            .into_iter()
            .find(|e| e.kind() == Kind::Sticky)
            .unwrap()
            .id;
        board.set_text(&id, "From Ana [H]").unwrap();
    }
    s.focus(&win_a);
    s.xdotool(&["mousemove", "330", "430"]);
    s.pause();
    s.xdotool(&["click", "--repeat", "2", "--delay", "80", "1"]);
    s.pause();
    s.key("ctrl+End");
    s.xdotool(&["type", "--delay", "60", " !A"]);
    s.pause();
    s.key("Escape");
    wait_until(&s, "A's typing in B's copy", || {
        file_texts(&data_b)
            .first()
            .is_some_and(|t| t.contains("!A"))
    });
    other.client().set_online(true);
    other.wait("the headless editor back in sync", |h| {
        h.client().state().is_synced()
    });
    let converged = |t: &[String]| {
        t.len() == 1 && t[0].contains("[H]") && t[0].contains("!A") && t[0].starts_with("From Ana")
    };
    other.wait("the merged text at the headless editor", |h| {
        converged(&h.texts())
    });
    let merged = other.texts();
    wait_until(&s, "the merged text in A's and B's copies", || {
        file_texts(&data_a) == merged && file_texts(&data_b) == merged
    });
    other.leave();

    // The server dies (SIGKILL) while A keeps working; restarted on the
    // same port and data, the apps reconnect and nothing is lost.
    drop(server);
    s.focus(&win_a);
    s.xdotool(&["mousemove", "320", "680"]);
    s.key("n");
    s.click_at(320, 680);
    s.xdotool(&["type", "--delay", "60", "Written offline"]);
    s.pause();
    s.key("Escape");
    wait_until(&s, "A's offline sticky in A's own copy", || {
        file_texts(&data_a).contains(&"Written offline".to_owned())
    });
    assert!(
        !file_texts(&data_b).contains(&"Written offline".to_owned()),
        "B cannot have it while the server is down"
    );
    let offline = shots.join("collab_e2e_offline.png");
    s.screenshot(&offline);
    // A quits and starts again while the server is still down: the local
    // copy keeps the offline work across the restart.
    s.focus(&win_a);
    s.key("ctrl+q");
    let status = wait_exit(&mut app_a);
    assert!(status.success(), "A exited with {status}");
    app_a = s.spawn(&["join", &editor], &data_a, &dir.path().join("a2.log"));
    let win_a = s.window_of(&mut app_a, Some(&dir.path().join("a2.log")));
    s.place(&win_a, 0, 0, 640, 800);
    server = start_server(&server_data, &addr);
    let mut expected = merged.clone();
    expected.push("Written offline".to_owned());
    expected.sort();
    wait_until(
        &s,
        "A's offline sticky in B's copy after the restart",
        || file_texts(&data_b) == expected,
    );
    let mut fresh = Headless::join(&editor, "Late", "#6d4c41");
    fresh.wait("everything at a client joining after the restart", |h| {
        h.texts() == expected
    });
    fresh.wait("Ana and Ben back", |h| h.peer_names() == ["Ana", "Ben"]);

    // A viewer's app: view only, and nothing it tries reaches anyone.
    let mut app_c = s.spawn(&["join", &viewer], &data_c, &dir.path().join("c.log"));
    let win_c = s.window_of(&mut app_c, Some(&dir.path().join("c.log")));
    s.place(&win_c, 320, 100, 640, 600);
    wait_until(&s, "the viewer's window to say view only", || {
        s.window_name(&win_c).contains("view only")
    });
    fresh.wait("the viewer's presence", |h| {
        h.peer_names() == ["Ana", "Ben", "Cleo"]
    });
    s.focus(&win_c);
    s.xdotool(&["mousemove", "500", "300"]);
    s.key("n");
    s.click_at(500, 300);
    s.xdotool(&["type", "--delay", "60", "viewer"]);
    s.key("Delete");
    s.key("Escape");
    std::thread::sleep(Duration::from_secs(2));
    fresh.pump();
    assert_eq!(fresh.texts(), expected, "a viewer changed the room");
    assert_eq!(
        file_texts(&data_c),
        expected,
        "the viewer's copy changed locally"
    );
    s.screenshot(&shots.join("collab_e2e_viewer.png"));

    // Quitting removes an app's presence; every app exits cleanly.
    for (app, win, name) in [
        (&mut app_c, &win_c, "Cleo"),
        (&mut app_b, &win_b, "Ben"),
        (&mut app_a, &win_a, "Ana"),
    ] {
        s.focus(win);
        s.key("ctrl+q");
        let status = wait_exit(app);
        assert!(status.success(), "{name}'s app exited with {status}");
        fresh.wait(&format!("{name}'s presence to go"), |h| {
            !h.peer_names().contains(&name.to_owned())
        });
    }
    assert_eq!(file_texts(&data_a), expected);
    assert_eq!(file_texts(&data_b), expected);
    fresh.leave();
    drop(server);
}
