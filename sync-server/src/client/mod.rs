//! The client end of sync: joins a room from a share link over QUIC, in
//! two layers (as quinn splits quinn-proto from its runtime).
//!
//! - [`transport`]: the network task. Resolves the link's host, connects
//!   (pinning the link's certificate fingerprint, see [`tls`]), opens the
//!   room's stream, moves bytes both ways through byte-bounded channels, and
//!   reconnects with exponential backoff and jitter ([`backoff`]). I/O only.
//! - [`Driver`]: the sans-io
//!   [`ClientSession`](touchpoint_crdt::protocol::ClientSession) driven
//!   against the one board by whoever owns that board, with what the
//!   transport carries. The app owns its board on its UI thread and drives
//!   a [`Driver`] there; the board exists once.
//!
//! [`Client`] is the small headless owner for code that has no thread of
//! its own to drive a board (the load generator, tests): the board behind
//! `Arc<Mutex<Board>>`, driven by a task that takes the lock to apply what
//! arrives and notices local edits through a document observer, so there
//! is nothing to "send". Edits made while offline stay in the board and
//! travel in the next sync step 1/2 exchange.
//!
//! Its owner follows the connection through [`Client::state`] (latest
//! value) or [`Client::next_event`] (every change, and collaborators'
//! presence).

pub mod backoff;
pub mod stats;
pub mod tls;

mod driver;
mod headless;
pub mod transport;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{ErrorCode, Hello, Limits, Role};
use yrs::sync::AwarenessUpdate;

use crate::link::ShareLink;
pub use backoff::{Backoff, BackoffOptions, Jitter};
pub use driver::Driver;
pub use tls::FingerprintMismatch;
pub use transport::{Transport, TransportOptions};

/// How a client connects. Start from [`ClientOptions::default`] and change
/// fields with the `with_*` setters.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The display name sent in the hello (logs, presence). Default:
    /// "touchpoint".
    pub name: String,
    /// Delays between connection attempts. Default: [`BackoffOptions::DEFAULT`].
    pub backoff: BackoffOptions,
    /// Seed for the backoff jitter; `None` seeds from the clock. Default: `None`.
    pub jitter_seed: Option<u64>,
    /// Decoding limits for what the server sends. Default: [`Limits::DEFAULT`].
    pub limits: Limits,
    /// Start connected (`true`) or offline until [`Client::set_online`].
    /// Default: `true`.
    pub online: bool,
    /// Called from the client's task after anything the app may want to
    /// show: a state change, presence, bytes from the server applied to the
    /// board. An app whose event loop sleeps until woken passes its waker
    /// here. Default: none.
    pub waker: Option<Waker>,
}

/// A callback that wakes the app (see [`ClientOptions::waker`]). It runs on
/// the client's task: it must be quick and must not lock the board.
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Waker {
        Waker(Arc::new(f))
    }

    pub(crate) fn wake(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Waker")
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            name: "touchpoint".to_owned(),
            backoff: BackoffOptions::DEFAULT,
            jitter_seed: None,
            limits: Limits::DEFAULT,
            online: true,
            waker: None,
        }
    }
}

impl ClientOptions {
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn with_backoff(mut self, backoff: BackoffOptions) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_online(mut self, online: bool) -> Self {
        self.online = online;
        self
    }

    pub fn with_waker(mut self, waker: Waker) -> Self {
        self.waker = Some(waker);
        self
    }
}

/// Where the client stands, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connecting, or joined and waiting for the server's sync step 2.
    /// `attempt` counts attempts since the last time the client was synced
    /// (1 for the first; 0 until the client's task has started).
    Connecting { attempt: u32 },
    /// Joined and holding everything the server held when it answered;
    /// edits flow both ways as they happen. `since` identifies this
    /// connection: it changes on every reconnect.
    Synced { role: Role, since: Instant },
    /// Not connected. `pending` local changes (transactions) wait in the
    /// board for the next sync; `retry_in` is when the next attempt starts
    /// (`None`: offline by request, see [`Client::set_online`]); `reason`
    /// says what happened, for a tooltip.
    Offline {
        pending: usize,
        retry_in: Option<Duration>,
        reason: String,
    },
    /// Refused for good: retrying unchanged cannot help (a bad or expired
    /// token, a certificate that does not match the link, a newer protocol).
    /// `code` is the server's error code, or `None` when this end refused
    /// (certificate, TLS). The client waits for [`Client::reconnect`] or
    /// shutdown.
    Refused {
        code: Option<ErrorCode>,
        reason: String,
    },
    /// Shut down; the task has ended.
    Closed,
}

impl ConnectionState {
    pub fn is_synced(&self) -> bool {
        matches!(self, ConnectionState::Synced { .. })
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::Connecting { attempt } => write!(f, "connecting (attempt {attempt})"),
            ConnectionState::Synced { role, .. } => write!(f, "synced as {role}"),
            ConnectionState::Offline {
                pending,
                retry_in,
                reason,
            } => {
                write!(f, "offline with {pending} pending local changes")?;
                if let Some(d) = retry_in {
                    write!(f, ", retrying in {:.1} s", d.as_secs_f64())?;
                }
                write!(f, " ({reason})")
            }
            ConnectionState::Refused { reason, .. } => write!(f, "refused: {reason}"),
            ConnectionState::Closed => f.write_str("closed"),
        }
    }
}

/// What the client tells the app, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection state changed (also readable from [`Client::state`]).
    State(ConnectionState),
    /// Collaborators' presence: apply it to the app's awareness. States are
    /// JSON text, checked to parse but otherwise untrusted.
    Presence(AwarenessUpdate),
    /// An update from the server failed in a way that may have left part of
    /// it in the board (yrs stopped or panicked mid-integration). The client
    /// has stopped (state `Refused`) and will not reconnect with that board:
    /// discard it, reload it from a trusted copy and start a new client.
    BoardSuspect { reason: String },
}

/// Why a client could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot open a UDP socket for QUIC: {0}")]
    Socket(std::io::Error),
    #[error("the board is inside a transaction; start the client between edits")]
    BoardBusy,
    #[error("the sync client needs a tokio runtime (call it from inside one, or enter one first)")]
    NoRuntime,
}

/// Instructions from the handle to the headless task.
#[derive(Debug)]
enum Command {
    Presence {
        update: AwarenessUpdate,
        reliable: bool,
    },
    SetOnline(bool),
    Reconnect,
    Shutdown,
}

/// Events the task buffers for an app that does not read them; past this,
/// presence events are dropped (the state stays readable from the watch).
const EVENT_BUFFER: usize = 1024;

/// A QUIC client endpoint (one UDP socket) that can carry many clients'
/// connections. [`Connector::transport`] starts one network task; a process
/// with many clients (the load generator) may share one endpoint.
#[derive(Debug, Clone)]
pub struct Connector {
    endpoint: quinn::Endpoint,
}

impl Connector {
    /// Binds a UDP socket on an ephemeral port: dual-stack IPv6 where the
    /// system allows, IPv4 otherwise. Must be called inside a tokio runtime.
    pub fn new() -> Result<Connector, ClientError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClientError::NoRuntime);
        }
        let endpoint = quinn::Endpoint::client(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))
            .or_else(|_| quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))))
            .map_err(ClientError::Socket)?;
        Ok(Connector { endpoint })
    }

    /// Starts the network task for `link` on this endpoint, for an owner
    /// that drives its board itself (see [`Driver`]). Must be called inside
    /// the tokio runtime the endpoint was made in.
    pub fn transport(
        &self,
        link: ShareLink,
        options: TransportOptions,
    ) -> Result<Transport, ClientError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        Ok(Transport::start(
            &runtime,
            self.endpoint.clone(),
            link,
            options,
        ))
    }

    /// Starts a headless client for `link` on this endpoint; see
    /// [`Client::connect`].
    pub fn connect(
        &self,
        link: ShareLink,
        board: Arc<Mutex<Board>>,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        Client::start(self, link, board, options)
    }
}

/// A headless board joined to a room. See the module docs.
///
/// Dropping the handle ends the connection (the stream is finished, the
/// server sees the member leave); [`Client::shutdown`] does the same and
/// waits for it.
pub struct Client {
    board: Arc<Mutex<Board>>,
    room: String,
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ConnectionState>,
    events: mpsc::Receiver<Event>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Joins the room `link` names with `board`, on an endpoint of its own.
    /// Returns at once: connecting happens in the background (watch
    /// [`Client::state`]). Must be called inside a tokio runtime.
    ///
    /// The board may already hold edits (a local copy opened offline): the
    /// first sync carries them.
    pub fn connect(
        link: ShareLink,
        board: Arc<Mutex<Board>>,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        Connector::new()?.connect(link, board, options)
    }

    fn start(
        connector: &Connector,
        link: ShareLink,
        board: Arc<Mutex<Board>>,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        let hello = Hello::new(link.room.clone(), link.token.clone(), options.name.clone());
        let transport = connector.transport(
            link.clone(),
            TransportOptions {
                backoff: options.backoff,
                jitter_seed: options.jitter_seed,
                online: options.online,
                waker: None,
            },
        )?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ConnectionState::Connecting { attempt: 0 });
        let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = {
            let guard = lock(&board);
            headless::Task::new(
                transport,
                &guard,
                board.clone(),
                hello,
                &options,
                headless::Channels {
                    commands: commands_rx,
                    state: state_tx,
                    events: events_tx,
                },
            )
            .ok_or(ClientError::BoardBusy)?
        };
        let task = runtime.spawn(task.run());
        Ok(Client {
            board,
            room: link.room,
            commands,
            state,
            events,
            task: Some(task),
        })
    }

    /// The shared board. Lock it briefly (an edit, a snapshot): the client's
    /// task takes the same lock to apply remote updates.
    pub fn board(&self) -> &Arc<Mutex<Board>> {
        &self.board
    }

    /// The room this client joined.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// A receiver of the connection state, for code that waits for changes
    /// (`changed().await`) or reads it from elsewhere.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Waits until the state satisfies `f` (or the client is closed), and
    /// returns that state.
    pub async fn wait_for(&self, f: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
        let mut rx = self.state.clone();
        match rx
            .wait_for(|s| f(s) || matches!(s, ConnectionState::Closed))
            .await
        {
            Ok(s) => s.clone(),
            Err(_) => ConnectionState::Closed,
        }
    }

    /// The next event, waiting for it; `None` once the client has closed.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next event if there is one, without waiting (for a UI frame loop).
    pub fn try_next_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Publishes this user's presence (cursor, selection, a gesture in
    /// progress) as a datagram when it fits: latest wins, loss tolerated. It
    /// is remembered and sent again after every reconnect.
    pub fn send_presence(&self, update: AwarenessUpdate) {
        let _ = self.commands.send(Command::Presence {
            update,
            reliable: false,
        });
    }

    /// Publishes presence on the stream: for what must not be lost (a
    /// removal when leaving, the end of a gesture).
    pub fn send_presence_reliably(&self, update: AwarenessUpdate) {
        let _ = self.commands.send(Command::Presence {
            update,
            reliable: true,
        });
    }

    /// Goes offline (`false`: the connection is closed, edits accumulate in
    /// the board) or back online (`true`: connects now, merging them).
    pub fn set_online(&self, online: bool) {
        let _ = self.commands.send(Command::SetOnline(online));
    }

    /// Drops the current connection (if any) and connects again now, also
    /// after a refusal (for example once the user has fixed the link).
    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }

    /// Leaves the room: finishes the stream, closes the connection and waits
    /// for the task to end (about a second at most).
    pub async fn shutdown(mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The task also ends when the command channel closes; saying so
        // explicitly makes it leave gracefully.
        let _ = self.commands.send(Command::Shutdown);
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("room", &self.room)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

/// Locks the board. A panic elsewhere while holding it leaves a document
/// that yrs kept consistent (transactions commit on drop), so a poisoned
/// lock is used as is rather than taking the sync task down too.
pub fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    match board.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
