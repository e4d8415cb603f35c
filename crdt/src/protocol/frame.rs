//! Frames: what travels on a room's stream, and how it is laid out in bytes.
//!
//! A frame is `[length: u32 big-endian][type: u8][body]`, where `length`
//! counts the type byte and the body. Bodies use lib0's primitives (see
//! `lib0.rs`); a y-protocols frame's body is exactly one message as
//! y-websocket sends it. PROTOCOL.md at the repository root is the reference
//! for other implementations; this file and it must agree.
//!
//! Decoding never panics and never allocates more than the bytes it was
//! given: every count read from the wire is checked against the bytes that
//! remain before anything is reserved, and a frame whose length prefix is over
//! the limit is refused before its payload is buffered.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::{ClientID, StateVector};

use super::PROTOCOL_VERSION;
use super::lib0::{self, ReadError, Reader};

/// Bytes in a frame's length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Frame type bytes (the byte after the length prefix).
pub mod frame_type {
    /// Client to server, first frame on a stream: [`super::Hello`].
    pub const HELLO: u8 = 1;
    /// Server to client, the answer to an accepted hello: [`super::Welcome`].
    pub const WELCOME: u8 = 2;
    /// Either way, the last frame before the sender closes: [`super::Refusal`].
    pub const ERROR: u8 = 3;
    /// Either way, after the welcome: one y-protocols message.
    pub const YJS: u8 = 4;
}

/// y-protocols message types (the first var uint of a y-websocket message).
mod y_message {
    pub const SYNC: u64 = 0;
    pub const AWARENESS: u64 = 1;
    pub const AUTH: u64 = 2;
    pub const QUERY_AWARENESS: u64 = 3;
    pub const SYNC_STEP_1: u64 = 0;
    pub const SYNC_STEP_2: u64 = 1;
    pub const SYNC_UPDATE: u64 = 2;
}

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

/// Every limit the protocol enforces, in one place. Both ends decode with
/// them; the server member also enforces the rate, document and presence
/// limits. Start from [`Limits::DEFAULT`] and change fields with the `with_*`
/// setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted, in bytes, counting the type byte and body but
    /// not the 4-byte length prefix. A longer frame is refused as soon as its
    /// length prefix arrives, before its payload is buffered. Keep it above
    /// `max_doc_len` so that a sync step 2 carrying a whole document fits.
    /// Default: 33 MiB.
    pub max_frame_len: u32,
    /// Longest room name in a hello, in UTF-8 bytes. Default: 256.
    pub max_room_len: usize,
    /// Longest access token in a hello, in UTF-8 bytes. Default: 4,096.
    pub max_token_len: usize,
    /// Longest client name in a hello, in UTF-8 bytes. Default: 256.
    pub max_name_len: usize,
    /// Longest reason in an error frame, in UTF-8 bytes. Default: 1,024.
    pub max_reason_len: usize,
    /// Largest room document the server accepts updates into, in bytes of
    /// its Yjs update v1 encoding (what a `.tpboard` file holds). An update
    /// that would grow the document past it is refused with
    /// [`ErrorCode::DocTooLarge`]. Default: 32 MiB.
    pub max_doc_len: usize,
    /// Frames and datagrams one member may send per second, on average, to
    /// the server. Generous enough for unthrottled cursor motion (one
    /// awareness message per pointer event) plus typing. Default: 300.
    pub messages_per_second: u32,
    /// Frames and datagrams one member may send at once above that average.
    /// Default: 600.
    pub message_burst: u32,
    /// How long the server waits for a hello before refusing the stream.
    /// Default: 10 seconds.
    pub hello_timeout: Duration,
    /// Awareness client ids one member may publish presence for (a Yjs
    /// client normally has one). Default: 4.
    pub max_presence_clients: usize,
    /// Largest single presence state (its JSON text, in UTF-8 bytes). An
    /// awareness message carrying a longer one is refused by the codec on
    /// both ends ([`FrameError::FieldTooLong`]), so it is never relayed.
    /// The app's own states stay under half of it (a pen stroke's 200
    /// points with a 100-element selection, or a drag of 100 elements).
    /// Default: 16 KiB.
    pub max_presence_bytes: usize,
    /// Most bytes of presence (the JSON text of every state) a room holds;
    /// a state that would take it past this is dropped, not relayed, so the
    /// room's presence and a newcomer's snapshot of it stay bounded.
    /// Default: 4 MiB.
    pub max_room_presence_bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_frame_len: 33 * MIB,
        max_room_len: 256,
        max_token_len: 4096,
        max_name_len: 256,
        max_reason_len: 1024,
        max_doc_len: 32 * MIB as usize,
        messages_per_second: 300,
        message_burst: 600,
        hello_timeout: Duration::from_secs(10),
        max_presence_clients: 4,
        max_presence_bytes: 16 * KIB as usize,
        max_room_presence_bytes: 4 * MIB as usize,
    };

    pub fn with_max_frame_len(mut self, bytes: u32) -> Self {
        self.max_frame_len = bytes;
        self
    }

    pub fn with_max_room_len(mut self, bytes: usize) -> Self {
        self.max_room_len = bytes;
        self
    }

    pub fn with_max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    pub fn with_max_name_len(mut self, bytes: usize) -> Self {
        self.max_name_len = bytes;
        self
    }

    pub fn with_max_reason_len(mut self, bytes: usize) -> Self {
        self.max_reason_len = bytes;
        self
    }

    pub fn with_max_doc_len(mut self, bytes: usize) -> Self {
        self.max_doc_len = bytes;
        self
    }

    /// Sets the average rate and the burst above it, in messages.
    pub fn with_message_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.messages_per_second = per_second;
        self.message_burst = burst;
        self
    }

    pub fn with_hello_timeout(mut self, timeout: Duration) -> Self {
        self.hello_timeout = timeout;
        self
    }

    pub fn with_max_presence_clients(mut self, clients: usize) -> Self {
        self.max_presence_clients = clients;
        self
    }

    pub fn with_max_presence_bytes(mut self, bytes: usize) -> Self {
        self.max_presence_bytes = bytes;
        self
    }

    pub fn with_max_room_presence_bytes(mut self, bytes: usize) -> Self {
        self.max_room_presence_bytes = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// What a member may do in a room. Granted by the server from the access
/// token; a viewer's document updates are refused by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Viewer,
    Editor,
}

impl Role {
    /// The number the welcome frame carries.
    pub fn code(self) -> u64 {
        match self {
            Role::Viewer => 0,
            Role::Editor => 1,
        }
    }

    pub fn from_code(code: u64) -> Option<Role> {
        match code {
            0 => Some(Role::Viewer),
            1 => Some(Role::Editor),
            _ => None,
        }
    }

    pub fn can_write(self) -> bool {
        self == Role::Editor
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
        })
    }
}

/// Why a stream ends, as the error frame carries it. The numbers are part of
/// the protocol: never renumber, only add. A code this build does not know
/// decodes as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 1: a frame could not be decoded (garbage, unknown type, bad field).
    BadFrame,
    /// 2: a frame's length is over the receiver's limit.
    FrameTooLarge,
    /// 3: a well-formed frame at the wrong time (anything before the hello,
    /// a second hello, a y-protocols message before the welcome).
    UnexpectedFrame,
    /// 4: the peer speaks a protocol version this end does not.
    VersionMismatch,
    /// 5: the access token is missing, invalid, expired or for another room.
    Unauthorized,
    /// 6: the role does not allow it (a viewer sent a document update).
    Forbidden,
    /// 7: the room has as many members as it may hold.
    RoomFull,
    /// 8: too many messages too quickly.
    RateLimited,
    /// 9: the update would grow the document past the server's limit.
    DocTooLarge,
    /// 10: a document update that does not decode or apply.
    BadUpdate,
    /// 11: the server failed (storage, a bug); not the client's fault.
    ServerError,
    /// 12: the server is shutting down or moving the room; reconnect later.
    GoingAway,
    /// 13: the peer was silent too long (no hello in time).
    Timeout,
    /// A code from a newer peer.
    Other(u16),
}

impl ErrorCode {
    /// Every code this build knows, for tests and documentation.
    pub const KNOWN: [ErrorCode; 13] = [
        ErrorCode::BadFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnexpectedFrame,
        ErrorCode::VersionMismatch,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RoomFull,
        ErrorCode::RateLimited,
        ErrorCode::DocTooLarge,
        ErrorCode::BadUpdate,
        ErrorCode::ServerError,
        ErrorCode::GoingAway,
        ErrorCode::Timeout,
    ];

    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::BadFrame => 1,
            ErrorCode::FrameTooLarge => 2,
            ErrorCode::UnexpectedFrame => 3,
            ErrorCode::VersionMismatch => 4,
            ErrorCode::Unauthorized => 5,
            ErrorCode::Forbidden => 6,
            ErrorCode::RoomFull => 7,
            ErrorCode::RateLimited => 8,
            ErrorCode::DocTooLarge => 9,
            ErrorCode::BadUpdate => 10,
            ErrorCode::ServerError => 11,
            ErrorCode::GoingAway => 12,
            ErrorCode::Timeout => 13,
            ErrorCode::Other(n) => n,
        }
    }

    pub fn from_code(code: u16) -> ErrorCode {
        ErrorCode::KNOWN
            .into_iter()
            .find(|c| c.code() == code)
            .unwrap_or(ErrorCode::Other(code))
    }

    /// The stable snake_case name, for logs and PROTOCOL.md.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnexpectedFrame => "unexpected_frame",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DocTooLarge => "doc_too_large",
            ErrorCode::BadUpdate => "bad_update",
            ErrorCode::ServerError => "server_error",
            ErrorCode::GoingAway => "going_away",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Other(_) => "other",
        }
    }

    /// Whether reconnecting later, unchanged, may succeed. The others need
    /// something changed first (a new token, a newer app, a smaller paste).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RoomFull
                | ErrorCode::RateLimited
                | ErrorCode::ServerError
                | ErrorCode::GoingAway
                | ErrorCode::Timeout
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Other(n) => write!(f, "error {n}"),
            known => f.write_str(known.name()),
        }
    }
}

/// The content of an error frame: a code for programs and a reason for
/// people. The sender closes the stream after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub reason: String,
}

impl Refusal {
    /// A refusal whose reason is cut (at a character boundary) to the
    /// default reason limit, so that every peer accepts the frame.
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Refusal {
        let mut reason = reason.into();
        let limit = Limits::DEFAULT.max_reason_len;
        if reason.len() > limit {
            let mut cut = limit;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        Refusal { code, reason }
    }

    pub fn frame(&self) -> Frame {
        Frame::Error(self.clone())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

/// The first frame a client sends on a room's stream.
#[derive(Clone, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version the client speaks ([`PROTOCOL_VERSION`]).
    pub version: u32,
    /// The room to join, as the share link names it.
    pub room: String,
    /// The access token from the share link (signed by the server).
    pub token: String,
    /// A display name for logs and presence, chosen by the user.
    pub client_name: String,
}

impl Hello {
    /// A hello for this build's protocol version.
    pub fn new(
        room: impl Into<String>,
        token: impl Into<String>,
        client_name: impl Into<String>,
    ) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            room: room.into(),
            token: token.into(),
            client_name: client_name.into(),
        }
    }
}

/// The token is a credential: it never reaches a log through `{:?}`.
impl fmt::Debug for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hello")
            .field("version", &self.version)
            .field("room", &self.room)
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .field("client_name", &self.client_name)
            .finish()
    }
}

/// The server's answer to an accepted hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The protocol version the server will speak on this stream.
    pub version: u32,
    /// What the token allows in this room.
    pub role: Role,
    /// Names this room on the connection in presence datagrams (a connection
    /// may join several rooms, one stream each).
    pub channel: u64,
}

/// One frame of a room's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Hello(Hello),
    Welcome(Welcome),
    /// y-protocols sync message: step 1 (a state vector), step 2 or update
    /// (Yjs update v1 bytes, not validated by the codec).
    Sync(SyncMessage),
    /// y-protocols awareness message: presence states (JSON text, checked to
    /// parse) with their clocks.
    Awareness(AwarenessUpdate),
    /// y-protocols query-awareness message: "send me every presence state".
    AwarenessQuery,
    /// The last frame before the sender closes.
    Error(Refusal),
}

impl Frame {
    /// The frame's type byte.
    pub fn frame_type(&self) -> u8 {
        match self {
            Frame::Hello(_) => frame_type::HELLO,
            Frame::Welcome(_) => frame_type::WELCOME,
            Frame::Error(_) => frame_type::ERROR,
            Frame::Sync(_) | Frame::Awareness(_) | Frame::AwarenessQuery => frame_type::YJS,
        }
    }

    /// A short name for logs (never the content: a hello holds a token).
    pub fn kind(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Welcome(_) => "welcome",
            Frame::Sync(SyncMessage::SyncStep1(_)) => "sync step 1",
            Frame::Sync(SyncMessage::SyncStep2(_)) => "sync step 2",
            Frame::Sync(SyncMessage::Update(_)) => "update",
            Frame::Awareness(_) => "awareness",
            Frame::AwarenessQuery => "awareness query",
            Frame::Error(_) => "error",
        }
    }

    /// The frame with its length prefix, ready to write to the stream.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame with its length prefix to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
        out.push(self.frame_type());
        match self {
            Frame::Hello(h) => {
                lib0::write_var_uint(out, u64::from(h.version));
                lib0::write_var_string(out, &h.room);
                lib0::write_var_string(out, &h.token);
                lib0::write_var_string(out, &h.client_name);
            }
            Frame::Welcome(w) => {
                lib0::write_var_uint(out, u64::from(w.version));
                lib0::write_var_uint(out, w.role.code());
                lib0::write_var_uint(out, w.channel);
            }
            Frame::Error(r) => {
                lib0::write_var_uint(out, u64::from(r.code.code()));
                lib0::write_var_string(out, &r.reason);
            }
            Frame::Sync(msg) => write_sync_message(out, msg),
            Frame::Awareness(update) => write_awareness_message(out, update),
            Frame::AwarenessQuery => lib0::write_var_uint(out, y_message::QUERY_AWARENESS),
        }
        // A frame over 4 GiB cannot be framed; the receiver's limit refuses
        // it long before, so saturate rather than wrap.
        let len = u32::try_from(out.len() - start - LENGTH_PREFIX_LEN).unwrap_or(u32::MAX);
        out[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// Decodes the one frame at the start of `bytes`, returning it and the
    /// bytes it used. Incomplete input is [`FrameError::Truncated`].
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(Frame, usize), FrameError> {
        let Some(len) = read_length(bytes) else {
            return Err(FrameError::Truncated { what: "frame" });
        };
        check_length(len, limits)?;
        let end = LENGTH_PREFIX_LEN + len as usize;
        let Some(body) = bytes.get(LENGTH_PREFIX_LEN..end) else {
            return Err(FrameError::Truncated { what: "frame" });
        };
        Ok((decode_body(body, limits)?, end))
    }
}

/// Why bytes are not a frame. Every one of them ends the stream: after a bad
/// frame the receiver cannot trust where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated {what}: the bytes end before it does")]
    Truncated { what: &'static str },
    #[error("frame too large: {len} bytes, limit {limit}")]
    TooLarge { len: u64, limit: u32 },
    #[error("empty frame: a frame holds at least its type byte")]
    Empty,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("malformed {field}: {problem}")]
    Malformed {
        field: &'static str,
        problem: &'static str,
    },
    #[error("{field} is not valid UTF-8")]
    BadUtf8 { field: &'static str },
    #[error("{field} too long: {len} bytes, limit {limit}")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        limit: usize,
    },
}

impl FrameError {
    /// The error code to send the peer whose bytes these were.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            _ => ErrorCode::BadFrame,
        }
    }

    /// The error frame to send the peer before closing.
    pub fn refusal(&self) -> Refusal {
        Refusal::new(self.code(), self.to_string())
    }

    fn field(field: &'static str, e: ReadError) -> FrameError {
        match e {
            ReadError::End => FrameError::Truncated { what: field },
            ReadError::Overflow => FrameError::Malformed {
                field,
                problem: "integer does not fit in 64 bits",
            },
            ReadError::Utf8 => FrameError::BadUtf8 { field },
        }
    }
}

fn read_length(bytes: &[u8]) -> Option<u32> {
    let prefix: [u8; LENGTH_PREFIX_LEN] = bytes.get(..LENGTH_PREFIX_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(prefix))
}

fn check_length(len: u32, limits: &Limits) -> Result<(), FrameError> {
    if len == 0 {
        Err(FrameError::Empty)
    } else if len > limits.max_frame_len {
        Err(FrameError::TooLarge {
            len: u64::from(len),
            limit: limits.max_frame_len,
        })
    } else {
        Ok(())
    }
}

/// Decodes a frame's type byte and body (the bytes after the length prefix).
fn decode_body(body: &[u8], limits: &Limits) -> Result<Frame, FrameError> {
    let mut r = Reader::new(body);
    let ty = r.read_u8().map_err(|_| FrameError::Empty)?;
    match ty {
        frame_type::HELLO => {
            // Fields later versions append are ignored, so an older server
            // can still read a newer client's version and answer with
            // version_mismatch.
            let version = read_u32(&mut r, "hello version")?;
            let room = read_string(&mut r, "room", limits.max_room_len)?;
            let token = read_string(&mut r, "token", limits.max_token_len)?;
            let client_name = read_string(&mut r, "client name", limits.max_name_len)?;
            Ok(Frame::Hello(Hello {
                version,
                room,
                token,
                client_name,
            }))
        }
        frame_type::WELCOME => {
            let version = read_u32(&mut r, "welcome version")?;
            let role = r
                .read_var_uint()
                .map_err(|e| FrameError::field("role", e))?;
            let role = Role::from_code(role).ok_or(FrameError::Malformed {
                field: "role",
                problem: "not 0 (viewer) or 1 (editor)",
            })?;
            let channel = r
                .read_var_uint()
                .map_err(|e| FrameError::field("channel", e))?;
            Ok(Frame::Welcome(Welcome {
                version,
                role,
                channel,
            }))
        }
        frame_type::ERROR => {
            let code = r
                .read_var_uint()
                .map_err(|e| FrameError::field("error code", e))?;
            let code = u16::try_from(code).map_err(|_| FrameError::Malformed {
                field: "error code",
                problem: "over 65535",
            })?;
            let reason = read_string(&mut r, "reason", limits.max_reason_len)?;
            Ok(Frame::Error(Refusal {
                code: ErrorCode::from_code(code),
                reason,
            }))
        }
        frame_type::YJS => {
            let frame = read_y_message(&mut r, limits)?;
            if !r.is_empty() {
                return Err(FrameError::Malformed {
                    field: "y-protocols message",
                    problem: "bytes left after the message",
                });
            }
            Ok(frame)
        }
        other => Err(FrameError::UnknownType(other)),
    }
}

fn read_u32(r: &mut Reader<'_>, field: &'static str) -> Result<u32, FrameError> {
    let n = r.read_var_uint().map_err(|e| FrameError::field(field, e))?;
    u32::try_from(n).map_err(|_| FrameError::Malformed {
        field,
        problem: "over 2^32 - 1",
    })
}

fn read_string(
    r: &mut Reader<'_>,
    field: &'static str,
    limit: usize,
) -> Result<String, FrameError> {
    let s = r.read_var_str().map_err(|e| FrameError::field(field, e))?;
    if s.len() > limit {
        return Err(FrameError::FieldTooLong {
            field,
            len: s.len(),
            limit,
        });
    }
    Ok(s.to_owned())
}

/// Reads one y-protocols message (as y-websocket sends it) into a frame.
fn read_y_message(r: &mut Reader<'_>, limits: &Limits) -> Result<Frame, FrameError> {
    const FIELD: &str = "y-protocols message";
    let tag = r.read_var_uint().map_err(|e| FrameError::field(FIELD, e))?;
    match tag {
        y_message::SYNC => {
            let sub = r
                .read_var_uint()
                .map_err(|e| FrameError::field("sync message", e))?;
            let payload = r
                .read_var_bytes()
                .map_err(|e| FrameError::field("sync message", e))?;
            match sub {
                y_message::SYNC_STEP_1 => Ok(Frame::Sync(SyncMessage::SyncStep1(
                    read_state_vector(payload)?,
                ))),
                y_message::SYNC_STEP_2 => Ok(Frame::Sync(SyncMessage::SyncStep2(payload.to_vec()))),
                y_message::SYNC_UPDATE => Ok(Frame::Sync(SyncMessage::Update(payload.to_vec()))),
                _ => Err(FrameError::Malformed {
                    field: "sync message",
                    problem: "type is not 0 (step 1), 1 (step 2) or 2 (update)",
                }),
            }
        }
        y_message::AWARENESS => {
            let payload = r
                .read_var_bytes()
                .map_err(|e| FrameError::field("awareness message", e))?;
            Ok(Frame::Awareness(read_awareness_update(payload, limits)?))
        }
        y_message::QUERY_AWARENESS => Ok(Frame::AwarenessQuery),
        y_message::AUTH => Err(FrameError::Malformed {
            field: FIELD,
            problem: "y-protocols auth messages are not used: the token goes in the hello",
        }),
        _ => Err(FrameError::Malformed {
            field: FIELD,
            problem: "type is not 0 (sync), 1 (awareness) or 3 (query awareness)",
        }),
    }
}

/// Yjs client ids are 53-bit (JavaScript's safe integers; lib0 refuses
/// larger ones). yrs asserts this in `ClientID::new` in debug builds and
/// silently truncates in release, so the check must happen here.
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

fn read_client_id(r: &mut Reader<'_>, field: &'static str) -> Result<ClientID, FrameError> {
    let id = r.read_var_uint().map_err(|e| FrameError::field(field, e))?;
    if id > MAX_CLIENT_ID {
        return Err(FrameError::Malformed {
            field,
            problem: "client id over 2^53 - 1",
        });
    }
    Ok(ClientID::new(id))
}

/// A Yjs state vector: count, then (client, clock) pairs. Entries are read
/// one by one, so a huge declared count costs nothing before the bytes run
/// out.
fn read_state_vector(bytes: &[u8]) -> Result<StateVector, FrameError> {
    const FIELD: &str = "state vector";
    let mut r = Reader::new(bytes);
    let count = r.read_var_uint().map_err(|e| FrameError::field(FIELD, e))?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let client = read_client_id(&mut r, FIELD)?;
        let clock = read_u32(&mut r, FIELD)?;
        entries.push((client, clock));
    }
    if !r.is_empty() {
        return Err(FrameError::Malformed {
            field: FIELD,
            problem: "bytes left after its entries",
        });
    }
    Ok(entries.into_iter().collect())
}

/// An awareness update: count, then (client, clock, JSON state) entries.
/// A state that is not JSON is refused here, because y-protocols in
/// JavaScript throws on it and a relayed one would break every JS peer; so
/// is one longer than [`Limits::max_presence_bytes`].
fn read_awareness_update(bytes: &[u8], limits: &Limits) -> Result<AwarenessUpdate, FrameError> {
    const FIELD: &str = "awareness update";
    let mut r = Reader::new(bytes);
    let count = r.read_var_uint().map_err(|e| FrameError::field(FIELD, e))?;
    let mut clients = HashMap::new();
    for _ in 0..count {
        let client = read_client_id(&mut r, FIELD)?;
        let clock = read_u32(&mut r, FIELD)?;
        let json = r
            .read_var_str()
            .map_err(|e| FrameError::field("awareness state", e))?;
        if json.len() > limits.max_presence_bytes {
            return Err(FrameError::FieldTooLong {
                field: "awareness state",
                len: json.len(),
                limit: limits.max_presence_bytes,
            });
        }
        if yrs::Any::from_json(json).is_err() {
            return Err(FrameError::Malformed {
                field: "awareness state",
                problem: "not JSON",
            });
        }
        clients.insert(
            client,
            AwarenessUpdateEntry {
                clock,
                json: Arc::from(json),
            },
        );
    }
    if !r.is_empty() {
        return Err(FrameError::Malformed {
            field: FIELD,
            problem: "bytes left after its entries",
        });
    }
    Ok(AwarenessUpdate { clients })
}

/// Writes a y-protocols sync message. Entries of a state vector go in client
/// order, so the same message always has the same bytes.
fn write_sync_message(out: &mut Vec<u8>, msg: &SyncMessage) {
    lib0::write_var_uint(out, y_message::SYNC);
    match msg {
        SyncMessage::SyncStep1(sv) => {
            lib0::write_var_uint(out, y_message::SYNC_STEP_1);
            let mut entries: Vec<(u64, u32)> = sv.iter().map(|(c, k)| (c.get(), *k)).collect();
            entries.sort_unstable();
            let mut body = Vec::new();
            lib0::write_var_uint(&mut body, entries.len() as u64);
            for (client, clock) in entries {
                lib0::write_var_uint(&mut body, client);
                lib0::write_var_uint(&mut body, u64::from(clock));
            }
            lib0::write_var_bytes(out, &body);
        }
        SyncMessage::SyncStep2(update) => {
            lib0::write_var_uint(out, y_message::SYNC_STEP_2);
            lib0::write_var_bytes(out, update);
        }
        SyncMessage::Update(update) => {
            lib0::write_var_uint(out, y_message::SYNC_UPDATE);
            lib0::write_var_bytes(out, update);
        }
    }
}

/// Writes a y-protocols awareness message, entries in client order.
fn write_awareness_message(out: &mut Vec<u8>, update: &AwarenessUpdate) {
    lib0::write_var_uint(out, y_message::AWARENESS);
    lib0::write_var_bytes(out, &encode_awareness_update(update));
}

/// The awareness update alone, as `encodeAwarenessUpdate` writes it.
pub(crate) fn encode_awareness_update(update: &AwarenessUpdate) -> Vec<u8> {
    let mut entries: Vec<(&ClientID, &AwarenessUpdateEntry)> = update.clients.iter().collect();
    entries.sort_unstable_by_key(|(c, _)| c.get());
    let mut body = Vec::new();
    lib0::write_var_uint(&mut body, entries.len() as u64);
    for (client, entry) in entries {
        lib0::write_var_uint(&mut body, client.get());
        lib0::write_var_uint(&mut body, u64::from(entry.clock));
        lib0::write_var_string(&mut body, &entry.json);
    }
    body
}

/// Cuts a stream of bytes into frames. Feed it whatever the transport
/// delivers, in chunks of any size, and take complete frames out.
///
/// It buffers at most one frame plus the chunk being fed: a length prefix
/// over [`Limits::max_frame_len`] is an error as soon as its four bytes are
/// in. After an error the decoder is spent: it ignores further input and
/// yields no more frames, because nothing after a bad frame can be trusted.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`.
    start: usize,
    failed: bool,
}

impl FrameDecoder {
    pub fn new(limits: Limits) -> FrameDecoder {
        FrameDecoder {
            limits,
            buf: Vec::new(),
            start: 0,
            failed: false,
        }
    }

    /// Adds bytes from the stream. Fails at once when the next frame's
    /// length prefix is over the limit (or zero).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.failed {
            return Ok(());
        }
        // Reclaim consumed space before growing, so a long-lived stream
        // keeps a buffer the size of its largest frame.
        if self.start > 0 && (self.start == self.buf.len() || self.start >= self.buf.len() / 2) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.check_next_length().map(|_| ())
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.failed {
            return Ok(None);
        }
        let Some(len) = self.check_next_length()? else {
            return Ok(None);
        };
        let body_start = self.start + LENGTH_PREFIX_LEN;
        let end = body_start + len as usize;
        if self.buf.len() < end {
            return Ok(None);
        }
        let result = decode_body(&self.buf[body_start..end], &self.limits);
        self.start = end;
        result.map(Some).map_err(|e| self.fail(e))
    }

    /// Call when the stream has ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if !self.failed && self.buffered_len() > 0 {
            Err(FrameError::Truncated { what: "frame" })
        } else {
            Ok(())
        }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether an error has ended this stream.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// The length of the next frame once its prefix is in, checked.
    fn check_next_length(&mut self) -> Result<Option<u32>, FrameError> {
        let Some(len) = read_length(&self.buf[self.start..]) else {
            return Ok(None);
        };
        check_length(len, &self.limits)
            .map(|()| Some(len))
            .map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = true;
        self.buf = Vec::new();
        self.start = 0;
        e
    }
}

/// Encodes a presence datagram: the room's channel (from its welcome) as a
/// var uint, then a y-protocols awareness message. No length prefix: a
/// datagram arrives whole or not at all. Datagrams may be lost or reordered;
/// the awareness clocks inside make the latest state win.
pub fn encode_presence_datagram(channel: u64, update: &AwarenessUpdate) -> Vec<u8> {
    let mut out = Vec::new();
    lib0::write_var_uint(&mut out, channel);
    write_awareness_message(&mut out, update);
    out
}

/// Decodes a presence datagram into its channel and awareness update.
pub fn decode_presence_datagram(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(u64, AwarenessUpdate), FrameError> {
    if bytes.len() > limits.max_frame_len as usize {
        return Err(FrameError::TooLarge {
            len: bytes.len() as u64,
            limit: limits.max_frame_len,
        });
    }
    let mut r = Reader::new(bytes);
    let channel = r
        .read_var_uint()
        .map_err(|e| FrameError::field("channel", e))?;
    let frame = read_y_message(&mut r, limits)?;
    if !r.is_empty() {
        return Err(FrameError::Malformed {
            field: "datagram",
            problem: "bytes left after the awareness message",
        });
    }
    match frame {
        Frame::Awareness(update) => Ok((channel, update)),
        _ => Err(FrameError::Malformed {
            field: "datagram",
            problem: "only awareness messages travel as datagrams",
        }),
    }
}
