//! One open board joined to a room: the sync client, the bridge to the
//! window's board, this user's presence and everyone else's.
//!
//! The window calls [`Session::pump`] between frames. It moves edits both
//! ways, follows the connection state (a viewer's board turns read-only,
//! collaborators vanish when the connection does), publishes presence at
//! most ~30 times a second, applies "bring everyone to me" and follow, and
//! says when it next needs a frame.

use std::time::{Duration, Instant};

use touchpoint_crdt::protocol::Role;
use touchpoint_crdt::{Board, ReadOnly};
use touchpoint_sync::client::{Client, ClientOptions, ConnectionState, Event, Waker};
use touchpoint_sync::link::ShareLink;

use super::bridge::{Bridge, BridgeError};
use super::latency::LatencyLog;
use super::presence::{LocalPresence, Peers, Profile, View};
use super::share_file::ShareInfo;
use crate::workspace::Workspace;

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("cannot start the sync client: {0}")]
    Client(#[from] touchpoint_sync::client::ClientError),
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
    /// it in the board (here or in the sync client's replica): the window
    /// must drop this session, reopen the board from its file and rejoin
    /// (see `Collab::abandon`). Says why.
    pub reload: Option<String>,
}

pub struct Session {
    client: Client,
    bridge: Bridge,
    link: ShareLink,
    info: ShareInfo,
    role: Role,
    state: ConnectionState,
    /// Local transactions handed to the client since the last state it
    /// reported (while offline they are the unsent ones).
    sent_since_state: usize,
    presence: LocalPresence,
    peers: Peers,
    following: Option<u64>,
    /// The camera as following last left it, to notice the user moving it.
    followed_camera: Option<crate::camera::Camera>,
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
        let mut bridge = Bridge::new(&ws.board)?;
        let latency = LatencyLog::from_env(ws.board.client_id());
        bridge.set_trace(latency.is_some());
        let mut options = ClientOptions::default().with_name(profile.name.clone());
        if let Some(w) = waker {
            options = options.with_waker(w);
        }
        let client = Client::connect(link.clone(), bridge.replica().clone(), options)?;
        // What the link says until the server says otherwise: a viewer link
        // opens view-only even while offline.
        let role = touchpoint_sync::token::claimed_role(&link.token).unwrap_or(Role::Editor);
        apply_role(&mut ws.board, role);
        let presence = LocalPresence::new(ws.board.client_id(), profile);
        Ok(Session {
            client,
            bridge,
            link,
            info,
            role,
            state: ConnectionState::Connecting { attempt: 0 },
            sent_since_state: 0,
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
        match &self.state {
            ConnectionState::Connecting { attempt } if *attempt <= 1 => Status::Connecting,
            ConnectionState::Connecting { attempt } => Status::Reconnecting { attempt: *attempt },
            ConnectionState::Synced { role, .. } => Status::Connected { role: *role },
            ConnectionState::Offline {
                pending, reason, ..
            } => Status::Offline {
                unsent: pending + self.sent_since_state,
                reason: reason.clone(),
            },
            ConnectionState::Refused { reason, .. } => Status::Refused {
                reason: reason.clone(),
            },
            ConnectionState::Closed => Status::Offline {
                unsent: self.sent_since_state,
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
        self.client.reconnect();
    }

    /// Moves edits, applies what the client reported, publishes presence.
    pub fn pump(&mut self, ws: &mut Workspace, now: Instant) -> Pumped {
        let mut out = Pumped::default();
        let mut traced = Vec::new();
        let moved = self
            .bridge
            .exchange(&mut ws.board, self.role.can_write(), &mut traced);
        if let Some(log) = &mut self.latency {
            log.edits(&traced);
        }
        if moved.dropped > 0 {
            tracing::warn!("{} edits on a view-only board were not sent", moved.dropped);
        }
        self.sent_since_state += moved.pushed;
        if moved.pushed + moved.pulled > 0 {
            tracing::trace!(pushed = moved.pushed, pulled = moved.pulled, "bridge");
        }
        if moved.pulled > 0 {
            ws.sync();
            out.redraw = true;
        }
        if let Some(e) = moved.suspect {
            out.reload = Some(format!("a collaborator's update broke the board: {e}"));
            return out;
        }
        while let Some(event) = self.client.try_next_event() {
            out.redraw = true;
            match event {
                Event::State(state) => self.on_state(ws, state),
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
        if self.state.is_synced() {
            let force = std::mem::take(&mut self.force_presence);
            if let Some(update) = self.presence.poll(now, force) {
                if force {
                    self.client.send_presence_reliably(update);
                } else {
                    self.client.send_presence(update);
                }
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

    fn on_state(&mut self, ws: &mut Workspace, state: ConnectionState) {
        match &state {
            ConnectionState::Synced { role, .. } => {
                self.role = *role;
                apply_role(&mut ws.board, *role);
                self.force_presence = true;
                // Everything the room held has arrived by now (the bridge
                // carries it on the next pump at the latest: pull first).
                // (A suspect update is reported by the next pump's exchange.)
                if self.bridge.pull(&mut ws.board).0 > 0 {
                    ws.sync();
                }
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
        self.sent_since_state = 0;
        self.state = state;
    }

    /// Leaves the room: says goodbye to the others' cursors lists, sends
    /// what is pending, closes the connection (a second at most).
    pub async fn leave(mut self, ws: &mut Workspace) {
        self.bridge
            .exchange(&mut ws.board, self.role.can_write(), &mut Vec::new());
        if self.state.is_synced() {
            self.client.send_presence_reliably(self.presence.leave());
        }
        if self.role == Role::Viewer {
            ws.board.set_read_only(None);
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), self.client.shutdown()).await;
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
