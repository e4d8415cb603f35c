//! The sync protocol, sans-io: bytes in, bytes out, state machines in
//! between, no sockets and no clock of its own (time comes in as a
//! parameter). PROTOCOL.md at the repository root specifies the bytes.
//!
//! - [`frame`]: length-prefixed frames (hello, welcome, error, and the
//!   y-protocols messages y-websocket sends), the streaming
//!   [`FrameDecoder`], presence datagrams, [`Limits`] and [`ErrorCode`]s.
//! - [`session`]: [`ClientSession`], the client end of a room's stream,
//!   applying the server's updates to a [`crate::Board`] and sending its
//!   local ones.
//! - [`member`]: [`ServerMember`], the server end of one member's stream,
//!   and [`Room`], the server's document and presence for a room.
//!
//! The QUIC transport (quinn, in `touchpoint-sync`) drives these: one
//! bidirectional stream per joined room, presence optionally as datagrams.
//! Nothing here depends on it.

pub mod frame;
mod lib0;
pub mod member;
mod rate;
pub mod session;

/// The protocol version this build speaks, sent in hello and welcome.
pub const PROTOCOL_VERSION: u32 = 1;

/// The QUIC/TLS application protocol name (ALPN) for this version.
pub const ALPN: &[u8] = b"touchpoint/1";

pub use frame::{
    ErrorCode, Frame, FrameDecoder, FrameError, Hello, LENGTH_PREFIX_LEN, Limits, MAX_CLIENT_ID,
    Refusal, Role, Welcome, decode_presence_datagram, encode_presence_datagram, frame_type,
};
pub use member::{
    EMPTY_UPDATE, MemberEvent, MemberId, PRESENCE_BATCH_BYTES, Room, Rooms, ServerMember,
    datagram_channel,
};
pub use session::{ClientEvent, ClientSession, ClientState, SessionError};
