//! The app window: winit events in, one egui pass per frame, the canvas and
//! egui drawn by [`gpu::Gpu`], the board autosaved between frames.
//!
//! The loop sleeps until something happens (input, an egui repaint request,
//! the autosave deadline): an idle board costs no CPU.
//!
//! - [`canvas`]: input on the canvas (camera, tools, shortcuts), text editor
//! - [`overlay`]: selection, handles, hover, gesture previews
//! - [`panels`]: menu, toolbar, properties, status, path dialog
//! - [`settings`]: data directory and recent boards
//! - [`collab_ui`]: Share, Join, participants, follow, collaborators' cursors
//!
//! A shared board's sync client runs on a tokio thread ([`crate::collab`])
//! and wakes the loop with a user event when something arrives.

pub mod canvas;
pub mod collab_ui;
pub mod csv_export;
pub mod export;
mod frame_log;
mod gpu;
pub mod grid_panel;
pub mod overlay;
pub mod panels;
pub mod settings;
pub mod templates_picker;
pub mod workshop;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use winit::application::ApplicationHandler;
use winit::dpi::LogicalSize;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop, EventLoopProxy};
use winit::window::{Window, WindowId};

use crate::collab::Collab;
use canvas::CanvasInput;
use collab_ui::CollabCommand;
use gpu::Gpu;
use panels::{Command, Panels};
use settings::Settings;
use touchpoint_editor::workspace::Workspace;
use touchpoint_scene::geom::Vec2;

/// Opens the window on `board` (created when missing), or on a new board in
/// the data directory. Returns when the window closes; the board is saved.
pub fn run(board: Option<PathBuf>) -> anyhow::Result<()> {
    run_with(Launch::Board(board))
}

/// `touchpoint join LINK`: opens the local copy of the link's board (kept in
/// the data directory) and joins its room.
pub fn run_join(link: &str) -> anyhow::Result<()> {
    // The link's errors say what is wrong with it in full.
    let link: touchpoint_sync::link::ShareLink = link.trim().parse()?;
    run_with(Launch::Join(link))
}

/// `touchpoint share BOARD`: opens the board and hosts it at once, printing
/// the editor and viewer links on stdout.
pub fn run_share(board: PathBuf) -> anyhow::Result<()> {
    run_with(Launch::Share(board))
}

enum Launch {
    Board(Option<PathBuf>),
    Join(touchpoint_sync::link::ShareLink),
    Share(PathBuf),
}

/// Wakes the event loop from the sync client's thread.
#[derive(Debug, Clone, Copy)]
struct Wake;

fn run_with(launch: Launch) -> anyhow::Result<()> {
    let mut settings = Settings::load();
    let mut collab = Collab::new(settings.data_dir());
    let mut share = false;
    let (workspace, join) = match launch {
        Launch::Share(path) => {
            share = true;
            (Workspace::open_or_create(&path)?, None)
        }
        Launch::Board(board) => {
            let path = match board {
                Some(p) => p,
                None => settings.new_board_path().with_context(|| {
                    format!("cannot create a board in {}", settings.data_dir().display())
                })?,
            };
            (Workspace::open_or_create(&path)?, None)
        }
        Launch::Join(link) => {
            let path = collab.local_copy_path(&link)?;
            (open_local_copy(&path)?, Some(link))
        }
    };
    settings.add_recent(workspace.file.path());
    let event_loop = EventLoop::<Wake>::with_user_event()
        .build()
        .context("cannot open a window (is a display available?)")?;
    collab.set_waker(waker(event_loop.create_proxy()));
    let mut shell = Shell {
        panels: Panels {
            recent: settings.recent().to_vec(),
            ..Panels::default()
        },
        settings,
        workspace,
        canvas: CanvasInput::default(),
        egui: egui::Context::default(),
        running: None,
        error: None,
        repaint_at: None,
        session_wake: None,
        fit_when_content: false,
        title: String::new(),
        collab,
        frame_log: frame_log::FrameLog::from_env(),
    };
    setup_egui(&shell.egui);
    match join {
        Some(link) => {
            shell.join_room(link);
            shell.panels.collab.ask_profile_if_unknown(&shell.collab);
        }
        None => shell.resume_sharing(),
    }
    if share {
        let info = match shell.collab.session() {
            Some(s) => s.info().clone(),
            None => shell.collab.host(&mut shell.workspace)?,
        };
        let mut out = std::io::stdout().lock();
        for link in [&info.editor_link, &info.viewer_link].into_iter().flatten() {
            writeln!(out, "{link}")?;
        }
        out.flush()?;
    }
    event_loop.run_app(&mut shell)?;
    // An export the user started finishes before the process ends (it
    // writes to a temporary file, so an interrupted one would leave nothing).
    if let Some(mut job) = shell.panels.export_job.take()
        && let Some(Err(e)) = job.wait()
    {
        tracing::warn!("export failed: {e}");
    }
    shell.workspace.stop_editing();
    shell.collab.shutdown(&mut shell.workspace);
    // Stores the last changes and folds the journal into the board file.
    if shell.workspace.close().is_err() {
        tracing::warn!("the last changes could not be saved");
    }
    match shell.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn waker(proxy: EventLoopProxy<Wake>) -> touchpoint_sync::client::Waker {
    touchpoint_sync::client::Waker::new(move || {
        // Fails only once the loop has ended.
        let _ = proxy.send_event(Wake);
    })
}

/// Opens a joined board's local copy, or starts an empty one: not
/// `Board::new`, whose title and schema fields would compete with the
/// room's own when merged. The new copy is written once something arrives
/// (autosave), so an empty file is never left behind.
fn open_local_copy(path: &Path) -> anyhow::Result<Workspace> {
    if path.exists() {
        return Ok(Workspace::open_or_create(path)?);
    }
    let board = touchpoint_crdt::Board::from_update(&EMPTY_UPDATE)
        .map_err(|e| anyhow::anyhow!("cannot start a local copy: {e}"))?;
    Ok(Workspace::with_board(board, path.to_owned()))
}

/// A Yjs update v1 with nothing in it: no structs, no deletions.
const EMPTY_UPDATE: [u8; 2] = [0, 0];

/// Light theme (the board is light), no egui zoom on Ctrl+plus/minus (the
/// canvas zooms), and the bundled DejaVu Sans as a fallback font so the
/// toolbar's symbols (arrows, shapes) have glyphs.
pub fn setup_egui(ctx: &egui::Context) {
    ctx.options_mut(|o| {
        o.zoom_with_keyboard = false;
        // egui's default makes one wheel notch zoom by ~1.5x; Miro steps
        // by ~1.2x, which keeps the board readable while zooming.
        o.input_options.scroll_zoom_speed = 1.0 / 400.0;
    });
    ctx.set_visuals(egui::Visuals::light());
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "dejavu".to_owned(),
        Arc::new(egui::FontData::from_static(
            touchpoint_scene::text::FONT_BYTES,
        )),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("dejavu".to_owned());
    }
    ctx.set_fonts(fonts);
}

struct Running {
    window: Arc<Window>,
    gpu: Gpu,
    egui_state: egui_winit::State,
}

struct Shell {
    settings: Settings,
    workspace: Workspace,
    panels: Panels,
    canvas: CanvasInput,
    egui: egui::Context,
    running: Option<Running>,
    error: Option<anyhow::Error>,
    /// When egui asked for its next frame.
    repaint_at: Option<Instant>,
    /// When the collaboration session wants to run next.
    session_wake: Option<Instant>,
    /// A board just joined: zoom to its content once it arrives.
    fit_when_content: bool,
    title: String,
    collab: Collab,
    /// `TOUCHPOINT_FRAME_LOG`, for the benchmark.
    frame_log: Option<frame_log::FrameLog>,
}

impl Shell {
    fn start(&mut self, event_loop: &ActiveEventLoop) -> anyhow::Result<()> {
        let attrs = Window::default_attributes()
            .with_title("Touchpoint")
            .with_inner_size(LogicalSize::new(1280.0, 800.0))
            .with_min_inner_size(LogicalSize::new(480.0, 320.0));
        let window = Arc::new(
            event_loop
                .create_window(attrs)
                .context("cannot open a window")?,
        );
        let gpu = Gpu::new(window.clone(), event_loop.owned_display_handle())?;
        tracing::info!("window on {}", gpu.adapter_name());
        let egui_state = egui_winit::State::new(
            self.egui.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(gpu.max_texture_side()),
        );
        let size = window.inner_size();
        self.workspace.set_viewport(
            Vec2::new(f64::from(size.width), f64::from(size.height)),
            window.scale_factor(),
        );
        self.workspace.zoom_to_fit();
        window.request_redraw();
        self.running = Some(Running {
            window,
            gpu,
            egui_state,
        });
        Ok(())
    }

    /// An update from the room may have left part of itself in the board:
    /// drop the session without syncing that board, reopen the board from
    /// its file (its last autosave, which never held the bad update) and
    /// rejoin; the first sync brings back what the room has that the file
    /// lacks. Offline, edits from the last half second (not yet autosaved)
    /// are lost with the suspect board.
    fn reopen_suspect_board(&mut self, reason: &str) {
        tracing::warn!("reopening the board from its file: {reason}");
        let path = self.workspace.file.path().to_owned();
        self.collab.abandon();
        // The bad update is among the unsaved ones: never stored. What was
        // stored is folded in before the file is read again.
        self.workspace.discard_unsaved();
        let _ = self.workspace.close();
        match Workspace::open_or_create(&path) {
            Ok(mut ws) => {
                let camera = self.workspace.camera;
                ws.set_viewport(camera.viewport_px(), camera.scale_factor());
                ws.camera = camera;
                self.workspace = ws;
                self.canvas = CanvasInput::default();
                self.resume_sharing();
                self.workspace.message = Some(
                    "An update from the room could not be applied safely: the board was reopened from its last save and is syncing again".to_owned(),
                );
            }
            Err(e) => {
                self.workspace.message = Some(format!(
                    "the board could not be reopened after a bad update: {e}"
                ));
            }
        }
    }

    /// Rejoins the room of a board opened again, if it is shared.
    fn resume_sharing(&mut self) {
        match self.collab.resume(&mut self.workspace) {
            Ok(true) => self.panels.collab.ask_profile_if_unknown(&self.collab),
            Ok(false) => {}
            Err(e) => self.workspace.message = Some(e.to_string()),
        }
    }

    /// Joins `link`'s room with the open board (its local copy), and shows
    /// the room's content once it has arrived.
    fn join_room(&mut self, link: touchpoint_sync::link::ShareLink) {
        self.fit_when_content = self.workspace.board.is_empty();
        if let Err(e) = self.collab.join(&mut self.workspace, link) {
            self.workspace.message = Some(e.to_string());
        }
    }

    /// Opens the local copy of a link's board and joins its room.
    fn join(&mut self, link: &str) {
        let parsed: touchpoint_sync::link::ShareLink = match link.trim().parse() {
            Ok(l) => l,
            Err(e) => {
                self.workspace.message = Some(format!("not a Touchpoint link: {e}"));
                return;
            }
        };
        let path = match self.collab.local_copy_path(&parsed) {
            Ok(p) => p,
            Err(e) => {
                self.workspace.message = Some(e.to_string());
                return;
            }
        };
        // The board open now may be that copy: stored and whole before it
        // is read again.
        let _ = self.workspace.close();
        let ws = match open_local_copy(&path) {
            Ok(ws) => ws,
            Err(e) => {
                self.workspace.message = Some(e.to_string());
                return;
            }
        };
        self.switch_to(ws, &path);
        self.join_room(parsed);
    }

    /// Makes `ws` the open board: the old one leaves its room and is saved,
    /// its file left whole.
    fn switch_to(&mut self, ws: Workspace, path: &Path) {
        self.workspace.stop_editing();
        self.collab.leave(&mut self.workspace);
        let _ = self.workspace.close();
        let camera = self.workspace.camera;
        self.workspace = ws;
        self.workspace
            .set_viewport(camera.viewport_px(), camera.scale_factor());
        self.workspace.zoom_to_fit();
        self.canvas = CanvasInput::default();
        self.fit_when_content = false;
        self.settings.add_recent(path);
        self.panels.recent = self.settings.recent().to_vec();
    }

    fn open(&mut self, path: &Path) {
        // The board open now may be the one asked for: stored and whole
        // before it is read again.
        let _ = self.workspace.close();
        match Workspace::open_or_create(path) {
            Ok(ws) => {
                self.switch_to(ws, path);
                self.resume_sharing();
            }
            Err(e) => self.workspace.message = Some(e.to_string()),
        }
    }

    fn redraw(&mut self, event_loop: &ActiveEventLoop) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let raw = running.egui_state.take_egui_input(&running.window);
        let ws = &mut self.workspace;
        let canvas = &mut self.canvas;
        let panels = &mut self.panels;
        let collab = &mut self.collab;
        let mut commands = Vec::new();
        let mut collab_commands = Vec::new();
        let me = collab.me().name;
        let output = self.egui.run_ui(raw, |ui| {
            egui::CentralPanel::default()
                .frame(egui::Frame::NONE)
                .show(ui, |ui| canvas::show(ui, ws, canvas));
            commands = panels::show(ui, ws, panels, &me);
            collab_commands = collab_ui::show(ui, ws, &mut panels.collab, collab);
        });
        running
            .egui_state
            .handle_platform_output(&running.window, output.platform_output);
        let jobs = self.egui.tessellate(output.shapes, output.pixels_per_point);
        let mut textures = output.textures_delta;
        let result = running.gpu.frame(
            &ws.scene,
            &ws.camera,
            &jobs,
            &mut textures,
            output.pixels_per_point,
        );
        match result {
            Err(e) => {
                self.error = Some(e.into());
                event_loop.exit();
                return;
            }
            // Tiles still to draw (zoomed across a level): sharpen next frame.
            Ok(stats) if stats.tiles_pending > 0 => running.window.request_redraw(),
            Ok(_) => {}
        }
        if let Some(session) = self.collab.session_mut() {
            session.frame_presented(&ws.board);
        }

        self.repaint_at = output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.repaint_delay)
            .filter(|d| *d < Duration::from_secs(3600))
            .map(|d| Instant::now() + d);
        let title = format!(
            "{}{}{} — Touchpoint",
            ws.file.display_name(),
            if self.collab.session().is_some() {
                " (shared)"
            } else {
                ""
            },
            match ws.board.read_only() {
                Some(touchpoint_crdt::ReadOnly::Viewer) => " (view only)",
                Some(_) => " (read-only)",
                None => "",
            }
        );
        if title != self.title {
            running.window.set_title(&title);
            self.title = title;
        }
        for command in commands {
            match command {
                Command::Quit => event_loop.exit(),
                Command::Open(path) => self.open(&path),
                Command::EditProfile => self.panels.collab.edit_profile(&self.collab),
                Command::NewBoard => match self.settings.new_board_path() {
                    Ok(p) => self.open(&p),
                    Err(e) => self.workspace.message = Some(format!("cannot create a board: {e}")),
                },
            }
        }
        for command in collab_commands {
            match command {
                CollabCommand::Join(link) => self.join(&link),
            }
        }
    }

    /// Runs the collaboration session between frames: edits both ways,
    /// presence, follow. Returns whether to draw a frame.
    fn pump_session(&mut self, now: Instant) -> bool {
        let Some(session) = self.collab.session_mut() else {
            self.session_wake = None;
            return false;
        };
        let pumped = session.pump(&mut self.workspace, now);
        if let Some(reason) = pumped.reload {
            self.reopen_suspect_board(&reason);
            return true;
        }
        self.session_wake = pumped.wake_at;
        let mut redraw = pumped.redraw;
        // A board just joined: once the room's content is in, show it all
        // (only then: later arrivals, or this user's own first sticky,
        // must not move the view).
        if self.fit_when_content && session.status().is_connected() {
            self.fit_when_content = false;
            if !self.workspace.board.is_empty() {
                self.workspace.zoom_to_fit();
                redraw = true;
            }
        }
        redraw
    }
}

impl ApplicationHandler<Wake> for Shell {
    fn user_event(&mut self, _event_loop: &ActiveEventLoop, _wake: Wake) {
        // The session runs in about_to_wait, which follows every event.
        tracing::trace!("woken by the sync client");
    }

    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.running.is_some() {
            return;
        }
        if let Err(e) = self.start(event_loop) {
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let response = running.egui_state.on_window_event(&running.window, &event);
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                running.gpu.resize(size.width, size.height);
                self.workspace.set_viewport(
                    Vec2::new(f64::from(size.width), f64::from(size.height)),
                    running.window.scale_factor(),
                );
                running.window.request_redraw();
            }
            WindowEvent::ScaleFactorChanged { scale_factor, .. } => {
                let size = running.window.inner_size();
                self.workspace.set_viewport(
                    Vec2::new(f64::from(size.width), f64::from(size.height)),
                    scale_factor,
                );
                running.window.request_redraw();
            }
            WindowEvent::RedrawRequested => {
                let started = Instant::now();
                self.redraw(event_loop);
                if let Some(log) = &mut self.frame_log {
                    log.note("redraw", started.elapsed());
                }
                // Edits happen inside the egui pass, and winit may not call
                // about_to_wait again before the next input: send them now.
                let drawn = Instant::now();
                let pumped = self.pump_session(drawn);
                if let Some(log) = &mut self.frame_log {
                    log.note("pump", drawn.elapsed());
                }
                if pumped && let Some(r) = &self.running {
                    r.window.request_redraw();
                }
            }
            _ => {
                if response.repaint {
                    running.window.request_redraw();
                }
            }
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let now = Instant::now();
        let collaborated = self.pump_session(now);
        // Remote changes (collaboration) land in the change queue too.
        let changed = self.workspace.sync() || collaborated;
        if changed && let Some(r) = &self.running {
            r.window.request_redraw();
        }
        let pumped = Instant::now();
        let saved = self.workspace.autosave(now);
        if let Some(log) = &mut self.frame_log {
            log.note("pump", pumped - now);
            if saved {
                log.note("autosave", pumped.elapsed());
            }
        }
        if saved && let Some(r) = &self.running {
            // The status line has news: saved, or why not.
            r.window.request_redraw();
        }
        if let Some(at) = self.repaint_at
            && at <= now
        {
            self.repaint_at = None;
            if let Some(r) = &self.running {
                r.window.request_redraw();
            }
        }
        let wake = [
            self.repaint_at,
            self.workspace.autosave_deadline(),
            // A compaction running: take its outcome soon after it ends.
            self.workspace.store_poll_at(now),
            self.session_wake,
        ]
        .into_iter()
        .flatten()
        .min();
        event_loop.set_control_flow(match wake {
            Some(t) => ControlFlow::WaitUntil(t),
            None => ControlFlow::Wait,
        });
    }
}
