//! One open board joined to a room: the sync driver working on the
//! window's own board, this user's presence and everyone else's.
//!
//! The board exists once. The network task only moves bytes; the window
//! calls [`Session::pump`] between frames (and when the task wakes it),
//! which applies what arrived to the board on the UI thread, hands the
//! board's new local edits to the task, follows the connection state (a viewer's board turns read-only,
//! collaborators vanish when the connection does), publishes presence at
//! most ~30 times a second, applies "bring everyone to me" and follow, and
//! says when it next needs a frame.

use std::time::{Duration, Instant};

use touchpoint_crdt::protocol::Role;
use touchpoint_crdt::protocol::{Hello, Limits};
use touchpoint_crdt::{Board, ReadOnly};
use touchpoint_sync::client::{
    ConnectionState, Connector, Driver, Event, Transport, TransportOptions, Waker,
};
use touchpoint_sync::link::ShareLink;

use super::latency::LatencyLog;
use super::presence::{LocalPresence, Peers, View};
use super::share_file::ShareInfo;
use crate::profile::Profile;
use touchpoint_editor::workspace::Workspace;

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot start the sync client: {0}")]
    Client(#[from] touchpoint_sync::client::ClientError),
    #[error("cannot start the sync session: {0}")]
    Session(#[from] touchpoint_crdt::protocol::SessionError),
}

/// What the status bar says about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected {
        role: Role,
    },
    Reconnecting {
        attempt: u32,
    },
    /// Not connected; `unsent` local changes wait for the next sync.
    Offline {
        unsent: usize,
        reason: String,
    },
    Refused {
        reason: String,
    },
}

impl Status {
    pub fn is_connected(&self) -> bool {
        matches!(self, Status::Connected { .. })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Connecting => f.write_str("Connecting…"),
            Status::Connected { role: Role::Editor } => f.write_str("Connected"),
            Status::Connected { role: Role::Viewer } => f.write_str("Connected (view only)"),
            Status::Reconnecting { attempt } => write!(f, "Reconnecting… (attempt {attempt})"),
            Status::Offline { unsent, .. } => match unsent {
                0 => f.write_str("Offline"),
                1 => f.write_str("Offline — 1 unsent change"),
                n => write!(f, "Offline — {n} unsent changes"),
            },
            Status::Refused { reason } => write!(f, "Refused: {reason}"),
        }
    }
}

/// What a pump did, for the window.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pumped {
    /// Something visible changed: draw a frame.
    pub redraw: bool,
    /// When the session wants to run again (presence due, cursors easing).
    pub wake_at: Option<Instant>,
    /// An update from the room failed in a way that may have left part of
    /// it in the board: the window
    /// must drop this session, reopen the board from its file and rejoin
    /// (see `Collab::abandon`). Says why.
    pub reload: Option<String>,
}

pub struct Session {
    driver: Driver,
    link: ShareLink,
    info: ShareInfo,
    role: Role,
    presence: LocalPresence,
    peers: Peers,
    following: Option<u64>,
    /// The camera as following last left it, to notice the user moving it.
    followed_camera: Option<touchpoint_scene::camera::Camera>,
    last_pump: Instant,
    /// Publish presence even if unchanged (after a reconnect).
    force_presence: bool,
    latency: Option<LatencyLog>,
}

impl Session {
    /// Joins `info.link` with the board of `ws` (which may hold offline
    /// work: the first sync carries it). Must be called inside the app's
    /// tokio runtime.
    pub fn start(
        ws: &mut Workspace,
        info: ShareInfo,
        link: ShareLink,
        profile: &Profile,
        waker: Option<Waker>,
    ) -> Result<Session, SessionError> {
        let latency = LatencyLog::from_env(&ws.board);
        let transport = Connector::new()?.transport(
            link.clone(),
            TransportOptions {
                waker,
                ..TransportOptions::default()
            },
        )?;
        let hello = Hello::new(link.room.clone(), link.token.clone(), profile.name.clone());
        let driver = Driver::new(transport, &ws.board, hello, Limits::DEFAULT)?;
        // What the link says until the server says otherwise: a viewer link
        // opens view-only even while offline.
        let role = touchpoint_sync::token::claimed_role(&link.token).unwrap_or(Role::Editor);
        apply_role(&mut ws.board, role);
        let presence = LocalPresence::new(ws.board.client_id(), profile);
        Ok(Session {
            driver,
            link,
            info,
            role,
            presence,
            peers: Peers::default(),
            following: None,
            followed_camera: None,
            last_pump: Instant::now(),
            force_presence: false,
            latency,
        })
    }

    pub fn link(&self) -> &ShareLink {
        &self.link
    }

    pub fn info(&self) -> &ShareInfo {
        &self.info
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    pub fn own_client(&self) -> u64 {
        self.presence.client()
    }

    /// What this user publishes to the others (name, colour, cursor...).
    pub fn presence(&self) -> &LocalPresence {
        &self.presence
    }

    pub fn profile_changed(&mut self, profile: &Profile) {
        self.presence.set_profile(profile);
    }

    pub fn following(&self) -> Option<u64> {
        self.following
    }

    /// Follows `client`'s view (`None` stops). Following oneself is nothing.
    pub fn follow(&mut self, client: Option<u64>) {
        self.following = client.filter(|c| *c != self.own_client());
        self.followed_camera = None;
    }

    /// "Bring everyone to me": every participant's view moves to this one's.
    pub fn summon_everyone(&mut self, ws: &Workspace) {
        self.presence.set_view(ws.camera.visible_world_rect());
        self.presence.summon();
        self.force_presence = true;
    }

    /// The connection as the status bar shows it.
    pub fn status(&self) -> Status {
        match self.driver.state() {
            ConnectionState::Connecting { attempt } if *attempt <= 1 => Status::Connecting,
            ConnectionState::Connecting { attempt } => Status::Reconnecting { attempt: *attempt },
            ConnectionState::Synced { role, .. } => Status::Connected { role: *role },
            ConnectionState::Offline { reason, .. } => Status::Offline {
                unsent: self.driver.pending_local_changes(),
                reason: reason.clone(),
            },
            ConnectionState::Refused { reason, .. } => Status::Refused {
                reason: reason.clone(),
            },
            ConnectionState::Closed => Status::Offline {
                unsent: self.driver.pending_local_changes(),
                reason: "closed".into(),
            },
        }
    }

    /// A frame showing `board` was presented (for latency tracing).
    pub fn frame_presented(&mut self, board: &Board) {
        if let Some(log) = &mut self.latency {
            log.presented(board);
        }
    }

    /// Connects again now (after a refusal, or to skip the backoff).
    pub fn reconnect(&self) {
        self.driver.transport().reconnect();
    }

    /// Applies what arrived from the room to the board, hands the board's
    /// new local edits to the network task, follows what the connection
    /// reported, publishes presence.
    pub fn pump(&mut self, ws: &mut Workspace, now: Instant) -> Pumped {
        let mut out = Pumped::default();
        let arrived = self.driver.poll(&mut ws.board);
        self.driver.local_changed();
        self.driver.flush();
        if let Some(log) = &mut self.latency {
            log.edits();
        }
        if arrived > 0 && ws.sync() {
            out.redraw = true;
        }
        while let Some(event) = self.driver.poll_event() {
            out.redraw = true;
            match event {
                Event::State(state) => self.on_state(ws, &state),
                Event::BoardSuspect { reason } => {
                    out.reload = Some(reason);
                    return out;
                }
                Event::Presence(update) => {
                    let changes = self.peers.apply(&update, self.own_client());
                    if let Some(view) = changes.summons.last() {
                        self.follow(None);
                        show_view(ws, *view);
                    }
                }
            }
        }
        if let Some(c) = self.following {
            // Panning or zooming by hand ends following, as in Miro.
            let moved_by_user = self.followed_camera.is_some_and(|cam| cam != ws.camera);
            let view = self.peers.get(c).and_then(|p| p.state.view);
            if moved_by_user || self.peers.get(c).is_none() {
                // (Or they left: stop rather than freeze.)
                self.follow(None);
            } else if let Some(view) = view
                && show_view(ws, view)
            {
                out.redraw = true;
            }
            if self.following.is_some() {
                self.followed_camera = Some(ws.camera);
            }
        }
        // Presence: what this user points at, selects and sees.
        self.presence.set_cursor(ws.pointer);
        self.presence.set_selection(ws.tools.selection());
        self.presence.set_gesture(ws.tools.preview().as_ref());
        self.presence.set_view(ws.camera.visible_world_rect());
        if self.driver.state().is_synced() {
            let force = std::mem::take(&mut self.force_presence);
            if let Some(update) = self.presence.poll(now, force) {
                self.driver.publish_presence(update, force);
            }
            out.wake_at = self.presence.due();
        }
        let dt = now.saturating_duration_since(self.last_pump);
        self.last_pump = now;
        if self.peers.animate(
            dt.min(Duration::from_millis(100)),
            ws.camera.units_per_pixel(),
        ) {
            out.redraw = true;
            let frame = now + Duration::from_millis(16);
            out.wake_at = Some(out.wake_at.map_or(frame, |t| t.min(frame)));
        }
        out
    }

    fn on_state(&mut self, ws: &mut Workspace, state: &ConnectionState) {
        match state {
            ConnectionState::Synced { role, .. } => {
                self.role = *role;
                apply_role(&mut ws.board, *role);
                self.force_presence = true;
                // Everything the room held is in the board by now.
                if ws.board.ensure_meta() {
                    ws.mark_dirty();
                }
            }
            ConnectionState::Refused { .. } | ConnectionState::Offline { .. } => {
                self.peers.clear();
                self.follow(None);
            }
            _ => {}
        }
    }

    /// Leaves the room without waiting: says goodbye to the others' cursor
    /// lists and hands over what is pending. Returns the network task's
    /// handle, which finishes the stream and closes the connection (a
    /// second at most) once shut down on the runtime.
    pub fn leave(mut self, ws: &mut Workspace) -> Transport {
        self.driver.poll(&mut ws.board);
        self.driver.flush();
        if self.driver.state().is_synced() {
            self.driver.publish_presence(self.presence.leave(), true);
        }
        if self.role == Role::Viewer {
            ws.board.set_read_only(None);
        }
        self.driver.into_transport()
    }
}

fn apply_role(board: &mut Board, role: Role) {
    board.set_read_only(match role {
        Role::Viewer => Some(ReadOnly::Viewer),
        Role::Editor => None,
    });
}

/// Moves the camera to show `view` (as large as fits). Returns whether it moved.
fn show_view(ws: &mut Workspace, view: View) -> bool {
    let before = ws.camera;
    ws.camera.zoom_to_fit(view.rect(), 0.0);
    let after = ws.camera;
    (before.zoom() - after.zoom()).abs() > 1e-9
        || before.origin_in_world().distance(after.origin_in_world()) > 1e-6
}
