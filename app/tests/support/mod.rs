//! The harness for tests that run the real app in a real window: Xvfb gives
//! it an X display, Mesa's lavapipe a Vulkan device, xdotool plays the user.
//! Each test binary uses part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_touchpoint");
/// Generous: a debug build on a 2-core machine draws with a software GPU.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn skip_or_fail(what: &str) -> bool {
    if std::env::var_os("TOUCHPOINT_SKIP_WINDOW").is_some() {
        eprintln!("skipping the window test: {what} (TOUCHPOINT_SKIP_WINDOW is set)");
        return true;
    }
    panic!("{what}: install xvfb and xdotool (scripts/test does), or set TOUCHPOINT_SKIP_WINDOW=1");
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills its process when dropped, so a failing test leaves nothing behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X server on a display number it picks itself.
pub fn start_xvfb() -> (Guard, String) {
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

pub struct Session {
    pub display: String,
    pub data: PathBuf,
    pub runtime: PathBuf,
}

impl Session {
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display)
            .env("TOUCHPOINT_DATA_DIR", &self.data)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    pub fn xdotool(&self, args: &[&str]) {
        let status = self.command("xdotool").args(args).status().unwrap();
        assert!(status.success(), "xdotool {args:?} failed");
    }

    pub fn app(&self, board: &Path, log: &Path) -> Guard {
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
    pub fn window(&self, title: &str) -> String {
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

    pub fn pause(&self) {
        std::thread::sleep(Duration::from_millis(600));
    }

    pub fn key(&self, key: &str) {
        self.xdotool(&["key", key]);
        self.pause();
    }

    pub fn click_at(&self, x: u32, y: u32) {
        self.xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
        self.pause();
        self.xdotool(&["click", "1"]);
        self.pause();
    }

    pub fn drag(&self, from: (u32, u32), to: (u32, u32)) {
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

pub fn wait_exit(app: &mut Guard) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the app did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn inspect(board: &Path) -> serde_json::Value {
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

pub fn kinds(board: &serde_json::Value) -> Vec<String> {
    board["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A private runtime directory (the Vulkan loader wants one) and an X
/// display, for the apps of one test.
pub fn display(dir: &Path) -> (Guard, Session) {
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (xvfb, display) = start_xvfb();
    (
        xvfb,
        Session {
            display,
            data: dir.join("data"),
            runtime,
        },
    )
}

impl Session {
    /// Starts `touchpoint ARGS` with its own data directory, logging to `log`.
    pub fn spawn(&self, args: &[&str], data: &Path, log: &Path) -> Guard {
        let child = self
            .command(BIN)
            .args(args)
            .env("TOUCHPOINT_DATA_DIR", data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Guard(child)
    }

    /// The window of `app` (apps on one display may share a title). An app
    /// that exits or shows no window in time fails the test, with the last
    /// lines of `log` (its stderr, as [`Session::spawn`] writes it) if given.
    pub fn window_of(&self, app: &mut Guard, log: Option<&Path>) -> String {
        let pid = app.0.id();
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self
                .command("xdotool")
                .args([
                    "search",
                    "--all",
                    "--onlyvisible",
                    "--pid",
                    &pid.to_string(),
                    "--name",
                    "Touchpoint",
                ])
                .output()
                .unwrap();
            if let Some(id) = String::from_utf8_lossy(&out.stdout).lines().next() {
                return id.to_owned();
            }
            let exited = app.0.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let text = log
                    .and_then(|l| std::fs::read_to_string(l).ok())
                    .unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                match exited {
                    Some(status) => panic!(
                        "process {pid} exited ({status}) before showing a window; its log:\n{tail}"
                    ),
                    None => panic!("process {pid} shows no window; its log:\n{tail}"),
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn window_name(&self, id: &str) -> String {
        let out = self
            .command("xdotool")
            .args(["getwindowname", id])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Places window `id` at `x, y` with size `w x h` and waits for it to draw.
    pub fn place(&self, id: &str, x: u32, y: u32, w: u32, h: u32) {
        self.xdotool(&["windowmove", "--sync", id, &x.to_string(), &y.to_string()]);
        self.xdotool(&["windowsize", "--sync", id, &w.to_string(), &h.to_string()]);
        std::thread::sleep(Duration::from_secs(1));
    }

    pub fn focus(&self, id: &str) {
        // No window manager on Xvfb: raise and focus by hand.
        self.xdotool(&["windowraise", id]);
        self.xdotool(&["windowfocus", "--sync", id]);
        self.pause();
    }

    /// A screenshot of the whole display (ImageMagick's `import`).
    pub fn screenshot(&self, path: &Path) {
        let ok = self
            .command("import")
            .args(["-window", "root"])
            .arg(path)
            .status()
            .is_ok_and(|st| st.success());
        assert!(ok, "screenshot failed (is ImageMagick installed?)");
    }
}

/// Pixels of `png` inside `[x0, x1) x [y0, y1)` within `tol` of `rgb` on
/// every channel.
pub fn count_pixels(
    png_path: &Path,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    rgb: [u8; 3],
    tol: u8,
) -> usize {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "expected an RGB screenshot, got {:?}",
        info.color_type
    );
    assert_eq!(
        info.bit_depth,
        png::BitDepth::Eight,
        "expected 8-bit samples"
    );
    let mut n = 0;
    for y in y0..y1.min(info.height) {
        for x in x0..x1.min(info.width) {
            let i = (y as usize * info.width as usize + x as usize) * channels;
            let px = &buf[i..i + 3];
            if px.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= tol) {
                n += 1;
            }
        }
    }
    n
}

/// The `touchpoint-server` binary built beside `touchpoint`.
pub fn server_bin() -> PathBuf {
    let p = Path::new(BIN).with_file_name("touchpoint-server");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first (scripts/test does)",
        p.display()
    );
    p
}

/// Starts `touchpoint-server --data DATA ARGS` and waits until it listens;
/// returns it with the QUIC address it names. Its log is drained so it
/// never blocks on a full pipe.
pub fn start_server(data: &Path, args: &[&str]) -> (Guard, String) {
    let mut child = Command::new(server_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the server ended before listening"
        );
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(',').next().unwrap_or_default().to_owned();
        }
    };
    std::thread::spawn(move || for _ in err.lines() {});
    (Guard(child), addr)
}
