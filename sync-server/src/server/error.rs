//! Why a server could not start or stop cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::storage::StoreError;
use crate::tls::TlsError;
use crate::token::SecretError;

/// Why the server could not start or stop cleanly. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another touchpoint-server is using the data directory {path}: stop it, or give this one another --data"
    )]
    Locked { path: PathBuf },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
