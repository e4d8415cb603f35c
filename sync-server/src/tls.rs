//! The server's TLS identity and QUIC/TLS configuration.
//!
//! A self-hosted server creates a self-signed certificate (rcgen, ECDSA
//! P-256) on first start and keeps it in its data directory (`cert.pem`,
//! and `key.pem` readable by the owner only), so its fingerprint, which
//! every share link carries and every client pins, stays the same across
//! restarts. A server given `--cert`/`--key` serves that certificate chain
//! instead; clients verify it against the system's roots.
//!
//! The fingerprint is the SHA-256 of the leaf certificate's DER bytes, as
//! `openssl x509 -noout -fingerprint -sha256` prints it (without colons).
//!
//! One crypto provider, ring, is passed explicitly to every rustls builder
//! (never installed process-wide), so a build that links a second provider
//! cannot make rustls guess.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use touchpoint_crdt::protocol::ALPN;

/// The self-signed certificate in the data directory (PEM).
pub const CERT_FILE: &str = "cert.pem";
/// Its private key in the data directory (PKCS#8 PEM, mode 0600).
pub const KEY_FILE: &str = "key.pem";

/// A certificate chain and its key, ready to serve.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf's DER bytes.
    pub fingerprint: [u8; 32],
    /// Created by this server (pinned by fingerprint) rather than issued by
    /// a certificate authority.
    pub self_signed: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .field("fingerprint", &crate::link::hex(&self.fingerprint))
            .field("self_signed", &self.self_signed)
            .finish_non_exhaustive()
    }
}

/// Why a TLS identity or configuration could not be made. Messages name
/// the file and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no PEM private key found (expected PKCS#8, PKCS#1 or SEC1 PEM)")]
    NoKey { path: PathBuf },
    #[error("{path}: not valid PEM: {reason}")]
    BadPem { path: PathBuf, reason: String },
    #[error(
        "{present} exists without {missing}: restore it, or delete {present} to create a new certificate (every link issued so far then stops working)"
    )]
    HalfIdentity { present: PathBuf, missing: PathBuf },
    #[error("could not create a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate and key do not fit together or are not supported: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(String),
}

/// The crypto provider every TLS configuration here uses, server and client:
/// ring, the one provider of this workspace (STACK.md), passed explicitly so
/// no process-level default is needed.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// SHA-256 of a certificate's DER bytes: what a share link's `fp` carries.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Identity {
    /// The self-signed identity kept in `dir`: loaded if it is there,
    /// created for `names` (host names and IP addresses the certificate
    /// names; "localhost" is always added) if not. `dir` must exist.
    ///
    /// Names only matter to clients that check them; Touchpoint clients pin
    /// the fingerprint instead, so a certificate created for one address
    /// keeps working when the server moves.
    pub fn load_or_create_self_signed(dir: &Path, names: &[String]) -> Result<Identity, TlsError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {}
            (false, false) => create_self_signed(&cert_path, &key_path, names)?,
            (true, false) => {
                return Err(TlsError::HalfIdentity {
                    present: cert_path,
                    missing: key_path,
                });
            }
            (false, true) => {
                return Err(TlsError::HalfIdentity {
                    present: key_path,
                    missing: cert_path,
                });
            }
        }
        crate::token::warn_if_readable_by_others(&key_path);
        let mut identity = Identity::load_pem(&cert_path, &key_path)?;
        identity.self_signed = true;
        Ok(identity)
    }

    /// A certificate chain (leaf first) and its private key from PEM files,
    /// as a certificate authority issues them.
    pub fn load_pem(cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read(cert_path)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::BadPem {
                path: cert_path.to_owned(),
                reason: e.to_string(),
            })?;
        let Some(leaf) = chain.first() else {
            return Err(TlsError::NoCertificate {
                path: cert_path.to_owned(),
            });
        };
        let fingerprint = fingerprint(leaf);
        let key_pem = read(key_path)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
                path: key_path.to_owned(),
            },
            other => TlsError::BadPem {
                path: key_path.to_owned(),
                reason: other.to_string(),
            },
        })?;
        let identity = Identity {
            chain,
            key,
            fingerprint,
            self_signed: false,
        };
        // Refuse a key that does not belong to the certificate now, not at
        // the first handshake.
        identity.rustls_config()?;
        Ok(identity)
    }

    /// The rustls server configuration: TLS 1.3 only, ALPN `touchpoint/1`,
    /// no client certificates (access is by token).
    pub fn rustls_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// The rustls configuration for HTTPS and `wss://` (the WebSocket
    /// listener): TLS 1.2 and 1.3, ALPN `http/1.1` (WebSockets upgrade
    /// from HTTP/1.1).
    pub fn https_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The quinn server configuration with `transport`.
    pub fn quinn_config(
        &self,
        transport: quinn::TransportConfig,
    ) -> Result<quinn::ServerConfig, TlsError> {
        let crypto = QuicServerConfig::try_from(self.rustls_config()?)
            .map_err(|e| TlsError::Quic(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport));
        Ok(config)
    }
}

/// Transport settings for the server: a peer that goes silent is dropped
/// after `idle_timeout` (its presence disappears from the room then), and
/// the server pings every `keep_alive` so a live but quiet peer is not.
pub fn transport_config(
    idle_timeout: Duration,
    keep_alive: Duration,
    max_streams_per_connection: u32,
) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    // An idle timeout too long for QUIC's varint falls back to quinn's default.
    if let Ok(idle) = quinn::IdleTimeout::try_from(idle_timeout) {
        transport.max_idle_timeout(Some(idle));
    }
    transport.keep_alive_interval(Some(keep_alive));
    transport.max_concurrent_bidi_streams(quinn::VarInt::from_u32(max_streams_per_connection));
    // Rooms use bidirectional streams only.
    transport.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    transport
}

fn create_self_signed(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), TlsError> {
    let mut all: Vec<String> = vec!["localhost".to_owned()];
    for name in names {
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if !name.is_empty() && !all.iter().any(|n| n == name) {
            all.push(name.to_owned());
        }
    }
    let mut params = rcgen::CertificateParams::new(all)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Touchpoint server (self-signed)");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Io { path, source }
    };
    // Key first: a certificate on disk without its key would be unusable.
    match crate::token::write_new_private_file(key_path, key.serialize_pem().as_bytes()) {
        Ok(()) => {}
        // Another process (a concurrent `share`) created the pair first:
        // wait for its certificate and use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..50 {
                if cert_path.exists() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            return Err(TlsError::HalfIdentity {
                present: key_path.to_owned(),
                missing: cert_path.to_owned(),
            });
        }
        Err(e) => return Err(io(key_path)(e)),
    }
    match crate::token::write_new_private_file(cert_path, cert.pem().as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(cert_path)(e)),
    }
    tracing::info!(
        "created a self-signed certificate in {}",
        cert_path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identity_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create_self_signed(
            dir.path(),
            &[
                "127.0.0.1".into(),
                "board.example.org".into(),
                "[::1]".into(),
            ],
        )
        .unwrap();
        assert!(first.self_signed);
        assert_eq!(first.fingerprint, fingerprint(&first.chain[0]));
        let again = Identity::load_or_create_self_signed(dir.path(), &[]).unwrap();
        assert_eq!(
            again.fingerprint, first.fingerprint,
            "stable across restarts"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The PEM certificate loads as a "real" one too, same fingerprint.
        let pem =
            Identity::load_pem(&dir.path().join(CERT_FILE), &dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(pem.fingerprint, first.fingerprint);
        assert!(!pem.self_signed);
        let config = first.rustls_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![ALPN.to_vec()]);
        first
            .quinn_config(transport_config(
                Duration::from_secs(10),
                Duration::from_secs(3),
                16,
            ))
            .unwrap();
    }

    #[test]
    fn half_an_identity_is_an_error_not_a_new_certificate() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create_self_signed(dir.path(), &[]).unwrap();
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = Identity::load_or_create_self_signed(dir.path(), &[]).unwrap_err();
        assert!(matches!(err, TlsError::HalfIdentity { .. }), "{err}");
        assert!(err.to_string().contains("key.pem"), "{err}");
    }

    #[test]
    fn bad_pem_files_say_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let err = Identity::load_pem(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("c.pem"));
        let err = Identity::load_pem(&dir.path().join("missing.pem"), &key).unwrap_err();
        assert!(matches!(err, TlsError::Io { .. }), "{err}");

        // A key that belongs to another certificate.
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        Identity::load_or_create_self_signed(a.path(), &[]).unwrap();
        Identity::load_or_create_self_signed(b.path(), &[]).unwrap();
        let err =
            Identity::load_pem(&a.path().join(CERT_FILE), &b.path().join(KEY_FILE)).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
    }
}
