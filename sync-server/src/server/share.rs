//! `touchpoint-server share`: a share link for a room, signed with the
//! data directory's token secret and pinned to its certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use touchpoint_crdt::protocol::{Limits, Role};

use super::data_dir::prepare_data_dir;
use super::error::ServerError;
use crate::link::ShareLink;
use crate::tls::{Identity, TlsError};
use crate::token::{Grant, SecretError, TokenKey, random_id, unix_now};

/// The file in which a running server records its listen address, so that
/// `share` without `--host` points at it.
pub const LISTEN_FILE: &str = "listen-address";

/// The port a link names when neither `--host` nor a server's recorded
/// address gives one.
pub const DEFAULT_PORT: u16 = 4433;

/// What to share.
#[derive(Debug, Clone)]
pub struct ShareRequest {
    pub data_dir: PathBuf,
    pub room: String,
    pub role: Role,
    /// How long the link works; `None` for ever (until the secret changes).
    pub expires_in: Option<Duration>,
    /// `HOST:PORT` clients connect to; `None`: the address the server in
    /// `data_dir` last listened on, as `localhost` when it listened on all
    /// interfaces or loopback.
    pub host: Option<String>,
    /// The certificate the server presents when it runs with `--cert`: the
    /// link then carries no fingerprint and clients verify the certificate
    /// against their system's roots. `None`: pin the self-signed one.
    pub cert: Option<PathBuf>,
}

/// Why no link could be made.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Invalid(String),
}

/// Makes the link: creates the data directory, token secret and
/// self-signed certificate if this is the first use of `data_dir`.
pub fn share_link(request: &ShareRequest) -> Result<ShareLink, ShareError> {
    let max_room = Limits::DEFAULT.max_room_len;
    if request.room.is_empty() {
        return Err(ShareError::Invalid("the room name is empty".into()));
    }
    if request.room.len() > max_room {
        return Err(ShareError::Invalid(format!(
            "the room name is {} bytes long; the limit is {max_room}",
            request.room.len()
        )));
    }
    let dir = &request.data_dir;
    prepare_data_dir(dir)?;
    let (host, port) = match &request.host {
        Some(h) => split_host_port(h)?,
        None => recorded_host(dir),
    };
    let key = TokenKey::load_or_create(dir)?;
    let fingerprint = match &request.cert {
        Some(cert) => {
            let pem = std::fs::read(cert).map_err(|source| TlsError::Io {
                path: cert.clone(),
                source,
            })?;
            // Checked to hold a certificate; the link does not pin it.
            if rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
                .next()
                .and_then(Result::ok)
                .map(|c: rustls::pki_types::CertificateDer<'_>| c.len())
                .is_none()
            {
                return Err(TlsError::NoCertificate { path: cert.clone() }.into());
            }
            None
        }
        None => Some(
            Identity::load_or_create_self_signed(dir, std::slice::from_ref(&host))?.fingerprint,
        ),
    };
    let expires_at =
        match request.expires_in {
            Some(d) => Some(unix_now().checked_add(d.as_secs()).ok_or_else(|| {
                ShareError::Invalid("the expiry is too far in the future".into())
            })?),
            None => None,
        };
    let token = key.issue(&Grant {
        room: request.room.clone(),
        role: request.role,
        expires_at,
        id: random_id()?,
    });
    Ok(ShareLink {
        host,
        port,
        room: request.room.clone(),
        fingerprint,
        token,
    })
}

/// The file in which a running server records its WebSocket listen address
/// (absent when it has none), for [`websocket_url`].
pub const WS_LISTEN_FILE: &str = "ws-listen-address";

/// Records the WebSocket listener's address and whether it speaks TLS, or
/// that there is none.
pub(crate) fn record_ws_address(dir: &Path, addr: Option<SocketAddr>, tls: bool) {
    let path = dir.join(WS_LISTEN_FILE);
    let scheme = if tls { "wss" } else { "ws" };
    let written = match addr {
        Some(addr) => std::fs::write(&path, format!("{scheme} {addr}\n")),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = written {
        tracing::warn!(
            "could not record the WebSocket address in {}: {e}",
            dir.display()
        );
    }
}

/// The `ws://` (or `wss://`) URL that lets a Yjs client (y-websocket) into
/// `link`'s room with the same token, when the server of `data_dir` last
/// listened for WebSockets; `None` when it did not.
pub fn websocket_url(data_dir: &Path, link: &ShareLink) -> Option<String> {
    let recorded = std::fs::read_to_string(data_dir.join(WS_LISTEN_FILE)).ok()?;
    let (scheme, addr) = recorded.trim().split_once(' ')?;
    let addr = addr.parse::<SocketAddr>().ok()?;
    Some(link.websocket_url(scheme == "wss", addr.port()))
}

/// Records the address a server listens on (for [`share_link`]'s default).
pub(crate) fn record_listen_address(dir: &Path, addr: SocketAddr) {
    if let Err(e) = std::fs::write(dir.join(LISTEN_FILE), format!("{addr}\n")) {
        tracing::warn!(
            "could not record the listen address in {}: {e}",
            dir.display()
        );
    }
}

fn recorded_host(dir: &Path) -> (String, u16) {
    let recorded = std::fs::read_to_string(dir.join(LISTEN_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<SocketAddr>().ok());
    match recorded {
        Some(addr) if addr.ip().is_unspecified() || addr.ip().is_loopback() => {
            ("localhost".to_owned(), addr.port())
        }
        Some(addr) => (addr.ip().to_string(), addr.port()),
        None => ("localhost".to_owned(), DEFAULT_PORT),
    }
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6).
fn split_host_port(s: &str) -> Result<(String, u16), ShareError> {
    let bad = || {
        ShareError::Invalid(format!(
            "--host {s:?} is not HOST:PORT (like board.example.org:4433 or [2001:db8::1]:4433)"
        ))
    };
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').ok_or_else(bad)?;
        (host, rest.strip_prefix(':').ok_or_else(bad)?)
    } else {
        s.rsplit_once(':').ok_or_else(bad)?
    };
    if host.is_empty()
        || host.contains(['/', '?', '#', '@', ' '])
        || (host.contains(':') && !s.starts_with('['))
    {
        return Err(bad());
    }
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path) -> ShareRequest {
        ShareRequest {
            data_dir: dir.to_owned(),
            room: "Journey map".into(),
            role: Role::Viewer,
            expires_in: Some(Duration::from_secs(3600)),
            host: Some("board.example.org:5000".into()),
            cert: None,
        }
    }

    #[test]
    fn link_carries_host_room_fingerprint_and_a_valid_token() {
        let dir = tempfile::tempdir().unwrap();
        let link = share_link(&request(dir.path())).unwrap();
        assert_eq!((link.host.as_str(), link.port), ("board.example.org", 5000));
        assert_eq!(link.room, "Journey map");
        let identity = Identity::load_or_create_self_signed(dir.path(), &[]).unwrap();
        assert_eq!(link.fingerprint, Some(identity.fingerprint));
        let key = TokenKey::load_or_create(dir.path()).unwrap();
        let grant = key.verify(&link.token, "Journey map", unix_now()).unwrap();
        assert_eq!(grant.role, Role::Viewer);
        let left = grant.expires_at.unwrap() - unix_now();
        assert!((3590..=3600).contains(&left), "{left}");
        // The printed link parses back.
        assert_eq!(link.to_string().parse::<ShareLink>().unwrap(), link);
    }

    #[test]
    fn default_host_is_the_recorded_listen_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(dir.path());
        req.host = None;
        let link = share_link(&req).unwrap();
        assert_eq!((link.host.as_str(), link.port), ("localhost", DEFAULT_PORT));
        record_listen_address(dir.path(), "0.0.0.0:7000".parse().unwrap());
        let link = share_link(&req).unwrap();
        assert_eq!((link.host.as_str(), link.port), ("localhost", 7000));
        record_listen_address(dir.path(), "192.0.2.7:7001".parse().unwrap());
        let link = share_link(&req).unwrap();
        assert_eq!((link.host.as_str(), link.port), ("192.0.2.7", 7001));
    }

    #[test]
    fn real_certificate_links_pin_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        Identity::load_or_create_self_signed(other.path(), &[]).unwrap();
        let mut req = request(dir.path());
        req.cert = Some(other.path().join(crate::tls::CERT_FILE));
        assert_eq!(share_link(&req).unwrap().fingerprint, None);
        req.cert = Some(other.path().join("missing.pem"));
        assert!(share_link(&req).is_err());
    }

    #[test]
    fn bad_hosts_and_rooms_are_refused() {
        for good in ["a:1", "[::1]:4433", "192.0.2.1:65535"] {
            assert!(split_host_port(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "a:0",
            "a:70000",
            ":1",
            "::1:4433",
            "a/b:1",
            "[::1]4433",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(dir.path());
        req.room = String::new();
        assert!(share_link(&req).is_err());
        req.room = "x".repeat(257);
        assert!(share_link(&req).is_err());
    }
}
