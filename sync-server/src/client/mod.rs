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

mod connector;
mod driver;
mod headless;
pub mod transport;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{ErrorCode, Limits, Role};
use yrs::sync::AwarenessUpdate;

pub use backoff::{Backoff, BackoffOptions, Jitter};
pub use connector::{Client, Connector};
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

/// Locks the board. A panic elsewhere while holding it leaves a document
/// that yrs kept consistent (transactions commit on drop), so a poisoned
/// lock is used as is rather than taking the sync task down too.
pub fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    match board.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
