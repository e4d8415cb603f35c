//! The real app in a real window: Xvfb gives it an X display, Mesa's
//! lavapipe a Vulkan device, xdotool plays the user. The test creates a
//! sticky note with text, a shape and a connector between them with the
//! keyboard shortcuts and the mouse, saves with Ctrl+S, quits with Ctrl+Q,
//! and checks with `touchpoint inspect` that the board file holds them; then
//! reopens the board, quits again, and renders it to PNG.
//!
//! A screenshot of the window is left at `target/tmp/window_e2e.png` for a
//! person to look at.
//!
//! Without Xvfb or xdotool this test FAILS, unless `TOUCHPOINT_SKIP_WINDOW=1`
//! is set (`scripts/test` installs them, with ImageMagick for the screenshot).

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{BIN, Session, have, inspect, kinds, skip_or_fail, start_xvfb, wait_exit};

#[test]
fn draw_a_journey_step_save_reopen_and_render() {
    for tool in ["Xvfb", "xdotool"] {
        if !have(tool) && skip_or_fail(&format!("{tool} is not installed")) {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (_xvfb, display) = start_xvfb();
    let s = Session {
        display,
        data: dir.path().join("data"),
        runtime,
    };
    let board = dir.path().join("journey.tpboard");
    let log = dir.path().join("app.log");
    let mut app = s.app(&board, &log);
    s.window("^journey .*Touchpoint$");

    // A sticky note (N, click) with text typed into the in-place editor.
    s.xdotool(&["mousemove", "400", "300"]);
    s.key("n");
    s.click_at(400, 300);
    s.xdotool(&["type", "--delay", "80", "Wait at counter"]);
    s.pause();
    s.key("Escape");
    // A shape (S, drag).
    s.key("s");
    s.drag((700, 250), (820, 360));
    // A connector (L) from the sticky's right edge to the shape.
    s.key("l");
    s.drag((480, 300), (760, 305));
    s.key("ctrl+s");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if have("import") {
        let shot = shots.join("window_e2e.png");
        let ok = s
            .command("import")
            .args(["-window", "root"])
            .arg(&shot)
            .status()
            .is_ok_and(|st| st.success());
        assert!(ok, "screenshot failed");
        eprintln!("screenshot: {}", shot.display());
    }
    s.key("ctrl+q");
    let status = wait_exit(&mut app);
    assert!(
        status.success(),
        "the app exited with {status}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let saved = inspect(&board);
    let mut k = kinds(&saved);
    k.sort();
    assert_eq!(k, ["connector", "shape", "sticky"], "{saved:#}");
    let elements = saved["elements"].as_array().unwrap();
    let sticky = elements.iter().find(|e| e["kind"] == "sticky").unwrap();
    assert_eq!(sticky["text"], "Wait at counter");
    let shape = elements.iter().find(|e| e["kind"] == "shape").unwrap();
    let connector = elements.iter().find(|e| e["kind"] == "connector").unwrap();
    assert_eq!(connector["from"]["id"], sticky["id"], "{connector:#}");
    assert_eq!(connector["to"]["id"], shape["id"], "{connector:#}");

    // Reopen: the same board comes back, and quitting changes nothing.
    let before = std::fs::read(&board).unwrap();
    let mut app = s.app(&board, &log);
    s.window("^journey .*Touchpoint$");
    s.key("ctrl+q");
    assert!(wait_exit(&mut app).success());
    assert_eq!(kinds(&inspect(&board)).len(), 3);
    assert_eq!(
        std::fs::read(&board).unwrap(),
        before,
        "an untouched board is not rewritten"
    );

    // And it renders offscreen with the same renderer.
    let png = dir.path().join("journey.png");
    let out = Command::new(BIN)
        .env("XDG_RUNTIME_DIR", &s.runtime)
        .args(["render"])
        .arg(&board)
        .arg("-o")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
}
