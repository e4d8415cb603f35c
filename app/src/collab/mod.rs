//! Live collaboration in the app: share the open board (hosting it with the
//! embedded sync server, or through a server's links), join a board from a
//! link, see who else is there.
//!
//! - [`presence`]: cursors, selections, views; pure, no window types
//! - [`session`]: one board joined to a room
//! - [`host`]: the embedded server and the links it signs
//! - [`share_file`]: the file that remembers a board is shared
//! - [`latency`]: edit-to-remote-render tracing for the benchmark
//!
//! [`Collab`] is what the window holds: a tokio runtime (started on first
//! use, one worker thread: the network is light), the embedded server once
//! this app has shared something, the current board's session, and who the
//! user is (asked once, kept in the data directory).

pub mod host;
pub mod latency;
pub mod presence;
pub mod session;
pub mod share_file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use touchpoint_sync::client::Waker;
use touchpoint_sync::link::ShareLink;

use crate::profile::Profile;
use host::{Host, HostError, HostOptions};
use session::{Session, SessionError};
use share_file::{ShareFileError, ShareInfo};
use touchpoint_editor::workspace::Workspace;

/// Why sharing or joining failed. One line each, for the status bar.
#[derive(Debug, thiserror::Error)]
pub enum CollabError {
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    ShareFile(#[from] ShareFileError),
    #[error("not a Touchpoint link: {0}")]
    Link(#[from] touchpoint_sync::link::LinkError),
    #[error("cannot keep a local copy in {path}: {source}")]
    LocalCopy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub struct Collab {
    data_dir: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
    host: Option<Host>,
    session: Option<Session>,
    profile: Option<Profile>,
    waker: Option<Waker>,
    /// Where Share listens; `None`: from the environment when first needed.
    host_options: Option<HostOptions>,
}

impl Collab {
    pub fn new(data_dir: &Path) -> Collab {
        let profile = Profile::load(data_dir);
        Collab {
            data_dir: data_dir.to_owned(),
            runtime: None,
            host: None,
            session: None,
            profile,
            waker: None,
            host_options: None,
        }
    }

    /// Where the embedded server listens and what its links name, instead
    /// of `TOUCHPOINT_SHARE_LISTEN` / `TOUCHPOINT_SHARE_HOST`.
    pub fn set_host_options(&mut self, options: HostOptions) {
        self.host_options = Some(options);
    }

    fn start_host(&mut self) -> Result<(), CollabError> {
        if self.host.is_some() {
            return Ok(());
        }
        let options = match &self.host_options {
            Some(o) => o.clone(),
            None => HostOptions::from_env()?,
        };
        let server_dir = self.data_dir.join("server");
        let rt = self.runtime()?;
        let host = rt.block_on(Host::start(&server_dir, &options))?;
        self.host = Some(host);
        Ok(())
    }

    /// How the sync client wakes the window's event loop.
    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = Some(waker);
    }

    /// The user's name and colour, once given.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Remembers the user's name and colour (for this and later runs).
    pub fn set_profile(&mut self, profile: Profile) -> Result<(), CollabError> {
        profile
            .save(&self.data_dir)
            .map_err(|source| CollabError::LocalCopy {
                path: self.data_dir.join(crate::profile::PROFILE_FILE),
                source,
            })?;
        if let Some(s) = &mut self.session {
            s.profile_changed(&profile);
        }
        self.profile = Some(profile);
        Ok(())
    }

    /// Who the user is in votes, the timer and presence: the profile
    /// given, else this machine's login name.
    pub fn me(&self) -> Profile {
        self.profile.clone().unwrap_or_else(Profile::this_machine)
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    pub fn session_mut(&mut self) -> Option<&mut Session> {
        self.session.as_mut()
    }

    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime, CollabError> {
        let rt = match self.runtime.take() {
            Some(rt) => rt,
            None => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("touchpoint-sync")
                .enable_all()
                .build()
                .map_err(CollabError::Runtime)?,
        };
        Ok(self.runtime.insert(rt))
    }

    /// Shares the open board from this app: starts the embedded server (once),
    /// creates a room, joins it with the board (which uploads it) and
    /// remembers the links next to the board file.
    pub fn host(&mut self, ws: &mut Workspace) -> Result<ShareInfo, CollabError> {
        if let Some(s) = &self.session {
            return Ok(s.info().clone());
        }
        self.host_room(ws, &host::new_room_name())
    }

    /// Serves `room` from the embedded server (started if needed), joins it
    /// with the board and records the links next to the board file.
    fn host_room(&mut self, ws: &mut Workspace, room: &str) -> Result<ShareInfo, CollabError> {
        self.start_host()?;
        let Some(host) = &self.host else {
            return Err(CollabError::Runtime(std::io::Error::other("no server")));
        };
        let links = host.links(room)?;
        let info = ShareInfo {
            link: links.local.to_string(),
            editor_link: Some(links.editor.to_string()),
            viewer_link: Some(links.viewer.to_string()),
            hosted: true,
        };
        info.save(ws.file.path())?;
        self.start_session(ws, info.clone(), links.local)?;
        Ok(info)
    }

    /// Shares the open board through a server's room: `editor` is the link
    /// this app joins with (and hands out), `viewer` an optional second one.
    pub fn share_via(
        &mut self,
        ws: &mut Workspace,
        editor: &str,
        viewer: Option<&str>,
    ) -> Result<ShareInfo, CollabError> {
        let link: ShareLink = editor.trim().parse()?;
        let viewer = match viewer.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse::<ShareLink>()?.to_string()),
            None => None,
        };
        let info = ShareInfo {
            link: link.to_string(),
            editor_link: Some(link.to_string()),
            viewer_link: viewer,
            hosted: false,
        };
        info.save(ws.file.path())?;
        self.start_session(ws, info.clone(), link)?;
        Ok(info)
    }

    /// The local copy of a joined room: one file per server and room in the
    /// data directory, kept across runs so offline work survives.
    pub fn local_copy_path(&self, link: &ShareLink) -> Result<PathBuf, CollabError> {
        let dir = self.data_dir.join("shared");
        std::fs::create_dir_all(&dir).map_err(|source| CollabError::LocalCopy {
            path: dir.clone(),
            source,
        })?;
        let server = match link.fingerprint {
            Some(fp) => touchpoint_sync::link::hex(&fp[..6]),
            None => link.host.clone(),
        };
        let name: String = format!("{}-{server}", link.room)
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(120)
            .collect();
        Ok(dir.join(format!("{name}.tpboard")))
    }

    /// Starts the session a board's share file names, if it has one: a
    /// shared board opened again rejoins its room (hosting it again if this
    /// app hosted it).
    pub fn resume(&mut self, ws: &mut Workspace) -> Result<bool, CollabError> {
        let Some(info) = ShareInfo::load(ws.file.path())? else {
            return Ok(false);
        };
        let Some(link) = info.join_link() else {
            return Ok(false);
        };
        if info.hosted {
            // The port may have changed if the old one was taken; the room
            // and its tokens have not.
            self.host_room(ws, &link.room)?;
            return Ok(true);
        }
        self.start_session(ws, info, link)?;
        Ok(true)
    }

    /// Joins from a link: `ws` must be the link's local copy (see
    /// [`Collab::local_copy_path`]); the link is remembered next to it.
    pub fn join(&mut self, ws: &mut Workspace, link: ShareLink) -> Result<(), CollabError> {
        let info = ShareInfo {
            link: link.to_string(),
            editor_link: None,
            viewer_link: None,
            hosted: false,
        };
        info.save(ws.file.path())?;
        self.start_session(ws, info, link)
    }

    fn start_session(
        &mut self,
        ws: &mut Workspace,
        info: ShareInfo,
        link: ShareLink,
    ) -> Result<(), CollabError> {
        let profile = self.me();
        let waker = self.waker.clone();
        let rt = self.runtime()?;
        let _guard = rt.enter();
        let session = Session::start(ws, info, link, &profile, waker)?;
        self.session = Some(session);
        Ok(())
    }

    /// Leaves the current board's room (before opening another board, or
    /// at exit). The embedded server keeps running for the app's lifetime.
    pub fn leave(&mut self, ws: &mut Workspace) {
        if let (Some(session), Some(rt)) = (self.session.take(), self.runtime.as_ref()) {
            // The network task finishes the stream on its own; the window
            // goes on at once.
            rt.spawn(session.leave(ws).shutdown());
        }
    }

    /// Drops the current session without carrying anything more between
    /// the board and the room: the board is suspect (see
    /// `Pumped::reload`) and is about to be reopened from its file.
    pub fn abandon(&mut self) {
        if let Some(session) = self.session.take() {
            tracing::warn!(room = %session.link().room, "leaving the room without syncing: the board will be reopened");
        }
    }

    /// At exit: leaves, waiting (3 s at most) for what is pending to be
    /// written, and stops the embedded server (commits what it holds).
    pub fn shutdown(&mut self, ws: &mut Workspace) {
        if let (Some(session), Some(rt)) = (self.session.take(), self.runtime.as_ref()) {
            let transport = session.leave(ws);
            rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(3), transport.shutdown()).await;
            });
        }
        if let (Some(host), Some(rt)) = (self.host.take(), self.runtime.as_ref()) {
            rt.block_on(host.shutdown());
        }
    }
}
