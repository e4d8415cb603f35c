//! The WebSocket endpoint's TCP listener, plain or with TLS (`wss://`).
//!
//! TLS handshakes run on tasks of their own, at most [`MAX_HANDSHAKES`] at
//! a time and each within [`HANDSHAKE_TIMEOUT`], so a client that opens a
//! connection and says nothing holds up no one; axum receives only
//! connections whose handshake is done. An address may hold twice the
//! server's per-address connection cap in TCP connections (upgraded or
//! not; the upgrade handler refuses members over the cap itself, with a
//! close code): beyond that, new connections are closed at once, so
//! connections that never upgrade cannot pile up.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
    /// Accepts on `tcp`, through `tls` when given, at most `per_address`
    /// connections from one address at a time.
    pub(crate) fn new(
        tcp: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        per_address: usize,
    ) -> std::io::Result<WsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept(tcp, tls.map(TlsAcceptor::from), tx, per_address));
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
    per_address: usize,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let counts: Counts = Arc::default();
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
        let Some(guard) = Guard::take(&counts, peer.ip(), per_address) else {
            tracing::info!(%peer, "WebSocket connection closed: {per_address} open from this address");
            continue;
        };
        drop(stream.set_nodelay(true));
        let stream = Counted {
            inner: stream,
            _guard: guard,
        };
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

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One open connection in its address's count, until dropped.
struct Guard {
    counts: Counts,
    ip: IpAddr,
}

impl Guard {
    fn take(counts: &Counts, ip: IpAddr, limit: usize) -> Option<Guard> {
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Guard {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A stream that holds its address's count while it is open.
struct Counted<T> {
    inner: T,
    _guard: Guard,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
