//! The sync server: a quinn endpoint that hosts rooms.
//!
//! ```text
//! accept loop ── connection task (one per QUIC connection: accepts streams, routes datagrams)
//!                  └─ stream task (one per bidirectional stream = one member of one room)
//!                        reads hello, checks the token, finds or loads the room,
//!                        then forwards bytes to the room task; a writer task per
//!                        stream writes what the room task queues for it
//! room task (one per loaded room) ── owns the room's document (`Room`), its members'
//!   `ServerMember` state machines, the commit order and the fan-out
//! storage: `GroupCommit` (one writer thread) + a loader store for room loads
//! ```
//!
//! The protocol itself (hello, welcome, sync, limits, presence ownership)
//! is `touchpoint_crdt::protocol`'s sans-io `ServerMember`; this module does
//! the I/O around it. See ARCHITECTURE.md ("The sync server").
//!
//! Files depend one way: `member` (what a stream task and a room task hand
//! each other) and `config`/`error`/`data_dir` at the bottom, `shared` (the
//! state every task holds) on them, `room` on those, `conn` on `room`, and
//! this file (the [`Server`]) on top. Nothing below imports this file.

mod config;
mod conn;
mod data_dir;
mod error;
mod member;
mod room;
pub mod share;
mod shared;
mod ws;
mod ws_listener;

pub use config::{Certificate, ServerConfig, ServerOptions, WsTls};
pub use data_dir::{DATABASE_FILE, LOCK_FILE};
pub use error::ServerError;
pub use share::{ShareError, ShareRequest, share_link, websocket_url};
pub use ws::close_code as websocket_close_code;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use touchpoint_crdt::protocol::ErrorCode;
use tracing::Instrument;

use crate::storage::{GroupCommit, GroupCommitOptions, SqliteOptions, SqliteStore, StoreError};
use crate::tls::Identity;
use crate::token::TokenKey;
use data_dir::{lock_data_dir, prepare_data_dir};
use shared::Shared;

/// A running server. Dropping it without [`Server::shutdown`] stops
/// accepting at once but does not wait for rooms to flush.
pub struct Server {
    local_addr: SocketAddr,
    ws_addr: Option<SocketAddr>,
    ws_tls: bool,
    ws_task: Option<JoinHandle<()>>,
    identity_fingerprint: [u8; 32],
    self_signed: bool,
    shutdown_tx: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    commit: Option<GroupCommit>,
    _lock: std::fs::File,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the data directory (database, token secret, certificate),
    /// binds the endpoint and starts accepting. Must be called within a
    /// tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let dir = config.data_dir.clone();
        prepare_data_dir(&dir)?;
        let lock = lock_data_dir(&dir)?;
        let tokens = TokenKey::load_or_create(&dir)?;
        let identity = match &config.certificate {
            Certificate::SelfSigned { names } => {
                let mut names = names.clone();
                if !config.listen.ip().is_unspecified() {
                    names.push(config.listen.ip().to_string());
                }
                Identity::load_or_create_self_signed(&dir, &names)?
            }
            Certificate::Pem { cert, key } => Identity::load_pem(cert, key)?,
        };
        let options = config.options;
        let transport = crate::tls::transport_config(
            options.idle_timeout,
            options.keep_alive,
            options.max_streams_per_connection,
        );
        let quinn_config = identity.quinn_config(transport)?;

        let db = dir.join(DATABASE_FILE);
        let durability = options.durability;
        let (commit, loader) = tokio::task::spawn_blocking(move || {
            let store =
                SqliteStore::open_with(&db, SqliteOptions::DEFAULT.with_durability(durability))?;
            let loader = store.reopen()?;
            let compactor = store.reopen()?;
            let commit =
                GroupCommit::spawn_with_compactor(store, compactor, GroupCommitOptions::DEFAULT)?;
            Ok::<_, StoreError>((commit, loader))
        })
        .await
        .map_err(|e| StoreError::Engine(e.to_string().into()))??;

        let endpoint = quinn::Endpoint::server(quinn_config, config.listen).map_err(|source| {
            ServerError::Bind {
                addr: config.listen,
                source,
            }
        })?;
        let local_addr = endpoint.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            options,
            tokens,
            commit.handle(),
            loader,
            shutdown_rx,
        ));
        let (ws_addr, ws_task) = match config.ws_listen {
            Some(addr) => {
                let bind = |source| ServerError::Bind { addr, source };
                let tcp = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
                let tls = match &config.ws_tls {
                    Some(tls) => Some(Arc::new(
                        Identity::load_pem(&tls.cert, &tls.key)?.https_config()?,
                    )),
                    None => None,
                };
                let per_address = options.max_connections_per_ip.saturating_mul(2);
                let listener = ws_listener::WsListener::new(tcp, tls, per_address).map_err(bind)?;
                let bound = listener.local_addr_now();
                let task = tokio::spawn(
                    ws::serve(listener, shared.clone())
                        .instrument(tracing::info_span!("server", ws = %bound)),
                );
                tracing::info!(addr = %bound, "listening for WebSocket members");
                (Some(bound), Some(task))
            }
            None => (None, None),
        };
        let accept_loop = tokio::spawn(
            conn::accept_loop(endpoint.clone(), shared.clone())
                .instrument(tracing::info_span!("server", addr = %local_addr)),
        );
        share::record_listen_address(&dir, local_addr);
        share::record_ws_address(&dir, ws_addr, config.ws_tls.is_some());
        tracing::info!(
            addr = %local_addr,
            fingerprint = %crate::link::hex(&identity.fingerprint),
            data = %dir.display(),
            "listening"
        );
        Ok(Server {
            local_addr,
            ws_addr,
            ws_tls: config.ws_tls.is_some(),
            ws_task,
            identity_fingerprint: identity.fingerprint,
            self_signed: identity.self_signed,
            shutdown_tx,
            accept_loop,
            endpoint,
            shared,
            commit: Some(commit),
            _lock: lock,
        })
    }

    /// The address the endpoint is bound to (the real port when the
    /// configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SHA-256 of the certificate the server presents (what share links
    /// carry).
    /// The WebSocket listener's address, when there is one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr
    }

    /// Whether the WebSocket listener speaks TLS (`wss://`).
    pub fn ws_tls(&self) -> bool {
        self.ws_tls
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        self.identity_fingerprint
    }

    /// Whether the certificate is the server's own self-signed one.
    pub fn is_self_signed(&self) -> bool {
        self.self_signed
    }

    /// Rooms loaded in memory now.
    pub fn loaded_rooms(&self) -> usize {
        self.shared.rooms().len()
    }

    /// Graceful stop: stops accepting, tells every member `going_away`
    /// (after committing and relaying what they sent before), gives them
    /// [`ServerOptions::shutdown_grace`] to read it, closes the endpoint and
    /// flushes storage.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        tracing::info!("shutting down");
        self.endpoint.set_server_config(None);
        let _ = self.shutdown_tx.send(true);
        if let Err(e) = (&mut self.accept_loop).await {
            tracing::error!("accept loop ended abnormally: {e}");
        }
        // The WebSocket listener stops accepting at once; its members get
        // `going_away` from their rooms like everyone else.
        let grace = self.shared.options.shutdown_grace;
        // Rooms commit what is pending, then queue going_away for everyone.
        if !self
            .shared
            .room_tasks
            .wait_idle(Duration::from_secs(10) + grace)
            .await
        {
            tracing::warn!("some rooms did not finish within the shutdown timeout");
        }
        // Writers finish their streams and wait (up to the grace) for the
        // peers to acknowledge the last frames.
        self.shared.stream_tasks.wait_idle(grace * 2).await;
        if let Some(task) = self.ws_task.take()
            && tokio::time::timeout(grace, task).await.is_err()
        {
            tracing::debug!("WebSocket connections still closing at shutdown");
        }
        self.endpoint.close(
            quinn::VarInt::from_u32(u32::from(ErrorCode::GoingAway.code())),
            b"the server is shutting down",
        );
        if tokio::time::timeout(grace, self.endpoint.wait_idle())
            .await
            .is_err()
        {
            tracing::debug!("connections still closing at shutdown");
        }
        let stats = self.shared.commit.stats();
        let result = match self.commit.take() {
            Some(commit) => tokio::task::spawn_blocking(move || commit.shutdown())
                .await
                .map_err(|e| StoreError::Engine(e.to_string().into()))
                .and_then(|r| r),
            None => Ok(()),
        };
        tracing::info!(
            commits = stats.batches,
            updates = stats.updates,
            compactions = stats.compactions,
            "stopped"
        );
        result.map_err(ServerError::from)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
        if let Some(task) = &self.ws_task {
            task.abort();
        }
        let _ = self.shutdown_tx.send(true);
        self.endpoint.close(
            quinn::VarInt::from_u32(u32::from(ErrorCode::GoingAway.code())),
            b"the server stopped",
        );
    }
}
