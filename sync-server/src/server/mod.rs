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

mod conn;
mod room;
pub mod share;

pub use share::{ShareError, ShareRequest, share_link};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use touchpoint_crdt::protocol::{ErrorCode, Limits, Refusal};
use tracing::Instrument;

use crate::storage::{
    Durability, GroupCommit, GroupCommitHandle, GroupCommitOptions, SqliteOptions, SqliteStore,
    StoreError,
};
use crate::tls::{Identity, TlsError};
use crate::token::{SecretError, TokenKey};

/// The SQLite database in the data directory.
pub const DATABASE_FILE: &str = "rooms.sqlite3";
/// Held (locked) while a server uses the data directory.
pub const LOCK_FILE: &str = "server.lock";

/// Everything a server enforces and waits for. Start from
/// [`ServerOptions::DEFAULT`] and change fields with the `with_*` setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Frame size, document size per room, messages per second per member,
    /// hello timeout: see [`Limits`]. Default [`Limits::DEFAULT`] (33 MiB
    /// frames, 32 MiB documents, 300 messages per second, bursts of 600).
    pub limits: Limits,
    /// Rooms held in memory at once; a join that would load one more is
    /// refused with `room_full`. Default 1,000.
    pub max_rooms: usize,
    /// Members (streams) per room. Default 100.
    pub max_members_per_room: usize,
    /// QUIC connections per client IP address. Default 64.
    pub max_connections_per_ip: usize,
    /// Rooms one connection may join at once (concurrent bidirectional
    /// streams). Default 16.
    pub max_streams_per_connection: u32,
    /// A room with no members is unloaded from memory after this long.
    /// Default 30 s.
    pub room_idle: Duration,
    /// A connection that hears nothing from its peer for this long is
    /// closed, and its members leave their rooms (their presence is removed).
    /// The peer may ask for less. Default 6 s (a vanished peer's presence
    /// is gone about 6.5 s after its last packet).
    pub idle_timeout: Duration,
    /// The server pings quiet peers this often, so that a live connection
    /// never reaches the idle timeout. Default 1.5 s.
    pub keep_alive: Duration,
    /// How hard a commit pushes updates to disk. Default
    /// [`Durability::Full`] (fsync per batch).
    pub durability: Durability,
    /// At shutdown, how long members get to read the `going_away` frame
    /// before connections are closed. Default 2 s.
    pub shutdown_grace: Duration,
    /// Bytes one member may have queued to it and not yet written (its
    /// peer reads too slowly, or not at all); past it the member is cut off
    /// with its connection. A single frame larger than this (a newcomer's
    /// sync step 2 of a large board) still goes out when nothing else is
    /// queued. Default 64 MiB: twice the default document limit, so a
    /// newcomer's whole-board step 2 and the relays that follow it fit.
    pub max_send_queue_bytes: usize,
    /// Bytes of a room's updates handed to storage and not yet committed;
    /// past it the room reads no more from its members until storage
    /// catches up (QUIC flow control pushes back on the senders). Default
    /// 16 MiB.
    pub max_uncommitted_bytes: usize,
}

impl ServerOptions {
    pub const DEFAULT: ServerOptions = ServerOptions {
        limits: Limits::DEFAULT,
        max_rooms: 1000,
        max_members_per_room: 100,
        max_connections_per_ip: 64,
        max_streams_per_connection: 16,
        room_idle: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(6),
        keep_alive: Duration::from_millis(1500),
        durability: Durability::Full,
        shutdown_grace: Duration::from_secs(2),
        max_send_queue_bytes: 32 << 20,
        max_uncommitted_bytes: 16 << 20,
    };

    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub const fn with_max_rooms(mut self, rooms: usize) -> Self {
        self.max_rooms = rooms;
        self
    }

    pub const fn with_max_members_per_room(mut self, members: usize) -> Self {
        self.max_members_per_room = members;
        self
    }

    pub const fn with_max_connections_per_ip(mut self, connections: usize) -> Self {
        self.max_connections_per_ip = connections;
        self
    }

    pub const fn with_max_streams_per_connection(mut self, streams: u32) -> Self {
        self.max_streams_per_connection = streams;
        self
    }

    pub const fn with_room_idle(mut self, wait: Duration) -> Self {
        self.room_idle = wait;
        self
    }

    /// Sets the idle timeout and the keep-alive interval together.
    pub const fn with_idle_timeout(mut self, idle: Duration, keep_alive: Duration) -> Self {
        self.idle_timeout = idle;
        self.keep_alive = keep_alive;
        self
    }

    pub const fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    pub const fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    pub const fn with_max_send_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_send_queue_bytes = bytes;
        self
    }

    pub const fn with_max_uncommitted_bytes(mut self, bytes: usize) -> Self {
        self.max_uncommitted_bytes = bytes;
        self
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::DEFAULT
    }
}

/// Which certificate the server presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// The self-signed certificate kept in the data directory (created on
    /// first start for "localhost", the listen address and these names).
    SelfSigned { names: Vec<String> },
    /// A certificate chain and key from PEM files.
    Pem { cert: PathBuf, key: PathBuf },
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// UDP address to listen on; port 0 picks a free one (see
    /// [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// Holds the database, the token secret and the self-signed certificate.
    /// Created (mode 0700) if missing.
    pub data_dir: PathBuf,
    pub certificate: Certificate,
    pub options: ServerOptions,
}

/// Why the server could not start or stop cleanly. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another touchpoint-server is using the data directory {path}: stop it, or give this one another --data"
    )]
    Locked { path: PathBuf },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running server. Dropping it without [`Server::shutdown`] stops
/// accepting at once but does not wait for rooms to flush.
pub struct Server {
    local_addr: SocketAddr,
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
        let shared = Arc::new(Shared {
            options,
            tokens,
            commit: commit.handle(),
            loader: Mutex::new(loader),
            rooms: Mutex::new(HashMap::new()),
            next_room_generation: AtomicU64::new(1),
            per_ip: Mutex::new(HashMap::new()),
            next_member: AtomicU64::new(1),
            shutdown: shutdown_rx,
            room_tasks: TaskCounter::new(),
            stream_tasks: TaskCounter::new(),
        });
        let accept_loop = tokio::spawn(
            conn::accept_loop(endpoint.clone(), shared.clone())
                .instrument(tracing::info_span!("server", addr = %local_addr)),
        );
        share::record_listen_address(&dir, local_addr);
        tracing::info!(
            addr = %local_addr,
            fingerprint = %crate::link::hex(&identity.fingerprint),
            data = %dir.display(),
            "listening"
        );
        Ok(Server {
            local_addr,
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
        let _ = self.shutdown_tx.send(true);
        self.endpoint.close(
            quinn::VarInt::from_u32(u32::from(ErrorCode::GoingAway.code())),
            b"the server stopped",
        );
    }
}

/// Creates the data directory (owner-only on unix) if needed.
fn prepare_data_dir(dir: &Path) -> Result<(), ServerError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| ServerError::DataDir {
        path: dir.to_owned(),
        source,
    })?;
    if !dir.is_dir() {
        return Err(ServerError::DataDir {
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    Ok(())
}

/// Takes the data directory's lock file, so that two servers never serve
/// (and relay) the same rooms.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File, ServerError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ServerError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServerError::Locked {
            path: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(ServerError::DataDir {
            path: path.clone(),
            source,
        }),
    }
}

/// Server state shared by every task.
pub(crate) struct Shared {
    options: ServerOptions,
    tokens: TokenKey,
    commit: GroupCommitHandle,
    /// A second store on the database, for room loads beside the writer.
    loader: Mutex<SqliteStore>,
    rooms: Mutex<HashMap<String, RoomHandle>>,
    next_room_generation: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    next_member: AtomicU64,
    shutdown: watch::Receiver<bool>,
    room_tasks: TaskCounter,
    stream_tasks: TaskCounter,
}

/// A loaded (or loading) room's inbox.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    tx: mpsc::Sender<room::RoomMsg>,
    generation: u64,
}

/// Messages queued for one room task before a sender waits (each at most
/// 64 KiB read from a stream, so at most 4 MiB per room).
const ROOM_INBOX: usize = 64;

impl Shared {
    /// Locks a map; a panic elsewhere while it was held does not make the
    /// data wrong (every critical section is a single insert or remove).
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, RoomHandle>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn per_ip(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room's inbox, starting its task (which loads it) if it is not
    /// loaded. Refused when the server holds its maximum of rooms.
    fn room_handle(self: &Arc<Self>, name: &str) -> Result<RoomHandle, Refusal> {
        let mut rooms = self.rooms();
        if let Some(handle) = rooms.get(name) {
            return Ok(handle.clone());
        }
        if *self.shutdown.borrow() {
            return Err(Refusal::new(
                ErrorCode::GoingAway,
                "the server is shutting down; reconnect in a moment",
            ));
        }
        if rooms.len() >= self.options.max_rooms {
            tracing::warn!(
                room = name,
                max_rooms = self.options.max_rooms,
                "room refused: the server holds its maximum of rooms"
            );
            return Err(Refusal::new(
                ErrorCode::RoomFull,
                format!(
                    "the server has {} rooms open, its limit; try again later",
                    self.options.max_rooms
                ),
            ));
        }
        let (tx, rx) = mpsc::channel(ROOM_INBOX);
        let generation = self.next_room_generation.fetch_add(1, Ordering::Relaxed);
        let handle = RoomHandle { tx, generation };
        rooms.insert(name.to_owned(), handle.clone());
        let guard = self.room_tasks.guard();
        tokio::spawn(
            room::run(self.clone(), name.to_owned(), rx, generation, guard)
                // Not inside the span of the member whose join started it.
                .instrument(tracing::info_span!(parent: None, "room", room = name)),
        );
        Ok(handle)
    }

    /// Forgets a room task's entry (if it is still that task's).
    fn remove_room(&self, name: &str, generation: u64) {
        let mut rooms = self.rooms();
        if rooms.get(name).is_some_and(|h| h.generation == generation) {
            rooms.remove(name);
        }
    }

    /// Counts a connection from `ip`; the count before it is returned with
    /// the guard that takes it back.
    fn count_connection(self: &Arc<Self>, ip: IpAddr) -> (IpGuard, usize) {
        let mut per_ip = self.per_ip();
        let count = per_ip.entry(ip).or_default();
        let before = *count;
        *count += 1;
        (
            IpGuard {
                shared: self.clone(),
                ip,
            },
            before,
        )
    }
}

/// Takes back one connection from the per-address count when dropped.
pub(crate) struct IpGuard {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut per_ip = self.shared.per_ip();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Counts running tasks of one kind, so that shutdown can wait for them.
pub(crate) struct TaskCounter(watch::Sender<usize>);

/// Counts as one running task until dropped.
pub(crate) struct TaskGuard(watch::Sender<usize>);

impl TaskCounter {
    fn new() -> TaskCounter {
        TaskCounter(watch::Sender::new(0))
    }

    fn guard(&self) -> TaskGuard {
        self.0.send_modify(|n| *n += 1);
        TaskGuard(self.0.clone())
    }

    /// Waits until no task is running, or `timeout`; whether they all ended.
    async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Completes once shutdown has begun.
pub(crate) async fn shutdown_begun(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held by the caller.
    drop(rx.wait_for(|stop| *stop).await);
}

/// Error codes after which the whole QUIC connection is closed, not just
/// the stream: the peer broke the protocol, so nothing else it sends on this
/// connection can be trusted either.
pub(crate) fn closes_connection(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::BadFrame
            | ErrorCode::FrameTooLarge
            | ErrorCode::UnexpectedFrame
            | ErrorCode::BadUpdate
    )
}

/// The QUIC application error code for a protocol error code.
pub(crate) fn quic_code(code: ErrorCode) -> quinn::VarInt {
    quinn::VarInt::from_u32(u32::from(code.code()))
}
