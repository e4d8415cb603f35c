//! The client's TLS: whom it trusts and how the QUIC connection is tuned.
//!
//! A link with a fingerprint pins the server's certificate: exactly the
//! certificate whose SHA-256 over its DER bytes equals the fingerprint is
//! accepted, whatever name or issuer it carries (WebTransport's
//! `serverCertificateHashes` idea, DESIGN.md "Trust and access"); the
//! handshake signature is still checked with it, so only the holder of its
//! private key gets through. A link without one is verified against the
//! operating system's roots (rustls-native-certs), as a browser would.
//!
//! Everything uses the ring provider passed explicitly, so no process-level
//! rustls provider needs installing.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use touchpoint_crdt::protocol::ALPN;

use crate::link::hex;

/// QUIC keep-alive: a ping this often keeps NATs open and notices a dead
/// server within the idle timeout.
pub const KEEP_ALIVE: Duration = Duration::from_secs(3);

/// A connection silent this long (no packet at all, keep-alives included) is
/// considered lost.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a client could not set up TLS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("no trusted root certificates found on this system: {0}")]
    NoRoots(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// The certificate the server presented is not the one the link pins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "server certificate does not match the link's fingerprint (expected {}, got {})",
    hex(.expected),
    hex(.got)
)]
pub struct FingerprintMismatch {
    pub expected: [u8; 32],
    pub got: [u8; 32],
}

pub use crate::tls::{crypto_provider as provider, fingerprint};

/// Accepts exactly one certificate, by its SHA-256 fingerprint, and checks
/// that the server holds its key. A mismatch is also recorded in `mismatch`
/// so that the connection code can report it in plain words (rustls and
/// quinn wrap a custom error in debug formatting).
#[derive(Debug)]
pub struct PinnedCertVerifier {
    expected: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
    mismatch: Mutex<Option<FingerprintMismatch>>,
}

impl PinnedCertVerifier {
    pub fn new(expected: [u8; 32], provider: &CryptoProvider) -> PinnedCertVerifier {
        PinnedCertVerifier {
            expected,
            algorithms: provider.signature_verification_algorithms,
            mismatch: Mutex::new(None),
        }
    }

    /// The mismatch seen by the last handshake, if it failed on one.
    pub fn mismatch(&self) -> Option<FingerprintMismatch> {
        match self.mismatch.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin names the certificate itself, so neither the name it was
        // issued for nor its issuer matters: a self-hosted server's
        // certificate is self-signed and reached by IP address or any name.
        // A fingerprint is public (it is in the link), so a plain comparison.
        let got = fingerprint(end_entity.as_ref());
        if got == self.expected {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = FingerprintMismatch {
            expected: self.expected,
            got,
        };
        if let Ok(mut slot) = self.mismatch.lock() {
            *slot = Some(mismatch.clone());
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // QUIC is TLS 1.3 only; kept correct for completeness.
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The system's trusted roots, loaded once per process (reading the store
/// takes a while and it does not change under a running app).
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, TlsError>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "the certificate store is empty".to_owned());
                return Err(TlsError::NoRoots(why));
            }
            for e in &found.errors {
                tracing::debug!("while loading system root certificates: {e}");
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// What the connection code needs: the quinn configuration, and the pinning
/// verifier (when the link pins) to ask why a handshake failed.
pub struct ClientTls {
    pub config: quinn::ClientConfig,
    pub pinned: Option<Arc<PinnedCertVerifier>>,
}

/// The rustls configuration for one connection: TLS 1.3, ALPN
/// `touchpoint/1`, and trust as the link says (see the module docs).
pub fn rustls_config(
    fingerprint: Option<[u8; 32]>,
) -> Result<(rustls::ClientConfig, Option<Arc<PinnedCertVerifier>>), TlsError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let (mut config, pinned) = match fingerprint {
        Some(fp) => {
            let verifier = Arc::new(PinnedCertVerifier::new(fp, &provider));
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            (config, Some(verifier))
        }
        None => (
            builder
                .with_root_certificates(system_roots()?)
                .with_no_client_auth(),
            None,
        ),
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok((config, pinned))
}

/// The quinn configuration for one connection (a pinning verifier per
/// connection, so a mismatch is reported for the connection that saw it).
pub fn client_tls(fingerprint: Option<[u8; 32]>) -> Result<ClientTls, TlsError> {
    let (tls, pinned) = rustls_config(fingerprint)?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls))
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    Ok(ClientTls { config, pinned })
}

/// Keep-alive and idle timeout (see [`KEEP_ALIVE`], [`IDLE_TIMEOUT`]).
pub fn transport_config() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    // 10 s always fits QUIC's 2^62 ms varint.
    if let Ok(idle) = quinn::IdleTimeout::try_from(IDLE_TIMEOUT) {
        transport.max_idle_timeout(Some(idle));
    }
    transport
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;

    fn self_signed() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["touchpoint.test".to_owned()]).unwrap()
    }

    fn verify(verifier: &PinnedCertVerifier, cert: &CertificateDer<'_>) -> Result<(), String> {
        verifier
            .verify_server_cert(
                cert,
                &[],
                &ServerName::try_from("192.0.2.7").unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_pinned_certificate_is_accepted_whatever_the_name() {
        let cert = self_signed();
        let fp = fingerprint(cert.cert.der());
        let verifier = PinnedCertVerifier::new(fp, &provider());
        assert_eq!(verify(&verifier, cert.cert.der()), Ok(()));
        assert_eq!(verifier.mismatch(), None);
    }

    #[test]
    fn another_certificate_is_refused_with_both_fingerprints() {
        let pinned = self_signed();
        let other = self_signed();
        let expected = fingerprint(pinned.cert.der());
        let got = fingerprint(other.cert.der());
        let verifier = PinnedCertVerifier::new(expected, &provider());
        let err = verify(&verifier, other.cert.der()).unwrap_err();
        assert!(err.contains("invalid peer certificate"), "{err}");
        let mismatch = verifier.mismatch().unwrap();
        assert_eq!(mismatch, FingerprintMismatch { expected, got });
        assert_eq!(
            mismatch.to_string(),
            format!(
                "server certificate does not match the link's fingerprint (expected {}, got {})",
                hex(&expected),
                hex(&got)
            )
        );
    }

    /// A server that presents `cert` and signs the handshake with `key`
    /// (which need not be the certificate's: that is the forgery case).
    #[derive(Debug)]
    struct Presents(Arc<rustls::sign::CertifiedKey>);

    impl rustls::server::ResolvesServerCert for Presents {
        fn resolve(
            &self,
            _hello: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    /// A TLS 1.3 handshake in memory between our client config and a rustls
    /// server; the client's error if it fails.
    fn handshake(
        client: rustls::ClientConfig,
        cert: &rcgen::Certificate,
        key: &rcgen::KeyPair,
    ) -> Result<(), rustls::Error> {
        use rustls::pki_types::PrivateKeyDer;
        let signing = provider()
            .key_provider
            .load_private_key(PrivateKeyDer::try_from(key.serialize_der()).unwrap())
            .unwrap();
        let certified = rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signing);
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Presents(Arc::new(certified))));
        let mut server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        let mut client = rustls::ClientConnection::new(
            Arc::new(client),
            ServerName::try_from("127.0.0.1").unwrap(),
        )
        .unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
                // The client's view is what the test is about.
                if server.process_new_packets().is_err() {
                    break;
                }
            }
            let mut buf = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut buf).unwrap();
            }
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
                client.process_new_packets()?;
            }
            if !client.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn a_handshake_with_the_pinned_server_succeeds() {
        let server = self_signed();
        let (config, _) = rustls_config(Some(fingerprint(server.cert.der()))).unwrap();
        handshake(config, &server.cert, &server.signing_key).unwrap();
    }

    #[test]
    fn a_server_with_another_certificate_fails_the_handshake() {
        let pinned = self_signed();
        let impostor = self_signed();
        let (config, verifier) = rustls_config(Some(fingerprint(pinned.cert.der()))).unwrap();
        let err = handshake(config, &impostor.cert, &impostor.signing_key).unwrap_err();
        assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err}");
        assert!(verifier.unwrap().mismatch().is_some());
    }

    #[test]
    fn the_pinned_certificate_without_its_key_fails_the_handshake() {
        // Someone who copied the server's certificate (it is public) but not
        // its private key: the CertificateVerify signature gives them away.
        let pinned = self_signed();
        let thief = self_signed();
        let (config, verifier) = rustls_config(Some(fingerprint(pinned.cert.der()))).unwrap();
        let err = handshake(config, &pinned.cert, &thief.signing_key).unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(CertificateError::BadSignature)
                    | rustls::Error::PeerMisbehaved(_)
            ),
            "{err:?}"
        );
        assert!(verifier.unwrap().mismatch().is_none());
    }

    #[test]
    fn configs_speak_tls13_with_our_alpn() {
        let (config, pinned) = rustls_config(Some([7; 32])).unwrap();
        assert_eq!(config.alpn_protocols, vec![ALPN.to_vec()]);
        assert!(pinned.is_some());
        assert!(client_tls(Some([7; 32])).is_ok());
    }
}
