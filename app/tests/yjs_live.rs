//! The desktop app and an unmodified Yjs client in one room, live: the
//! app's session (egui_kittest harness, the real `Collab` and `Session`)
//! joins a real `touchpoint-server` over QUIC while npm `y-websocket` in
//! Node joins the same room over the server's WebSocket listener; each sees
//! the other's sticky and presence name.
//!
//! Needs the `touchpoint-server` binary beside `touchpoint` (`cargo build
//! --workspace`, as scripts/test does), Node and `npm ci` in `tests/js`:
//! FAILS without the last two unless `TOUCHPOINT_SKIP_INTEROP=1`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod collab_support;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use collab_support::{harness, run_until, shut_down, state};
use support::{server_bin, start_server};
use touchpoint::profile::Profile;
use touchpoint_crdt::NewElement;

#[test]
fn the_app_and_a_y_websocket_client_share_a_room_live() {
    if std::env::var("TOUCHPOINT_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipped: TOUCHPOINT_SKIP_INTEROP=1");
        return;
    }
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    assert!(
        js.join("node_modules/y-websocket").is_dir(),
        "run `npm ci` in {} (or set TOUCHPOINT_SKIP_INTEROP=1 to skip)",
        js.display()
    );
    let data = tempfile::tempdir().unwrap();
    let (_server, addr) = start_server(
        data.path(),
        &["--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0"],
    );
    let out = Command::new(server_bin())
        .args([
            "share", "live", "--role", "editor", "--host", &addr, "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");

    let mut s = state("live");
    s.collab
        .set_profile(Profile {
            name: "Ana".into(),
            color: "#e53935".into(),
        })
        .unwrap();
    s.collab.join(&mut s.ws, lines[0].parse().unwrap()).unwrap();
    let mut h = harness(s);
    run_until(&mut h, "the connection", |h| {
        h.state()
            .collab
            .session()
            .is_some_and(|s| s.status().is_connected())
    });
    {
        let ws = &mut h.state_mut().ws;
        ws.board
            .create(NewElement::sticky(0.0, 0.0, "from Ana"))
            .unwrap();
        ws.sync();
    }
    let yjs = Command::new("node")
        .args(["ws_client.mjs", "join", &lines[1], "JS", "from Ana", "Ana"])
        .current_dir(&js)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (install Node.js, or set TOUCHPOINT_SKIP_INTEROP=1)");
    run_until(&mut h, "the Yjs client's sticky and presence", |h| {
        let s = h.state();
        let sticky = s.ws.board.elements().iter().any(
            |e| matches!(&e.body, touchpoint_crdt::Body::Sticky { text } if text == "from JS"),
        );
        let present = s
            .collab
            .session()
            .is_some_and(|session| session.peers().iter().any(|p| p.state.user.name == "JS"));
        sticky && present
    });
    let out = yjs.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""peers":["Ana"]"#), "{stdout}");
    shut_down(&mut h);
}
