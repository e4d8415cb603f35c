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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_touchpoint");
/// Generous: a debug build on a 2-core machine draws with a software GPU.
const WAIT: Duration = Duration::from_secs(60);

fn skip_or_fail(what: &str) -> bool {
    if std::env::var_os("TOUCHPOINT_SKIP_WINDOW").is_some() {
        eprintln!("skipping the window test: {what} (TOUCHPOINT_SKIP_WINDOW is set)");
        return true;
    }
    panic!("{what}: install xvfb and xdotool (scripts/test does), or set TOUCHPOINT_SKIP_WINDOW=1");
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills its process when dropped, so a failing test leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X server on a display number it picks itself.
fn start_xvfb() -> (Guard, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    assert!(display.len() > 1, "Xvfb did not report a display");
    (Guard(child), display)
}

struct Session {
    display: String,
    data: PathBuf,
    runtime: PathBuf,
}

impl Session {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display)
            .env("TOUCHPOINT_DATA_DIR", &self.data)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    fn xdotool(&self, args: &[&str]) {
        let status = self.command("xdotool").args(args).status().unwrap();
        assert!(status.success(), "xdotool {args:?} failed");
    }

    fn app(&self, board: &Path, log: &Path) -> Guard {
        let child = self
            .command(BIN)
            .arg(board)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Guard(child)
    }

    /// Waits for the app's window (`title` is a regular expression, matched
    /// by xdotool against the window name) and gives it the keyboard.
    fn window(&self, title: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self
                .command("xdotool")
                .args(["search", "--name", title])
                .output()
                .unwrap();
            let id = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(str::to_owned);
            if let Some(id) = id {
                self.xdotool(&["windowfocus", "--sync", &id]);
                // The first frames (pipeline and font set-up) take a while.
                std::thread::sleep(Duration::from_secs(2));
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no window titled {title:?} (a regular expression)"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn pause(&self) {
        std::thread::sleep(Duration::from_millis(600));
    }

    fn key(&self, key: &str) {
        self.xdotool(&["key", key]);
        self.pause();
    }

    fn click_at(&self, x: u32, y: u32) {
        self.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
        self.pause();
        self.xdotool(&["click", "1"]);
        self.pause();
    }

    fn drag(&self, from: (u32, u32), to: (u32, u32)) {
        self.xdotool(&["mousemove", &from.0.to_string(), &from.1.to_string()]);
        self.pause();
        self.xdotool(&["mousedown", "1"]);
        self.pause();
        let mid = ((from.0 + to.0) / 2, (from.1 + to.1) / 2);
        for p in [mid, to] {
            self.xdotool(&["mousemove", &p.0.to_string(), &p.1.to_string()]);
            self.pause();
        }
        self.xdotool(&["mouseup", "1"]);
        self.pause();
    }
}

fn wait_exit(app: &mut Guard) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the app did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn inspect(board: &Path) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("inspect")
        .arg(board)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kinds(board: &serde_json::Value) -> Vec<String> {
    board["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

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
