//! Touchpoint's sync transport: a QUIC (quinn + rustls) server that hosts rooms
//! of board documents with access control, limits and durable storage, and the
//! client session the app uses to join them.
//!
//! Depends on `touchpoint-crdt` for the document and the sans-io protocol; it
//! must not depend on the app, windows or GPUs. Binaries: `touchpoint-server`
//! (serve, share) and `touchpoint-load` (load generator and convergence check).

pub mod client;
pub mod link;
pub mod report;
pub mod server;
pub mod storage;
pub mod tls;
pub mod token;
