//! The handles a process holds: a [`Connector`] (one QUIC endpoint) that
//! starts transports, and the headless [`Client`] that runs a board on a
//! task of its own.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::Hello;
use yrs::sync::AwarenessUpdate;

use super::headless::Command;
use super::transport::{Transport, TransportOptions};
use super::{ClientError, ClientOptions, ConnectionState, Event, lock};
use crate::link::ShareLink;

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
    /// that drives its board itself (see [`Driver`](super::Driver)). Must be called inside
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
            super::headless::Task::new(
                transport,
                &guard,
                board.clone(),
                hello,
                &options,
                super::headless::Channels {
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
