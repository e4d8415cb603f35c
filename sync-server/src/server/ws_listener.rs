//! The WebSocket endpoint's TCP listener, plain or with TLS (`wss://`).
//!
//! TLS handshakes run on tasks of their own, at most [`MAX_HANDSHAKES`] at
//! a time and each within [`HANDSHAKE_TIMEOUT`], so a client that opens a
//! connection and says nothing holds up no one; axum receives only
//! connections whose handshake is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

/// TLS handshakes in progress at once.
pub(crate) const MAX_HANDSHAKES: usize = 256;
/// How long a client may take over its TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection, with or without TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) struct WsListener {
    ready: mpsc::Receiver<(Box<dyn Io>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl WsListener {
    /// Accepts on `tcp`, through `tls` when given.
    pub(crate) fn new(
        tcp: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<WsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept(tcp, tls.map(TlsAcceptor::from), tx));
        Ok(WsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl WsListener {
    /// Where it listens.
    pub(crate) fn local_addr_now(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for WsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    ready: mpsc::Sender<(Box<dyn Io>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!("cannot accept a WebSocket connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        drop(stream.set_nodelay(true));
        let Some(tls) = &tls else {
            if ready.send((Box::new(stream), peer)).await.is_err() {
                return;
            }
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            tracing::info!(%peer, "TLS handshake refused: {MAX_HANDSHAKES} already in progress");
            continue;
        };
        let (tls, ready) = (tls.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => drop(ready.send((Box::new(stream), peer)).await),
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for WsListener {
    type Io = Box<dyn Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task ended (only when this listener is dropped):
            // nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client's address, as the upgrade handler sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl Connected<IncomingStream<'_, WsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, WsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}
