//! Share without a server of one's own: the sync server library runs inside
//! the app (its rooms, certificate and token secret under the user's data
//! directory), and the app hands out links that point at this machine.
//!
//! It listens on `TOUCHPOINT_SHARE_LISTEN` (default `0.0.0.0:4433`, so links
//! keep working across restarts; a busy port falls back to a free one), and
//! links name `TOUCHPOINT_SHARE_HOST` or else this machine's address on the
//! network it would route through (falling back to `localhost`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use touchpoint_crdt::protocol::Role;
use touchpoint_sync::link::ShareLink;
use touchpoint_sync::server::share::{ShareRequest, share_link};
use touchpoint_sync::server::{Certificate, Server, ServerConfig, ServerError, ServerOptions};

/// The default listen address of the embedded server.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:4433";

/// Why hosting failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("TOUCHPOINT_SHARE_LISTEN={0:?} is not an address like 0.0.0.0:4433")]
    Listen(String),
    #[error("cannot start the sharing server: {0}")]
    Server(#[from] ServerError),
    #[error("cannot make a share link: {0}")]
    Link(String),
}

/// Where the embedded server listens and which host its links name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    pub listen: SocketAddr,
    /// `None`: this machine's network address (see the module docs).
    pub public_host: Option<String>,
}

impl HostOptions {
    /// From `TOUCHPOINT_SHARE_LISTEN` and `TOUCHPOINT_SHARE_HOST`.
    pub fn from_env() -> Result<HostOptions, HostError> {
        let text =
            std::env::var("TOUCHPOINT_SHARE_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
        let listen = text.parse().map_err(|_| HostError::Listen(text.clone()))?;
        let public_host = std::env::var("TOUCHPOINT_SHARE_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty());
        Ok(HostOptions {
            listen,
            public_host,
        })
    }
}

/// The embedded server and how links reach it.
pub struct Host {
    server: Server,
    data_dir: PathBuf,
    /// `HOST:PORT` that links name.
    public: String,
}

/// An editor and a viewer link for one room.
#[derive(Debug, Clone)]
pub struct RoomLinks {
    pub editor: ShareLink,
    pub viewer: ShareLink,
    /// The editor link pointed at loopback, for this app's own client.
    pub local: ShareLink,
}

impl Host {
    /// Starts the server on the current tokio runtime (`data_dir` is the
    /// app's `server` directory).
    pub async fn start(data_dir: &Path, options: &HostOptions) -> Result<Host, HostError> {
        let listen = options.listen;
        let public_host = options
            .public_host
            .clone()
            .unwrap_or_else(|| network_address(listen.ip()));
        let config = |listen| ServerConfig {
            listen,
            ws_listen: None,
            ws_tls: None,
            data_dir: data_dir.to_owned(),
            certificate: Certificate::SelfSigned {
                names: vec![public_host.clone()],
            },
            options: ServerOptions::DEFAULT,
        };
        let server = match Server::start(config(listen)).await {
            Ok(s) => s,
            Err(ServerError::Bind { .. }) if listen.port() != 0 => {
                tracing::warn!("{listen} is taken; sharing on a free port instead");
                Server::start(config(SocketAddr::new(listen.ip(), 0))).await?
            }
            Err(e) => return Err(e.into()),
        };
        let port = server.local_addr().port();
        let public = if public_host.contains(':') {
            format!("[{public_host}]:{port}")
        } else {
            format!("{public_host}:{port}")
        };
        tracing::info!(
            "sharing server on {} (links name {public})",
            server.local_addr()
        );
        Ok(Host {
            server,
            data_dir: data_dir.to_owned(),
            public,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Signs links for `room` (they never expire; the room lives in this
    /// app's data directory).
    pub fn links(&self, room: &str) -> Result<RoomLinks, HostError> {
        let link = |role, host: &str| {
            share_link(&ShareRequest {
                data_dir: self.data_dir.clone(),
                room: room.to_owned(),
                role,
                expires_in: None,
                host: Some(host.to_owned()),
                cert: None,
            })
            .map_err(|e| HostError::Link(e.to_string()))
        };
        let loopback = format!("127.0.0.1:{}", self.local_addr().port());
        Ok(RoomLinks {
            editor: link(Role::Editor, &self.public)?,
            viewer: link(Role::Viewer, &self.public)?,
            local: link(Role::Editor, &loopback)?,
        })
    }

    /// Commits what is pending and stops (collaborators see the app go).
    pub async fn shutdown(self) {
        if let Err(e) = self.server.shutdown().await {
            tracing::warn!("the sharing server did not stop cleanly: {e}");
        }
    }
}

/// The address other machines reach this one at: the source address of the
/// route toward a public address (no packet is sent), else `localhost`.
fn network_address(listen: IpAddr) -> String {
    if !listen.is_unspecified() {
        return listen.to_string();
    }
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).and_then(|s| {
        // TEST-NET-1: routable in form, never answered; connect() on UDP
        // only picks the route.
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        s.local_addr()
    });
    match routed {
        Ok(addr) if !addr.ip().is_unspecified() && !addr.ip().is_loopback() => {
            addr.ip().to_string()
        }
        _ => "localhost".to_owned(),
    }
}

/// A fresh room name: random, so a link cannot be guessed from another.
pub fn new_room_name() -> String {
    let a = touchpoint_sync::token::random_id().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    format!("board-{a:016x}")
}
