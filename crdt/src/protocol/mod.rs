//! The sync protocol, sans-io: bytes in, bytes out, no sockets and no clock
//! of its own. PROTOCOL.md at the repository root specifies the bytes.
//!
//! - [`frame`]: length-prefixed frames (hello, welcome, error, and the
//!   y-protocols messages y-websocket sends), the streaming
//!   [`FrameDecoder`], presence datagrams, [`Limits`] and [`ErrorCode`]s.

pub mod frame;
mod lib0;

/// The protocol version this build speaks, sent in hello and welcome.
pub const PROTOCOL_VERSION: u32 = 1;

/// The QUIC/TLS application protocol name (ALPN) for this version.
pub const ALPN: &[u8] = b"touchpoint/1";

pub use frame::{
    ErrorCode, Frame, FrameDecoder, FrameError, Hello, LENGTH_PREFIX_LEN, Limits, MAX_CLIENT_ID,
    Refusal, Role, Welcome, decode_presence_datagram, encode_presence_datagram,
};
