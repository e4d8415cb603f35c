//! Unmodified Yjs clients (npm `y-websocket` 3.1.0 and `yjs` in Node, from
//! `tests/js`'s lockfile) in the same rooms as QUIC members, against the
//! real `touchpoint-server` with `--ws-listen`: edits and presence both
//! ways, a viewer's edit refused with 4403 and applied nowhere, a bad token
//! closed once with 4401 and never retried.
//!
//! Needs Node and `npm ci` in `tests/js` (`scripts/test` does both): FAILS
//! without them unless `TOUCHPOINT_SKIP_INTEROP=1`. The browser test runs
//! Debian's Chromium headless (npm `playwright-core`, the page bundled by
//! npm `esbuild`): FAILS without it unless `TOUCHPOINT_SKIP_BROWSER=1`. The hostile-peer tests
//! at the end use a raw WebSocket client and need neither.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{ServerProc, SyncClient, connect};

/// `tests/js`, ready to run, or `None` when the interop tests are skipped.
fn js_dir() -> Option<PathBuf> {
    if std::env::var("TOUCHPOINT_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipped: TOUCHPOINT_SKIP_INTEROP=1");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    assert!(
        dir.join("node_modules/y-websocket").is_dir(),
        "run `npm ci` in {} (or set TOUCHPOINT_SKIP_INTEROP=1 to skip)",
        dir.display()
    );
    Some(dir)
}

/// Runs `node ws_client.mjs ARGS` on a thread; its output when it exits.
fn node(dir: &std::path::Path, args: &[&str]) -> tokio::task::JoinHandle<Output> {
    node_with(dir, args, &[])
}

/// [`node`] with environment variables.
fn node_with(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> tokio::task::JoinHandle<Output> {
    node_script(dir, "ws_client.mjs", args, env)
}

/// Runs `node SCRIPT ARGS` in `dir` with `env` on a thread.
fn node_script(
    dir: &std::path::Path,
    script: &str,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> tokio::task::JoinHandle<Output> {
    let child = Command::new("node")
        .envs(env.iter().copied())
        .arg(script)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (install Node.js, or set TOUCHPOINT_SKIP_INTEROP=1)");
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
}

/// The real server with a WebSocket listener, and `extra` flags.
fn started(extra: &[&str]) -> (tempfile::TempDir, ServerProc) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--ws-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = ServerProc::start(dir.path(), &args);
    (dir, server)
}

/// A QUIC member called Rust, present (`user.name`) and with a sticky
/// "from Rust" on the board.
async fn rust_member(server: &ServerProc, link: &touchpoint_sync::link::ShareLink) -> SyncClient {
    let mut rust = SyncClient::join(connect(server).await, link, "Rust").await;
    rust.publish_presence(r##"{"user":{"name":"Rust","color":"#e53935"}}"##)
        .await;
    rust.create("from Rust").await;
    rust
}

/// The `ws://` URL `share` prints after the link.
fn ws_url(server: &ServerProc, room: &str, role: &str) -> String {
    let lines = server.share_lines(room, role);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("ws://127.0.0.1:"), "{lines:?}");
    lines[1].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_yjs_client_joins_over_wss_with_a_certificate_it_trusts() {
    let Some(js) = js_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A certificate for 127.0.0.1 that Node is told to trust, as a
    // browser trusts an organisation's certificate.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_pem, key_pem) = (dir.path().join("ws.pem"), dir.path().join("ws.key"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let server = ServerProc::start(
        &data,
        &[
            "--ws-listen",
            "127.0.0.1:0",
            "--ws-cert",
            cert_pem.to_str().unwrap(),
            "--ws-key",
            key_pem.to_str().unwrap(),
        ],
    );
    let lines = server.share_lines("secure", "editor");
    assert!(lines[1].starts_with("wss://127.0.0.1:"), "{lines:?}");
    let link = lines[0].parse().unwrap();
    let mut rust = rust_member(&server, &link).await;
    let yjs = node_with(
        &js,
        &["join", &lines[1], "JS", "from Rust", "Rust"],
        &[("NODE_EXTRA_CA_CERTS", &cert_pem)],
    );
    rust.pump_until("the Yjs client's sticky", |c| c.has_sticky("from JS"))
        .await;
    let out = yjs.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Plain ws:// to a TLS listener gets nowhere.
    let plain = lines[1].replacen("wss://", "ws://", 1);
    assert!(tokio_tungstenite::connect_async(plain).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_yjs_client_over_websocket_and_a_quic_client_share_edits_and_presence() {
    let Some(js) = js_dir() else { return };
    let (_dir, server) = started(&[]);
    let link = server.link("workshop", "editor");
    let url = ws_url(&server, "workshop", "editor");
    let mut rust = rust_member(&server, &link).await;
    let yjs = node(&js, &["join", &url, "JS", "from Rust", "Rust"]);
    rust.pump_until("the Yjs client's sticky and presence", |c| {
        c.has_sticky("from JS") && c.presence.values().any(|p| p.contains(r#""name":"JS""#))
    })
    .await;
    let out = yjs.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("converged"), "{stdout}");
    assert!(stdout.contains(r#""peers":["Rust"]"#), "{stdout}");
    // When it leaves, its presence goes with it.
    rust.pump_until("the Yjs client's presence removed", |c| {
        c.presence.values().any(|p| p.trim() == "null")
    })
    .await;
    assert_eq!(rust.sticky_texts(), ["from JS", "from Rust"]);
}

/// Debian's Chromium, or `None` when browser tests are skipped.
fn chromium() -> Option<PathBuf> {
    if std::env::var("TOUCHPOINT_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("skipped: TOUCHPOINT_SKIP_BROWSER=1");
        return None;
    }
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (scripts/test does), or set \
         TOUCHPOINT_SKIP_BROWSER=1 to skip",
        path.display()
    );
    Some(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_page_with_y_websocket_and_a_quic_client_converge() {
    let Some(js) = js_dir() else { return };
    let Some(browser) = chromium() else { return };
    let (_dir, server) = started(&[]);
    let link = server.link("browser", "editor");
    let url = ws_url(&server, "browser", "editor");
    let mut rust = rust_member(&server, &link).await;
    let page = node_script(
        &js,
        "browser_client.mjs",
        &[&url, "Chromium", "from Rust"],
        &[("CHROMIUM", &browser)],
    );
    rust.pump_until("the browser's sticky", |c| c.has_sticky("from Chromium"))
        .await;
    let out = page.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("converged") && stdout.contains("HeadlessChrome"),
        "{stdout}"
    );
    assert!(stdout.contains("from Rust"), "{stdout}");
}

/// The older provider (npm y-websocket 1.5.4, still widely deployed) speaks
/// the same messages: it converges and its viewer is refused alike.
#[tokio::test(flavor = "multi_thread")]
async fn the_y_websocket_1_5_provider_converges_and_its_viewer_is_refused() {
    let Some(js) = js_dir() else { return };
    let (_dir, server) = started(&[]);
    let link = server.link("older", "editor");
    let url = ws_url(&server, "older", "editor");
    let viewer = ws_url(&server, "older", "viewer");
    let old = std::path::Path::new("y-websocket-1");
    let mut rust = rust_member(&server, &link).await;
    let yjs = node_with(
        &js,
        &["join", &url, "Old", "from Rust", "Rust"],
        &[("Y_WEBSOCKET", old)],
    );
    rust.pump_until("the 1.5 client's sticky", |c| c.has_sticky("from Old"))
        .await;
    let out = yjs.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = node_with(&js, &["viewer", &viewer], &[("Y_WEBSOCKET", old)])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "closed 4403");
    rust.settle(Duration::from_millis(300)).await;
    assert_eq!(rust.sticky_texts(), ["from Old", "from Rust"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_yjs_viewers_edit_is_refused_with_4403_and_reaches_nobody() {
    let Some(js) = js_dir() else { return };
    let (_dir, server) = started(&[]);
    let link = server.link("talk", "editor");
    let viewer = ws_url(&server, "talk", "viewer");
    let mut rust = SyncClient::join(connect(&server).await, &link, "Rust").await;
    rust.create("the agenda").await;
    let out = node(&js, &["viewer", &viewer]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "closed 4403");
    rust.settle(Duration::from_millis(500)).await;
    assert_eq!(rust.sticky_texts(), ["the agenda"]);
    // Nor is it stored: a newcomer gets the board without it.
    let mut late = SyncClient::join(connect(&server).await, &link, "Late").await;
    late.pump_until("the board", |c| c.has_sticky("the agenda"))
        .await;
    assert_eq!(late.sticky_texts(), ["the agenda"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_closes_once_with_4401_and_the_provider_stops() {
    let Some(js) = js_dir() else { return };
    let (_dir, server) = started(&[]);
    let url = ws_url(&server, "room", "editor");
    let (base, _) = url.split_once("token=").unwrap();
    let forged = format!("{base}token=AQEAAAAAAAAAAG5vdCBhIHRva2Vu");
    let out = node(&js, &["refused", &forged, "3000"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), r#"{"attempts":1,"code":4401}"#);
}

// ---------------------------------------------------------------------------
// Hostile peers, with a raw WebSocket client

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads until the server closes; the close code, or `None` when the
/// connection ended without a close frame.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the server did not close the connection");
        match next {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// The first binary message the server sends: a y-protocols message.
async fn first_message(socket: &mut Socket) -> Vec<u8> {
    loop {
        match tokio::time::timeout(support::WAIT, socket.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => return b.to_vec(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no message from the server: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_message_closes_with_4413_and_the_next_client_is_served() {
    let (_dir, server) = started(&["--max-frame-bytes", "64K", "--max-doc-bytes", "32K"]);
    let url = ws_url(&server, "room", "editor");
    let mut big = open(&url).await;
    // An update message far over the 64 KiB limit: refused before it is
    // buffered whole.
    let mut message = vec![0u8, 2];
    message.extend(std::iter::repeat_n(7u8, 4 << 20));
    drop(big.send(Message::Binary(message.into())).await);
    assert_eq!(close_code(&mut big).await, Some(4413));
    // A well-behaved client is still served: sync step 1 first.
    let mut next = open(&url).await;
    assert_eq!(&first_message(&mut next).await[..2], &[0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_closes_with_4529_and_a_text_message_with_4400() {
    let (_dir, server) = started(&["--messages-per-second", "20", "--message-burst", "40"]);
    let url = ws_url(&server, "room", "editor");
    let mut flood = open(&url).await;
    // Awareness queries (y-protocols message 3), as fast as they go.
    for _ in 0..500 {
        if flood.send(Message::Binary(vec![3u8].into())).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut flood).await, Some(4529));
    let mut text = open(&url).await;
    text.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(close_code(&mut text).await, Some(4400));
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_per_address_are_capped_before_and_after_the_upgrade() {
    use tokio::io::AsyncReadExt;
    let (_dir, server) = started(&["--max-connections-per-ip", "2"]);
    let url = ws_url(&server, "room", "editor");
    // Members over the cap are refused with a close code the provider
    // retries later (room_full).
    let mut a = open(&url).await;
    let mut b = open(&url).await;
    first_message(&mut a).await;
    first_message(&mut b).await;
    let mut c = open(&url).await;
    assert_eq!(close_code(&mut c).await, Some(4503));
    drop((a, b, c));
    // Connections that never upgrade: at most twice the cap are held; the
    // next is closed at once.
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut over = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(support::WAIT, over.read(&mut buf))
        .await
        .expect("the connection over the cap was not closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Once they go, a member is served again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut d = open(&url).await;
    assert_eq!(&first_message(&mut d).await[..2], &[0, 0]);
}

/// `touchpoint-load fanout` (light clients) gets every edit to every other
/// client through the WebSocket endpoint, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_fanout_load_counts_every_delivery() {
    let (_dir, server) = started(&[]);
    let url = ws_url(&server, "fanout", "editor");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_touchpoint-load"))
            .args([
                "fanout",
                &url,
                "--clients",
                "4",
                "--rate",
                "5",
                "--duration",
                "1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "..., D of E expected": every edit reached the three other clients.
    let tail: Vec<&str> = stdout.split_whitespace().rev().take(4).collect();
    let (delivered, expected) = (tail[3], tail[1]);
    assert_eq!(delivered, expected, "{stdout}");
    assert!(expected.parse::<u32>().unwrap() >= 3 * 4, "{stdout}");
}
