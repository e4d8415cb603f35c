//! Share links: everything a client needs to join a room, in one string.
//!
//! ```text
//! touchpoint://HOST:PORT/ROOM?fp=SHA256_HEX&token=TOKEN
//! ```
//!
//! `fp` is the SHA-256 fingerprint of the server's certificate (DER), 64 hex
//! digits; the client pins it, as WebTransport's `serverCertificateHashes`
//! does, so a self-hosted server needs no certificate authority. Without
//! `fp` the client verifies the server against the system's roots. The room
//! name is percent-encoded; the token is opaque to clients (see `token.rs`).

use std::fmt;
use std::str::FromStr;

/// The URL scheme of share links.
pub const SCHEME: &str = "touchpoint";

/// A parsed share link.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub room: String,
    /// SHA-256 of the server certificate's DER bytes, when pinned.
    pub fingerprint: Option<[u8; 32]>,
    pub token: String,
}

/// Why a string is not a share link. Messages say what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not a Touchpoint link: it must start with {SCHEME}://")]
    Scheme,
    #[error("the link has no host:port")]
    Address,
    #[error("the link's port {0:?} is not a number from 1 to 65535")]
    Port(String),
    #[error("the link names no room")]
    Room,
    #[error("the link's room name is not valid percent-encoded UTF-8")]
    RoomEncoding,
    #[error("the link's certificate fingerprint must be 64 hex digits")]
    Fingerprint,
    #[error("the link carries no access token")]
    Token,
    #[error("the link has an unknown parameter {0:?}")]
    Parameter(String),
}

impl ShareLink {
    /// The `host:port` string to resolve (IPv6 hosts in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ShareLink {
    /// The y-websocket URL of the same room and token on the server's
    /// WebSocket listener at `port` of the same host:
    /// `ws://HOST:PORT/ROOM?token=T`, or `wss://` when `tls` (PROTOCOL.md,
    /// "WebSocket").
    pub fn websocket_url(&self, tls: bool, port: u16) -> String {
        let scheme = if tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{scheme}://{host}:{port}/{}?token={}",
            percent_encode(&self.room),
            percent_encode(&self.token)
        )
    }
}

impl fmt::Display for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}://{}/{}?",
            self.authority(),
            percent_encode(&self.room)
        )?;
        if let Some(fp) = &self.fingerprint {
            write!(f, "fp={}&", hex(fp))?;
        }
        write!(f, "token={}", percent_encode(&self.token))
    }
}

/// The token is a secret: never print it in logs.
impl fmt::Debug for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareLink")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("room", &self.room)
            .field("fingerprint", &self.fingerprint.as_ref().map(|fp| hex(fp)))
            .field("token", &"<hidden>")
            .finish()
    }
}

impl FromStr for ShareLink {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<ShareLink, LinkError> {
        let rest = s
            .trim()
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or(LinkError::Scheme)?;
        let (authority, rest) = rest.split_once('/').ok_or(LinkError::Room)?;
        let (host, port) = split_authority(authority)?;
        let (room, query) = rest.split_once('?').unwrap_or((rest, ""));
        let room = percent_decode(room).ok_or(LinkError::RoomEncoding)?;
        if room.is_empty() {
            return Err(LinkError::Room);
        }
        let mut fingerprint = None;
        let mut token = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "fp" => fingerprint = Some(parse_fingerprint(v).ok_or(LinkError::Fingerprint)?),
                "token" => token = Some(percent_decode(v).ok_or(LinkError::Token)?),
                other => return Err(LinkError::Parameter(other.to_owned())),
            }
        }
        let token = token.filter(|t| !t.is_empty()).ok_or(LinkError::Token)?;
        Ok(ShareLink {
            host,
            port,
            room,
            fingerprint,
            token,
        })
    }
}

/// `host:port`, or `[ipv6]:port`. A host that could not be written back
/// the same way is refused (found by fuzzing: `a]b:c:1` and `[[x]:1` parsed
/// to hosts that printed as links which no longer parsed).
fn split_authority(authority: &str) -> Result<(String, u16), LinkError> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').ok_or(LinkError::Address)?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(LinkError::Address);
        }
        (host, rest.strip_prefix(':').ok_or(LinkError::Address)?)
    } else {
        authority.rsplit_once(':').ok_or(LinkError::Address)?
    };
    let odd = |c: char| matches!(c, '[' | ']' | '/' | '?' | '#' | '@') || c.is_whitespace();
    if host.is_empty() || host.contains(odd) || (host.contains(':') && !authority.starts_with('['))
    {
        return Err(LinkError::Address);
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| LinkError::Port(port.to_owned()))?;
    Ok((host.to_owned(), port))
}

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits (either case; `:` separators allowed, as browsers
/// and openssl print fingerprints).
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> ShareLink {
        ShareLink {
            host: "example.org".into(),
            port: 4433,
            room: "Journey map: café/1".into(),
            fingerprint: Some([0xab; 32]),
            token: "abc.def+/=".into(),
        }
    }

    #[test]
    fn round_trips() {
        let l = link();
        let s = l.to_string();
        assert!(
            s.starts_with("touchpoint://example.org:4433/Journey%20map"),
            "{s}"
        );
        assert_eq!(s.parse::<ShareLink>().unwrap(), l);
        let v6 = ShareLink {
            host: "::1".into(),
            fingerprint: None,
            ..link()
        };
        assert_eq!(v6.to_string().parse::<ShareLink>().unwrap(), v6);
        assert!(v6.to_string().contains("[::1]:4433"));
    }

    #[test]
    fn bad_links_say_what_is_wrong() {
        let cases = [
            ("https://example.org/x?token=t", LinkError::Scheme),
            ("touchpoint://example.org/x?token=t", LinkError::Address),
            (
                "touchpoint://example.org:0/x?token=t",
                LinkError::Port("0".into()),
            ),
            (
                "touchpoint://example.org:99999/x?token=t",
                LinkError::Port("99999".into()),
            ),
            ("touchpoint://example.org:1/?token=t", LinkError::Room),
            (
                "touchpoint://example.org:1/x?fp=12&token=t",
                LinkError::Fingerprint,
            ),
            ("touchpoint://example.org:1/x", LinkError::Token),
            (
                "touchpoint://example.org:1/%ff?token=t",
                LinkError::RoomEncoding,
            ),
            (
                "touchpoint://example.org:1/x?token=t&evil=1",
                LinkError::Parameter("evil".into()),
            ),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<ShareLink>().unwrap_err(), want, "{s}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", link()).contains("abc.def"));
    }

    #[test]
    fn fingerprints_accept_colons_and_case() {
        let colons = (0..32).map(|_| "AB").collect::<Vec<_>>().join(":");
        assert_eq!(parse_fingerprint(&colons), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("zz"), None);
    }
}
