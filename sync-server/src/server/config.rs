//! How a server is started: what it enforces ([`ServerOptions`]), where it
//! listens and which certificate it presents ([`ServerConfig`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use touchpoint_crdt::protocol::Limits;

use crate::storage::Durability;

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
/// The certificate chain and key (PEM files) of the WebSocket listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// UDP address to listen on; port 0 picks a free one (see
    /// [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// TCP address to accept WebSocket members (y-websocket) on, if any;
    /// port 0 picks a free one (see [`Server::ws_addr`]).
    pub ws_listen: Option<SocketAddr>,
    /// Serve `wss://` there with this certificate (PEM) instead of `ws://`:
    /// one a browser trusts.
    pub ws_tls: Option<WsTls>,
    /// Holds the database, the token secret and the self-signed certificate.
    /// Created (mode 0700) if missing.
    pub data_dir: PathBuf,
    pub certificate: Certificate,
    pub options: ServerOptions,
}
