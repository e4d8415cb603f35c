//! The harness of the egui_kittest collaboration tests: the window's
//! panels and collaboration interface on a real session, with the session
//! pumped before each frame as the window does, and Share hosting on
//! loopback.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use touchpoint::collab::Collab;
use touchpoint::collab::host::HostOptions;
use touchpoint::ui::collab_ui::{self, CollabCommand};
use touchpoint::ui::panels::{self, Panels};
use touchpoint_editor::workspace::Workspace;

pub struct State {
    pub ws: Workspace,
    /// The window's panels; `panels.collab` is the collaboration dialogs'
    /// state, as in the window.
    pub panels: Panels,
    pub collab: Collab,
    pub dir: tempfile::TempDir,
    /// What the collaboration interface asked the window to do.
    pub commands: Vec<CollabCommand>,
}

/// A new board `NAME.tpboard` in a temporary directory; Share hosts on
/// 127.0.0.1 with a free port.
pub fn state(name: &str) -> State {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_create(&dir.path().join(format!("{name}.tpboard"))).unwrap();
    let mut collab = Collab::new(&dir.path().join("data"));
    collab.set_host_options(HostOptions {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        public_host: Some("127.0.0.1".into()),
    });
    State {
        ws,
        panels: Panels::default(),
        collab,
        dir,
        commands: Vec::new(),
    }
}

pub fn harness(state: State) -> Harness<'static, State> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 760.0))
        .with_context_setup(touchpoint::ui::setup_egui)
        .build_ui_state(
            |ui, s: &mut State| {
                if let Some(session) = s.collab.session_mut() {
                    session.pump(&mut s.ws, Instant::now());
                }
                let me = s.collab.me().name;
                for c in panels::show(ui, &mut s.ws, &mut s.panels, &me) {
                    if c == panels::Command::EditProfile {
                        s.panels.collab.edit_profile(&s.collab);
                    }
                }
                let asked = collab_ui::show(ui, &mut s.ws, &mut s.panels.collab, &mut s.collab);
                s.commands.extend(asked);
            },
            state,
        )
}

/// Runs frames (with real time passing for the network) until `ok`.
pub fn run_until(
    h: &mut Harness<'static, State>,
    what: &str,
    ok: impl Fn(&Harness<'static, State>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        h.run();
        if ok(h) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Leaves the room and stops the embedded server.
pub fn shut_down(h: &mut Harness<'static, State>) {
    let State { collab, ws, .. } = h.state_mut();
    collab.shutdown(ws);
}
